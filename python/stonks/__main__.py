"""``python -m stonks``: the same command as the ``stonks`` console script."""

import sys

from ._cli import main

sys.exit(main())

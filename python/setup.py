"""Build hook: copies the schema's SQL files, and the bundled app when built, into the wheel.

``stonks/migrations`` is a link to ``src/store/migrations`` so the repository keeps
one definition of the schema. Build tools differ in whether they follow a linked
folder (and an sdist unpacked elsewhere has no link target), so the files are
copied explicitly from wherever the link resolves.

``stonks/_app`` (the server, CLI and dashboard, bundled by ``npm run build:wheel``)
is copied whole when it exists; without it the package is the SDK alone and the
``stonks`` command says how to get the rest.
"""

import glob
import os
import shutil

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.path.join(HERE, "stonks", "migrations")
APP = os.path.join(HERE, "stonks", "_app")


class build_py_with_migrations(build_py):
    def run(self) -> None:
        super().run()
        files = sorted(glob.glob(os.path.join(os.path.realpath(SOURCE), "[0-9][0-9][0-9][0-9]_*.sql")))
        if not files:
            raise SystemExit(f"stonks build: no schema files found in {SOURCE} (a link to src/store/migrations).")
        target = os.path.join(self.build_lib, "stonks", "migrations")
        if os.path.islink(target):
            os.unlink(target)
        os.makedirs(target, exist_ok=True)
        for path in files:
            shutil.copyfile(path, os.path.join(target, os.path.basename(path)))
        if os.path.isfile(os.path.join(APP, "dist", "cli", "main.mjs")):
            app_target = os.path.join(self.build_lib, "stonks", "_app")
            shutil.rmtree(app_target, ignore_errors=True)
            shutil.copytree(APP, app_target)


setup(cmdclass={"build_py": build_py_with_migrations})

"""A database written by the original stonks package (pjhartout/stonks): stonks.open() refuses it with
one line saying how to import it, and leaves it byte-identical (tests/fixtures/original-stonks/)."""

from __future__ import annotations

import gzip
import hashlib
from pathlib import Path

import pytest
from conftest import REPO_ROOT

import stonks
from stonks import StonksError

FIXTURES = REPO_ROOT / "tests" / "fixtures" / "original-stonks"


def _copy(name: str, folder: Path) -> Path:
    path = folder / name
    path.write_bytes(gzip.decompress((FIXTURES / f"{name}.gz").read_bytes()))
    return path


def _hint(path: Path) -> str:
    return (
        f"{path} was written by the original stonks package (pjhartout/stonks), whose layout this stonks "
        f"does not open; stonks left it untouched. Import it with: stonks import {path} --db NEW.db"
    )


@pytest.mark.parametrize("name", ["stonks-4fd6e94.db", "stonks-aee933e.db"])
def test_open_says_in_one_line_how_to_import_a_file_of_the_original(tmp_path: Path, name: str) -> None:
    path = _copy(name, tmp_path)
    before = hashlib.sha256(path.read_bytes()).hexdigest()
    with pytest.raises(stonks.NotAStonksFileError) as raised:
        stonks.open(str(path))
    assert str(raised.value) == _hint(path)
    assert "\n" not in str(raised.value)
    assert isinstance(raised.value, StonksError)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]

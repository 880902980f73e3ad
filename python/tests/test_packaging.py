"""`pip install ./python` into a fresh virtual environment really ships the schema files."""

from __future__ import annotations

import os
import subprocess
import venv
from pathlib import Path

from conftest import PYTHON_DIR, REPO_ROOT


def test_pip_install_into_a_fresh_venv_packages_the_sql_files(tmp_path: Path) -> None:
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    python = env_dir / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PIP_REQUIRE_VIRTUALENV")}
    done = subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", str(PYTHON_DIR)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    script = """
import os, sys, stonks
package = os.path.dirname(stonks.__file__)
print(package)
with stonks.start_run("packaged", db=sys.argv[1]) as run:
    run.log({"loss": 0.5})
with stonks.open(sys.argv[1]) as db:
    print(db.get_metrics(run.id, "loss").values)
"""
    done = subprocess.run(
        [str(python), "-c", script, str(tmp_path / "s.db")],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    package_dir, values = done.stdout.splitlines()
    assert Path(package_dir).resolve().is_relative_to(env_dir.resolve())
    assert values == "[0.5]"
    installed = Path(package_dir) / "migrations"
    assert installed.is_dir() and not installed.is_symlink()
    canonical = REPO_ROOT / "src" / "store" / "migrations"
    expected = sorted(p.name for p in canonical.glob("[0-9][0-9][0-9][0-9]_*.sql"))
    assert sorted(p.name for p in installed.glob("*.sql")) == expected
    for name in expected:
        assert not (installed / name).is_symlink()
        assert (installed / name).read_text() == (canonical / name).read_text()
    assert (Path(package_dir) / "py.typed").exists()
    # The framework integrations (each imports its framework only when imported) and stonks.compat ship too.
    for module in (
        "lightning.py",
        "distributed.py",
        "integrations/__init__.py",
        "integrations/transformers.py",
        "integrations/keras.py",
        "compat/__init__.py",
        "compat/wandb.py",
    ):
        assert (Path(package_dir) / module).is_file(), module

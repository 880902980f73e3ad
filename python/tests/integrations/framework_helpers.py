"""Shared by the framework tests: the frameworks are required (CI installs them in .ci/run),
so a missing one fails the test instead of skipping it. Import it before any framework."""

from __future__ import annotations

import importlib
import os
import socket
from types import ModuleType

import pytest

# Keras 3 picks its backend at import; torch is the one installed for these tests.
os.environ.setdefault("KERAS_BACKEND", "torch")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def framework(module: str, package: str) -> ModuleType:
    """Imports a framework a test needs; its absence fails the test with the install command."""
    try:
        return importlib.import_module(module)
    except ImportError as error:
        pytest.fail(f"{module} is not installed ({error}); .ci/run installs it: pip install {package}")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])

"""Benchmarks are scripts, not a package: tests load them by path."""

import importlib.util
from types import ModuleType

from tests.conftest import REPO


def load_benchmark(name: str) -> ModuleType:
    """The module ``benchmarks/<name>.py``."""
    path = REPO / "benchmarks" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module

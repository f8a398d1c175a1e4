"""The repository's layout rules hold: one copy of each package, and the linters see all code."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("folder", ["flowlang", "runtime", "adapters", "editor"])
def test_importing_a_top_level_folder_by_its_bare_name_fails_loudly(folder: str) -> None:
    probe = f"import sys; sys.path.insert(0, {str(REPO)!r}); import {folder}"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=False)
    assert result.returncode != 0
    assert f"import it as 'ivr.{folder}'" in result.stderr


def test_ruff_checks_the_command_line_code_under_src() -> None:
    ruff = Path(sys.executable).with_name("ruff")
    result = subprocess.run(
        [str(ruff), "check", ".", "--show-files"], cwd=REPO, capture_output=True, text=True, check=True
    )
    files = {Path(line).resolve() for line in result.stdout.splitlines() if line.endswith(".py")}
    assert (REPO / "src/ivr/cli.py").resolve() in files
    assert (REPO / "src/ivr/commands/serve.py").resolve() in files
    linked_copies = [f for f in result.stdout.splitlines() if "/src/ivr/flowlang/" in f]
    assert linked_copies == [], "the linked folders are checked once, at the top level"


def test_every_adapter_exception_derives_from_one_root() -> None:
    import importlib
    import inspect
    import pkgutil

    import ivr.adapters
    from ivr.adapters.errors import AdapterError

    strays = []
    for info in pkgutil.walk_packages(ivr.adapters.__path__, "ivr.adapters."):
        module = importlib.import_module(info.name)
        for name, value in vars(module).items():
            is_error = inspect.isclass(value) and issubclass(value, Exception)
            if is_error and value.__module__ == info.name and not issubclass(value, AdapterError):
                strays.append(f"{info.name}.{name}")
    assert strays == []

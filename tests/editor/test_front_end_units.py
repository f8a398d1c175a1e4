"""The front end's pure modules under node's own test runner (`node --test`): the YAML cursor
context that completion stands on (editor/web/test/)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

WEB = Path(__file__).resolve().parents[2] / "editor" / "web"


def test_the_yaml_cursor_context_passes_its_node_tests() -> None:
    node = shutil.which("node")
    if node is None:
        pytest.skip("apt-get install nodejs (make setup does)")
    result = subprocess.run(
        [node, "--test", "test/"], cwd=WEB, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "# fail 0" in result.stdout

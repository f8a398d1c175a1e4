"""`ivr edit`: it refuses what it must (no folder, an open host without accounts, a bad
accounts file), and serves the editor on 127.0.0.1 with a sign-in token in the address."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from ivr.cli import main


def test_a_missing_folder_is_a_usage_error(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["edit", str(tmp_path / "nope")]) == 2
    assert "no such folder" in capsys.readouterr().err


def test_an_open_host_without_accounts_is_refused(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["edit", str(tmp_path), "--host", "0.0.0.0"]) == 2
    assert "--accounts" in capsys.readouterr().err


def test_an_accounts_file_with_a_plain_password_is_refused(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    accounts = tmp_path / "users.yaml"
    accounts.write_text("users:\n  - {name: pat, password: secret, role: publisher}\n")
    assert main(["edit", str(tmp_path), "--accounts", str(accounts)]) == 2
    assert "needs name, password_hash and role" in capsys.readouterr().err


@pytest.mark.slow
def test_the_printed_address_signs_the_author_in(tmp_path: Path) -> None:
    project = tmp_path / "flows"
    project.mkdir()
    (project / "hello.yaml").write_text(
        "flow: hello\nlanguages: [en]\nstart: hi\nnodes:\n  hi: {type: hangup, prompt: Hello}\n"
    )
    command = [
        sys.executable,
        "-m",
        "ivr",
        "edit",
        str(project),
        "--port",
        "0",
        "--data-dir",
        str(tmp_path / "var"),
        "--no-speech",
    ]
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True) as process:
        try:
            assert process.stdout is not None
            line = process.stdout.readline()
            address = re.search(r"open (http://127\.0\.0\.1:\d+/\?token=\S+) ", line)
            assert address, line
            with httpx.Client(follow_redirects=True, timeout=10) as http:
                assert http.get(address.group(1).split("?")[0] + "api/files").status_code == 401
                assert http.get(address.group(1)).status_code == 200
                files = http.get(address.group(1).split("?")[0] + "api/files").json()["files"]
            assert [f["path"] for f in files] == ["hello.yaml"]
        finally:
            process.terminate()
            process.wait(timeout=10)

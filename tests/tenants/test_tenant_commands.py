"""The commands that understand tenants: `ivr check` of a hosting file, `ivr test`, `ivr draw`
and `ivr simulate --tenant`, `ivr publish` and `ivr versions` against a running server's
API, and `ivr report usage` adding up the calls made."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
import trio
from tenants_support import HANGUP_FLOW, api_server, hosting_file, running, tenant_folder, write

from ivr.adapters.hosting.auth import token_digest
from ivr.adapters.hosting.testing import memory_call
from ivr.cli import main

ROOT = Path(__file__).parents[2]
TOKEN = "alpha-token"


def ivr(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_check_of_the_shipped_hosting_file_names_its_tenants_and_flows(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = ivr(capsys, "check", str(ROOT / "hosting.yaml"), "--format", "json")
    report = json.loads(out)
    assert code == 0 and report["tenants"] == ["bank", "brokerage", "fund"] and report["errors"] == 0
    assert {"bank/main", "fund/busy", "brokerage/orders"} <= set(report["flows"])
    code, out, _ = ivr(capsys, "check", str(ROOT))
    assert code == 0 and out.strip() == "ok: 22 flows checked in 3 tenants (bank, brokerage, fund)"


def test_test_draw_and_simulate_take_a_tenants_flows(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    hosting = str(ROOT / "hosting.yaml")
    code, out, _ = ivr(capsys, "test", "--hosting", hosting, "--tenant", "bank", "--coverage")
    assert code == 0 and "7 passed, 0 failed" in out and "main  24/24" in out
    code, out, _ = ivr(capsys, "test", "--hosting", hosting, "--tenant", "fund")
    assert code == 0 and "0 failed" in out
    svg = tmp_path / "fund.svg"
    code, _, _ = ivr(capsys, "draw", "--hosting", hosting, "--tenant", "fund", "main", "-o", str(svg))
    assert code == 0 and svg.read_text(encoding="utf-8").lstrip().startswith("<?xml")
    code, _, err = ivr(capsys, "draw", "--hosting", hosting, "--tenant", "funds")
    assert code == 2 and "did you mean 'fund'" in err


def alpha(root: Path) -> Path:
    folder = tenant_folder(root, "alpha", {"100": "main"})
    hosting_file(root, f'alpha: {{folder: alpha, numbers: ["100"], token_sha256: {token_digest(TOKEN)}}}\n')
    return folder


async def test_publish_and_versions_from_the_command_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    alpha(tmp_path)
    work = tmp_path / "work"
    write(work / "service.yaml", (tmp_path / "alpha" / "service.yaml").read_text())
    write(
        work / "main.yaml",
        HANGUP_FLOW.format(name="main", tenant="alpha, edited").replace("next: bye", "next: byee"),
    )
    async with api_server(tmp_path) as (url, hosted):

        def cli(*argv: str) -> tuple[int, str, str]:
            return ivr(capsys, *argv, "--server", url, "--token", TOKEN)

        code, _, err = await trio.to_thread.run_sync(cli, "publish", "alpha", str(work), "--author", "li.na")
        assert code == 1 and "alpha/main.yaml:5:" in err and "error[FL301]" in err and "next: byee" in err
        (work / "main.yaml").write_text((work / "main.yaml").read_text().replace("byee", "bye"))
        code, out, _ = await trio.to_thread.run_sync(cli, "publish", "alpha", str(work), "--check")
        assert code == 0 and out.startswith("ok: alpha: 2 files would publish")
        code, out, _ = await trio.to_thread.run_sync(
            cli, "publish", "alpha", str(work), "--author", "li.na", "--note", "hi"
        )
        assert code == 0 and out.startswith("published alpha v2 by li.na")
        _, leg, _ = await memory_call(hosted.admission, "100")
        assert leg is not None and leg.prompts[0].text == "Hello from alpha, edited."
        code, out, _ = await trio.to_thread.run_sync(cli, "versions", "alpha")
        assert code == 0 and "* v2" in out and "li.na" in out and "  v1" in out
        code, out, _ = await trio.to_thread.run_sync(cli, "versions", "alpha", "--diff", "v1", "v2")
        assert code == 0 and '+  hello: {type: say, prompt: {en: "Hello from alpha, edited."}' in out
        code, out, _ = await trio.to_thread.run_sync(
            cli, "versions", "alpha", "--rollback", "v1", "--author", "ops"
        )
        assert code == 0 and "now v3 (rollback of v1)" in out
        code, _, err = await trio.to_thread.run_sync(cli, "versions", "alpha", "--rollback", "v9")
        assert code == 2 and "no version 'v9'" in err
        code, _, err = await trio.to_thread.run_sync(
            lambda: ivr(capsys, "versions", "alpha", "--server", url, "--token", "wrong")
        )
        assert code == 2 and "--token" in err
    code, _, err = ivr(
        capsys, "publish", "alpha", str(work), "--server", "http://127.0.0.1:9", "--token", TOKEN
    )
    assert code == 2 and "cannot reach" in err


async def test_report_usage_adds_up_to_the_calls_made(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    alpha(tmp_path)
    tenant_folder(tmp_path, "beta", {"200": "main"})
    hosting_file(
        tmp_path,
        'alpha: {folder: alpha, numbers: ["100"]}\nbeta: {folder: beta, numbers: ["200"]}\n',
        extra="timezone: Asia/Shanghai\n",
    )
    async with running(tmp_path) as hosted:
        for number in ["100"] * 4 + ["200"] * 3:
            await memory_call(hosted.admission, number)
    data = str(tmp_path / "var")
    hosting = str(tmp_path / "hosting.yaml")
    code, out, _ = ivr(capsys, "report", "usage", "--data-dir", data, "--hosting", hosting, "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert code == 0 and {(r["tenant"], r["calls"]) for r in rows} == {("alpha", "4"), ("beta", "3")}
    code, out, _ = ivr(
        capsys, "report", "usage", "--data-dir", data, "--hosting", hosting, "--tenant", "beta"
    )
    assert code == 0 and "(Asia/Shanghai)" in out and "alpha" not in out
    assert [line.split()[2] for line in out.splitlines() if line.startswith("beta")] == ["3", "3"]
    code, _, err = ivr(capsys, "report", "usage", "--data-dir", str(tmp_path / "nowhere"))
    assert code == 2 and "no call records" in err
    code, _, err = ivr(capsys, "report", "usage", "--data-dir", data, "--from", "2026-13-01")
    assert code == 2 and "YYYY-MM-DD" in err


def test_serve_refuses_a_broken_hosting_file_before_anything_listens(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    tenant_folder(tmp_path, "alpha", {"100": "main"})
    tenant_folder(tmp_path, "beta", {"100": "main"})
    hosting_file(
        tmp_path, 'alpha: {folder: alpha, numbers: ["100"]}\nbeta: {folder: beta, numbers: ["100"]}\n'
    )
    code, _, err = ivr(
        capsys, "serve", "--hosting", str(tmp_path / "hosting.yaml"), "--data-dir", str(tmp_path)
    )
    assert code == 1 and "error[FL802]" in err and "fix the errors above before serving" in err
    code, _, err = ivr(capsys, "serve", "--hosting", str(tmp_path / "nowhere.yaml"))
    assert code == 1 and "hosting file" in err and "not found" in err

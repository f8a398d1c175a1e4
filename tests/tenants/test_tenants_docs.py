"""The examples of docs/tenants.md work as written: the hosting file with the insurer's folder
and its one-file module checks clean, and a call to its number is answered by the module."""

from __future__ import annotations

import re
from pathlib import Path

from tenants_support import converse, running

from ivr.adapters.hosting.plan import plan_hosting

DOC = Path(__file__).parents[2] / "docs" / "tenants.md"


def write_examples(folder: Path) -> list[str]:
    text = DOC.read_text(encoding="utf-8")
    names = []
    for name, body in re.findall(r"<!-- file: (\S+) -->\n```(?:yaml|python)\n(.*?)```", text, re.S):
        target = folder / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(body, encoding="utf-8")
        names.append(name)
    return names


async def test_the_insurer_of_the_docs_checks_clean_and_answers_from_its_module(tmp_path: Path) -> None:
    names = write_examples(tmp_path)
    assert names == [
        "hosting.yaml",
        "insurer/module.py",
        "insurer/service.yaml",
        "insurer/main.yaml",
        "insurer/busy.yaml",
    ]
    plan = plan_hosting(tmp_path / "hosting.yaml")
    assert plan.diagnostics == []
    assert plan.tenants["insurer"].decl is not None and plan.tenants["insurer"].decl.seats.reserved == 12
    async with running(tmp_path) as hosted:
        leg = await converse(hosted, "95519", ["880001"])
    assert [p.text for p in leg.prompts] == ["请输入六位保单号。", "保单状态：in force。", "再见。"]
    assert (tmp_path / "var" / "tenants" / "insurer" / "data" / "claims.json").read_text() == "[]"

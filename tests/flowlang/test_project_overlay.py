"""`load_project` with unsaved texts laid over files, and with a cache of unchanged files'
work: the same diagnostics as loading the saved files from scratch."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from ivr.flowlang.project import LoadCache, load_project

FLOWS = Path(__file__).resolve().parents[2] / "flows"


def test_an_unsaved_text_is_checked_instead_of_the_file(tmp_path: Path) -> None:
    folder = tmp_path / "flows"
    shutil.copytree(FLOWS, folder)
    orders = folder / "orders.yaml"
    broken = orders.read_text(encoding="utf-8").replace("next: ask_side", "next: ask_sdie", 1)
    _, found = load_project([folder], {os.path.abspath(orders): broken})
    assert [d.code for d in found] == ["FL301"]
    orders.write_text(broken, encoding="utf-8")
    _, saved = load_project([folder])
    assert [(d.code, d.span.line, d.message) for d in saved] == [
        (d.code, d.span.line, d.message) for d in found
    ]


def test_a_cache_gives_the_same_diagnostics_as_a_fresh_load(tmp_path: Path) -> None:
    folder = tmp_path / "flows"
    shutil.copytree(FLOWS, folder)
    orders = os.path.abspath(folder / "orders.yaml")
    text = Path(orders).read_text(encoding="utf-8")
    cache = LoadCache(limit=64)
    for edit in ("next: ask_sdie", "next: ask_side", "type: menuu", "next: nowhere"):
        changed = text.replace("next: ask_side", edit, 1)
        _, cached = load_project([folder], {orders: changed}, cache)
        _, fresh = load_project([folder], {orders: changed})
        assert [(d.code, d.span, d.message) for d in cached] == [(d.code, d.span, d.message) for d in fresh]

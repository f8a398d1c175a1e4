"""Keystroke -> diagnostics shown in the flow editor, measured in Chromium.

Serves the editor over a copy of flows/, opens flows/orders.yaml in Debian's Chromium
(playwright), and types one character at a time after `next: ask_side` (a misspelt node id that grows,
so every check reports it anew). The page records,
for each keystroke, the time from the change to the frame after the checker's
diagnostics were applied: the lint pause (120 ms) + the request + the whole-project check
(`load_project` with the buffer laid over the file) + rendering. Every keystroke makes a
text never checked before, so the editor's result cache never answers. Prints p50, p95, max.

    .venv/bin/python benchmarks/editor_diagnostics.py [--keys 60] [--gap 150]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

import trio

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "editor"))

from editor_support import local_context, serving

from ivr.editor.app import build_editor_app

LETTERS = "abcdefghijklmnopqrstuvwxyz"
FLOWS = Path(__file__).resolve().parents[1] / "flows"


def measure(address: str, keys: int, gap: int) -> list[float]:
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path="/usr/bin/chromium", headless=True, args=["--headless", "--no-sandbox"]
        )
        try:
            page = browser.new_page(viewport={"width": 1500, "height": 900})
            page.set_default_timeout(20_000)
            page.goto(address)
            expect(page.locator("body")).to_have_attribute("data-ready", "true")
            page.click("#tree li[data-path='orders.yaml']")
            expect(page.locator("#drawing g.node[data-node='ask_market']")).to_be_visible()
            page.evaluate("() => { window.__ivrEditor.timings.length = 0 }")
            for index in range(keys):
                checked = int(page.get_attribute("body", "data-checked") or 0)
                page.evaluate(f"() => window.__ivrEditorApp.moveTo(45, {20 + index})")
                page.keyboard.type(LETTERS[index % len(LETTERS)])
                page.wait_for_function(f"() => Number(document.body.dataset.checked) > {checked}")
                page.wait_for_timeout(gap)
            timings: list[float] = page.evaluate("() => window.__ivrEditor.timings")
            return timings
        finally:
            browser.close()


async def run(keys: int, gap: int) -> list[float]:
    with tempfile.TemporaryDirectory() as folder:
        project = Path(folder) / "flows"
        shutil.copytree(FLOWS, project)
        context = local_context(project, Path(folder))
        assert context.local is not None
        async with serving(build_editor_app(context)) as url:
            return await trio.to_thread.run_sync(measure, f"{url}/?token={context.local.token}", keys, gap)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keys", type=int, default=60)
    parser.add_argument(
        "--gap",
        type=int,
        default=150,
        help="ms between a check and the next key (700: the drawing redraws too)",
    )
    args = parser.parse_args()
    timings = trio.run(run, args.keys, args.gap)
    ordered = sorted(timings)
    p95 = ordered[max(0, round(0.95 * len(ordered)) - 1)]
    print(
        f"keystroke -> diagnostics shown on flows/orders.yaml, {len(timings)} keystrokes: "
        f"p50 {statistics.median(timings):.0f} ms, p95 {p95:.0f} ms, max {max(timings):.0f} ms "
        f"(lint pause 120 ms included; {args.gap} ms between keys)"
    )


if __name__ == "__main__":
    main()

"""The flow editor in headless Chromium (Debian's, driven by playwright), as an author uses
it: a misspelt node id is underlined at its line with the checker's hint and clears when
fixed; clicking a node lands on its YAML; a quote call is simulated by clicking keys; the
flow tests run and colour the drawing; a version is published, changed, and rolled back;
an author cannot publish; a path outside the project is refused. The screenshots in
docs/editor.md come from here (IVR_SCREENSHOTS=docs/images/editor to refresh them)."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest
import trio
from editor_support import accounts_context, copy_flows, local_context, serving

from ivr.editor.app import BUNDLE, build_editor_app
from ivr.runtime.flowtest.loader import load_test_file

ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--mute-audio",
]
QUOTE_TEST = "a quote read in full, the period highs and lows, a repeat, then an unknown code"

pytestmark = [pytest.mark.slow, pytest.mark.graphviz]


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("IVR_SCREENSHOTS") or tmp_path / "shots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(autouse=True)
def bundle() -> None:
    if not BUNDLE.is_file():
        pytest.fail("the editor's front end is not built: run `make setup`")


async def test_an_author_checks_draws_simulates_tests_and_publishes(
    chromium: str, tmp_path: Path, shots: Path
) -> None:
    folder = copy_flows(tmp_path)
    context = local_context(folder, tmp_path)
    assert context.local is not None
    async with serving(build_editor_app(context)) as url:
        address = f"{url}/?token={context.local.token}"
        seen = await trio.to_thread.run_sync(_author_session, chromium, address, tmp_path / "profile", shots)
    assert (
        seen["diagnostic"]["line"] == seen["typo_line"]
        and "did you mean 'ask_side'?" in seen["diagnostic"]["text"]
    )
    assert "did you mean 'ask_side'?" in seen["hover"]
    assert seen["cleared"] == "0"
    assert seen["clicked_line"].strip() == "confirm_order:"
    assert "招商银行" in seen["transcript"] and {"ask_code", "fetch", "read_quote"} <= set(seen["visited"])
    tests = sum(len(load_test_file(str(f))[0].tests) for f in folder.glob("*.test.yaml"))  # type: ignore[union-attr]
    assert seen["tests"].startswith(f"{tests} passed, 0 failed") and seen["covered"] > 10
    published = tmp_path / "published" / "project"
    assert (published / "current").read_text() == "v3"
    assert "买入请按1" in (published / "v3" / "files" / "orders.yaml").read_text(encoding="utf-8")
    assert "购买请按1" in (published / "v2" / "files" / "orders.yaml").read_text(encoding="utf-8")
    assert "购买请按1" in (folder / "orders.yaml").read_text(encoding="utf-8")


def _author_session(chromium: str, address: str, profile: Path, shots: Path) -> dict[str, Any]:
    from playwright.sync_api import expect, sync_playwright

    seen: dict[str, Any] = {}
    with sync_playwright() as p:
        browser = p.chromium.launch_persistent_context(
            str(profile),
            executable_path=chromium,
            headless=True,
            args=ARGS,
            viewport={"width": 1500, "height": 900},
        )
        try:
            page = browser.new_page()
            page.set_default_timeout(20_000)
            page.goto(address)
            expect(page.locator("body")).to_have_attribute("data-ready", "true")
            page.click("#tree li[data-path='orders.yaml']")
            expect(page.locator("#drawing g.node[data-node='ask_market']")).to_be_visible()
            _type_a_typo(page, seen, shots)
            _click_a_node(page, seen)
            _simulate_a_quote(page, seen, shots)
            _run_the_tests(page, seen, shots)
            _publish_change_roll_back(page, seen, shots)
        finally:
            browser.close()
    return seen


def _type_a_typo(page: Any, seen: dict[str, Any], shots: Path) -> None:
    from playwright.sync_api import expect

    # after shanghai's `next: ask_side` (found, so the test follows edits to the flow)
    line = page.evaluate(
        "() => window.__ivrEditorApp.text().split('\\n').findIndex(l => l.trim() === 'next: ask_side') + 1"
    )
    seen["typo_line"] = str(line)
    page.evaluate(f"() => window.__ivrEditorApp.moveTo({line}, 20)")
    page.keyboard.type("e")
    problem = page.locator("#problem-list li.error")
    expect(problem).to_have_attribute("data-code", "FL301")
    seen["diagnostic"] = {"line": problem.get_attribute("data-line"), "text": problem.inner_text()}
    page.hover(".cm-lintRange-error")
    tooltip = page.locator(".cm-tooltip-lint")
    expect(tooltip).to_contain_text("did you mean")
    seen["hover"] = tooltip.inner_text()
    expect(page.locator("#drawing g.node.has-problem[data-node='shanghai']")).to_be_visible()
    page.screenshot(path=str(shots / "diagnostic.png"))
    page.click("#problem-list li.error .explain-link")
    expect(page.locator("#explain-text")).to_contain_text("FL301")
    page.screenshot(path=str(shots / "explain.png"))
    page.click("#explain button")
    page.evaluate(f"() => window.__ivrEditorApp.moveTo({line}, 21)")
    page.keyboard.press("Backspace")
    expect(page.locator("#problems")).to_have_attribute("data-count", "0")
    seen["cleared"] = page.locator("#problems").get_attribute("data-count")


def _click_a_node(page: Any, seen: dict[str, Any]) -> None:
    from playwright.sync_api import expect

    page.click("#drawing g.node[data-node='confirm_order']")
    expect(page.locator("#drawing")).to_have_attribute("data-current", "confirm_order")
    seen["clicked_line"] = page.locator(".cm-activeLine").inner_text()


def _simulate_a_quote(page: Any, seen: dict[str, Any], shots: Path) -> None:
    from playwright.sync_api import expect

    page.click("#tree li[data-path='quotes.yaml']")
    expect(page.locator("#drawing g.node[data-node='ask_code']")).to_be_visible()
    page.select_option("#sim-data", label=f"fixtures of test: {QUOTE_TEST}")
    expect(page.locator("#sim-flow")).to_have_value("quotes")
    page.click("#sim-start")
    transcript = page.locator("#transcript")
    expect(transcript).to_contain_text("六位证券代码")
    expect(page.locator("#sim-status")).to_contain_text("Waiting for keys")
    for key in "600036":
        page.click(f"#keypad button[data-key='{key}']")
    expect(transcript).to_contain_text("招商银行")
    expect(page.locator("#drawing g.node.visited[data-node='read_quote']")).to_be_visible()
    page.screenshot(path=str(shots / "simulate.png"))
    seen["transcript"] = transcript.inner_text()
    seen["visited"] = page.eval_on_selector_all(
        "#drawing g.node.visited", "els => els.map(e => e.dataset.node)"
    )
    page.click("#sim-hangup")
    expect(page.locator("#sim-status")).to_contain_text("Call ended")


def _run_the_tests(page: Any, seen: dict[str, Any], shots: Path) -> None:
    from playwright.sync_api import expect

    page.click(".tabs button[data-tab='tests']")
    page.click("#run-tests")
    expect(page.locator("#test-summary")).to_contain_text("passed", timeout=120_000)
    seen["tests"] = page.inner_text("#test-summary")
    expect(page.locator("#drawing g.node.covered").first).to_be_visible()
    seen["covered"] = page.locator("#drawing g.node.covered").count()
    page.screenshot(path=str(shots / "tests.png"))


def _publish_change_roll_back(page: Any, seen: dict[str, Any], shots: Path) -> None:
    from playwright.sync_api import expect

    page.click("#tree li[data-path='orders.yaml']")
    page.click(".tabs button[data-tab='publish']")
    result = page.locator("#publish-result")
    page.fill("#publish-note", "first")
    page.click("#publish")
    expect(result).to_contain_text("Published v1")
    line = page.evaluate(
        "() => window.__ivrEditorApp.text().split('\\n').findIndex(l => l.includes('买入请按1')) + 1"
    )
    column = page.evaluate(f"() => window.__ivrEditorApp.text().split('\\n')[{line - 1}].indexOf('买入') + 1")
    page.evaluate(f"() => window.__ivrEditorApp.moveTo({line}, {column})")
    page.keyboard.press("Delete")
    page.keyboard.press("Delete")
    page.keyboard.type("购买")
    page.keyboard.press("Control+s")
    expect(page.locator("#save-state")).to_have_attribute("data-state", "saved")
    page.fill("#publish-note", "wording")
    page.click("#publish")
    expect(result).to_contain_text("Published v2")
    page.click("#versions li[data-version='v1'] button:has-text('diff with working')")
    expect(page.locator("#diff")).to_contain_text("购买请按1")
    page.click("#versions li[data-version='v1'] button.rollback")
    expect(result).to_contain_text(re.compile("Rolled back: v3"))
    page.screenshot(path=str(shots / "publish.png"))


async def test_an_author_cannot_publish_and_paths_outside_are_refused(chromium: str, tmp_path: Path) -> None:
    folder = copy_flows(tmp_path)
    (tmp_path / "secret.yaml").write_text("keep: me\n", encoding="utf-8")
    async with serving(build_editor_app(accounts_context(folder, tmp_path))) as url:
        seen = await trio.to_thread.run_sync(_author_without_rights, chromium, url, tmp_path / "profile")
    assert "only a publisher can publish" in seen["publish"]
    assert "'..'" in seen["outside"]
    assert seen["fetch"] == 403
    assert (tmp_path / "secret.yaml").read_text(encoding="utf-8") == "keep: me\n"
    assert not (tmp_path / "published").exists()


def _author_without_rights(chromium: str, url: str, profile: Path) -> dict[str, Any]:
    from playwright.sync_api import expect, sync_playwright

    seen: dict[str, Any] = {}
    with sync_playwright() as p:
        browser = p.chromium.launch_persistent_context(
            str(profile),
            executable_path=chromium,
            headless=True,
            args=ARGS,
            viewport={"width": 1400, "height": 900},
        )
        try:
            page = browser.new_page()
            page.set_default_timeout(20_000)
            page.goto(f"{url}/")
            page.fill("#login-name", "alice")
            page.fill("#login-password", "alice-pw")
            page.click("#sign-in button[type=submit]")
            expect(page.locator("body")).to_have_attribute("data-ready", "true")
            expect(page.locator("#who")).to_have_text("alice (author)")
            page.click(".tabs button[data-tab='publish']")
            page.click("#publish")
            expect(page.locator("#publish-result")).to_have_attribute("data-outcome", "not_allowed")
            seen["publish"] = page.inner_text("#publish-result")
            page.evaluate("() => window.__ivrEditorApp.openFile('../secret.yaml')")
            expect(page.locator("#toast")).to_contain_text("'..'")
            seen["outside"] = page.inner_text("#toast")
            seen["fetch"] = page.evaluate(
                "async () => (await fetch('api/files/..%2Fsecret.yaml', {method: 'PUT', body: 'owned: 1',"
                " headers: {'X-IVR-Editor': '1', 'If-None-Match': '*'}})).status"
            )
        finally:
            browser.close()
    return seen

"""The supervisor pages in headless Chromium (Debian's, driven by playwright): the wall board
follows the ACD live, a phone order's recording is found by its number and plays (range
requests) and the listen is in the audit log, an agent who is not a supervisor is refused,
complaint tickets are re-routed and closed with a note; reports draw a chart and export CSV,
absurd ranges get a 400. One site for the module (`supervisor_support.Site`).

The pictures in docs/reports.md come from here: IVR_SCREENSHOTS=docs/images refreshes them.
"""

from __future__ import annotations

import json
import os
import sqlite3
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browser_support import ARGS, chromium_or_skip
from supervisor_support import DAY, ORDER, PASSWORDS, Site

from ivr.runtime.acd import AgentState


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    running = Site(tmp_path_factory.mktemp("supervisor")).start()
    yield running
    running.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    executable = chromium_or_skip()
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=15_000)  # generous, for a loaded machine; only a failure waits it out

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=executable, headless=True, args=ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Any, site: Site) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 720})
    opened = context.new_page()
    opened.set_default_timeout(15_000)
    opened.goto(f"{site.url}/supervisor/")
    yield opened
    context.close()


def log_in(page: Any, extension: str = "8009") -> None:
    page.fill("#extension", extension)
    page.fill("#password", PASSWORDS[extension])
    page.click("#login button[type=submit]")


def shot(page: Any, name: str, tmp_path: Path) -> None:
    """A screenshot: always taken (it must work), kept in docs/images with IVR_SCREENSHOTS."""
    folder = Path(os.environ.get("IVR_SCREENSHOTS") or tmp_path)
    page.screenshot(path=str(folder / f"supervisor-{name}.png"), full_page=True)


def http(
    site: Site, path: str, token: str | None = None, headers: dict[str, str] | None = None
) -> tuple[int, bytes]:
    request = urllib.request.Request(f"{site.url}{path}", headers=dict(headers or {}))
    if token:
        request.add_header("authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def test_the_wall_board_follows_queued_calls_and_agent_states_live(
    site: Site, page: Any, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    site.run_sync(lambda: site.acd.login("8001", "sip:8001@127.0.0.1", {"general": 3, "billing": 2}))
    log_in(page)
    expect(page.locator("#board-status")).to_have_attribute("data-live", "yes")
    agent = page.locator('#agents tr[data-agent="8001"]')
    expect(agent).to_have_attribute("data-state", "not_ready")
    site.call("live-1", "general", account="31000009")  # nobody ready: the caller waits
    general = page.locator('#queues tr[data-queue="general"]')
    expect(general).to_have_attribute("data-waiting", "1")
    expect(page.locator('#agent-states li[data-state="not_ready"] b')).to_have_text("1")
    site.run_sync(site.acd.set_ready, "8001")  # the agent takes the call
    expect(agent).to_have_attribute("data-state", "on_call")
    expect(general).to_have_attribute("data-waiting", "0")
    assert site.run_sync(lambda: site.acd.statistics().agents["8001"].state) is AgentState.ON_CALL
    # today's figures from the records beside the live ones: 3 offered, 2 answered (one
    # within 20 s), 1 abandoned
    figures = general.locator("td")
    for column, text in ((3, "3"), (4, "2"), (5, "1"), (6, "33.3"), (7, "50")):
        expect(figures.nth(column)).to_have_text(text)
    shot(page, "board", tmp_path)


def test_a_phone_order_leads_to_its_recording_which_plays_and_is_audited(
    site: Site, page: Any, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    log_in(page)
    page.click('nav button[data-page="recordings"]')
    page.fill('#search [name="order"]', ORDER)
    page.fill('#search [name="from"]', f"{DAY:%Y-%m-%d}")
    page.fill('#search [name="to"]', f"{DAY:%Y-%m-%d}")
    page.click("#search button[type=submit]")
    rows = page.locator("#recording-list tbody tr")
    expect(rows).to_have_count(1)  # this tenant's, not the other tenant's with the same order
    expect(rows.first).to_have_attribute("data-recording", "call-order-agent")
    rows.first.locator("button.play").click()
    player = page.locator("#player")
    page.wait_for_function(  # the audio element loaded the WAV and is playing it
        "p => p.readyState >= 2 && p.currentTime > 0", arg=player.element_handle(), timeout=15_000
    )
    assert player.evaluate("p => p.duration") == pytest.approx(1.5, abs=0.05)
    shot(page, "recordings", tmp_path)
    page.click('nav button[data-page="audit"]')
    line = page.locator('#audit-list tr[data-kind="recording_played"]')
    expect(line.first).to_contain_text("call-order-agent")
    expect(line.first).to_contain_text("8009")
    # the other searches: by account (from the queue's data), by agent, by caller
    searches = [
        ("account", "31000003", "call-balance-agent"),
        ("agent", "8001", "call-order-agent"),
        ("caller", "13800000002", "call-complaint-message"),
    ]
    for field, value, found in searches:
        page.click('nav button[data-page="recordings"]')
        page.fill('#search [name="order"]', "")
        for other in ("account", "agent", "caller"):
            page.fill(f'#search [name="{other}"]', value if other == field else "")
        page.click("#search button[type=submit]")
        expect(rows).to_have_count(1)
        expect(rows.first).to_have_attribute("data-recording", found)


def test_range_requests_and_the_audit_log_over_http(site: Site) -> None:
    token = site.run(site.app.cti.tokens.issue, "8009")
    path = "/supervisor/api/recordings/call-balance-agent/audio"
    status, body = http(site, path, token, {"range": "bytes=44-143"})
    assert status == 206 and len(body) == 100
    status, body = http(site, "/supervisor/api/audit?n=5", token)
    assert status == 200
    played = [a for a in json.loads(body)["audit"] if a["kind"] == "recording_played"]
    assert not any(a["recording"] == "call-balance-agent" for a in played)  # a seek is not a listen
    status, _ = http(site, path, token, {"range": "bytes=0-"})
    assert status == 206
    lines = json.loads(http(site, "/supervisor/api/audit?n=5", token)[1])["audit"]
    assert lines[0]["kind"] == "recording_played" and lines[0]["recording"] == "call-balance-agent"
    assert (
        http(site, "/supervisor/api/recordings/call-other-agent/audio", token)[0] == 404
    )  # another tenant's


def test_an_agent_who_is_not_a_supervisor_is_refused(site: Site, page: Any) -> None:
    from playwright.sync_api import expect

    log_in(page, "8001")
    expect(page.locator("#login-error")).to_contain_text("not a supervisor")
    expect(page.locator("#pages")).to_be_hidden()
    token = site.run(site.app.cti.tokens.issue, "8001")  # a desktop login's token
    for path in (
        "/supervisor/api/recordings/call-order-agent/audio",
        "/supervisor/api/board",
        "/supervisor/api/audit",
    ):
        assert http(site, path, token)[0] == 403
    assert http(site, "/supervisor/api/recordings/call-order-agent/audio")[0] == 401
    assert http(site, "/supervisor/api/recordings/call-order-agent/audio", "forged")[0] == 401


def test_tickets_are_rerouted_and_closed_with_a_note(site: Site, page: Any, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    first, second = (t["ticket_no"] for t in site.tickets)
    log_in(page)
    page.click('nav button[data-page="tickets"]')
    ticket = page.locator(f'#ticket-list tr[data-ticket="{first}"]')
    expect(ticket).to_have_attribute("data-department", "finance")
    expect(page.locator(f'#ticket-list tr[data-ticket="{second}"]')).to_have_attribute(
        "data-department", "it"
    )
    ticket.locator("button.play").click()
    page.wait_for_function("p => p.readyState >= 2", arg=page.locator("#ticket-player").element_handle())
    shot(page, "tickets", tmp_path)
    ticket.locator("select.department").select_option("compliance")
    ticket.locator("button.reroute").click()
    expect(ticket).to_have_attribute("data-department", "compliance")
    ticket.locator("input.note").fill("Refunded the fee; the customer agreed.")
    ticket.locator("button.close").click()
    expect(page.locator("#notice")).to_contain_text(f"Ticket {first} closed")
    expect(ticket).to_have_count(0)  # the open list no longer shows it
    page.select_option("#ticket-status", "closed")
    expect(ticket).to_have_attribute("data-status", "closed")
    expect(ticket).to_contain_text("Refunded the fee")
    page.select_option("#ticket-status", "open")
    other = page.locator(f'#ticket-list tr[data-ticket="{second}"]')
    other.locator("input.note").fill("Restarted the quote server; it works again.")
    other.locator(".call-back input").check()
    other.locator("button.close").click()
    expect(page.locator("#notice")).to_contain_text(
        f"Ticket {second} closed; the customer will be called back"
    )
    with sqlite3.connect(site.folder / "data" / "brokerage.sqlite3") as db:
        queued = db.execute("SELECT ticket_no, phone FROM complaint_callbacks").fetchall()
    assert queued == [(second, "13800000004")]  # the first ticket was closed without one
    page.click('nav button[data-page="audit"]')
    expect(page.locator('#audit-list tr[data-kind="ticket_closed"]').first).to_contain_text(second)
    expect(page.locator('#audit-list tr[data-kind="ticket_rerouted"]').first).to_contain_text("compliance")
    shot(page, "audit", tmp_path)
    token = site.run(site.app.cti.tokens.issue, "8009")
    request = urllib.request.Request(
        f"{site.url}/supervisor/api/tickets/{first}/close",
        data=b'{"note": "again"}',
        headers={"content-type": "application/json", "authorization": f"Bearer {token}"},
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)
    assert refused.value.code == 409 and "closed" in json.loads(refused.value.read())["error"]


def test_reports_draw_a_chart_export_csv_and_refuse_absurd_ranges(
    site: Site, page: Any, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    log_in(page)
    page.click('nav button[data-page="reports"]')
    page.select_option('#report-form [name="by"]', "flow")
    page.fill('#report-form [name="from"]', f"{DAY:%Y-%m-%d}")
    page.fill('#report-form [name="to"]', f"{DAY:%Y-%m-%d}")
    page.click("#report-form button[type=submit]")
    page.select_option('#report-form [name="figure"]', "calls")
    bar = page.locator("#chart svg rect")
    expect(bar).to_have_count(1)  # one hour, one flow: 4 calls of this tenant (not the other's)
    assert bar.get_attribute("data-value") == "4"
    expect(page.locator("#report-table tbody tr")).to_have_count(1)
    shot(page, "reports", tmp_path)
    token = site.run(site.app.cti.tokens.issue, "8009")
    status, csv = http(
        site, f"/supervisor/api/report?by=flow&from={DAY:%Y-%m-%d}&to={DAY:%Y-%m-%d}&format=csv", token
    )
    assert status == 200
    assert csv.decode().splitlines()[1].startswith("2026-12-01T09:00:00+00:00,main,4,")
    page.fill('#report-form [name="from"]', "2026-01-01")
    page.select_option('#report-form [name="interval"]', "15m")
    page.click("#report-form button[type=submit]")
    expect(page.locator("#report-error")).to_contain_text("too long a report")
    for query in (
        "by=flow&from=2026-12-02&to=2026-12-01",
        "by=everything",
        "by=queue&zone=Mars/Olympus",
        "by=queue&from=yesterday",
    ):
        status, body = http(site, f"/supervisor/api/report?{query}", token)
        assert status == 400 and json.loads(body)["error"], query

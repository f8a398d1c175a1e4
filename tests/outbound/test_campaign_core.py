"""The campaign core by example: windows in the callee's time zone, retries per outcome,
pacing, the do-not-call list, pause and stop, progress; and the idle-capacity rule."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from test_campaign_core_machine import CALENDAR, decl

from ivr.runtime.campaigns.core import CampaignCore, CampaignStateError, Complete, Dial, SkipContact
from ivr.runtime.campaigns.model import CampaignRun, Contact
from ivr.runtime.campaigns.pacing import TokenBucket, TrunkLoad, idle_channels
from ivr.runtime.campaigns.window import Window

MONDAY_10_SHANGHAI = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)


def core(contacts: list[Contact], **kw: object) -> CampaignCore:
    settings = {"max_concurrent": 10, "rate": 100.0, "retries": {}, "zone": None, **kw}
    calendar = kw.pop("calendar", CALENDAR)
    run = CampaignRun("june", "news", "created", MONDAY_10_SHANGHAI)
    c = CampaignCore(
        run,
        decl(settings["max_concurrent"], settings["rate"], settings["retries"], settings["zone"]),  # type: ignore[arg-type]
        calendar,  # type: ignore[arg-type]
        contacts,
        set(),
        MONDAY_10_SHANGHAI,
    )
    c.apply(c.change("start"))
    return c


def dialled(decisions: list[object]) -> list[str]:
    return [d.contact.contact_id for d in decisions if isinstance(d, Dial)]


def test_a_callee_is_called_only_inside_the_window_in_their_own_time_zone() -> None:
    contacts = [Contact("sh", "1", {}, "Asia/Shanghai"), Contact("ny", "2", {}, "America/New_York")]
    c = core(contacts)
    assert dialled(c.next_dials(MONDAY_10_SHANGHAI, 5)) == ["sh"]  # 21:00 Sunday in New York
    opens = c.next_wake(MONDAY_10_SHANGHAI)
    assert opens == datetime(2026, 3, 2, 14, 0, tzinfo=UTC)  # Monday 09:00 in New York
    assert dialled(c.next_dials(opens, 5)) == ["ny"]


def test_a_holiday_in_the_callees_calendar_is_skipped_to_the_next_open_day() -> None:
    window = Window(CALENDAR, "Asia/Shanghai")
    wednesday_holiday = datetime(2026, 3, 4, 3, 0, tzinfo=UTC)
    assert not window.is_open(wednesday_holiday)
    assert window.next_open(wednesday_holiday) == datetime(2026, 3, 5, 1, 0, tzinfo=UTC)  # Thu 09:00


def test_busy_is_retried_after_its_delay_as_often_as_allowed_then_done() -> None:
    c = core([Contact("a", "1")], retries={"busy": (600, 2)})
    now = MONDAY_10_SHANGHAI
    for n in (1, 2, 3):
        [dial] = [d for d in c.next_dials(now, 1) if isinstance(d, Dial)]
        assert dial.attempt.n == n and dial.attempt.attempt_id == f"june-a-{n}"
        decisions = c.finished(dial.attempt.attempt_id, "busy", now)
        assert c.next_dials(now + timedelta(seconds=599), 1) == []
        now += timedelta(seconds=600)
    assert decisions == [Complete("june")]
    assert c.contact_state("a") == "done"
    assert c.progress(now).final_outcomes == {"busy": 1}


def test_a_call_yielded_to_inbound_is_retried_outside_the_failed_budget() -> None:
    c = core([Contact("a", "1")], retries={"failed": (30, 1)})
    now = MONDAY_10_SHANGHAI
    for n, outcome in enumerate(("yielded", "yielded", "failed", "failed"), start=1):
        [dial] = [d for d in c.next_dials(now, 1) if isinstance(d, Dial)]
        assert dial.attempt.n == n
        decisions = c.finished(dial.attempt.attempt_id, outcome, now)  # type: ignore[arg-type]
        assert c.next_dials(now + timedelta(seconds=29), 1) == []
        now += timedelta(seconds=30)
    assert decisions == [Complete("june")]  # two yields, then the one failed retry allowed
    assert c.progress(now).attempt_outcomes == {"yielded": 2, "failed": 2}


def test_an_answered_call_is_never_retried_and_an_opt_out_reaches_the_shared_list() -> None:
    shared: set[str] = set()
    run = CampaignRun("june", "news", "running", MONDAY_10_SHANGHAI)
    c = CampaignCore(
        run,
        decl(5, 100.0, {"busy": (1, 5)}, None),
        None,
        [Contact("a", "1"), Contact("b", "1")],
        shared,
        MONDAY_10_SHANGHAI,
    )
    [first] = [d for d in c.next_dials(MONDAY_10_SHANGHAI, 1) if isinstance(d, Dial)]
    c.finished(
        first.attempt.attempt_id, "answered", MONDAY_10_SHANGHAI, disposition="opted_out", ran_flow=True
    )
    assert shared == {"1"}
    decisions = c.next_dials(MONDAY_10_SHANGHAI, 5)
    assert [type(d) for d in decisions] == [SkipContact, Complete]  # b has the same number


def test_pacing_holds_concurrency_rate_and_free_channels() -> None:
    contacts = [Contact(f"c{i}", str(i)) for i in range(10)]
    c = core(contacts, max_concurrent=3, rate=2.0)
    assert len(dialled(c.next_dials(MONDAY_10_SHANGHAI, 0))) == 0
    assert len(dialled(c.next_dials(MONDAY_10_SHANGHAI, 5))) == 1  # a fresh bucket holds one call
    later = MONDAY_10_SHANGHAI + timedelta(seconds=5)
    assert len(dialled(c.next_dials(later, 5))) == 2  # the bucket refills to 2, concurrency 3
    assert len(dialled(c.next_dials(later + timedelta(seconds=5), 5))) == 0


def test_a_paused_run_dials_nothing_and_a_stopped_run_cannot_start_again() -> None:
    c = core([Contact("a", "1")])
    c.apply(c.change("pause"))
    assert c.next_dials(MONDAY_10_SHANGHAI, 5) == []
    c.apply(c.change("resume"))
    c.apply(c.change("stop"))
    assert c.next_dials(MONDAY_10_SHANGHAI, 5) == []
    with pytest.raises(CampaignStateError, match="stopped: it cannot resume"):
        c.change("resume")


def test_progress_gives_the_pace_and_the_time_left() -> None:
    c = core([Contact(f"c{i}", str(i)) for i in range(40)], rate=0.5)
    now = MONDAY_10_SHANGHAI
    for _ in range(60):
        for d in c.next_dials(now, 100):
            if isinstance(d, Dial):
                c.finished(d.attempt.attempt_id, "answered", now, ran_flow=True)
        now += timedelta(seconds=1)
    progress = c.progress(now)
    assert progress.per_minute == 30.0 and progress.contact_states["done"] == 30
    assert progress.eta_seconds == pytest.approx(20.0)  # 10 left at 30 a minute


def test_the_idle_capacity_rule_keeps_the_reserve_and_room_for_rising_inbound() -> None:
    assert idle_channels(TrunkLoad(channels=30, reserve=4, inbound=10, outbound=6)) == 10
    assert idle_channels(TrunkLoad(30, 4, 10, 6, inbound_per_second=2.0, lookahead=2.0)) == 6
    assert idle_channels(TrunkLoad(30, 4, 25, 6)) == 0
    assert idle_channels(TrunkLoad(30, 4, 0, 0, overloaded=True)) == 0


def test_a_token_bucket_allows_its_rate_without_bursting() -> None:
    bucket = TokenBucket(2.0, 0.0)
    assert bucket.take(0.0) and not bucket.take(0.0)
    assert bucket.next_at(0.0) == 0.5
    assert bucket.available(100.0) == 2  # a second's worth at most

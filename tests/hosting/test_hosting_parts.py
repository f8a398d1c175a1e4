"""The hosting package's parts without SIP: configuration, admission, prompts, metrics,
the HTTP app, the silence filler of call recordings, and the agents' side (queue settings,
announcements in the caller's language, hold music, the ACD journal, queue metrics)."""

from __future__ import annotations

import wave
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest
import trio
from trio.testing import MockClock

from ivr.adapters.errors import ConfigError
from ivr.adapters.hosting.admission import usable_capacity
from ivr.adapters.hosting.config import HostingConfig, from_environment
from ivr.adapters.hosting.http import HttpApi
from ivr.adapters.hosting.live import LiveCalls, TappedRecords
from ivr.adapters.hosting.metrics import Metrics
from ivr.adapters.hosting.prompts import static_prompts
from ivr.adapters.hosting.queues import AcdJournal, acd_settings, announcement, write_hold_music
from ivr.adapters.sharedacd.routing import open_shared_acd
from ivr.adapters.supervision.board import board
from ivr.flowlang.project import load_project
from ivr.runtime.acd import AcdSettings, AcdStatistics, Position, QueueConfig, open_acd
from ivr.runtime.acd.shared import CenterFigures, CenterQueue
from ivr.runtime.ports import CallChannel, CallEvent, QueueRequest
from ivr.runtime.testing import MemoryCallLeg, MemoryCallRecords
from ivr.runtime.testing.acd import AgentAnswer, MemoryAgentConnector

FLOWS = Path(__file__).parents[2] / "flows"


def test_flags_win_over_the_environment_which_wins_over_defaults() -> None:
    env = {"IVR_SIP_PORT": "5070", "IVR_HTTP_PORT": "8081", "IVR_RECORD_CALLS": "yes"}
    config = from_environment(env, http_port=9000, capacity=None)
    assert (config.sip_port, config.http_port, config.record_calls) == (5070, 9000, True)
    assert config.capacity == HostingConfig().capacity
    assert config.records_db == Path("var/calls.sqlite3")


def test_a_bad_setting_names_itself() -> None:
    with pytest.raises(ConfigError, match="IVR_SIP_PORT"):
        from_environment({"IVR_SIP_PORT": "five"})
    with pytest.raises(ConfigError, match="http_port"):
        from_environment({}, http_port=70000)
    with pytest.raises(ConfigError, match="rtp_port"):
        from_environment({"IVR_RTP_PORT": "80"})


def test_capacity_stays_below_the_compiled_limit_so_our_503_comes_first() -> None:
    assert usable_capacity(0, 1024) == 992
    assert usable_capacity(2, 1024) == 2
    assert usable_capacity(5000, 4) == 3


def test_static_prompts_are_the_templates_without_interpolation_in_each_language() -> None:
    project, _ = load_project([FLOWS])
    prompts = static_prompts(project)
    texts = {text for text, _ in prompts}
    assert ("感谢您的来电，再见。", "zh") in prompts
    assert ("Thank you for calling. Goodbye.", "en") in prompts
    assert not any("{" in text or "substr" in text for text in texts)


class _Status:
    calls_active, calls_peak, capacity, compiled_max_calls, draining, started = 1, 2, 10, 1024, False, 0.0


async def test_the_http_api_serves_health_metrics_calls_and_traces() -> None:
    metrics, live = Metrics(), LiveCalls()
    store = MemoryCallRecords()
    records = TappedRecords(store, live, metrics)
    now = datetime.now(UTC)
    await records.call_started("c1", flow="main", caller="1380", dialed="95500", at=now)
    await records.call_event(CallEvent("c1", "node_entered", now, "menu", {"flow": "main"}))
    await records.call_event(
        CallEvent("c1", "operation", now, "id", {"name": "q", "outcome": "ok", "latency_ms": 12})
    )
    api = HttpApi(_Status(), live, metrics, _NoHistory())

    async with _client(api) as client:
        health = await client.get("/health")
        assert health.status_code == 200 and health.json()["capacity"] == 10
        assert health.headers["cache-control"] == "no-store"
        calls = (await client.get("/calls")).json()["calls"]
        assert calls[0]["node"] == "menu"
        await records.call_ended("c1", how="completed", at=now)
        recent = (await client.get("/calls/recent", params={"n": 5})).json()["calls"]
        assert recent[0]["how"] == "completed"
        trace = (await client.get("/calls/c1/trace")).json()
        assert trace["events"][0]["kind"] == "node_entered"
        scraped = await client.get("/metrics")
        assert scraped.headers["content-type"].startswith("text/plain; version=0.0.4")
        text = scraped.text
        assert 'ivr_calls_total{how="completed",tenant=""} 1.0' in text
        assert 'ivr_node_steps_total{tenant=""} 1.0' in text
        assert (
            'ivr_operation_latency_seconds_bucket{le="0.025",operation="q",outcome="ok",tenant=""} 1.0'
            in text
        )
        assert "ivr_capacity 10.0" in text and "_created" not in text
        missing = await client.get("/calls/nope/trace")
        assert missing.status_code == 404 and "nope" in missing.json()["error"]
        assert (await client.post("/health")).status_code == 405
        nothing = await client.get("/nothing")
        assert nothing.status_code == 404 and nothing.json() == {"error": "no such resource: /nothing"}


def test_two_servers_in_one_process_keep_their_own_metrics() -> None:
    first, second = Metrics(), Metrics()
    first.call_ended("completed", "bank")
    assert b'ivr_calls_total{how="completed",tenant="bank"} 1.0' in first.exposition()
    assert b"ivr_calls_total{" not in second.exposition()


def _client(api: HttpApi) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=api.app()), base_url="http://ivr.test")


class _FolderTenant:
    """A plain folder's one tenant, as the HTTP API reads it: its ACD."""

    name, state = "brokerage", "serving"

    def __init__(self, acd: object) -> None:
        self.agents = SimpleNamespace(acd=acd, routing=acd)


async def test_a_record_started_before_the_answer_is_not_started_again_by_the_engine() -> None:
    starts: list[str] = []

    class CountingRecords(MemoryCallRecords):
        async def call_started(
            self,
            call_id: str,
            *,
            flow: str,
            caller: str,
            dialed: str,
            at: datetime,
            tenant: str = "",
            version: str = "",
            channel: CallChannel = "phone",
        ) -> None:
            starts.append(call_id)  # a second INSERT would fail on the SQLite store

    records, now = TappedRecords(CountingRecords(), LiveCalls(), Metrics()), datetime.now(UTC)
    await records.call_started("c1", flow="main", caller="1380", dialed="95500", at=now)  # supervisor
    await records.call_started("c1", flow="main", caller="1380", dialed="95500", at=now)  # engine
    await records.call_ended("c1", how="completed", at=now)
    assert starts == ["c1"]


async def test_a_disposition_saved_after_the_hang_up_joins_the_calls_trace_and_summary() -> None:
    live = LiveCalls()
    records = TappedRecords(MemoryCallRecords(), live, Metrics())
    now = datetime.now(UTC)
    await records.call_started("c1", flow="main", caller="1380", dialed="95500", at=now)
    await records.call_event(CallEvent("c1", "agent_connected", now, None, {"agent": "8001", "queue": "vip"}))
    consult = {"agent": "8002", "queue": "vip", "kind": "consult"}
    await records.call_event(CallEvent("c1", "agent_connected", now, None, consult))
    await records.call_ended("c1", how="completed", at=now)
    await records.call_event(
        CallEvent("c1", "agent_wrapup", now, None, {"agent": "8001", "disposition": "resolved"})
    )
    [recent] = live.recent.values()
    assert [e.kind for e in recent.trace][-1] == "agent_wrapup"
    summary = recent.summary()
    assert (summary["agent"], summary["disposition"], summary["how"]) == ("8001", "resolved", "completed")
    assert summary["node"] is None


class _NoHistory:
    async def get_call(self, call_id: str) -> None:
        return None

    async def events(self, call_id: str) -> list[CallEvent]:
        return []


# -- agents and queues ------------------------------------------------------------------------


def test_the_agents_file_defaults_to_config_agents_yaml_when_it_exists(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert from_environment({}).agents_file is None
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "agents.yaml").write_text("agents: []\n")
    assert from_environment({}).agents_file == Path("config/agents.yaml")
    assert from_environment({"IVR_AGENTS_FILE": "team.yaml"}).agents_file == Path("team.yaml")
    assert from_environment({}, agents_file=Path("none")).agents_file is None
    config = from_environment({"IVR_WRAP_UP": "5", "IVR_SIP_TCP": "0"}, announce_every=0.0)
    assert (config.wrap_up, config.sip_tcp, config.announce_every) == (5.0, False, 0.0)
    with pytest.raises(ConfigError, match="wrap_up"):
        from_environment({"IVR_WRAP_UP": "-1"})


def test_queue_settings_come_from_the_service_and_the_hosting_defaults(tmp_path: Path) -> None:
    project, _ = load_project([FLOWS])
    config = HostingConfig(announce_every=0, queue_max_wait=300, wrap_up=7, agent_ring_seconds=9)
    settings = acd_settings(config, project, tmp_path / "music.wav")
    assert set(settings.queues) == {"general", "orders", "experts", "vip", "complaints"}
    vip = settings.queue("vip")
    assert vip.skills == ("general", "orders", "vip") and vip.announce_every is None
    assert (vip.max_wait, vip.wrap_up, vip.ring_timeout) == (300, 7, 9)
    assert vip.music == str(tmp_path / "music.wav") and vip.announcement is announcement


def test_announcements_are_spoken_in_the_callers_language() -> None:
    mandarin = QueueRequest("vip", (), 10, {}, None, language="zh")
    prompt = announcement(Position(mandarin, 2, 170))
    assert (prompt.language, prompt.text) == ("zh", "您目前排在第2位，预计等待约3分钟，请不要挂机。")
    english = announcement(Position(QueueRequest("vip", (), 10, {}, None, language="en-GB"), 2, 170))
    assert english.language == "en" and english.text.startswith("You are number 2 in the queue.")
    assert "about 3 minutes" in english.text
    assert announcement(Position(QueueRequest("vip", (), 0, {}, None, language="fr"), 2, 170)) == prompt
    one = announcement(Position(QueueRequest("vip", (), 0, {}, None, language="en"), 1, 10))
    assert "1 minute." in one.text


def test_the_default_hold_music_is_a_tune_of_some_seconds_at_8_khz(tmp_path: Path) -> None:
    path = tmp_path / "hold.wav"
    write_hold_music(path)
    with wave.open(str(path), "rb") as w:
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (8000, 1, 2)
        assert 5 < w.getnframes() / 8000 < 15


async def test_the_acd_journal_notes_the_agent_on_the_callers_record(autojump_clock: MockClock) -> None:
    records = MemoryCallRecords()
    connector = MemoryAgentConnector(default=AgentAnswer(ring=0.5, talk=2))
    settings = AcdSettings({"general": QueueConfig("general", wrap_up=0)})
    async with open_acd(connector, settings) as acd, trio.open_nursery() as nursery:
        await nursery.start(AcdJournal(acd, records).run)
        acd.login("8001", "sip:8001@127.0.0.1", {"general": 3}, ready=True)
        leg = MemoryCallLeg(call_id="c1")
        outcome = await acd.enqueue(leg, QueueRequest("general", (), 0, {"pin": "1234"}, None))
        await trio.sleep(0.1)
        nursery.cancel_scope.cancel()
    assert outcome == "completed"
    events = [(e.kind, dict(e.detail)) for e in records.of("c1")]
    assert events == [
        ("agent_offered", {"agent": "8001", "queue": "general"}),  # (a transfer adds its kind and who)
        ("agent_connected", {"agent": "8001", "queue": "general"}),
        ("agent_call_ended", {"agent": "8001", "queue": "general", "outcome": "completed"}),
    ]


async def test_health_and_metrics_report_queues_and_agents(autojump_clock: MockClock) -> None:
    connector = MemoryAgentConnector(default=AgentAnswer(ring=60))
    async with open_acd(connector, AcdSettings({"vip": QueueConfig("vip")})) as acd:
        acd.login("8001", "sip:8001@127.0.0.1", {"vip": 3})
        acd.login("8002", "sip:8002@127.0.0.1", {"vip": 3})
        async with trio.open_nursery() as nursery:
            nursery.start_soon(acd.enqueue, MemoryCallLeg(call_id="c1"), QueueRequest("vip", (), 0, {}, None))
            await trio.sleep(1.5)
            api = HttpApi(_Status(), LiveCalls(), Metrics(), _NoHistory(), [_FolderTenant(acd)])  # type: ignore[list-item]
            async with _client(api) as client:
                health = (await client.get("/health")).json()
                text = (await client.get("/metrics")).text
            nursery.cancel_scope.cancel()
    assert health["agents"] == {"logged_in": 2, "not_ready": 2}
    assert health["queues"]["vip"]["waiting"] == 1 and health["queues"]["vip"]["longest_wait_seconds"] >= 1
    assert 'ivr_queue_waiting{queue="vip"} 1.0' in text
    assert 'ivr_queue_abandoned_total{queue="vip"} 0.0' in text
    assert 'ivr_agents{state="not_ready"} 2.0' in text and 'ivr_agents{state="ready"} 0.0' in text
    assert "ivr_queue_longest_wait_seconds{queue=" in text and "ivr_queue_service_level{" not in text


async def test_health_shows_the_centers_queue_figures_beside_this_instances_own(postgres_url: str) -> None:
    """With the shared ACD, a call waiting at another instance is in `center` (every
    instance), not in this instance's `queues`; agents likewise."""
    settings = AcdSettings({"vip": QueueConfig("vip", skills=("vip",), announce_every=None)})
    async with (
        open_shared_acd(postgres_url, instance="A", connector=MemoryAgentConnector(), settings=settings) as a,
        open_shared_acd(postgres_url, instance="B", connector=MemoryAgentConnector(), settings=settings) as b,
        open_acd(MemoryAgentConnector(), settings) as local_b,
        trio.open_nursery() as nursery,
    ):
        await a.login("8001", "sip:8001@127.0.0.1", {"vip": 3})  # at A, not ready
        nursery.start_soon(a.enqueue, MemoryCallLeg(call_id="c1"), QueueRequest("vip", (), 0, {}, None))
        with trio.fail_after(20):
            while (await b.figures(max_age=0)) is None or not (b.center and b.center.queues):  # noqa: ASYNC110
                await trio.sleep(0.05)
        tenant = _FolderTenant(local_b)
        tenant.agents.routing = b  # B's calls wait in the center's queue
        api = HttpApi(_Status(), LiveCalls(), Metrics(), _NoHistory(), [tenant])  # type: ignore[list-item]
        async with _client(api) as client:
            health = (await client.get("/health")).json()
        nursery.cancel_scope.cancel()
    assert health["agents"] == {"logged_in": 0} and health["queues"]["vip"]["waiting"] == 0  # this instance's
    center = health["center"]
    assert center["agents"] == {"logged_in": 1, "not_ready": 1}
    assert center["queues"]["vip"]["waiting"] == 1 and center["queues"]["vip"]["longest_wait_seconds"] >= 0


def test_the_wall_board_names_the_centers_figures_apart_from_this_instances() -> None:
    stats = AcdStatistics({}, {})
    center = CenterFigures({"vip": CenterQueue("vip", 3, 42.4)}, {"ready": 2, "on_call": 1})
    drawn = board(stats, {}, center)
    assert drawn["queues"] == [
        {
            "queue": "vip",
            "center_waiting": 3,
            "center_longest_wait": 42,
            "waiting": 0,
            "longest_wait": 0,
            "answered_live": 0,
            "abandoned_live": 0,
            "offered": 0,
            "answered": 0,
            "abandoned": 0,
            "service_level_pct": None,
            "abandoned_pct": None,
        }
    ]
    assert drawn["center_agents_by_state"] == {
        "ready": 2,
        "reserved": 0,
        "on_call": 1,
        "wrap_up": 0,
        "not_ready": 0,
    }
    assert drawn["agents_by_state"] == dict.fromkeys(
        ("ready", "reserved", "on_call", "wrap_up", "not_ready"), 0
    )
    assert "center_agents_by_state" not in board(stats, {})

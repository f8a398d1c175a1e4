"""The hosting package's parts without SIP: configuration, admission, prompts, metrics,
the HTTP app and the silence filler of call recordings."""

from __future__ import annotations

import wave
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ivr.adapters.hosting.admission import Admission, Admit, Refuse, usable_capacity
from ivr.adapters.hosting.config import ConfigError, HostingConfig, from_environment
from ivr.adapters.hosting.http import HttpApi
from ivr.adapters.hosting.live import LiveCalls, TappedRecords
from ivr.adapters.hosting.metrics import Metrics
from ivr.adapters.hosting.prompts import static_prompts
from ivr.adapters.hosting.wavgaps import insert_silence
from ivr.flowlang.project import load_project
from ivr.runtime.ports import CallEvent
from ivr.runtime.testing import MemoryCallRecords

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


def test_capacity_stays_below_the_compiled_limit_so_our_503_comes_first() -> None:
    assert usable_capacity(0, 1024) == 992
    assert usable_capacity(2, 1024) == 2
    assert usable_capacity(5000, 4) == 3


def test_admission_routes_known_numbers_and_refuses_the_rest() -> None:
    project, _ = load_project([FLOWS])
    admission = Admission(project, capacity=1)
    assert admission.decide("95500") == Admit("main")
    assert admission.decide("12345") == Refuse(404, "unknown_number")
    admission.enter()
    assert admission.decide("95500") == Refuse(503, "capacity")
    admission.leave()
    admission.draining = True
    assert admission.decide("95500") == Refuse(503, "shutting_down")


def test_static_prompts_are_the_templates_without_interpolation_in_each_language() -> None:
    project, _ = load_project([FLOWS])
    prompts = static_prompts(project)
    texts = {text for text, _ in prompts}
    assert ("感谢您的来电，再见。", "zh") in prompts
    assert ("Thank you for calling. Goodbye.", "en") in prompts
    assert not any("{" in text or "substr" in text for text in texts)


def test_silence_goes_back_where_the_recording_was_muted(tmp_path: Path) -> None:
    path = tmp_path / "call.wav"
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(b"\x10\x10" * 16000)  # 2 s of sound
    inserted = insert_silence(path, [(0.5, 1.5)])
    with wave.open(str(path), "rb") as w:
        frames = w.readframes(w.getnframes())
    assert inserted == pytest.approx(1.0)
    assert len(frames) == 2 * 24000
    assert frames[: 2 * 4000] == b"\x10\x10" * 4000
    assert frames[2 * 4000 : 2 * 12000] == bytes(2 * 8000)
    assert frames[2 * 12000 :] == b"\x10\x10" * 12000


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

    health = await api.respond("GET", "/health", b"")
    assert health.status == 200 and b'"capacity": 10' in health.body
    calls = await api.respond("GET", "/calls", b"")
    assert b'"node": "menu"' in calls.body
    await records.call_ended("c1", how="completed", at=now)
    recent = await api.respond("GET", "/calls/recent", b"n=5")
    assert b'"how": "completed"' in recent.body
    trace = await api.respond("GET", "/calls/c1/trace", b"")
    assert b'"kind": "node_entered"' in trace.body
    text = (await api.respond("GET", "/metrics", b"")).body.decode()
    assert 'ivr_calls_total{how="completed"} 1' in text
    assert "ivr_node_steps_total 1" in text
    assert 'ivr_operation_latency_seconds_bucket{operation="q",outcome="ok",le="0.025"} 1' in text
    assert (await api.respond("GET", "/calls/nope/trace", b"")).status == 404
    assert (await api.respond("POST", "/health", b"")).status == 405
    assert (await api.respond("GET", "/nothing", b"")).status == 404


class _NoHistory:
    async def get_call(self, call_id: str) -> None:
        return None

    async def events(self, call_id: str) -> list[CallEvent]:
        return []

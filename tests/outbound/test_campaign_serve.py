"""Campaigns end to end: `ivr serve` with the examples/outbound service, the sipp carrier
as the called parties, `ivr campaign` as the operator.

- a broadcast over 1,000 contacts (people, people who press 9, answering machines, busy
  lines, lines that ring on, a failing network; up to 80 calls at once) ends with exact
  per-outcome counts and the retries the campaign configures; the opt-outs are honoured
  by a second run;
- kill -9 in the middle of a run, then a restart: the run resumes and no attempt is ever
  dialled twice (the carrier logs every INVITE's X-IVR-Attempt header);
- with the campaign at full pace, inbound calls (sipp callers) are all answered and the
  dialer leaves them their channels: inbound + outbound never pass the trunk's channels.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import trio
from outbound_support import Carrier, run_carrier

sys.path.insert(0, str(Path(__file__).parents[1] / "hosting"))

from hosting_support import IVR, Server, start_caller

ROOT = Path(__file__).parents[2]
EXAMPLE = ROOT / "examples" / "outbound"
pytestmark = [pytest.mark.usefixtures("need_sip"), pytest.mark.sip, pytest.mark.slow, pytest.mark.alone]

# first digit -> behaviour (scripts/sipp_carrier.py); how many of each in the 1,000
MIX = {"1": 400, "6": 100, "2": 150, "3": 150, "4": 100, "5": 100}
# the example's pacing and retry delays, sped up so that 1,000 contacts take about 2 min
FAST = {
    "channels: 20": "channels: 84",
    "max_concurrent: 10, calls_per_second: 5": "max_concurrent: 80, calls_per_second: 40",
    "after: 5s": "after: 2s",
}


def project(tmp_path: Path, carrier: Carrier, contacts: list[str], **service: str) -> Path:
    """examples/outbound with the carrier's port and `contacts` (numbers) as its list."""
    folder = tmp_path / "project"
    shutil.copytree(EXAMPLE, folder, ignore=shutil.ignore_patterns("*.test.yaml", "carrier.xml"))
    text = (folder / "service.yaml").read_text().replace("127.0.0.1:5090", carrier.gateway)
    for old, new in service.items():
        assert old in text
        text = text.replace(old, new)
    (folder / "service.yaml").write_text(text)
    rows = "".join(f"{number},Customer {number}\n" for number in contacts)
    (folder / "contacts.csv").write_text("phone,name\n" + rows)
    return folder


def numbers(mix: dict[str, int]) -> list[str]:
    return [f"{digit}{i:04d}" for digit, count in mix.items() for i in range(count)]


def campaign(server: Server, *args: str) -> str:
    run = subprocess.run(
        [str(IVR), "campaign", *args, "--server", server.url("")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    return run.stdout


async def progress(server: Server, run_id: str) -> dict[str, Any]:
    return dict(await server.get(f"/campaigns/runs/{run_id}"))


async def until(
    server: Server, run_id: str, done: Callable[[dict[str, Any]], bool], timeout: float
) -> dict[str, Any]:
    """Poll the run's progress until `done(progress)`."""
    with trio.fail_after(timeout):
        for _ in range(1_000_000):
            found = await progress(server, run_id)
            if done(found):
                return found
            await trio.sleep(0.3)
    raise AssertionError("unreachable")


async def until_ended(server: Server, run_id: str, timeout: float) -> dict[str, Any]:
    return await until(server, run_id, lambda p: p["state"] in ("completed", "stopped"), timeout)


@contextmanager
def serving(tmp_path: Path, flows: Path, *extra: str) -> Iterator[Server]:
    server = Server.start(tmp_path / "data", "--agents", "none", *extra, flows=flows, tts=tmp_path / "tts")
    try:
        yield server
    finally:
        server.stop()


async def test_a_broadcast_ends_with_exact_outcomes_and_retries_and_a_second_run_honours_opt_outs(
    tmp_path: Path,
) -> None:
    async with trio.open_nursery() as nursery:
        carrier: Carrier = await nursery.start(run_carrier, tmp_path / "carrier")
        contacts = numbers(MIX)
        flows = project(tmp_path, carrier, contacts, **FAST)
        with serving(tmp_path, flows) as server:
            out = campaign(server, "create", "broadcast", "--run", "june")
            assert "created run june of broadcast: 1000 contacts" in out
            campaign(server, "start", "june")
            june = await until_ended(server, "june", 600)
            status = campaign(server, "status", "june")
            again = [n for n in contacts if n[0] in "16" and int(n[1:]) < 50]  # 50 people, 50 opted out
            second = "".join(f"{n},Again\n" for n in again)
            csv = tmp_path / "july.csv"
            csv.write_text("phone,name\n" + second)
            campaign(server, "create", "broadcast", "--run", "july", "--contacts", str(csv))
            campaign(server, "start", "july")
            july = await until_ended(server, "july", 300)
            metrics = await server.get("/campaigns/metrics")
        calls = carrier.calls_per_number()
        invites = carrier.invites()
        nursery.cancel_scope.cancel()
    assert june["state"] == "completed" and "completed" in status
    # each number got exactly the attempts its behaviour and the retry rules call for
    expected = {"1": 1, "6": 1, "2": 1, "3": 3, "4": 2, "5": 2}
    first_run = Counter({n: expected[n[0]] for n in contacts})
    second_run = Counter({n: 1 for n in again if n[0] == "1"})  # the 6s opted out
    assert calls == first_run + second_run
    assert len({attempt for _, attempt in invites}) == len(invites), "an attempt was dialled twice"
    assert june["final_outcomes"] == {
        "answered": 500,
        "machine": 150,
        "busy": 150,
        "no_answer": 100,
        "failed": 100,
    }
    assert june["attempt_outcomes"] == {
        "answered": 500,
        "machine": 150,
        "busy": 450,
        "no_answer": 200,
        "failed": 200,
    }
    assert june["dispositions"] == {"heard": 400, "opted_out": 100, "message_left": 150}
    assert july["contact_states"] == {"done": 50, "do_not_call": 50}
    assert 'ivr_campaign_attempts_total{campaign="broadcast",outcome="busy",run="june"} 450.0' in metrics


async def test_kill_9_mid_run_then_restart_dials_no_attempt_twice(tmp_path: Path) -> None:
    async with trio.open_nursery() as nursery:
        carrier: Carrier = await nursery.start(run_carrier, tmp_path / "carrier")
        contacts = numbers({"1": 30})
        # every callee is a person: answering-machine detection, which can take a person for a
        # machine on a starved CPU (README figures), is not what this test is about
        no_amd = {"machine: leave_message": "machine: leave_message\n    detect_machines: false"}
        flows = project(
            tmp_path, carrier, contacts, **{"calls_per_second: 5": "calls_per_second: 3"}, **no_amd
        )
        server = Server.start(tmp_path / "data", "--agents", "none", flows=flows, tts=tmp_path / "tts")
        try:
            campaign(server, "create", "broadcast", "--run", "june")
            campaign(server, "start", "june")
            late = [
                "--contact",
                "key=late1",
                "phone=10900",
                "name=Late",
                "--contact",
                "key=late2",
                "phone=10901",
            ]
            added = campaign(server, "add", "june", *late)
            await until(server, "june", lambda p: p["attempts"] >= 8, 120)
            server.process.send_signal(signal.SIGKILL)  # attempts are up: their outcomes are lost
            server.process.wait()
        finally:
            if server.process.poll() is None:
                server.process.kill()
        with serving(tmp_path, flows) as again:
            retried = campaign(again, "add", "june", "--contact", "key=late1", "phone=10900", "name=Late")
            june = await until_ended(again, "june", 300)
        invites = carrier.invites()
        nursery.cancel_scope.cancel()
    attempts = [attempt for _, attempt in invites]
    assert len(attempts) == len(set(attempts)), "an attempt was dialled twice"
    assert june["state"] == "completed"
    interrupted = june["attempt_outcomes"].get("interrupted", 0)
    assert interrupted >= 1  # the kill caught some calls up
    # the two contacts added while it ran were kept through the kill; the retried add was a no-op
    assert "2 contact(s) added, 0 it had already" in added
    assert "0 contact(s) added, 1 it had already" in retried
    assert june["final_outcomes"] == {"answered": 32}
    # an interrupted attempt is retried (the failed rule) as a new attempt: 1, 2, ... per contact
    assert len(invites) == 32 + interrupted
    ids = {number: f"c{k}" for k, number in enumerate(contacts, start=1)} | {
        "10900": "late1",
        "10901": "late2",
    }
    for number, contact in ids.items():
        got = [attempt for n, attempt in invites if n == number]
        assert got and got == [f"june-{contact}-{n}" for n in range(1, len(got) + 1)], got


async def test_inbound_calls_keep_their_channels_while_a_campaign_runs_at_full_pace(tmp_path: Path) -> None:
    async with trio.open_nursery() as nursery:
        carrier: Carrier = await nursery.start(run_carrier, tmp_path / "carrier")
        contacts = numbers({"1": 60})
        flows = project(
            tmp_path,
            carrier,
            contacts,
            **{
                "channels: 20": "channels: 12",
                "reserve: 4": "reserve: 3",
                "max_concurrent: 10": "max_concurrent: 12",
                "calls_per_second: 5": "calls_per_second: 10",
            },
        )
        with serving(tmp_path, flows) as server:
            campaign(server, "create", "broadcast", "--run", "june")
            campaign(server, "start", "june")
            samples: list[tuple[int, int]] = []

            async def sample() -> None:
                for _ in range(1_000_000):
                    overview = await server.get("/campaigns")
                    inbound = (await server.get("/health"))["calls_active"]
                    samples.append((inbound, overview["trunks"]["carrier"]["outbound"]))
                    await trio.sleep(0.1)

            async with trio.open_nursery() as inner:
                inner.start_soon(sample)
                await trio.sleep(3)  # the campaign is at full pace
                callers = []
                for i in range(12):
                    callers.append(
                        start_caller(inner, server, "uac_until_bye.xml", tmp_path / f"in{i}", timeout=40)
                    )
                    await trio.sleep(0.7)
                for caller in callers:
                    await caller.wait_ok(60)
                inner.cancel_scope.cancel()
            june = await until_ended(server, "june", 300)
            metrics = await server.get("/campaigns/metrics")
        nursery.cancel_scope.cancel()
    busiest = max(samples, key=lambda s: s[0])
    assert busiest[0] >= 3, samples  # inbound load did build up
    assert max(o for _, o in samples) >= 6  # and the campaign did run at pace before it
    assert all(i + o <= 12 for i, o in samples), f"inbound and outbound passed the trunk: {samples}"
    assert june["attempt_outcomes"].get("yielded", 0) >= 1  # 6+ inbound and 9 out need yields
    assert "ivr_dialer_yielded_calls_total" in metrics
    assert june["final_outcomes"] == {"answered": 60}  # each yielded attempt was tried again

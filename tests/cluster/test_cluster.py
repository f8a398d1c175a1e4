"""Several `ivr serve` instances behind Kamailio (`ivr cluster`, docs/cluster.md).

- the configuration written for Kamailio is one Kamailio itself accepts (`kamailio -c`),
  and bad settings are refused with a clear message;
- `ivr cluster up` with two instances: sipp calls to Kamailio's port are answered by both
  instances; SIGTERM to one instance: its OPTIONS probes are answered 503, so Kamailio takes
  it out, the calls it holds finish normally, new calls all go to the other, and it exits 0;
- kill -9 of one instance under a stream of new calls: no new call fails (those sent before
  Kamailio notices wait for its 2 s timer, then go to the survivor), only the calls up on it
  end, the cluster closes them as `interrupted` when it sees the death, and once it is
  started again every answered call has a record and none is open;
- SIGTERM to `ivr cluster up` stops the whole cluster cleanly.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import pytest

from ivr.adapters.cluster.kamailio import Instance, ProxySettings, write_config
from ivr.adapters.cluster.local import ClusterPlan, find_kamailio
from ivr.adapters.errors import AdapterError, ConfigError

ROOT = Path(__file__).parents[2]
IVR = Path(sys.executable).with_name("ivr")
SCENARIO = Path(__file__).parent / "scenarios" / "uac_call_via_proxy.xml"

# `ivr serve` flags: a loaded test machine refuses no call
NO_OVERLOAD_CONTROL = ("--no-overload-control",)


@pytest.fixture
def kamailio() -> str:
    try:
        return find_kamailio()
    except AdapterError as exc:
        pytest.skip(str(exc))


def test_the_written_configuration_is_one_kamailio_accepts(tmp_path: Path, kamailio: str) -> None:
    nodes = (Instance("127.0.0.1", 5071), Instance("127.0.0.1", 5072), Instance("10.0.0.7", 5060))
    site = Instance("10.0.1.1", 5060)  # another site's Kamailio
    port = free_ports(1, socket.SOCK_DGRAM)
    cfg = write_config(ProxySettings("127.0.0.1", port, nodes, overflow=(site,)), tmp_path)
    checked = subprocess.run([kamailio, "-c", "-f", str(cfg)], capture_output=True, text=True, check=False)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    listed = [line.split()[:2] for line in (tmp_path / "dispatcher.list").read_text().splitlines()[1:]]
    assert listed == [*(["1", n.uri] for n in nodes), ["2", site.uri]]
    assert "route(OVERFLOW);" in cfg.read_text()
    alone = write_config(ProxySettings("127.0.0.1", port, nodes), tmp_path / "alone").read_text()
    assert "route(OVERFLOW);" not in alone


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        (ProxySettings("127.0.0.1", 5060, ()), "at least one"),
        (ProxySettings("127.0.0.1", 5060, (Instance("ivr-1.example", 5060),)), "not an IP address"),
        (ProxySettings("127.0.0.1", 70000, (Instance("127.0.0.1", 5061),)), "not a SIP port"),
        (ProxySettings("127.0.0.1", 5060, (Instance("127.0.0.1", 5061),) * 2), "listed twice"),
    ],
)
def test_bad_proxy_settings_are_refused_with_the_reason(settings: ProxySettings, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        settings.check()


def test_ivr_serve_options_the_cluster_sets_per_instance_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="--sip-port is set per instance"):
        ClusterPlan(tmp_path, serve_args=("--sip-port", "5070")).check()


def test_kamailio_config_writes_files_for_instances_on_other_machines(tmp_path: Path) -> None:
    wrote = run_ivr(
        "cluster", "kamailio-config", "--listen", "10.0.0.1:5060", "--instance", "10.0.0.2:5060",
        "--instance", "10.0.0.3:5060", "--folder", str(tmp_path), "--overflow", "10.0.1.1:5060",
    )  # fmt: skip
    assert wrote.returncode == 0, wrote.stderr
    listed = (tmp_path / "dispatcher.list").read_text()
    assert "1 sip:10.0.0.3:5060" in listed and "2 sip:10.0.1.1:5060" in listed
    bad = run_ivr("cluster", "kamailio-config", "--listen", "nowhere", "--instance", "10.0.0.2:5060")
    assert bad.returncode == 2 and "write IP:PORT" in bad.stderr and "Traceback" not in bad.stderr


def test_every_option_docs_cluster_md_shows_is_one_ivr_cluster_takes() -> None:
    text = (ROOT / "docs" / "cluster.md").read_text()
    commands = (("cluster", "up"), ("cluster", "kamailio-config"), ("versions",))  # the doc names all three
    helps = "".join(run_ivr(*command, "--help").stdout for command in commands)
    shown = set(re.findall(r"ivr cluster [^\n]*?(--[a-z-]+)", text)) | set(re.findall(r"`(--[a-z-]+)`", text))
    serve_options = {"--drain-seconds", "--agents", "--public-address", "--database-url", "--instance-id"}
    assert shown - serve_options and all(option in helps for option in shown - serve_options), shown


@pytest.mark.sip
@pytest.mark.slow
def test_two_instances_share_the_calls_and_a_draining_one_finishes_its_own_and_takes_no_new_ones(
    tmp_path: Path, kamailio: str
) -> None:
    data = tmp_path / "cluster"
    with cluster_up(tmp_path) as cluster:
        proxy, up = cluster.proxy_port, (cluster.http_port(1), cluster.http_port(2))
        assert sipp_calls(tmp_path / "first", proxy, 10) == (10, 0)
        first = {name: calls_in(data / name) for name in ("instance-1", "instance-2")}
        assert sum(first.values()) == 10 and all(n >= 3 for n in first.values()), first
        # calls up on both instances, then SIGTERM to instance 1 alone
        staying = start_sipp(tmp_path / "staying", proxy, 6, hold_ms=6000)
        wait_for(lambda: sum(map(active_calls, up)) == 6 and active_calls(up[0]) >= 2, 30)
        at_sigterm, seen = calls_in(data / "instance-1"), len(kamailio_log(data))
        os.kill(cluster.pid("instance-1"), signal.SIGTERM)
        sigterm_at, out = time.time(), f"instance {cluster.instance_uri(1)} is down"
        wait_for(lambda: out in kamailio_log(data)[seen:], 5)  # its probes are answered 503
        print(f"\nSIGTERM: out of rotation after {time.time() - sigterm_at:.1f} s")
        assert sipp_calls(tmp_path / "during", proxy, 10) == (10, 0)
        assert finish_sipp(staying) == (6, 0)  # the draining instance finished its calls
        assert calls_in(data / "instance-1") == at_sigterm  # and took no new one
        assert calls_in(data / "instance-1") + calls_in(data / "instance-2") == 10 + 6 + 10
        wait_for(lambda: "instance-1 exited 0" in cluster.output(), 30)  # drained, then exited
        assert open_calls(data / "instance-1") == 0 and interrupted_in(data / "instance-1") == 0
    assert cluster.process.returncode == 0, cluster.output()


@pytest.mark.sip
@pytest.mark.slow
def test_cluster_up_starts_postgresql_and_both_instances_record_their_calls_there(
    tmp_path: Path, kamailio: str
) -> None:
    port = free_ports(1, socket.SOCK_STREAM)
    try:
        with cluster_up(tmp_path, postgres_port=port) as cluster:
            url = cluster._find(r"postgresql: (postgresql://\S+),")
            assert sipp_calls(tmp_path / "calls", cluster.proxy_port, 8) == (8, 0)
            # sipp is done at its BYE's 200; the instance writes the call's end just after
            wait_for(lambda: _recorded_calls(url) == (8, 0), 20)
            with psycopg.connect(url) as db:
                rows = db.execute(
                    "SELECT instance, count(*), count(*) FILTER (WHERE ended_at IS NULL) FROM calls"
                    " GROUP BY instance ORDER BY instance"
                ).fetchall()
        assert [r[0] for r in rows] == ["instance-1", "instance-2"], rows  # both answered
        assert sum(r[1] for r in rows) == 8 and all(r[2] == 0 for r in rows), rows
        assert cluster.process.returncode == 0, cluster.output()
        assert not _accepts(port)  # PostgreSQL stopped with the cluster
    finally:
        shutil.rmtree(f"/var/tmp/ivr-cluster-{port}", ignore_errors=True)


def _recorded_calls(url: str) -> tuple[int, int]:
    """(calls, calls still open) in the shared database."""
    with psycopg.connect(url) as db:
        row = db.execute("SELECT count(*), count(*) FILTER (WHERE ended_at IS NULL) FROM calls").fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


def _accepts(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


@pytest.mark.sip
@pytest.mark.slow
@pytest.mark.alone
def test_kill_9_of_one_instance_under_load_loses_only_its_live_calls_and_new_calls_go_to_the_other(
    tmp_path: Path, kamailio: str
) -> None:
    """A stream of new calls (10 a second) runs across the kill; long calls are up on both
    instances when it happens. Prints the figures (pytest -s)."""
    data = tmp_path / "cluster"
    with cluster_up(tmp_path) as cluster:
        proxy, up = cluster.proxy_port, (cluster.http_port(1), cluster.http_port(2))
        long_calls = start_sipp(tmp_path / "long", proxy, 6, hold_ms=6000, caller="13800000001")
        wait_for(lambda: sum(map(active_calls, up)) == 6 and active_calls(up[0]) >= 2, 30)
        up_on_killed = active_calls(up[0])
        stream = start_sipp(
            tmp_path / "stream", proxy, STREAM_CALLS, hold_ms=0, rate=STREAM_RATE, caller="13800000002"
        )
        time.sleep(3)
        killed_at, seen = time.time(), len(kamailio_log(data))
        os.kill(cluster.pid("instance-1"), signal.SIGKILL)
        gone = tuple(f"instance {cluster.instance_uri(1)} {what}" for what in ("is down", "did not answer"))
        wait_for(lambda: any(line in kamailio_log(data)[seen:] for line in gone), 10)
        out_after = time.time() - killed_at
        new_ok, new_failed = finish_sipp(stream)
        unanswered = STREAM_CALLS - answered_calls(stream)  # failed before any 200
        last_failure = last_failure_at(tmp_path / "stream" / "stat.csv")
        long_ok, long_failed = finish_sipp(long_calls)
        print(
            f"\nkill -9 under {STREAM_RATE} new calls/s: out of rotation after {out_after:.1f} s; "
            f"new calls {new_ok} ok, {new_failed} failed ({unanswered} never answered)"
            + (f" (the last {last_failure - killed_at:.1f} s after the kill)" if last_failure else "")
            + f"; calls up on it {up_on_killed}, long calls {long_ok} ok, {long_failed} failed"
        )
        assert (long_ok, long_failed) == (6 - up_on_killed, up_on_killed)  # only its live calls ended
        assert new_ok + new_failed == STREAM_CALLS and unanswered <= 3, (new_ok, new_failed, unanswered)
        # a call failed after its 200 only by a stray late reply of the other instance
        # (docs/cluster.md, "a late 200"): sipp aborts on it, a phone ignores it
        assert unanswered == 0 or last_failure is None or last_failure - killed_at < 8
        # the cluster closes the calls the kill cut off as soon as it sees the death; it is
        # started again; every answered call has a record and none is left open
        closed = re.search(
            r"instance-1: closed (\d+) call\(s\) it was holding as interrupted", cluster.output()
        )
        assert closed is not None and int(closed[1]) >= up_on_killed, cluster.output()
        wait_for(lambda: "instance-1 started again" in cluster.output(), 30)
        wait_for(lambda: active_calls(up[0]) == 0 and active_calls(up[1]) == 0, 60)  # all ended
        answered = answered_calls(long_calls) + answered_calls(stream)
        records = sum(calls_in(data / f"instance-{n}", "13800000001", "13800000002") for n in (1, 2))
        assert answered <= records <= answered + 3, (answered, records)
        assert open_calls(data / "instance-1") == 0 and open_calls(data / "instance-2") == 0
        assert interrupted_in(data / "instance-1") == int(closed[1])  # none left for its restart
        wait_for(lambda: f"instance {cluster.instance_uri(1)} is up" in kamailio_log(data)[seen:], 30)
        before = calls_in(data / "instance-1")
        assert sipp_calls(tmp_path / "back", proxy, 6) == (6, 0)
        assert calls_in(data / "instance-1") > before  # back in rotation
    assert cluster.process.returncode == 0, cluster.output()
    assert "instance-1 exited -9" in cluster.output()


STREAM_RATE = 10  # new calls a second across the kill
STREAM_CALLS = 80


# -- helpers ------------------------------------------------------------------------------


def run_ivr(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(IVR), *args], capture_output=True, text=True, check=False, timeout=60)


def free_ports(count: int, kind: socket.SocketKind, after: int = 0) -> int:
    """The first of `count` consecutive ports free for `kind` (and for TCP too: SIP uses
    both), past `after`."""
    for base in range(max(after + 10, 21000 + os.getpid() % 2000 * 10), 60000, 10):
        if all(_free(port, k) for port in range(base, base + count) for k in {kind, socket.SOCK_STREAM}):
            return base
    raise AssertionError("no free ports")


def free_rtp_base(instances: int = 2, calls: int = 40) -> int:
    """An even RTP base whose first `calls` pairs are free for each instance of a cluster
    (instance n's RTP starts at base + (n - 1) * 2,100); other tests running meanwhile
    (pytest-xdist) take RTP ports too, and pjsua2 refuses a call whose port is taken."""
    for base in range(20000 + os.getpid() % 500 * 40, 60000 - instances * 2100, 200):
        blocks = (range(base + n * 2100, base + n * 2100 + 2 * calls) for n in range(instances))
        if all(_free(port, socket.SOCK_DGRAM) for block in blocks for port in block):
            return base
    raise AssertionError("no free RTP ports")


def _free(port: int, kind: socket.SocketKind) -> bool:
    with socket.socket(socket.AF_INET, kind) as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


@dataclass
class Cluster:
    """A running `ivr cluster up` and everything it printed so far."""

    process: subprocess.Popen[str]
    lines: list[str] = field(default_factory=list)

    def output(self) -> str:
        return "".join(self.lines)

    @property
    def proxy_port(self) -> int:
        return int(self._find(r"Kamailio on sip:127\.0\.0\.1:(\d+)"))

    def instance_uri(self, n: int) -> str:
        return "sip:" + self._find(rf"instance-{n}: pid \d+, sip ([\d.:]+),")

    def pid(self, name: str) -> int:
        return int(self._find(rf"{name}: pid (\d+)"))

    def http_port(self, n: int) -> int:
        return int(self._find(rf"instance-{n}: pid \d+, sip [\d.:]+, http://127\.0\.0\.1:(\d+)/"))

    def _find(self, pattern: str) -> str:
        found = re.search(pattern, self.output())
        assert found is not None, f"{pattern!r} not in:\n{self.output()}"
        return found[1]

    def read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line)


@contextmanager
def cluster_up(tmp_path: Path, *, postgres_port: int | None = None) -> Iterator[Cluster]:
    """`ivr cluster up` with two instances of flows/ on free ports, once every instance is
    healthy; stopped afterwards. Each instance on its own SQLite files, or with
    `postgres_port` on the PostgreSQL the cluster starts there (its default)."""
    sip = free_ports(3, socket.SOCK_DGRAM)
    http = free_ports(2, socket.SOCK_STREAM, after=sip)
    rtp = free_rtp_base()
    database = ["--no-database"] if postgres_port is None else ["--postgres-port", str(postgres_port)]
    command = [
        *(str(IVR), "cluster", "up", "--sip-port", str(sip), "--http-port", str(http)),
        *("--rtp-port", str(rtp), "--data-dir", str(tmp_path / "cluster"), *database),
        *("--flows", str(ROOT / "flows"), "--", "--agents", "none"),
        *NO_OVERLOAD_CONTROL,
        *("--tts-cache", str(tmp_path / "tts")),
    ]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    cluster = Cluster(process)
    threading.Thread(target=cluster.read, daemon=True).start()
    try:
        wait_for(lambda: "Ctrl-C stops it" in cluster.output() or process.poll() is not None, 240)
        assert process.poll() is None, f"ivr cluster up exited {process.returncode}:\n{cluster.output()}"
        yield cluster
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(60)
            except subprocess.TimeoutExpired:
                process.kill()


def wait_for(condition: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"not within {timeout} s"
        time.sleep(0.2)


def active_calls(http_port: int) -> int:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{http_port}/health", timeout=2) as reply:
            return int(json.load(reply)["calls_active"])
    except OSError:
        return -1


def interrupted_in(data_dir: Path) -> int:
    with sqlite3.connect(data_dir / "calls.sqlite3") as db:
        (count,) = db.execute("SELECT count(*) FROM calls WHERE how = 'interrupted'").fetchone()
        return int(count)


def open_calls(data_dir: Path) -> int:
    with sqlite3.connect(data_dir / "calls.sqlite3") as db:
        (count,) = db.execute("SELECT count(*) FROM calls WHERE ended_at IS NULL").fetchone()
        return int(count)


def kamailio_log(data_dir: Path) -> str:
    return (data_dir / "kamailio" / "kamailio.log").read_text(errors="replace")


def sipp_calls(work: Path, port: int, calls: int) -> tuple[int, int]:
    """`calls` sipp calls (5 a second, each up 1 s) to Kamailio; (successful, failed)."""
    return finish_sipp(start_sipp(work, port, calls, hold_ms=1000))


def start_sipp(
    work: Path, port: int, calls: int, *, hold_ms: int, rate: int = 5, caller: str = "13800138000"
) -> subprocess.Popen[str]:
    """sipp placing `calls` calls at `rate` a second, each up `hold_ms`; its statistics
    each second in work/stat.csv."""
    work.mkdir(parents=True)
    signalling = free_ports(1, socket.SOCK_DGRAM, after=port)
    media = free_ports(4, socket.SOCK_DGRAM, after=signalling)
    command = [
        *("sipp", "-sf", str(SCENARIO), "-i", "127.0.0.1", "-p", str(signalling), "-mp", str(media)),
        *("-m", str(calls), "-r", str(rate), "-l", str(calls), "-nostdin", "-s", "95500"),
        *("-key", "caller", caller, "-key", "hold", str(hold_ms), "-key", "rtp_port", str(media + 4)),
        *("-trace_stat", "-stf", "stat.csv", "-fd", "1"),
        *("-timeout", "60s", "-timeout_error", "-trace_err", f"127.0.0.1:{port}"),
    ]
    return subprocess.Popen(command, cwd=work, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def finish_sipp(sipp: subprocess.Popen[str]) -> tuple[int, int]:
    screen, _ = sipp.communicate(timeout=90)
    _screens[sipp.pid] = screen
    counts = [_sipp_count(screen, label) for label in ("Successful call", "Failed call")]
    return counts[0], counts[1]


def _sipp_count(screen: str, label: str) -> int:
    """The cumulative count of `label` in sipp's last statistics screen."""
    rows = re.findall(rf"{label}\s*\|\s*\d+\s*\|\s*(\d+)", screen)
    assert rows, screen[-2000:]
    return int(rows[-1])


_screens: dict[int, str] = {}  # sipp's last screen, by pid, once finished


def answered_calls(sipp: subprocess.Popen[str]) -> int:
    """How many INVITEs of a finished sipp got a 200 (the first 200 row of its screen)."""
    rows = re.findall(r"^\s*200 <-+\s+(\d+)", _screens[sipp.pid], re.MULTILINE)
    assert rows, _screens[sipp.pid][-2000:]
    return int(rows[0])


def last_failure_at(stat_csv: Path) -> float | None:
    """The end (Unix time) of the last one-second period in which sipp counted a failed
    call, from its -trace_stat file; None if no call failed."""
    lines = stat_csv.read_text().splitlines()
    columns = lines[0].rstrip(";").split(";")
    now, failed = columns.index("CurrentTime"), columns.index("FailedCall(P)")
    last = None
    for line in lines[1:]:
        fields = line.rstrip(";").split(";")
        if len(fields) > failed and int(fields[failed]) > 0:
            last = float(fields[now].split("\t")[-1])
    return last


def calls_in(data_dir: Path, *callers: str) -> int:
    """Call records in an instance's store (only those of `callers` when given)."""
    where = f" WHERE caller IN ({','.join('?' * len(callers))})" if callers else ""
    with sqlite3.connect(data_dir / "calls.sqlite3") as db:
        (count,) = db.execute("SELECT count(*) FROM calls" + where, callers).fetchone()
        return int(count)

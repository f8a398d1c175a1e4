"""Several `ivr serve` instances behind Kamailio (`ivr cluster`, docs/cluster.md).

- the configuration written for Kamailio is one Kamailio itself accepts (`kamailio -c`),
  and bad settings are refused with a clear message;
- `ivr cluster up` with two instances: sipp calls to Kamailio's port are answered by both
  instances; after kill -9 of one, every new call is answered by the other; SIGTERM stops
  the whole cluster cleanly.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from ivr.adapters.cluster.kamailio import Instance, ProxySettings, write_config
from ivr.adapters.cluster.local import ClusterPlan, find_kamailio
from ivr.adapters.errors import AdapterError, ConfigError

ROOT = Path(__file__).parents[2]
IVR = Path(sys.executable).with_name("ivr")
SCENARIO = Path(__file__).parent / "scenarios" / "uac_call_via_proxy.xml"


@pytest.fixture
def kamailio() -> str:
    try:
        return find_kamailio()
    except AdapterError as exc:
        pytest.skip(str(exc))


def test_the_written_configuration_is_one_kamailio_accepts(tmp_path: Path, kamailio: str) -> None:
    nodes = (Instance("127.0.0.1", 5071), Instance("127.0.0.1", 5072), Instance("10.0.0.7", 5060))
    cfg = write_config(ProxySettings("127.0.0.1", free_ports(1, socket.SOCK_DGRAM), nodes), tmp_path)
    checked = subprocess.run([kamailio, "-c", "-f", str(cfg)], capture_output=True, text=True, check=False)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    listed = (tmp_path / "dispatcher.list").read_text().splitlines()[1:]
    assert [line.split()[1] for line in listed] == [n.uri for n in nodes]


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
        "--instance", "10.0.0.3:5060", "--folder", str(tmp_path),
    )  # fmt: skip
    assert wrote.returncode == 0, wrote.stderr
    assert "sip:10.0.0.3:5060" in (tmp_path / "dispatcher.list").read_text()
    bad = run_ivr("cluster", "kamailio-config", "--listen", "nowhere", "--instance", "10.0.0.2:5060")
    assert bad.returncode == 2 and "write IP:PORT" in bad.stderr and "Traceback" not in bad.stderr


def test_every_option_docs_cluster_md_shows_is_one_ivr_cluster_takes() -> None:
    text = (ROOT / "docs" / "cluster.md").read_text()
    helps = run_ivr("cluster", "up", "--help").stdout + run_ivr("cluster", "kamailio-config", "--help").stdout
    shown = set(re.findall(r"ivr cluster [^\n]*?(--[a-z-]+)", text)) | set(re.findall(r"`(--[a-z-]+)`", text))
    serve_options = {"--drain-seconds", "--agents", "--public-address"}  # ivr serve's, after --
    assert shown - serve_options and all(option in helps for option in shown - serve_options), shown


@pytest.mark.sip
@pytest.mark.slow
def test_two_instances_share_the_calls_and_the_survivor_takes_them_after_a_kill_9(
    tmp_path: Path, kamailio: str
) -> None:
    with cluster_up(tmp_path) as (process, announced):
        proxy_port = int(re.search(r"Kamailio on sip:127\.0\.0\.1:(\d+)", announced)[1])  # type: ignore[index]
        pids = {m[1]: int(m[2]) for m in re.finditer(r"(instance-\d): pid (\d+)", announced)}
        assert sipp_calls(tmp_path / "first", proxy_port, 20) == (20, 0)
        first = {name: calls_in(tmp_path / "cluster" / name) for name in pids}
        assert sum(first.values()) == 20 and all(n >= 5 for n in first.values()), first
        os.kill(pids["instance-1"], signal.SIGKILL)
        assert sipp_calls(tmp_path / "after", proxy_port, 10) == (10, 0)
        assert calls_in(tmp_path / "cluster" / "instance-2") == first["instance-2"] + 10
        process.send_signal(signal.SIGTERM)
        out, _ = process.communicate(timeout=60)
    assert process.returncode == 0, out
    assert "instance-1 exited -9" in out
    log = (tmp_path / "cluster" / "kamailio" / "kamailio.log").read_text()
    assert "did not answer: marked inactive" in log


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


def _free(port: int, kind: socket.SocketKind) -> bool:
    with socket.socket(socket.AF_INET, kind) as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


@contextmanager
def cluster_up(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """`ivr cluster up` with two instances of flows/ on free ports; yields (the process, its
    announcement) once every instance is healthy, and stops it afterwards."""
    sip = free_ports(3, socket.SOCK_DGRAM)
    http = free_ports(2, socket.SOCK_STREAM, after=sip)
    rtp = 20000 + free_ports(1, socket.SOCK_DGRAM) % 10000 // 2 * 2
    command = [
        *(str(IVR), "cluster", "up", "--sip-port", str(sip), "--http-port", str(http)),
        *("--rtp-port", str(rtp), "--data-dir", str(tmp_path / "cluster")),
        *("--flows", str(ROOT / "flows"), "--", "--agents", "none"),
        *("--max-loop-lag", "0", "--max-sip-lag", "0", "--tts-cache", str(tmp_path / "tts")),
    ]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        yield process, _lines_until(process, "Ctrl-C stops it")
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(60)
            except subprocess.TimeoutExpired:
                process.kill()


def _lines_until(process: subprocess.Popen[str], marker: str) -> str:
    assert process.stdout is not None
    seen = ""
    for line in process.stdout:
        seen += line
        if marker in line:
            return seen
    raise AssertionError(f"ivr cluster up exited {process.wait()} before it was up:\n{seen}")


def sipp_calls(work: Path, port: int, calls: int) -> tuple[int, int]:
    """`calls` sipp calls (5 a second, each up 1 s) to Kamailio; (successful, failed)."""
    work.mkdir(parents=True)
    signalling = free_ports(1, socket.SOCK_DGRAM, after=port)
    media = free_ports(4, socket.SOCK_DGRAM, after=signalling)
    command = [
        *("sipp", "-sf", str(SCENARIO), "-i", "127.0.0.1", "-p", str(signalling), "-mp", str(media)),
        *("-m", str(calls), "-r", "5", "-l", str(calls), "-nostdin", "-s", "95500"),
        *("-key", "caller", "13800138000", "-key", "hold", "1000", "-key", "rtp_port", str(media + 4)),
        *("-timeout", "60s", "-timeout_error", "-trace_err", f"127.0.0.1:{port}"),
    ]
    done = subprocess.run(command, cwd=work, capture_output=True, text=True, timeout=90, check=False)
    counts = [_sipp_count(done.stdout, label) for label in ("Successful call", "Failed call")]
    return counts[0], counts[1]


def _sipp_count(screen: str, label: str) -> int:
    """The cumulative count of `label` in sipp's last statistics screen."""
    rows = re.findall(rf"{label}\s*\|\s*\d+\s*\|\s*(\d+)", screen)
    assert rows, screen[-2000:]
    return int(rows[-1])


def calls_in(data_dir: Path) -> int:
    with sqlite3.connect(data_dir / "calls.sqlite3") as db:
        (count,) = db.execute("SELECT count(*) FROM calls").fetchone()
        return int(count)

"""Two sites, each with its Kamailio and `ivr serve`, in network namespaces (docs/cluster.md).

Site 1 (namespace `ivr-s1-PID`, 10.213.0.1) and site 2 (`ivr-s2-PID`, 10.213.0.2) are joined
by one veth pair, as two machines on one link. Site 1's Kamailio lists its own instance and,
as overflow, site 2's Kamailio: a call entering at site 1 while no instance of site 1 is up
is answered by site 2's instance. Needs root (ip netns); the namespaces and every process in
them are removed afterwards, whatever happens. No traffic leaves the namespaces.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
import yaml
from test_cluster import NO_OVERLOAD_CONTROL, SCENARIO, calls_in, wait_for

from ivr.adapters.cluster.kamailio import Instance, ProxySettings, write_config
from ivr.adapters.cluster.local import find_kamailio
from ivr.adapters.errors import AdapterError
from ivr.adapters.postgres.server import PostgresServer, find_bin_dir

ROOT = Path(__file__).parents[2]
IVR = Path(sys.executable).with_name("ivr")
PROXY, INSTANCE, HTTP, RTP = 5060, 5061, 8080, 30000  # the namespaces are ours alone: fixed ports


@dataclass(frozen=True)
class Site:
    namespace: str
    address: str
    folder: Path

    def run(self, *command: str, log: Path) -> subprocess.Popen[bytes]:
        with log.open("ab") as out:
            inside = ("ip", "netns", "exec", self.namespace, *command)
            return subprocess.Popen(inside, stdout=out, stderr=subprocess.STDOUT, cwd=self.folder)

    def check(self, *command: str) -> subprocess.CompletedProcess[str]:
        inside = ("ip", "netns", "exec", self.namespace, *command)
        return subprocess.run(inside, capture_output=True, text=True, check=False, timeout=30)

    def healthy(self) -> bool:
        url = f"http://{self.address}:{HTTP}/health"
        fetch = f"import urllib.request; urllib.request.urlopen({url!r}, timeout=2)"
        return self.check(sys.executable, "-c", fetch).returncode == 0

    @property
    def kamailio_log(self) -> str:
        return (self.folder / "kamailio.log").read_text(errors="replace")


@pytest.fixture
def two_sites(tmp_path: Path) -> Iterator[tuple[Site, Site]]:
    if os.geteuid() != 0 or shutil.which("ip") is None:
        pytest.skip("network namespaces need root and iproute2")
    try:
        find_kamailio()
    except AdapterError as exc:
        pytest.skip(str(exc))
    tag = os.getpid()
    sites = tuple(Site(f"ivr-s{n}-{tag}", f"10.213.0.{n}", tmp_path / f"site-{n}") for n in (1, 2))
    try:
        for site in sites:
            site.folder.mkdir()
            _ip("netns", "add", site.namespace)
            _ip("-n", site.namespace, "link", "set", "lo", "up")
        _ip("link", "add", f"ivr1-{tag}", "type", "veth", "peer", "name", f"ivr2-{tag}")
        for n, site in enumerate(sites, start=1):
            _ip("link", "set", f"ivr{n}-{tag}", "netns", site.namespace)
            _ip("-n", site.namespace, "addr", "add", f"{site.address}/24", "dev", f"ivr{n}-{tag}")
            _ip("-n", site.namespace, "link", "set", f"ivr{n}-{tag}", "up")
        yield sites[0], sites[1]
    finally:
        for site in sites:  # deleting a namespace deletes its end of the veth pair too
            subprocess.run(["ip", "netns", "del", site.namespace], capture_output=True, check=False)


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=30)


@contextmanager
def running(process: subprocess.Popen[bytes]) -> Iterator[subprocess.Popen[bytes]]:
    try:
        yield process
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def start_kamailio(site: Site, settings: ProxySettings) -> subprocess.Popen[bytes]:
    cfg = write_config(settings, site.folder)
    (site.folder / "run").mkdir()
    return site.run(
        find_kamailio(),
        "-DD",
        "-E",
        "-f",
        str(cfg),
        "-Y",
        str(site.folder / "run"),
        log=site.folder / "kamailio.log",
    )


def start_instance(site: Site, tmp_path: Path) -> subprocess.Popen[bytes]:
    command = [
        *(str(IVR), "serve", "--host", site.address, "--sip-port", str(INSTANCE)),
        *("--http-port", str(HTTP), "--rtp-port", str(RTP), "--data-dir", str(site.folder / "instance")),
        *("--flows", str(ROOT / "flows"), "--agents", "none", *NO_OVERLOAD_CONTROL),
        *("--tts-cache", str(tmp_path / "tts")),
    ]
    return site.run(*command, log=site.folder / "instance.log")


@pytest.mark.sip
@pytest.mark.slow
def test_a_call_entering_at_site_1_with_no_instance_up_there_is_answered_at_site_2(
    two_sites: tuple[Site, Site], tmp_path: Path
) -> None:
    one, two = two_sites
    here = Instance(one.address, INSTANCE)  # site 1's own instance: not running
    to_site_two = ProxySettings(one.address, PROXY, (here,), overflow=(Instance(two.address, PROXY),))
    with ExitStack() as stack:
        instance = stack.enter_context(running(start_instance(two, tmp_path)))
        stack.enter_context(
            running(
                start_kamailio(two, ProxySettings(two.address, PROXY, (Instance(two.address, INSTANCE),)))
            )
        )
        stack.enter_context(running(start_kamailio(one, to_site_two)))
        wait_for(lambda: two.healthy() or instance.poll() is not None, 180)
        assert instance.poll() is None, (two.folder / "instance.log").read_text()[-2000:]
        wait_for(lambda: f"instance {here.uri} is down" in one.kamailio_log, 20)  # probes unanswered
        sipp = one.check(
            *("sipp", "-sf", str(SCENARIO), "-i", one.address, "-p", "5070", "-mp", "6000"),
            *("-m", "3", "-r", "2", "-l", "3", "-nostdin", "-s", "95500", "-key", "caller", "13800000003"),
            *("-key", "hold", "500", "-key", "rtp_port", "6010", "-timeout", "30s", "-timeout_error"),
            f"{one.address}:{PROXY}",
        )
        counts = [
            re.findall(rf"{label}\s*\|\s*\d+\s*\|\s*(\d+)", sipp.stdout)
            for label in ("Successful call", "Failed call")
        ]
        assert [int(c[-1]) for c in counts if c] == [3, 0], sipp.stdout[-3000:]
        assert calls_in(two.folder / "instance", "13800000003") == 3  # answered at site 2
        assert f"sent to the site at sip:{two.address}:{PROXY}" in one.kamailio_log


# -- an agent of site 2 answering a call that entered at site 1 ------------------------------
PHONE, DATABASE = 5090, 5432  # site 2's agent phone; PostgreSQL at site 1
ALWAYS_OPEN = {day: [["00:00", "24:00"]] for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
DESKTOP = Path(__file__).with_name("site_desktop.py")
AGENT_PHONE = ROOT / "tests" / "e2e" / "scenarios" / "agent_phone.xml"


@contextmanager
def postgres_at(site: Site, *peers: Site) -> Iterator[Path]:
    """PostgreSQL inside `site`'s namespace on its address, open to the `peers`' addresses;
    yields the folder of its Unix socket (which the test, outside the namespaces, uses)."""
    folder = Path(tempfile.mkdtemp(prefix="ivr-sites-pg-"))  # the postgres user must enter it
    trusted = [f"{each.address}/32" for each in (site, *peers)]
    start = (
        "from pathlib import Path; from ivr.adapters.postgres.server import start_server; "
        f"start_server(Path({str(folder)!r}), port={DATABASE}, host={site.address!r}, durable=False,"
        f" trust={trusted!r})"
    )
    try:
        started = site.check(sys.executable, "-c", start)
        assert started.returncode == 0, started.stdout + started.stderr
        yield folder
    finally:
        PostgresServer(folder, site.address, DATABASE, find_bin_dir()).stop()
        shutil.rmtree(folder, ignore_errors=True)


def agents_flows(site: Site) -> tuple[Path, Path]:
    """The served flows, queueing every call for an agent at once (no keys to press in a
    namespace) with the agents open at any hour, and the demo agents with agent 8001's
    phone at site 2."""
    flows = site.folder / "flows"
    shutil.copytree(ROOT / "flows", flows)
    main = flows / "main.yaml"
    main.write_text(main.read_text().replace("\nstart: identify\n", "\nstart: general_queue\n"))
    service = yaml.safe_load((flows / "service.yaml").read_text(encoding="utf-8"))
    for calendar in service["calendars"].values():
        calendar["hours"], calendar["holidays"] = ALWAYS_OPEN, []
    service.pop("campaigns", None)
    (flows / "service.yaml").write_text(yaml.safe_dump(service, allow_unicode=True), encoding="utf-8")
    demo = yaml.safe_load((ROOT / "config" / "agents.yaml").read_text(encoding="utf-8"))
    for agent in demo["agents"]:
        agent["phone"] = f"sip:{agent['extension']}@10.213.0.2:{PHONE}"
    agents = site.folder / "agents.yaml"
    agents.write_text(
        yaml.safe_dump({"agents": demo["agents"], "desktop": demo["desktop"]}), encoding="utf-8"
    )
    return flows, agents


def start_center_instance(site: Site, tmp_path: Path, url: str) -> subprocess.Popen[bytes]:
    flows, agents = agents_flows(site)
    command = [
        *(str(IVR), "serve", "--host", site.address, "--sip-port", str(INSTANCE)),
        *("--http-port", str(HTTP), "--rtp-port", str(RTP), "--data-dir", str(site.folder / "instance")),
        *("--flows", str(flows), "--agents", str(agents), *NO_OVERLOAD_CONTROL),
        *("--tts-cache", str(tmp_path / "tts"), "--database-url", url, "--instance-id", site.namespace[:6]),
        *("--agent-ring-seconds", "10", "--drain-seconds", "2"),
    ]
    return site.run(*command, log=site.folder / "instance.log")


@pytest.mark.sip
@pytest.mark.slow
def test_an_agent_of_site_2_answers_a_call_that_entered_at_site_1(
    two_sites: tuple[Site, Site], tmp_path: Path
) -> None:
    """Both sites' instances on one PostgreSQL (at site 1, reached over the link by site 2):
    a call entering at site 1's Kamailio is taken by site 1's instance, offered through the
    shared ACD to agent 8001, whose desktop is on site 2's instance, and bridged to the
    agent's phone at site 2; the desktop holds and resumes the call, which site 1 does."""
    one, two = two_sites
    with ExitStack() as stack:
        socket_dir = stack.enter_context(postgres_at(one, two))
        url = f"postgresql://ivr@{one.address}:{DATABASE}/ivr"
        instances = [
            stack.enter_context(running(start_center_instance(s, tmp_path, url))) for s in (one, two)
        ]
        stack.enter_context(
            running(
                start_kamailio(one, ProxySettings(one.address, PROXY, (Instance(one.address, INSTANCE),)))
            )
        )
        for site, instance in zip((one, two), instances, strict=True):
            wait_for(lambda s=site, i=instance: s.healthy() or i.poll() is not None, 180)  # type: ignore[misc]
            assert instance.poll() is None, (site.folder / "instance.log").read_text()[-2000:]
        messages = two.folder / "phone-messages.log"
        phone = stack.enter_context(
            running(
                two.run(
                    *("sipp", "-sf", str(AGENT_PHONE), "-i", two.address, "-p", str(PHONE), "-mp", "6100"),
                    *(
                        "-m",
                        "1",
                        "-nostdin",
                        "-timeout",
                        "120s",
                        "-timeout_error",
                        "-key",
                        "rtp_port",
                        "6110",
                    ),
                    *("-trace_msg", "-message_file", str(messages)),
                    log=two.folder / "phone.log",
                )
            )
        )
        seen = two.folder / "desktop.jsonl"
        desktop = stack.enter_context(
            running(
                two.run(
                    sys.executable,
                    str(DESKTOP),
                    f"http://{two.address}:{HTTP}",
                    str(seen),
                    log=two.folder / "desktop.log",
                )
            )
        )
        wait_for(lambda: '"state": "ready"' in _text(seen) or desktop.poll() is not None, 30)
        wait_for(lambda: _agent_rows(socket_dir) == [("8001", "ready")], 30)  # the mirror's copy
        sipp = one.check(
            *("sipp", "-sf", str(SCENARIO), "-i", one.address, "-p", "5070", "-mp", "6000"),
            *("-m", "1", "-nostdin", "-s", "95500", "-key", "caller", "13800000009"),
            *("-key", "hold", "8000", "-key", "rtp_port", "6010", "-timeout", "60s", "-timeout_error"),
            f"{one.address}:{PROXY}",
        )
        assert desktop.wait(30) == 0, (two.folder / "desktop.log").read_text()[-2000:]
        assert phone.wait(30) == 0, (two.folder / "phone.log").read_text()[-2000:]
        events = [json.loads(line) for line in _text(seen).splitlines()]
        [offered] = [e for e in events if e.get("event") == "offered"]
        call_id = offered["call_id"]
        with psycopg.connect(host=str(socket_dir), port=DATABASE, user="ivr", dbname="ivr") as conn:
            calls = conn.execute("SELECT instance FROM calls WHERE call_id = %s", (call_id,)).fetchall()
            lines = conn.execute("SELECT kind FROM events WHERE call_id = %s ORDER BY seq", (call_id,))
            kinds = [str(kind) for (kind,) in lines.fetchall()]
            commands = conn.execute("SELECT command, owner, sender, state FROM acd_commands ORDER BY id")
            carried = commands.fetchall()
    assert "Successful call" in sipp.stdout and sipp.returncode == 0, sipp.stdout[-3000:]
    assert offered["screen"]["caller"] == "13800000009"
    assert [e["call_id"] for e in events if e.get("event") in ("connected", "ended")] == [call_id, call_id]
    holds = [e for e in events if "reply" in e and e["reply"] in (3, 4)]
    assert [(e["ok"], e.get("held")) for e in holds] == [(True, True), (True, False)], holds
    # site 1's instance took the call and rang the phone at site 2; the record is shared
    assert calls == [(one.namespace[:6],)]
    assert f"Via: SIP/2.0/UDP {one.address}:{INSTANCE}" in messages.read_text(errors="replace")
    assert "agent_connected" in kinds and kinds.count("agent_hold") == 2
    assert carried == [("hold", one.namespace[:6], two.namespace[:6], "done")] * 2


def _text(path: Path) -> str:
    return path.read_text(encoding="utf-8") if path.exists() else ""


def _agent_rows(socket_dir: Path) -> list[tuple[str, str]]:
    with psycopg.connect(host=str(socket_dir), port=DATABASE, user="ivr", dbname="ivr") as conn:
        try:
            rows = conn.execute("SELECT agent_id, state FROM acd_agents").fetchall()
        except psycopg.errors.UndefinedTable:
            return []
    return [(str(a), str(s)) for a, s in rows]

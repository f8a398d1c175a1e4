"""Two sites, each with its Kamailio and `ivr serve`, in network namespaces (docs/cluster.md).

Site 1 (namespace `ivr-s1-PID`, 10.213.0.1) and site 2 (`ivr-s2-PID`, 10.213.0.2) are joined
by one veth pair, as two machines on one link. Site 1's Kamailio lists its own instance and,
as overflow, site 2's Kamailio: a call entering at site 1 while no instance of site 1 is up
is answered by site 2's instance. Needs root (ip netns); the namespaces and every process in
them are removed afterwards, whatever happens. No traffic leaves the namespaces.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from test_cluster import SCENARIO, calls_in, wait_for

from ivr.adapters.cluster.kamailio import Instance, ProxySettings, write_config
from ivr.adapters.cluster.local import find_kamailio
from ivr.adapters.errors import AdapterError

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
        *("--flows", str(ROOT / "flows"), "--agents", "none", "--max-loop-lag", "0", "--max-sip-lag", "0"),
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

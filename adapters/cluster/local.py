"""A local cluster on one machine: Kamailio and N `ivr serve` instances, started and stopped
together (`ivr cluster up`).

Place: the cluster adapter, beside `kamailio` (the configuration it writes). Each instance
gets its own SIP, HTTP and RTP ports and its own data directory under the cluster's
(`instance-1/`, ...); Kamailio listens on the cluster's SIP port and balances over them.
A stop (SIGINT/SIGTERM) drains the instances (each finishes its calls, up to its
`--drain-seconds`) and then stops Kamailio. An instance that dies is reported, left out
by Kamailio's probes while it is down (the others go on, as on separate machines) and
started again, after 1 s and then after longer pauses if it keeps dying (at most 30 s).
The calls it was holding are closed as `interrupted` in its record store at once, by the
cluster (`recovery`), not only at its restart.

The instances share one PostgreSQL (call records, campaigns, the ACD's queues and agents:
docs/cluster.md): the plan's `database_url`, else a local server that `start` launches in
`postgres_folder` (`ivr.adapters.postgres.server`) and `stop` stops last. Each instance is
named `instance-n` on it.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from ivr.adapters.cluster.kamailio import Instance, ProxySettings, write_config
from ivr.adapters.cluster.recovery import close_cut_calls
from ivr.adapters.errors import AdapterError, ConfigError
from ivr.adapters.postgres.server import PostgresServer, start_server

RTP_PORTS_PER_INSTANCE = 2100  # 1,024 calls of a hosting build, two ports each, and spare


@dataclass(frozen=True)
class ClusterPlan:
    """What `ivr cluster up` starts."""

    data_dir: Path
    instances: int = 2
    host: str = "127.0.0.1"
    sip_port: int = 5060  # Kamailio's; instance n listens on sip_port + n
    http_port: int = 8080  # instance n's HTTP is http_port + n - 1
    rtp_port: int = 20000  # instance n's RTP starts at rtp_port + (n - 1) * 2100
    serve_args: tuple[str, ...] = ()  # passed to every `ivr serve` (--flows, --hosting, ...)
    kamailio: str = "kamailio"
    database_url: str = field(default="", repr=False)  # "": a local server on postgres_port
    postgres_port: int = 5433
    shared_database: bool = True  # False: each instance keeps its own SQLite files

    def check(self) -> ClusterPlan:
        if not 1 <= self.instances <= 16:
            raise ConfigError(f"--instances {self.instances}: from 1 to 16 on one machine")
        if self.rtp_port % 2 or not 1024 <= self.rtp_port <= 65534 - self.instances * RTP_PORTS_PER_INSTANCE:
            raise ConfigError(f"--rtp-port {self.rtp_port}: an even port that leaves room for every instance")
        for flag in (
            "--sip-port",
            "--http-port",
            "--rtp-port",
            "--data-dir",
            "--database-url",
            "--instance-id",
        ):
            if any(a == flag or a.startswith(flag + "=") for a in self.serve_args):
                raise ConfigError(f"{flag} is set per instance by ivr cluster; use its own option")
        self.proxy().check()
        return self

    def instance_sip_port(self, n: int) -> int:
        return self.sip_port + n

    def instance_http_port(self, n: int) -> int:
        return self.http_port + n - 1

    def proxy(self) -> ProxySettings:
        nodes = tuple(Instance(self.host, self.instance_sip_port(n)) for n in self.numbers)
        return ProxySettings(self.host, self.sip_port, nodes)

    @property
    def numbers(self) -> range:
        return range(1, self.instances + 1)

    def serve_command(self, ivr: str, n: int) -> list[str]:
        return [
            *(ivr, "serve", "--host", self.host, "--sip-port", str(self.instance_sip_port(n))),
            *("--http-port", str(self.instance_http_port(n))),
            *("--rtp-port", str(self.rtp_port + (n - 1) * RTP_PORTS_PER_INSTANCE)),
            *("--data-dir", str(self.data_dir / f"instance-{n}"), *self.serve_args),
            *self._database_args(n),
        ]

    def _database_args(self, n: int) -> tuple[str, ...]:
        if not (self.shared_database and self.database_url):
            return ()
        return ("--database-url", self.database_url, "--instance-id", f"instance-{n}")

    def postgres_folder(self) -> Path:
        """Where the local PostgreSQL keeps its data: `DATA/postgres`, unless we are root and
        the `postgres` user (the server's) cannot enter it, as under /root: then
        `/var/tmp/ivr-cluster-<port>/postgres`."""
        folder = (self.data_dir / "postgres").resolve()
        if os.geteuid() != 0 or _enterable_by_postgres(folder.parent):
            return folder
        return Path(f"/var/tmp/ivr-cluster-{self.postgres_port}") / "postgres"

    def kamailio_command(self, cfg: Path) -> list[str]:
        runtime = self.data_dir / "kamailio" / "run"
        return [self.kamailio, "-DD", "-E", "-f", str(cfg), "-Y", str(runtime)]


RESTART_FIRST = 1.0  # seconds before a dead instance is started again
RESTART_LONGEST = 30.0
STABLE_AFTER = 60.0  # an instance up this long that dies is restarted after RESTART_FIRST again


@dataclass
class Running:
    name: str
    process: subprocess.Popen[bytes]
    log: Path
    command: tuple[str, ...] = ()
    folder: Path = Path(".")
    started: float = field(default_factory=time.monotonic)
    quick_deaths: int = 0  # deaths in a row, each within STABLE_AFTER of its start
    restart_at: float | None = None  # when it is dead and waits to be started again

    def respawn(self) -> None:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                self.command, stdout=out, stderr=subprocess.STDOUT, cwd=self.folder
            )
        self.started, self.restart_at = time.monotonic(), None

    def schedule_restart(self, now: float) -> float:
        """Pick when to start it again; the pause in seconds."""
        self.quick_deaths = self.quick_deaths + 1 if now - self.started < STABLE_AFTER else 1
        pause: float = min(RESTART_LONGEST, RESTART_FIRST * 2.0 ** (self.quick_deaths - 1))
        self.restart_at = now + pause
        return pause


@dataclass
class LocalCluster:
    """The processes of a plan; `start`, then `watch` until a signal, then `stop`."""

    plan: ClusterPlan
    say: Callable[[str], None] = print
    processes: list[Running] = field(default_factory=list)
    postgres: PostgresServer | None = None  # the local server `start` launched, if any

    def start(self, health_timeout: float = 180.0) -> None:
        plan = self.plan.check()
        kamailio = find_kamailio(plan.kamailio)
        if plan.shared_database and not plan.database_url:
            self.postgres = start_server(plan.postgres_folder(), port=plan.postgres_port, host=plan.host)
            plan = self.plan = replace(plan, database_url=self.postgres.url)
        ivr = str(Path(sys.executable).with_name("ivr"))
        for n in plan.numbers:
            self._spawn(f"instance-{n}", plan.serve_command(ivr, n), plan.data_dir / f"instance-{n}")
        cfg = write_config(plan.proxy(), plan.data_dir / "kamailio")
        (plan.data_dir / "kamailio" / "run").mkdir(exist_ok=True)
        self._spawn("kamailio", [kamailio, *plan.kamailio_command(cfg)[1:]], plan.data_dir / "kamailio")
        for n in plan.numbers:
            self._wait_healthy(n, health_timeout)

    def _spawn(self, name: str, command: Sequence[str], folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        log = folder / f"{name}.log"
        with log.open("ab") as out:
            process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, cwd=folder)
        self.processes.append(Running(name, process, log, tuple(command), folder))

    def _wait_healthy(self, n: int, timeout: float) -> None:
        url = f"http://{self.plan.host}:{self.plan.instance_http_port(n)}/health"
        running = self.processes[n - 1]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if running.process.poll() is not None:
                tail = running.log.read_text(errors="replace")[-2000:]
                raise AdapterError(f"{running.name} exited {running.process.returncode}:\n{tail}")
            kamailio = self.processes[-1]
            if kamailio.process.poll() is not None:
                tail = kamailio.log.read_text(errors="replace")[-2000:]
                raise AdapterError(f"kamailio exited {kamailio.process.returncode}:\n{tail}")
            if _healthy(url):
                return
            time.sleep(0.2)
        raise AdapterError(f"{running.name} was not healthy in {timeout:.0f} s (see {running.log})")

    def watch(self, stop_requested: Callable[[], bool]) -> int:
        """Until `stop_requested()`: report instances that die and start them again;
        1 if Kamailio itself dies."""
        while not stop_requested():
            now = time.monotonic()
            for running in self.processes:
                if running.restart_at is not None:
                    if now >= running.restart_at:
                        running.respawn()
                        self.say(f"{running.name} started again: pid {running.process.pid}")
                    continue
                code = running.process.poll()
                if code is None:
                    continue
                if running.name == "kamailio":
                    self.say(f"kamailio exited {code} (log: {running.log}): stopping the cluster")
                    return 1
                pause = running.schedule_restart(now)
                again = f"starting it again in {pause:.0f} s"
                self.say(f"{running.name} exited {code} (log: {running.log}); {again}")
                self._close_cut_calls(running)
            time.sleep(0.3)
        return 0

    def _close_cut_calls(self, running: Running) -> None:
        """As a peer noticing the death: close its open calls now, not at its restart."""
        try:
            shared = self.plan.database_url if self.plan.shared_database else ""
            cut = close_cut_calls(running.folder, database_url=shared, instance=running.name)
        except Exception as exc:  # its restart recovers them anyway
            self.say(f"{running.name}: could not close the calls it was holding ({exc})")
            return
        if cut:
            self.say(f"{running.name}: closed {len(cut)} call(s) it was holding as interrupted")

    def pids(self) -> dict[str, int]:
        return {running.name: running.process.pid for running in self.processes}

    def stop(self, drain_timeout: float = 60.0) -> None:
        """SIGTERM the instances (they drain), then Kamailio; kill what outlives the timeout."""
        instances = [r for r in self.processes if r.name != "kamailio"]
        proxies = [r for r in self.processes if r.name == "kamailio"]
        for group in (instances, proxies):
            for running in group:
                if running.process.poll() is None:
                    running.process.send_signal(signal.SIGTERM)
            for running in group:
                try:
                    running.process.wait(drain_timeout)
                except subprocess.TimeoutExpired:
                    running.process.kill()
                    running.process.wait()
        if self.postgres is not None:  # last: the instances wrote to it until they stopped
            self.postgres.stop()


def find_kamailio(name: str = "kamailio") -> str:
    """The Kamailio binary (Debian puts it in /usr/sbin, often not on a user's PATH)."""
    found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/local/sbin")
    if found is None:
        raise AdapterError(f"{name} is not installed (apt-get install kamailio)")
    return found


def _enterable_by_postgres(folder: Path) -> bool:
    """Whether the `postgres` user can reach `folder` (its parents may be closed to it)."""
    while not folder.exists():
        folder = folder.parent
    probe = ["runuser", "-u", "postgres", "--", "test", "-x", str(folder)]
    return subprocess.run(probe, capture_output=True, check=False).returncode == 0


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as reply:
            return bool(reply.status == 200)
    except (urllib.error.URLError, OSError):
        return False

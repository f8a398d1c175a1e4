"""`HostingConfig`: everything a hosted runtime needs to know, with embedded defaults.

Place: read once by `ivr serve` before anything starts. Precedence: command-line flags,
then environment variables (`IVR_<SETTING>`: `IVR_HOST`, `IVR_SIP_PORT`, `IVR_SIP_TCP`,
`IVR_HTTP_PORT`, `IVR_CAPACITY`, `IVR_DATA_DIR`, `IVR_FLOWS`, `IVR_HOSTING_FILE`,
`IVR_DRAIN_SECONDS`, `IVR_TTS_CACHE`, `IVR_RECORD_CALLS`, `IVR_RING_SECONDS`, `IVR_AGENTS_FILE`,
`IVR_HOLD_MUSIC`, `IVR_ANNOUNCE_EVERY`, `IVR_QUEUE_MAX_WAIT`, `IVR_WRAP_UP`,
`IVR_AGENT_RING_SECONDS`, `IVR_PUBLIC_ADDRESS`, `IVR_MAX_LOOP_LAG`, `IVR_MAX_SIP_LAG`,
`IVR_RETRY_AFTER`, `IVR_EDITOR_ACCOUNTS`, `IVR_DATABASE_URL`, `IVR_INSTANCE_ID`), then the
defaults below (a hosting file's `database: url` comes after the environment). Paths of the
databases and caches derive from the data directory unless set. The agents file defaults to
`config/agents.yaml` (relative to the working directory) when that file exists (`none`
turns it off); without an agents file there is no ACD and no agent desktop (`enqueue`
answers "no_agents").
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

from ivr.adapters.errors import ConfigError
from ivr.adapters.postgres.database import check_url as check_database_url

ENV_PREFIX = "IVR_"
DEFAULT_AGENTS_FILE = Path("config/agents.yaml")
NO_AGENTS = ("none", "off")  # `--agents none`: no ACD even when the default file exists


@dataclass(frozen=True)
class HostingConfig:
    """The hosted service's settings. `capacity=0` means "as many as the pjsua2 build holds"."""

    host: str = "127.0.0.1"
    public_address: str = ""  # announced in SDP and Contact; "" = `host`
    sip_port: int = 5060
    sip_tcp: bool = True
    rtp_port: int = 4000
    http_port: int = 8080
    capacity: int = 0
    data_dir: Path = Path("var")
    flows: Path = Path("flows")
    hosting_file: Path | None = None  # tenants (docs/tenants.md); None: `flows` is the one tenant
    drain_seconds: float = 30.0
    ring_seconds: float = 0.0
    record_calls: bool = False
    tts_cache: Path | None = None
    log_level: str = "INFO"
    recent_calls: int = 200
    # agents and queues (the ACD and the agent desktop)
    agents_file: Path | None = None
    hold_music: Path | None = None  # None: a tune generated into the data directory
    announce_every: float = 30.0  # 0: no position announcements
    queue_max_wait: float = 0.0  # when the enqueue node gives none; 0: unlimited
    wrap_up: float = 15.0
    agent_ring_seconds: float = 15.0
    # the flow editor at /editor/ for the tenants of a hosting file (docs/editor.md)
    editor_accounts: Path | None = None
    # overload control (ivr.adapters.hosting.overload); a lag of 0 turns that measure off
    max_loop_lag: float = 0.1  # seconds the event loop may run late before calls are refused
    max_sip_lag: float = 0.1  # seconds a command may wait for the pjsua2 thread
    max_setup_wait: float = 0.25  # seconds a new call may wait for the server to take it up
    max_sip_backlog_kib: int = 512  # KiB of SIP that may wait in the kernel for the pjsua2 thread
    overload_control: bool = True  # False: every limit above off (measured, never refusing)
    overload_persist: float = 0.25  # seconds a lag must last past its limit before refusing
    retry_after: int = 10  # seconds, in the Retry-After of every 503
    # the shared store (docs/cluster.md): "" keeps everything in SQLite files under data_dir;
    # kept out of repr (a URL may carry a password when given by flag or environment)
    database_url: str = field(default="", repr=False)
    instance_id: str = ""  # stamped on this instance's calls; "" = `instance` below
    env: Mapping[str, str] = field(default_factory=dict, repr=False, compare=False)

    # -- derived paths -----------------------------------------------------------------
    @property
    def records_db(self) -> Path:
        return self.data_dir / "calls.sqlite3"

    @property
    def outbox_db(self) -> Path:
        return self.data_dir / "outbox.sqlite3"

    @property
    def recordings_dir(self) -> Path:
        return self.data_dir / "recordings"

    @property
    def prompt_cache(self) -> Path:
        return self.tts_cache or self.data_dir / "tts"

    @property
    def agent_recordings_dir(self) -> Path:
        return self.recordings_dir / "agents"

    @property
    def generated_hold_music(self) -> Path:
        return self.data_dir / "hold-music.wav"

    @property
    def instance(self) -> str:
        """This instance's name on a shared database: `instance_id`, else host name:SIP port
        (host name:data directory when the port is picked at start, so it stays the same
        across restarts)."""
        if self.instance_id:
            return self.instance_id
        where = str(self.sip_port) if self.sip_port else str(self.data_dir.resolve())
        return f"{socket.gethostname()}:{where}"

    def sip_uri(self, number: str) -> str:
        return f"sip:{number}@{self.host}:{self.sip_port}"

    def http_url(self, path: str = "/") -> str:
        return f"http://{self.host}:{self.http_port}{path}"

    def check(self) -> HostingConfig:
        """Raise `ConfigError` for values no server can run with; return self."""
        for name in ("sip_port", "http_port"):
            port = getattr(self, name)
            if not 0 <= port <= 65535:
                raise ConfigError(f"{name} {port} is not a port (0-65535)")
        if not 1024 <= self.rtp_port <= 65534:
            raise ConfigError(f"rtp_port {self.rtp_port} is not a port for RTP (1024-65534)")
        if self.capacity < 0:
            raise ConfigError(f"capacity {self.capacity} is negative (0 means: the build's limit)")
        if self.drain_seconds < 0 or self.ring_seconds < 0:
            raise ConfigError("drain_seconds and ring_seconds must not be negative")
        for name in ("announce_every", "queue_max_wait", "wrap_up"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{name} {getattr(self, name)} is negative (0 turns it off)")
        for name in (
            "max_loop_lag",
            "max_sip_lag",
            "max_setup_wait",
            "max_sip_backlog_kib",
            "overload_persist",
        ):
            if getattr(self, name) < 0:
                raise ConfigError(f"{name} {getattr(self, name)} is negative (0 turns it off)")
        if self.retry_after < 1:
            raise ConfigError(f"retry_after {self.retry_after} must be at least 1 second")
        if self.agent_ring_seconds <= 0:
            raise ConfigError(f"agent_ring_seconds {self.agent_ring_seconds} must be positive")
        if self.database_url:
            check_database_url(self.database_url)
        return self


_CONVERT = {"int": int, "float": float, "Path": Path, "Path | None": Path, "str": str}


def from_environment(env: Mapping[str, str] | None = None, **overrides: object) -> HostingConfig:
    """Defaults, then `IVR_<SETTING>` variables, then `overrides` (flags; None = not given)."""
    env = dict(os.environ if env is None else env)
    values: dict[str, object] = {}
    for f in fields(HostingConfig):
        if f.name == "env":
            continue
        raw = env.get(ENV_PREFIX + f.name.upper())
        if raw is not None and raw != "":
            values[f.name] = _parse(f.name, str(f.type), raw)
    values.update({k: v for k, v in overrides.items() if v is not None})
    agents = values.get("agents_file")
    if agents is None and DEFAULT_AGENTS_FILE.is_file():
        values["agents_file"] = DEFAULT_AGENTS_FILE
    elif agents is not None and str(agents).lower() in NO_AGENTS:
        values["agents_file"] = None
    return replace(HostingConfig(env=env), **values).check()  # type: ignore[arg-type]


def _parse(name: str, kind: str, raw: str) -> object:
    if kind == "bool":
        return raw.strip().lower() in ("1", "true", "yes", "on")
    try:
        return _CONVERT[kind](raw)
    except (KeyError, ValueError) as exc:
        raise ConfigError(f"{ENV_PREFIX}{name.upper()}={raw!r} is not a valid {kind}") from exc

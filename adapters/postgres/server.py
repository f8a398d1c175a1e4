"""A local PostgreSQL server in a folder of its own: what `ivr cluster up` and the tests start.

Place: the outer ring, beside the PostgreSQL stores; nothing in the engine knows of it. The
Debian `postgresql` package provides the binaries (`/usr/lib/postgresql/<major>/bin`, or the
`IVR_POSTGRES_BIN` folder). PostgreSQL refuses to run as root, so when we are root the server
runs as the `postgres` user and the folder is handed to it. It listens on 127.0.0.1 (or the
host given) and on a Unix socket inside its folder, trusts local connections, and holds one
database (`ivr`, owned by the user `ivr`):

    server = start_server(Path("data/postgres"), port=5433)
    ...  # connect to server.url
    server.stop()

`durable=False` turns fsync off: for throwaway test servers only.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ivr.adapters.errors import AdapterError, ConfigError

DATABASE = "ivr"
USER = "ivr"
_RUN_AS = "postgres"


class PostgresStartFailed(AdapterError):
    """The local PostgreSQL server could not be created or started; the message carries the
    tail of its log. Check the folder's permissions, the port, and `IVR_POSTGRES_BIN`."""


@dataclass(frozen=True)
class PostgresServer:
    """A running local server: its folder, address and the URL the stores connect with."""

    folder: Path
    host: str
    port: int
    bin_dir: Path

    @property
    def url(self) -> str:
        return f"postgresql://{USER}@{self.host}:{self.port}/{DATABASE}"

    def stop(self) -> None:
        """Stop the server (fast shutdown: open sessions are ended, committed data stays)."""
        _run(self.bin_dir, ["pg_ctl", "-D", str(self.data_dir), "-m", "fast", "-w", "stop"], check=False)

    @property
    def data_dir(self) -> Path:
        return self.folder / "data"


def find_bin_dir() -> Path:
    """The folder of `initdb`/`pg_ctl`: `IVR_POSTGRES_BIN`, else the newest Debian install,
    else whatever `initdb` is on PATH."""
    configured = os.environ.get("IVR_POSTGRES_BIN")
    if configured:
        if not (Path(configured) / "initdb").exists():
            raise ConfigError(
                f"IVR_POSTGRES_BIN={configured}: no initdb there (point it at PostgreSQL's bin folder)"
            )
        return Path(configured)
    installs = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: _major(p.parent.parent.name)
    )
    if installs:
        return installs[-1].parent
    initdb = shutil.which("initdb")
    if initdb:
        return Path(initdb).resolve().parent
    raise ConfigError(
        "PostgreSQL is not installed: no initdb under /usr/lib/postgresql/*/bin or on PATH "
        "(install the Debian package `postgresql`, or set IVR_POSTGRES_BIN)"
    )


def start_server(
    folder: Path, *, port: int, host: str = "127.0.0.1", durable: bool = True, trust: Sequence[str] = ()
) -> PostgresServer:
    """Create the cluster in `folder` if it has none, start it, and make sure the `ivr`
    database exists. Idempotent across restarts: an existing folder keeps its data.
    `trust`: networks (CIDR, `10.213.0.0/24`) whose clients may connect without a password
    besides the loopback ones, for a `host` other than 127.0.0.1 (network namespaces in the
    tests; a real site's server wants passwords and TLS instead)."""
    bin_dir = find_bin_dir()
    server = PostgresServer(folder=folder.resolve(), host=host, port=port, bin_dir=bin_dir)
    folder.mkdir(parents=True, exist_ok=True)
    _hand_over(server.folder)
    if not (server.data_dir / "PG_VERSION").exists():
        initdb = ["initdb", "-D", str(server.data_dir), "-U", USER, "--auth=trust", "-E", "UTF8"]
        _run(bin_dir, [*initdb, "--no-instructions"])
    _trust(server, trust)
    options = f"-p {port} -c listen_addresses={host} -k {server.folder}"
    if not durable:
        options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
    log = server.folder / "server.log"
    _run(
        bin_dir,
        ["pg_ctl", "-D", str(server.data_dir), "-l", str(log), "-o", options, "-w", "-t", "60", "start"],
        log=log,
    )
    _ensure_database(server)
    return server


def _trust(server: PostgresServer, networks: Sequence[str]) -> None:
    """Let clients of `networks` in without a password (lines added once to pg_hba.conf)."""
    hba = server.data_dir / "pg_hba.conf"
    lines = hba.read_text().splitlines()
    wanted = [f"host all all {network} trust" for network in networks]
    missing = [line for line in wanted if line not in lines]
    if missing:
        hba.write_text("\n".join([*lines, *missing]) + "\n")


def _ensure_database(server: PostgresServer) -> None:
    found = _psql(server, f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE}'")
    if found.returncode != 0:
        raise PostgresStartFailed(f"cannot reach the started server: {found.stderr.strip()}")
    if found.stdout.strip() != "1":
        create_database(server, DATABASE)


def create_database(server: PostgresServer, name: str) -> str:
    """Create an empty database `name` (letters, digits, `_`) on the server; its URL."""
    if not name.replace("_", "").isalnum() or not name.isascii():
        raise ConfigError(f"database name {name!r}: use letters, digits and _ only")
    done = _psql(server, f"CREATE DATABASE {name}")
    if done.returncode != 0:
        raise PostgresStartFailed(f"CREATE DATABASE {name} failed: {done.stderr.strip()}")
    return f"postgresql://{USER}@{server.host}:{server.port}/{name}"


def _psql(server: PostgresServer, sql: str) -> subprocess.CompletedProcess[str]:
    address = ["-h", server.host, "-p", str(server.port), "-U", USER, "-d", "postgres"]
    command = [str(server.bin_dir / "psql"), *address, "-tAc", sql]
    return subprocess.run(command, capture_output=True, text=True, check=False)


def _hand_over(folder: Path) -> None:
    if os.geteuid() != 0:
        return
    reachable = subprocess.run(
        ["runuser", "-u", _RUN_AS, "--", "test", "-x", str(folder.parent)], check=False
    )
    if reachable.returncode != 0:
        raise ConfigError(
            f"{folder}: the `{_RUN_AS}` user cannot reach this folder (PostgreSQL does not run as "
            "root); put the data folder where every user may enter, e.g. under /var/lib or /tmp"
        )
    shutil.chown(folder, user=_RUN_AS, group=_RUN_AS)
    for path in folder.rglob("*"):
        if path.owner() == "root":
            shutil.chown(path, user=_RUN_AS, group=_RUN_AS)


def _run(bin_dir: Path, argv: list[str], *, check: bool = True, log: Path | None = None) -> None:
    command = [str(bin_dir / argv[0]), *argv[1:]]
    if os.geteuid() == 0:
        command = ["runuser", "-u", _RUN_AS, "--", *command]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if check and done.returncode != 0:
        tail = log.read_text(errors="replace")[-2000:] if log and log.exists() else ""
        raise PostgresStartFailed(f"{argv[0]} failed: {done.stderr.strip() or done.stdout.strip()}\n{tail}")


def _major(name: str) -> int:
    return int(name) if name.isdigit() else 0

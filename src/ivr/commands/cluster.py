"""`ivr cluster ...`: several `ivr serve` instances behind Kamailio as one service number.

    ivr cluster up [--instances 2] [--sip-port 5060] [--http-port 8080] [--data-dir var/cluster]
                   [--database-url URL | --postgres-port 5433 | --no-database]
                   [--flows DIR | --hosting FILE] [-- more ivr serve options]
    ivr cluster kamailio-config --listen IP:PORT --instance IP:PORT [--instance ...] [--folder DIR]
                                [--overflow IP:PORT ...]   (other sites' Kamailios)

`up` starts PostgreSQL (unless given `--database-url`), N instances on it and Kamailio on
this machine and runs until Ctrl-C (or SIGTERM), then drains the instances and stops
Kamailio, then PostgreSQL. `kamailio-config` writes the configuration
for instances on other machines (docs/cluster.md). Exit codes: 0 done, 1 a process failed,
2 usage.
"""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path
from types import FrameType

from ivr.adapters.cluster.kamailio import Instance, ProxySettings, write_config
from ivr.adapters.cluster.local import ClusterPlan, LocalCluster
from ivr.adapters.errors import AdapterError, ConfigError


def configure(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    up = sub.add_parser("up", help="start Kamailio and N ivr serve instances on this machine")
    up.add_argument("--instances", type=int, default=2, help="ivr serve instances (2)")
    up.add_argument("--host", default="127.0.0.1", help="address of everything (127.0.0.1)")
    up.add_argument("--sip-port", type=int, default=5060, help="Kamailio's SIP port; instance n: +n")
    up.add_argument("--http-port", type=int, default=8080, help="instance 1's HTTP port; instance n: +n-1")
    up.add_argument("--rtp-port", type=int, default=20000, help="first RTP port (2,100 per instance)")
    up.add_argument("--data-dir", type=Path, default=Path("var/cluster"), help="instance-N/ and kamailio/")
    up.add_argument("--flows", help="passed to every ivr serve")
    up.add_argument("--hosting", help="passed to every ivr serve")
    up.add_argument(
        "--database-url", default="", help="the instances' shared PostgreSQL (default: start one locally)"
    )
    up.add_argument("--postgres-port", type=int, default=5433, help="the local PostgreSQL's port (5433)")
    up.add_argument(
        "--no-database",
        action="store_true",
        help="no shared database: each instance keeps its own SQLite files (no shared agents)",
    )
    up.add_argument("serve_args", nargs="*", metavar="-- SERVE-OPTION", help="more ivr serve options")
    config = sub.add_parser("kamailio-config", help="write kamailio.cfg for instances on other machines")
    config.add_argument("--listen", required=True, metavar="IP:PORT", help="where Kamailio listens")
    config.add_argument("--instance", action="append", required=True, metavar="IP:PORT", help="an ivr serve")
    config.add_argument("--folder", type=Path, default=Path("."), help="where to write (.)")
    config.add_argument(
        "--overflow", action="append", default=[], metavar="IP:PORT",
        help="another site's Kamailio, for calls when no instance here is up (docs/cluster.md)",
    )  # fmt: skip


def run(args: argparse.Namespace) -> int:
    try:
        if args.action == "kamailio-config":
            return _write(args)
        return _up(args)
    except (ConfigError, AdapterError) as exc:
        print(f"ivr cluster: {exc}", file=sys.stderr)
        return 2 if isinstance(exc, ConfigError) else 1


def _address(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit():
        raise ConfigError(f"{text!r}: write IP:PORT, for example 10.0.0.5:5060")
    return host, int(port)


def _write(args: argparse.Namespace) -> int:
    host, port = _address(args.listen)
    nodes = tuple(Instance(*_address(text)) for text in args.instance)
    sites = tuple(Instance(*_address(text)) for text in args.overflow)
    cfg = write_config(ProxySettings(host, port, nodes, overflow=sites).check(), args.folder)
    print(f"wrote {cfg} and {cfg.with_name('dispatcher.list')}: kamailio -DD -E -f {cfg}")
    return 0


def _up(args: argparse.Namespace) -> int:
    passed = [a for a in args.serve_args if a != "--"]
    for flag in ("flows", "hosting"):
        if getattr(args, flag):
            passed += [
                f"--{flag}",
                str(Path(getattr(args, flag)).resolve()),
            ]  # instances run in their folders
    plan = ClusterPlan(
        data_dir=args.data_dir,
        instances=args.instances,
        host=args.host,
        sip_port=args.sip_port,
        http_port=args.http_port,
        rtp_port=args.rtp_port,
        serve_args=tuple(passed),
        database_url=args.database_url,
        postgres_port=args.postgres_port,
        shared_database=not args.no_database,
    )
    stopping: list[int] = []

    def ask_to_stop(signum: int, frame: FrameType | None) -> None:
        stopping.append(signum)

    cluster = LocalCluster(plan, say=lambda text: print(f"ivr cluster: {text}", flush=True))
    previous = {s: signal.signal(s, ask_to_stop) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        cluster.start()
        _announce(cluster.plan, cluster.pids())
        _announce_database(cluster)
        return cluster.watch(lambda: bool(stopping))
    finally:
        print("ivr cluster: stopping (instances drain their calls first)", flush=True)
        cluster.stop()
        for number, handler in previous.items():
            signal.signal(number, handler)


def _announce(plan: ClusterPlan, pids: dict[str, int]) -> None:
    print(f"ivr cluster: Kamailio on sip:{plan.host}:{plan.sip_port} balancing {plan.instances} instances:")
    print(f"  kamailio: pid {pids['kamailio']}, {plan.data_dir}/kamailio/kamailio.cfg")
    for n in plan.numbers:
        sip, http = plan.instance_sip_port(n), plan.instance_http_port(n)
        place = f"sip {plan.host}:{sip}, http://{plan.host}:{http}/health, {plan.data_dir}/instance-{n}"
        print(f"  instance-{n}: pid {pids[f'instance-{n}']}, {place}")


def _announce_database(cluster: LocalCluster) -> None:
    server = cluster.postgres
    if not cluster.plan.shared_database:
        print("  database: none shared (--no-database): each instance has its own SQLite files")
    elif server is None:
        print("  database: the one given (--database-url); instances named instance-1, ...")
    else:
        print(f"  postgresql: {server.url}, data in {server.folder} (stopped last)")
    print("ivr cluster: Ctrl-C stops it", flush=True)

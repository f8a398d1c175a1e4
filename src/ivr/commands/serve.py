"""`ivr serve`: run the flows as a telephony service (SIP in, HTTP for operators).

The command-line front of the hosted runtime: it reads the configuration (flags over
`IVR_*` environment variables over embedded defaults, see `ivr.adapters.hosting.config`),
plans the tenants (`--hosting FILE`: a hosting file's tenants; else the `--flows` folder as
one tenant) and checks them, sets up logging and hands over to
`ivr.adapters.hosting.server.serve`, the one composition root of a hosted process.
Exit status: 0 after a clean shutdown (SIGINT/SIGTERM), 1 when the flows have errors or the
server cannot start, 2 usage problems.
"""

from __future__ import annotations

import argparse
import logging
import sys
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

import trio

from ivr.flowlang.diagnostics import render

if TYPE_CHECKING:
    from ivr.adapters.hosting.config import HostingConfig
    from ivr.adapters.hosting.plan import HostingPlan


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--flows", type=Path, help="folder of flows and service.yaml (default: flows)")
    parser.add_argument(
        "--hosting",
        type=Path,
        dest="hosting_file",
        metavar="FILE",
        help="serve the tenants of a hosting file instead of one folder (docs/tenants.md)",
    )
    parser.add_argument("--host", help="address for SIP and HTTP (default: 127.0.0.1)")
    parser.add_argument(
        "--public-address",
        help="address callers reach us at, announced in SDP and Contact (default: --host)",
    )
    parser.add_argument("--sip-port", type=int, help="SIP port, UDP and TCP (5060; 0 picks a free one)")
    parser.add_argument(
        "--no-sip-tcp", dest="sip_tcp", action="store_false", default=None, help="SIP over UDP only"
    )
    parser.add_argument("--rtp-port", type=int, help="first RTP port; calls take the next pairs (4000)")
    parser.add_argument("--http-port", type=int, help="HTTP port (default: 8080; 0 picks a free one)")
    parser.add_argument("--capacity", type=int, help="calls taken at once (default: what pjsua2 holds)")
    parser.add_argument("--data-dir", type=Path, help="records, outbox, recordings, prompts (default: var)")
    parser.add_argument("--drain-seconds", type=float, help="on SIGTERM, wait this long for calls (30)")
    parser.add_argument("--ring-seconds", type=float, help="let calls ring this long before answering (0)")
    parser.add_argument("--tts-cache", type=Path, help="prompt audio cache (default: DATA_DIR/tts)")
    parser.add_argument(
        "--record-calls",
        action="store_true",
        default=None,
        help="record every call (caller audio; muted during secret entry)",
    )
    parser.add_argument("--log-level", help="DEBUG, INFO, WARNING (default: INFO)")
    load = parser.add_argument_group("overload control (503 with Retry-After before calls degrade)")
    load.add_argument("--max-loop-lag", type=float, metavar="S", help="event-loop lag limit (0.1; 0: off)")
    load.add_argument("--max-sip-lag", type=float, metavar="S", help="pjsua2-thread lag limit (0.1; 0: off)")
    load.add_argument(
        "--max-setup-wait",
        type=float,
        metavar="S",
        help="new calls' wait to be taken up: limit (0.25; 0: off)",
    )
    load.add_argument(
        "--max-sip-backlog",
        type=int,
        metavar="KIB",
        help="SIP waiting in the kernel: limit (512 KiB; 0: off)",
    )
    load.add_argument(
        "--no-overload-control",
        dest="overload_control",
        action="store_false",
        default=None,
        help="measure the load but never refuse a call for it",
    )
    load.add_argument(
        "--overload-persist",
        type=float,
        metavar="S",
        help="how long a lag must stay past its limit before calls are refused (0.25)",
    )
    load.add_argument("--retry-after", type=int, metavar="S", help="Retry-After of a 503, seconds (10)")
    agents = parser.add_argument_group("agents and queues (with an agents file: the ACD and the desktop)")
    agents.add_argument(
        "--agents",
        type=Path,
        dest="agents_file",
        metavar="FILE",
        help="agent accounts (default: config/agents.yaml if it exists; none: no agents)",
    )
    agents.add_argument("--hold-music", type=Path, metavar="WAV", help="default: a generated tune")
    agents.add_argument("--announce-every", type=float, metavar="S", help="position every S (30; 0: off)")
    agents.add_argument("--queue-max-wait", type=float, metavar="S", help="if a node sets none (0: no limit)")
    agents.add_argument("--wrap-up", type=float, metavar="S", help="after-call work per call (15)")
    agents.add_argument("--agent-ring-seconds", type=float, metavar="S", help="ring an agent this long (15)")
    cluster = parser.add_argument_group("several instances as one center (docs/cluster.md)")
    cluster.add_argument(
        "--database-url",
        metavar="URL",
        help="keep call records and campaigns in PostgreSQL (postgresql://user@host:port/name) "
        "instead of SQLite files; the password from PGPASSWORD or ~/.pgpass",
    )
    cluster.add_argument(
        "--instance-id", metavar="NAME", help="this instance on a shared database (default: host:SIP port)"
    )
    parser.add_argument(
        "--editor-accounts",
        type=Path,
        metavar="FILE",
        help="serve the flow editor at /editor/ for the hosting file's tenants, with these sign-ins",
    )


def run(args: argparse.Namespace) -> int:
    from ivr.adapters.errors import ConfigError
    from ivr.adapters.hosting.config import from_environment

    try:
        config = from_environment(
            host=args.host,
            public_address=args.public_address,
            sip_port=args.sip_port,
            rtp_port=args.rtp_port,
            http_port=args.http_port,
            capacity=args.capacity,
            data_dir=args.data_dir,
            flows=args.flows,
            hosting_file=args.hosting_file,
            drain_seconds=args.drain_seconds,
            ring_seconds=args.ring_seconds,
            tts_cache=args.tts_cache,
            record_calls=args.record_calls,
            log_level=args.log_level,
            sip_tcp=args.sip_tcp,
            agents_file=args.agents_file,
            hold_music=args.hold_music,
            announce_every=args.announce_every,
            queue_max_wait=args.queue_max_wait,
            wrap_up=args.wrap_up,
            agent_ring_seconds=args.agent_ring_seconds,
            max_loop_lag=args.max_loop_lag,
            max_sip_lag=args.max_sip_lag,
            max_setup_wait=args.max_setup_wait,
            max_sip_backlog_kib=args.max_sip_backlog,
            overload_control=args.overload_control,
            overload_persist=args.overload_persist,
            retry_after=args.retry_after,
            editor_accounts=args.editor_accounts,
            database_url=args.database_url,
            instance_id=args.instance_id,
        )
    except ConfigError as exc:
        print(f"ivr serve: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=config.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    plan = _plan(config)
    if plan is None:
        return 1
    if not config.database_url and plan.hosting is not None and plan.hosting.database_url:
        config = replace(config, database_url=plan.hosting.database_url)  # flag and env come first
    return _serve(config, plan)


def _plan(config: HostingConfig) -> HostingPlan | None:
    """The tenants to serve, after printing every error; None when nothing can be served.

    A plain folder with any error is refused, as one service always was. With a hosting file,
    errors of the file itself refuse the start; a tenant's own errors leave that tenant
    unavailable (or on its last good published version) while the others serve."""
    from ivr.adapters.hosting.plan import plan_folder, plan_hosting

    hosting = config.hosting_file
    if hosting is not None and not hosting.is_file():
        print(f"ivr serve: hosting file {hosting} not found", file=sys.stderr)
        return None
    plan = plan_hosting(hosting) if hosting is not None else plan_folder(config.flows)
    for diagnostic in plan.errors:
        print(render(diagnostic, plan.sources), file=sys.stderr)
    if plan.hosting is None and hosting is not None:
        print(f"ivr serve: {hosting}: fix the errors above before serving", file=sys.stderr)
        return None
    if hosting is None:
        tenant = next(iter(plan.tenants.values()), None)
        if plan.errors or tenant is None or not tenant.project.flows:
            print(f"ivr serve: {config.flows}: fix the errors above before serving", file=sys.stderr)
            return None
        return plan
    own = [d for d in plan.errors if d.span.file == str(hosting) and d.code in FILE_LEVEL]
    if own:
        print(f"ivr serve: {hosting}: fix the errors above before serving", file=sys.stderr)
        return None
    if plan.errors:
        print(
            "ivr serve: tenants with errors serve their last good version, if any (ivr check)",
            file=sys.stderr,
        )
    return plan


# Errors of the hosting file that no tenant can be served around.
FILE_LEVEL = frozenset(
    {
        "FL001",
        "FL002",
        "FL003",
        "FL004",
        "FL009",
        "FL101",
        "FL102",
        "FL103",
        "FL801",
        "FL802",
        "FL803",
        "FL816",
    }
)


def _serve(config: HostingConfig, plan: HostingPlan) -> int:
    # Imported here: pjsua2 loads only for `ivr serve`, not for every `ivr` command.
    from ivr.adapters.errors import ConfigError
    from ivr.adapters.hosting.gcpolicy import tune_for_serving
    from ivr.adapters.hosting.server import serve
    from ivr.adapters.postgres.database import DatabaseUnavailable
    from ivr.adapters.sip.pjthread import SipStartError
    from ivr.adapters.storage.schema import SchemaError
    from ivr.commands.editing import hosted_editor

    tune_for_serving()
    try:
        mounts = hosted_editor(config) if config.editor_accounts is not None else None
        result: int = trio.run(partial(serve, config, plan, mounts=mounts))
    except SipStartError as exc:
        print(f"ivr serve: SIP could not start: {exc}", file=sys.stderr)
        return 1
    except (ConfigError, DatabaseUnavailable, SchemaError) as exc:
        print(f"ivr serve: {exc}", file=sys.stderr)
        return 1
    except BaseExceptionGroup as group:  # raised inside the server's task groups
        known, other = group.split((ConfigError, SipStartError, DatabaseUnavailable, SchemaError))
        if known is None or other is not None:
            raise
        for leaf in _leaves(known):
            prefix = "SIP could not start: " if isinstance(leaf, SipStartError) else ""
            print(f"ivr serve: {prefix}{leaf}", file=sys.stderr)
        return 1
    return result


def _leaves(group: BaseExceptionGroup[BaseException]) -> list[BaseException]:
    found: list[BaseException] = []
    for inner in group.exceptions:
        found += _leaves(inner) if isinstance(inner, BaseExceptionGroup) else [inner]
    return found

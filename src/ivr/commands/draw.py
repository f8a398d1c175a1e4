"""`ivr draw`: a flow as a graph (SVG, PNG, PDF or DOT), or every flow of a project at once.

The command-line face of `ivr.flowlang.draw`: it loads the project around the flow (so
subflow links and service checks see the other files), prints the flow's diagnostics to
stderr, and draws whatever flow came out, errors and all. With `--stats DB` it colours the
drawing with the flow's traffic from the call records (`ivr.flowlang.draw.traffic`).
Exit codes: 0 drawn, 1 the file holds no drawable flow, 2 a usage problem (bad path,
unknown format, no `dot` program, no records database, a bad --from/--to).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path

from ivr.commands import tenant_options
from ivr.flowlang.diagnostics import Diagnostic, did_you_mean, rank, render
from ivr.flowlang.draw import (
    FORMATS,
    FlowTraffic,
    GraphvizNotFound,
    RenderError,
    extract,
    format_from_path,
    overlay,
)
from ivr.flowlang.draw import render as render_diagram
from ivr.flowlang.draw.render import missing_cjk_font
from ivr.flowlang.ir import Flow, Project, Service
from ivr.flowlang.project import load_flow_text, load_project

DEFAULT_ALL_DIR = Path("build/graphs")


class UsageError(Exception):
    """A mistake on the command line (a bad path, an unknown flow): exit 2 with the message."""


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "target",
        metavar="FLOW",
        nargs="?",
        help="a flow file, FILE#NAME, or a project folder (with --tenant: a flow name)",
    )
    parser.add_argument(
        "-o", "--output", type=Path, metavar="OUT",
        help="output file (.svg, .png, .pdf, .dot); with --all a folder (default build/graphs); "
        "without -o, DOT text goes to stdout",
    )  # fmt: skip
    parser.add_argument("--format", choices=FORMATS, help="output format (default: from OUT's extension)")
    parser.add_argument("--flow", dest="flow_name", metavar="NAME", help="the flow to draw from a folder")
    parser.add_argument("--lang", metavar="LANG", help="prompt language of the excerpts (default: first)")
    parser.add_argument("--all", action="store_true", help="draw every flow under FLOW into the -o folder")
    stats = parser.add_argument_group("traffic (from the call records)")
    stats.add_argument(
        "--stats", metavar="DB",
        help="colour nodes and edges by the calls in DB (calls.sqlite3, or a postgresql:// URL):"
        " visits, exits, hang-ups",
    )  # fmt: skip
    stats.add_argument(
        "--from", dest="stats_start", metavar="WHEN", help="first day or time (default: 7 days back)"
    )
    stats.add_argument(
        "--to", dest="stats_end", metavar="WHEN", help="last day (included) or end time (default: now)"
    )
    stats.add_argument("--timezone", dest="stats_zone", default="UTC", help="whose days (default: UTC)")
    tenant_options.add_options(parser)


def run(args: argparse.Namespace) -> int:
    if tenant_options.chosen(args):
        tenant = tenant_options.resolve(args, "draw")
        if tenant is None or tenant.source is None:
            return 2
        args.flow_name, args.target = args.flow_name or args.target, str(tenant.source)
    elif args.target is None:
        _say("ivr draw: give a flow file or a folder (or --tenant NAME)")
        return 2
    if args.stats is not None and args.all:
        _say("ivr draw: --stats draws one flow; leave out --all")
        return 2
    try:
        return _draw_all(args) if args.all else _draw_one(args)
    except UsageError as exc:
        _say(f"ivr draw: {exc}")
    except GraphvizNotFound:
        _say("ivr draw: Graphviz `dot` not found; install the graphviz package (or draw to a .dot file)")
    except RenderError as exc:
        _say(f"ivr draw: {exc}")
        return 1
    return 2


# ---- one flow ------------------------------------------------------------------------------


def _draw_one(args: argparse.Namespace) -> int:
    path, name = _split_target(args.target, args.flow_name)
    project, diagnostics = _load(path)
    flow = _choose(project, path, name)
    files = {flow.file} if flow else {str(path)}
    _report([d for d in diagnostics if _in_files(d, files)], project.sources)
    if flow is None:
        _say(f"ivr draw: {path} holds no flow that can be drawn")
        return 1
    out: Path | None = args.output
    fmt = _format(out, args.format, default="dot")
    base = out.parent if out else Path.cwd()
    links = {f.name: _relative(Path(f.file), base) for f in project.flows.values()}
    traffic = _traffic(args, flow.name) if args.stats is not None else None
    _emit(flow, args.lang, links, fmt, out, diagnostics, project.service, traffic)
    return 0


def _traffic(args: argparse.Namespace, flow: str) -> FlowTraffic:
    """The flow's traffic in the records database `--stats` names, over --from/--to."""
    from ivr.adapters.reports import ReportQuery, ReportQueryError, read_inputs
    from ivr.adapters.reports.sqlite import open_database
    from ivr.adapters.reports.traffic import flow_traffic
    from ivr.commands.statistics import UsageError as BadWhen
    from ivr.commands.statistics import window

    try:
        start, end = window(args.stats_start, args.stats_end, args.stats_zone, days_back=7)
        query = ReportQuery(
            start, end, "day", "node", getattr(args, "tenant", None), args.stats_zone, flow=flow
        )
        if str(args.stats).startswith(("postgresql://", "postgres://")):  # a shared database
            from ivr.adapters.postgres.reports import read_postgres_inputs

            inputs = read_postgres_inputs(str(args.stats), query)
        else:
            conn = open_database(Path(args.stats))
            try:
                inputs = read_inputs(conn, query)
            finally:
                conn.close()
    except (BadWhen, ReportQueryError) as exc:
        raise UsageError(str(exc)) from None
    return flow_traffic(inputs, query, flow)


def _split_target(target: str, flow_name: str | None) -> tuple[Path, str | None]:
    """`flows/main.yaml`, `flows/main.yaml#main`, or `flows/` with --flow main."""
    path_text, name = target, flow_name
    if "#" in target and not Path(target).exists():
        path_text, _, fragment = target.rpartition("#")
        name = name or fragment or None
    path = Path(path_text)
    if not path.exists():
        raise UsageError(f"no such file or folder: {path}")
    return path, name


def _load(path: Path) -> tuple[Project, list[Diagnostic]]:
    """The project the path belongs to: the folder itself, or the folder around a file."""
    project, diagnostics = load_project([path if path.is_dir() else path.parent])
    return project, rank(diagnostics)


def _choose(project: Project, path: Path, name: str | None) -> Flow | None:
    if name is not None:
        return _by_name(project, path, name)
    if path.is_file():
        found = next((f for f in project.flows.values() if _same_file(f.file, path)), None)
        return found or _compile_alone(project, path)
    flows = sorted(project.flows)
    if len(flows) == 1:
        return project.flows[flows[0]]
    if not flows:
        raise UsageError(f"no flows under {path}")
    raise UsageError(
        f"{path} holds {len(flows)} flows ({', '.join(flows)}); pick one with --flow NAME "
        "or FOLDER#NAME, or draw them all with --all"
    )


def _compile_alone(project: Project, path: Path) -> Flow | None:
    """A flow the project left out (its name is taken by another file), compiled on its own."""
    text = next((t for f, t in project.sources.items() if _same_file(f, path)), None)
    return None if text is None else load_flow_text(text, str(path), project.service)[0]


def _by_name(project: Project, path: Path, name: str) -> Flow:
    flow = project.flows.get(name)
    if flow is None:
        hint = did_you_mean(name, project.flows)
        raise UsageError(f"no flow named '{name}' under {path}" + (f"; {hint}" if hint else ""))
    return flow


def _emit(
    flow: Flow,
    lang: str | None,
    links: Mapping[str, str],
    fmt: str,
    out: Path | None,
    diagnostics: Iterable[Diagnostic] = (),
    service: Service | None = None,
    traffic: FlowTraffic | None = None,
) -> None:
    if lang and lang not in flow.languages:
        _say(f"ivr draw: flow '{flow.name}' has no language '{lang}'; drawing {flow.languages[0]}")
        lang = None
    mine = [d for d in diagnostics if _same_file(d.span.file, Path(flow.file))]
    diagram = extract(flow, lang, links, mine, service)
    if traffic is not None:
        diagram = overlay(diagram, traffic)
    if fmt in ("png", "pdf") and missing_cjk_font(diagram):
        _say("ivr draw: note: no CJK font installed (fc-list :lang=zh); Chinese shows as boxes")
    data = render_diagram(diagram, fmt)
    if out is None:
        sys.stdout.flush()
        sys.stdout.buffer.write(data)
        return
    _write(out, data)


# ---- every flow ----------------------------------------------------------------------------


def _draw_all(args: argparse.Namespace) -> int:
    path, _ = _split_target(args.target, None)
    out_dir: Path = args.output or DEFAULT_ALL_DIR
    if out_dir.suffix.lower().lstrip(".") in FORMATS:
        raise UsageError(
            f"with --all, -o names a folder, not {out_dir.name!r}; pick the format with --format"
        )
    fmt = args.format or "svg"
    project, diagnostics = _load(path)
    _report(diagnostics, project.sources)
    if not project.flows:
        _say(f"ivr draw: no flows under {path}")
        return 1
    links = {name: _all_link(project.flows[name], fmt, out_dir) for name in project.flows}
    for name in sorted(project.flows):
        _emit(
            project.flows[name],
            args.lang,
            links,
            fmt,
            out_dir / f"{name}.{fmt}",
            diagnostics,
            project.service,
        )
    _say(f"ivr draw: drew {len(project.flows)} flow(s) into {out_dir}/")
    return 1 if _files_without_flow(project, diagnostics) else 0


def _all_link(flow: Flow, fmt: str, out_dir: Path) -> str:
    """In an SVG set, a subflow links to the other drawing; otherwise to its source file."""
    return f"{flow.name}.svg" if fmt == "svg" else _relative(Path(flow.file), out_dir)


def _files_without_flow(project: Project, diagnostics: Iterable[Diagnostic]) -> set[str]:
    drawn = {os.path.realpath(f.file) for f in project.flows.values()}
    broken = {d.span.file for d in diagnostics if d.is_error}
    return {f for f in broken if os.path.realpath(f) not in drawn and f.endswith((".yaml", ".yml"))}


# ---- helpers -------------------------------------------------------------------------------


def _format(out: Path | None, chosen: str | None, default: str) -> str:
    if chosen:
        return chosen
    if out is None:
        return default
    try:
        return format_from_path(out)
    except ValueError as exc:
        raise UsageError(f"{exc}, or give --format") from None


def _write(out: Path, data: bytes) -> None:
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(data)
    except OSError as exc:
        raise UsageError(f"cannot write {out}: {exc.strerror or exc}") from None


def _report(diagnostics: Iterable[Diagnostic], sources: Mapping[str, str]) -> None:
    for diagnostic in diagnostics:
        _say(render(diagnostic, sources))


def _in_files(diagnostic: Diagnostic, files: set[str]) -> bool:
    return any(_same_file(diagnostic.span.file, Path(f)) for f in files)


def _same_file(file: str, path: Path) -> bool:
    return os.path.realpath(file) == os.path.realpath(path)


def _relative(target: Path, base: Path) -> str:
    try:
        return os.path.relpath(target.resolve(), base.resolve())
    except ValueError:  # another drive on Windows
        return str(target.resolve())


def _say(message: str) -> None:
    print(message, file=sys.stderr)

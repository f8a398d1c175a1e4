"""Talking to a running `ivr serve` from the command line (`ivr publish`, `ivr versions`).

Not a subcommand: the options every such command takes (`--server`, `--token`, or the
environment's `IVR_SERVER` / `IVR_TOKEN`), one JSON request, and diagnostics that come
back as JSON rendered like `ivr check` renders them, with the author's own files as the
source lines.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping
from typing import Any

import httpx

from ivr.flowlang.diagnostics import Diagnostic, Severity, Span, render

DEFAULT_SERVER = "http://127.0.0.1:8080"


class RemoteError(Exception):
    """The server could not be asked (not running, wrong token, an unexpected answer)."""


def add_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("the server")
    group.add_argument(
        "--server", metavar="URL", help=f"ivr serve's HTTP API (default: $IVR_SERVER or {DEFAULT_SERVER})"
    )
    group.add_argument("--token", help="your API token: the tenant's or the operator's (default: $IVR_TOKEN)")


def request(args: argparse.Namespace, method: str, path: str, body: object = None) -> tuple[int, Any]:
    """(status, JSON body) of one request; `RemoteError` when there is no usable answer."""
    server = (args.server or os.environ.get("IVR_SERVER") or DEFAULT_SERVER).rstrip("/")
    token = args.token or os.environ.get("IVR_TOKEN")
    headers = {"authorization": f"Bearer {token}"} if token else {}
    try:
        response = httpx.request(method, server + path, json=body, headers=headers, timeout=120.0)
    except httpx.HTTPError as exc:
        raise RemoteError(
            f"cannot reach {server} ({type(exc).__name__}): is `ivr serve --hosting` running?"
        ) from exc
    try:
        answer = response.json()
    except ValueError as exc:
        raise RemoteError(f"{server}{path} answered HTTP {response.status_code} without JSON") from exc
    if response.status_code in (401, 403):
        raise RemoteError(f"{answer.get('error', 'refused')} (give --token or set IVR_TOKEN)")
    return response.status_code, answer


def diagnostics_of(answer: Mapping[str, Any]) -> list[Diagnostic]:
    """The diagnostics of a publish or check answer, as `Diagnostic` values again."""
    found = []
    for item in answer.get("diagnostics", []):
        severity = Severity[str(item.get("severity", "error")).upper()]
        span = Span(
            str(item["file"]),
            int(item["line"]),
            int(item["column"]),
            int(item["end_line"]),
            int(item["end_column"]),
        )
        found.append(Diagnostic(str(item["code"]), severity, str(item["message"]), span, item.get("hint")))
    return found


def show_diagnostics(answer: Mapping[str, Any], sources: Mapping[str, str]) -> None:
    for diagnostic in diagnostics_of(answer):
        print(render(diagnostic, sources), file=sys.stderr)

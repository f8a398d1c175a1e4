"""Load a project: every flow and the service under some paths, compiled and checked.

The whole flowlang pipeline in one call, used by `ivr check`, the runtime, the editor and
tests: files -> `yamlsource` -> `validation` -> `compile` -> `checks`. It never raises for a
user mistake; every problem is a ranked `Diagnostic`. Flows that could be built are kept in
the `Project` even with errors (so they can be drawn); callers refuse to run when any
diagnostic is an error.

A file whose top level has `flow:` is a flow, `service:` the service; `*.test.yaml` files
(flow tests) are skipped, as is any file whose top level has `tests:`. Both `.yaml` and
`.yml` are YAML: a flow saved as `main.yml` is loaded like `main.yaml`. Any other YAML file
found in a folder is skipped with a warning (FL008); a file named on its own is expected to
be one of these, so there the same finding is an error.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from ivr.flowlang.checks import Checking, Gaps, run_checks
from ivr.flowlang.compile.flow import FlowBuild, build_flow
from ivr.flowlang.compile.service import build_service
from ivr.flowlang.diagnostics import Diagnostic, Severity, Span, rank
from ivr.flowlang.followons import suppress_follow_ons
from ivr.flowlang.ir import Flow, Project, Service
from ivr.flowlang.yamlsource import LoadedYaml, decode_source, load_yaml

__all__ = ["Document", "LoadCache", "find_files", "load_flow_text", "load_project"]

TEST_SUFFIXES = (".test.yaml", ".test.yml")
YAML_SUFFIXES = (".yaml", ".yml")
_FLOW_LINE = re.compile(r"^flow:\s*['\"]?([A-Za-z_]\w*)", re.MULTILINE)
_SERVICE_LINE = re.compile(r"^service:", re.MULTILINE)
_T = TypeVar("_T")


@dataclass
class Document:
    """One loaded YAML file and what it turned out to be."""

    file: str
    text: str
    loaded: LoadedYaml

    @property
    def kind(self) -> str | None:
        data = self.loaded.data
        if not isinstance(data, dict):
            return None
        for kind in ("flow", "service", "tests"):
            if kind in data:
                return kind
        return None


@dataclass
class LoadCache:
    """What loading and compiling one file gave, by (file, text), for reuse by later loads.

    The editor checks a changing buffer against a project whose other files stay the same;
    reading YAML and compiling a flow or the service are pure functions of the file's name
    and text, so reusing them gives the same diagnostics at a fraction of the work. Holds
    at most `limit` results (the oldest go first)."""

    limit: int = 512
    _results: dict[tuple[str, str, str], object] = field(default_factory=dict)

    def reuse(self, stage: str, file: str, text: str, make: Callable[[], _T]) -> _T:
        key = (stage, file, text)
        if key in self._results:
            found: _T = self._results[key]  # type: ignore[assignment]
            return found
        made = make()
        self._results[key] = made
        while len(self._results) > self.limit:
            del self._results[next(iter(self._results))]
        return made


@dataclass
class _Loader:
    diagnostics: list[Diagnostic] = field(default_factory=list)
    sources: dict[str, str] = field(default_factory=dict)
    flows: dict[str, Flow] = field(default_factory=dict)
    others: list[Flow] = field(default_factory=list)
    gaps: dict[str, Gaps] = field(default_factory=dict)
    service: Service | None = None
    cache: LoadCache | None = None
    unreadable: set[str] = field(default_factory=set)
    service_unreadable: bool = False

    def cannot_read(self, file: str, text: str | None = None) -> None:
        """Remember what a file that could not be read was meant to be (its `flow:` name, or
        the service), so references to it are not reported as well: one error per mistake."""
        flow = _FLOW_LINE.search(text or "")
        if flow is None and text is not None and _SERVICE_LINE.search(text):
            self.service_unreadable = True
        else:
            self.unreadable.add(flow.group(1) if flow else Path(file).stem)

    def reuse(self, stage: str, file: str, text: str, make: Callable[[], _T]) -> _T:
        return make() if self.cache is None else self.cache.reuse(stage, file, text, make)

    def error(self, code: str, message: str, file: str, hint: str | None = None, line: int = 1) -> None:
        self.diagnostics.append(Diagnostic(code, Severity.ERROR, message, Span(file, line, 1), hint))


def load_project(
    paths: Sequence[str | Path], texts: Mapping[str, str] | None = None, cache: LoadCache | None = None
) -> tuple[Project, list[Diagnostic]]:
    """Load, compile and check every flow and the service found under `paths`.

    `texts` maps files (by absolute path) to text to use instead of what is on disk: the
    editor checks the buffer an author is typing in together with the saved rest, reusing
    the unchanged files' work through `cache`."""
    loader = _Loader(cache=cache)
    unsaved = {os.path.abspath(f): t for f, t in (texts or {}).items()}
    named = {str(Path(p)) for p in paths if not Path(p).is_dir()}
    documents = [
        doc for file in find_files(paths, loader) if (doc := _read(file, loader, unsaved, file in named))
    ]
    for doc in documents:
        if doc.kind == "service":
            _add_service(doc, loader)
    for doc in documents:
        if doc.kind == "flow":
            _add_flow(doc, loader)
    project = Project(dict(loader.flows), loader.service, dict(loader.sources))
    checking = Checking(
        project,
        dict(loader.gaps),
        whole_project=True,
        others=tuple(loader.others),
        unreadable_flows=frozenset(loader.unreadable),
        service_unreadable=loader.service_unreadable,
    )
    return project, rank(suppress_follow_ons([*loader.diagnostics, *run_checks(checking)]))


def find_files(paths: Sequence[str | Path], loader: _Loader | None = None) -> Iterator[str]:
    """The YAML files under `paths` (directories searched recursively), tests left out."""
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            for found in sorted(p for p in path.rglob("*") if p.name.endswith(YAML_SUFFIXES)):
                # a broken link is yielded too, so that it is reported (FL009), not skipped
                if not _is_test(found) and (found.is_file() or found.is_symlink()):
                    yield str(found)
        elif path.is_file() or path.is_symlink():
            if not _is_test(path):
                yield str(path)
        elif loader is not None:
            loader.error(
                "FL005", f"'{raw}' does not exist", str(raw), "give a flow file or a folder of flows"
            )


def _is_test(path: Path) -> bool:
    return path.name.endswith(TEST_SUFFIXES)


def _read(file: str, loader: _Loader, unsaved: Mapping[str, str], named: bool = False) -> Document | None:
    text = unsaved.get(os.path.abspath(file)) if unsaved else None
    if text is None:
        try:
            raw = Path(file).read_bytes()
        except OSError as exc:
            hint = "fix the file's permissions, or the link if it points nowhere"
            loader.error("FL009", f"the file cannot be read: {exc.strerror}", file, hint)
            loader.cannot_read(file)
            return None
        text, problems = decode_source(raw, file)
        if text is None:
            loader.diagnostics.extend(problems)
            loader.cannot_read(file, raw.decode("utf-8", errors="replace"))
            return None
    loader.sources[file] = text
    doc = Document(file, text, loader.reuse("yaml", file, text, lambda: load_yaml(text, file)))
    loader.diagnostics.extend(doc.loaded.diagnostics)
    if doc.kind is None and not _has_yaml_error(doc.loaded):
        loader.diagnostics.append(_not_a_flow(doc, named))
    if _has_yaml_error(doc.loaded):
        loader.cannot_read(file, text)
    return doc


def _has_yaml_error(loaded: LoadedYaml) -> bool:
    return loaded.data is None and any(d.is_error for d in loaded.diagnostics)


def _not_a_flow(doc: Document, named: bool) -> Diagnostic:
    """FL008: a warning for a file met in a folder (it is skipped), an error for a file that
    was named on its own, since then it was meant to be checked."""
    data = doc.loaded.data
    what = "the file is empty" if data is None else "the file is neither a flow nor a service"
    hint = "a flow starts with `flow: <name>`, the service with `service: <name>`"
    if not named:
        return Diagnostic("FL008", Severity.WARNING, f"{what}; it is skipped", Span(doc.file, 1, 1), hint)
    if data is not None and not isinstance(data, dict):
        shown = repr(data) if isinstance(data, str | int | bool) else type(data).__name__
        what = f"the file holds {'a list' if isinstance(data, list) else shown[:40]}, not a flow or a service"
    message = f"{what}; a file named to be checked must be a flow, the service or a flow test"
    hint += ", a flow test (`*.test.yaml`) with `tests:`"
    where = doc.loaded.source_map.value(())  # where the text or list starts, past any comments
    return Diagnostic("FL008", Severity.ERROR, message, Span(doc.file, where.line, where.col), hint)


def _add_service(doc: Document, loader: _Loader) -> None:
    if loader.service is not None:
        message = f"a second service file (the first is {loader.service.file}); it is ignored"
        loader.error("FL006", message, doc.file, "a project has one service file; merge them")
        return
    service, found = loader.reuse(
        "service", doc.file, doc.text, lambda: build_service(doc.loaded.data, doc.loaded.source_map, doc.file)
    )
    loader.diagnostics.extend(found)
    loader.service = service


def _add_flow(doc: Document, loader: _Loader) -> None:
    build = loader.reuse(
        "flow", doc.file, doc.text, lambda: build_flow(doc.loaded.data, doc.loaded.source_map, doc.file)
    )
    loader.diagnostics.extend(build.diagnostics)
    if build.flow is None:
        return
    flow = build.flow
    loader.gaps[doc.file] = _gaps(build)
    if flow.name in loader.flows:
        first = loader.flows[flow.name]
        message = f"flow name '{flow.name}' is already used by {first.file}"
        hint = "flow names are unique in a project: rename one of them"
        loader.diagnostics.append(Diagnostic("FL007", Severity.ERROR, message, flow.span, hint))
        loader.others.append(flow)
        return
    loader.flows[flow.name] = flow


def _gaps(build: FlowBuild) -> Gaps:
    return Gaps(build.omitted, build.incomplete, build.dropped_edges)


def load_flow_text(
    text: str, file: str, service: Service | None = None
) -> tuple[Flow | None, list[Diagnostic]]:
    """Compile and check one flow text on its own (tests, the editor). References to other
    flows (subflows) cannot be judged here; `load_project` checks them."""
    loaded = load_yaml(text, file)
    doc = Document(file, text, loaded)
    found = list(loaded.diagnostics)
    if doc.kind != "flow":
        if not _has_yaml_error(loaded):
            found.append(_expected_flow(doc))
        return None, rank(found)
    build = build_flow(loaded.data, loaded.source_map, file)
    found.extend(build.diagnostics)
    if build.flow is None:
        return None, rank(found)
    project = Project({build.flow.name: build.flow}, service, {file: text})
    checking = Checking(project, {file: _gaps(build)}, whole_project=False)
    return build.flow, rank(suppress_follow_ons([*found, *run_checks(checking)]))


def _expected_flow(doc: Document) -> Diagnostic:
    found = {"service": "a service file", "tests": "a flow test file"}.get(doc.kind or "", "not a flow")
    message = (
        f"expected a flow, but this is {found}" if doc.kind else "expected a flow (top-level `flow: <name>`)"
    )
    return Diagnostic(
        "FL008", Severity.ERROR, message, Span(doc.file, 1, 1), "a flow starts with `flow: <name>`"
    )

"""The editor's HTTP API: files, checks, drawings, completion words, explanations, tests and
publishing. Every handler names the signed-in user's project and refuses with an
`EditorError` (turned into JSON by `ivr.editor.app`). CPU work (checking, drawing, running
tests) and file I/O run in worker threads, so a simulated call on the same server keeps
its timing.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from typing import Any, TypeVar

import trio
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route

from ivr.editor.auth import COOKIE, EditorUser
from ivr.editor.context import EditorContext
from ivr.editor.errors import EditorError, FileMissing, FileTooLarge, NotAllowed
from ivr.editor.flowtests import run_tests
from ivr.editor.publishing import WORKING
from ivr.editor.vocabulary import project_vocabulary, schema_vocabulary
from ivr.editor.workspace import Workspace
from ivr.flowlang.catalogue import lookup, render_entry, suggest
from ivr.flowlang.draw import Diagram, GraphvizNotFound, RenderError, extract, render
from ivr.flowlang.yamlsource import MAX_BYTES
from ivr.runtime.flowtest.loader import load_test_file

T = TypeVar("T")
MAX_BODY = MAX_BYTES + 64 * 1024  # a flow's text plus its JSON envelope


def editor(request: Request) -> EditorContext:
    context: EditorContext = request.app.state.editor
    return context


def signed_in(request: Request) -> EditorUser:
    return editor(request).user(request.cookies.get(COOKIE))


async def in_thread(request: Request, work: Callable[[], T]) -> T:
    return await trio.to_thread.run_sync(work, limiter=editor(request).limiter)


async def body_bytes(request: Request) -> bytes:
    """The request body, refused once it passes `MAX_BODY` (never read whole into memory)."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            raise FileTooLarge(f"the request is larger than {MAX_BODY:,} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


async def json_body(request: Request) -> dict[str, Any]:
    try:
        data = json.loads(await body_bytes(request) or b"{}")
    except (ValueError, UnicodeDecodeError):
        raise EditorError("the request body is not JSON") from None
    if not isinstance(data, dict):
        raise EditorError("the request body must be a JSON object")
    return data


def text_field(data: dict[str, Any], name: str) -> str:
    value = data.get(name)
    if not isinstance(value, str):
        raise EditorError(f"`{name}` must be text")
    return value


# ---- who and what --------------------------------------------------------------------------


async def me(request: Request) -> Response:
    user = signed_in(request)
    context = editor(request)
    workspace = context.workspace(user)
    return JSONResponse(
        {
            "user": user.to_json(),
            "project": workspace.name or workspace.root.name,
            "publishing": context.publisher is not None,
            "speech": context.speech is not None,
            "service_operations": context.operations is not None,
            "max_bytes": MAX_BYTES,
        }
    )


async def schema(request: Request) -> Response:
    signed_in(request)
    return JSONResponse(schema_vocabulary())


async def explain(request: Request) -> Response:
    signed_in(request)
    code = str(request.path_params["code"]).upper()
    entry = lookup(code)
    if entry is None:
        raise FileMissing(f"no diagnostic code '{code}'", suggest(code))
    return JSONResponse({"code": entry.code, "title": entry.title, "text": render_entry(entry)})


# ---- files ---------------------------------------------------------------------------------


async def tree(request: Request) -> Response:
    workspace = editor(request).workspace(signed_in(request))
    entries = await in_thread(request, workspace.tree)
    return JSONResponse({"files": [{"path": e.path, "kind": e.kind, "size": e.size} for e in entries]})


async def read_file(request: Request) -> Response:
    workspace = editor(request).workspace(signed_in(request))
    path = str(request.path_params["path"])
    found = await in_thread(request, lambda: workspace.read(path))
    return JSONResponse(
        {"path": found.path, "text": found.text, "version": found.version},
        headers={"ETag": f'"{found.version}"'},
    )


async def save_file(request: Request) -> Response:
    workspace = editor(request).workspace(signed_in(request))
    path = str(request.path_params["path"])
    workspace.resolve(path)  # refuse before reading the body
    raw = await body_bytes(request)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise EditorError("the text to save is not UTF-8") from None
    create = request.headers.get("if-none-match") == "*"
    if_match = _etag(request.headers.get("if-match"))
    version = await in_thread(request, lambda: workspace.save(path, text, if_match=if_match, create=create))
    return JSONResponse({"path": path, "version": version}, headers={"ETag": f'"{version}"'})


def _etag(header: str | None) -> str | None:
    if header is None:
        return None
    value = header.strip()
    if value.startswith("W/"):
        value = value[2:]
    return value.strip('"')


# ---- checking and drawing ------------------------------------------------------------------


async def check(request: Request) -> Response:
    user = signed_in(request)
    data = await json_body(request)
    file, text = text_field(data, "file"), text_field(data, "text")
    analyser = editor(request).analyser(user)
    analysis = await in_thread(request, lambda: analyser.analyse(file, text))
    body = analysis.to_json()
    body["names"] = project_vocabulary(analysis.project, analysis.flow)
    return JSONResponse(body)


async def draw(request: Request) -> Response:
    user = signed_in(request)
    data = await json_body(request)
    file, text = text_field(data, "file"), text_field(data, "text")
    language = data.get("language") if isinstance(data.get("language"), str) else None
    analyser = editor(request).analyser(user)

    def drawing() -> bytes:
        analysis = analyser.analyse(file, text)
        flow = analysis.flow
        if flow is None:
            raise EditorError("nothing to draw: the text is not a flow that compiles", code="no_flow")
        lang = language if language in flow.languages else None
        links = {
            f.name: f"#file={analyser.workspace.relative(f.file)}" for f in analysis.project.flows.values()
        }
        drawn = extract(flow, lang, links, analysis.of_file(), analysis.project.service)
        diagram = _relative_names(drawn, analyser.workspace)
        try:
            return render(diagram, "svg")
        except GraphvizNotFound:
            raise EditorError(
                "Graphviz is not installed (apt-get install graphviz)", code="no_graphviz"
            ) from None
        except RenderError as exc:
            raise EditorError(str(exc), code="draw_failed") from None

    svg = await in_thread(request, drawing)
    return Response(svg, media_type="image/svg+xml")


def _relative_names(diagram: Diagram, workspace: Workspace) -> Diagram:
    """The server's folders are no business of the browser's: files are named relative."""
    prefix = str(workspace.root) + "/"
    nodes = tuple(dataclasses.replace(n, tooltip=n.tooltip.replace(prefix, "")) for n in diagram.nodes)
    return dataclasses.replace(diagram, title=diagram.title.replace(prefix, ""), nodes=nodes)


# ---- flow tests ----------------------------------------------------------------------------


async def tests(request: Request) -> Response:
    """The project's tests, for the simulate panel's "fixtures from a test" choice."""
    workspace = editor(request).workspace(signed_in(request))

    def listing() -> list[dict[str, object]]:

        found: list[dict[str, object]] = []
        for entry in workspace.tree():
            if entry.kind == "test":
                loaded, _ = load_test_file(workspace.absolute(entry.path))
                for test in loaded.tests if loaded else ():
                    found.append(
                        {
                            "file": entry.path,
                            "name": test.name,
                            "flow": test.flow,
                            "caller": test.caller,
                            "language": test.language,
                            "at": test.at.isoformat(),
                        }
                    )
        return found

    return JSONResponse({"tests": await in_thread(request, listing)})


async def run_flow_tests(request: Request) -> Response:
    user = signed_in(request)
    workspace = editor(request).workspace(user)
    data = await json_body(request)
    unsaved = {}
    if isinstance(data.get("file"), str) and isinstance(data.get("text"), str):
        workspace.resolve(data["file"])
        unsaved[data["file"]] = data["text"]
    result = await in_thread(request, lambda: run_tests(workspace, unsaved))
    return JSONResponse(result)


# ---- publishing ----------------------------------------------------------------------------


def _publisher_for(request: Request, *, publish: bool) -> tuple[EditorContext, EditorUser]:
    context, user = editor(request), signed_in(request)
    if context.publisher is None:
        raise EditorError("publishing is not set up for this editor", code="no_publishing")
    if publish and not user.can_publish:
        raise NotAllowed(
            f"{user.name} is an author: only a publisher can publish or roll back",
            "ask a publisher to publish the saved version",
        )
    return context, user


async def publish(request: Request) -> Response:
    context, user = _publisher_for(request, publish=True)
    data = await json_body(request)
    note = data.get("note") if isinstance(data.get("note"), str) else ""
    workspace = context.workspace(user)
    assert context.publisher is not None
    publisher = context.publisher
    outcome = await in_thread(request, lambda: publisher.publish(workspace, user.name, str(note)[:500]))
    if not outcome.ok:
        problems = [dict(d.to_json(), file=workspace.relative(d.span.file)) for d in outcome.diagnostics]
        raise EditorError(
            f"not published: the project has {len(problems)} error(s)",
            "fix them (see Problems) and publish again",
            code="refused",
            diagnostics=problems,
        )
    assert outcome.version is not None
    return JSONResponse({"published": outcome.version.to_json()})


async def versions(request: Request) -> Response:
    context, user = _publisher_for(request, publish=False)
    workspace = context.workspace(user)
    assert context.publisher is not None
    publisher = context.publisher
    found = await in_thread(request, lambda: publisher.versions(workspace))
    return JSONResponse({"versions": [v.to_json() for v in found]})


async def diff(request: Request) -> Response:
    context, user = _publisher_for(request, publish=False)
    workspace = context.workspace(user)
    old = request.query_params.get("old", "")
    new = request.query_params.get("new", WORKING)
    assert context.publisher is not None
    publisher = context.publisher
    text = await in_thread(request, lambda: publisher.diff(workspace, old, new))
    return Response(text, media_type="text/plain; charset=utf-8")


async def rollback(request: Request) -> Response:
    context, user = _publisher_for(request, publish=True)
    data = await json_body(request)
    version = text_field(data, "version")
    workspace = context.workspace(user)
    assert context.publisher is not None
    publisher = context.publisher
    outcome = await in_thread(request, lambda: publisher.rollback(workspace, version, user.name))
    assert outcome.version is not None
    return JSONResponse({"published": outcome.version.to_json()})


# ---- audio ---------------------------------------------------------------------------------


async def audio(request: Request) -> Response:
    signed_in(request)
    path = editor(request).audio.get(str(request.path_params["key"]))
    if path is None:
        raise FileMissing("no such prompt audio (it may have expired)")
    return FileResponse(path, media_type="audio/wav")


ROUTES = [
    Route("/api/me", me),
    Route("/api/schema", schema),
    Route("/api/explain/{code}", explain),
    Route("/api/files", tree),
    Route("/api/files/{path:path}", read_file, methods=["GET"]),
    Route("/api/files/{path:path}", save_file, methods=["PUT"]),
    Route("/api/check", check, methods=["POST"]),
    Route("/api/draw", draw, methods=["POST"]),
    Route("/api/tests", tests),
    Route("/api/tests/run", run_flow_tests, methods=["POST"]),
    Route("/api/publish", publish, methods=["POST"]),
    Route("/api/versions", versions),
    Route("/api/diff", diff),
    Route("/api/rollback", rollback, methods=["POST"]),
    Route("/api/audio/{key}", audio),
]

"""The pages the web apps of `ivr serve` ship inside their packages (the agent desktop, the
web chat, the supervisor pages), served as HTTP responses.

Place: a helper of the adapters that have a `static/` folder; each keeps its own folder and
calls `package_file` from its route. Only plain names of the types below are served: no
sub-folders, no hidden files, nothing outside the folder.
"""

from __future__ import annotations

from collections.abc import Mapping
from importlib import resources

import anyio.to_thread
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

TYPES = {
    ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".svg": "image/svg+xml",
}


async def package_file(request: Request, package: str, headers: Mapping[str, str] | None = None) -> Response:
    """The file `{name}` of the route (default index.html) from `package`'s static folder,
    or a 404 in JSON."""
    name = request.path_params.get("name") or "index.html"
    suffix = "." + name.rsplit(".", 1)[-1] if "." in name else ""
    resource = resources.files(package) / "static" / name
    if name.startswith(".") or "/" in name or suffix not in TYPES or not resource.is_file():
        return JSONResponse({"error": "no such file"}, status_code=404)
    body = await anyio.to_thread.run_sync(resource.read_bytes)
    return Response(body, media_type=TYPES[suffix], headers=dict(headers or {}))

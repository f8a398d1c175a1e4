"""The `http` backend: an operation is one HTTP request answered with JSON.

Service file keys: `url` (a template: `{param}` is replaced by the URL-encoded argument),
`method` (GET by default), `headers` (a mapping). Arguments not used in the URL travel as
the query string (GET, DELETE) or as a JSON object body (POST, PUT, PATCH); a `Decimal`
travels as a JSON string so that money is never rounded through a float. The answer is the
parsed JSON (numbers with a fraction become `Decimal`), or None for an empty body.
Status >= 400 is an error; 5xx, 408 and 429 are transient and may be retried.

The template is filled by a regular expression, not `str.format`, so a service file can
never reach attributes of the arguments. Messages show the template, never the filled URL,
because arguments (account numbers) do not belong in logs.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from urllib.parse import quote, urlsplit

import httpx

from ivr.adapters.data.errors import BackendFailure, ServiceConfigError
from ivr.flowlang.ir import OperationDecl

HTTP_KEYS = frozenset({"url", "method", "headers"})
METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE"})
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
_FIELD = re.compile(r"\{([A-Za-z_]\w*)\}")
_TRANSIENT_STATUS = frozenset({408, 429})


class HttpBackend:
    """One declared HTTP operation on the service's shared client."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        method: str,
        url: str,
        headers: Mapping[str, str],
        idempotency_key: str | None,
    ) -> None:
        self._client = client
        self._method = method
        self._template = url
        self._in_url = set(_FIELD.findall(url))
        self._headers = dict(headers)
        self._idempotency_key = idempotency_key

    async def attempt(self, args: Mapping[str, object]) -> object:
        rest = {k: _jsonable(v) for k, v in args.items() if k not in self._in_url}
        body = rest if self._method in _BODY_METHODS else None
        query = None if body is not None else {k: str(v) for k, v in rest.items() if v is not None}
        try:
            url = _fill(self._template, args)
            headers = self._headers_for(args)
            response = await self._client.request(self._method, url, params=query, json=body, headers=headers)
        except httpx.TransportError as exc:
            raise BackendFailure(f"{type(exc).__name__} on {self._what()}: {exc}", retryable=True) from exc
        except httpx.HTTPError as exc:
            raise BackendFailure(f"{type(exc).__name__} on {self._what()}: {exc}", retryable=False) from exc
        return self._answer(response)

    def _headers_for(self, args: Mapping[str, object]) -> dict[str, str]:
        if self._idempotency_key is None:
            return self._headers
        return {**self._headers, "Idempotency-Key": str(args[self._idempotency_key])}

    def _answer(self, response: httpx.Response) -> object:
        status = response.status_code
        if status >= 400:
            transient = status >= 500 or status in _TRANSIENT_STATUS
            raise BackendFailure(f"HTTP {status} from {self._what()}", retryable=transient)
        if not response.content.strip():
            return None
        try:
            return json.loads(response.content, parse_float=Decimal)
        except ValueError as exc:
            message = f"{self._what()} answered with invalid JSON: {exc}"
            raise BackendFailure(message, retryable=False) from exc

    def _what(self) -> str:
        return f"{self._method} {self._template}"


def build_http(decl: OperationDecl, client: httpx.AsyncClient, idempotency_key: str | None) -> HttpBackend:
    """Check the declaration; raise `ServiceConfigError` listing its problems."""
    problems: list[str] = []
    url = decl.config.get("url")
    if not isinstance(url, str) or urlsplit(url).scheme not in ("http", "https"):
        problems.append(f"'url' must be an http:// or https:// URL, not {url!r}")
        url = ""
    elif unknown := set(_FIELD.findall(url)) - set(decl.params):
        problems.append(f"url uses undeclared parameter(s) {', '.join(sorted(unknown))}")
    method = str(decl.config.get("method", "GET")).upper()
    if method not in METHODS:
        problems.append(f"'method' must be one of {', '.join(sorted(METHODS))}, not {method!r}")
    headers = decl.config.get("headers", {})
    if not isinstance(headers, Mapping) or not all(isinstance(v, str) for v in headers.values()):
        problems.append("'headers' must map header names to text")
        headers = {}
    if problems:
        raise ServiceConfigError(problems)
    return HttpBackend(
        client,
        method=method,
        url=url,
        headers={str(k): str(v) for k, v in headers.items()},
        idempotency_key=idempotency_key,
    )


def _fill(template: str, args: Mapping[str, object]) -> str:
    return _FIELD.sub(lambda m: quote(str(args[m.group(1)]), safe=""), template)


def _jsonable(value: object) -> object:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value

"""`HttpSmsTransport`: SMS through an HTTP gateway, in one of three common request shapes.

Place: a `Transport` for channels of kind `sms`. The request carries four values under
names the gateway chooses (`fields:` renames them; a name set to null leaves it out):

    style   request                                   default names (to, text, sender, reference)
    json    POST, a JSON object body                  to, text, from, reference
    form    POST, application/x-www-form-urlencoded   To, Body, From, Reference   (Twilio-like,
            with HTTP basic auth: username = account id, password = auth token)
    query   GET, URL query parameters                 mobile, content, sender, msgid
            (the style of many Chinese gateways: account and key as `params:`)

plus the fixed `params:` (account ids, API keys by `${VARIABLE}`, a signature name),
`headers:`, basic auth (`username`/`password`) or a bearer `token`. The reference is the
delivery id: a gateway that deduplicates by client reference (`dedupe: true`) makes a
resend after a crash harmless.

The answer: 2xx is accepted unless a `success:` rule says otherwise (`body: "0"`: the
trimmed body must be exactly that; `json_field: code, equals: 0`: a field of the JSON
body); `id_field` names the JSON field holding the gateway's message id. 408, 429 and 5xx
are retried; other answers fail for good. No answer after the request went out is
"in doubt"; a connection that never opened is retried.
"""

from __future__ import annotations

import json
import logging

import httpx
import trio

from ivr.adapters.messaging.settings import ChannelSettings, SmsHttpSettings
from ivr.adapters.messaging.store import StoredMessage
from ivr.adapters.messaging.transport import Attempt, Handoff

MAX_BODY = 64 * 1024
RETRIED = frozenset({408, 425, 429})


class _HideQueries(logging.Filter):
    """httpx logs every request's full URL at INFO; a gateway's key in the query string (the
    `query` style) or the URL must not reach the log, so URLs are logged without either."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(_bare(a) if isinstance(a, httpx.URL) else a for a in record.args)
        return True


def _bare(url: httpx.URL) -> httpx.URL:
    return url.copy_with(query=None, userinfo=b"") if url.query or url.userinfo else url


logging.getLogger("httpx").addFilter(_HideQueries())


class HttpSmsTransport:
    """An HTTP SMS gateway for one `sms` channel (its settings must have `http`)."""

    def __init__(self, settings: ChannelSettings, client: httpx.AsyncClient | None = None) -> None:
        assert settings.http is not None
        self._settings = settings
        self._http: SmsHttpSettings = settings.http
        self._client = client or httpx.AsyncClient(timeout=settings.timeout, follow_redirects=False)
        http = settings.http
        self._auth = httpx.BasicAuth(http.username, http.password or "") if http.username else None

    async def aclose(self) -> None:
        with trio.CancelScope(shield=True):
            await self._client.aclose()

    def request(self, message: StoredMessage) -> httpx.Request:
        """The HTTP request for `message`, without basic auth (`deliver` adds it; no I/O)."""
        http = self._http
        values = {
            http.field_name("to"): message.to,
            http.field_name("text"): message.message or "",
            http.field_name("sender"): self._settings.sender,
            http.field_name("reference"): message.delivery_id,
        }
        payload: dict[str, str] = {k: v for k, v in values.items() if k and v is not None}
        payload.update(http.params)
        headers = dict(http.headers)
        if http.token:
            headers["Authorization"] = f"Bearer {http.token}"
        client = self._client
        match http.style:
            case "json":
                return client.build_request("POST", http.url, json=payload, headers=headers)
            case "form":
                return client.build_request("POST", http.url, data=payload, headers=headers)
            case "query":
                return client.build_request("GET", http.url, params=payload, headers=headers)

    async def deliver(self, message: StoredMessage, handoff: Handoff) -> Attempt:
        request = self.request(message)
        await handoff()
        try:
            response = await self._client.send(request, auth=self._auth)
            body = response.content[:MAX_BODY]
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            return Attempt.of("retry", f"{self._http.where}: no connection ({_name(exc)})")
        except (httpx.WriteError, httpx.WriteTimeout) as exc:
            return Attempt.of("retry", f"{self._http.where}: the request could not be sent ({_name(exc)})")
        except httpx.HTTPError as exc:  # read timeout, dropped connection: the gateway may have it
            return Attempt.of("in_doubt", f"{self._http.where}: no answer to the request ({_name(exc)})")
        return self._judge(response.status_code, body)

    def _judge(self, status: int, body: bytes) -> Attempt:
        text = body.decode("utf-8", errors="replace").strip()
        answer = f"HTTP {status}: {text[:200]}" if text else f"HTTP {status}"
        if status in RETRIED or 500 <= status < 600:
            return Attempt.of("retry", f"the gateway answered {answer}")
        if not 200 <= status < 300:
            return Attempt.of("failed", f"the gateway refused the message: {answer}")
        http = self._http
        data = _json(text) if http.success_field or http.id_field else None
        if http.success_body is not None and text != http.success_body:
            return Attempt.of("failed", f"the gateway answered {answer} (success is {http.success_body!r})")
        if http.success_field is not None:
            found = _field(data, http.success_field)
            if not _same(found, http.success_equals):
                detail = f"{http.success_field} is {found!r}, success is {http.success_equals!r}"
                return Attempt.of("failed", f"the gateway answered {answer} ({detail})")
        reference = _field(data, http.id_field) if http.id_field else None
        return Attempt.of("sent", answer, None if reference is None else str(reference))


def _json(text: str) -> object:
    try:
        return json.loads(text)
    except ValueError:
        return None


def _field(data: object, path: str | None) -> object:
    for part in (path or "").split(".") if path else ():
        if isinstance(data, dict):
            data = data.get(part)
        elif isinstance(data, list) and part.isdigit() and int(part) < len(data):
            data = data[int(part)]
        else:
            return None
    return data


def _same(found: object, expected: str | None) -> bool:
    if isinstance(found, bool):
        found = "true" if found else "false"
    wanted = expected.lower() if expected in ("True", "False") else expected
    return found is not None and str(found) == wanted


def _name(exc: BaseException) -> str:
    return type(exc).__name__

"""The simulate panel's WebSocket, served by hypercorn: a quote call driven by keys, with
the fixtures of a flow test; a flow with errors is refused; a foreign origin is shut out."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import trio
from editor_support import copy_flows, local_context, serving
from trio_websocket import ConnectionRejected, open_websocket_url

from ivr.editor.app import build_editor_app
from ivr.editor.context import EditorContext

QUOTE_TEST = "a quote read in full, the period highs and lows, a repeat, then an unknown code"


async def _cookie(url: str, context: EditorContext) -> str:
    import httpx

    assert context.local is not None
    async with httpx.AsyncClient() as http:
        response = await http.get(f"{url}/?token={context.local.token}")
    return f"ivr_editor={response.cookies['ivr_editor']}"


async def _until(ws: Any, wanted: str, seen: list[dict[str, Any]], timeout: float = 15) -> dict[str, Any]:
    with trio.fail_after(timeout):
        while True:
            message = json.loads(await ws.get_message())
            seen.append(message)
            if message["type"] == wanted:
                return message


async def test_a_quote_call_runs_on_keys_and_fixtures_and_reports_its_path(tmp_path: Path) -> None:
    folder = copy_flows(tmp_path)
    context = local_context(folder, tmp_path)
    text = (folder / "quotes.yaml").read_text(encoding="utf-8")
    async with serving(build_editor_app(context, check_bundle=False)) as url:
        cookie = await _cookie(url, context)
        ws_url = url.replace("http://", "ws://") + "/api/simulate"
        async with open_websocket_url(ws_url, extra_headers=[("Cookie", cookie)]) as ws:
            await ws.send_message(
                json.dumps(
                    {
                        "type": "start",
                        "file": "quotes.yaml",
                        "text": text,
                        "at": "2026-11-27T10:00:00+08:00",
                        "fixtures": {"test": {"file": "quotes.test.yaml", "name": QUOTE_TEST}},
                    }
                )
            )
            seen: list[dict[str, Any]] = []
            prompt = await _until(ws, "prompt", seen)
            assert "六位证券代码" in prompt["text"]
            await _until(ws, "waiting", seen)
            await ws.send_message(json.dumps({"type": "keys", "keys": "600036"}))
            quote = await _until(ws, "prompt", seen)
            assert "招商银行" in quote["text"]
            await ws.send_message(json.dumps({"type": "hangup"}))
            ended = await _until(ws, "ended", seen)
    entered = [m["node"] for m in seen if m["type"] == "event" and m["kind"] == "node_entered"]
    assert entered[:4] == ["ask_code", "fetch", "route", "read_quote"]
    assert ended["how"] == "caller_hangup"
    assert any(m["type"] == "event" and m["kind"] == "operation" for m in seen)


async def test_a_flow_with_errors_is_refused_with_its_diagnostics(tmp_path: Path) -> None:
    folder = copy_flows(tmp_path)
    context = local_context(folder, tmp_path)
    text = (folder / "quotes.yaml").read_text(
        encoding="utf-8"
    ) + "\n  stray: {type: say, prompt: x, next: nowhere}\n"
    async with serving(build_editor_app(context, check_bundle=False)) as url:
        cookie = await _cookie(url, context)
        async with open_websocket_url(
            url.replace("http://", "ws://") + "/api/simulate", extra_headers=[("Cookie", cookie)]
        ) as ws:
            await ws.send_message(json.dumps({"type": "start", "file": "quotes.yaml", "text": text}))
            refused = await _until(ws, "refused", [])
    assert refused["error"] == "refused" and any(d["code"] == "FL301" for d in refused["diagnostics"])


async def test_a_socket_from_another_origin_or_without_a_session_is_shut(tmp_path: Path) -> None:
    folder = copy_flows(tmp_path)
    context = local_context(folder, tmp_path)
    async with serving(build_editor_app(context, check_bundle=False)) as url:
        cookie = await _cookie(url, context)
        ws_url = url.replace("http://", "ws://") + "/api/simulate"
        for headers in ([("Cookie", cookie), ("Origin", "http://evil.example")], []):
            with pytest.raises(ConnectionRejected):
                async with open_websocket_url(ws_url, extra_headers=headers) as ws:
                    await ws.get_message()


async def test_prompts_come_with_espeak_audio_the_browser_can_fetch(tmp_path: Path) -> None:
    import shutil

    import httpx

    from ivr.commands.edit import espeak_speech

    if shutil.which("espeak-ng") is None:
        pytest.skip("apt-get install espeak-ng")
    folder = copy_flows(tmp_path)
    context = local_context(folder, tmp_path, speech=espeak_speech(tmp_path / "tts"))
    text = (folder / "quotes.yaml").read_text(encoding="utf-8")
    async with serving(build_editor_app(context, check_bundle=False)) as url:
        cookie = await _cookie(url, context)
        async with open_websocket_url(
            url.replace("http://", "ws://") + "/api/simulate", extra_headers=[("Cookie", cookie)]
        ) as ws:
            await ws.send_message(
                json.dumps({"type": "start", "file": "quotes.yaml", "text": text, "language": "en"})
            )
            prompt = await _until(ws, "prompt", [])
            await ws.send_message(json.dumps({"type": "hangup"}))
        async with httpx.AsyncClient(headers={"Cookie": cookie}) as http:
            audio = await http.get(f"{url}/{prompt['audio']}")
            stranger = await http.get(f"{url}/api/audio/not-a-key")
    assert prompt["language"] == "en" and audio.headers["content-type"] == "audio/wav"
    assert audio.content[:4] == b"RIFF" and len(audio.content) > 1000
    assert stranger.status_code == 404

"""`SipAgentConnector`: the ACD's `AgentConnector` port over SIP, plus the CTI's call control.

Place: beside `ivr.adapters.sip.leg`; the composition root passes it to `open_acd` and to
`ivr.adapters.cti.build_cti_app`. pjsua2 is reached only through `ivr.adapters.sip.pjthread`.

- `ring`: an INVITE to the agent's phone carrying the screen-pop essentials in headers
  (`X-IVR-Call`, `X-IVR-Queue`, `X-IVR-Caller`, `X-IVR-Screen`: percent-encoded, secrets
  left out). 486/600/603 -> "busy"; no answer within the ring timeout (CANCEL sent), 408,
  480 -> "no_answer"; anything else -> "failed". The caller hanging up cancels the INVITE
  and raises `CallEnded`. The desktop's hang-up while ringing declines (-> "no_answer").
- `bridge`: the caller's prompt stops, the two calls' audio is cross-connected in the
  conference bridge, and a recorder takes both parties (mixed, 8 kHz mono WAV) into
  `recordings_dir`; it is stored with `CallRecords.store_recording` on the caller's record.
  It returns when either side hangs up, the desktop hangs up, or after a hand-over (transfer)
  has run its course; the agent's call is always hung up on the way out.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from urllib.parse import quote

import trio

from ivr.adapters.cti.calls import HandOver, innermost
from ivr.adapters.cti.control import Conversation, Conversations
from ivr.adapters.cti.protocol import safe_screen
from ivr.adapters.sip.pjthread import CallHandle, SipEndpoint, SipError
from ivr.runtime.ports import AgentEndpoint, CallEnded, CallLeg, CallRecords, Recording, RingResult

log = logging.getLogger(__name__)
BUSY = {486, 600, 603}
NO_ANSWER = {408, 480, 487}
MAX_SCREEN_HEADER = 512
_HANGUP_GRACE = 5.0


class SipAgentConnector:
    def __init__(
        self,
        endpoint: SipEndpoint,
        *,
        records: CallRecords | None = None,
        recordings_dir: Path | None = None,
        dial_domain: str = "127.0.0.1",
    ) -> None:
        self.endpoint = endpoint
        self.records = records
        self.recordings_dir = recordings_dir
        self.dial_domain = dial_domain
        self.conversations = Conversations()
        self._answered: dict[str, CallHandle] = {}
        self.recordings: list[Recording] = []
        self._recorded = 0

    # -- AgentConnector --------------------------------------------------------------------
    async def ring(
        self, leg: CallLeg, agent: AgentEndpoint, *, ring_timeout: Decimal, screen: Mapping[str, object]
    ) -> RingResult:
        caller = sip_handle(leg)
        if caller is None:
            log.error("call %s is not a SIP call: it cannot be bridged to an agent", leg.call_id)
            return "failed"
        conversation = self.conversations.open(leg.call_id)
        phone: CallHandle | None = None
        answer: RingResult = "failed"
        try:
            phone = await self.endpoint.make_call_with_headers(
                self._uri(agent.address), screen_headers(leg, screen)
            )
            answer = await _wait_answer(phone, caller, conversation, float(ring_timeout))
        except SipError as exc:
            log.warning("cannot ring agent %s at %s: %s", agent.agent_id, agent.address, exc)
        finally:
            # Whatever ends the ring (an answer, a refusal, the caller's hang-up, a
            # cancellation at any await above), the conversation and the phone have an owner:
            # `bridge` for an answered phone, else nobody, so both are closed here.
            if caller.ended.is_set():
                answer = "failed"
            if answer == "answered" and phone is not None:
                self._answered[leg.call_id] = phone
            else:
                self.conversations.close(conversation)
                if phone is not None:
                    with trio.CancelScope(shield=True), trio.move_on_after(_HANGUP_GRACE):
                        await phone.hangup(487)
        if caller.ended.is_set():
            raise CallEnded(leg.call_id)
        return answer

    async def bridge(self, leg: CallLeg, agent: AgentEndpoint) -> None:
        phone, caller = self._answered.pop(leg.call_id, None), sip_handle(leg)
        conversation = self.conversations.get(leg.call_id) or self.conversations.open(leg.call_id)
        if phone is None or caller is None:
            self.conversations.close(conversation)
            return
        conversation.talking = True
        try:
            await self._talk(leg, agent, caller, phone, conversation)
            if not caller.ended.is_set():
                await self.conversations.run_next(conversation, leg)
        finally:
            self.conversations.close(conversation)

    async def _talk(
        self,
        leg: CallLeg,
        agent: AgentEndpoint,
        caller: CallHandle,
        phone: CallHandle,
        conversation: Conversation,
    ) -> None:
        started, path = trio.current_time(), None
        try:
            await caller.connect_audio(phone)  # stops the caller's prompt first
            path = await self._start_recording(leg, agent, caller, phone)
            await _first(phone.ended, caller.ended, conversation.end)
        except (SipError, CallEnded) as exc:
            log.info("bridge of call %s with agent %s ended: %s", leg.call_id, agent.agent_id, exc)
        finally:
            with trio.CancelScope(shield=True), trio.move_on_after(_HANGUP_GRACE):
                if path is not None:
                    await self._store_recording(leg, agent, caller, path, trio.current_time() - started)
                await phone.hangup()

    # -- CallControl (for the CTI) ---------------------------------------------------------
    async def hangup(self, call_id: str) -> None:
        await self.conversations.hangup(call_id)

    async def hand_over(self, call_id: str, then: HandOver) -> None:
        await self.conversations.hand_over(call_id, then)

    # -- recording ---------------------------------------------------------------------------
    async def _start_recording(
        self, leg: CallLeg, agent: AgentEndpoint, caller: CallHandle, phone: CallHandle
    ) -> Path | None:
        folder = self.recordings_dir
        if folder is None:
            return None
        await trio.to_thread.run_sync(lambda: folder.mkdir(parents=True, exist_ok=True))
        self._recorded += 1  # a call may meet the same agent twice (transfers)
        name = f"{_safe_name(innermost(leg).call_id)}-agent-{_safe_name(agent.agent_id)}-{self._recorded}"
        path = folder / f"{name}.wav"
        await caller.start_pair_recording(phone, str(path))
        return path

    async def _store_recording(
        self, leg: CallLeg, agent: AgentEndpoint, caller: CallHandle, path: Path, seconds: float
    ) -> None:
        await caller.stop_pair_recording()
        recording = Recording(path.stem, Decimal(str(round(seconds, 2))), str(path), "hangup")
        self.recordings.append(recording)
        if self.records is None:
            return
        metadata = {"kind": "agent", "agent": agent.agent_id, "parties": "caller+agent", "channels": 1}
        try:
            await self.records.store_recording(innermost(leg).call_id, recording, metadata)
        except Exception:
            log.exception("call %s: the agent recording %s was not recorded", leg.call_id, path)

    def _uri(self, address: str) -> str:
        return address if address.startswith(("sip:", "sips:")) else f"sip:{address}@{self.dial_domain}"


def sip_handle(leg: CallLeg) -> CallHandle | None:
    """The pjsua2 call beneath a SIP leg (through `RenamedLeg`s); None for other legs."""
    handle = getattr(innermost(leg), "handle", None)
    return handle if isinstance(handle, CallHandle) else None


def screen_headers(leg: CallLeg, screen: Mapping[str, object]) -> dict[str, str]:
    """The INVITE's screen-pop headers: percent-encoded, no secrets, bounded in size."""
    scalars = {k: v for k, v in safe_screen(screen).items() if isinstance(v, str | int | float | bool)}
    pairs = [f"{quote(str(k), safe='')}={quote(str(v), safe='')}" for k, v in scalars.items()]
    encoded = ""
    for pair in pairs:
        if len(encoded) + len(pair) + 1 > MAX_SCREEN_HEADER:
            break
        encoded = f"{encoded}&{pair}" if encoded else pair
    return {
        "X-IVR-Call": quote(innermost(leg).call_id, safe=""),
        "X-IVR-Queue": quote(str(screen.get("queue", "")), safe=""),
        "X-IVR-Caller": quote(leg.caller, safe="+"),
        "X-IVR-Screen": encoded or "-",
    }


async def _wait_answer(
    phone: CallHandle, caller: CallHandle, conversation: Conversation, timeout: float
) -> RingResult:
    with trio.move_on_after(timeout):
        await _first(phone.confirmed, phone.ended, caller.ended, conversation.end)
    if caller.ended.is_set():
        return "failed"
    if phone.ended.is_set():
        status = phone.end_status
        return "busy" if status in BUSY else "no_answer" if status in NO_ANSWER else "failed"
    if not phone.confirmed.is_set() or conversation.end.is_set():
        return "no_answer"
    with trio.move_on_after(2):
        await _first(phone.media_ready, phone.ended)
    return "answered" if phone.media_ready.is_set() and not phone.ended.is_set() else "failed"


async def _first(*events: trio.Event) -> None:
    if any(event.is_set() for event in events):
        return
    async with trio.open_nursery() as nursery:
        for event in events:

            async def wait(event: trio.Event = event) -> None:
                await event.wait()
                nursery.cancel_scope.cancel()

            nursery.start_soon(wait)


def _safe_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", text)[:80]

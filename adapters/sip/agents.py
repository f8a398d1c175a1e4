"""`SipAgentConnector`: the ACD's `AgentConnector` port over SIP, plus the CTI's call control.

Place: beside `ivr.adapters.sip.leg`; the composition root passes it to `open_acd` and to
`ivr.adapters.cti.build_cti_app`. pjsua2 is reached only through `ivr.adapters.sip.pjthread`.
The ACD hands it the caller's own leg: a `SipCallLeg`, whose `handle` is the pjsua2 call.

- `ring`: an INVITE to the agent's phone from the caller (its From, `P-Asserted-Identity`
  and `Remote-Party-ID` name the caller, so a phone shows who calls rather than the IVR)
  with the screen-pop essentials in headers (`X-IVR-Call`, `X-IVR-Queue`, `X-IVR-Caller`,
  `X-IVR-Screen`: percent-encoded, secrets left out). 486/600/603 -> "busy"; no answer
  within the ring timeout (CANCEL sent), 408, 480, 487 -> "no_answer"; anything else ->
  "failed". The caller hanging up cancels the INVITE and raises `CallEnded`. The desktop's
  hang-up while ringing declines (-> "no_answer").
- `bridge`: runs the call's `Conversation` (`ivr.adapters.cti.control`) over `SipMedia`:
  audio links in pjsua2's conference bridge, hold music to the caller, the keypad's DTMF,
  consultations and hand-offs dialled with the same caller headers. The conversation is
  recorded in two channels (8 kHz stereo WAV in `recordings_dir`): the caller on the left,
  the agent and any third party on the right, each a mono pjsua2 recorder on the same media
  clock, merged when the conversation ends (`ivr.adapters.sip.stereo`), fsynced, then stored
  with `CallRecords.store_recording` on the caller's record. While the caller keys a secret
  both channels record silence.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from urllib.parse import quote

import trio

from ivr.adapters.cti.control import (
    Conversation,
    ConversationControl,
    Conversations,
    Dial,
    Line,
)
from ivr.adapters.cti.mixing import Link, Role
from ivr.adapters.cti.protocol import safe_screen
from ivr.adapters.events import first_set
from ivr.adapters.sip.leg import SipCallLeg
from ivr.adapters.sip.pjthread import CallHandle, SipEndpoint, SipError
from ivr.adapters.sip.stereo import merge_channels
from ivr.runtime.ports import (
    AgentEndpoint,
    CallEnded,
    CallFlows,
    CallLeg,
    CallRecords,
    Recording,
    RingResult,
)

log = logging.getLogger(__name__)
BUSY = {486, 600, 603}
NO_ANSWER = {408, 480, 487}
MAX_SCREEN_HEADER = 512
_HANGUP_GRACE = 5.0
TRACKS: dict[str, tuple[Role, ...]] = {"caller": ("caller",), "agent": ("agent", "other")}
"""A conversation's recording: the caller on the left channel; the agent and any third
party (a consulted agent, a number) on the right."""


class SipAgentConnector(ConversationControl):
    def __init__(
        self,
        endpoint: SipEndpoint,
        *,
        records: CallRecords | None = None,
        recordings_dir: Path | None = None,
        dial_domain: str = "127.0.0.1",
        hold_music: Path | None = None,
    ) -> None:
        self.endpoint = endpoint
        self.records = records
        self.recordings_dir = recordings_dir
        self.dial_domain = dial_domain
        self.hold_music = hold_music
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
        declined = self.conversations.ringing(leg.call_id)
        headers = screen_headers(leg.call_id, leg.caller, screen, self.dial_domain)
        phone: CallHandle | None = None
        answer: RingResult = "failed"
        try:
            phone = await self.endpoint.make_call_with_headers(
                self.uri(agent.address), headers, caller_id=headers["P-Asserted-Identity"]
            )
            answer = await wait_answer(phone, float(ring_timeout), caller.ended, declined)
        except SipError as exc:
            log.warning("cannot ring agent %s at %s: %s", agent.agent_id, agent.address, exc)
        finally:
            # Whatever ends the ring (an answer, a refusal, the caller's hang-up, a
            # cancellation at any await above), the ring and the phone have an owner:
            # `bridge` for an answered phone, else nobody, so both are closed here.
            self.conversations.rung(leg.call_id)
            if caller.ended.is_set():
                answer = "failed"
            if answer == "answered" and phone is not None:
                self._answered[leg.call_id] = phone
            elif phone is not None:
                with trio.CancelScope(shield=True), trio.move_on_after(_HANGUP_GRACE):
                    await phone.hangup(487)
        if caller.ended.is_set():
            raise CallEnded(leg.call_id)
        return answer

    async def bridge(self, leg: CallLeg, agent: AgentEndpoint, *, flows: CallFlows | None = None) -> None:
        phone, caller = self._answered.pop(leg.call_id, None), sip_handle(leg)
        if phone is None or caller is None:
            return
        media = SipMedia(self, caller, self._recording_path(leg.call_id, agent))
        lines: dict[Role, Line] = {"caller": SipLine(caller), "agent": SipLine(phone)}
        conversation = Conversation(leg.call_id, media, lines, flows=flows)
        started = trio.current_time()
        try:
            await self.conversations.converse(conversation)
        except SipError as exc:
            log.info("conversation of call %s with agent %s ended: %s", leg.call_id, agent.agent_id, exc)
        finally:
            with trio.CancelScope(shield=True), trio.move_on_after(_HANGUP_GRACE):
                await media.close(leg.call_id, agent, trio.current_time() - started, conversation.labels)
                await phone.hangup()

    # -- helpers -----------------------------------------------------------------------------
    def uri(self, address: str) -> str:
        return address if address.startswith(("sip:", "sips:")) else f"sip:{address}@{self.dial_domain}"

    def _recording_path(self, call_id: str, agent: AgentEndpoint) -> Path | None:
        if self.recordings_dir is None:
            return None
        self._recorded += 1  # a call may meet the same agent twice (transfers)
        name = f"{_safe_name(call_id)}-agent-{_safe_name(agent.agent_id)}-{self._recorded}"
        return self.recordings_dir / f"{name}.wav"


def sip_handle(leg: CallLeg) -> CallHandle | None:
    """The pjsua2 call of a SIP caller's leg; None for legs of other kinds."""
    return leg.handle if isinstance(leg, SipCallLeg) else None


class SipLine:
    """A `Line` over one pjsua2 call."""

    def __init__(self, handle: CallHandle) -> None:
        self.handle = handle

    @property
    def ended(self) -> trio.Event:
        return self.handle.ended

    async def answered(self, timeout: float) -> RingResult:
        return await wait_answer(self.handle, timeout)

    async def hang_up(self) -> None:
        await self.handle.hangup()

    async def send_dtmf(self, digits: str) -> None:
        await self.handle.send_dtmf(digits)


class SipMedia:
    """A conversation's audio in pjsua2's conference bridge: links, music, a two-track
    recording."""

    def __init__(self, connector: SipAgentConnector, caller: CallHandle, recording: Path | None) -> None:
        self.connector = connector
        self.caller = caller
        self.recording = recording
        self.recording_started = False
        self.agents: list[str] = []
        self._links: set[tuple[CallHandle, CallHandle]] = set()
        self._music: bool | None = None  # unknown until the first `apply`

    async def dial(self, target: Dial) -> Line:
        headers = screen_headers(target.call_id, target.caller, target.screen, self.connector.dial_domain)
        phone = await self.connector.endpoint.make_call_with_headers(
            self.connector.uri(target.address), headers, caller_id=headers["P-Asserted-Identity"]
        )
        if target.agent_id is not None:
            self.agents.append(target.agent_id)
        return SipLine(phone)

    async def apply(self, lines: Mapping[Role, Line], links: frozenset[Link], music: bool) -> None:
        handles = {role: line.handle for role, line in lines.items() if isinstance(line, SipLine)}
        wanted = {(handles[a], handles[b]) for a, b in links if a in handles and b in handles}
        for a, b in self._links - wanted:
            await a.transmit(b, False)
        for a, b in wanted - self._links:
            await a.transmit(b, True)
        self._links = wanted
        if music != self._music:  # the first time too: no queue music under a conversation
            self._music = music
            if music and self.connector.hold_music is not None:
                await self.caller.start_music(str(self.connector.hold_music))
            else:
                await self.caller.stop_playback()

    async def record(self, lines: Mapping[Role, Line], voices: frozenset[Role]) -> None:
        """Two tracks: the caller's voice (left), the agent's and any third party's (right)."""
        if self.recording is None:
            return
        if not self.recording_started:
            await trio.to_thread.run_sync(lambda: self.recording_dir.mkdir(parents=True, exist_ok=True))
            self.recording_started = True
        handles = {role: line.handle for role, line in lines.items() if isinstance(line, SipLine)}
        inputs = {
            track: [handles[role] for role in roles if role in voices and role in handles]
            for track, roles in TRACKS.items()
        }
        await self.caller.record_tracks(self.track_paths(), inputs)

    def track_paths(self) -> dict[str, str]:
        assert self.recording is not None
        stem = self.recording.stem
        return {track: str(self.recording.with_name(f"{stem}.{track}.wav")) for track in TRACKS}

    @property
    def recording_dir(self) -> Path:
        assert self.recording is not None
        return self.recording.parent

    @property
    def recording_id(self) -> str | None:
        return None if self.recording is None else self.recording.stem

    async def close(
        self, call_id: str, agent: AgentEndpoint, seconds: float, labels: Mapping[str, list[str]]
    ) -> None:
        """Close the recording, merge its tracks into channels (caller left, agent right),
        make the file durable and note it on the caller's record."""
        if not self.recording_started or self.recording is None:
            return
        await self.caller.stop_tracks()
        path, tracks = self.recording, self.track_paths()
        await trio.to_thread.run_sync(
            lambda: merge_channels(Path(tracks["caller"]), Path(tracks["agent"]), path)
        )
        recording = Recording(path.stem, Decimal(str(round(seconds, 2))), str(path), "hangup")
        self.connector.recordings.append(recording)
        records = self.connector.records
        if records is None:
            return
        agents = [agent.agent_id, *(a for a in self.agents if a != agent.agent_id)]
        metadata: dict[str, object] = {
            **labels,
            "kind": "agent",
            "agent": agent.agent_id,
            "agents": agents,
            "channels": 2,
            "left": "caller",
            "right": "agent",
        }
        try:
            await records.store_recording(call_id, recording, metadata)
        except Exception:
            log.exception("call %s: the agent recording %s was not recorded", call_id, self.recording)


def screen_headers(
    call_id: str, caller: str, screen: Mapping[str, object], host: str = "127.0.0.1"
) -> dict[str, str]:
    """The INVITE's caller headers: who calls (for the phone's display), and the call and
    its screen data percent-encoded, without secrets, bounded in size."""
    scalars = {k: v for k, v in safe_screen(screen).items() if isinstance(v, str | int | float | bool)}
    pairs = [f"{quote(str(k), safe='')}={quote(str(v), safe='')}" for k, v in scalars.items()]
    encoded = ""
    for pair in pairs:
        if len(encoded) + len(pair) + 1 > MAX_SCREEN_HEADER:
            break
        encoded = f"{encoded}&{pair}" if encoded else pair
    number = re.sub(r"[^0-9A-Za-z+*#.-]", "", caller)[:64] or "anonymous"
    name = re.sub(r'["\\\r\n<>]', "", str(screen.get("customer") or number))[:64]
    identity = f'"{name}" <sip:{number}@{host}>'
    return {
        "P-Asserted-Identity": identity,
        "Remote-Party-ID": f"{identity};party=calling;screen=yes;privacy=off",
        "X-IVR-Call": quote(call_id, safe=""),
        "X-IVR-Queue": quote(str(screen.get("queue", "")), safe=""),
        "X-IVR-Caller": quote(caller, safe="+"),
        "X-IVR-Screen": encoded or "-",
    }


async def wait_answer(phone: CallHandle, timeout: float, *gone: trio.Event) -> RingResult:
    """How a dialled phone answered within `timeout`: "answered" once audio flows. Any of
    `gone` (the caller hung up, the desktop declined) ends the wait as "no_answer"."""
    with trio.move_on_after(timeout):
        await first_set(phone.confirmed, phone.ended, *gone)
    if phone.ended.is_set():
        status = phone.end_status
        return "busy" if status in BUSY else "no_answer" if status in NO_ANSWER else "failed"
    if not phone.confirmed.is_set() or any(event.is_set() for event in gone):
        return "no_answer"
    with trio.move_on_after(2):
        await first_set(phone.media_ready, phone.ended)
    return "answered" if phone.media_ready.is_set() and not phone.ended.is_set() else "failed"


def _safe_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", text)[:80]

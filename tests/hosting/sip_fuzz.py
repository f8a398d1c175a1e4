"""SIP entry fuzzing: mutated INVITE/ACK/INFO/BYE/CANCEL/REFER/OPTIONS sent over UDP.

Used by `test_sip_fuzz.py` (a bounded run in CI) and `scripts/fuzz_sip.py` (the long run).
The seeds are the messages the SIP tests exchange, written out as the sipp scenarios in
`tests/hosting/scenarios` and `tests/adapters/sip/scenarios` send them (the same headers,
the same SDP, DTMF by INFO), plus a REFER and a re-INVITE. Half the messages go out of any
dialog; the other half go into live dialogs this module opens itself (a real INVITE, the
200's To tag, an ACK), keeping the dialog's identifiers intact most of the time so that
mutations reach the dialog and transaction layers and the call's own handlers (DTMF by
INFO, REFER, BYE) rather than dying in the parser. Mutations work on lines (drop, repeat,
swap, empty, overlong, hostile header values, wrong numbers) and on bytes (flips, inserts,
deletes, truncation, NUL, non-UTF-8).

The report counts what was sent and what came back; the caller checks the server itself
(alive, answering, memory).
"""

from __future__ import annotations

import random
import re
import socket
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field

CRLF = "\r\n"
SDP = CRLF.join(
    [
        "v=0",
        "o=caller 1 1 IN IP4 127.0.0.1",
        "s=-",
        "c=IN IP4 127.0.0.1",
        "t=0 0",
        "m=audio {rtp} RTP/AVP 0 101",
        "a=rtpmap:0 PCMU/8000",
        "a=rtpmap:101 telephone-event/8000",
        "a=fmtp:101 0-16",
        "a=ptime:20",
        "a=sendrecv",
        "",
    ]
)
HOSTILE = [
    "",
    " ",
    "\t",
    "<>",
    "<sip:>",
    "sip:",
    "0",
    "-1",
    "4294967296",
    "99999999999999999999",
    "1.5",
    "%00",
    "%s%s%s%n",
    "A" * 5000,
    "\u6d4b\u8bd5",
    "<sip:x@[::1]:0;transport=sctp>",
    "<sips:\u0000@127.0.0.1>",
    "sip:95500@127.0.0.1;" + "p=1;" * 300,
    '"' * 3,
    ";;;;;",
    ",,,,",
    "z9hG4bK",
    "SIP/2.0/UDP",
]
HEADERS = ["Via", "From", "To", "Call-ID", "CSeq", "Contact", "Max-Forwards", "Content-Type",
           "Content-Length", "Refer-To", "Referred-By", "Route", "Record-Route", "Expires",
           "Supported", "Require", "Allow", "Event", "Replaces", "Session-Expires",
           "Authorization"]  # fmt: skip


def _request(method: str, uri: str, dialog: Dialog, cseq: int, extra: list[str], body: str = "") -> str:
    lines = [
        f"{method} {uri} SIP/2.0",
        f"Via: SIP/2.0/UDP 127.0.0.1:{dialog.port};rport;branch=z9hG4bK-{uuid.uuid4().hex[:12]}",
        f'From: "Caller" <sip:{dialog.caller}@127.0.0.1:{dialog.port}>;tag={dialog.from_tag}',
        f"To: <{uri}>" + (f";tag={dialog.to_tag}" if dialog.to_tag else ""),
        f"Call-ID: {dialog.call_id}",
        f"CSeq: {cseq} {method if method != 'ACK' else 'ACK'}",
        f"Contact: <sip:{dialog.caller}@127.0.0.1:{dialog.port}>",
        "Max-Forwards: 70",
        *extra,
        f"Content-Length: {len(body.encode())}",
        "",
        body,
    ]
    return CRLF.join(lines)


@dataclass
class Dialog:
    """What identifies one call from our side (and, once answered, theirs)."""

    port: int
    caller: str
    call_id: str = field(default_factory=lambda: f"{uuid.uuid4().hex}@127.0.0.1")
    from_tag: str = field(default_factory=lambda: uuid.uuid4().hex[:10])
    to_tag: str = ""
    cseq: int = 1


def seeds(dialog: Dialog, target: str, rtp: int) -> dict[str, str]:
    """Every kind of message the tests exchange, for `dialog`, to `target` (host:port)."""
    number = "95500"
    uri = f"sip:{number}@{target}"
    dtmf = CRLF.join(["Signal=5", "Duration=160", ""])
    c = dialog.cseq
    return {
        "INVITE": _request("INVITE", uri, dialog, c, ["Content-Type: application/sdp"], SDP.format(rtp=rtp)),
        "ACK": _request("ACK", uri, dialog, c, []),
        "INFO": _request("INFO", uri, dialog, c + 1, ["Content-Type: application/dtmf-relay"], dtmf),
        "BYE": _request("BYE", uri, dialog, c + 10, []),  # after every other request
        "CANCEL": _request("CANCEL", uri, dialog, c, []),
        "REFER": _request(
            "REFER",
            uri,
            dialog,
            c + 3,
            [f"Refer-To: <sip:8001@{target}>", f"Referred-By: <sip:{dialog.caller}@127.0.0.1>"],
        ),
        "OPTIONS": _request("OPTIONS", f"sip:{target}", dialog, c + 4, ["Accept: application/sdp"]),
        "re-INVITE": _request(
            "INVITE", uri, dialog, c + 5, ["Content-Type: application/sdp"], SDP.format(rtp=rtp + 2)
        ),
    }


class Mutator:
    """Seeded mutations of SIP text; `mutate` returns the bytes to send."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)

    def mutate(self, message: str, *, keep_dialog: bool) -> bytes:
        rng = self.rng
        lines = message.split(CRLF)
        for _ in range(rng.choice((1, 1, 1, 2, 3, 5))):
            lines = self._line_mutation(lines, keep_dialog)
        data = CRLF.join(lines).encode("utf-8", "surrogatepass")
        if rng.random() < 0.3:
            data = self._byte_mutation(data)
        return data[:65000]

    def _line_mutation(self, lines: list[str], keep_dialog: bool) -> list[str]:
        rng, lines = self.rng, list(lines)
        i = rng.randrange(len(lines))
        protected = keep_dialog and re.match(r"(Call-ID|From|To|CSeq):", lines[i]) is not None
        kind = rng.randrange(12)
        if kind == 0 and not protected:
            del lines[i]
        elif kind == 1:
            lines.insert(i, lines[i])
        elif kind == 2:
            j = rng.randrange(len(lines))
            lines[i], lines[j] = lines[j], lines[i]
        elif kind == 3:
            lines.insert(i, "")
        elif kind == 4 and not protected and ":" in lines[i]:
            name = lines[i].split(":", 1)[0]
            lines[i] = f"{name}: {rng.choice(HOSTILE)}"
        elif kind == 5:
            lines.insert(i, f"{rng.choice(HEADERS)}: {rng.choice(HOSTILE)}")
        elif kind == 6:
            lines.insert(i, f"Content-Length: {rng.choice(['0', '-5', '100000', 'x', '2147483648'])}")
        elif kind == 7 and i == 0:
            method = rng.choice(
                ["INVITE", "BYE", "FOO", "", "invite", "SIP/2.0", "PRACK", "UPDATE", "MESSAGE"]
            )
            lines[0] = " ".join([method, *lines[0].split(" ")[1:]])
        elif kind == 8:
            lines[i] = lines[i] + rng.choice(HOSTILE)
        elif kind == 9 and lines[i].startswith(("m=", "c=", "a=", "o=", "v=")):
            lines[i] = lines[i][:2] + rng.choice([*HOSTILE, "audio 0 RTP/AVP", "IN IP6 ::1", "rtpmap:0 x/0"])
        elif kind == 10:
            lines = lines[: rng.randrange(1, len(lines) + 1)]
        elif kind == 11:
            lines.insert(i, "Via: SIP/2.0/UDP 127.0.0.1:1;branch=z9hG4bK" + "x" * rng.randrange(1, 3000))
        return lines or [""]

    def _byte_mutation(self, data: bytes) -> bytes:
        rng, buf = self.rng, bytearray(data)
        for _ in range(rng.randrange(1, 8)):
            if not buf:
                break
            i, kind = rng.randrange(len(buf)), rng.randrange(5)
            if kind == 0:
                buf[i] ^= 1 << rng.randrange(8)
            elif kind == 1:
                buf.insert(i, rng.randrange(256))
            elif kind == 2:
                del buf[i]
            elif kind == 3:
                buf[i:i] = rng.choice([b"\x00", b"\xff\xfe", b"\r\n", b"\r\n\r\n", b"\xc3(", b"%"])
            else:
                del buf[i:]
        return bytes(buf)


@dataclass
class FuzzReport:
    sent: Counter[str] = field(default_factory=Counter)  # by seed kind
    responses: Counter[str] = field(default_factory=Counter)  # by status class ("2xx", ...)
    dialogs: int = 0  # live dialogs opened for in-dialog mutations

    @property
    def total(self) -> int:
        return sum(self.sent.values())


class Fuzzer:
    """Sends mutated SIP to `host:port` from one UDP socket (blocking, short timeouts)."""

    def __init__(self, host: str, port: int, seed: int, caller_base: int = 13700000000) -> None:
        self.target = f"{host}:{port}"
        self.address = (host, port)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.5)
        self.port = self.sock.getsockname()[1]
        self.mutator = Mutator(seed)
        self.report = FuzzReport()
        self._caller = caller_base

    def close(self) -> None:
        self.sock.close()

    def run(self, count: int) -> FuzzReport:
        """Send `count` mutated messages, half of them inside live dialogs."""
        rng = self.mutator.rng
        sent = 0
        while sent < count:
            if rng.random() < 0.5:
                sent += self._out_of_dialog(min(50, count - sent))
            else:
                sent += self._in_dialog(min(50, count - sent))
        return self.report

    def _new_dialog(self) -> Dialog:
        self._caller += 1
        return Dialog(self.port, str(self._caller))

    def _out_of_dialog(self, n: int) -> int:
        for _ in range(n):
            dialog = self._new_dialog()
            kind, text = self.mutator.rng.choice(list(seeds(dialog, self.target, 9).items()))
            self._send(kind, self.mutator.mutate(text, keep_dialog=False))
        self._drain()
        return n

    def _in_dialog(self, n: int) -> int:
        dialog = self._new_dialog()
        messages = seeds(dialog, self.target, 9)
        self.sock.sendto(messages["INVITE"].encode(), self.address)
        to_tag = self._answer_tag(dialog.call_id)
        if to_tag is None:  # refused or busy: mutate out of dialog instead
            return self._out_of_dialog(n)
        self.report.dialogs += 1
        dialog.to_tag = to_tag
        messages = seeds(dialog, self.target, 9)
        self.sock.sendto(messages["ACK"].encode(), self.address)
        kinds = ["INFO", "INFO", "REFER", "re-INVITE", "OPTIONS", "BYE", "CANCEL"]
        for _ in range(n):
            kind = self.mutator.rng.choice(kinds)
            keep = self.mutator.rng.random() < 0.8
            self._send(kind, self.mutator.mutate(messages[kind], keep_dialog=keep))
        self.sock.sendto(messages["BYE"].encode(), self.address)  # end it cleanly
        self._drain()
        return n

    def _answer_tag(self, call_id: str, wait: float = 5.0) -> str | None:
        """The To tag of the 200 to our INVITE `call_id`; None when refused or silent."""
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            try:
                data = self.sock.recv(65535)
            except TimeoutError:
                continue
            text = data.decode("utf-8", "replace")
            if call_id not in text or "CSeq: 1 INVITE" not in text:
                continue
            status = text.split(" ", 2)[1] if text.startswith("SIP/2.0 ") else ""
            if status.startswith(("4", "5", "6")):
                return None
            if status == "200":
                match = re.search(r"^To:.*;tag=([^;\s]+)", text, re.M)
                return match.group(1) if match else None
        return None

    def _send(self, kind: str, data: bytes) -> None:
        self.report.sent[kind] += 1
        try:
            self.sock.sendto(data, self.address)
        except OSError:
            self.report.sent["unsendable"] += 1

    def _drain(self) -> None:
        """Read what came back so far (counted by status class), without waiting long."""
        self.sock.settimeout(0.02)
        try:
            while True:
                data = self.sock.recv(65535)
                first = data.split(b"\r\n", 1)[0].decode("utf-8", "replace")
                parts = first.split(" ")
                klass = (
                    f"{parts[1][0]}xx"
                    if first.startswith("SIP/2.0 ") and len(parts) > 1 and parts[1]
                    else "request"
                )
                self.report.responses[klass] += 1
        except (TimeoutError, OSError):
            pass
        finally:
            self.sock.settimeout(0.5)

"""SIP adapter: the runtime's `CallLeg` port over pjsua2 (pjproject, GPL-2+).

Layout, from the wire inwards:
- `pjthread`: the one module that owns the pjsua2 thread; `open_sip_endpoint` yields a
  `SipEndpoint` whose `incoming` channel delivers `CallHandle`s.
- `leg`: `SipCallLeg`, the `CallLeg` on a handle: prompts (TTS WAV files timed in trio,
  barge-in by cancellation), DTMF (RFC 4733 and SIP INFO) into a type-ahead buffer,
  recording, transfer, hang-up.
- `limits`: how many calls the installed pjsua2 build can hold.

The submodules are imported explicitly (`from ivr.adapters.sip.leg import SipCallLeg`) so
that `limits` works where pjsua2 is not installed. Build pjsua2 with
`bash scripts/build-pjsua2.sh .venv`.
"""

"""editor: flow-author tooling on top of `ivr.flowlang` (never SIP)."""

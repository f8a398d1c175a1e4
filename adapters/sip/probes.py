"""A draining process answers SIP OPTIONS probes with 503, so a proxy takes it out of rotation.

Place: the SIP adapter, used by the pj thread only (`pjthread.SipEndpoint`). A proxy in
front of several instances (Kamailio's dispatcher, docs/cluster.md) decides which are up by
their answers to OPTIONS. pjsua answers every out-of-dialog OPTIONS 200 itself (its
`mod-pjsua-options`, pjsua_core.c) and pjsua2 has no hook for it, so a draining instance
would stay in rotation and every new call would cost a 503 and a retry. `ProbeGate`
registers one more pjsip module through ctypes on the extension module (as `limits` reads
its limits), called before pjsua's (priority 63; pjsua's is 64): while `unavailable` it
answers OPTIONS with a stateless 503; otherwise it passes them on to pjsua.

The C structure is `struct pjsip_module` of pjsip 2.12 (sip_module.h): a list link, a
name, id, priority and nine callbacks; only `on_rx_request` is set. The request's method is
read with `pjsip_rx_data_get_info` ("Request msg OPTIONS/cseq=1 (rdata0x...)"), so no other
structure's layout is relied on. Callbacks run in the pj thread (the only one that handles
SIP events); ctypes takes the GIL for them.
"""

from __future__ import annotations

import ctypes
import logging

from ivr.adapters.errors import AdapterError
from ivr.adapters.sip.limits import _library

log = logging.getLogger(__name__)

UNAVAILABLE = 503
_PRIORITY = 63  # PJSIP_MOD_PRIORITY_APPLICATION - 1: before pjsua's OPTIONS handler
_OPTIONS = b"Request msg OPTIONS/"

_OnRxRequest = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p)


class _PjStr(ctypes.Structure):
    _fields_ = [("ptr", ctypes.c_char_p), ("slen", ctypes.c_ssize_t)]


class _PjsipModule(ctypes.Structure):
    _fields_ = [
        ("prev", ctypes.c_void_p),
        ("next", ctypes.c_void_p),
        ("name", _PjStr),
        ("id", ctypes.c_int),
        ("priority", ctypes.c_int),
        ("load", ctypes.c_void_p),
        ("start", ctypes.c_void_p),
        ("stop", ctypes.c_void_p),
        ("unload", ctypes.c_void_p),
        ("on_rx_request", _OnRxRequest),
        ("on_rx_response", ctypes.c_void_p),
        ("on_tx_request", ctypes.c_void_p),
        ("on_tx_response", ctypes.c_void_p),
        ("on_tsx_state", ctypes.c_void_p),
    ]


class ProbeGateError(AdapterError):
    """The OPTIONS gate could not be registered with pjsip (no endpoint, or pjsip refused)."""


class ProbeGate:
    """OPTIONS answered 503 while `unavailable`; `install()` once per started endpoint, in
    the pj thread, after `libStart`."""

    _NAME = b"mod-ivr-probe-gate"

    def __init__(self) -> None:
        self.unavailable = False
        self.refused = 0  # OPTIONS answered 503 so far
        self._lib = _library()
        self._lib.pjsua_get_pjsip_endpt.restype = ctypes.c_void_p
        self._lib.pjsip_rx_data_get_info.restype = ctypes.c_char_p
        self._lib.pjsip_rx_data_get_info.argtypes = [ctypes.c_void_p]
        self._lib.pjsip_endpt_respond_stateless.argtypes = [
            *(ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int),
            *(ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p),
        ]
        self._lib.pjsip_endpt_register_module.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
        self._callback = _OnRxRequest(self._on_rx_request)  # kept: C holds its address
        self._module: _PjsipModule | None = None
        self._endpt: int | None = None

    def install(self) -> None:
        """Register the module on the current pjsip endpoint (pjsua's, after `libStart`)."""
        endpt = self._lib.pjsua_get_pjsip_endpt()
        if not endpt:
            raise ProbeGateError("pjsua has no SIP endpoint yet")
        module = _PjsipModule()  # a new one per endpoint; kept alive with the gate
        module.name = _PjStr(self._NAME, len(self._NAME))
        module.id, module.priority = -1, _PRIORITY
        module.on_rx_request = self._callback
        status = self._lib.pjsip_endpt_register_module(endpt, ctypes.byref(module))
        if status != 0:
            raise ProbeGateError(f"pjsip_endpt_register_module failed: status {status}")
        self._module, self._endpt = module, endpt

    def _on_rx_request(self, rdata: int | None) -> int:
        try:
            if not self.unavailable or self._endpt is None:
                return 0
            info = self._lib.pjsip_rx_data_get_info(rdata) or b""
            if not info.startswith(_OPTIONS):
                return 0
            self._lib.pjsip_endpt_respond_stateless(self._endpt, rdata, UNAVAILABLE, None, None, None)
            self.refused += 1
            return 1
        except Exception:  # a C callback must not raise: let pjsua answer instead
            log.exception("OPTIONS gate failed")
            return 0

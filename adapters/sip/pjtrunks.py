"""SIP trunks in the pj thread: one pjsua2 account per trunk, and outbound calls through it.

Place: beside `ivr.adapters.sip.pjthread` (whose thread, command queue and call objects it
uses; the only other module allowed to import pjsua2, and only for this). `open_trunks`
creates, for each trunk, an account whose identity is the trunk's caller ID at its
gateway, with digest credentials and, when asked, registration with the gateway; calls are
placed from that account to `sip:<number>@<gateway>` (over TCP when the trunk says so), so
the INVITE's From shows the caller ID and a 401/407 challenge is answered with the trunk's
credentials. Calls the carrier sends to a registered trunk arrive like any incoming call.

Everything that touches pjsua2 runs in the pj thread through `SipEndpoint.run`; the
registration state comes back to trio through the endpoint's `_to_trio`. On the way out
(before the endpoint stops) the trunk's calls are hung up and its accounts shut down in the
pj thread (pitfall 5 of PJSUA2-NOTES: nothing of pjsua2 may outlive `libDestroy`).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from typing import Any

import pjsua2 as pj  # type: ignore[import-untyped, import-not-found, unused-ignore]
import trio

from ivr.adapters.errors import ConfigError
from ivr.adapters.sip.pjthread import CallHandle, SipEndpoint, SipError, _PjAccount

log = logging.getLogger(__name__)
_UNREGISTER_WAIT = 2.0


@dataclass(frozen=True)
class TrunkSettings:
    """One trunk as the SIP adapter needs it (the service file's `TrunkDecl`, with the
    password read from its environment variable by the composition root)."""

    name: str
    gateway: str  # host or host:port
    transport: str = "udp"
    caller_id: str = ""
    username: str = ""
    password: str = field(default="", repr=False)  # never logged, never shown
    realm: str = "*"
    register: bool = False
    register_expires: int = 300


@dataclass
class Registration:
    """What the gateway last said to our REGISTER (trio side)."""

    status: int = 0  # 0: not yet answered (or registration off)
    reason: str = ""
    expires: int = 0
    changed: trio.Event = field(default_factory=trio.Event)

    @property
    def registered(self) -> bool:
        return self.status // 100 == 2 and self.expires > 0


class Trunks:
    """The trunks' accounts. Use `open_trunks`; place calls with `dial`."""

    def __init__(self, endpoint: SipEndpoint, settings: Sequence[TrunkSettings]) -> None:
        self.endpoint = endpoint
        self.settings = {t.name: t for t in settings}
        self.registrations = {t.name: Registration() for t in settings}
        self._handles: dict[int, CallHandle] = {}  # calls placed through trunks (trio side)
        self._accounts: dict[str, Any] = {}  # pj thread only

    def uri(self, trunk: str, number: str) -> str:
        """The request URI of a call to `number` through `trunk`."""
        settings = self._settings(trunk)
        suffix = ";transport=tcp" if settings.transport == "tcp" else ""
        return f"sip:{number}@{settings.gateway}{suffix}"

    async def dial(self, trunk: str, number: str, headers: Mapping[str, str] | None = None) -> CallHandle:
        """Send the INVITE to `number` through `trunk`; follow the call on the handle's
        events (`confirmed`, `media_ready`, `ended` with `end_status`). Cancelled meanwhile,
        the call is not placed, or hung up (CANCEL) if it was, as `SipEndpoint.make_call`."""
        uri = self.uri(trunk, number)
        pairs = [(str(k), str(v)) for k, v in (headers or {}).items()]
        handle = await self.endpoint.run(
            lambda: self._dial(trunk, uri, pairs), undo=self.endpoint._abandon_call
        )
        self._handles[handle.key] = handle
        handle.on_end(lambda: self._forget(handle))
        return handle

    def _forget(self, handle: CallHandle) -> None:
        self._handles.pop(handle.key, None)

    def _settings(self, trunk: str) -> TrunkSettings:
        try:
            return self.settings[trunk]
        except KeyError:
            raise ConfigError(f"there is no trunk named {trunk!r}") from None

    # -- pj thread ------------------------------------------------------------------------
    def _create_all(self) -> None:
        for settings in self.settings.values():
            account = _TrunkAccount(self, settings.name)
            account.create(self._account_config(settings), False)
            self._accounts[settings.name] = account

    def _account_config(self, t: TrunkSettings) -> Any:
        cfg = pj.AccountConfig()
        user = t.caller_id or self.endpoint.config.user
        cfg.idUri = f"sip:{user}@{t.gateway}"
        if t.register:
            suffix = ";transport=tcp" if t.transport == "tcp" else ""
            cfg.regConfig.registrarUri = f"sip:{t.gateway}{suffix}"
            cfg.regConfig.registerOnAdd = True
            cfg.regConfig.timeoutSec = max(60, t.register_expires)
            cfg.regConfig.retryIntervalSec = 30
        else:
            cfg.regConfig.registerOnAdd = False
        if t.username:
            cfg.sipConfig.authCreds.append(pj.AuthCredInfo("digest", t.realm, t.username, 0, t.password))
        bind = self.endpoint.config.bind
        if bind not in ("", "0.0.0.0"):
            cfg.mediaConfig.transportConfig.boundAddress = bind
        return cfg

    def _dial(self, trunk: str, uri: str, headers: Sequence[tuple[str, str]]) -> CallHandle:
        account = self._accounts.get(trunk)
        if account is None:
            raise SipError(f"trunk {trunk!r} has no account (it did not start)")
        return self.endpoint._place_call(account, uri, headers, account.getInfo().uri)

    def _reg_state(self, trunk: str, status: int, reason: str, expires: int) -> None:
        """trio side: the gateway answered a REGISTER (or it failed)."""
        registration = self.registrations[trunk]
        registration.status, registration.reason, registration.expires = status, reason, expires
        registration.changed.set()
        registration.changed = trio.Event()
        if status // 100 != 2:
            log.warning("trunk %s: registration failed: %d %s", trunk, status, reason)

    def _unregister_all(self) -> None:
        for name, account in self._accounts.items():
            if self.settings[name].register:
                with suppress(pj.Error):  # not registered: nothing to undo
                    account.setRegistration(False)

    def _shutdown_all(self) -> None:
        accounts, self._accounts = self._accounts, {}
        for account in accounts.values():
            account.shutdown()


class _TrunkAccount(_PjAccount):
    def __init__(self, trunks: Trunks, name: str) -> None:
        super().__init__(trunks.endpoint)
        self._trunks = trunks
        self._name = name

    def onRegState(self, prm: Any) -> None:
        try:
            self._trunks.endpoint._to_trio(
                self._trunks._reg_state, self._name, int(prm.code), str(prm.reason), int(prm.expiration)
            )
        except Exception:
            log.exception("registration state callback failed")


@asynccontextmanager
async def open_trunks(endpoint: SipEndpoint, settings: Sequence[TrunkSettings]) -> AsyncIterator[Trunks]:
    """Create the trunks' accounts (registering where asked); on the way out hang up their
    calls, unregister and shut the accounts down, all before the endpoint stops."""
    trunks = Trunks(endpoint, settings)
    await endpoint.run(trunks._create_all)
    try:
        yield trunks
    finally:
        with trio.CancelScope(shield=True):
            await _close(trunks)


async def _close(trunks: Trunks) -> None:
    with trio.move_on_after(5):
        for handle in list(trunks._handles.values()):
            await handle.hangup()
    registered = [r for name, r in trunks.registrations.items() if trunks.settings[name].register]
    await trunks.endpoint.run(trunks._unregister_all)
    with trio.move_on_after(_UNREGISTER_WAIT):
        for registration in registered:
            if registration.registered:
                await registration.changed.wait()
    await trunks.endpoint.run(trunks._shutdown_all)

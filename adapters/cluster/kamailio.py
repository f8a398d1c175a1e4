"""Kamailio in front of several `ivr serve` instances: its configuration, written from settings.

Place: the cluster adapter (docs/cluster.md). `ivr cluster up` writes these files for a
local cluster; `ivr cluster kamailio-config` prints them for a deployment on several
machines. Nothing here starts a process.

The configuration is a small stateful proxy around Kamailio's dispatcher module:

- a new INVITE (or any request outside a dialog) goes to one instance of set 1,
  round-robin over the instances that answer OPTIONS probes (`ds_ping_interval`);
- the proxy record-routes, so the dialog's later requests (ACK, BYE, INFO) pass through it
  to the same instance;
- when the instance answers 503 (overloaded or draining), 408 or 500, or does not answer
  within `fail_after` seconds, the INVITE goes to the next instance; one that timed out is
  marked inactive at once, and comes back when its probes are answered again. The next
  instance gets `retry_within` seconds, not `fail_after`: when every instance is slow
  (a saturated machine, whose pj threads answer seconds late), the last one tried is
  waited for rather than the caller getting 408 after 2 s per instance
  (benchmarks/cluster_load.py, docs/cluster.md "Figures"); so does the only instance up,
  and a request inside a dialog (a BYE: its instance is the only one that can answer);
- an instance whose probes fail or are answered 503 (a draining one) `probes_to_fail` (2)
  times in a row is out of rotation until a probe is answered 2xx (one late probe of a
  loaded instance is not enough: on a saturated machine both instances flapped); both
  changes are logged ("instance sip:... is down");
- with `overflow` (other sites' Kamailios, set 2): when no instance of this site is up,
  a new call goes to another site's Kamailio (round-robin over those answering probes),
  marked with an `X-IVR-Overflow` header so that site never sends it on again.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from pathlib import Path

from ivr.adapters.errors import ConfigError

DISPATCHER_SET = 1
OVERFLOW_SET = 2  # other sites' Kamailios, used when no instance of this site is up
OVERFLOW_HEADER = "X-IVR-Overflow"  # marks a call another site sent here: never sent on again
FAILOVER_CODES = ("500", "503", "408")


@dataclass(frozen=True)
class Instance:
    """One `ivr serve` as Kamailio reaches it."""

    host: str
    sip_port: int

    @property
    def uri(self) -> str:
        return f"sip:{self.host}:{self.sip_port}"


@dataclass(frozen=True)
class ProxySettings:
    """Where Kamailio listens and what it balances over."""

    listen_host: str
    listen_port: int
    instances: tuple[Instance, ...]
    probe_interval: int = 1  # seconds between OPTIONS probes of each instance
    probes_to_fail: int = 2  # failed (or 503) probes in a row that take an instance out
    fail_after: float = 2.0  # seconds without any answer before the INVITE goes elsewhere
    retry_within: float = 8.0  # seconds the next instance has to send its first answer
    answer_within: float = 30.0  # seconds an instance that answered 100/180 has to answer 200
    workers: int = 2  # Kamailio's UDP worker processes
    log_level: int = 1  # Kamailio's debug level: 1 errors and warnings, 2 info, 3 debug
    extra_aliases: tuple[str, ...] = field(default=())
    overflow: tuple[Instance, ...] = ()  # other sites' Kamailios, when this site has no instance up

    def check(self) -> ProxySettings:
        if not self.instances:
            raise ConfigError("a cluster needs at least one ivr serve instance")
        for port in (self.listen_port, *(i.sip_port for i in self.instances)):
            if not 1 <= port <= 65535:
                raise ConfigError(f"{port} is not a SIP port (1-65535)")
        _check_host(self.listen_host)
        for instance in (*self.instances, *self.overflow):
            _check_host(instance.host)
        everyone = (*self.instances, *self.overflow)
        if len(set(everyone)) != len(everyone):
            raise ConfigError("the same instance is listed twice")
        if min(self.probe_interval, self.workers, self.probes_to_fail) < 1:
            raise ConfigError("probe_interval, probes_to_fail and workers must be at least 1")
        if not 0 < self.fail_after <= self.retry_within < self.answer_within:
            raise ConfigError("need 0 < fail_after <= retry_within < answer_within")
        return self


def _check_host(host: str) -> None:
    """An IP address (Kamailio resolves names too, but a typo should fail here, not at 3 am)."""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        raise ConfigError(f"{host!r} is not an IP address") from None


def dispatcher_list(settings: ProxySettings) -> str:
    """The dispatcher module's list file: one line per instance of set 1."""
    lines = ["# set destination flags priority attributes (written by ivr cluster)"]
    for n, instance in enumerate(settings.instances, start=1):
        lines.append(f"{DISPATCHER_SET} {instance.uri} 0 0 duid=ivr{n}")
    for n, site in enumerate(settings.overflow, start=1):
        lines.append(f"{OVERFLOW_SET} {site.uri} 0 0 duid=site{n}")
    return "\n".join(lines) + "\n"


def kamailio_cfg(settings: ProxySettings, list_file: Path) -> str:
    """The whole kamailio.cfg for `settings`, reading its destinations from `list_file`."""
    s = settings.check()
    aliases = "".join(f"alias={alias}\n" for alias in s.extra_aliases)
    codes = "|".join(FAILOVER_CODES)
    return f"""#!KAMAILIO
# Written by `ivr cluster` (ivr.adapters.cluster.kamailio): balances new calls over the
# ivr serve instances of {list_file.name}, probes them with OPTIONS and fails over.
debug={s.log_level}
log_stderror=yes
log_prefix="{{$mt $hdr(CSeq) $ci}} "
fork=yes
children={s.workers}
disable_tcp=yes
auto_aliases=no
listen=udp:{s.listen_host}:{s.listen_port}
alias={s.listen_host}:{s.listen_port}
{aliases}
loadmodule "tm.so"
loadmodule "sl.so"
loadmodule "rr.so"
loadmodule "pv.so"
loadmodule "maxfwd.so"
loadmodule "textops.so"
loadmodule "siputils.so"
loadmodule "xlog.so"
loadmodule "dispatcher.so"

modparam("tm", "fr_timer", {round(s.fail_after * 1000)})
modparam("tm", "fr_inv_timer", {round(s.answer_within * 1000)})
modparam("rr", "enable_full_lr", 1)
modparam("dispatcher", "list_file", "{list_file}")
modparam("dispatcher", "flags", 2)
modparam("dispatcher", "ds_ping_interval", {s.probe_interval})
modparam("dispatcher", "ds_probing_mode", 1)
modparam("dispatcher", "ds_probing_threshold", {s.probes_to_fail})
modparam("dispatcher", "ds_inactive_threshold", 1)
modparam("dispatcher", "ds_ping_reply_codes", "class=2")
modparam("dispatcher", "ds_ping_from", "sip:dispatcher@{s.listen_host}:{s.listen_port}")

request_route {{
    if (!mf_process_maxfwd_header("10")) {{
        sl_send_reply("483", "Too Many Hops");
        exit;
    }}
    if (has_totag()) {{
        route(WITHINDLG);
        exit;
    }}
    if (is_method("CANCEL")) {{
        if (t_check_trans()) {{
            t_relay();
        }}
        exit;
    }}
    if (t_check_trans()) {{
        exit;
    }}
    if (is_method("OPTIONS") && uri == myself && $rU == $null) {{
        sl_send_reply("200", "OK");
        exit;
    }}
    if (is_method("INVITE|SUBSCRIBE")) {{
        record_route();
    }}
    if (!ds_select_dst("{DISPATCHER_SET}", "4")) {{
        {"route(OVERFLOW);" if s.overflow else "# no other site (overflow) configured"}
        xlog("L_WARN", "no ivr serve instance is up: 503\\n");
        append_to_reply("Retry-After: 10\\r\\n");
        sl_send_reply("503", "No instance available");
        exit;
    }}
    if ($cnt($xavp(_dsdst_)) < 2) {{
        t_set_fr({round(s.answer_within * 1000)}, {round(s.retry_within * 1000)});
    }}
    t_on_failure("FAILOVER");
    if (!t_relay()) {{
        sl_reply_error();
    }}
    exit;
}}

route[OVERFLOW] {{
    # no instance of this site is up: another site's Kamailio, unless the call came from one
    if (is_present_hf("{OVERFLOW_HEADER}")) {{
        return;
    }}
    if (!ds_select_dst("{OVERFLOW_SET}", "4")) {{
        return;
    }}
    xlog("L_WARN", "no ivr serve instance is up here: sent to the site at $du\\n");
    append_hf("{OVERFLOW_HEADER}: {s.listen_host}:{s.listen_port}\\r\\n");
    t_set_fr({round(s.answer_within * 1000)}, {round(s.retry_within * 1000)});
    t_on_failure("FAILOVER");
    if (!t_relay()) {{
        sl_reply_error();
    }}
    exit;
}}

route[WITHINDLG] {{
    if (loose_route()) {{
        # the dialog's own instance, no other to try: give a loaded one time to answer
        t_set_fr(0, {round(s.retry_within * 1000)});
        t_relay();
        exit;
    }}
    if (is_method("ACK")) {{
        if (t_check_trans()) {{
            t_relay();
        }}
        exit;
    }}
    sl_send_reply("404", "Not here");
}}

event_route[dispatcher:dst-down] {{
    xlog("L_WARN", "instance $ru is down (probe failed or answered 503): out of rotation\\n");
}}

event_route[dispatcher:dst-up] {{
    xlog("L_WARN", "instance $ru is up (probe answered): back in rotation\\n");
}}

failure_route[FAILOVER] {{
    if (t_is_canceled()) {{
        exit;
    }}
    if (t_branch_timeout() && !t_branch_replied()) {{
        xlog("L_WARN", "instance $du did not answer: marked inactive\\n");
        ds_mark_dst("ip");
    }} else if (!t_check_status("{codes}")) {{
        exit;
    }}
    if (ds_next_dst()) {{
        t_set_fr({round(s.answer_within * 1000)}, {round(s.retry_within * 1000)});
        t_on_failure("FAILOVER");
        t_relay();
        exit;
    }}
}}
"""


def write_config(settings: ProxySettings, folder: Path) -> Path:
    """Write kamailio.cfg and dispatcher.list into `folder`; the cfg's path."""
    folder.mkdir(parents=True, exist_ok=True)
    list_file = folder / "dispatcher.list"
    list_file.write_text(dispatcher_list(settings))
    cfg = folder / "kamailio.cfg"
    cfg.write_text(kamailio_cfg(settings, list_file.resolve()))
    return cfg

"""Prometheus metrics of outbound calling, read at scrape time from the runner and dialer.

Place: registered in the server's own `CollectorRegistry` (never the library's global
one, so tests can run several servers in one process). Every number comes from the
campaign cores' progress and the dialer's trunk counters when Prometheus asks, so nothing
on the call path pays for them.

    ivr_campaign_contacts{campaign,run,state}            contacts per state
    ivr_campaign_attempts_total{campaign,run,outcome}    attempts ended, per outcome
    ivr_campaign_calls_active{campaign,run}              attempts up now
    ivr_campaign_dial_rate_per_minute{campaign,run}      attempts started in the last minute
    ivr_campaign_eta_seconds{campaign,run}               time to place what is still due
    ivr_campaign_running{campaign,run}                   1 while the run is running
    ivr_trunk_outbound_calls{trunk}                      outbound calls up on the trunk
    ivr_trunk_free_channels{trunk}                       new calls the idle-capacity rule allows now
    ivr_dialer_yielded_calls_total                       outbound calls hung up for an inbound caller
    ivr_do_not_call_numbers                              numbers on the do-not-call list
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from ivr.adapters.dialer.sip import SipDialer
from ivr.runtime.campaigns.runner import CampaignRunner


class CampaignCollector(Collector):
    def __init__(self, runner: CampaignRunner, dialer: SipDialer | None) -> None:
        self.runner = runner
        self.dialer = dialer

    def collect(self) -> Iterator[Metric]:
        run = ["campaign", "run"]
        contacts = GaugeMetricFamily("ivr_campaign_contacts", "Contacts per state.", labels=[*run, "state"])
        attempts = CounterMetricFamily(
            "ivr_campaign_attempts", "Attempts per outcome.", labels=[*run, "outcome"]
        )
        active = GaugeMetricFamily("ivr_campaign_calls_active", "Attempts up now.", labels=run)
        rate = GaugeMetricFamily(
            "ivr_campaign_dial_rate_per_minute", "Attempts in the last minute.", labels=run
        )
        eta = GaugeMetricFamily("ivr_campaign_eta_seconds", "Seconds to place what is due.", labels=run)
        running = GaugeMetricFamily("ivr_campaign_running", "1 while the run is running.", labels=run)
        for progress in self.runner.all_progress():
            key = [progress.campaign, progress.run_id]
            for state, count in progress.contact_states.items():
                contacts.add_metric([*key, state], count)
            for outcome, count in progress.attempt_outcomes.items():
                attempts.add_metric([*key, outcome], count)
            active.add_metric(key, progress.calling)
            rate.add_metric(key, progress.per_minute)
            if progress.eta_seconds is not None:
                eta.add_metric(key, progress.eta_seconds)
            running.add_metric(key, 1.0 if progress.state == "running" else 0.0)
        yield from (contacts, attempts, active, rate, eta, running)
        if self.dialer is not None:
            out = GaugeMetricFamily(
                "ivr_trunk_outbound_calls", "Outbound calls up on the trunk.", labels=["trunk"]
            )
            free = GaugeMetricFamily(
                "ivr_trunk_free_channels", "New outbound calls the trunk takes now.", labels=["trunk"]
            )
            for trunk, up in self.dialer.outbound.items():
                out.add_metric([trunk], up)
                free.add_metric([trunk], self.dialer.free_channels(trunk))
            yielded = CounterMetricFamily(
                "ivr_dialer_yielded_calls", "Outbound calls hung up to give an inbound caller a channel."
            )
            yielded.add_metric([], self.dialer.yielded)
            yield from (out, free, yielded)
        dnc = GaugeMetricFamily("ivr_do_not_call_numbers", "Numbers on the do-not-call list.")
        dnc.add_metric([], len(self.runner.do_not_call))
        yield dnc

"""kill -9 in the middle of a hand-over: after the restart a message that may have reached
the gateway is never sent twice (in_doubt), unless the gateway deduplicates by our
reference (then it is resent with the same reference); a message that never left is sent."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
from decimal import Decimal
from pathlib import Path

import pytest
import trio
from gateways import Answer, HttpGateway, eventually, running, service

PYTHON = Path(sys.executable)
PROCESS = Path(__file__).parent / "outbox_process.py"


def channel(url: str, dedupe: bool) -> str:
    return textwrap.dedent(
        f"""
        sms:
          kind: sms
          timeout: 30s
          dedupe: {"true" if dedupe else "false"}
          retry: {{attempts: 3, backoff: 100ms}}
          http: {{url: "{url}", style: json}}
        """
    )


async def killed_during_hand_over(tmp_path: Path, gateway: HttpGateway, dedupe: bool) -> str:
    """Start a process that sends one SMS to `gateway` (which holds its answer), kill -9 it
    once the request has arrived; the delivery id."""
    service_file = tmp_path / "service.yaml"
    service_file.write_text("service: t\nchannels:\n" + textwrap.indent(channel(gateway.url, dedupe), "  "))
    command = [str(PYTHON), str(PROCESS), str(tmp_path / "outbox.db"), str(service_file)]
    process = await trio.lowlevel.open_process(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        assert process.stdout is not None
        output = b""
        with trio.fail_after(30):
            while b"\n" not in output:
                output += await process.stdout.receive_some()
        await eventually(lambda: gateway.requests)
    finally:
        process.send_signal(signal.SIGKILL)
        await process.wait()
    delivery = output.decode()
    return delivery.strip()


@pytest.mark.slow
async def test_a_message_handed_over_when_the_process_died_is_not_sent_again(tmp_path: Path) -> None:
    with HttpGateway([Answer(200, delay=30.0), Answer(200)]) as gateway:
        delivery = await killed_during_hand_over(tmp_path, gateway, dedupe=False)
        async with running(tmp_path / "outbox.db", service(channel(gateway.url, False))) as messaging:
            assert messaging.recovery.in_doubt == (delivery,)
            assert await messaging.channels.wait_delivery(delivery, Decimal(5)) == "pending"
            await trio.sleep(0.5)
            stored = await messaging.outbox.get(delivery)
    assert stored is not None and stored.status == "in_doubt" and len(gateway.requests) == 1
    assert stored.last_error == "the process stopped while handing it to the gateway: it may have been sent"


@pytest.mark.slow
async def test_a_deduplicating_gateway_gets_the_message_again_with_the_same_reference(tmp_path: Path) -> None:
    with HttpGateway([Answer(200, delay=30.0), Answer(200)]) as gateway:
        delivery = await killed_during_hand_over(tmp_path, gateway, dedupe=True)
        async with running(tmp_path / "outbox.db", service(channel(gateway.url, True))) as messaging:
            assert messaging.recovery.requeued == (delivery,)
            assert await messaging.channels.wait_delivery(delivery, Decimal(20)) == "sent"
            attempts = await messaging.outbox.attempts(delivery)
    assert [r.json()["reference"] for r in gateway.requests] == [delivery, delivery]
    assert [a.outcome for a in attempts] == ["interrupted", "sent"]

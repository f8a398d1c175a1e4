"""A process that queues one SMS and runs the outbox's workers until it is killed, for the
kill -9 tests: python outbox_process.py OUTBOX SERVICE_FILE (prints the delivery id)."""

from __future__ import annotations

import sys
from pathlib import Path

import trio

from ivr.adapters.messaging import open_messaging
from ivr.flowlang.compile import compile_service
from ivr.flowlang.yamlsource import load_yaml


async def main(outbox: str, service_file: str, text: str) -> None:
    loaded = load_yaml(text, service_file)
    svc, _ = compile_service(loaded.data, loaded.source_map, service_file)
    async with open_messaging(outbox, svc, {}) as messaging, trio.open_nursery() as nursery:
        await nursery.start(messaging.run)
        print(await messaging.channels.send("sms", "13800138000", "您的对账单已生成", None), flush=True)
        await trio.sleep_forever()


if __name__ == "__main__":
    trio.run(main, sys.argv[1], sys.argv[2], Path(sys.argv[2]).read_text(encoding="utf-8"))

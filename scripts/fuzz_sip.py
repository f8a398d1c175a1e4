"""SIP entry fuzzing, the long run: mutated SIP (tests/hosting/sip_fuzz.py) at `ivr serve`.

    .venv/bin/python scripts/fuzz_sip.py                      # 100,000 messages
    .venv/bin/python scripts/fuzz_sip.py --messages 20000 --seed 7

Starts `ivr serve` on the brokerage flows (free ports, a temporary data directory), sends
the messages in batches of 5,000 and after each batch checks that the process is alive,
that /health answers within a second and that the SIP thread answers an OPTIONS; prints the
server's RSS and calls up per batch. At the end one clean call must hear the welcome.
Exit status 1 on any failed check.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

import trio

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests" / "hosting"), str(ROOT / "tests" / "adapters" / "sip")]

from hosting_support import Server, open_rtp_peer, start_caller  # noqa: E402
from sip_fuzz import Fuzzer  # noqa: E402
from test_sip_fuzz import rss_mib, sip_thread_answers  # noqa: E402

BATCH = 5000


async def main(messages: int, seed: int) -> int:
    with tempfile.TemporaryDirectory(prefix="ivr-fuzz-sip-") as tmp:
        server = Server.start(Path(tmp) / "data", "--drain-seconds", "1", "--log-level", "WARNING")
        fuzzer = Fuzzer("127.0.0.1", server.sip_port, seed=seed)
        started, ok = time.monotonic(), True
        print(f"server pid {server.process.pid}, RSS {rss_mib(server):.0f} MiB")
        print("| messages | dialogs | alive | /health | OPTIONS | RSS | calls up |")
        print("|---|---|---|---|---|---|---|")
        try:
            while fuzzer.report.total < messages and ok:
                await trio.to_thread.run_sync(fuzzer.run, min(BATCH, messages - fuzzer.report.total))
                ok = await check(server, fuzzer)
            if ok:
                ok = await clean_call(server, Path(tmp))
                print(f"a clean call afterwards: {'heard the welcome' if ok else 'FAILED'}")
        finally:
            fuzzer.close()
            code = server.stop(timeout=60)
        report = fuzzer.report
        print(
            f"\n{report.total:,} messages in {time.monotonic() - started:.0f} s; by seed: {dict(report.sent)}"
        )
        print(f"answers by class: {dict(report.responses)}; server exit {code}")
        shutil.rmtree(tmp, ignore_errors=True)
        return 0 if ok and code == 0 else 1


async def check(server: Server, fuzzer: Fuzzer) -> bool:
    alive = server.process.poll() is None
    started = time.monotonic()
    try:
        health = (await server.get("/health"))["status"] == "ok" and time.monotonic() - started < 1.0
        calls = (await server.get("/health"))["calls_active"]
    except Exception:
        health, calls = False, -1
    options = alive and await trio.to_thread.run_sync(sip_thread_answers, server)
    rss = rss_mib(server) if alive else 0.0
    print(
        f"| {fuzzer.report.total:,} | {fuzzer.report.dialogs} | {alive} | {health} | {options} | "
        f"{rss:.0f} MiB | {calls} |",
        flush=True,
    )
    return alive and health and options


async def clean_call(server: Server, tmp: Path) -> bool:
    peer = await open_rtp_peer()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(peer.receive_forever)
        keys = {"caller": "13900000555", "rtp_port": str(peer.port), "hold": "2000"}
        run = start_caller(nursery, server, "uac_call.xml", tmp / "clean", keys=keys)
        with trio.move_on_after(30):
            await run.done.wait()
        nursery.cancel_scope.cancel()
    return run.returncode == 0 and peer.voiced() >= 40


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    sys.exit(trio.run(main, args.messages, args.seed))

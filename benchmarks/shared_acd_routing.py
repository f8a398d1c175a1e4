"""Benchmark: routing steps on the shared routing state (PostgreSQL), with `--waiting` calls
and `--agents` agents of mixed skills, `--routers` routers racing for each step.

Starts a throwaway server (`ivr.adapters.postgres.server`, durable: fsync on, as a center
runs it) unless `--url` names one. Each round an agent becomes ready and the routers take
the step (one wins); then the agent's call is answered and finished and a new call arrives.
Reports p50 / p99 / max of the winning step's transaction (the time the routing token is
held, plus the round trips) and of the changes, timed with `time.perf_counter_ns`.

    .venv/bin/python benchmarks/shared_acd_routing.py --rounds 2000 --routers 2
"""

from __future__ import annotations

import argparse
import random
import shutil
import socket
import tempfile
import threading
import time
import uuid
from pathlib import Path

from ivr.adapters.postgres.server import start_server
from ivr.adapters.sharedacd.state import RoutingState, connect
from ivr.runtime.acd.shared import SharedAgent, SharedCall

SKILLS = [f"s{i}" for i in range(12)]


def percentiles(samples: list[int]) -> str:
    ordered = sorted(samples)

    def at(q: float) -> float:
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] / 1e6

    top = ordered[-1] / 1e6
    return f"p50 {at(0.5):6.2f} ms   p99 {at(0.99):6.2f} ms   max {top:6.2f} ms   (n={len(ordered)})"


def run(url: str, rounds: int, agents: int, waiting: int, routers: int, seed: int) -> None:
    rng, center = random.Random(seed), f"bench-{uuid.uuid4().hex[:8]}"
    main = RoutingState(connect(url), center)
    main.prepare()
    demands = [frozenset(rng.sample(SKILLS, rng.randint(1, 2))) for _ in range(16)]
    for number in range(agents):
        skills = {skill: rng.randint(1, 5) for skill in rng.sample(SKILLS, rng.randint(2, 5))}
        skills.update({skill: 3 for skill in demands[number % len(demands)]})  # every demand is served
        main.login(SharedAgent(f"agent-{number}", f"sip:{number}@pbx", skills, "A"))
    calls = 0

    def arrive() -> int:
        nonlocal calls
        calls += 1
        priority = 10 if rng.random() < 0.1 else 0
        call = SharedCall(f"c{calls}", "q", priority, rng.choice(demands), "A", vip=priority >= 10)
        started = time.perf_counter_ns()
        main.add_call(call)
        return time.perf_counter_ns() - started

    change_times = [arrive() for _ in range(waiting)]
    step_times: list[int] = []
    states = [RoutingState(connect(url), center) for _ in range(routers)]
    for round_number in range(rounds):
        agent_id = f"agent-{rng.randrange(agents)}"
        started = time.perf_counter_ns()
        if not main.set_ready(agent_id).applied:
            continue
        change_times.append(time.perf_counter_ns() - started)
        won: list[tuple[str, int]] = []

        def step(state: RoutingState, won: list[tuple[str, int]]) -> None:
            begun = time.perf_counter_ns()
            match = state.route_once()
            if match is not None:
                won.append((match.call_id, time.perf_counter_ns() - begun))

        threads = [threading.Thread(target=step, args=(state, won)) for state in states]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        for call_id, took in won:
            step_times.append(took)
            main.answered(call_id)
            main.finished(call_id, wrap_up=True)
            change_times.append(arrive())
        if round_number % 500 == 0:
            print(f"round {round_number}: {len(step_times)} steps")
    print(f"{agents} agents, {waiting} calls waiting, {routers} routers racing")
    print(f"routing step (winner): {percentiles(step_times)}")
    print(f"change (ready, call arrives): {percentiles(change_times)}")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2000)
    parser.add_argument("--agents", type=int, default=300)
    parser.add_argument("--waiting", type=int, default=1000)
    parser.add_argument("--routers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--url", help="an existing database (default: a throwaway server)")
    args = parser.parse_args()
    if args.url:
        run(args.url, args.rounds, args.agents, args.waiting, args.routers, args.seed)
        return
    folder = Path(tempfile.mkdtemp(prefix="ivr-bench-pg-"))
    server = start_server(folder, port=_free_port())
    try:
        run(server.url, args.rounds, args.agents, args.waiting, args.routers, args.seed)
    finally:
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()

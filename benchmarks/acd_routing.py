"""Benchmark: ACD routing decisions with 1,000 waiting calls and 300 agents of mixed skills.

Drives the synchronous core (`ivr.runtime.acd.core`) directly: each round an agent becomes
ready (the core picks the best waiting call it can serve), talks, goes to wrap-up, and new
calls arrive (the core looks for a ready agent) until 1,000 wait again. Reports p50 / p99 /
max of each decision, timed with `time.perf_counter_ns`.

    .venv/bin/python benchmarks/acd_routing.py --rounds 20000
"""

from __future__ import annotations

import argparse
import random
import time

from ivr.runtime.acd import AcdCore, AcdSettings, AgentState, Decision, Offer, QueueConfig

SKILLS = [f"s{i}" for i in range(12)]


def build(rng: random.Random, agents: int, waiting: int) -> tuple[AcdCore, list[frozenset[str]]]:
    queues = {"general": QueueConfig("general", wrap_up=30, vip_priority=10)}
    core = AcdCore(AcdSettings(queues))
    for number in range(agents):
        skills = {skill: rng.randint(1, 5) for skill in rng.sample(SKILLS, rng.randint(2, 5))}
        core.login(f"agent-{number}", f"sip:{number}@pbx", skills, 0.0)
    # Calls ask for one of up to 30 skill sets (one or two skills each), as if from many queues.
    demands = sorted({frozenset(rng.sample(SKILLS, rng.randint(1, 2))) for _ in range(30)}, key=sorted)
    return core, demands


def percentiles(samples: list[int]) -> str:
    ordered = sorted(samples)

    def at(q: float) -> float:
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] / 1000

    top = ordered[-1] / 1000
    return f"p50 {at(0.5):6.1f} µs   p99 {at(0.99):6.1f} µs   max {top:6.1f} µs   (n={len(ordered)})"


class Bench:
    def __init__(self, core: AcdCore, demands: list[frozenset[str]], rng: random.Random) -> None:
        self.core, self.demands, self.rng = core, demands, rng
        self.now, self.calls = 0.0, 0
        self.arrivals: list[int] = []
        self.ready: list[int] = []

    def arrive(self) -> None:
        self.calls += 1
        priority = 10 if self.rng.random() < 0.1 else self.rng.randint(0, 2)
        skills = self.rng.choice(self.demands)
        started = time.perf_counter_ns()
        decisions = self.core.add_call(f"call-{self.calls}", "general", skills, priority, self.now)
        self.arrivals.append(time.perf_counter_ns() - started)
        self.talk(decisions)

    def agent_ready(self, agent_id: str) -> None:
        started = time.perf_counter_ns()
        decisions = self.core.set_ready(agent_id, self.now)
        self.ready.append(time.perf_counter_ns() - started)
        self.talk(decisions)

    def talk(self, decisions: list[Decision]) -> None:
        for decision in decisions:
            if isinstance(decision, Offer):
                self.core.answered(decision.call_id, self.now)
                self.core.finished(decision.call_id, self.now + 1)

    def fill(self, waiting: int) -> None:
        while sum(1 for c in self.core.calls.values() if c.agent_id is None) < waiting:
            self.arrive()

    def run(self, rounds: int, waiting: int) -> None:
        resting = [AgentState.NOT_READY, AgentState.WRAP_UP]
        for _ in range(rounds):
            self.now += 0.01
            free = [a.agent_id for a in self.core.agents.values() if a.state in resting]
            self.agent_ready(self.rng.choice(free))
            self.fill(waiting)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, default=300)
    parser.add_argument("--waiting", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=20000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    core, demands = build(rng, args.agents, args.waiting)
    bench = Bench(core, demands, rng)
    bench.fill(args.waiting)
    bench.arrivals.clear()
    bench.run(args.rounds, args.waiting)
    waiting = sum(1 for c in core.calls.values() if c.agent_id is None)
    ready = sum(1 for a in core.agents.values() if a.state is AgentState.READY)
    print(f"{args.agents} agents ({ready} ready at the end), {waiting} calls waiting")
    print(f"{len(demands)} distinct skill sets asked for; {args.rounds} rounds")
    print(f"agent ready -> best waiting call: {percentiles(bench.ready)}")
    print(f"call arrives -> best ready agent: {percentiles(bench.arrivals)}")
    print(f"all routing decisions:            {percentiles(bench.ready + bench.arrivals)}")


if __name__ == "__main__":
    main()

"""Benchmark: how long `ivr check` takes on a generated 1,000-node flow and on `flows/`.

Run: .venv/bin/python benchmarks/check_large_flow.py [--nodes 1000] [--repeat 5]
Prints the median wall time of loading + compiling + checking. Target: < 250 ms for 1,000 nodes.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from ivr.flowlang.project import load_flow_text, load_project


def generate_flow(node_count: int) -> str:
    """A flow of `node_count` nodes: chains of menu -> collect -> branch -> set -> say."""
    lines = [
        "flow: big",
        "languages: [zh, en]",
        "variables:",
        "  code: {type: string}",
        "  tries: {type: number, initial: 0}",
        "start: n0",
        "nodes:",
    ]
    for i in range(node_count):
        nxt = f"n{i + 1}" if i + 1 < node_count else "bye"
        lines += _node(i, nxt)
    lines += ["  bye:", "    type: hangup", "    prompt: {zh: 再见, en: Goodbye}"]
    return "\n".join(lines) + "\n"


def _node(i: int, nxt: str) -> list[str]:
    kind = i % 5
    head = [f"  n{i}:"]
    if kind == 0:
        return [
            *head,
            "    type: menu",
            f"    prompt: {{zh: 菜单{i}请按1, en: Menu {i} press 1}}",
            "    options:",
            f'      "1": {nxt}',
            '      "9": bye',
            "    on_no_input: bye",
            "    on_no_match: bye",
        ]
    if kind == 1:
        return [
            *head,
            "    type: collect",
            "    prompt: {zh: 请输入代码, en: Enter the code}",
            "    into: code",
            "    max_length: 6",
            "    valid: len(code) == 6",
            f"    next: {nxt}",
            "    on_no_input: bye",
            "    on_invalid: bye",
        ]
    if kind == 2:
        return [
            *head,
            "    type: branch",
            "    cases:",
            "      - if: code == '600519' and tries < 3",
            f"        next: {nxt}",
            "    else: bye",
        ]
    if kind == 3:
        return [*head, "    type: set", "    assign:", "      tries: tries + 1", f"    next: {nxt}"]
    return [
        *head,
        "    type: say",
        "    prompt:",
        f'      zh: "第{i}步，代码{{code|digits}}"',
        f'      en: "Step {i}, code {{code|digits}}"',
        f"    next: {nxt}",
    ]


def _median_seconds(action: object, repeat: int) -> float:
    assert callable(action)
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--nodes", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    text = generate_flow(args.nodes)
    flow, diagnostics = load_flow_text(text, "big.yaml")
    errors = [d for d in diagnostics if d.is_error]
    assert flow is not None and not errors, errors[:3]
    big = _median_seconds(lambda: load_flow_text(text, "big.yaml"), args.repeat)
    print(f"{args.nodes + 1}-node flow: {big * 1000:.0f} ms (median of {args.repeat})")
    flows_dir = Path(__file__).resolve().parent.parent / "flows"
    if flows_dir.is_dir():
        library = _median_seconds(lambda: load_project([flows_dir]), args.repeat)
        print(f"flows/ library: {library * 1000:.0f} ms (median of {args.repeat})")


if __name__ == "__main__":
    main()

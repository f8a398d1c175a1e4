"""Benchmark: accuracy of the answering-machine detection on a labelled set of recordings.

The set (`benchmarks/amd_corpus.py`) is made with espeak-ng and sox: people answering
"hello?" / "喂？" and machine greetings that end with a beep, English and Mandarin, several
voices, speeds and pitches, through G.711 u-law with line hiss. Each recording is fed to
`MachineDetector` a quarter second at a time, as the dialer (`listen`) reads it; for a recording
called a machine, `BeepDetector` then waits for the end of the greeting, and the time the
message would start is compared with the end of the beep.

    .venv/bin/python benchmarks/amd_accuracy.py [--count 200] [--seed 11] [--folder build/amd]

Prints the accuracy per label and language, the confusion, the time to a verdict, and how
far after the beep's end the message starts. The detector's settings were chosen on seed 7
(the tests' draw); measure on another seed.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from amd_corpus import RATE, Sample, chunks, generate, samples_of

from ivr.adapters.dialer.amd import BeepDetector, MachineDetector, Verdict


@dataclass(frozen=True)
class Judged:
    sample: Sample
    verdict: Verdict
    decided_at: float  # seconds of audio read when the verdict came
    message_at: float | None  # seconds: when the greeting was judged over (machines only)


def judge(sample: Sample) -> Judged:
    """Run both detectors over one recording, as the dialer does."""
    audio = samples_of(sample.path)
    amd, beep = MachineDetector(), BeepDetector()
    read, verdict, decided_at, message_at = 0, None, 0.0, None
    for chunk in chunks(audio):
        read += len(chunk)
        if verdict is None:
            verdict = amd.feed(chunk)
            if verdict is not None:
                decided_at = read / RATE  # the beep detector starts on the next read, as in listen()
            continue
        if verdict == "machine" and message_at is None and beep.feed(chunk):
            message_at = read / RATE
    if verdict is None:
        verdict, decided_at = "person", read / RATE
    return Judged(sample, verdict, decided_at, message_at)


def report(results: list[Judged]) -> str:
    lines = []
    right = sum(r.verdict == r.sample.label for r in results)
    lines.append(f"recordings: {len(results)}; correct: {right} ({100 * right / len(results):.1f} %)")
    for label in ("person", "machine"):
        for language in ("en", "zh"):
            group = [r for r in results if r.sample.label == label and r.sample.language == language]
            if group:
                ok = sum(r.verdict == label for r in group)
                lines.append(f"  {label:7} {language}: {ok}/{len(group)} ({100 * ok / len(group):.1f} %)")
    confusion = Counter((r.sample.label, r.verdict) for r in results)
    lines.append(
        "confusion (label -> verdict): "
        + ", ".join(f"{a}->{b} {n}" for (a, b), n in sorted(confusion.items()))
    )
    for label in ("person", "machine"):
        times = [r.decided_at for r in results if r.sample.label == label and r.verdict == label]
        if times:
            lines.append(
                f"time to a correct {label} verdict: "
                f"median {statistics.median(times):.2f} s, max {max(times):.2f} s"
            )
    lags = [
        r.message_at - r.sample.beep_end
        for r in results
        if r.verdict == "machine" and r.message_at is not None and r.sample.beep_end is not None
    ]
    if lags:
        early = sum(lag < 0 for lag in lags)
        lines.append(
            f"message start after the beep's end: median {statistics.median(lags):.2f} s, "
            f"max {max(lags):.2f} s, before the beep ended: {early} of {len(lags)}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--count", type=int, default=200, help="recordings (half people, half machines)")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--folder", type=Path, help="keep the recordings here (default: a temporary folder)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as scratch:
        folder = args.folder or Path(scratch)
        samples = generate(folder, args.count, seed=args.seed)
        print(report([judge(s) for s in samples]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Answering-machine and beep detection on a small draw of the labelled recordings
(benchmarks/amd_corpus.py: espeak-ng voices through G.711 with line hiss), read a quarter
second at a time as the dialer reads them; benchmarks/amd_accuracy.py measures a larger,
different draw for the README."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parents[2] / "benchmarks"))

from amd_accuracy import judge
from amd_corpus import RATE, generate

from ivr.adapters.dialer.amd import BeepDetector, MachineDetector

pytestmark = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="needs espeak-ng and sox")


def test_people_and_machines_are_told_apart_and_the_message_starts_after_the_beep(tmp_path: Path) -> None:
    results = [judge(sample) for sample in generate(tmp_path, 24, seed=7)]
    wrong = [(r.sample.path.name, r.sample.text, r.verdict) for r in results if r.verdict != r.sample.label]
    assert wrong == []
    for r in results:
        if r.sample.label == "machine":
            assert r.sample.beep_end is not None and r.message_at is not None
            assert r.sample.beep_end <= r.message_at < r.sample.beep_end + 0.5, r.sample.path.name
        else:
            assert r.decided_at < 3.5  # a person is spoken to soon after "hello?"


def test_silence_after_answering_is_a_machine_and_a_greeting_without_beep_ends_in_quiet() -> None:
    silent = [0] * (3 * RATE)
    amd = MachineDetector()
    assert amd.feed(silent) == "machine" and "silence" in amd.reason
    beep = BeepDetector()
    assert not beep.feed([0] * RATE)
    assert beep.feed([0] * (2 * RATE)) and not beep.heard_beep

"""Two mono recordings of one conversation merged into one two-channel WAV file.

Place: run in a worker thread when an agent conversation's recording closes
(`ivr.adapters.sip.agents.SipMedia`). pjsua2's recorder is mono, so the conversation is
recorded as two tracks (the caller; the agent and any third party), each a mono file
written by pjmedia on the same media clock and fed silence when nobody speaks, so sample
*n* of one file is sample *n* of the other (to within one 20 ms frame at the start). Here,
once, they become the left and right channels: no Python runs per frame during the call.
The merged file is fsynced before it is returned, so a call record can point at it.
"""

from __future__ import annotations

import sys
import wave
from array import array
from pathlib import Path

from ivr.adapters.storage.durable import sync_to_disk


def merge_channels(left: Path, right: Path, out: Path, *, keep_inputs: bool = False) -> float:
    """Write `out` as 16-bit stereo PCM: `left`'s samples on the left channel, `right`'s on
    the right (the shorter one padded with silence at its end); a missing input counts as
    silence. Returns the seconds of audio. The inputs are removed unless `keep_inputs`."""
    left_samples, rate = _mono(left)
    right_samples, right_rate = _mono(right)
    rate = rate or right_rate or 8000
    if right_rate and right_rate != rate:
        raise ValueError(f"{left.name} is {rate} Hz but {right.name} is {right_rate} Hz")
    frames = max(len(left_samples), len(right_samples))
    for samples in (left_samples, right_samples):
        samples.extend(array("h", bytes(2 * (frames - len(samples)))))
    stereo = array("h", bytes(4 * frames))
    stereo[0::2] = left_samples
    stereo[1::2] = right_samples
    if sys.byteorder == "big":  # WAV is little-endian
        stereo.byteswap()
    partial = out.with_suffix(".partial")
    with wave.open(str(partial), "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(stereo.tobytes())
    partial.replace(out)
    sync_to_disk(out)
    if not keep_inputs:
        for path in (left, right):
            path.unlink(missing_ok=True)
    return frames / rate


def _mono(path: Path) -> tuple[array[int], int]:
    """A mono 16-bit file's samples and rate; nothing (rate 0) when it does not exist."""
    samples = array("h")
    if not path.exists():
        return samples, 0
    with wave.open(str(path), "rb") as w:
        if w.getsampwidth() != 2 or w.getnchannels() != 1:
            raise ValueError(f"{path}: expected 16-bit mono PCM")
        rate = w.getframerate()
        samples.frombytes(w.readframes(w.getnframes()))
    if sys.byteorder == "big":
        samples.byteswap()
    return samples, rate

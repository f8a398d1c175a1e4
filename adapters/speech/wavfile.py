"""WAV helpers for the speech adapter: durations and a dependency-free resampler.

Pure, synchronous file work (call it through `trio.to_thread` from async code). The resampler
is the fallback when `sox` is not installed: each output sample is the mean of the input
samples its period covers (a box low-pass, then decimation), which keeps speech intelligible
and avoids most aliasing; sox is better and is used when present.
"""

from __future__ import annotations

import math
import sys
import wave
from array import array
from pathlib import Path


def wav_duration(path: str | Path) -> float:
    """Seconds of audio in a PCM WAV file (from its header)."""
    with wave.open(str(path), "rb") as w:
        rate = w.getframerate()
        return w.getnframes() / rate if rate else 0.0


def _read_mono16(path: Path) -> tuple[array[int], int]:
    with wave.open(str(path), "rb") as w:
        if w.getsampwidth() != 2:
            raise ValueError(f"{path}: only 16-bit PCM WAV is supported, got {8 * w.getsampwidth()}-bit")
        channels, rate = w.getnchannels(), w.getframerate()
        samples = array("h")
        samples.frombytes(w.readframes(w.getnframes()))
    if sys.byteorder == "big":  # WAV is little-endian
        samples.byteswap()
    if channels > 1:  # mix down: mean of the channels of each frame
        mixed = array("h", bytes(2 * (len(samples) // channels)))
        for i in range(len(mixed)):
            frame = samples[i * channels : (i + 1) * channels]
            mixed[i] = sum(frame) // channels
        samples = mixed
    return samples, rate


def resample_samples(samples: array[int], src_rate: int, dst_rate: int) -> array[int]:
    """Resample 16-bit samples by box-filtered decimation (or linear interpolation upwards)."""
    if src_rate == dst_rate or not samples:
        return array("h", samples)
    n_out = max(1, len(samples) * dst_rate // src_rate)
    step = src_rate / dst_rate
    out = array("h", bytes(2 * n_out))
    last = len(samples) - 1
    if step > 1.0:
        for i in range(n_out):
            start = int(i * step)
            end = min(int((i + 1) * step), len(samples))
            window = samples[start : max(end, start + 1)]
            out[i] = int(sum(window) / len(window))
    else:
        for i in range(n_out):
            pos = i * step
            j = int(pos)
            frac = pos - j
            a = samples[min(j, last)]
            b = samples[min(j + 1, last)]
            out[i] = int(a + (b - a) * frac)
    return out


def _write_mono16(path: Path, samples: array[int], rate: int) -> None:
    if sys.byteorder == "big":
        samples = array("h", samples)
        samples.byteswap()
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(samples.tobytes())


def write_tone(
    path: str | Path, frequency: float, seconds: float, rate: int = 8000, level: float = 0.3
) -> None:
    """Write a sine tone (a record beep) as mono 16-bit PCM, with 5 ms fades against clicks."""
    n = int(seconds * rate)
    fade = max(1, int(0.005 * rate))
    samples = array("h", bytes(2 * n))
    for i in range(n):
        envelope = min(1.0, i / fade, (n - 1 - i) / fade)
        samples[i] = int(32767 * level * envelope * math.sin(2 * math.pi * frequency * i / rate))
    _write_mono16(Path(path), samples, rate)


def resample_wav(src: str | Path, dst: str | Path, rate: int = 8000) -> None:
    """Write `src` as mono 16-bit PCM at `rate` Hz to `dst`, without external tools."""
    samples, src_rate = _read_mono16(Path(src))
    _write_mono16(Path(dst), resample_samples(samples, src_rate, rate), rate)

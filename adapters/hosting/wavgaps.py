"""Put muted spans back into a call recording as silence, so the file keeps call time.

Place: run (in a worker thread) when a whole-call recording segment closes. While a secret
is keyed, pjsua2's recorder gets no frames at all, so the file simply lacks that span;
this inserts the same length of digital silence where it was cut, and the recording
lines up with the call's trace again. Pure file work on 16-bit mono PCM WAV.
"""

from __future__ import annotations

import wave
from collections.abc import Sequence
from pathlib import Path

from ivr.adapters.storage.durable import sync_to_disk


def insert_silence(path: Path, spans: Sequence[tuple[float, float]]) -> float:
    """Insert silence for each (start, end) span, in seconds of call time from the start of
    the recording; returns the seconds inserted. Spans must be ordered and not overlap."""
    if not spans or not path.exists():
        return 0.0
    with wave.open(str(path), "rb") as w:
        params = w.getparams()
        audio = w.readframes(w.getnframes())
    width, rate = params.sampwidth * params.nchannels, params.framerate
    out, cursor, inserted = bytearray(), 0, 0.0
    for start, end in spans:
        at = min(len(audio), max(cursor, int((start - inserted) * rate) * width))
        gap = max(0, int((end - start) * rate)) * width
        out += audio[cursor:at] + bytes(gap)
        cursor, inserted = at, inserted + gap / width / rate
    out += audio[cursor:]
    tmp = path.with_suffix(".gaps.tmp")
    with wave.open(str(tmp), "wb") as w:
        w.setparams(params)
        w.writeframes(bytes(out))
    tmp.replace(path)
    sync_to_disk(path)  # the filled-in file replaces the recorded one durably
    return inserted

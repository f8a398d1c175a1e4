"""espeak-ng text-to-speech with a content-addressed cache of telephone-ready WAV files.

Place: an adapter beside the SIP leg. The leg asks `render(text, language)` for each prompt
without an audio file; the answer is an 8 kHz mono 16-bit WAV (what the 8 kHz media path
plays without resampling) and its duration, which the leg uses to time the prompt.

A prompt is rendered once: the file name is the sha256 of (voice, text, rate), a render
writes a temporary file and renames it into place, and concurrent requests for the same
prompt share one render. espeak-ng speaks at 22.05 kHz; `sox` resamples when installed,
otherwise the pure-Python resampler in `ivr.adapters.speech.wavfile` does.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import trio

from ivr.adapters.errors import AdapterError
from ivr.adapters.speech.wavfile import resample_wav, wav_duration

# Flow languages (BCP 47-ish) to espeak-ng voices. Mandarin is `cmn`: espeak-ng's `zh` is an
# MBROLA voice that is usually not installed.
_VOICES = {"zh": "cmn", "cmn": "cmn", "en": "en"}


def voice_for(language: str) -> str:
    """The espeak-ng voice for a flow language: `zh`/`zh-CN` -> `cmn`, `en-GB` -> `en`.
    Other languages pass through by their primary tag (espeak-ng knows many)."""
    primary = language.strip().lower().replace("_", "-").split("-")[0]
    if not primary:
        raise ValueError("a prompt needs a language")
    return _VOICES.get(primary, primary)


class SpeechError(AdapterError):
    """Text could not be rendered (espeak-ng or sox missing or failing). The prompt cannot be
    played; the call takes its error path. Install `espeak-ng` (and `sox` for better audio)."""


@dataclass(frozen=True)
class RenderedPrompt:
    """A WAV file ready to play and its length in seconds."""

    path: Path
    duration: float


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "ivr" / "tts"


class EspeakRenderer:
    """Renders prompts with espeak-ng into `cache_dir` (created on first use)."""

    def __init__(
        self,
        cache_dir: str | Path | None = None,
        *,
        rate: int = 8000,
        espeak: str = "espeak-ng",
        use_sox: bool | None = None,
    ) -> None:
        self.cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir()
        self.rate = rate
        self._espeak = espeak
        self._sox = shutil.which("sox") if use_sox is not False else None
        if use_sox and self._sox is None:
            raise SpeechError("use_sox=True but `sox` is not installed")
        self._locks: dict[str, trio.Lock] = {}
        self.renders = 0  # how many times espeak-ng actually ran (the cache's hit test)

    def cache_key(self, text: str, language: str) -> str:
        voice = voice_for(language)
        return hashlib.sha256(f"{voice}\0{text}\0{self.rate}".encode()).hexdigest()

    async def render(self, text: str, language: str) -> RenderedPrompt:
        """The cached WAV for `text` spoken in `language`, rendering it on first use."""
        if not text.strip():
            raise SpeechError("nothing to say: the prompt text is empty")
        key = self.cache_key(text, language)
        target = self.cache_dir / f"{key}.wav"
        lock = self._locks.setdefault(key, trio.Lock())
        async with lock:
            if not target.exists():
                await self._render_into(target, text, voice_for(language))
        duration = await trio.to_thread.run_sync(wav_duration, target)
        return RenderedPrompt(target, duration)

    async def _render_into(self, target: Path, text: str, voice: str) -> None:
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        raw = target.with_suffix(f".{os.getpid()}.raw.wav")
        tmp = target.with_suffix(f".{os.getpid()}.tmp.wav")
        try:
            # Text goes in on stdin, never on the command line (no option injection, no
            # length limit, and it stays out of `ps`).
            await self._run([self._espeak, "-v", voice, "-w", str(raw), "--stdin"], text.encode())
            if self._sox is not None:
                cmd = [self._sox, "-q", str(raw), "-r", str(self.rate), "-c", "1", "-b", "16", str(tmp)]
                await self._run(cmd, b"")
            else:
                await trio.to_thread.run_sync(resample_wav, raw, tmp, self.rate)
            tmp.replace(target)
            self.renders += 1
        finally:
            for leftover in (raw, tmp):
                leftover.unlink(missing_ok=True)

    async def _run(self, cmd: list[str], stdin: bytes) -> None:
        try:
            result = await trio.run_process(
                cmd, stdin=stdin, capture_stdout=True, capture_stderr=True, check=False
            )
        except FileNotFoundError as exc:
            raise SpeechError(f"`{cmd[0]}` is not installed (apt-get install {cmd[0]})") from exc
        if result.returncode != 0:
            err = result.stderr.decode(errors="replace").strip()
            raise SpeechError(f"`{cmd[0]}` failed ({result.returncode}): {err}")

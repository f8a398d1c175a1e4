"""Speech adapters: text-to-speech for prompts.

The SIP leg (`ivr.adapters.sip`) turns a `SpokenPrompt` without an audio file into a WAV file
through a `PromptRenderer`; `EspeakRenderer` renders with espeak-ng into a content-addressed
cache of 8 kHz mono 16-bit WAV files (the format the media path plays without resampling).
"""

from ivr.adapters.speech.espeak import EspeakRenderer, RenderedPrompt, voice_for
from ivr.adapters.speech.wavfile import resample_wav, wav_duration

__all__ = ["EspeakRenderer", "RenderedPrompt", "resample_wav", "voice_for", "wav_duration"]

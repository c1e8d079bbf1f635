"""Make the spoken evaluation suite from the text suite, deterministically.

    python -m benchmarks.make_spoken_suite [--per-intent 6] [--out evals]
    python -m benchmarks.make_spoken_suite --source text_holdout --name spoken_holdout --per-intent 3

Picks, for every intent, the first cases of `evals/text_suite.jsonl` that a person would say aloud
(no typed 0x values, no transcription slips like "sand" for "send", which are the recognizer's
mistakes, not the speaker's), and speaks each with one of Piper's speeds or espeak-ng's voices, some
with white or pink noise, rotating so every engine meets every intent. Clips are Ogg/Opus (what
browsers record) under `evals/spoken/`; `evals/spoken_suite.jsonl` holds one case per clip with the
text case's expectation. The renders reuse `benchmarks.make_clips` (seeded, so reruns give the same
audio on the same package versions).
"""

from __future__ import annotations

import argparse
import io
import json
import re
from pathlib import Path
from typing import Any

import av
import numpy as np

from benchmarks.make_clips import (
    ESPEAK_VOICES,
    ESPEAK_WPM,
    PIPER_SPEEDS,
    PIPER_VOICE,
    NoiseColour,
    Render,
    Sentence,
    render,
)
from benchmarks.pcm import SAMPLE_RATE, to_int16

EVALS = Path(__file__).resolve().parents[1] / "evals"
_UNSPEAKABLE = re.compile(
    r"0x[0-9a-f]|\b(?:sand|trance|trans action|balanced|black number|gas prize)\b", re.I
)
# How a person says what the text suite writes.
_SAY = (
    (re.compile(r"\b(?:0g|og)\b", re.I), "zero G"),
    (re.compile(r"\busdc\b", re.I), "U S D C"),
    (re.compile(r"\busdt\b", re.I), "U S D T"),
    (re.compile(r"\bweth\b", re.I), "wrapped eth"),
    (re.compile(r"\bgwei\b", re.I), "gwei"),
)


def spoken(text: str) -> str:
    """The sentence as given to the synthesizer."""
    for pattern, words in _SAY:
        text = pattern.sub(words, text)
    return text


def pick(cases: list[dict[str, Any]], per_intent: int) -> list[dict[str, Any]]:
    """The first `per_intent` speakable cases of every intent, in suite order."""
    taken: dict[str, int] = {}
    chosen = []
    for case in cases:
        intent = case["expect"]["intent"]
        text = case["text"].strip()
        if not text or _UNSPEAKABLE.search(text) or taken.get(intent, 0) >= per_intent:
            continue
        taken[intent] = taken.get(intent, 0) + 1
        chosen.append(case)
    return chosen


def render_for(index: int, sentence: Sentence) -> Render:
    """Rotate engines, voices, speeds and noise over the cases."""
    noise: NoiseColour | None = ("white", "pink")[index % 2] if index % 4 == 3 else None
    if index % 3 == 2:
        voice, wpm = ESPEAK_VOICES[index % len(ESPEAK_VOICES)], ESPEAK_WPM[index % len(ESPEAK_WPM)]
        return Render(sentence, "question", "espeak-ng", voice, wpm, noise, 25.0 if noise else None)
    speed = PIPER_SPEEDS[index % len(PIPER_SPEEDS)]
    return Render(sentence, "question", "piper", PIPER_VOICE, speed, noise, 20.0 if noise else None)


def ogg_opus(pcm16: bytes) -> bytes:
    """16 kHz mono PCM16 as Ogg/Opus at 32 kbit/s."""
    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format="ogg") as out:
        stream: Any = out.add_stream("libopus", rate=48_000)
        stream.layout = "mono"
        stream.bit_rate = 32_000
        samples = np.frombuffer(pcm16, dtype=np.int16).reshape(1, -1)
        frame = av.AudioFrame.from_ndarray(samples, format="s16", layout="mono")
        frame.sample_rate = SAMPLE_RATE
        for packet in stream.encode(frame):
            out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return buffer.getvalue()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.make_spoken_suite", description=__doc__)
    parser.add_argument("--per-intent", type=int, default=6)
    parser.add_argument("--out", type=Path, default=EVALS)
    parser.add_argument("--source", default="text_suite", help="the text suite to speak (a name in --out)")
    parser.add_argument("--name", default="spoken", help="the clip folder and suite name (NAME_suite.jsonl)")
    args = parser.parse_args(argv)
    source = args.out / f"{args.source}.jsonl"
    cases = [json.loads(line) for line in source.read_text().splitlines() if line.strip()]
    clips = args.out / args.name
    clips.mkdir(parents=True, exist_ok=True)
    rows = []
    for index, case in enumerate(pick(cases, args.per_intent)):
        spec = render_for(index, Sentence(case["text"], spoken(case["text"])))
        engine = spec.file.split(".")[1]
        name = f"{case['id']}.{engine}.ogg"
        (clips / name).write_bytes(ogg_opus(to_int16(render(spec)).tobytes()))
        rows.append({"id": f"spoken-{case['id']}", "audio": f"{args.name}/{name}", "expect": case["expect"]})
        print(name, flush=True)
    wanted = {Path(row["audio"]).name for row in rows}
    for stale in clips.glob("*.ogg"):
        if stale.name not in wanted:
            stale.unlink()
    (args.out / f"{args.name}_suite.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    print(f"{len(rows)} clips in {clips}")


if __name__ == "__main__":
    main()

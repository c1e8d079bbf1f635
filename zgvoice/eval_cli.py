"""`zgv eval SUITE.jsonl [--out FILE]`: run an evaluation suite through the recognizer (audio cases
through the configured speech-to-text first) and print the totals; `--out` writes every case."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import anyio

from nlp.evaluation import Report, SuiteError, load_suite, result_of
from nlp.intent import Intent, IntentName
from nlp.nbest import choose
from nlp.recognizer import Recognizer
from nlp.text_input import TextInputError, clean_text
from voice_gateway.stt import Alternative
from zgvoice.cli_errors import UsageError
from zgvoice.settings import Settings

MAX_AUDIO_SECONDS = 30.0


def add_parser(commands: Any) -> None:
    """Register `zgv eval`."""
    evaluate = commands.add_parser("eval", help="score the recognizer on an evaluation suite (JSONL)")
    evaluate.add_argument("suite", type=Path, help="the suite: one JSON case per line (docs/intents.md)")
    evaluate.add_argument("--out", type=Path, help="write the full per-case report as JSON here")


def build_recognizer(settings: Settings) -> Recognizer:
    """The recognizer the product uses (rules and, when enabled, the classifier)."""
    from zgvoice.nlu import recognizer_for

    return recognizer_for(settings)


def _chosen(recognizer: Recognizer, heard: list[Alternative], max_chars: int) -> str:
    """The hypothesis the product would answer (as the interpreter chooses, without contacts)."""

    def understood(text: str) -> Intent:
        try:
            return recognizer.recognize(clean_text(text, max_chars))
        except TextInputError:
            return Intent(IntentName.UNKNOWN)

    choice = choose([(alt.text, alt.score) for alt in heard], understood)
    return "" if choice is None else choice.text


async def run(settings: Settings, args: argparse.Namespace) -> dict[str, Any]:
    """Carry out `zgv eval`; returns the totals it printed.

    Raises:
        UsageError: an unreadable or malformed suite.
    """
    try:
        cases = load_suite(args.suite)
    except SuiteError as exc:
        raise UsageError(str(exc)) from None
    recognizer = build_recognizer(settings)
    stt = None
    if any(case.audio is not None for case in cases):
        from zgvoice.runtime import build_stt

        stt = build_stt(settings)
    report = Report()
    started = time.perf_counter()
    for case in cases:
        heard = case.text or ""
        if case.audio is not None:
            assert stt is not None
            from voice_gateway.audio.decode import decode_to_pcm16k

            try:
                data = case.audio.read_bytes()
            except OSError as exc:
                raise UsageError(f"{case.id}: cannot read {case.audio}: {exc.strerror}") from None
            pcm = await anyio.to_thread.run_sync(decode_to_pcm16k, data, MAX_AUDIO_SECONDS)
            heard = _chosen(recognizer, await stt.alternatives(pcm), settings.nlp.max_text_chars)
        try:
            text = clean_text(heard, settings.nlp.max_text_chars)
        except TextInputError:
            text = ""
        intent = recognizer.recognize(text) if text else None
        report.results.append(result_of(case, heard, intent or Intent(IntentName.UNKNOWN)))
    totals = report.as_json()
    totals["seconds"] = round(time.perf_counter() - started, 2)
    if args.out is not None:
        args.out.write_text(json.dumps(totals, indent=1, ensure_ascii=False) + "\n")
    summary = {k: totals[k] for k in ("cases", "intent_accuracy", "slot_exact_match", "seconds")}
    print(json.dumps(summary))
    for result in report.results:
        if not result.slots_ok:
            got = f"{result.intent.value} {json.dumps(result.slots, ensure_ascii=False)}"
            expected = json.dumps(result.case.expect_slots, ensure_ascii=False)
            want = f"{result.case.expect_intent.value} {expected}"
            print(f"  miss {result.case.id}: {result.heard!r}: got {got}; want {want}")
    return summary

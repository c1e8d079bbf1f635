"""Understanding accuracy on every shipped evaluation suite, as `zgv eval` reports it.

    python -m benchmarks.nlu_accuracy [--out FILE] [--no-record]

Runs the text suite, the blind text holdout, and the spoken suites (Piper and espeak-ng clips heard by
Whisper tiny.en) through the product's recognizer and prints intent accuracy and slot exact match of
each. The rules-only recognizer runs on the text suites in the same run, as the baseline.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import sys
from pathlib import Path
from typing import Any

from benchmarks.report import append_row, write_json
from nlp.evaluation import Report, load_suite, result_of
from nlp.recognizer import Recognizer
from zgvoice.eval_cli import run as run_eval
from zgvoice.settings import load_settings

EVALS = Path(__file__).resolve().parents[1] / "evals"
SUITES = ("text_suite", "text_holdout", "spoken_suite", "spoken_holdout_suite")


def _rules_only(suite: Path) -> dict[str, float]:
    recognizer, report = Recognizer(), Report()
    for case in load_suite(suite):
        text = case.text or ""
        report.results.append(result_of(case, text, recognizer.recognize(text)))
    return {
        "intent_accuracy": round(report.intent_accuracy, 4),
        "slot_exact_match": round(report.slot_exact_match, 4),
    }


async def measure() -> dict[str, Any]:
    settings = load_settings()
    figures: dict[str, Any] = {}
    for name in SUITES:
        with contextlib.redirect_stdout(io.StringIO()):  # the per-case misses are not the summary
            summary = await run_eval(settings, argparse.Namespace(suite=EVALS / f"{name}.jsonl", out=None))
        figures[name] = summary
        if name.startswith("text"):
            figures[name]["rules_only"] = _rules_only(EVALS / f"{name}.jsonl")
    return figures


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.nlu_accuracy", description=__doc__)
    parser.add_argument("--out", type=Path, help="write the figures as JSON here")
    parser.add_argument("--no-record", action="store_true", help="do not append to BENCHMARKS.md")
    args = parser.parse_args(argv)
    figures = asyncio.run(measure())
    parts = []
    for name, f in figures.items():
        scores = f"intent {f['intent_accuracy']:.1%}, slots {f['slot_exact_match']:.1%}"
        part = f"{name} ({f['cases']} cases): {scores}"
        if "rules_only" in f:
            base = f["rules_only"]
            part += f" (rules only: {base['intent_accuracy']:.1%} / {base['slot_exact_match']:.1%})"
        parts.append(part)
    headline = "; ".join(parts)
    print(headline)
    write_json(args.out, figures)
    if not args.no_record:
        command = "python -m benchmarks.nlu_accuracy " + " ".join(argv if argv is not None else sys.argv[1:])
        append_row("nlu_accuracy", command.strip(), headline)


if __name__ == "__main__":
    main()

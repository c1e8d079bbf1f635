"""Latency of understanding and planning one utterance (no tools, no speech), against the rules alone.

    python -m benchmarks.nlu_latency [--rounds 3] [--out FILE] [--no-record]

Runs every case of `evals/text_suite.jsonl` through the product's recognizer (rules, then the MiniLM
classifier for what the rules leave) and the planner, timing each utterance; in the same run, the
same utterances through the rules alone, the baseline the classifier adds to. Reports p50/p95 of
both, split by whether the classifier ran, so the price of the model is visible.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks.report import append_row, summary, write_json
from nlp.recognizer import Recognizer
from nlp.rules import match_rules
from nlp.speech import speech_form
from task_interpreter.planner import Planner, TurnContext
from zgvoice.nlu import recognizer_for, warm_up
from zgvoice.settings import load_settings

SUITE = Path(__file__).resolve().parents[1] / "evals" / "text_suite.jsonl"
ME = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
CONTACTS = {
    "alice": "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
    "bob": "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC",
}


def _time(recognizer: Recognizer, planner: Planner, texts: list[str], rounds: int) -> list[float]:
    context = TurnContext(ME, CONTACTS)
    samples = []
    for _ in range(rounds):
        for text in texts:
            started = time.perf_counter()
            intent = recognizer.recognize(text)
            planner.plan(intent, context)
            samples.append((time.perf_counter() - started) * 1000)
    return samples


def measure(rounds: int) -> dict[str, Any]:
    texts = [json.loads(line)["text"] for line in SUITE.read_text().splitlines() if line.strip()]
    texts = [t for t in texts if t.strip()]
    warm_up()
    full, rules = recognizer_for(load_settings()), Recognizer()
    planner = Planner()
    for text in texts[:20]:  # warm the code paths before timing
        full.recognize(text)
    by_rules = [match_rules(speech_form(t)) is not None for t in texts]
    model_texts = [t for t, hit in zip(texts, by_rules, strict=True) if not hit]
    rule_texts = [t for t, hit in zip(texts, by_rules, strict=True) if hit]
    return {
        "utterances": len(texts),
        "rounds": rounds,
        "classifier_share": round(len(model_texts) / len(texts), 3),
        "product_all_ms": summary(_time(full, planner, texts, rounds)),
        "product_rule_hits_ms": summary(_time(full, planner, rule_texts, rounds)),
        "product_classifier_ms": summary(_time(full, planner, model_texts, rounds)),
        "baseline_rules_only_ms": summary(_time(rules, planner, texts, rounds)),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.nlu_latency", description=__doc__)
    parser.add_argument("--rounds", type=int, default=3, help="passes over the suite")
    parser.add_argument("--out", type=Path, help="write the figures as JSON here")
    parser.add_argument("--no-record", action="store_true", help="do not append to BENCHMARKS.md")
    args = parser.parse_args(argv)
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    f = measure(args.rounds)
    base, every, model = f["baseline_rules_only_ms"], f["product_all_ms"], f["product_classifier_ms"]
    headline = (
        f"NLU + planning over {f['utterances']} utterances x{f['rounds']}: p50 {every['p50']} ms, "
        f"p95 {every['p95']} ms; rule hits p50 {f['product_rule_hits_ms']['p50']} ms; "
        f"classifier ({f['classifier_share']:.0%} of utterances) p50 {model['p50']} ms, "
        f"p95 {model['p95']} ms; baseline rules only p50 {base['p50']} ms, p95 {base['p95']} ms"
    )
    print(headline)
    write_json(args.out, f)
    if not args.no_record:
        command = "python -m benchmarks.nlu_latency " + " ".join(argv if argv is not None else sys.argv[1:])
        append_row("nlu_latency", command.strip(), headline)


if __name__ == "__main__":
    main()

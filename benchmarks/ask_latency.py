"""Latency of one text turn on the embedded stack, against the raw chain read it wraps.

    python -m benchmarks.ask_latency [--n 200] [--out FILE] [--no-record]

Starts its own devnet. For each read question it measures the whole turn (nlp -> plan -> MCP in-memory
-> web3 -> reply) and, in the same run, the bare `ChainReader` call the turn makes, so the cost of our
layers shows as a difference of medians. It also times Piper on the reply sentences.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks.report import append_row, summary, write_json
from zerog_client import ChainReader
from zgvoice.devnet import devnet_node
from zgvoice.runtime import open_runtime
from zgvoice.settings import DevnetSettings, load_settings

QUESTIONS = ("what is my balance", "what is the latest block")


async def _raw_reads(reader: ChainReader, address: str, n: int) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {q: [] for q in QUESTIONS}
    for _ in range(n):
        started = time.perf_counter()
        await reader.balance(address)
        out[QUESTIONS[0]].append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        await reader.block_number()
        out[QUESTIONS[1]].append((time.perf_counter() - started) * 1000)
    return out


async def _measure(n: int, tts_n: int) -> dict[str, Any]:
    with devnet_node(DevnetSettings(port=0)) as node:
        settings = load_settings(chain={"rpc_url": node.rpc_url})
        async with open_runtime(settings) as runtime:
            assert runtime.user_address is not None
            # Warm both paths (HTTP session, voice model) before timing anything.
            await runtime.service.ask(QUESTIONS[0], speak=True)
            await runtime.reader.block_number()
            turns: dict[str, dict[str, list[float]]] = {q: {"total": [], "ours": []} for q in QUESTIONS}
            for _ in range(n):
                for question in QUESTIONS:
                    result = await runtime.service.ask(question, speak=False)
                    latency = result.latency_ms
                    turns[question]["total"].append(latency["total_ms"])
                    turns[question]["ours"].append(
                        latency["nlp_ms"] + latency["plan_ms"] + latency["reply_ms"]
                    )
            raw = await _raw_reads(runtime.reader, runtime.user_address, n)
            tts = []
            for _ in range(tts_n):
                result = await runtime.service.ask(QUESTIONS[1], speak=True)
                tts.append(result.latency_ms["tts_ms"])
    figures: dict[str, Any] = {"n": n, "questions": {}}
    for question in QUESTIONS:
        total, bare = summary(turns[question]["total"]), summary(raw[question])
        figures["questions"][question] = {
            "turn_ms": total,
            "nlp_plan_reply_ms": summary(turns[question]["ours"]),
            "raw_rpc_ms": bare,
            "overhead_p50_ms": round(total["p50"] - bare["p50"], 3),
            "ratio_p50": round(total["p50"] / bare["p50"], 2),
        }
    figures["tts_ms"] = summary(tts)
    return figures


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.ask_latency", description=__doc__)
    parser.add_argument("--n", type=int, default=200, help="turns per question")
    parser.add_argument("--tts-n", type=int, default=10, help="spoken replies to time")
    parser.add_argument("--out", type=Path, help="write the figures as JSON here")
    parser.add_argument("--no-record", action="store_true", help="do not append to BENCHMARKS.md")
    args = parser.parse_args(argv)
    if args.n < 1 or args.tts_n < 1:
        parser.error("--n and --tts-n must be at least 1")
    figures = asyncio.run(_measure(args.n, args.tts_n))
    lines = []
    for question, f in figures["questions"].items():
        lines.append(
            f"'{question}': turn p50 {f['turn_ms']['p50']} ms / p95 {f['turn_ms']['p95']} ms; "
            f"raw RPC p50 {f['raw_rpc_ms']['p50']} ms; overhead p50 {f['overhead_p50_ms']} ms "
            f"(x{f['ratio_p50']}); nlp+plan+reply p50 {f['nlp_plan_reply_ms']['p50']} ms"
        )
    lines.append(
        f"Piper reply synthesis p50 {figures['tts_ms']['p50']} ms / p95 {figures['tts_ms']['p95']} ms"
    )
    print("\n".join(lines))
    write_json(args.out, figures)
    if not args.no_record:
        command = "python -m benchmarks.ask_latency " + " ".join(argv if argv is not None else sys.argv[1:])
        append_row("ask_latency", command.strip(), "; ".join(lines))


if __name__ == "__main__":
    main()

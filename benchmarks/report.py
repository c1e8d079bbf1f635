"""Shared reporting for benchmarks: percentiles, machine facts, JSON output, the BENCHMARKS.md row."""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import statistics
from pathlib import Path
from typing import Any

BENCHMARKS_MD = Path(__file__).resolve().parents[1] / "BENCHMARKS.md"


def percentile(samples: list[float], pct: float) -> float:
    """The `pct` percentile (0-100) by linear interpolation; samples need not be sorted."""
    if not samples:
        raise ValueError("no samples")
    ordered = sorted(samples)
    rank = (len(ordered) - 1) * pct / 100.0
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def summary(samples: list[float]) -> dict[str, float]:
    """p50, p95, mean and count of a list of milliseconds, rounded for reading."""
    return {
        "p50": round(statistics.median(samples), 3),
        "p95": round(percentile(samples, 95), 3),
        "mean": round(statistics.fmean(samples), 3),
        "n": len(samples),
    }


def machine() -> str:
    """A one-line description of the machine the figures come from."""
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{os.cpu_count()} cores, {model}, Python {platform.python_version()}"


def write_json(path: Path | None, figures: dict[str, Any]) -> None:
    """Write the figures as JSON when `--out` was given."""
    if path is not None:
        path.write_text(json.dumps(figures, indent=2) + "\n")


def append_row(name: str, command: str, headline: str) -> None:
    """Append a dated row to BENCHMARKS.md (creating the table if the file is new)."""
    if not BENCHMARKS_MD.exists():
        BENCHMARKS_MD.write_text(
            "# Benchmarks\n\n"
            "Every figure with its date, machine and command. Medians on a shared, noisy machine.\n\n"
            "| date | benchmark | machine | command | result |\n|---|---|---|---|---|\n"
        )
    stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    with BENCHMARKS_MD.open("a") as out:
        out.write(f"| {stamp} | {name} | {machine()} | `{command}` | {headline} |\n")

"""Voice-to-voice latency, transcript latency, barge-in and WER of the streaming voice API.

    python -m benchmarks.voice_latency [--clips DIR] [--max-clips N] [--concurrency N] [--interval-s 10]
        [--turns-per-session 3] [--barge-ins 2] [--out FILE] [--url ws://127.0.0.1:PORT/v1/voice]
        [--no-record]

Unless `--url` is given it starts `zgv up` on a free port (its own devnet too) and stops it with SIGINT
at the end. One session speaks every question clip in turn, streamed in real time as a microphone
would, and measures from the last voiced frame sent to the first reply audio received
(voice-to-voice) and to the final transcript; the server's own `metrics` are kept beside, so the
client-minus-server difference shows what the socket and framing cost. Then it talks over replies
(barge-in), and with `--concurrency N > 1` runs N sessions at once, reporting the ratio of their
median to the single-session median measured in the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlsplit

from benchmarks.report import append_row, percentile, summary, write_json
from benchmarks.voice_client import (
    BargeInResult,
    Clip,
    TurnResult,
    VoiceSession,
    barge_in,
    load_clips,
    speak_question,
)
from benchmarks.wer import corpus_word_error_rate

CLIPS_DIR = Path(__file__).resolve().parent / "clips"
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}
TRAILING_S = 1.2
SETTLE_TIMEOUT_S = 30.0  # a turn with no answer by then is reported incomplete
HEALTH_TIMEOUT_S = 180.0  # devnet + Whisper + Piper + VAD load and warm up on a slow machine
STOP_TIMEOUT_S = 20.0
DEFAULT_SESSIONS_PER_CLIENT = 4


# -- the server under test -----------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# No proxy, whatever the environment says: the benchmark talks to 127.0.0.1 and nothing else.
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _healthy(port: int) -> bool:
    try:
        with _DIRECT.open(f"http://127.0.0.1:{port}/healthz", timeout=2) as response:
            return int(response.status) == 200
    except (urllib.error.URLError, OSError):
        return False


def _tail(log: IO[bytes], lines: int = 30) -> str:
    log.seek(0)
    return "\n".join(log.read().decode(errors="replace").splitlines()[-lines:])


@contextlib.contextmanager
def spawned_server(sessions_per_client: int) -> Iterator[str]:
    """Run `zgv up` on a free port until the block ends; yields the voice URL.

    The child gets its own process group so a Ctrl-C here reaches it only through our SIGINT (its
    graceful path also stops its devnet); the group is killed only if it ignores SIGINT and SIGTERM.
    """
    port = _free_port()
    command = [str(Path(sys.executable).parent / "zgv"), "up", "--port", str(port), "--devnet-port", "0"]
    env = dict(os.environ)
    if sessions_per_client > DEFAULT_SESSIONS_PER_CLIENT:
        env["ZGV_VOICE__MAX_SESSIONS_PER_CLIENT"] = str(sessions_per_client)
    with tempfile.TemporaryFile(prefix="zgv-up-") as log:
        process = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
        try:
            deadline = time.monotonic() + HEALTH_TIMEOUT_S
            while not _healthy(port):
                if process.poll() is not None:
                    raise RuntimeError(f"`zgv up` exited with {process.returncode}:\n{_tail(log)}")
                if time.monotonic() > deadline:
                    raise RuntimeError(f"`zgv up` not healthy after {HEALTH_TIMEOUT_S:.0f} s:\n{_tail(log)}")
                time.sleep(0.2)  # poll interval of a deadline loop
            yield f"ws://127.0.0.1:{port}/v1/voice"
        finally:
            _stop(process)


def _stop(process: subprocess.Popen[bytes]) -> None:
    # A second Ctrl-C while the server shuts down must not leave it running: hold SIGINT until done.
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        _signal_until_gone(process)
    finally:
        signal.signal(signal.SIGINT, previous)


def _signal_until_gone(process: subprocess.Popen[bytes]) -> None:
    for sig, wait_s in ((signal.SIGINT, STOP_TIMEOUT_S), (signal.SIGTERM, 5.0)):
        if process.poll() is not None:
            return
        process.send_signal(sig)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(wait_s)
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)  # the group of the child we started, nothing else
        process.wait(5)


# -- the three phases ----------------------------------------------------------------------------


async def _sequential(url: str, clips: list[Clip], warmup: int) -> list[TurnResult]:
    results = []
    async with VoiceSession(url) as session:
        for clip in clips[:warmup]:
            await speak_question(session, clip, TRAILING_S, SETTLE_TIMEOUT_S)
        for clip in clips:
            result = await speak_question(session, clip, TRAILING_S, SETTLE_TIMEOUT_S)
            results.append(result)
            v2v = f"{result.voice_to_voice_ms:.0f} ms" if result.voice_to_voice_ms is not None else "-"
            print(f"  {clip.file}: v2v {v2v}, heard {result.transcript!r}", flush=True)
    return results


async def _barge_ins(
    url: str, question: Clip, interruptions: list[Clip], n: int, min_speech_ms: int
) -> list[BargeInResult]:
    results = []
    for i in range(n):
        # A fresh session each time, so one interruption's follow-up turn cannot overlap the next.
        async with VoiceSession(url) as session:
            result = await barge_in(
                session,
                question,
                interruptions[i % len(interruptions)],
                min_speech_ms,
                TRAILING_S,
                max_wait_s=15.0,
                settle_timeout_s=SETTLE_TIMEOUT_S,
            )
        results.append(result)
        stop = f"{result.stop_ms:.0f} ms" if result.stop_ms is not None else "-"
        print(f"  barge-in {result.barge_in}: {result.reason}, stop {stop}", flush=True)
    return results


async def _concurrent(
    url: str, clips: list[Clip], sessions: int, interval_s: float, turns: int
) -> tuple[list[TurnResult], list[str]]:
    """`sessions` sessions, each asking `turns` questions `interval_s` apart, starts staggered."""
    began = time.perf_counter()

    async def one(index: int) -> list[TurnResult]:
        results = []
        async with VoiceSession(url) as session:
            for turn in range(turns):
                # Starts staggered across the interval; a turn that overruns delays only its session.
                due = began + index * interval_s / sessions + turn * interval_s
                await asyncio.sleep(max(0.0, due - time.perf_counter()))  # the next question's slot
                clip = clips[(index * turns + turn) % len(clips)]
                results.append(await speak_question(session, clip, TRAILING_S, SETTLE_TIMEOUT_S))
        return results

    # One session failing (refused, disconnected) must not hide the others' figures.
    outcomes = await asyncio.gather(*(one(i) for i in range(sessions)), return_exceptions=True)
    results: list[TurnResult] = []
    failures: list[str] = []
    for outcome in outcomes:
        if isinstance(outcome, BaseException):
            if not isinstance(outcome, Exception):
                raise outcome  # cancellation, Ctrl-C
            failures.append(f"{type(outcome).__name__}: {outcome}")
        else:
            results.extend(outcome)
    return results, failures


# -- figures -------------------------------------------------------------------------------------


def _stats(samples: list[float]) -> dict[str, float] | None:
    return summary(samples) if samples else None


def _errors(errors: list[dict[str, Any]]) -> dict[str, int]:
    return dict(Counter(str(e.get("code")) for e in errors))


def _turn_figures(turns: list[TurnResult]) -> dict[str, Any]:
    v2v = [t.voice_to_voice_ms for t in turns if t.voice_to_voice_ms is not None]
    finals = [t.final_transcript_ms for t in turns if t.final_transcript_ms is not None]
    server_v2v = [
        t.server_latency_ms["voice_to_voice_ms"] for t in turns if "voice_to_voice_ms" in t.server_latency_ms
    ]
    errors = [e for t in turns for e in t.errors]
    figures: dict[str, Any] = {
        "turns": len(turns),
        "complete": sum(t.complete for t in turns),
        "answered_with_audio": len(v2v),
        "split_utterances": sum(t.finals > 1 for t in turns),
        "voice_to_voice_ms": _stats(v2v),
        # Noisy clips' end of speech is found up to 140 ms early (a faint last consonant under the
        # noise), which inflates their figure by as much; the clean subset has no such bias.
        "voice_to_voice_ms_clean_clips": _stats(
            [t.voice_to_voice_ms for t in turns if t.voice_to_voice_ms is not None and not t.noisy]
        ),
        "final_transcript_ms": _stats(finals),
        "server_voice_to_voice_ms": _stats(server_v2v),
        "errors": _errors(errors),
        # The server reports queue overflow as `overloaded` errors; every other error is a turn lost.
        "dropped_frame_reports": sum(e.get("code") == "overloaded" for e in errors),
    }
    if v2v and server_v2v:
        figures["client_minus_server_v2v_p50_ms"] = round(percentile(v2v, 50) - percentile(server_v2v, 50), 1)
    stages = sorted({k for t in turns for k in t.server_latency_ms})
    figures["server_stages_p50_ms"] = {
        k: round(percentile([t.server_latency_ms[k] for t in turns if k in t.server_latency_ms], 50), 1)
        for k in stages
    }
    return figures


def _wer_figures(turns: list[TurnResult]) -> dict[str, Any]:
    pairs = [(t.reference, t.transcript or "") for t in turns]
    groups: dict[str, list[tuple[str, str]]] = {}
    for t in turns:
        key = f"{t.engine}{'+noise' if t.noisy else ''}"
        groups.setdefault(key, []).append((t.reference, t.transcript or ""))
    return {
        "wer_percent": round(100 * corpus_word_error_rate(pairs), 1) if pairs else None,
        "wer_percent_by_group": {
            k: round(100 * corpus_word_error_rate(v), 1) for k, v in sorted(groups.items())
        },
    }


def _barge_figures(results: list[BargeInResult]) -> dict[str, Any]:
    stops = [r.stop_ms for r in results if r.stop_ms is not None]
    return {
        "n": len(results),
        "stopped_by_barge_in": len(stops),
        "stop_ms": {"p50": round(percentile(stops, 50), 1), "max": round(max(stops), 1)} if stops else None,
        "audio_frames_after_stop": sum(r.audio_after_stop for r in results),
        "outcomes": dict(Counter(str(r.reason) for r in results)),
        "errors": _errors([e for r in results for e in r.errors]),
    }


def _ms(stats: dict[str, float] | None, key: str = "p50") -> str:
    return f"{stats[key]:.0f}" if stats else "-"


def _groups(wer: dict[str, float]) -> str:
    return ", ".join(f"{group} {rate}%" for group, rate in wer.items())


def _headline(figures: dict[str, Any]) -> list[str]:
    seq = figures["sequential"]
    lines = [
        f"{seq['turns']} turns ({seq['answered_with_audio']} answered with audio): voice-to-voice p50 "
        f"{_ms(seq['voice_to_voice_ms'])} / p95 {_ms(seq['voice_to_voice_ms'], 'p95')} ms "
        f"(server-measured p50 {_ms(seq['server_voice_to_voice_ms'])} ms); final transcript p50 "
        f"{_ms(seq['final_transcript_ms'])} / p95 {_ms(seq['final_transcript_ms'], 'p95')} ms; "
        f"WER {seq['wer_percent']}% ({_groups(seq['wer_percent_by_group'])}); errors {seq['errors'] or 0}"
    ]
    barge = figures.get("barge_in")
    if barge:
        stop = barge["stop_ms"]
        lines.append(
            f"barge-in ({barge['stopped_by_barge_in']}/{barge['n']} stopped): stop p50 "
            f"{stop['p50'] if stop else '-'} / max {stop['max'] if stop else '-'} ms after "
            f"{figures['barge_in_min_speech_ms']} ms of speech; audio frames after stop "
            f"{barge['audio_frames_after_stop']}"
        )
    conc = figures.get("concurrent")
    if conc:
        lines.append(
            f"{conc['sessions']} concurrent sessions, {conc['turns']} turns: voice-to-voice p50 "
            f"{_ms(conc['voice_to_voice_ms'])} / p95 {_ms(conc['voice_to_voice_ms'], 'p95')} ms "
            f"(x{conc.get('ratio_p50_vs_sequential', '-')} vs one session); dropped-frame reports "
            f"{conc['dropped_frame_reports']}; errors {conc['errors'] or 0}; "
            f"failed sessions {len(conc['failed_sessions'])}"
        )
    return lines


async def _measure(url: str, args: argparse.Namespace) -> dict[str, Any]:
    clips = load_clips(args.clips)
    questions = [c for c in clips if c.kind == "question"]
    interruptions = [c for c in clips if c.kind == "barge_in"]
    if not questions:
        raise RuntimeError(f"no question clips in {args.clips}")
    if args.max_clips:
        questions = spread(questions, args.max_clips)
    figures: dict[str, Any] = {"clips": len(questions), "barge_in_min_speech_ms": args.barge_in_min_speech_ms}
    print(f"one session, {len(questions)} clips:", flush=True)
    turns = await _sequential(url, questions, args.warmup)
    figures["sequential"] = {**_turn_figures(turns), **_wer_figures(turns)}
    if args.barge_ins and interruptions:
        print("barge-in:", flush=True)
        barges = await _barge_ins(
            url, questions[0], interruptions, args.barge_ins, args.barge_in_min_speech_ms
        )
        figures["barge_in"] = _barge_figures(barges)
        figures["barge_in_results"] = [asdict(r) for r in barges]
    concurrent: list[TurnResult] = []
    if args.concurrency > 1:
        print(f"{args.concurrency} concurrent sessions:", flush=True)
        concurrent, failures = await _concurrent(
            url, questions, args.concurrency, args.interval_s, args.turns_per_session
        )
        conc = {
            "sessions": args.concurrency,
            "failed_sessions": failures,
            **_turn_figures(concurrent),
            **_wer_figures(concurrent),
        }
        base, loaded = figures["sequential"]["voice_to_voice_ms"], conc["voice_to_voice_ms"]
        if base and loaded:
            conc["ratio_p50_vs_sequential"] = round(loaded["p50"] / base["p50"], 2)
        figures["concurrent"] = conc
    figures["turn_results"] = [asdict(t) for t in turns + concurrent]
    return figures


def spread(clips: list[Clip], n: int) -> list[Clip]:
    """`n` distinct clips spread over the list, so a short run still meets every engine and noise.

    The manifest groups each sentence's renders together; a plain stride would land on the same
    render of every sentence, so the step is nudged until it is coprime with the length, which also
    makes the picks distinct.
    """
    if n >= len(clips):
        return list(clips)
    step = max(1, len(clips) // n)
    while math.gcd(step, len(clips)) != 1:
        step += 1
    return [clips[(i * step) % len(clips)] for i in range(n)]


def _local_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("ws", "wss") or parts.hostname not in LOCAL_HOSTS:
        raise ValueError(f"--url must be a ws:// URL on this machine (127.0.0.1), not {url!r}")
    return url


def main(argv: list[str] | None = None) -> None:
    try:
        _main(argv)
    except KeyboardInterrupt:
        print("interrupted; nothing recorded", file=sys.stderr)
        sys.exit(130)


def _main(argv: list[str] | None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.voice_latency",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--clips", type=Path, default=CLIPS_DIR, help="directory with manifest.json")
    parser.add_argument("--max-clips", type=int, default=0, help="question clips to use (0: all)")
    parser.add_argument("--warmup", type=int, default=1, help="unrecorded turns before measuring")
    parser.add_argument("--concurrency", type=int, default=1, help="parallel sessions of the load phase")
    parser.add_argument(
        "--interval-s", type=float, default=10.0, help="seconds between a session's questions"
    )
    parser.add_argument("--turns-per-session", type=int, default=3, help="questions per concurrent session")
    parser.add_argument("--barge-ins", type=int, default=2, help="interruptions to measure (0: none)")
    parser.add_argument(
        "--barge-in-min-speech-ms",
        type=int,
        default=200,
        help="server's minimum speech to interrupt (ZGV_VOICE__MIN_SPEECH_MS); the stop clock starts there",
    )
    parser.add_argument("--url", help="measure this running server instead of starting one")
    parser.add_argument("--out", type=Path, help="write the figures as JSON here")
    parser.add_argument("--no-record", action="store_true", help="do not append to BENCHMARKS.md")
    args = parser.parse_args(argv)
    if (
        min(args.max_clips, args.warmup, args.barge_ins) < 0
        or args.concurrency < 1
        or args.turns_per_session < 1
    ):
        parser.error("counts must be >= 0, --concurrency and --turns-per-session >= 1")
    if not 0 < args.interval_s <= 600 or not 20 <= args.barge_in_min_speech_ms <= 5000:
        parser.error("--interval-s must be in (0, 600], --barge-in-min-speech-ms in [20, 5000]")
    if args.url is not None:
        try:
            url = _local_url(args.url)
        except ValueError as exc:
            parser.error(str(exc))
        figures = asyncio.run(_measure(url, args))
        figures["server"] = url
    else:
        with spawned_server(args.concurrency + 1) as url:
            figures = asyncio.run(_measure(url, args))
        figures["server"] = "spawned `zgv up`"
    lines = _headline(figures)
    print("\n".join(lines))
    write_json(args.out, figures)
    if not args.no_record:
        command = "python -m benchmarks.voice_latency " + " ".join(argv if argv is not None else sys.argv[1:])
        append_row("voice_latency", command.strip(), "; ".join(lines))


if __name__ == "__main__":
    main()

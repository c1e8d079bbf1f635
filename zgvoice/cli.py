"""The `zgv` command line: ask, devnet, up, storage, kv, mcp, token, eval."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from nlp import TextInputError, clean_text, decode_text
from voice_gateway.audio import write_wav
from voice_gateway.stt import SttError
from voice_gateway.tts import TtsError
from zerog_client import ZeroGError
from zgvoice import __version__
from zgvoice.cli_errors import UsageError
from zgvoice.eval_cli import add_parser as add_eval_parser
from zgvoice.eval_cli import run as run_eval
from zgvoice.kv_cli import add_parser as add_kv_parser
from zgvoice.kv_cli import run as run_kv
from zgvoice.login import add_parser as add_login_parser
from zgvoice.login import run as run_login
from zgvoice.logs import configure_logging
from zgvoice.mcp_cli import add_parser as add_mcp_parser
from zgvoice.mcp_cli import run as run_mcp
from zgvoice.settings import CONFIG_FILE_ENV, Settings, SettingsError, load_settings
from zgvoice.storage_cli import add_parser as add_storage_parser
from zgvoice.storage_cli import run as run_storage

log = logging.getLogger("zgvoice")

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2
# Errors in what the user typed (exit 2), as opposed to failures of the network or the node (exit 1).
_INPUT_ERRORS = frozenset(
    {
        "invalid_root",
        "empty_file",
        "invalid_address",
        "invalid_amount",
        "invalid_request",
        "kv_limit_exceeded",
    }
)


class CliError(Exception):
    """A failure explained to the user in one line, with an exit code."""

    def __init__(self, message: str, exit_code: int = EXIT_FAILURE) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="zgv", description="zgvoice: a voice agent for the 0G chain.")
    parser.add_argument("--version", action="version", version=f"zgv {__version__}")
    parser.add_argument("--config", type=Path, help=f"YAML settings file (or set {CONFIG_FILE_ENV})")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    ask = commands.add_parser("ask", help="ask one question in text and get the reply")
    ask.add_argument("text", nargs="*", help='the question, e.g. "what is my balance"; "-" reads stdin')
    ask.add_argument(
        "--audio", type=Path, help="ask with a spoken question from a WAV, Ogg/Opus or WebM file"
    )
    ask.add_argument("--json", action="store_true", help="print the whole turn as one JSON object")
    ask.add_argument("--out", type=Path, help="also speak the reply into this WAV file")

    devnet = commands.add_parser("devnet", help="run the local devnet chain until Ctrl-C")
    devnet.add_argument("--port", type=int, help="RPC port (0 picks a free one)")
    devnet.add_argument("--chain-id", type=int, help="chain id of the devnet")
    devnet.add_argument("--json", action="store_true", help="print the endpoints as one JSON line")

    up = commands.add_parser("up", help="run the devnet and the gateway on 127.0.0.1 until Ctrl-C")
    up.add_argument("--port", type=int, help="gateway port")
    up.add_argument("--devnet-port", type=int, help="devnet RPC port (0 picks a free one)")

    add_storage_parser(commands)
    add_kv_parser(commands)

    add_mcp_parser(commands)
    add_eval_parser(commands)
    add_login_parser(commands)
    return parser


def _settings_from(args: argparse.Namespace) -> Settings:
    if args.config is not None:
        os.environ[CONFIG_FILE_ENV] = str(args.config)
    overrides: dict[str, Any] = {}
    if args.command == "devnet" and (args.port is not None or args.chain_id is not None):
        devnet: dict[str, Any] = {}
        if args.port is not None:
            devnet["port"] = args.port
        if args.chain_id is not None:
            devnet["chain_id"] = args.chain_id
        overrides["devnet"] = devnet
    if args.command == "up":
        if args.port is not None:
            overrides["gateway"] = {"port": args.port}
        if args.devnet_port is not None:
            overrides["devnet"] = {"port": args.devnet_port}
    try:
        return load_settings(**overrides)
    except SettingsError as exc:
        raise CliError(str(exc), EXIT_USAGE) from exc


def _question_text(parts: list[str], max_chars: int) -> str:
    try:
        if parts == ["-"]:
            return decode_text(sys.stdin.buffer.read(max_chars * 4 + 1), max_chars)
        return clean_text(" ".join(parts), max_chars)
    except TextInputError as exc:
        raise CliError(f"{exc.code}: {exc.message}", EXIT_USAGE) from exc


def _question(args: argparse.Namespace, settings: Settings) -> str | bytes:
    if args.audio is not None:
        if args.text:
            raise CliError("give either a text question or --audio FILE, not both", EXIT_USAGE)
        try:
            size = args.audio.stat().st_size
            if size > settings.voice.upload_max_bytes:
                raise CliError(
                    f"audio_too_large: {args.audio} is over {settings.voice.upload_max_bytes} bytes",
                    EXIT_USAGE,
                )
            return bytes(args.audio.read_bytes())
        except OSError as exc:
            raise CliError(f"cannot read {args.audio}: {exc.strerror}", EXIT_USAGE) from exc
    if not args.text:
        raise CliError('ask what? e.g. zgv ask "what is my balance"', EXIT_USAGE)
    return _question_text(args.text, settings.nlp.max_text_chars)


async def _ask(settings: Settings, question: str | bytes, as_json: bool, out: Path | None) -> None:
    from task_interpreter.executor import McpConnectError
    from voice_gateway.ask import NoSpeechError
    from voice_gateway.audio.decode import AudioDecodeError
    from voice_gateway.stt import SttError
    from zgvoice.runtime import open_runtime

    try:
        async with open_runtime(settings) as runtime:
            if isinstance(question, bytes):
                result = await runtime.service.ask_audio(
                    question,
                    runtime.stt(),
                    max_seconds=settings.voice.upload_max_seconds,
                    speak=out is not None,
                )
            else:
                result = await runtime.service.ask(question, speak=out is not None)
    except (AudioDecodeError, SttError) as exc:
        raise CliError(f"{exc.code}: {exc.message}", EXIT_USAGE) from exc
    except NoSpeechError as exc:
        raise CliError(f"{exc.code}: {exc.message}", EXIT_USAGE) from exc
    except SettingsError as exc:
        raise CliError(str(exc), EXIT_USAGE) from exc
    except McpConnectError as exc:
        raise CliError(f"tools_unavailable: {exc}") from exc
    except ZeroGError as exc:
        hint = " (start it with `zgv devnet`, or run `zgv up`)" if exc.code == "chain_unreachable" else ""
        raise CliError(f"{exc.code}: {exc.message}{hint}") from exc
    payload = result.as_json()
    if out is not None and result.audio is not None:
        write_wav(out, result.audio)
        payload["audio"] = {
            "path": str(out),
            "sample_rate": result.audio.sample_rate,
            "duration_s": round(result.audio.duration_s, 3),
        }
    print(json.dumps(payload, ensure_ascii=False) if as_json else result.outcome.reply)


def _stop_on_signals() -> threading.Event:
    # Installed before anything starts, so a signal that arrives while starting up is not lost.
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    return stop


def _devnet(settings: Settings, as_json: bool) -> None:
    from zgvoice.devnet import devnet_node

    stop = _stop_on_signals()
    with devnet_node(settings.devnet) as node:
        asyncio.run(_serve_devnet(settings, node.rpc_url, node.pid, as_json, stop))
    log.info("devnet stopped")


async def _serve_devnet(
    settings: Settings, rpc_url: str, pid: int, as_json: bool, stop: threading.Event
) -> None:
    from zerog_client import ChainReader
    from zgvoice.devnet import devnet_storage, provision_devnet

    chain_id = settings.devnet.chain_id
    contracts = await provision_devnet(rpc_url, chain_id)
    async with ChainReader(rpc_url, chain_id) as reader:
        accounts = await reader.node_accounts()
    async with devnet_storage(settings.devnet, rpc_url, contracts) as storage:
        info = {
            "rpc_url": rpc_url,
            "chain_id": chain_id,
            "pid": pid,
            "accounts": accounts,
            "contracts": {
                "multicall3": contracts.multicall3,
                "test_token": contracts.test_token,
                "flow": contracts.flow,
                "market": contracts.market,
            },
            "storage_nodes": storage.node_urls,
            "indexer": storage.indexer.url if storage.indexer else None,
            "kv": storage.kv.url if storage.kv else None,
        }
        if as_json:
            print(json.dumps(info), flush=True)
        else:
            print(f"devnet chain {chain_id} at {rpc_url} (pid {pid}); Ctrl-C stops it")
            for account in accounts:
                print(f"  funded dev account {account}")
            print(f"  Multicall3 at {contracts.multicall3}, test token TUSD at {contracts.test_token}")
            print(f"  0G storage Flow at {contracts.flow}, market at {contracts.market}")
            for url in storage.node_urls:
                print(f"  storage node {url}")
            if storage.indexer is not None:
                print(f"  indexer {storage.indexer.url}")
            if storage.kv is not None:
                print(f"  KV node {storage.kv.url} (streams: {', '.join(settings.devnet.kv_streams)})")
            sys.stdout.flush()
        await asyncio.to_thread(stop.wait)


def _up(settings: Settings) -> None:
    from zgvoice.gateway import serve_embedded

    stop = _stop_on_signals()
    asyncio.run(serve_embedded(settings, stop))


def run(argv: list[str] | None = None) -> int:
    """Run the CLI and return its exit code."""
    args = _build_parser().parse_args(argv)
    try:
        settings = _settings_from(args)
        configure_logging(settings.log.level, settings.log.format)
        if args.command == "ask":
            asyncio.run(_ask(settings, _question(args, settings), args.json, args.out))
        elif args.command == "devnet":
            _devnet(settings, args.json)
        elif args.command == "up":
            _up(settings)
        elif args.command in ("mcp", "token"):
            asyncio.run(run_mcp(settings, args))
        elif args.command == "storage":
            asyncio.run(run_storage(settings, args))
        elif args.command == "kv":
            asyncio.run(run_kv(settings, args))
        elif args.command == "eval":
            asyncio.run(run_eval(settings, args))
        elif args.command == "login":
            gateway = f"http://{settings.gateway.host}:{settings.gateway.port}"
            asyncio.run(run_login(gateway, args))
    except CliError as exc:
        print(f"zgv: {exc}", file=sys.stderr)
        return exc.exit_code
    except UsageError as exc:
        print(f"zgv: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except ZeroGError as exc:
        print(f"zgv: {exc.code}: {exc.message}", file=sys.stderr)
        return EXIT_USAGE if exc.code in _INPUT_ERRORS else EXIT_FAILURE
    except (SttError, TtsError) as exc:
        print(f"zgv: {exc.code}: {exc.message}", file=sys.stderr)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        return 130
    return EXIT_OK


def main() -> None:
    """Console-script entry point."""
    sys.exit(run())

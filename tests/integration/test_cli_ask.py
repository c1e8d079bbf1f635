"""`zgv ask` as a user runs it: real process, real anvil, real Piper."""

from __future__ import annotations

import json
import wave
from pathlib import Path

import pytest

from tests.integration.test_ask_path import rpc
from tests.support.cli import run_zgv, zgv_env
from tests.support.speech import piper_16k, silence, wav_bytes
from zerog_client.devnet import AnvilNode

pytestmark = pytest.mark.integration


@pytest.fixture
def env(anvil: AnvilNode) -> dict[str, str]:
    return zgv_env(ZGV_CHAIN__RPC_URL=anvil.rpc_url)


def test_ask_json_latest_block_matches_the_node(anvil: AnvilNode, env: dict[str, str]) -> None:
    rpc(anvil.rpc_url, "anvil_mine", hex(3))
    done = run_zgv("ask", "--json", "what is the latest block", env=env)
    assert done.returncode == 0, done.stderr.decode()
    body = json.loads(done.stdout)
    assert body["tool_results"][0]["result"]["block_number"] == int(rpc(anvil.rpc_url, "eth_blockNumber"), 16)
    assert {"nlp_ms", "plan_ms", "tools_ms", "reply_ms", "total_ms"} <= set(body["latency_ms"])
    assert body["transcript"] == "what is the latest block"


def test_ask_out_writes_a_wav_of_the_reply(env: dict[str, str], tmp_path: Path) -> None:
    out = tmp_path / "reply.wav"
    done = run_zgv("ask", "--json", "--out", str(out), "what is my balance", env=env)
    assert done.returncode == 0, done.stderr.decode()
    body = json.loads(done.stdout)
    with wave.open(str(out)) as wav:
        assert wav.getnchannels() == 1
        assert wav.getsampwidth() == 2
        seconds = wav.getnframes() / wav.getframerate()
    assert seconds == pytest.approx(body["audio"]["duration_s"], abs=0.01)
    assert seconds > 0.5
    assert body["latency_ms"]["tts_ms"] > 0


def test_plain_ask_prints_the_reply_sentence(env: dict[str, str]) -> None:
    done = run_zgv("ask", "what", "is", "my", "balance", env=env)
    assert done.returncode == 0
    assert done.stdout.decode().startswith("You have ")


@pytest.mark.parametrize(
    ("args", "stdin", "code"),
    [
        (("ask", "   "), None, "empty_text"),
        (("ask", "-"), b"", "empty_text"),
        (("ask", "-"), b"x" * 1_000_000, "text_too_long"),
        (("ask", "-"), b"what is my \xff\xfe balance", "invalid_encoding"),
        (("ask", b"what is my \xff balance"), None, "invalid_encoding"),
    ],
)
def test_bad_input_is_a_clear_error_without_traceback(
    env: dict[str, str], args: tuple[str | bytes, ...], stdin: bytes | None, code: str
) -> None:
    done = run_zgv(*args, stdin=stdin, env=env)
    stderr = done.stderr.decode(errors="replace")
    assert done.returncode == 2
    assert f"zgv: {code}" in stderr
    assert "Traceback" not in stderr
    assert done.stdout == b""


def test_unknown_intent_is_a_spoken_i_didnt_understand(env: dict[str, str]) -> None:
    done = run_zgv("ask", "--json", "sing me a song", env=env)
    assert done.returncode == 0
    body = json.loads(done.stdout)
    assert body["intent"]["name"] == "unknown"
    assert body["reply"].startswith("Sorry, I didn't understand")


def test_no_chain_is_a_clear_error_with_a_hint() -> None:
    done = run_zgv(
        "ask",
        "what is my balance",
        env=zgv_env(ZGV_CHAIN__RPC_URL="http://127.0.0.1:9", ZGV_CHAIN__REQUEST_TIMEOUT_S="2"),
    )
    stderr = done.stderr.decode()
    assert done.returncode == 1
    assert "chain_unreachable" in stderr
    assert "zgv devnet" in stderr
    assert "Traceback" not in stderr


def test_invalid_setting_stops_start_up_naming_it() -> None:
    done = run_zgv("ask", "what is my balance", env=zgv_env(ZGV_GATEWAY__PORT="99999"))
    assert done.returncode == 2
    assert "ZGV_GATEWAY__PORT" in done.stderr.decode()


def test_ask_audio_transcribes_a_recorded_question(env: dict[str, str], tmp_path: Path) -> None:
    recording = tmp_path / "question.wav"
    recording.write_bytes(wav_bytes(silence(200) + piper_16k("What is the latest block?") + silence(300)))
    done = run_zgv("ask", "--json", "--audio", str(recording), env=env)
    assert done.returncode == 0, done.stderr.decode()
    body = json.loads(done.stdout)
    assert "block" in body["transcript"].lower()
    assert body["intent"]["name"] == "block"
    assert {"decode_ms", "stt_ms"} <= set(body["latency_ms"])


@pytest.mark.parametrize(
    ("content", "extra", "message"),
    [
        (b"not audio", (), "unsupported_audio"),
        (None, (), "cannot read"),
        (b"RIFF", ("what is my balance",), "not both"),
    ],
)
def test_ask_audio_bad_input(
    env: dict[str, str], tmp_path: Path, content: bytes | None, extra: tuple[str, ...], message: str
) -> None:
    path = tmp_path / "input.wav"
    if content is not None:
        path.write_bytes(content)
    done = run_zgv("ask", "--audio", str(path), *extra, env=env)
    assert done.returncode == 2
    assert message in done.stderr.decode()
    assert b"Traceback" not in done.stderr


def test_a_cloud_engine_without_credentials_is_a_clear_start_up_error(
    env: dict[str, str], tmp_path: Path
) -> None:
    env = {**env, "ZGV_TTS__ENGINE": "google", "HOME": str(tmp_path), "NO_GCE_CHECK": "True"}
    env.pop("GOOGLE_APPLICATION_CREDENTIALS", None)
    done = run_zgv("ask", "what is my balance", env=env)
    assert done.returncode == 1
    assert "tts_no_credentials" in done.stderr.decode()
    assert b"Traceback" not in done.stderr

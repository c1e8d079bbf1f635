"""The mic page in a real Chromium against a real `zgv up`: a fake microphone speaks a WAV made with
Piper, the page streams it over `zgv-voice/1`, and the reply comes back as text and played audio.

Needs Debian's chromium at /usr/bin/chromium and the `playwright` package (never its own browser).
"""

from __future__ import annotations

import json
import wave
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from playwright import sync_api

from tests.support.gateway import running_gateway
from tests.support.speech import STEADY, piper_voice

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
WAV_RATE = 48_000
TURN_TIMEOUT_MS = 60_000

# Records what the page receives and sends; installed before any page script runs.
TRACE_SCRIPT = """
window.zgvTrace = {received: [], sent: [], audioFrameSizes: {}, states: [], interrupts: []};
const originalSend = WebSocket.prototype.send;
WebSocket.prototype.send = function (data) {
  if (typeof data === "string") {
    zgvTrace.sent.push(JSON.parse(data));
  } else {
    const size = data.byteLength;
    zgvTrace.audioFrameSizes[size] = (zgvTrace.audioFrameSizes[size] || 0) + 1;
  }
  return originalSend.call(this, data);
};
document.addEventListener("zgv-message", (e) => zgvTrace.received.push(e.detail));
document.addEventListener("zgv-state", (e) => zgvTrace.states.push(e.detail.state));
document.addEventListener("zgv-interrupt", (e) => zgvTrace.interrupts.push(e.detail));
"""


# ---- audio for the fake microphone ----------------------------------------------------------


@pytest.fixture(scope="module")
def say() -> Callable[[str], np.ndarray]:
    """Piper (joe, 22050 Hz) speaking a phrase, resampled to the WAV rate as float samples."""
    # The tests' steady Piper: the fake mic says the same each run, whatever ran before.
    voice = piper_voice()

    def speak(text: str) -> np.ndarray:
        chunks = list(voice.synthesize(text, syn_config=STEADY))
        rate = chunks[0].sample_rate
        pcm = np.concatenate([np.frombuffer(c.audio_int16_bytes, dtype=np.int16) for c in chunks])
        # Upsampling by interpolation only adds faint images above the 11 kHz band of the source.
        times = np.arange(int(len(pcm) * WAV_RATE / rate)) / WAV_RATE
        return np.interp(times, np.arange(len(pcm)) / rate, pcm.astype(np.float64))

    return speak


def silence(seconds: float) -> np.ndarray:
    return np.zeros(int(seconds * WAV_RATE))


def write_wav(path: Path, *parts: np.ndarray) -> Path:
    samples = np.clip(np.concatenate(parts), -32768, 32767).astype("<i2")
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(WAV_RATE)
        out.writeframes(samples.tobytes())
    return path


# ---- the gateway and the browser ------------------------------------------------------------


@pytest.fixture(scope="module")
def gateway() -> Iterator[str]:
    """A real `zgv up` (devnet + gateway) on a free port; stopped with SIGINT."""
    with running_gateway() as running:
        yield running.http


@pytest.fixture(scope="module")
def browser_engine() -> Iterator[Any]:
    with sync_api.sync_playwright() as pw:
        yield pw


@pytest.fixture
def open_page(browser_engine: Any, gateway: str, tmp_path: Path) -> Iterator[Callable[[Path | None], Any]]:
    """Open the mic page in a fresh Chromium whose fake microphone plays `wav` once (or a beep)."""
    contexts: list[Any] = []

    def launch(wav: Path | None) -> Any:
        # %noloop: play the file once, then silence (Chromium loops it otherwise).
        audio_file = [f"--use-file-for-fake-audio-capture={wav}%noloop"] if wav else []
        context = browser_engine.chromium.launch_persistent_context(
            str(tmp_path / f"profile-{len(contexts)}"),
            executable_path=str(CHROMIUM),
            headless=True,
            args=[
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--use-fake-ui-for-media-stream",
                "--use-fake-device-for-media-stream",
                *audio_file,
            ],
            viewport={"width": 900, "height": 1000},
        )
        contexts.append(context)
        page = context.new_page()
        page.add_init_script(TRACE_SCRIPT)
        page.goto(f"{gateway}/")
        # Sign-in is on by default: the devnet's built-in wallet, as a person would click it.
        page.get_by_role("button", name="Use devnet wallet (test key)").click()
        page.wait_for_function(
            "() => document.querySelector('zg-voice').dataset.wallet", timeout=TURN_TIMEOUT_MS, polling=100
        )
        return page

    yield launch
    for context in contexts:
        context.close()


def wait_for(page: Any, condition: str) -> None:
    """Poll the JS `condition` until it holds; on timeout, fail with everything the page saw."""
    try:
        page.wait_for_function(condition, timeout=TURN_TIMEOUT_MS, polling=100)
    except sync_api.TimeoutError:
        events = trace(page)
        lines = "\n".join(json.dumps(m)[:300] for m in events["received"])
        pytest.fail(
            f"timed out waiting for {condition}\nstates: {events['states']}\n"
            f"sent: {events['sent']}\ninterrupts: {events['interrupts']}\nreceived:\n{lines}"
        )


def trace(page: Any) -> dict[str, Any]:
    return dict(page.evaluate("() => window.zgvTrace"))


def element(page: Any, prop: str) -> Any:
    return page.evaluate(f"() => document.querySelector('zg-voice').{prop}")


def received(events: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [m for m in events["received"] if m["type"] == kind]


def finals(events: dict[str, Any]) -> list[str]:
    return [m["text"] for m in received(events, "transcript") if m["final"]]


def screenshot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / name), full_page=True, animations="disabled")


def stop_session(page: Any) -> None:
    page.get_by_role("button", name="Stop talking").click()
    page.wait_for_function("() => document.querySelector('zg-voice').state === 'idle'", timeout=10_000)


# ---- the tests -------------------------------------------------------------------------------


def test_a_spoken_question_gets_a_spoken_answer(
    open_page: Callable[[Path | None], Any], say: Callable[[str], np.ndarray], tmp_path: Path
) -> None:
    wav = write_wav(tmp_path / "question.wav", silence(0.5), say("what is the latest block"), silence(5))
    page = open_page(wav)
    page.get_by_role("button", name="Start talking").click()

    # The turn is over once its metrics arrived and the reply has finished playing.
    wait_for(
        page,
        """() => {
          const el = document.querySelector('zg-voice');
          return zgvTrace.received.some((m) => m.type === 'metrics')
            && zgvTrace.received.some((m) => m.type === 'bot_speech_stopped')
            && el.state === 'listening' && el.playedMs > 0;
        }""",
    )
    screenshot(page, "browser-voice.png")
    events = trace(page)

    assert events["sent"][0]["type"] == "start"
    assert events["sent"][0]["protocol"] == "zgv-voice/1"
    assert received(events, "ready")[0]["output"]["sample_rate"] > 0
    # Every microphone frame is 20 ms of 16 kHz PCM16.
    assert set(events["audioFrameSizes"]) == {"640"}

    assert any("block" in text.lower() for text in finals(events)), finals(events)
    reply = " ".join(m["text"] for m in received(events, "reply_text"))
    assert "latest block" in reply.lower(), reply
    metrics = received(events, "metrics")[0]["latency_ms"]
    assert metrics["voice_to_voice_ms"] > 0

    # The reply audio reached the speakers: nearly all that was sent, and no more.
    stopped = received(events, "bot_speech_stopped")[0]
    assert stopped["reason"] == "completed"
    assert element(page, "playedSamples") > 0
    played_ms = element(page, "playedMs")
    assert 0.8 * stopped["sent_ms"] <= played_ms <= stopped["sent_ms"] + 50, (played_ms, stopped)
    states = events["states"]
    assert states[0] == "connecting"
    assert states.index("listening") < states.index("thinking") < states.index("speaking"), states

    # What the user sees.
    card = page.locator("zg-voice .turn").first
    assert "block" in card.locator(".user .text.final").inner_text().lower()
    assert "latest block" in card.locator(".bot .text").inner_text().lower()
    assert card.locator("details.latency tr.total").inner_text().startswith("Voice to voice")
    stop_session(page)


def test_talking_over_the_reply_stops_it(
    open_page: Callable[[Path | None], Any], say: Callable[[str], np.ndarray], tmp_path: Path
) -> None:
    # "What can you do" gets a long reply (~9 s), so the second phrase lands while it plays
    # whatever the machine's speed: it starts 4 s after the question, and the reply starts
    # 1-3 s after the question (the upper end on a loaded machine, measured in CI).
    wav = write_wav(
        tmp_path / "barge-in.wav",
        silence(0.5),
        say("what can you do"),
        silence(4.0),
        say("stop. what is the gas price"),
        silence(5),
    )
    page = open_page(wav)
    page.get_by_role("button", name="Start talking").click()

    wait_for(
        page,
        """() => {
          const el = document.querySelector('zg-voice');
          const gas = zgvTrace.received.find(
            (m) => m.type === 'transcript' && m.final && /gas/i.test(m.text));
          return zgvTrace.interrupts.length > 0 && gas !== undefined
            && zgvTrace.received.some((m) => m.type === 'metrics' && m.turn_id === gas.turn_id)
            && el.state === 'listening';
        }""",
    )
    screenshot(page, "browser-voice-barge-in.png")
    events = trace(page)

    stops = received(events, "bot_speech_stopped")
    barge_in = next(m for m in stops if m["reason"] == "barge_in")
    # The client flushed its queue and reported what was heard, which is less than what was sent.
    assert events["interrupts"][0]["reason"] == "barge_in"
    interrupts = [m for m in events["sent"] if m["type"] == "interrupt"]
    assert len(interrupts) == 1
    played_ms = interrupts[0]["played_ms"]
    assert isinstance(played_ms, int)
    assert 0 < played_ms <= barge_in["sent_ms"] + 50, (played_ms, barge_in)
    assert played_ms < 6000, "the long reply was played (almost) to its end"
    # Playback stopped at the barge-in: the state left `speaking` for `listening` there.
    first_speaking = events["states"].index("speaking")
    assert events["states"][first_speaking + 1] == "listening", events["states"]

    texts = finals(events)
    assert len(texts) >= 2, texts
    assert "gas" in texts[-1].lower(), texts
    assert "gwei" in received(events, "reply_text")[-1]["text"]
    turns = page.locator("zg-voice .turn")
    assert "interrupted after" in turns.nth(0).inner_text().lower()
    stop_session(page)


def test_a_typed_question_and_the_stop_button(open_page: Callable[[Path | None], Any]) -> None:
    page = open_page(None)
    question = page.get_by_role("textbox", name="Type a question")
    question.fill("what can you do")
    question.press("Enter")
    wait_for(
        page,
        "() => document.querySelector('zg-voice').state === 'speaking'"
        " && document.querySelector('zg-voice').playedSamples > 0",
    )
    # The reply is long: stop it from the page while it plays.
    page.get_by_role("button", name="Stop speaking").click()
    wait_for(
        page,
        """() => zgvTrace.received.some((m) => m.type === 'bot_speech_stopped' && m.reason === 'interrupted')
          && zgvTrace.received.some((m) => m.type === 'metrics')""",
    )
    assert element(page, "state") == "ready"

    question.fill("what is my balance")
    question.press("Enter")
    wait_for(
        page,
        """() => {
          const el = document.querySelector('zg-voice');
          return zgvTrace.received.filter((m) => m.type === 'metrics').length === 2
            && el.state === 'ready' && el.playedMs > 0;
        }""",
    )
    screenshot(page, "browser-voice-typed.png")
    events = trace(page)

    # No microphone was opened: a typed session sends no audio.
    assert events["audioFrameSizes"] == {}
    assert page.get_by_role("button", name="Start talking").is_visible()
    sent = [m for m in events["sent"] if m["type"] != "start"]
    assert sent[0] == {"type": "text", "text": "what can you do"}
    assert sent[1]["type"] == "interrupt"
    assert 0 < sent[1]["played_ms"] < 6000
    assert sent[2] == {"type": "text", "text": "what is my balance"}
    assert received(events, "reply_text")[-1]["text"] == "You have 10,000 0G."
    assert "text_to_voice_ms" in received(events, "metrics")[-1]["latency_ms"]

    # The mic joins the open session; pressing it again ends the session.
    page.get_by_role("button", name="Start talking").click()
    wait_for(page, "() => document.querySelector('zg-voice').state === 'listening'")
    assert len(received(trace(page), "ready")) == 1
    stop_session(page)

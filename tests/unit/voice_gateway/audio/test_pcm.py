from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from voice_gateway.audio.pcm import FrameError, NoiseSuppressor, Rewindower, check_frame, rms_dbfs

pytestmark = pytest.mark.unit

RATE = 16_000
FRAME = 640  # 20 ms: what the browser sends


def tone(freq: float, dbfs: float, seconds: float = 1.0) -> bytes:
    """A sine whose RMS is `dbfs`."""
    t = np.arange(int(RATE * seconds)) / RATE
    amplitude = 32768 * 10 ** (dbfs / 20) * math.sqrt(2)
    return bytes((amplitude * np.sin(2 * np.pi * freq * t)).astype("<i2").tobytes())


def suppress(pcm: bytes, frame: int = FRAME) -> bytes:
    suppressor = NoiseSuppressor()
    out = b"".join(suppressor.process(pcm[i : i + frame]) for i in range(0, len(pcm), frame))
    assert len(out) == len(pcm)
    return out


def settled(pcm: bytes) -> bytes:
    """The second half, after the filter's start-up transient."""
    return pcm[len(pcm) // 2 :]


# --- check_frame ---------------------------------------------------------------------------------


@pytest.mark.parametrize("size", [2, 640, 1024, 65_536])
def test_a_whole_number_of_samples_within_the_cap_passes(size: int) -> None:
    check_frame(b"\x00" * size, max_bytes=65_536)


@pytest.mark.parametrize("size", [0, 1, 3, 641])
def test_empty_or_odd_frames_are_bad(size: int) -> None:
    with pytest.raises(FrameError) as caught:
        check_frame(b"\x00" * size, max_bytes=65_536)
    assert caught.value.code == "bad_frame"


@pytest.mark.parametrize("size", [65_538, 200_000])
def test_frames_over_the_cap_are_too_large(size: int) -> None:
    with pytest.raises(FrameError) as caught:
        check_frame(b"\x00" * size, max_bytes=65_536)
    assert caught.value.code == "frame_too_large"
    assert "65536" in caught.value.message


def test_an_odd_frame_over_the_cap_is_refused() -> None:
    with pytest.raises(FrameError) as caught:
        check_frame(b"\x00" * 65_537, max_bytes=65_536)
    assert caught.value.code in {"bad_frame", "frame_too_large"}


def test_frame_error_is_a_value_error_with_a_message() -> None:
    with pytest.raises(ValueError, match="PCM16"):
        check_frame(b"\x00", max_bytes=64)


# --- Rewindower ----------------------------------------------------------------------------------


def test_complete_windows_come_out_and_the_remainder_is_kept() -> None:
    data = bytes(range(256)) * 12  # 3072 bytes
    rewindower = Rewindower(1024)
    assert rewindower.push(data[:1500]) == [data[:1024]]
    assert rewindower.push(data[1500:2000]) == []
    assert rewindower.push(data[2000:]) == [data[1024:2048], data[2048:3072]]
    assert rewindower.push(b"") == []


def test_one_push_can_yield_many_windows() -> None:
    data = bytes(range(200)) * 20
    windows = Rewindower(1024).push(data)
    assert windows == [data[i : i + 1024] for i in range(0, 3072, 1024)]


@given(
    data=st.binary(min_size=0, max_size=5000),
    cuts=st.lists(st.integers(0, 5000), max_size=20),
    window=st.sampled_from([2, 640, 1024]),
)
def test_any_split_of_the_same_bytes_yields_the_same_windows(
    data: bytes, cuts: list[int], window: int
) -> None:
    bounds = [0, *sorted(c for c in cuts if c <= len(data)), len(data)]
    rewindower = Rewindower(window)
    windows: list[bytes] = []
    for start, end in zip(bounds, bounds[1:], strict=False):
        windows += rewindower.push(data[start:end])
    whole = len(data) // window
    assert windows == [data[i * window : (i + 1) * window] for i in range(whole)]
    # The remainder is kept: topping it up to a window releases exactly the rest of the data.
    rest = data[whole * window :]
    padding = b"\xff" * (window - len(rest))
    assert rewindower.push(padding) == [rest + padding]


# --- NoiseSuppressor -----------------------------------------------------------------------------


def test_a_constant_dc_offset_is_removed() -> None:
    pcm = np.full(RATE, 3000, dtype="<i2").tobytes()
    out = settled(suppress(pcm))
    assert rms_dbfs(settled(pcm)) == pytest.approx(-20.8, abs=0.1)
    assert rms_dbfs(out) < -80


def test_a_loud_30_hz_hum_is_strongly_attenuated() -> None:
    pcm = tone(30, -20)
    # A first-order high-pass at 80 Hz takes about 9 dB off 30 Hz.
    assert rms_dbfs(settled(pcm)) - rms_dbfs(settled(suppress(pcm))) >= 8


def test_a_quiet_30_hz_hum_is_filtered_and_gated() -> None:
    pcm = tone(30, -45)
    assert rms_dbfs(settled(pcm)) - rms_dbfs(settled(suppress(pcm))) >= 20


def test_a_1_khz_tone_passes_nearly_unchanged() -> None:
    pcm = tone(1000, -20)
    out = settled(suppress(pcm))
    assert rms_dbfs(out) == pytest.approx(rms_dbfs(settled(pcm)), abs=0.5)
    # Not only the level: the waveform itself is kept.
    correlation = np.corrcoef(np.frombuffer(settled(pcm), dtype="<i2"), np.frombuffer(out, dtype="<i2"))[0, 1]
    assert correlation > 0.99


def test_hiss_below_the_gate_is_attenuated_but_speech_level_is_not() -> None:
    quiet, normal = tone(1000, -60), tone(1000, -40)
    assert rms_dbfs(settled(quiet)) - rms_dbfs(settled(suppress(quiet))) >= 15
    assert rms_dbfs(settled(suppress(normal))) == pytest.approx(rms_dbfs(settled(normal)), abs=0.5)


def test_filter_state_carries_across_blocks() -> None:
    pcm = tone(1000, -20) + np.full(RATE // 2, 2000, dtype="<i2").tobytes()
    assert suppress(pcm, frame=len(pcm)) == suppress(pcm, frame=FRAME) == suppress(pcm, frame=1024)


def test_silence_stays_silent_and_empty_stays_empty() -> None:
    suppressor = NoiseSuppressor()
    assert suppressor.process(b"") == b""
    assert suppressor.process(b"\x00" * FRAME) == b"\x00" * FRAME


# --- rms_dbfs ------------------------------------------------------------------------------------


def test_silence_and_nothing_are_minus_infinity() -> None:
    assert rms_dbfs(b"") == float("-inf")
    assert rms_dbfs(b"\x00" * 640) == float("-inf")


def test_full_scale_is_zero_dbfs() -> None:
    assert rms_dbfs(np.full(320, -32768, dtype="<i2").tobytes()) == pytest.approx(0.0)


@pytest.mark.parametrize("dbfs", [-3.0, -20.0, -45.0])
def test_a_sine_measures_at_its_rms_level(dbfs: float) -> None:
    assert rms_dbfs(tone(440, dbfs)) == pytest.approx(dbfs, abs=0.1)


def test_halving_the_amplitude_is_minus_6_db() -> None:
    loud = np.full(320, 16000, dtype="<i2")
    assert rms_dbfs(loud.tobytes()) - rms_dbfs((loud // 2).tobytes()) == pytest.approx(6.02, abs=0.01)

from __future__ import annotations

import io
import wave

import av
import numpy as np
import numpy.typing as npt
import pytest

from voice_gateway.audio.decode import AudioDecodeError, decode_to_pcm16k

pytestmark = pytest.mark.unit

OUT_RATE = 16_000
BYTES_PER_SECOND = OUT_RATE * 2


def sine(freq: float, rate: int, seconds: float, level: float = 0.3) -> npt.NDArray[np.int16]:
    t = np.arange(int(rate * seconds)) / rate
    return (level * 32767 * np.sin(2 * np.pi * freq * t)).astype(np.int16)


def wav_bytes(channels: list[npt.NDArray[np.int16]], rate: int) -> bytes:
    interleaved = np.stack(channels, axis=1).astype("<i2")
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(len(channels))
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(interleaved.tobytes())
    return buffer.getvalue()


def opus_bytes(container: str, seconds: float, freq: float = 440.0) -> bytes:
    """Mono Opus at 48 kHz in an Ogg or WebM container, as a browser's MediaRecorder makes."""
    samples = sine(freq, 48_000, seconds)
    buffer = io.BytesIO()
    with av.open(buffer, "w", format=container) as out:
        stream = out.add_stream("libopus", rate=48_000)
        stream.layout = "mono"
        for start in range(0, len(samples), 960):
            frame = av.AudioFrame.from_ndarray(
                samples[None, start : start + 960], format="s16", layout="mono"
            )
            frame.rate = 48_000
            frame.pts = start
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return buffer.getvalue()


def as_samples(pcm: bytes) -> npt.NDArray[np.float64]:
    assert len(pcm) % 2 == 0
    return np.frombuffer(pcm, dtype="<i2").astype(np.float64)


def spectrum_peaks(pcm: bytes, count: int) -> list[float]:
    x = as_samples(pcm)
    magnitude = np.abs(np.fft.rfft(x * np.hanning(x.size)))
    bins = np.argsort(magnitude)[::-1]
    peaks: list[float] = []
    for b in bins:
        hz = float(b * OUT_RATE / x.size)
        if all(abs(hz - p) > 50 for p in peaks):
            peaks.append(hz)
        if len(peaks) == count:
            break
    return sorted(peaks)


def decode_error(data: bytes, max_seconds: float = 10.0) -> AudioDecodeError:
    with pytest.raises(AudioDecodeError) as caught:
        decode_to_pcm16k(data, max_seconds=max_seconds)
    return caught.value


# --- good input ----------------------------------------------------------------------------------


def test_a_16_khz_mono_wav_comes_out_sample_for_sample() -> None:
    tone = sine(440, 16_000, 1.0)
    assert decode_to_pcm16k(wav_bytes([tone], 16_000), max_seconds=10) == tone.astype("<i2").tobytes()


@pytest.mark.parametrize(("rate", "seconds"), [(8_000, 1.0), (22_050, 0.5), (48_000, 2.0)])
def test_a_mono_wav_at_another_rate_is_resampled_to_16_khz(rate: int, seconds: float) -> None:
    pcm = decode_to_pcm16k(wav_bytes([sine(440, rate, seconds)], rate), max_seconds=10)
    assert len(pcm) == pytest.approx(seconds * BYTES_PER_SECOND, abs=0.01 * BYTES_PER_SECOND)
    assert spectrum_peaks(pcm, 1)[0] == pytest.approx(440, abs=5)


def test_a_stereo_44_1_khz_wav_is_downmixed_and_resampled() -> None:
    left, right = sine(440, 44_100, 1.5), sine(1000, 44_100, 1.5)
    pcm = decode_to_pcm16k(wav_bytes([left, right], 44_100), max_seconds=10)
    assert len(pcm) == pytest.approx(1.5 * BYTES_PER_SECOND, abs=0.01 * BYTES_PER_SECOND)
    # Both channels are in the mono mix, at their own pitch.
    low, high = spectrum_peaks(pcm, 2)
    assert low == pytest.approx(440, abs=5)
    assert high == pytest.approx(1000, abs=5)


@pytest.mark.parametrize("container", ["ogg", "webm"])
def test_opus_is_decoded_to_16_khz_mono(container: str) -> None:
    pcm = decode_to_pcm16k(opus_bytes(container, 2.0, freq=600), max_seconds=10)
    assert len(pcm) == pytest.approx(2.0 * BYTES_PER_SECOND, abs=0.05 * BYTES_PER_SECOND)
    assert spectrum_peaks(pcm, 1)[0] == pytest.approx(600, abs=5)
    # Lossy, but the level survives: a 0.3 full-scale sine has an RMS of about 0.21 * 32767.
    rms = float(np.sqrt(np.mean(as_samples(pcm) ** 2)))
    assert rms == pytest.approx(0.3 / np.sqrt(2) * 32767, rel=0.15)


def test_audio_exactly_at_the_limit_is_accepted() -> None:
    pcm = decode_to_pcm16k(wav_bytes([sine(440, 16_000, 2.0)], 16_000), max_seconds=2.0)
    assert len(pcm) == 2 * BYTES_PER_SECOND


# --- refused input -------------------------------------------------------------------------------


def test_empty_bytes_are_unsupported() -> None:
    assert decode_error(b"").code == "unsupported_audio"


@pytest.mark.parametrize(
    "data",
    [
        np.random.default_rng(7).bytes(4096),
        b"hello, this is a text file and not audio at all\n" * 20,
        b"\x89PNG\r\n\x1a\n" + bytes(200),
    ],
)
def test_data_that_is_not_audio_is_unsupported(data: bytes) -> None:
    assert decode_error(data).code == "unsupported_audio"


def test_a_truncated_wav_header_is_refused() -> None:
    whole = wav_bytes([sine(440, 16_000, 1.0)], 16_000)
    for cut in (4, 12, 20, 30):
        assert decode_error(whole[:cut]).code in {"unsupported_audio", "corrupt_audio"}


def test_a_wav_header_without_samples_is_corrupt() -> None:
    header_only = wav_bytes([sine(440, 16_000, 1.0)], 16_000)[:44]
    assert decode_error(header_only).code == "corrupt_audio"


def test_a_wav_with_a_damaged_format_chunk_is_corrupt() -> None:
    whole = wav_bytes([sine(440, 16_000, 1.0)], 16_000)
    no_channels = whole[:22] + b"\x00\x00" + whole[24:]
    assert decode_error(no_channels).code == "corrupt_audio"


def test_a_container_without_audio_is_unsupported() -> None:
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="mp4") as out:
        stream = out.add_stream("mpeg4", rate=10)
        stream.width, stream.height, stream.pix_fmt = 64, 64, "yuv420p"
        for index in range(3):
            frame = av.VideoFrame.from_ndarray(np.zeros((64, 64, 3), dtype=np.uint8), format="rgb24")
            frame.pts = index
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    assert decode_error(buffer.getvalue()).code == "unsupported_audio"


def test_an_audio_container_outside_the_allowed_list_is_unsupported() -> None:
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="aiff") as out:
        stream = out.add_stream("pcm_s16be", rate=16_000)
        stream.layout = "mono"
        frame = av.AudioFrame.from_ndarray(sine(440, 16_000, 0.5)[None, :], format="s16", layout="mono")
        frame.rate = 16_000
        frame.pts = 0
        for packet in stream.encode(frame):
            out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    assert decode_error(buffer.getvalue()).code == "unsupported_audio"


@pytest.mark.parametrize(
    ("data", "max_seconds"),
    [
        (wav_bytes([sine(440, 16_000, 3.0)], 16_000), 2.0),
        (wav_bytes([sine(440, 16_000, 2.1)], 16_000), 2.0),
        (wav_bytes([sine(440, 44_100, 3.0)] * 2, 44_100), 1.0),
        (opus_bytes("ogg", 3.0), 2.0),
        (opus_bytes("webm", 3.0), 2.0),
    ],
)
def test_audio_over_max_seconds_is_too_long(data: bytes, max_seconds: float) -> None:
    error = decode_error(data, max_seconds=max_seconds)
    assert error.code == "audio_too_long"
    assert f"{max_seconds:g}" in error.message


def test_decode_errors_are_value_errors() -> None:
    with pytest.raises(ValueError, match="empty"):
        decode_to_pcm16k(b"", max_seconds=1)

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from voice_gateway.audio.endpointing import (
    EndpointConfig,
    Endpointer,
    EndpointEvent,
    SilenceStarted,
    SpeechResumed,
    SpeechStarted,
    UtteranceEnded,
)

pytestmark = pytest.mark.unit

WINDOW_BYTES = 1024  # 512 samples of PCM16: one 32 ms VAD window
WINDOW_MS = 32.0
T0 = 1000.0

VOICED = 0.9
SILENT = 0.05
SOFT = 0.4  # between threshold - hysteresis (0.35) and threshold (0.5) of the default config

DEFAULT = EndpointConfig()
START_WINDOWS = 7  # ceil(200 / 32): the first window count reaching min_speech_ms
SPECULATIVE_WINDOWS = 3  # ceil(96 / 32)
ENDPOINT_WINDOWS = 13  # ceil(400 / 32)
PREROLL_WINDOWS = 10  # 320 / 32


def window(index: int) -> bytes:
    """A window whose bytes say which one it is, so returned audio can be traced back to the input."""
    return index.to_bytes(4, "little") * (WINDOW_BYTES // 4)


def window_indices(audio: bytes) -> list[int]:
    assert len(audio) % WINDOW_BYTES == 0
    chunks = [audio[i : i + WINDOW_BYTES] for i in range(0, len(audio), WINDOW_BYTES)]
    indices = [int.from_bytes(chunk[:4], "little") for chunk in chunks]
    assert all(chunk == window(index) for chunk, index in zip(chunks, indices, strict=True))
    return indices


def arrival(index: int) -> float:
    return T0 + index * WINDOW_MS / 1000


class Script:
    """Feeds numbered windows with scripted probabilities and records which window caused each event."""

    def __init__(self, config: EndpointConfig = DEFAULT) -> None:
        self.endpointer = Endpointer(config)
        self.next_index = 0

    def feed(self, probability: float, count: int = 1) -> list[tuple[int, EndpointEvent]]:
        events: list[tuple[int, EndpointEvent]] = []
        for _ in range(count):
            index = self.next_index
            events += [(index, e) for e in self.endpointer.push(window(index), probability, arrival(index))]
            self.next_index += 1
        return events

    def start_speech(self, silence_before: int = 0) -> int:
        """Silence, then voiced windows up to `SpeechStarted`; returns the first voiced window's index."""
        assert self.feed(SILENT, silence_before) == []
        first = self.next_index
        assert self.feed(VOICED, START_WINDOWS - 1) == []
        assert self.feed(VOICED) == [(self.next_index - 1, SpeechStarted())]
        return first


def only_event(events: list[tuple[int, EndpointEvent]]) -> EndpointEvent:
    assert len(events) == 1, events
    return events[0][1]


def windows_for(ms: float) -> int:
    return math.ceil(ms / WINDOW_MS)


# --- speech start --------------------------------------------------------------------------------


def test_no_speech_started_before_min_speech_ms_of_voiced_windows() -> None:
    script = Script()
    assert script.feed(VOICED, START_WINDOWS - 1) == []
    assert not script.endpointer.in_speech
    assert script.feed(VOICED) == [(START_WINDOWS - 1, SpeechStarted())]
    assert script.endpointer.in_speech


@pytest.mark.parametrize("min_speech_ms", [32, 64, 100, 200, 500])
def test_speech_starts_on_the_first_window_reaching_min_speech_ms(min_speech_ms: float) -> None:
    script = Script(EndpointConfig(min_speech_ms=min_speech_ms))
    needed = windows_for(min_speech_ms)
    assert script.feed(VOICED, needed - 1) == []
    assert script.feed(VOICED) == [(needed - 1, SpeechStarted())]


def test_silence_alone_never_starts_speech() -> None:
    script = Script()
    assert script.feed(SILENT, 200) == []
    assert not script.endpointer.in_speech
    assert script.endpointer.utterance_audio == b""


def test_short_voiced_blips_never_start_speech() -> None:
    script = Script()
    # Coughs and clicks: voiced runs one window short of min_speech_ms, separated by a silent window.
    for _ in range(20):
        assert script.feed(VOICED, START_WINDOWS - 1) == []
        assert script.feed(SILENT) == []
    assert not script.endpointer.in_speech


def test_probability_between_the_thresholds_does_not_start_speech() -> None:
    script = Script()
    assert script.feed(SOFT, 50) == []
    assert not script.endpointer.in_speech


def test_a_probability_equal_to_the_threshold_counts_as_voiced() -> None:
    script = Script()
    events = script.feed(DEFAULT.threshold, START_WINDOWS)
    assert events == [(START_WINDOWS - 1, SpeechStarted())]


# --- pre-roll ------------------------------------------------------------------------------------


def test_preroll_audio_is_included_in_the_utterance() -> None:
    script = Script()
    first = script.start_speech(silence_before=25)
    audio = window_indices(script.endpointer.utterance_audio)
    assert audio == list(range(first - PREROLL_WINDOWS, first + START_WINDOWS))


def test_preroll_shorter_than_configured_when_speech_starts_early() -> None:
    script = Script()
    first = script.start_speech(silence_before=3)
    assert window_indices(script.endpointer.utterance_audio) == list(range(0, first + START_WINDOWS))


def test_a_blip_just_before_speech_stays_in_the_preroll() -> None:
    script = Script()
    script.feed(SILENT, 20)  # 0..19
    script.feed(VOICED, 3)  # 20..22: too short on its own
    script.feed(SILENT, 2)  # 23..24
    first = script.start_speech()  # 25..31
    audio = window_indices(script.endpointer.utterance_audio)
    # The ten windows before the real start, blip included, then the voiced run: the onset is kept.
    assert audio == list(range(first - PREROLL_WINDOWS, first + START_WINDOWS))
    assert 20 in audio


def test_preroll_ms_sets_how_much_audio_precedes_speech() -> None:
    script = Script(EndpointConfig(preroll_ms=160))
    first = script.start_speech(silence_before=30)
    assert window_indices(script.endpointer.utterance_audio)[0] == first - 5


def test_utterance_end_carries_the_preroll_and_the_whole_utterance() -> None:
    script = Script()
    first = script.start_speech(silence_before=15)
    script.feed(VOICED, 5)
    ended = script.feed(SILENT, ENDPOINT_WINDOWS)[-1][1]
    assert isinstance(ended, UtteranceEnded)
    assert window_indices(ended.audio) == list(range(first - PREROLL_WINDOWS, script.next_index))


# --- speculative silence -------------------------------------------------------------------------


def test_silence_started_after_speculative_silence_with_audio_so_far() -> None:
    script = Script()
    first = script.start_speech(silence_before=2)
    script.feed(VOICED, 3)
    last_voiced = script.next_index - 1
    assert script.feed(SILENT, SPECULATIVE_WINDOWS - 1) == []
    events = script.feed(SILENT)
    assert len(events) == 1
    index, event = events[0]
    assert isinstance(event, SilenceStarted)
    assert event.speech_end_at == arrival(last_voiced)
    assert window_indices(event.audio) == list(range(first - 2, index + 1))
    # Reported once per pause.
    assert script.feed(SILENT, ENDPOINT_WINDOWS - SPECULATIVE_WINDOWS - 1) == []
    assert script.endpointer.in_speech


@pytest.mark.parametrize("speculative_silence_ms", [32, 96, 200])
def test_speculative_silence_ms_sets_when_silence_started_fires(speculative_silence_ms: float) -> None:
    script = Script(EndpointConfig(speculative_silence_ms=speculative_silence_ms))
    script.start_speech()
    needed = windows_for(speculative_silence_ms)
    assert script.feed(SILENT, needed - 1) == []
    assert isinstance(only_event(script.feed(SILENT)), SilenceStarted)


def test_speech_resumed_when_speech_comes_back_after_silence_started() -> None:
    script = Script()
    script.start_speech()
    assert isinstance(only_event(script.feed(SILENT, SPECULATIVE_WINDOWS)), SilenceStarted)
    assert [e for _, e in script.feed(VOICED)] == [SpeechResumed()]
    assert script.feed(VOICED, 5) == []
    assert script.endpointer.in_speech
    # A later pause is a new speculative point, with the longer audio and the later speech end.
    last_voiced = script.next_index - 1
    event = only_event(script.feed(SILENT, SPECULATIVE_WINDOWS))
    assert isinstance(event, SilenceStarted)
    assert event.speech_end_at == arrival(last_voiced)
    assert window_indices(event.audio)[-1] == script.next_index - 1


def test_a_pause_shorter_than_speculative_silence_is_not_reported() -> None:
    script = Script()
    script.start_speech()
    for _ in range(10):
        assert script.feed(SILENT, SPECULATIVE_WINDOWS - 1) == []
        assert script.feed(VOICED) == []
    assert script.endpointer.in_speech


# --- endpoint ------------------------------------------------------------------------------------


def test_utterance_ended_after_endpoint_silence() -> None:
    script = Script()
    script.start_speech(silence_before=5)
    script.feed(VOICED, 3)
    last_voiced = script.next_index - 1
    events = script.feed(SILENT, ENDPOINT_WINDOWS - 1)
    assert [type(e) for _, e in events] == [SilenceStarted]
    assert script.endpointer.in_speech
    index, ended = script.feed(SILENT)[0]
    assert isinstance(ended, UtteranceEnded)
    assert index == last_voiced + ENDPOINT_WINDOWS
    assert ended.capped is False
    assert ended.speech_end_at == arrival(last_voiced)
    assert ended.speech_ms == pytest.approx((START_WINDOWS + 3) * WINDOW_MS, abs=WINDOW_MS)
    assert not script.endpointer.in_speech
    assert script.endpointer.utterance_audio == b""


@pytest.mark.parametrize("endpoint_silence_ms", [96, 400, 1000])
def test_endpoint_silence_ms_sets_when_the_utterance_ends(endpoint_silence_ms: float) -> None:
    script = Script(EndpointConfig(endpoint_silence_ms=endpoint_silence_ms))
    script.start_speech()
    needed = windows_for(endpoint_silence_ms)
    assert not any(isinstance(e, UtteranceEnded) for _, e in script.feed(SILENT, needed - 1))
    events = script.feed(SILENT)
    assert isinstance(events[-1][1], UtteranceEnded)


def test_speech_ms_spans_first_to_last_voiced_window_including_short_pauses() -> None:
    script = Script()
    script.start_speech(silence_before=8)  # preroll is not speech
    script.feed(VOICED, 3)  # 10 voiced windows so far
    script.feed(SILENT, 5)  # a pause inside the utterance (speculative decode, then resumed)
    script.feed(VOICED, 5)
    ended = script.feed(SILENT, ENDPOINT_WINDOWS)[-1][1]
    assert isinstance(ended, UtteranceEnded)
    assert ended.speech_ms == pytest.approx(20 * WINDOW_MS, abs=WINDOW_MS)


# --- hysteresis ----------------------------------------------------------------------------------


def test_hysteresis_keeps_soft_speech_going_before_a_pause() -> None:
    script = Script()
    script.start_speech()
    # Soft word endings (between threshold - hysteresis and threshold) are still speech.
    assert script.feed(SOFT, 3 * ENDPOINT_WINDOWS) == []
    assert script.endpointer.in_speech
    last_soft = script.next_index - 1
    ended = script.feed(SILENT, ENDPOINT_WINDOWS)[-1][1]
    assert isinstance(ended, UtteranceEnded)
    assert ended.speech_end_at == arrival(last_soft)


def test_below_the_lower_threshold_is_silence() -> None:
    script = Script()
    script.start_speech()
    below = DEFAULT.threshold - DEFAULT.hysteresis - 0.01
    events = script.feed(below, SPECULATIVE_WINDOWS)
    assert isinstance(only_event(events), SilenceStarted)


def test_hysteresis_does_not_apply_after_silence_started() -> None:
    script = Script()
    script.start_speech()
    last_voiced = script.next_index - 1
    assert isinstance(only_event(script.feed(SILENT, SPECULATIVE_WINDOWS)), SilenceStarted)
    # Once paused, a soft score is not enough to resume: the pause runs on to the endpoint.
    events = script.feed(SOFT, ENDPOINT_WINDOWS - SPECULATIVE_WINDOWS)
    assert [type(e) for _, e in events] == [UtteranceEnded]
    ended = events[0][1]
    assert isinstance(ended, UtteranceEnded)
    assert ended.speech_end_at == arrival(last_voiced)
    assert ended.capped is False


def test_full_threshold_resumes_after_silence_started() -> None:
    script = Script()
    script.start_speech()
    script.feed(SILENT, SPECULATIVE_WINDOWS)
    assert [e for _, e in script.feed(DEFAULT.threshold)] == [SpeechResumed()]


# --- cap -----------------------------------------------------------------------------------------


def test_max_utterance_ms_caps_an_endless_utterance() -> None:
    script = Script(EndpointConfig(max_utterance_ms=1000))
    events = script.feed(VOICED, 100)
    ended = [(i, e) for i, e in events if isinstance(e, UtteranceEnded)]
    assert ended, "an utterance that never pauses must still end"
    index, first_end = ended[0]
    assert first_end.capped is True
    length_ms = len(first_end.audio) / WINDOW_BYTES * WINDOW_MS
    assert 1000 <= length_ms < 1000 + WINDOW_MS
    assert first_end.speech_end_at == arrival(index)
    assert first_end.speech_ms == pytest.approx(length_ms, abs=WINDOW_MS)


def test_a_capped_utterance_while_silence_is_pending_is_capped() -> None:
    script = Script(EndpointConfig(max_utterance_ms=1000))
    script.start_speech()
    events = script.feed(VOICED, 18)
    events += script.feed(SILENT, 10)  # the cap (32 windows) falls inside this pause
    ended = [e for _, e in events if isinstance(e, UtteranceEnded)]
    assert len(ended) == 1
    assert ended[0].capped is True
    assert ended[0].speech_end_at == arrival(START_WINDOWS + 18 - 1)


def test_speech_continuing_past_the_cap_loses_no_audio() -> None:
    script = Script(EndpointConfig(max_utterance_ms=1000))
    events = script.feed(VOICED, 200)
    ended = [e for _, e in events if isinstance(e, UtteranceEnded)]
    assert len(ended) >= 3
    assert all(e.capped for e in ended)
    joined = [i for e in ended for i in window_indices(e.audio)]
    assert joined == list(range(len(joined)))


# --- reset between utterances --------------------------------------------------------------------


def test_state_resets_after_an_utterance_so_a_second_one_works() -> None:
    script = Script()
    script.start_speech(silence_before=4)
    script.feed(VOICED, 10)
    first_end = script.feed(SILENT, ENDPOINT_WINDOWS)[-1]
    assert isinstance(first_end[1], UtteranceEnded)

    # Idle again: a blip does not restart speech, a real run does.
    assert script.feed(VOICED, START_WINDOWS - 1) == []
    assert script.feed(SILENT, 12) == []
    second_first = script.start_speech()
    script.feed(VOICED, 2)
    last_voiced = script.next_index - 1
    events = script.feed(SILENT, ENDPOINT_WINDOWS)
    assert [type(e) for _, e in events] == [SilenceStarted, UtteranceEnded]
    ended = events[-1][1]
    assert isinstance(ended, UtteranceEnded)
    audio = window_indices(ended.audio)
    assert audio[0] > first_end[0], "no audio of the first utterance leaks into the second"
    assert audio == list(range(second_first - PREROLL_WINDOWS, script.next_index))
    assert ended.capped is False
    assert ended.speech_end_at == arrival(last_voiced)
    assert ended.speech_ms == pytest.approx((START_WINDOWS + 2) * WINDOW_MS, abs=WINDOW_MS)


def test_a_second_utterance_after_a_cap_is_not_marked_capped() -> None:
    script = Script(EndpointConfig(max_utterance_ms=1000))
    events = script.feed(VOICED, 40)
    assert any(isinstance(e, UtteranceEnded) and e.capped for _, e in events)
    events = script.feed(SILENT, ENDPOINT_WINDOWS)
    ended = [e for _, e in events if isinstance(e, UtteranceEnded)]
    assert [e.capped for e in ended] == [False]


def test_utterance_ms_tracks_the_audio_held() -> None:
    script = Script()
    script.start_speech(silence_before=2)
    script.feed(VOICED, 4)
    endpointer = script.endpointer
    assert endpointer.utterance_ms == len(endpointer.utterance_audio) / WINDOW_BYTES * WINDOW_MS
    assert endpointer.utterance_ms == (2 + START_WINDOWS + 4) * WINDOW_MS


# --- invariants ----------------------------------------------------------------------------------

_LEVELS = st.sampled_from([0.0, 0.2, 0.36, 0.45, 0.5, 0.7, 1.0])


@settings(max_examples=200, deadline=None)
@given(
    runs=st.lists(st.tuples(_LEVELS, st.integers(1, 30)), min_size=1, max_size=40),
    max_utterance_ms=st.sampled_from([1000, 2000, 15_000]),
)
def test_utterance_audio_is_contiguous_from_the_preroll_through_the_end(
    runs: list[tuple[float, int]], max_utterance_ms: float
) -> None:
    config = EndpointConfig(max_utterance_ms=max_utterance_ms)
    script = Script(config)
    probabilities: list[float] = []
    events: list[tuple[int, EndpointEvent]] = []
    for level, count in runs:
        probabilities += [level] * count
        events += script.feed(level, count)

    previous_end = -1
    run_start: int | None = None
    speculative: list[bytes] = []
    for index, event in events:
        if isinstance(event, SpeechStarted):
            assert run_start is None
            run_start = index - START_WINDOWS + 1
            assert all(p >= config.threshold for p in probabilities[run_start : index + 1])
        elif isinstance(event, SilenceStarted):
            assert run_start is not None
            speculative.append(event.audio)
        elif isinstance(event, UtteranceEnded):
            assert run_start is not None
            assert len(event.audio) % WINDOW_BYTES == 0
            audio = window_indices(event.audio)
            # Starts with the pre-roll then the first voiced window of the run that started speech,
            # ends with the window that ended it, and skips nothing in between.
            assert audio == list(range(audio[0], index + 1))
            assert run_start - PREROLL_WINDOWS <= audio[0] <= run_start
            assert audio[0] > previous_end
            # The speculative audio of this utterance is a prefix of the final audio.
            assert all(event.audio.startswith(s) for s in speculative)
            last_voiced = round((event.speech_end_at - T0) * 1000 / WINDOW_MS)
            assert run_start <= last_voiced <= index
            assert event.speech_ms == pytest.approx((last_voiced - run_start + 1) * WINDOW_MS)
            # Never longer than the cap; capped exactly when the cap, not silence, ended it.
            assert (len(audio) - 1) * WINDOW_MS < max_utterance_ms
            if event.capped:
                assert len(audio) * WINDOW_MS >= max_utterance_ms
            else:
                assert all(
                    p < config.threshold for p in probabilities[index - SPECULATIVE_WINDOWS + 1 : index + 1]
                )
            previous_end, run_start, speculative = index, None, []
    assert script.endpointer.in_speech == (run_start is not None)

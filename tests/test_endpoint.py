from dataclasses import replace

import numpy as np
import pytest
import soundfile

from fsdd_pipeline.audio.endpoint import (
    EndpointParams,
    activity_to_segments,
    crop_to_speech,
    detect_speech,
    frame_levels_db,
)
from fsdd_pipeline.audio.realistic_takes import coloured_noise, noise_take, place_in_take

from .conftest import fsdd_recordings, requires_fsdd

RATE = 8000
PARAMS = EndpointParams()


def tone(seconds=0.4, frequency=440.0, amplitude=0.3):
    t = np.arange(int(seconds * RATE)) / RATE
    return (amplitude * np.sin(2 * np.pi * frequency * t)).astype(np.float32)


def realistic_take(word, seed, snr_db, color="white"):
    """The word in a 2.5-3 s take with noise, DC offset, random gain and edge clicks."""
    rng = np.random.default_rng(seed)
    return place_in_take(
        word,
        RATE,
        rng,
        duration_s=rng.uniform(2.5, 3.0),
        snr_db=snr_db,
        noise_color=color,
        dc_offset=0.05,
        gain_db=rng.uniform(-20, 0),
        edge_clicks=True,
    )


def crop_bounds(info):
    return int(round(info.start_s * RATE)), int(round(info.end_s * RATE))


@pytest.mark.parametrize("color", ["white", "pink", "brown"])
@pytest.mark.parametrize("snr_db", [20, 30, 40])
def test_tone_in_noisy_take_is_found(snr_db, color):
    take = realistic_take(tone(), seed=snr_db, snr_db=snr_db, color=color)
    cropped, info = crop_to_speech(take.samples, RATE)
    start, end = crop_bounds(info)
    assert info.speech_found and info.words == 1
    assert start <= take.word_start and end >= take.word_end  # the whole word...
    assert len(cropped) == end - start
    assert info.cut_s == pytest.approx((len(take.samples) - len(cropped)) / RATE)
    (word,) = detect_speech(take.samples, RATE)
    tolerance = 0.03 * RATE  # ...and little else: half a frame and a hop
    assert abs(word.start - take.word_start) <= tolerance
    assert abs(word.end - take.word_end) <= tolerance
    assert take.word_start - start <= tolerance + PARAMS.margin_s * RATE
    assert end - take.word_end <= tolerance + PARAMS.margin_s * RATE


@requires_fsdd
@pytest.mark.parametrize("snr_db", [20, 30, 40])
@pytest.mark.parametrize("name", ["6_nicolas_5.wav", "8_theo_22.wav", "3_george_7.wav"])
def test_fsdd_word_in_noisy_take_is_cropped_whole(name, snr_db):
    word, rate = soundfile.read(fsdd_recordings() / name, dtype="float32")
    take = realistic_take(word, seed=snr_db, snr_db=snr_db, color="pink")
    _, info = crop_to_speech(take.samples, rate)
    start, end = crop_bounds(info)
    assert info.speech_found and info.words == 1
    kept = min(end, take.word_end) - max(start, take.word_start)
    assert kept >= 0.9 * len(word)  # FSDD's own quiet edges may sink under a 20 dB floor
    assert (end - start) - len(word) <= 2 * (PARAMS.margin_s + 0.05) * rate


@requires_fsdd
def test_clean_fsdd_clips_are_left_intact():
    """FSDD clips are already trimmed: cropping must remove none of their sound."""
    paths = sorted(fsdd_recordings().glob("*.wav"))[::25]  # 120 clips, every digit and speaker
    for path in paths:
        samples, rate = soundfile.read(path, dtype="float32")
        cropped, info = crop_to_speech(samples, rate)
        centred = samples - samples.mean()
        start, end = crop_bounds(info)
        kept = np.sum(np.square(centred[start:end])) / np.sum(np.square(centred))
        assert kept > 0.99, path.name


@pytest.mark.parametrize("color", ["white", "pink", "brown"])
@pytest.mark.parametrize("level_dbfs", [-30, -50, -66])
def test_noise_alone_is_not_speech(level_dbfs, color):
    rng = np.random.default_rng(-level_dbfs)
    samples = noise_take(
        2.5,
        RATE,
        rng,
        level_dbfs=level_dbfs,
        noise_color=color,
        dc_offset=0.05,
        click_amplitude=0.5,
    )
    assert detect_speech(samples, RATE) == []
    cropped, info = crop_to_speech(samples, RATE)
    assert not info.speech_found and info.words == 0 and info.cut_s == 0
    np.testing.assert_array_equal(cropped, samples)


def test_silence_and_dither_are_not_speech():
    silence = np.zeros(2 * RATE, dtype=np.float32)
    lsb = 1 / 32768
    rng = np.random.default_rng(0)
    dither = (rng.integers(-1, 2, 2 * RATE) * lsb).astype(np.float32)
    one_glitch = silence.copy()
    one_glitch[RATE] = lsb
    for samples in (silence, dither, one_glitch, np.zeros(0, np.float32)):
        assert detect_speech(samples, RATE) == []


def test_a_lone_click_is_not_speech():
    samples = (coloured_noise(2 * RATE, "white", RATE, np.random.default_rng(0)) * 1e-3).copy()
    samples[RATE : RATE + 24] += 0.8 * np.exp(-np.arange(24) / 4)
    assert detect_speech(samples.astype(np.float32), RATE) == []


def test_two_words_apart_and_a_short_gap_inside_one():
    noise = coloured_noise(3 * RATE, "white", RATE, np.random.default_rng(0)) * 3e-4
    two_words = noise.copy()
    two_words[4000:7200] += tone(amplitude=0.1)
    two_words[11200:14400] += tone(amplitude=0.3)  # after a 0.5 s pause
    first, second = detect_speech(two_words, RATE)
    assert first.end < second.start and second.peak_db > first.peak_db
    _, info = crop_to_speech(two_words, RATE)
    assert info.words == 2 and info.start_s > first.end / RATE  # the louder word is kept

    one_word = noise.copy()
    one_word[RATE : RATE + 3200] += tone()
    one_word[RATE + 3200 + 1200 : RATE + 6400 + 1200] += tone()  # a 150 ms closure
    assert len(detect_speech(one_word, RATE)) == 1


def test_short_lead_is_never_cut():
    """A word 0.1 s from the start keeps that 0.1 s: too short to be a pause."""
    samples = np.concatenate([np.zeros(800), tone(), np.zeros(RATE)]).astype(np.float32)
    samples += coloured_noise(len(samples), "white", RATE, np.random.default_rng(0)) * 1e-4
    _, info = crop_to_speech(samples, RATE)
    assert info.start_s == 0 and info.end_s < len(samples) / RATE


def test_levels_ignore_dc_offset_and_rumble():
    word = tone(seconds=1.0)
    shifted = word + 0.3 + 0.3 * np.sin(2 * np.pi * 30 * np.arange(RATE) / RATE)
    levels, hop = frame_levels_db(word, RATE)
    shifted_levels, _ = frame_levels_db(shifted.astype(np.float32), RATE)
    assert hop == 80
    np.testing.assert_allclose(shifted_levels, levels, atol=0.1)


def test_activity_from_another_detector_becomes_words():
    levels = np.zeros(100)
    active = np.zeros(100, dtype=bool)
    active[10:30] = active[40:50] = True  # 100 ms gap: one word
    active[80:82] = True  # 20 ms: a burst, dropped
    (word,) = activity_to_segments(active, levels, RATE, 100 * 80)
    assert (word.start, word.end) == (10 * 80 + 88, 49 * 80 + 168)


def test_params_and_input_checks():
    params = replace(PARAMS, margin_s=0.1)
    assert params.as_dict()["margin_s"] == 0.1 and EndpointParams(**params.as_dict()) == params
    with pytest.raises(ValueError, match="1-D"):
        detect_speech(np.zeros((100, 2)), RATE)

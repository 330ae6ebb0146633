import numpy as np
import pytest

from fsdd_pipeline.audio.realistic_takes import (
    CLICK_ZONE_S,
    LEAD_S,
    REALISTIC_TRANSFORMS,
    coloured_noise,
    low_quality_channel,
    noise_take,
    place_in_take,
)
from fsdd_pipeline.audio.rooms import in_room, room_impulse_response

RATE = 8000


def tone(seconds=0.5, frequency=300.0, amplitude=0.3):
    t = np.arange(int(seconds * RATE)) / RATE
    return (amplitude * np.sin(2 * np.pi * frequency * t)).astype(np.float32)


def power_db(samples):
    return 10 * np.log10(np.mean(np.square(np.asarray(samples, dtype=np.float64))))


def band_power_db(samples, low_hz, high_hz):
    spectrum = np.abs(np.fft.rfft(samples)) ** 2
    frequencies = np.fft.rfftfreq(len(samples), 1 / RATE)
    return 10 * np.log10(spectrum[(frequencies >= low_hz) & (frequencies < high_hz)].mean())


def test_clean_take_holds_the_word_where_it_says():
    word = tone()
    take = place_in_take(word, RATE, np.random.default_rng(0), duration_s=2.5)
    assert take.samples.dtype == np.float32 and len(take.samples) == int(2.5 * RATE)
    assert take.word_end - take.word_start == len(word)
    np.testing.assert_array_equal(take.samples[take.word_start : take.word_end], word)
    assert not np.any(take.samples[: take.word_start]) and not np.any(take.samples[take.word_end :])
    assert take.word_start >= LEAD_S * RATE and len(take.samples) - take.word_end >= LEAD_S * RATE


def test_word_position_is_random_but_reproducible():
    starts = {place_in_take(tone(), RATE, np.random.default_rng(s)).word_start for s in range(8)}
    assert len(starts) > 4
    first, again = (place_in_take(tone(), RATE, np.random.default_rng(3), snr_db=20) for _ in "ab")
    np.testing.assert_array_equal(first.samples, again.samples)


def test_take_grows_to_fit_a_long_clip():
    take = place_in_take(tone(seconds=2.5), RATE, np.random.default_rng(0), duration_s=2.0)
    assert len(take.samples) == int(2.5 * RATE) + 2 * int(LEAD_S * RATE)


@pytest.mark.parametrize("color", ["white", "pink", "brown"])
@pytest.mark.parametrize("snr_db", [20, 30, 40])
def test_noise_floor_is_the_requested_distance_below_the_word(color, snr_db):
    word = tone()
    take = place_in_take(word, RATE, np.random.default_rng(1), snr_db=snr_db, noise_color=color)
    noise = take.samples.astype(np.float64)
    noise[take.word_start : take.word_end] -= word
    assert power_db(word) - power_db(noise) == pytest.approx(snr_db, abs=0.05)
    # Measured where a listener hears it, before the word, the floor is within 1 dB too.
    if color != "brown":  # brown noise's power wanders too slowly to settle in 0.35 s
        lead = noise[: take.word_start]
        assert abs(power_db(word) - power_db(lead) - snr_db) < 1.0


@pytest.mark.parametrize(("color", "slope_db"), [("white", 0.0), ("pink", 6.0), ("brown", 12.0)])
def test_noise_colors_have_their_spectral_slope(color, slope_db):
    noise = coloured_noise(4 * RATE, color, RATE, np.random.default_rng(0))
    assert power_db(noise) == pytest.approx(0.0, abs=1e-6)
    # Two octaves apart: 0, 3 and 6 dB per octave.
    drop = band_power_db(noise, 200, 400) - band_power_db(noise, 800, 1600)
    assert drop == pytest.approx(slope_db, abs=1.5)


def test_dc_offset_gain_and_clipping():
    word = tone(amplitude=0.5)
    take = place_in_take(word, RATE, np.random.default_rng(0), dc_offset=0.1, gain_db=-6.0)
    assert np.mean(take.samples) == pytest.approx(0.1, abs=1e-6)
    inside = take.samples[take.word_start : take.word_end] - 0.1
    np.testing.assert_allclose(inside, word * 10 ** (-6 / 20), atol=1e-6)
    loud = place_in_take(word, RATE, np.random.default_rng(0), dc_offset=0.8)
    assert loud.samples.max() == 1.0


def test_edge_clicks_are_near_the_ends_and_louder_than_the_word():
    word = tone(amplitude=0.2)
    take = place_in_take(word, RATE, np.random.default_rng(0), edge_clicks=True)
    zone = int(CLICK_ZONE_S * RATE)
    clicks = np.flatnonzero(np.abs(take.samples) >= 0.2)
    outside_word = clicks[(clicks < take.word_start) | (clicks >= take.word_end)]
    assert outside_word.size >= 2
    assert outside_word.min() < zone and outside_word.max() >= len(take.samples) - zone
    np.testing.assert_array_equal(take.samples[take.word_start : take.word_end], word)


def test_silent_clip_cannot_set_a_noise_level():
    with pytest.raises(ValueError, match="silent"):
        place_in_take(np.zeros(100, np.float32), RATE, np.random.default_rng(0), snr_db=20)


@pytest.mark.parametrize("level_dbfs", [-30, -66])
def test_noise_take_level(level_dbfs):
    samples = noise_take(2.0, RATE, np.random.default_rng(0), level_dbfs=level_dbfs)
    assert len(samples) == 2 * RATE and power_db(samples) == pytest.approx(level_dbfs, abs=0.1)
    assert not np.any(noise_take(1.0, RATE, np.random.default_rng(0), level_dbfs=None))


def test_low_quality_channel_band_limits_and_clips():
    white = np.random.default_rng(0).standard_normal(4 * RATE) * 0.1
    channel = low_quality_channel(white, RATE)
    passband = band_power_db(channel, 500, 3000)
    assert passband - band_power_db(channel, 3600, 4000) > 20  # nothing above 3.4 kHz
    assert passband - band_power_db(channel, 0, 150) > 20  # nor below 300 Hz
    assert np.abs(channel).max() == 1.0
    assert np.mean(np.abs(channel) == 1.0) == pytest.approx(0.01, abs=0.002)


def test_realistic_transforms_follow_the_robustness_convention():
    assert list(REALISTIC_TRANSFORMS) == [
        "take_white_40db",
        "take_white_30db",
        "take_white_20db",
        "take_pink_20db",
        "take_brown_20db",
        "take_dc_offset",
        "take_edge_clicks",
        "low_quality_channel",
    ]
    clip = tone(seconds=0.4)
    for name, transform in REALISTIC_TRANSFORMS.items():
        samples, rate = transform(clip, RATE, np.random.default_rng(0))
        again, _ = transform(clip, RATE, np.random.default_rng(0))
        assert rate == RATE and samples.dtype == np.float32 and samples.ndim == 1
        np.testing.assert_array_equal(samples, again)
        if name.startswith("take_"):
            assert 2.0 * RATE <= len(samples) <= 3.0 * RATE, name
    dc, _ = REALISTIC_TRANSFORMS["take_dc_offset"](clip, RATE, np.random.default_rng(0))
    assert 0.02 <= abs(np.mean(dc)) <= 0.1


def test_a_room_response_decays_60_db_over_its_rt60_at_the_asked_drr():
    rate = 8000
    response = room_impulse_response(np.random.default_rng(0), rate, 0.5, 6.0)
    assert response[0] == 1.0
    tail = response[1:]
    # Energy of the tail against the direct sound's (1): exactly the DRR.
    assert 10 * np.log10(1.0 / np.sum(tail**2)) == pytest.approx(6.0)
    # The tail's envelope: its last tenth about 54 dB below its first (60 dB per RT60).
    energy = np.square(response[int(0.012 * rate) + 1 :])
    tenth = energy.size // 10
    drop_db = 10 * np.log10(energy[:tenth].mean() / energy[-tenth:].mean())
    assert 48 < drop_db < 60
    assert response.size <= int(0.012 * rate) + int(0.5 * rate)
    with pytest.raises(ValueError, match="RT60"):
        room_impulse_response(np.random.default_rng(0), rate, 0.0, 6.0)


def test_a_word_in_a_room_keeps_its_peak_gains_a_tail_and_repeats_by_seed():
    rate = 8000
    t = np.arange(int(0.4 * rate)) / rate
    word = (0.5 * np.sin(2 * np.pi * 300 * t)).astype(np.float32)
    first = in_room(word, rate, np.random.default_rng(3), (0.3, 0.6), (3.0, 9.0))
    again = in_room(word, rate, np.random.default_rng(3), (0.3, 0.6), (3.0, 9.0))
    np.testing.assert_array_equal(first, again)
    assert first.dtype == np.float32
    assert np.max(np.abs(first)) == pytest.approx(0.5, rel=1e-6)
    assert word.size + 0.3 * rate <= first.size <= word.size + 0.62 * rate
    # The room's tail rings on after the word ends.
    assert np.sqrt(np.mean(first[word.size : word.size + 800] ** 2)) > 0.01

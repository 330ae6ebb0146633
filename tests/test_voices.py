"""The validation voices: digits synthesized by espeak-ng and flite, clean and in takes,
scored per model beside LOSO by the workflow's `voices` target."""

import json
import re
import time

import numpy as np
import pandas as pd
import pytest

from fsdd_pipeline.strings.metrics import edit_distance
from fsdd_pipeline.strings.takes import StringTakeSettings
from fsdd_pipeline.strings.voice_takes import voice_string_takes, voice_word_takes
from fsdd_pipeline.voices.espeak_library import (
    EspeakLibraryError,
    synthesize_texts,
    synthesize_words,
)
from fsdd_pipeline.voices.training_voices import (
    SPEAKER_PREFIX,
    TrainingVoice,
    TrainingVoicesError,
    draw_training_voices,
    library_name,
)
from fsdd_pipeline.voices.tts import (
    DIGIT_WORDS,
    SynthesisError,
    Voice,
    check_engines,
    synthesize,
    voices_from_config,
)

from .conftest import PROJECT, make_workdir, run_snakemake

SETTINGS = {
    "engines": {
        "espeak-ng": [{"name": "en-us+f1", "family": "female"}],
        "flite": [{"name": "slt", "family": "female"}],
    },
    "rates": [140, 200],
    "pitches": [35, 65],
}


def test_voices_cover_rates_and_espeak_pitches():
    voices = voices_from_config(SETTINGS)
    labels = [v.label for v in voices]
    # espeak-ng at every rate and pitch; flite at every rate, at its own pitch.
    assert len(labels) == 2 * 2 + 2 == len(set(labels))
    assert "espeak-ng_en-us+f1_r200_p35" in labels and "flite_slt_r140_p50" in labels


def test_unknown_family_or_engine_is_named():
    with pytest.raises(SynthesisError, match="voice 'x' has family 'child'"):
        voices_from_config(SETTINGS | {"engines": {"flite": [{"name": "x", "family": "child"}]}})
    with pytest.raises(SynthesisError, match="unknown engine 'say'"):
        voices_from_config(SETTINGS | {"engines": {"say": []}})


def test_missing_engine_says_how_to_install(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(SynthesisError, match="espeak-ng, flite; install them with: apt-get"):
        check_engines(voices_from_config(SETTINGS))


def test_synthesized_words_are_8k_speech_whose_length_follows_the_rate():
    slow, fast = (Voice("espeak-ng", "en-us+f1", "female", rate, 50) for rate in (120, 240))
    seven_slow, seven_fast = (synthesize(v, DIGIT_WORDS[7], 8000) for v in (slow, fast))
    assert seven_slow.dtype == np.float32 and 0.4 < np.abs(seven_slow).max() <= 0.8
    assert seven_fast.size < 0.8 * seven_slow.size
    assert synthesize(Voice("flite", "slt", "female", 175, 50), "nine", 8000).size > 2000


def test_unknown_voices_are_named_not_spoken_by_a_default_voice():
    """Both engines would speak an unknown voice with their default one."""
    known = {"engines": {"espeak-ng": [{"name": "en-us+f1", "family": "female"}]}}
    check_engines(voices_from_config(SETTINGS | known))
    for engine, name in (("flite", "no-such-voice"), ("espeak-ng", "en-us+zz9")):
        wrong = SETTINGS | {"engines": {engine: [{"name": name, "family": "male"}]}}
        with pytest.raises(SynthesisError, match=re.escape(f"{engine} has no voice {name} ")):
            check_engines(voices_from_config(wrong))


TRAINING = {
    "count": 12,
    "seed": 0,
    "dialects": ["en-us", "en"],
    "variants": ["", "f4"],
    "rates": [120, 240],
    "pitches": [20, 80],
}


def test_training_voices_leave_out_every_validation_voice():
    validation = ["en-us", "en-gb+f4"]  # the CLI's en-gb is the library's en
    voices = draw_training_voices(TRAINING | {"count": 8}, validation)
    assert {voice.name for voice in voices} == {"en-us+f4", "en"}
    assert len(set(voices)) == 8
    assert library_name("en-gb+f4") == "en+f4"
    assert library_name("en-gb-scotland") == "en-gb-scotland"
    assert draw_training_voices(TRAINING | {"count": 5}, []) == draw_training_voices(
        TRAINING | {"count": 5}, []
    )
    with pytest.raises(TrainingVoicesError, match=r"training_voices.count: 9 .* only 8"):
        draw_training_voices(TRAINING | {"count": 9}, validation)


def test_the_espeak_library_says_the_same_words_the_same_way_every_time():
    first, rate = synthesize_words("en-us+f4", 120, 80, ["seven", "nine"])
    time.sleep(1.1)  # the breathy variants it refuses changed with the clock
    again, _ = synthesize_words("en-us+f4", 120, 80, ["seven", "nine"])
    assert rate > 8000 and len(first) == 2
    assert all(np.array_equal(a, b) for a, b in zip(first, again, strict=True))
    assert 0.2 * rate < len(first[1]) < 2 * rate and 0 < np.abs(first[1]).max() <= 1
    faster, _ = synthesize_words("en-us+f4", 240, 80, ["seven", "nine"])
    assert len(faster[1]) < 0.8 * len(first[1])
    with pytest.raises(EspeakLibraryError, match="no voice 'xx-nowhere'"):
        synthesize_words("xx-nowhere", 120, 50, ["one"])


def test_the_espeak_library_marks_where_every_word_of_connected_speech_starts():
    (four_digits, alone), rate = synthesize_texts("en-us", 175, 50, ["four one five nine", "six"])
    samples, starts = four_digits
    assert len(starts) == 4 and starts[0] == 0 and np.all(np.diff(starts) > 0.1 * rate)
    assert starts[-1] < samples.size - 0.1 * rate  # "nine" is still to be said
    assert alone[1].tolist() == [0]  # every text's starts count from its own audio


def test_training_voices_read_digit_strings_as_takes_with_their_words_in_order():
    voice = TrainingVoice("en-029+f4", 150, 30)
    settings = StringTakeSettings(digits=(3, 5))
    takes = voice_string_takes(voice, 3, 8000, 7, settings)
    assert [t.samples.tobytes() for t in takes] == [
        t.samples.tobytes() for t in voice_string_takes(voice, 3, 8000, 7, settings)
    ]
    for take in takes:
        assert 3 <= len(take.digits) <= 5 and take.speaker == "tts:en-029+f4_r150_p30"
        starts = [start for start, _, _ in take.words]
        ends = [end for _, end, _ in take.words]
        assert starts[0] >= settings.lead_s[0] and ends[-1] <= take.samples.size / 8000
        assert all(end <= start for end, start in zip(ends[:-1], starts[1:], strict=True))
        assert all(0.1 < end - start < 1.0 for start, end, _ in take.words)


def test_training_voices_say_their_words_one_by_one_joined_with_pauses():
    voice = TrainingVoice("en-029+f4", 120, 80)
    settings = StringTakeSettings(digits=(3, 5), pause_s=(0.1, 0.3), overlap_probability=0.0)
    takes = voice_word_takes(voice, 4, 8000, 3, settings)
    assert [t.samples.tobytes() for t in takes] == [
        t.samples.tobytes() for t in voice_word_takes(voice, 4, 8000, 3, settings)
    ]
    for take in takes:
        assert 3 <= len(take.digits) <= 5 and take.speaker == "tts:en-029+f4_r120_p80"
        assert take.sources == tuple(f"{d}_en-029+f4_r120_p80" for d in take.digits)
        for (_, end, _), (start, _, _) in zip(take.words[:-1], take.words[1:], strict=True):
            assert 0.8 * 0.1 <= start - end <= 1.2 * 0.3 + 1e-9  # the pause, +-20%
        # A slow voice's words: longer than most of FSDD's men's (about 0.4 s).
        assert all(0.3 < end - start < 1.2 for start, end, _ in take.words)


@pytest.mark.e2e
def test_voices_report_sets_validation_voices_beside_loso(tmp_path, fsdd_subset):
    workdir = make_workdir(tmp_path, fsdd_subset, scenario=".test/config_voices.yaml")
    run_snakemake(workdir, "voices")
    results = workdir / "results"
    clips = pd.read_parquet(results / "voices/clips.parquet")
    assert len(clips) == 3 * 10 * 2
    assert set(clips.family) == {"female", "accent", "male"}
    assert set(clips.condition) == {"clean", "take"}
    takes = clips[clips.condition == "take"]
    assert (takes.samples.map(len) >= 2.5 * 8000).all()
    predictions = pd.read_csv(
        results / "voices/predictions/emb.csv", dtype={"digits": str}, keep_default_na=False
    )
    assert len(predictions) == 60 and set(predictions.predicted) <= set(range(-1, 10))
    # Each clip as fsdd-predict answers it: the digits read (a take longer than a word goes
    # through the segmenter) and its single-digit answer, a one-word take's that word.
    one_word = predictions[predictions.digits.str.len() == 1]
    assert len(one_word) >= 30 and (one_word.digits.astype(int) == one_word.predicted).all()
    summary = pd.read_csv(results / "voices/summary.csv").set_index("model")
    loso = json.loads((results / "loso/emb/summary.json").read_text())
    assert summary.loc["emb", "loso_mean"] == pytest.approx(loso["mean_accuracy"])
    clean = predictions[predictions.condition == "clean"]
    assert summary.loc["emb", "voices_clean"] == pytest.approx(
        (clean.predicted == clean.digit).mean()
    )
    female = clean[clean.family == "female"]
    assert summary.loc["emb", "female_clean"] == pytest.approx(
        (female.predicted == female.digit).mean()
    )
    # Trained on two FSDD men, the embedding still hears most synthetic digits.
    assert summary.loc["emb", "voices_clean"] >= 0.5
    # Digit strings read as connected speech (2 per voice, in takes) and the voices' own
    # words joined with pauses (one string at each of 4 pauses), read as a take is.
    strings = pd.read_parquet(results / "voices/strings.parquet")
    assert strings["style"].value_counts().to_dict() == {"paused": 3 * 4, "connected": 3 * 2}
    assert strings.reference.str.fullmatch(r"\d{3,7}").all()
    connected = strings[strings["style"] == "connected"]
    assert (connected.samples.map(len) >= 8000 * (1 + 0.3 * connected.reference.str.len())).all()
    paused = strings[strings["style"] == "paused"]
    assert sorted(paused.pause_s) == sorted([0.08, 0.15, 0.3, 0.6] * 3)
    # Each word is at least 0.1 s long and the pauses add up: the take holds them all.
    slowest = 0.1 * paused.reference.str.len() + 0.8 * paused.pause_s * (
        paused.reference.str.len() - 1
    )
    assert (paused.samples.map(len) >= 8000 * slowest).all()
    read = pd.read_csv(results / "voices/strings/emb.csv", dtype=str, keep_default_na=False)
    read["edits"] = [
        edit_distance(*pair) for pair in zip(read.reference, read.hypothesis, strict=True)
    ]
    assert list(read.reference) == list(strings.reference)
    assert list(read["style"]) == list(strings["style"])
    for style, prefix, takes in (("connected", "", 6), ("paused", "paused_", 12)):
        chosen = read[read["style"] == style]
        der = chosen.edits.sum() / chosen.reference.str.len().sum()
        assert summary.loc["emb", f"{prefix}strings_der"] == pytest.approx(der)
        exact = (chosen.edits == 0).mean()
        assert summary.loc["emb", f"{prefix}strings_exact"] == pytest.approx(exact)
        assert summary.loc["emb", f"{prefix}string_takes"] == takes
        # The segmenter finds most words of the voices' strings, even after two FSDD men.
        assert der <= 0.6
    long = read[(read["style"] == "paused") & (read.pause_s.astype(float) >= 0.2)]
    assert summary.loc["emb", "paused_long_der"] == pytest.approx(
        long.edits.sum() / long.reference.str.len().sum()
    )
    digits = pd.read_csv(results / "voices/accuracy_per_digit.csv")
    assert len(digits) == 3 * 2 * 10  # three models, clean and in takes
    assert (results / "logs/voices/synthesize.log").is_file()
    assert (results / "benchmarks/voices/evaluate/emb.tsv").is_file()
    # The same model also trained on two training voices: their ten digits each, rows of
    # the dataset's columns, in training and in every LOSO fold, never validated on.
    voices = pd.read_parquet(results / "training_voices/features.parquet")
    assert len(voices) == 20 and set(voices.split) == {"train"}
    assert voices.speaker.str.startswith(SPEAKER_PREFIX).all() and voices.speaker.nunique() == 2
    dataset = pd.read_parquet(results / "dataset/features.parquet")
    assert list(voices.columns) == list(dataset.columns)
    assert sorted(voices.digit) == sorted(list(range(10)) * 2)
    assert "training voices added 20 examples" in (results / "logs/train/emb_tts.log").read_text()
    assert (results / "logs/loso/emb_tts.log").read_text().count("training voices added 20") == 2
    assert "emb_tts" in summary.index and summary.loc["emb_tts", "loso_mean"] >= 0.5
    # The room gate: its second model also trains on every clip and training voice said in
    # a room (the clips' copies from the augmentation job, the voices' made in training),
    # in training and in every LOSO fold, and it predicts from its arrays like the others.
    log = (results / "logs/train/emb_rooms.log").read_text()
    assert "augmentation added" in log and "the training voices' copies added 20" in log
    assert (results / "logs/loso/emb_rooms.log").read_text().count("voices' copies added") == 2
    with np.load(results / "models/emb_rooms/model/linear_model.npz") as arrays:
        assert str(arrays["layout"]) == '"room_gate:speed_views:frame_logreg"'
    assert summary.loc["emb_rooms", "voices_clean"] >= 0.5


def test_variants_that_are_not_repeatable_are_refused_naming_the_key():
    import yaml

    from fsdd_pipeline.planning.config_checks import ConfigError, validate_schema

    config = yaml.safe_load((PROJECT / "config/config.yaml").read_text())
    config["training_voices"]["variants"] = ["", "f3"]
    with pytest.raises(ConfigError, match=r"'training_voices.variants.1': 'f3' is not one of"):
        validate_schema(config, PROJECT / "workflow/schemas/config.schema.yaml")

"""Digit strings: the segmenter on synthesized takes with known words, the digits of the
CLI and the served model on a real 4-digit take, the take-length limit, and the string
evaluation rule end to end."""

import json

import joblib
import numpy as np
import pandas as pd
import pytest
import soundfile

from fsdd_pipeline.audio.realistic_takes import noise_take
from fsdd_pipeline.errors import RecordingError
from fsdd_pipeline.features.spectral import FeatureParams
from fsdd_pipeline.models.builders import build_sklearn_model
from fsdd_pipeline.models.classifier import DigitClassifier
from fsdd_pipeline.models.inputs import InputSpec, inputs_from_frame
from fsdd_pipeline.serving.transcript import attach_strings_model, transcribe
from fsdd_pipeline.strings.decode import StringsModel, TakeTooLongError, transcribe_take
from fsdd_pipeline.strings.evaluation import (
    fit_segmenter,
    read_clips,
    recordings_rows,
    training_takes,
)
from fsdd_pipeline.strings.metrics import by_bucket, edit_distance, pause_bucket, score_strings
from fsdd_pipeline.strings.segmentation import (
    FRAME_S,
    GAP,
    ONSET,
    BlendedSegmenter,
    SegmenterParams,
    WordSegmenter,
    frame_labels,
    median_word_frames,
    split_long_words,
    take_embeddings,
    viterbi_words,
)
from fsdd_pipeline.strings.takes import (
    StringTakeSettings,
    draw_string_takes,
    pause_strata,
    synthesize_take,
    word_extent,
)
from fsdd_pipeline.strings.voice_takes import voice_string_takes
from fsdd_pipeline.voices.training_voices import TrainingVoice

from .conftest import make_workdir, run_snakemake

RATE = 8000
CLEAR = StringTakeSettings(pause_s=(0.25, 0.6), overlap_probability=0.0, snr_db=(30, 40))


def test_edit_distance_and_buckets():
    assert edit_distance("4159", "4159") == 0
    assert edit_distance("4159", "419") == 1 and edit_distance("", "12") == 2
    scored = score_strings(["123", "45"], ["123", "46"], [0.05, 0.3])
    table = by_bucket(scored).set_index("bucket")
    assert table.loc["all", "digit_error_rate"] == pytest.approx(1 / 5)
    assert table.loc["0-0.1s", "string_accuracy"] == 1.0
    assert table.loc["0.2-0.6s", "string_accuracy"] == 0.0


def test_viterbi_keeps_repeated_digits_apart_and_words_long_enough():
    scores = np.full((12, 11), -5.0)
    scores[0:2, 10] = scores[10:12, 10] = 0.0  # gap, a long "1", gap
    scores[2:10, 1] = 0.0
    assert viterbi_words(scores, 3, 2.0) == [(2, 9, 1)]
    scores[5, :] = -5.0
    scores[5, 10] = 0.0  # a one-frame dip: too short to be a gap between two words?
    assert [digit for *_, digit in viterbi_words(scores, 3, 2.0)] in ([1], [1, 1])
    assert viterbi_words(np.tile(np.eye(11)[10] * 5, (8, 1)), 2, 2.0) == []


def test_onset_frames_give_like_words_said_without_a_pause_a_boundary():
    # Frame classes: "3 3" with no pause, each word's first frame its own class.
    labels = frame_labels(10, [(0.1, 0.4, 3), (0.4, 0.7, 3)], onset=True)
    assert labels.tolist() == [GAP, GAP, ONSET + 3, 3, 3, ONSET + 3, 3, 3, 3, GAP]
    assert frame_labels(10, [(0.1, 0.4, 3)]).tolist()[2] == 3
    # Decoding: frames 2-8 all "3"; the onset score at frame 5 starts a second word.
    scores = np.full((10, 11), -5.0)
    scores[[0, 1, 9], GAP] = 0.0
    scores[2:9, 3] = 0.0
    onsets = np.full((10, 10), -5.0)
    onsets[[2, 5], 3] = 1.0
    assert viterbi_words(scores, 2, 1.0) == [(2, 8, 3)]
    assert viterbi_words(scores, 2, 1.0, onsets) == [(2, 4, 3), (5, 8, 3)]
    with pytest.raises(ValueError, match="min_word_frames >= 2"):
        SegmenterParams(onset_class=True, min_word_frames=1)


def test_evaluation_takes_fill_every_pause_bucket_alike():
    """pause_strata: every speaker's takes go through the buckets in turn, as many in each,
    and the overlapping takes are as many of all as overlap_probability says."""
    rng = np.random.default_rng(0)
    silence = np.zeros(400, np.float32)
    clips = {
        speaker: [
            (np.concatenate([silence, rng.normal(0, 0.3, 2000), silence]), d, f"{d}_{speaker}")
            for d in range(10)
        ]
        for speaker in ("a", "b")
    }
    settings = StringTakeSettings()
    takes = draw_string_takes(clips, 120, RATE, 0, settings, pause_strata(settings))
    counts = pd.crosstab(
        [t.speaker for t in takes], [pause_bucket(t.pause_s) for t in takes]
    ).to_dict("index")
    assert counts == {s: {"0-0.1s": 20, "0.1-0.2s": 20, "0.2-0.6s": 20} for s in ("a", "b")}
    overlapping = sum(t.pause_s < 0 for t in takes)
    assert 4 <= overlapping <= 22  # 120 x 0.1 expected
    again = draw_string_takes(clips, 120, RATE, 0, settings, pause_strata(settings))
    assert [t.pause_s for t in again] == [t.pause_s for t in takes]
    fixed = StringTakeSettings(pause_s=(0.3, 0.3))
    assert pause_strata(fixed) == (fixed,)


def test_speed_plays_a_takes_words_faster_or_slower(subset_clips):
    clips = subset_clips["train"]["theo"][:4]
    lengths = {}
    for speed in (0.8, 1.0, 1.25):
        settings = StringTakeSettings(
            speed=(speed, speed), pause_s=(0.3, 0.3), pause_jitter=0.0, overlap_probability=0.0
        )
        take = synthesize_take(clips, RATE, np.random.default_rng(0), settings)
        lengths[speed] = sum(end - start for start, end, _ in take.words)
    assert lengths[0.8] / lengths[1.0] == pytest.approx(1.25, rel=0.03)
    assert lengths[1.25] / lengths[1.0] == pytest.approx(0.8, rel=0.03)


def test_pitch_semitones_raise_a_takes_words_and_keep_their_length(subset_clips):
    import librosa

    clips = subset_clips["train"]["theo"][:3]
    settings = {"pause_s": (0.3, 0.3), "pause_jitter": 0.0, "overlap_probability": 0.0}
    takes = {
        shift: synthesize_take(
            clips,
            RATE,
            np.random.default_rng(0),
            StringTakeSettings(pitch_semitones=(shift, shift), snr_db=(60, 60), **settings),
        )
        for shift in (0.0, 4.0)
    }
    lengths = {s: [end - start for start, end, _ in t.words] for s, t in takes.items()}
    assert np.allclose(lengths[4.0], lengths[0.0], atol=0.03)

    def centroid(take):
        (start, end, _), *_ = take.words
        word = take.samples[int(start * RATE) : int(end * RATE)]
        return np.median(librosa.feature.spectral_centroid(y=word, sr=RATE, n_fft=512))

    # 4 semitones: 1.26 times higher; the centroid moves less (the band ends at 4 kHz).
    assert 1.08 < centroid(takes[4.0]) / centroid(takes[0.0]) < 1.35


def test_words_twice_their_digits_length_are_split_and_others_kept():
    word_frames = np.array([5.0] * 10)
    words = [(0, 4, 1), (6, 13, 2), (15, 24, 4), (30, 44, 7)]  # 5, 8, 10 and 15 frames
    assert split_long_words(words, word_frames, 1.8) == [
        (0, 4, 1),
        (6, 13, 2),  # 1.6 times the median: one word (a long "six" stays whole)
        (15, 19, 4),
        (20, 24, 4),  # "4 4" run together
        (30, 34, 7),
        (35, 39, 7),
        (40, 44, 7),
    ]
    # Medians from labelled takes: frames whose centre (i * 80 ms) is inside a word.
    frames = median_word_frames([np.zeros((20, 96))] * 2, [[(0.0, 0.4, 3)], [(0.0, 0.24, 3)]])
    assert frames[3] == 4.0 and np.isinf(frames[0])


@pytest.fixture(scope="module")
def subset_clips(fsdd_subset):
    rows = recordings_rows(fsdd_subset)
    return {
        split: read_clips(fsdd_subset, rows[rows.split == split], RATE)
        for split in ("train", "test")
    }


@pytest.fixture(scope="module")
def segmenter(subset_clips):
    takes, embeddings = training_takes(subset_clips["train"], 20, RATE, 0, StringTakeSettings())
    return WordSegmenter(SegmenterParams()).fit(embeddings, [take.words for take in takes])


def found_words(segmenter, samples):
    from fsdd_pipeline.features.embedding import get_embedder

    log_proba = segmenter.frame_log_proba(take_embeddings(samples, RATE, get_embedder()))
    return [
        ((first - 0.5) * FRAME_S, (last + 0.5) * FRAME_S, digit)
        for first, last, digit in segmenter.decode(log_proba)
    ]


def test_every_word_found_within_80_ms(segmenter, subset_clips):
    rng = np.random.default_rng(5)
    clips = [clip for clips in subset_clips["test"].values() for clip in clips]
    errors, found_all = [], 0
    for _ in range(8):
        chosen = [clips[int(i)] for i in rng.integers(0, len(clips), 5)]
        take = synthesize_take(chosen, RATE, rng, CLEAR)
        found = found_words(segmenter, take.samples)
        if len(found) == len(take.words):
            found_all += 1
            for (start, end, _), (true_start, true_end, _) in zip(found, take.words, strict=True):
                errors += [abs(start - true_start), abs(end - true_end)]
    assert found_all >= 7
    assert np.median(errors) <= 0.08
    assert np.mean(np.asarray(errors) <= 0.08) >= 0.8


def test_no_word_invented_in_pure_noise(segmenter):
    rng = np.random.default_rng(1)
    for color, level in (("white", -40), ("pink", -30), ("brown", -50)):
        take = noise_take(5.0, RATE, rng, level_dbfs=level, noise_color=color)
        assert found_words(segmenter, take) == []


def test_a_six_with_a_long_closure_stays_one_word(segmenter, subset_clips):
    six = next(clip for clip in subset_clips["test"]["theo"] if clip[1] == 6)[0]
    start, end = word_extent(six, RATE)
    word = six[start:end]
    # The closure: the quietest 40 ms in the middle half of the word, stretched to 230 ms.
    frame = int(0.04 * RATE)
    middle = range(len(word) // 4, 3 * len(word) // 4 - frame, frame // 4)
    quiet = min(middle, key=lambda i: np.mean(np.square(word[i : i + frame])))
    closure = np.zeros(int(0.23 * RATE), np.float32)
    long_six = np.concatenate([word[:quiet], closure, word[quiet:]])
    take = synthesize_take([(long_six, 6)], RATE, np.random.default_rng(2), CLEAR)
    assert [digit for *_, digit in found_words(segmenter, take.samples)] == [6]


def test_a_voices_connected_speech_adds_a_second_segmenter_blended_with_the_first(
    subset_clips,
):
    from fsdd_pipeline.features.embedding import get_embedder

    takes, embeddings = training_takes(subset_clips["train"], 8, RATE, 0, StringTakeSettings())
    spoken = voice_string_takes(TrainingVoice("en-us", 160, 50), 6, RATE, 3, StringTakeSettings())
    spoken_embeddings = [take_embeddings(t.samples, RATE, get_embedder()) for t in spoken]
    params = SegmenterParams()
    blend = fit_segmenter(takes + spoken, embeddings + spoken_embeddings, params, "george", 0.5)
    assert isinstance(blend, BlendedSegmenter) and blend.params == params
    # The first segmenter is FSDD's takes without the held-out speaker's, the second adds
    # the voice's connected speech (never held out: it is no FSDD speaker).
    kept = [i for i, take in enumerate(takes) if take.speaker != "george"]
    fsdd_only = fit_segmenter([takes[i] for i in kept], [embeddings[i] for i in kept], params)
    everything = fit_segmenter(
        [takes[i] for i in kept] + spoken,
        [embeddings[i] for i in kept] + spoken_embeddings,
        params,
        voice_blend=1.0,
    )
    probe = spoken_embeddings[0]
    assert np.array_equal(blend.first.frame_log_proba(probe), fsdd_only.frame_log_proba(probe))
    assert np.array_equal(
        blend.second.frame_log_proba(probe), everything.second.frame_log_proba(probe)
    )
    # Weight 1 decodes the second's scaled likelihoods alone; 0.5 lies between the two.
    scaled = everything.second.frame_log_proba(probe) - everything.second.log_prior_
    assert np.allclose(everything.frame_log_proba(probe) - everything.first.log_prior_, scaled)
    first = fsdd_only.frame_log_proba(probe) - fsdd_only.log_prior_
    middle = blend.frame_log_proba(probe) - blend.first.log_prior_
    assert np.allclose(middle, (first + scaled) / 2)
    with pytest.raises(ValueError, match="blend weight"):
        BlendedSegmenter(fsdd_only, fsdd_only, 0.0)


@pytest.fixture(scope="module")
def model_dir(fsdd_subset, segmenter, tmp_path_factory):
    """A small real model (logistic regression on the pooled embedding), trained on the
    subset's takes 5-9, with the segmenter in its folder."""
    from fsdd_pipeline.data.dataset import read_feature_batches
    from fsdd_pipeline.data.extraction import extract_batch
    from fsdd_pipeline.data.metadata import read_speakers

    from .conftest import PROJECT

    tmp = tmp_path_factory.mktemp("strings_model")
    params = FeatureParams()
    rows = recordings_rows(fsdd_subset)
    paths = [fsdd_subset / name for name in rows[rows.split == "train"].file_name]
    speakers = read_speakers(PROJECT / "config/speakers.csv")
    assert not extract_batch(paths, tmp / "batch", params, speakers)
    config = {"type": "logreg", "features": ["embedding"], "pooling": "summary", "C": 0.1}
    spec = InputSpec.from_model_config(config, 48, params)
    x, y = inputs_from_frame(read_feature_batches([tmp / "batch"]), spec)
    DigitClassifier(build_sklearn_model(config | {"max_iter": 2000}).fit(x, y), spec).save(
        tmp / "model"
    )
    StringsModel(segmenter, max_take_s=60).save(tmp / "model" / "segmenter.joblib")
    return tmp / "model"


@pytest.fixture(scope="module")
def four_digit_take(subset_clips, tmp_path_factory):
    """A real 4-digit take (4, 1, 5, 9) of one speaker's test clips, 0.4 s pauses."""
    clips = {clip[1]: clip for clip in subset_clips["test"]["george"]}
    take = synthesize_take(
        [clips[d] for d in (4, 1, 5, 9)], RATE, np.random.default_rng(3), CLEAR, pause_s=0.4
    )
    path = tmp_path_factory.mktemp("take") / "4159.wav"
    soundfile.write(path, take.samples, RATE, subtype="PCM_16")
    return path


def test_cli_prints_the_digits_and_their_words(model_dir, four_digit_take, capsys):
    from fsdd_pipeline.serving.cli import main

    assert main(["--model-dir", str(model_dir), "--json", str(four_digit_take)]) == 0
    (record,) = json.loads(capsys.readouterr().out)
    assert record["digits"] == "4159"
    assert [word["digit"] for word in record["words"]] == [4, 1, 5, 9]
    starts = [word["start_s"] for word in record["words"]]
    assert starts == sorted(starts) and all(w["end_s"] > w["start_s"] for w in record["words"])
    assert record["digit"] in (4, 1, 5, 9) and 0 < record["probability"] <= 1
    assert main(["--model-dir", str(model_dir), str(four_digit_take)]) == 0
    assert "4159" in capsys.readouterr().out


def test_served_model_answers_digits_and_words(model_dir, four_digit_take, tmp_path):
    import base64

    import mlflow

    from fsdd_pipeline.serving.pyfunc import log_audio_model

    mlflow.set_tracking_uri(f"sqlite:///{tmp_path}/mlflow.db")
    try:
        experiment = mlflow.create_experiment("strings", (tmp_path / "artifacts").as_uri())
        with mlflow.start_run(experiment_id=experiment):
            info = log_audio_model(model_dir, input_example_wav=four_digit_take)
        model = mlflow.pyfunc.load_model(info.model_uri)
        encoded = base64.b64encode(four_digit_take.read_bytes()).decode("ascii")
        output = model.predict(pd.DataFrame({"audio_base64": [encoded]}))
    finally:
        mlflow.set_tracking_uri(None)
    assert output["digits"].tolist() == ["4159"]
    assert [word["digit"] for word in json.loads(output["words"][0])] == [4, 1, 5, 9]


def test_a_take_over_the_limit_is_refused_before_decoding(model_dir):
    classifier = attach_strings_model(DigitClassifier.load(model_dir), model_dir)
    long_take = np.zeros(61 * RATE, np.float32)  # the fixture's limit is 60 s
    with pytest.raises(TakeTooLongError, match=r"take too long: 61.0 s, the limit is 60 s"):
        transcribe(classifier, long_take, RATE, "long.wav")
    with pytest.raises(RecordingError, match="empty audio"):
        transcribe(classifier, np.zeros(0, np.float32), RATE)


def test_silence_holds_no_digits(model_dir):
    classifier = attach_strings_model(DigitClassifier.load(model_dir), model_dir)
    result = transcribe_take(classifier, classifier.strings_model, np.zeros(RATE * 3), RATE)
    assert result["digits"] == "" and result["words"] == []


def test_string_rule_end_to_end(fsdd_subset, tmp_path):
    workdir = make_workdir(tmp_path, fsdd_subset, scenario=".test/config_strings.yaml")
    run_snakemake(workdir, "results/strings/emb/by_bucket.csv")
    table = pd.read_csv(workdir / "results/strings/emb/by_bucket.csv")
    assert set(table.evaluation) == {"official", "loso", "loso_pin"}
    assert {"all", "0-0.1s", "0.1-0.2s", "0.2-0.6s"} >= set(table.bucket)
    # PINs: four digits with pauses of 0.2 s or more.
    assert set(table[table.evaluation == "loso_pin"].bucket) == {"0.2-0.6s", "all"}
    takes = pd.read_csv(workdir / "results/strings/emb/takes.csv", dtype={"reference": str})
    assert len(takes) == 6 + 2 * 4 + 2 * 2
    pins = takes[takes.evaluation == "loso_pin"]
    assert (pins.reference.str.len() == 4).all() and (pins.pause_s >= 0.2).all()
    overall = table[(table.bucket == "all") & (table.evaluation == "official")].iloc[0]
    assert overall.digit_error_rate < 0.5  # far from chance on two speakers' strings
    assert (workdir / "results/models/emb/model/segmenter.joblib").is_file()
    # The held-out speakers' takes are read by the LOSO job's folds, not folds trained again.
    folds = workdir / "results/loso/emb/fold_models.joblib"
    log = (workdir / "results/logs/strings/emb.log").read_text()
    assert f"LOSO folds of 2 speakers read from {folds.relative_to(workdir)}" in log
    assert sorted(joblib.load(folds)) == sorted(set(takes.speaker))
    # The second segmenter's takes: the 30 training voices' connected speech and words.
    log = (workdir / "results/logs/strings/train_segmenter.log").read_text()
    assert "training voices: 180 takes (2 of connected speech and 4 of words" in log
    # Reproducible: the same seed gives the same takes.
    run_snakemake(workdir, "results/strings/emb/by_bucket.csv", "--forcerun", "evaluate_strings")
    again = pd.read_csv(workdir / "results/strings/emb/takes.csv", dtype={"reference": str})
    pd.testing.assert_frame_equal(takes.drop(columns="seconds"), again.drop(columns="seconds"))
    # The comparison carries every scored model's LOSO strings and PINs.
    run_snakemake(workdir, "results/comparison/comparison.csv")
    row = pd.read_csv(workdir / "results/comparison/comparison.csv").set_index("model").loc["emb"]
    loso = table[(table.evaluation == "loso") & (table.bucket == "all")].iloc[0]
    pins = table[(table.evaluation == "loso_pin") & (table.bucket == "all")].iloc[0]
    assert row.strings_loso_der == pytest.approx(loso.digit_error_rate)
    assert row.strings_loso_exact == pytest.approx(loso.string_accuracy)
    assert row.pins_loso_exact == pytest.approx(pins.string_accuracy)


def test_a_clear_digit_in_a_long_noisy_take_is_found(model_dir, subset_clips):
    """A clear word in 45 s of white noise at -40 dBFS: the flatness of the whole take is
    that of noise; judged on the word found, it is speech (issue 26, point 4)."""
    from fsdd_pipeline.audio.endpoint import EndpointParams
    from fsdd_pipeline.audio.reading import prepare_clip
    from fsdd_pipeline.audio.realistic_takes import place_in_take

    samples, digit, _ = next(c for c in subset_clips["test"]["george"] if c[1] == 9)
    rng = np.random.default_rng(4)
    snr_db = 20 * np.log10(np.sqrt(np.mean(np.square(samples))) / 10 ** (-40 / 20))
    take = place_in_take(samples, RATE, rng, duration_s=45.0, snr_db=snr_db).samples
    cropped, info = prepare_clip(take, RATE, RATE, EndpointParams())
    assert info.speech_found and cropped.size < 2 * samples.size
    noise = noise_take(45.0, RATE, rng, level_dbfs=-40)
    with pytest.raises(RecordingError, match="as flat as noise"):
        prepare_clip(noise, RATE, RATE, EndpointParams())
    classifier = attach_strings_model(DigitClassifier.load(model_dir), model_dir)
    assert transcribe(classifier, take, RATE)["digits"] == str(digit)


def test_words_found_in_noise_alone_are_dropped(model_dir, subset_clips):
    """A "word" the segmenter would find in a long stretch of noise holds no frame loud
    enough to be speech (as endpointing judges a word): dropped, not named."""
    from fsdd_pipeline.audio.endpoint import loud_spans
    from fsdd_pipeline.audio.realistic_takes import place_in_take
    from fsdd_pipeline.strings.decode import speech_only

    samples = next(c for c in subset_clips["test"]["theo"] if c[1] == 4)[0]
    rng = np.random.default_rng(2)
    take = place_in_take(samples, RATE, rng, duration_s=30.0, snr_db=25.0)
    word_s = take.word_seconds
    noise_s = (1.0, 1.24) if word_s[0] > 3.0 else (25.0, 25.24)
    assert loud_spans(take.samples, RATE, [word_s, noise_s]) == [True, False]
    # Frames (80 ms apart) over the word and over the noise, as find_words gives them.
    word = (round(word_s[0] / FRAME_S) + 1, round(word_s[1] / FRAME_S) - 1, 4, np.full(10, 0.1))
    noise = (round(noise_s[0] / FRAME_S) + 1, round(noise_s[1] / FRAME_S) - 1, 1, np.full(10, 0.1))
    classifier = DigitClassifier.load(model_dir)
    found = sorted([word, noise], key=lambda w: w[0])
    assert speech_only(found, take.samples, RATE, classifier) == [word]


def test_the_single_digit_answer_reads_a_word_cut_in_two_whole(model_dir, subset_clips):
    """A word the segmenter cut in two (as it cuts some women's slow "seven": the "s" a "4"
    of its own, the louder piece) is answered as the classifier reads the whole word, as
    single digits were always read; ``words`` keeps the two pieces."""
    from fsdd_pipeline.audio.realistic_takes import place_in_take
    from fsdd_pipeline.strings.decode import single_digit_answer

    samples, digit, _ = next(c for c in subset_clips["test"]["george"] if c[1] == 7)
    take = place_in_take(samples, RATE, np.random.default_rng(5), duration_s=2.5, snr_db=30.0)
    classifier = DigitClassifier.load(model_dir)
    features, _ = classifier.clip_features_and_words(take.samples, RATE)
    whole = classifier.predict_proba_matrices([features])[0]
    start_s, end_s = take.word_seconds
    middle_s = (start_s + end_s) / 2
    wrong = np.eye(10)[(digit + 1) % 10]  # what each piece alone was read as

    def piece(start, end, level):
        return {"start_s": start, "end_s": end, "level_dbfs": level, "probabilities": wrong}

    words = [piece(start_s, middle_s, -12.0), piece(middle_s, end_s, -15.0)]
    answer = single_digit_answer(classifier, take.samples, RATE, words, "take")
    assert answer["digit"] == int(np.argmax(whole)) != int(np.argmax(wrong))
    assert np.allclose(answer["probabilities"], whole, atol=0.05)
    assert answer["probability"] == max(answer["probabilities"])

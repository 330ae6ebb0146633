"""A take in, its words and digits out: the segmenter finds the words, and each word's
digit comes from the segmenter's frame probabilities or from the single-digit classifier
on the word's audio.

A take no longer than a word can be (ONE_WORD_TAKE_S) in which the segmenter finds at most
one word is answered by the classifier exactly as before, so single-digit results do not
change. A longer take with no word found holds no speech. Takes longer than the
StringsModel's ``max_take_s`` are refused before anything is decoded.

Every take with a word also gets a single-digit answer (``digit``, what fsdd-predict
answered before strings): its loudest word read by the classifier with ANSWER_CONTEXT_S of
audio on each side, so that the classifier's endpointing sees the whole word even where
the segmenter cut it in two; a take in which one word is found is that word.
"""

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fsdd_pipeline.audio.endpoint import EndpointParams, loud_spans
from fsdd_pipeline.audio.reading import analysis_frame, check_sample_rate
from fsdd_pipeline.audio.resampling import resample
from fsdd_pipeline.errors import PipelineError, RecordingError
from fsdd_pipeline.features.embedding import get_embedder
from fsdd_pipeline.labels import N_CLASSES
from fsdd_pipeline.strings.segmentation import FRAME_S, SEGMENTER_FILE, take_embeddings

# Who names a word the segmenter found (StringsModel.relabel; see read_words).
RELABEL_MODES = ("segmenter", "classifier", "both")
# Audio kept on each side of a word the classifier re-labels (its endpointing crops it):
# chosen in LOSO folds with TTS connected speech beside (docs/digit_strings.md).
WORD_MARGIN_S = 0.1
# Takes no longer than this in which at most one word is found are one word's take: the
# classifier sees them whole.
ONE_WORD_TAKE_S = 1.5
# Takes no longer than this are one word whatever the segmenter finds: it split 3 of the 300
# official test clips (0.42-0.57 s long, no silence around the word) into two 0.2 s words.
ONE_WORD_MAX_S = 0.8
# The single-digit answer reads the loudest word with this much audio on each side: the
# segmenter cuts some women's slow words in two (the "s" of "seven" found as a "4", louder
# than the rest), which the classifier reads whole. On the validation voices' one-word
# clips (docs/digit_strings.md) the answer went from 98.7% / 97.8% (clean / in takes; the
# loudest word alone, "seven" 86.7%) to 99.5% / 99.7%, every digit 96.7% or more, as the
# classifier reads the whole take; 0.3 s: 99.5% / 99.5%.
ANSWER_CONTEXT_S = 0.5
# A take whose loudest 32 ms is below this holds no speech (as audio.reading decides).
SILENCE_DBFS = -70.0


@dataclass
class StringsModel:
    """What travels with a classifier to read strings: the trained WordSegmenter, the
    longest take accepted, and who names the words found (RELABEL_MODES, read_words)."""

    segmenter: object
    max_take_s: float = 600.0
    relabel: str = "classifier"

    def __post_init__(self):
        if self.relabel not in RELABEL_MODES:
            raise ValueError(f"relabel must be one of {RELABEL_MODES}, not {self.relabel!r}")

    def save(self, path):
        import joblib

        from fsdd_pipeline.io import atomic_path

        with atomic_path(path) as target:
            joblib.dump(self, target)

    @staticmethod
    def load(model_dir):
        """The StringsModel saved in a model folder, or None when it has none (a model
        trained before strings existed: takes are then read as one word)."""
        path = Path(model_dir) / SEGMENTER_FILE
        if not path.is_file():
            return None
        import joblib

        return joblib.load(path)


def copy_strings_model(path, model_dir):
    """Copy a saved StringsModel into a model folder (where StringsModel.load finds it),
    with the rewritten speech embedding its segmenter reads (a model that does not read
    the embedding itself would otherwise rewrite it, with onnx, at every load)."""
    import shutil

    from fsdd_pipeline.features.embedding import save_sequence_model
    from fsdd_pipeline.io import atomic_path

    with atomic_path(Path(model_dir) / SEGMENTER_FILE) as target:
        shutil.copyfile(path, target)
    save_sequence_model(model_dir)


class TakeTooLongError(RecordingError):
    """A take longer than the configured limit: refused before it is decoded."""


def check_take(samples, rate, max_take_s, source):
    """Mono float32 samples of a take; RecordingError naming ``source`` when unusable."""
    samples = np.asarray(samples, dtype=np.float32)
    if samples.ndim == 2:
        samples = samples.mean(axis=1)
    if samples.ndim != 1 or samples.size == 0:
        raise RecordingError(source, "empty audio: the take holds no samples")
    check_sample_rate(rate, source)
    duration = samples.size / rate
    if duration > max_take_s:
        raise TakeTooLongError(
            source,
            f"take too long: {duration:.1f} s, the limit is {max_take_s:g} s "
            "(strings.max_take_s): cut it into shorter takes",
        )
    if not np.all(np.isfinite(samples)):
        raise RecordingError(source, "corrupt audio: samples are not finite numbers")
    return samples


def loudest_dbfs(samples, rate):
    """Level of the loudest of ``samples``' 32 ms frames, dB full scale."""
    frame = min(analysis_frame(rate), samples.size)
    usable = samples[: samples.size - samples.size % frame]
    power = np.mean(np.square(usable.reshape(-1, frame), dtype=np.float64), axis=1)
    return 10 * np.log10(max(float(power.max()), 1e-24))


def word_level_dbfs(samples, rate, start_s, end_s):
    """The loudest 32 ms of a word (dB full scale): which word is the take's loudest."""
    return loudest_dbfs(
        samples[int(start_s * rate) : max(int(start_s * rate) + 1, int(end_s * rate))], rate
    )


def find_words(strings_model, samples, rate):
    """[(first frame, last frame, digit, (10,) probabilities)] of a take at ``rate``."""
    segmenter = strings_model.segmenter
    embeddings = take_embeddings(samples, rate, get_embedder())
    log_proba = segmenter.frame_log_proba(embeddings)
    digit_log_proba = segmenter.digit_log_proba(log_proba)
    words = []
    for first, last, digit in segmenter.decode(log_proba):
        digits_only = digit_log_proba[first : last + 1, :N_CLASSES].mean(axis=0)
        probabilities = np.exp(digits_only - np.logaddexp.reduce(digits_only))
        words.append((first, last, digit, probabilities))
    return words


def speech_only(found, samples, rate, classifier):
    """The words ``found`` that hold speech as endpoint detection judges a word (the model's
    endpoint settings; audio.endpoint.loud_spans): a "word" the segmenter finds in a long
    stretch of noise is dropped, not named."""
    if not found:
        return found
    params = classifier.spec.feature_params.endpoint or EndpointParams()
    duration_s = samples.size / rate
    spans = [word_seconds(first, last, duration_s) for first, last, *_ in found]
    return [
        word
        for word, loud in zip(found, loud_spans(samples, rate, spans, params), strict=True)
        if loud
    ]


def word_seconds(first, last, duration_s):
    """(start_s, end_s) of a word over frames first..last (frame centres FRAME_S apart)."""
    start = max(0.0, (first - 0.5) * FRAME_S)
    return start, min(duration_s, (last + 0.5) * FRAME_S)


def read_words(classifier, strings_model, samples, rate, found, source):
    """[(start_s, end_s, probabilities)] of the words ``found`` by the segmenter, named as
    StringsModel.relabel says: "segmenter" (its frame probabilities), "classifier" (the
    classifier on the word's audio, the word's margins stopping at its neighbours) or
    "both" (the product of the two, renormalized)."""
    duration_s = samples.size / rate
    extents = [word_seconds(first, last, duration_s) for first, last, *_ in found]
    spans = []
    for index, ((start_s, end_s), (*_, segment_probabilities)) in enumerate(
        zip(extents, found, strict=True)
    ):
        probabilities = segment_probabilities
        if strings_model.relabel != "segmenter":
            low = extents[index - 1][1] if index else 0.0
            high = extents[index + 1][0] if index + 1 < len(extents) else duration_s
            crop = (max(low, start_s - WORD_MARGIN_S), min(high, end_s + WORD_MARGIN_S))
            relabelled = classify_word(classifier, samples, rate, *crop, source)
            if relabelled is not None and strings_model.relabel == "both":
                combined = np.log(np.maximum(relabelled, 1e-12)) + np.log(
                    np.maximum(segment_probabilities, 1e-12)
                )
                relabelled = np.exp(combined - np.logaddexp.reduce(combined))
            probabilities = segment_probabilities if relabelled is None else relabelled
        spans.append((start_s, end_s, probabilities))
    return spans


def classify_word(classifier, samples, rate, start_s, end_s, source):
    """The classifier's probabilities of the audio between start_s and end_s, or None when
    it is no usable clip."""
    first = max(0, int(start_s * rate))
    last = min(samples.size, int(np.ceil(end_s * rate)))
    try:
        features = classifier.clip_features(samples[first:last], rate, source)
    except PipelineError:
        return None
    return classifier.predict_proba_matrices([features])[0]


def transcribe_take(classifier, strings_model, samples, rate, source="<samples>"):
    """{"digits", "words", "duration_s", "sample_rate"} of one take and, when it holds a
    word, its single-digit answer's "digit", "probability", "probabilities" (see
    serving.transcript)."""
    max_take_s = strings_model.max_take_s if strings_model else float("inf")
    samples = check_take(samples, rate, max_take_s, source)
    duration_s = samples.size / rate
    result = {"digits": "", "words": [], "duration_s": duration_s, "sample_rate": int(rate)}
    answer = None  # the single-digit answer, where the reading below already is it
    # A take no longer than a word is read whole whatever the segmenter would find: it is
    # not asked (its embedding of the take cost a one-word request a quarter of its time).
    if (
        strings_model is None
        or duration_s <= ONE_WORD_MAX_S
        or loudest_dbfs(samples, rate) < SILENCE_DBFS
    ):
        found = [] if strings_model else None
    else:
        model_rate = classifier.spec.feature_params.sample_rate
        work = resample(samples, rate, model_rate) if rate != model_rate else samples
        found = speech_only(
            find_words(strings_model, work, model_rate), work, model_rate, classifier
        )
    if (
        found is None
        or duration_s <= ONE_WORD_MAX_S
        or (len(found) <= 1 and duration_s <= ONE_WORD_TAKE_S)
    ):
        # At most one word in a word-long take (or no segmenter): the classifier on the whole
        # take, exactly as single digits were always read (it refuses a take of no speech).
        features, _ = classifier.clip_features_and_words(samples, rate, source)
        probabilities = classifier.predict_proba_matrices([features])[0]
        spans = [(0.0, duration_s, probabilities)]
        answer = named(probabilities)
    elif len(found) == 1:
        # One word in a longer take: it is named by the single-digit answer (below), so the
        # classifier is not asked to read it a second time.
        first, last, _, segment_probabilities = found[0]
        spans = [(*word_seconds(first, last, duration_s), segment_probabilities)]
    else:
        spans = read_words(classifier, strings_model, samples, rate, found, source)
    for start_s, end_s, probabilities in spans:
        result["words"].append(
            {
                "start_s": round(float(start_s), 3),
                "end_s": round(float(end_s), 3),
                **named(probabilities),
                "level_dbfs": round(word_level_dbfs(samples, rate, start_s, end_s), 2),
            }
        )
    if result["words"]:
        answer = answer or single_digit_answer(classifier, samples, rate, result["words"], source)
        result.update(answer)
        if len(result["words"]) == 1:  # a take of one word: the answer is that word's reading
            result["words"][0].update(answer)
    result["digits"] = "".join(str(word["digit"]) for word in result["words"])
    return result


def named(probabilities):
    """{"digit", "probability", "probabilities"} of a word's (10,) probabilities."""
    digit = int(np.argmax(probabilities))
    return {
        "digit": digit,
        "probability": float(probabilities[digit]),
        "probabilities": [float(p) for p in probabilities],
    }


def loudest_word(words):
    """The loudest of a transcript's words, by its loudest 32 ms (``level_dbfs``)."""
    return max(words, key=lambda word: word["level_dbfs"])


def single_digit_answer(classifier, samples, rate, words, source):
    """{"digit", "probability", "probabilities"}: the take's one digit, as fsdd-predict
    answered before strings: its loudest word read by the classifier with ANSWER_CONTEXT_S
    around it (the word's own reading where that audio is no usable clip)."""
    loudest = loudest_word(words)
    probabilities = classify_word(
        classifier,
        samples,
        rate,
        loudest["start_s"] - ANSWER_CONTEXT_S,
        loudest["end_s"] + ANSWER_CONTEXT_S,
        source,
    )
    return named(loudest["probabilities"] if probabilities is None else probabilities)

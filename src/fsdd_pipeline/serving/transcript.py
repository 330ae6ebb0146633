"""Every digit of a take, in order: what ``fsdd-predict``, the served model and the
browser app answer for a take (fsdd_pipeline.strings.decode does the work)."""

import numpy as np

from fsdd_pipeline.strings.decode import StringsModel, transcribe_take

# What a take in which no digit was found gets, wherever it came in.
NO_DIGIT_REASON = "no speech: no spoken digit found in the take"


def take_duration_s(samples, rate):
    """Length in seconds of ``samples`` (1-D, or frames x channels) at ``rate`` Hz."""
    return np.shape(samples)[0] / rate


def strings_model(classifier):
    """The StringsModel travelling with ``classifier`` (None for a model folder without
    one: its takes are read as one word)."""
    return getattr(classifier, "strings_model", None)


def attach_strings_model(classifier, model_dir):
    """Load the model folder's StringsModel onto ``classifier``; returns the classifier."""
    classifier.strings_model = StringsModel.load(model_dir)
    return classifier


def transcribe(classifier, samples, rate, source="<samples>"):
    """The digits of one take (mono or frames x channels samples at ``rate`` Hz).

    Returns {"digits": "4159" ("" when no word is found), "words": [{"start_s", "end_s",
    "digit", "probability", "probabilities" (ten), "level_dbfs"}] in spoken order,
    "duration_s", "sample_rate"} and, when a word is found, the take's single-digit answer
    "digit", "probability", "probabilities" (strings.decode.single_digit_answer).
    RecordingError naming ``source`` for unusable audio, a take longer than the model's
    limit (strings.max_take_s), or a one-word take the classifier refuses.
    """
    return transcribe_take(classifier, strings_model(classifier), samples, rate, source)


def transcript_result(transcript):
    """(transcript, None), or (None, the no-speech reason) when it holds no word. A
    transcript's ``digit``, ``probability`` and ``probabilities`` are its single-digit
    answer (strings.decode.single_digit_answer: its loudest word, read whole)."""
    if not transcript["words"]:
        return None, NO_DIGIT_REASON
    return {
        key: transcript[key] for key in ("digits", "words", "digit", "probability", "probabilities")
    }, None

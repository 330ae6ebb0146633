"""What a take says: its digit string and, for every word, where it is and how sure the model
is. The one place that turns audio into this answer for the browser app (and any other caller
that wants words, not one row of probabilities).

The answer is a plain dict, ready for JSON::

    {"digits": "4", "duration_s": 3.0, "sample_rate": 48000,
     "words": [{"start_s": 1.02, "end_s": 1.61, "digit": 4, "probability": 0.98,
                "probabilities": [10 floats]}]}

Today a take holds one word: the loudest word endpoint detection finds (with its margin, the
very samples the model heard), as ``fsdd-predict`` predicts it. The digit-strings decoder
replaces the inside of ``transcribe`` (every word in spoken order); the answer's form stays.
"""

import numpy as np

from fsdd_pipeline.audio.reading import mono


def word_entry(start_s, end_s, probabilities):
    """One word of the answer: where it is in the take (seconds) and its probabilities."""
    probabilities = np.asarray(probabilities, dtype=np.float64)
    digit = int(probabilities.argmax())
    return {
        "start_s": round(float(start_s), 4),
        "end_s": round(float(end_s), 4),
        "digit": digit,
        "probability": float(probabilities[digit]),
        "probabilities": [float(p) for p in probabilities],
    }


def take_duration_s(samples, rate):
    """Length in seconds of ``samples`` (1-D, or frames x channels) at ``rate`` Hz."""
    return np.shape(samples)[0] / rate


def transcribe(classifier, samples, rate, source="take"):
    """The answer (see the module docstring) of a DigitClassifier for one take.

    ``samples`` is 1-D or frames x channels at ``rate`` Hz, any length the caller accepted.
    RecordingError naming ``source`` when the take holds no speech or is unusable (the
    reasons of fsdd_pipeline.audio.reading.prepare_clip).
    """
    duration_s = take_duration_s(samples, rate)
    samples = np.asarray(samples, dtype=np.float32)
    if samples.ndim == 2:
        samples = mono(samples.mean(axis=1))
    # --- digit strings plug in here: today the loudest word, cropped by endpoint detection.
    features, crop = classifier.clip_features_and_crop(samples, rate, source)
    probabilities = classifier.predict_proba_matrices([features])[0]
    start_s, end_s = (crop.start_s, crop.end_s) if crop is not None else (0.0, duration_s)
    words = [word_entry(start_s, end_s, probabilities)]
    # ---
    return {
        "digits": "".join(str(word["digit"]) for word in words),
        "words": words,
        "duration_s": round(float(duration_s), 4),
        "sample_rate": int(rate),
    }

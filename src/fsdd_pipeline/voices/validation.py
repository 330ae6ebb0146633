"""Scoring models on the validation voices (voices.tts), and the per-model report that sets
them beside LOSO: accuracy on the clean clips and in takes, by voice family and by digit,
and the digit strings the voices read as connected speech or word by word with pauses."""

import numpy as np
import pandas as pd

from fsdd_pipeline.errors import RecordingError
from fsdd_pipeline.strings.metrics import PAUSE_BUCKETS
from fsdd_pipeline.voices.tts import FAMILIES

NO_PREDICTION = -1
CONDITIONS = ("clean", "take")
# How a voice reads a string (voices.tts): as one text, or its words joined with pauses.
STRING_STYLES = ("connected", "paused")
# Paused strings' digit error rate is also reported below and from this pause: the last
# pause bucket's (0.2 s; the targets are set for pauses under it and of it or more).
LONG_PAUSE_S = PAUSE_BUCKETS[-1][1]


def predict_clips(classifier, clips, sample_rate):
    """One row per clip: its voice, family, condition and digit, and what fsdd-predict
    answers for it: the digits read (serving.transcript: a take longer than a word goes
    through the word segmenter when the model has one) and the predicted digit and its
    probability (its single-digit answer: strings.decode.single_digit_answer). A clip
    where no speech is found counts as wrong (predicted -1, reason)."""
    from fsdd_pipeline.serving.transcript import transcribe, transcript_result

    rows = []
    for clip in clips.itertuples(index=False):
        predicted, probability, digits, reason = NO_PREDICTION, 0.0, "", ""
        try:
            answer, no_speech = transcript_result(
                transcribe(classifier, np.asarray(clip.samples), sample_rate)
            )
            if answer:
                digits = answer["digits"]
                predicted, probability = int(answer["digit"]), float(answer["probability"])
            else:
                reason = no_speech
        except RecordingError as error:
            reason = error.reason
        rows.append(
            dict(
                voice=clip.voice,
                family=clip.family,
                condition=clip.condition,
                digit=int(clip.digit),
                predicted=predicted,
                probability=probability,
                digits=digits,
                reason=reason,
            )
        )
    return pd.DataFrame(rows)


def read_strings(classifier, strings, sample_rate):
    """One row per validation-voice string take: its voice, family, style, pause, reference,
    the digits read (as fsdd-predict reads a take: serving.transcript) and, when the take
    was refused, the reason (its digits then "")."""
    from fsdd_pipeline.serving.transcript import transcribe

    rows = []
    for take in strings.itertuples(index=False):
        hypothesis, reason = "", ""
        try:
            hypothesis = transcribe(classifier, np.asarray(take.samples), sample_rate)["digits"]
        except RecordingError as error:
            reason = error.reason
        rows.append(
            dict(
                voice=take.voice,
                family=take.family,
                style=take.style,
                pause_s=float(take.pause_s),
                reference=str(take.reference),
                hypothesis=hypothesis,
                reason=reason,
            )
        )
    columns = ["voice", "family", "style", "pause_s", "reference", "hypothesis", "reason"]
    return pd.DataFrame(rows, columns=columns)


def strings_summary(strings):
    """Digit error rate (edits over reference digits) and exact strings of read_strings
    rows, overall and per family, for each style: connected speech as
    {"strings_der", "strings_exact", "{family}_strings_der", "string_takes"}, the paused
    strings with the prefix "paused_" and also their digit error rate at pauses under and
    of at least LONG_PAUSE_S ("paused_short_der", "paused_long_der")."""
    from fsdd_pipeline.strings.metrics import score_strings, summarize

    scored = score_strings(
        strings["reference"].astype(str),
        strings["hypothesis"].fillna("").astype(str),
        strings["pause_s"].to_numpy(),
    )
    scored["family"] = strings["family"].to_numpy()
    scored["style"] = strings["style"].to_numpy()
    row = {}
    for style in STRING_STYLES:
        chosen = scored[scored["style"] == style]
        if chosen.empty:
            continue
        prefix = "" if style == "connected" else f"{style}_"
        overall = summarize(chosen).iloc[0]
        families = summarize(chosen, ["family"]).set_index("family")["digit_error_rate"]
        row[f"{prefix}strings_der"] = float(overall["digit_error_rate"])
        row[f"{prefix}strings_exact"] = float(overall["string_accuracy"])
        for family in FAMILIES:
            row[f"{family}_{prefix}strings_der"] = float(families.get(family, float("nan")))
        row[f"{prefix}string_takes"] = int(len(chosen))
        if style == "paused":
            long = chosen["pause_s"] >= LONG_PAUSE_S
            for name, part in (("short", chosen[~long]), ("long", chosen[long])):
                row[f"paused_{name}_der"] = (
                    float(summarize(part).iloc[0]["digit_error_rate"]) if len(part) else np.nan
                )
    return row


def _correct(predictions):
    return predictions["predicted"] == predictions["digit"]


def _accuracy(frame):
    return float(_correct(frame).mean()) if len(frame) else float("nan")


def model_summary(model, predictions, loso_summary=None, strings=None):
    """One row: LOSO mean and worst fold (when the model has LOSO), the validation voices'
    accuracy clean and in takes, per family, and the worst digit's; with ``strings``
    (read_strings rows), their strings_summary."""
    row = {"model": model}
    if loso_summary is not None:
        row |= {
            "loso_mean": loso_summary["mean_accuracy"],
            "loso_worst": loso_summary["min_accuracy"],
        }
    for condition in CONDITIONS:
        chosen = predictions[predictions["condition"] == condition]
        row[f"voices_{condition}"] = _accuracy(chosen)
        for family in FAMILIES:
            row[f"{family}_{condition}"] = _accuracy(chosen[chosen["family"] == family])
        row[f"worst_digit_{condition}"] = float(
            _correct(chosen).groupby(chosen["digit"]).mean().min()
        )
    row["clips"] = int(len(predictions))
    if strings is not None:
        row |= strings_summary(strings)
    return row


def digit_table(model, predictions):
    """Accuracy per condition and digit (rows), one model."""
    table = (
        _correct(predictions)
        .groupby([predictions["condition"], predictions["digit"]])
        .mean()
        .rename("accuracy")
        .reset_index()
    )
    table.insert(0, "model", model)
    return table

"""Scores of digit strings: exact string accuracy and digit error rate, by pause bucket."""

import pandas as pd

# Pause buckets (seconds, [low, high)): an overlap (negative pause) counts as the first.
PAUSE_BUCKETS = (("0-0.1s", 0.0, 0.1), ("0.1-0.2s", 0.1, 0.2), ("0.2-0.6s", 0.2, float("inf")))


def edit_distance(reference, hypothesis):
    """Levenshtein distance (substitutions, insertions, deletions) between two strings."""
    previous = list(range(len(hypothesis) + 1))
    for i, ref_char in enumerate(reference, 1):
        current = [i]
        for j, hyp_char in enumerate(hypothesis, 1):
            current.append(
                min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ref_char != hyp_char))
            )
        previous = current
    return previous[-1]


def pause_bucket(pause_s):
    """The bucket name of a take's nominal pause."""
    for name, _low, high in PAUSE_BUCKETS:
        if pause_s < high:
            return name
    raise AssertionError("the last bucket is unbounded")


def score_strings(references, hypotheses, pauses_s):
    """One row per take: reference, hypothesis, pause, bucket, edits, length, exact."""
    rows = pd.DataFrame({"reference": references, "hypothesis": hypotheses, "pause_s": pauses_s})
    rows["bucket"] = [pause_bucket(p) for p in rows["pause_s"]]
    pairs = zip(rows.reference, rows.hypothesis, strict=True)
    rows["edits"] = [edit_distance(reference, hypothesis) for reference, hypothesis in pairs]
    rows["length"] = rows["reference"].str.len()
    rows["exact"] = rows["reference"] == rows["hypothesis"]
    return rows


def summarize(scored, by=()):
    """String accuracy and digit error rate (total edits over total reference digits) of
    scored takes, overall (``by`` empty) or per group; with ``takes`` and ``digits``."""

    def one(group):
        return pd.Series(
            {
                "takes": len(group),
                "digits": int(group["length"].sum()),
                "string_accuracy": float(group["exact"].mean()),
                "digit_error_rate": float(group["edits"].sum() / max(1, group["length"].sum())),
            }
        )

    if not by:
        return one(scored).to_frame().T
    return scored.groupby(list(by), sort=True).apply(one, include_groups=False).reset_index()


def by_bucket(scored):
    """summarize() overall and per pause bucket, the overall row named "all"."""
    overall = summarize(scored).assign(bucket="all")
    return pd.concat([summarize(scored, ["bucket"]), overall], ignore_index=True)[
        ["bucket", "takes", "digits", "string_accuracy", "digit_error_rate"]
    ]

"""What each lever was worth: a table comparing configured pairs of models (or a model with
and without endpoint detection) on speaker independence, the official split and the
realistic takes."""

import numpy as np
import pandas as pd

from fsdd_pipeline.audio.realistic_takes import REALISTIC_TRANSFORMS
from fsdd_pipeline.planning.robustness_groups import NO_ENDPOINTING

METRICS = {
    "loso_mean": "LOSO mean",
    "loso_min": "LOSO worst fold",
    "official": "official split",
    "realistic": "realistic takes",
}


def model_scores(loso_summary, test_metrics, robustness):
    """One model's scores: LOSO mean and worst fold (None without LOSO), official-split
    accuracy, mean accuracy over the realistic takes, and the same without endpointing
    where the robustness evaluation measured it (None otherwise)."""
    by_transform = robustness.set_index("transform")["accuracy"]
    realistic = list(REALISTIC_TRANSFORMS)
    ablated = [f"{name}{NO_ENDPOINTING}" for name in realistic]
    return {
        "loso_mean": None if loso_summary is None else loso_summary["mean_accuracy"],
        "loso_min": None if loso_summary is None else loso_summary["min_accuracy"],
        "official": test_metrics["accuracy"],
        "realistic": float(by_transform.reindex(realistic).mean()),
        "realistic_no_endpointing": (
            float(by_transform[ablated].mean()) if set(ablated) <= set(by_transform.index) else None
        ),
    }


def _points(before, after):
    if before is None or after is None:
        return np.nan
    return round(100 * (after - before), 2)


def lever_table(levers, scores):
    """One row per lever: the baseline's and the variant's scores and the change in points.

    A lever is {lever, baseline, variant} (two models), or {lever, baseline, ablation:
    endpointing} (one model on the realistic takes without and with endpoint detection).
    """
    rows = []
    for lever in levers:
        base = scores[lever["baseline"]]
        if lever.get("ablation") == "endpointing":
            without = {"realistic": base["realistic_no_endpointing"]}
            comparison = (f"{lever['baseline']} without it", lever["baseline"], without, base)
        else:
            variant = lever["variant"]
            comparison = (lever["baseline"], variant, base, scores[variant])
        baseline_name, variant_name, before, after = comparison
        row = {"lever": lever["lever"], "baseline": baseline_name, "variant": variant_name}
        for key, label in METRICS.items():
            row[f"{label}: baseline"] = before.get(key)
            row[f"{label}: variant"] = after.get(key) if before.get(key) is not None else None
            row[f"{label}: points"] = _points(before.get(key), after.get(key))
        rows.append(row)
    return pd.DataFrame(rows)


TABLE_NOTE = (
    "Each row: two models that differ in one thing (or one model with and without endpoint "
    "detection); each cell: baseline → variant (change in points). LOSO: leave-one-speaker-out "
    "mean and worst fold; realistic takes: mean accuracy over the realistic transforms."
)


def lever_cells(table):
    """The lever table for reading: one column per metric, 'baseline → variant (+points)'."""
    lines = []
    for row in table.to_dict("records"):
        cells = {
            "lever": row["lever"],
            "baseline → variant": f"{row['baseline']} → {row['variant']}",
        }
        for label in METRICS.values():
            before, after, points = (
                row[f"{label}: {part}"] for part in ("baseline", "variant", "points")
            )
            cells[label] = (
                "n/a"
                if before is None or pd.isna(points)
                else f"{before:.4f} → {after:.4f} ({points:+.2f})"
            )
        lines.append(cells)
    return pd.DataFrame(lines)


def lever_markdown(table):
    """The lever table as Markdown (see ``lever_cells``)."""
    return lever_cells(table).to_markdown(index=False)

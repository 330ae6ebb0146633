"""The model comparison table and figure."""

import numpy as np
import pandas as pd

from fsdd_pipeline.evaluation.plots import pyplot
from fsdd_pipeline.labels import HISTORY_COLUMNS

COLUMNS = [
    "model",
    "type",
    "epochs",
    "train_accuracy",
    "val_accuracy",
    "train_loss",
    "val_loss",
    "test_accuracy",
    "test_f1_macro",
    "test_roc_auc_macro",
    "params",
    "training_time_s",
    "loso_accuracy",
    "loso_min_accuracy",
    "strings_loso_der",
    "strings_loso_exact",
    "pins_loso_exact",
    "selection",
]

TABLE_NOTE = (
    "Official test split (takes 0-4) and leave-one-speaker-out (LOSO) mean ± sd and worst "
    "fold; the champion (first row, in bold) has the best LOSO mean, the official split breaks "
    "ties; selection says why each model is or is not the champion. Digit strings (models in "
    "strings.models): LOSO digit error rate and exact strings of 3-10 digits, exact 4-digit "
    "PINs with pauses of 0.2 s or more."
)


def _optional_float(value):
    return None if value is None else float(value)


def strings_scores(table):
    """(LOSO digit error rate, LOSO exact strings, LOSO exact PINs) of a model's digit-string
    table (results/strings/{model}/by_bucket.csv; a PIN figure None without PIN takes)."""

    def overall(evaluation, column):
        rows = table[(table["evaluation"] == evaluation) & (table["bucket"] == "all")]
        return float(rows[column].iloc[0]) if len(rows) else None

    return (
        overall("loso", "digit_error_rate"),
        overall("loso", "string_accuracy"),
        overall("loso_pin", "string_accuracy"),
    )


def comparison_row(
    model_name, model_type, history, test_metrics, training_info, loso=None, strings=None
):
    """One table row; training figures are taken at the epoch with the lowest val_loss;
    ``strings``: the model's digit-string table, if it was scored on strings."""
    missing = [c for c in HISTORY_COLUMNS if c not in history.columns]
    if missing:
        raise ValueError(f"history of {model_name} lacks columns {missing}")
    if history["val_loss"].notna().sum() == 0:
        raise ValueError(f"history of {model_name} has no val_loss values")
    # Early stopping restores the weights of the lowest val_loss; ties keep the first epoch,
    # as Keras only counts strict improvements.
    best = history.loc[history["val_loss"].idxmin()]
    return {
        "model": model_name,
        "type": model_type,
        "epochs": len(history),
        "train_accuracy": float(best["accuracy"]),
        "val_accuracy": float(best["val_accuracy"]),
        "train_loss": float(best["loss"]),
        "val_loss": float(best["val_loss"]),
        "test_accuracy": float(test_metrics["accuracy"]),
        "test_f1_macro": float(test_metrics["f1_macro"]),
        "test_roc_auc_macro": _optional_float(test_metrics.get("roc_auc_macro")),
        "params": int(training_info["params"]),
        "training_time_s": float(training_info["training_time_s"]),
        "loso_accuracy": "" if loso is None else f"{loso['mean']:.4f} ± {loso['std']:.4f}",
        "loso_mean_accuracy": None if loso is None else float(loso["mean"]),
        "loso_min_accuracy": None if loso is None else float(loso["min"]),
        **dict(
            zip(
                ("strings_loso_der", "strings_loso_exact", "pins_loso_exact"),
                (None, None, None) if strings is None else strings_scores(strings),
                strict=True,
            )
        ),
        "selection": "",
    }


def _ranked(frame):
    """Best first: speaker independence decides (highest LOSO mean accuracy; models without
    LOSO after those with it), then the official split (test accuracy, then macro F1),
    then the model name."""
    ranked = frame.assign(_loso=frame["loso_mean_accuracy"].astype(float).fillna(-1.0))
    return (
        ranked.sort_values(
            ["_loso", "test_accuracy", "test_f1_macro", "model"],
            ascending=[False, False, False, True],
            kind="mergesort",
        )
        .drop(columns="_loso")
        .reset_index(drop=True)
    )


def comparison_table(rows):
    """Rows from comparison_row() as a DataFrame, the champion first, each row saying why
    it is or is not the champion (``selection``)."""
    frame = _ranked(pd.DataFrame(list(rows), columns=[*COLUMNS, "loso_mean_accuracy"]))
    frame["selection"] = _selection_reasons(frame)
    return frame[COLUMNS + ["loso_mean_accuracy"]]


def _selection_reasons(ranked):
    best = ranked.iloc[0]
    by_loso = pd.notna(best["loso_mean_accuracy"])
    reasons = []
    for position, row in ranked.iterrows():
        if position == 0:
            reasons.append(
                f"champion: best LOSO mean ({row['loso_mean_accuracy']:.4f}, worst fold "
                f"{row['loso_min_accuracy']:.4f}), test {row['test_accuracy']:.4f}"
                if by_loso
                else f"champion: no model has LOSO; best test accuracy {row['test_accuracy']:.4f}"
            )
        elif by_loso and pd.isna(row["loso_mean_accuracy"]):
            reasons.append("no LOSO evaluation: not a candidate")
        elif by_loso and row["loso_mean_accuracy"] < best["loso_mean_accuracy"]:
            reasons.append(f"LOSO mean {row['loso_mean_accuracy']:.4f} below the champion's")
        else:
            reasons.append("tie on LOSO mean, lower on the official split")
    return reasons


def markdown_table(frame):
    """GitHub Markdown rendering of the comparison table."""
    # NaN (e.g. an undefined ROC AUC) would otherwise print as "nan".
    cells = frame.astype(object).where(frame.notna(), None)
    return cells.to_markdown(index=False, floatfmt=".4f", missingval="n/a")


def plot_comparison(frame):
    """Grouped bars of test accuracy and test macro F1 per model, the champion (the row whose
    ``selection`` says so) shaded and named on its tick label."""
    plt = pyplot()
    metrics = {"test accuracy": "test_accuracy", "test macro F1": "test_f1_macro"}
    models = frame["model"].astype(str).tolist()
    positions = np.arange(len(models))
    width = 0.38

    figure, axis = plt.subplots(figsize=(max(6, 1.4 * len(models) + 2), 5))
    for offset, (label, column) in zip((-width / 2, width / 2), metrics.items(), strict=True):
        values = frame[column].astype(float).to_numpy()
        bars = axis.bar(positions + offset, values, width, label=label)
        axis.bar_label(bars, labels=[f"{v:.4f}" for v in values], fontsize=8, padding=2)

    values = frame[list(metrics.values())].astype(float).to_numpy()
    # Start the axis just below the worst score so small differences between models show.
    lower = float(np.nanmin(values)) - 0.05 if values.size else 0.0
    lower = min(max(np.floor(lower * 20 + 1e-9) / 20, 0.0), 1.0)
    axis.set_ylim(lower, 1.02)
    champions = frame["selection"].astype(str).str.startswith("champion").to_numpy()
    for position in positions[champions]:
        axis.axvspan(position - 0.5, position + 0.5, color="gold", alpha=0.25, zorder=0)
    labels = [f"{m}\n(champion)" if c else m for m, c in zip(models, champions, strict=True)]
    crowded = len(models) > 4
    axis.set_xticks(
        positions, labels, rotation=20 if crowded else 0, ha="right" if crowded else "center"
    )
    for tick, champion in zip(axis.get_xticklabels(), champions, strict=True):
        if champion:
            tick.set_fontweight("bold")
    axis.set(
        xlabel="model",
        ylabel="score on the test split",
        title="Model comparison (shaded: the champion, chosen by leave-one-speaker-out)",
    )
    axis.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return figure


def best_model(frame):
    """(name, reason) of the champion: the first row of the ranking (see _ranked)."""
    if frame.empty:
        raise ValueError("the comparison table is empty")
    ranked = _ranked(frame)
    return str(ranked.loc[0, "model"]), _selection_reasons(ranked)[0].removeprefix("champion: ")

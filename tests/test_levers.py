import pandas as pd
import pytest

from fsdd_pipeline.audio.realistic_takes import REALISTIC_TRANSFORMS
from fsdd_pipeline.evaluation.levers import lever_markdown, lever_table, model_scores


def robustness(clean, realistic, without=None):
    rows = [("clean", clean)] + [(name, realistic) for name in REALISTIC_TRANSFORMS]
    if without is not None:
        rows += [(f"{name}_no_endpointing", without) for name in REALISTIC_TRANSFORMS]
    return pd.DataFrame(rows, columns=["transform", "accuracy"])


def test_model_scores_take_loso_official_and_realistic_figures():
    loso = {"mean_accuracy": 0.97, "min_accuracy": 0.93}
    scores = model_scores(loso, {"accuracy": 0.99}, robustness(0.99, 0.98, 0.6))
    assert scores == {
        "loso_mean": 0.97,
        "loso_min": 0.93,
        "official": 0.99,
        "realistic": pytest.approx(0.98),
        "realistic_no_endpointing": pytest.approx(0.6),
    }
    assert model_scores(None, {"accuracy": 0.9}, robustness(0.9, 0.8))["loso_mean"] is None


def test_lever_rows_compare_pairs_and_the_endpointing_ablation():
    scores = {
        "mfcc": model_scores(
            {"mean_accuracy": 0.70, "min_accuracy": 0.5}, {"accuracy": 0.95}, robustness(0.95, 0.6)
        ),
        "emb": model_scores(
            {"mean_accuracy": 0.97, "min_accuracy": 0.93},
            {"accuracy": 0.99},
            robustness(0.99, 0.98, 0.5),
        ),
    }
    levers = [
        {"lever": "embedding", "baseline": "mfcc", "variant": "emb"},
        {"lever": "endpointing", "baseline": "emb", "ablation": "endpointing"},
    ]
    table = lever_table(levers, scores).set_index("lever")
    assert table.loc["embedding", "LOSO mean: points"] == 27.0
    assert table.loc["embedding", "realistic takes: points"] == 38.0
    assert table.loc["endpointing", "realistic takes: points"] == 48.0
    assert pd.isna(table.loc["endpointing", "LOSO mean: points"])
    text = lever_markdown(table.reset_index())
    assert "0.7000 → 0.9700 (+27.00)" in text and "n/a" in text

"""The champion's LOSO log-probabilities plus another model's, weighted: would a second
model, on other features or with another head, correct the champion on held-out speakers?

Reads the LOSO predictions of a run's folder (results/loso/{model}/predictions.csv: every
clip predicted by the fold that held its speaker out). A model without LOSO in the run gets
it with, for example:

    snakemake results/loso/crnn/predictions.csv --cores 2 \
        --config "loso={models: [emb_frame_logreg_speeds, crnn]}"
    python -m benchmarks.loso_ensembles --results results crnn emb_gru

The weight is chosen for each held-out speaker on the other five (nested), never on the
speaker's own clips.
"""

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

CHAMPION = "emb_frame_logreg_speeds"
PROBABILITIES = [f"prob_{digit}" for digit in range(10)]
WEIGHTS = (0.0, 0.1, 0.2, 0.3, 0.5, 0.7, 1.0)


def log_probabilities(results, model):
    frame = pd.read_csv(results / "loso" / model / "predictions.csv").set_index("file_name")
    return frame.sort_index()


def per_speaker(scores, digits, speakers):
    predicted = scores.argmax(axis=1)
    return {
        s: float(np.mean(predicted[speakers == s] == digits[speakers == s]))
        for s in sorted(set(speakers))
    }


def ensemble_rows(results, others):
    champion = log_probabilities(results, CHAMPION)
    digits, speakers = champion["true_digit"].to_numpy(), champion["speaker"].to_numpy()
    base = np.log(np.clip(champion[PROBABILITIES].to_numpy(), 1e-12, 1))
    rows = [{"model": f"{CHAMPION} (champion)"} | per_speaker(base, digits, speakers)]
    for model in others:
        other = log_probabilities(results, model).loc[champion.index]
        scores = np.log(np.clip(other[PROBABILITIES].to_numpy(), 1e-12, 1))
        rows.append({"model": f"{model} alone"} | per_speaker(scores, digits, speakers))
        by_weight = {w: per_speaker(base + w * scores, digits, speakers) for w in WEIGHTS}
        nested = {}
        for speaker in sorted(set(speakers)):
            chosen = max(
                WEIGHTS,
                key=lambda w: np.mean([a for s, a in by_weight[w].items() if s != speaker]),
            )
            nested[speaker] = by_weight[chosen][speaker]
        rows.append({"model": f"champion + {model} (weight chosen on the other speakers)"} | nested)
    table = pd.DataFrame(rows).set_index("model")
    table["mean"] = table.mean(axis=1)
    table["worst"] = table.drop(columns="mean").min(axis=1)
    return table


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=Path, default=Path("results"))
    parser.add_argument("models", nargs="+", help="models with LOSO predictions in the run")
    args = parser.parse_args(argv)
    print((ensemble_rows(args.results, args.models) * 100).round(2).to_markdown())


if __name__ == "__main__":
    main()

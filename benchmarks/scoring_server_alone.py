"""A raw-audio model that does no audio work: every row gets the same one-word answer.

Served by `mlflow models serve` (as MLflow's "model from code"), it measures what the scoring
server, its HTTP stack and the answer's serialization cost per request by themselves
(benchmarks/prediction.py).
"""

import mlflow
import numpy as np

from fsdd_pipeline.labels import N_CLASSES
from fsdd_pipeline.serving.pyfunc import transcripts_frame

PROBABILITIES = np.full(N_CLASSES, 1 / N_CLASSES).tolist()
WORD = {
    "start_s": 0.1,
    "end_s": 0.5,
    "digit": 0,
    "probability": PROBABILITIES[0],
    "probabilities": PROBABILITIES,
    "level_dbfs": -20.0,
}


class ScoringServerAlone(mlflow.pyfunc.PythonModel):
    """One constant transcript per row, built as the champion's answers are built."""

    def predict(self, context, model_input, params=None):
        return transcripts_frame([{"digits": "0", "words": [WORD]}] * len(model_input))


mlflow.models.set_model(ScoringServerAlone())

"""The names of the per-recording features, and which of them a model reads.

Imports nothing heavy: the Snakefile calls it while it plans the DAG.
"""

FEATURE_NAMES = ("mfcc", "chroma", "spectrogram", "embedding")
# The embedding of the clip played at each of ``features.embedding.speeds``, stacked along
# rows (speeds x 96 rows, the clip's own frames): read by models with speed views only.
SPEED_VIEWS = "embedding_speed_views"


def model_feature_names(model_config):
    """The feature matrices a configured model reads: its ``features``, and the speed
    views of the embedding when it has ``speed_views``."""
    views = (SPEED_VIEWS,) if model_config.get("speed_views") else ()
    return (*model_config["features"], *views)

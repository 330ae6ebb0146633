"""Which augmented feature sets the workflow computes: one per distinct ``augment`` block of
the configured models, named by a digest of its settings, holding the features of every
model that uses it. Computed once per recording (``augment_features`` rule) and shared by
the models' training and LOSO jobs, instead of each job augmenting in memory again.

Imports nothing heavy: the Snakefile calls it while it plans the DAG.
"""

import hashlib
import json

from fsdd_pipeline.planning.feature_names import model_feature_names

DIGEST_LENGTH = 10


def augmentation_id(settings):
    """Stable short name of an ``augment`` block (its settings in canonical JSON)."""
    canonical = json.dumps(settings, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:DIGEST_LENGTH]


def augmentation_plan(models):
    """{augmentation id: {"settings", "features", "models"}} of the models' augment blocks.

    ``features``: the sorted union of the features of the models sharing that block, so
    a block's augmented copies are extracted once with everything its models read.
    """
    plan = {}
    for name, config in models.items():
        settings = config.get("augment")
        if not settings:
            continue
        entry = plan.setdefault(
            augmentation_id(settings), {"settings": settings, "features": set(), "models": []}
        )
        entry["features"].update(model_feature_names(config))
        entry["models"].append(name)
    return {key: entry | {"features": sorted(entry["features"])} for key, entry in plan.items()}


def model_augmentation(models, name):
    """The augmentation id of model ``name``, or None when it trains without augmentation."""
    settings = models[name].get("augment")
    return augmentation_id(settings) if settings else None

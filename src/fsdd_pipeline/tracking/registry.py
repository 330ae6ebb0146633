"""The model registry: the champion's raw-audio model registered once per run, under the
alias every user of the registry loads."""

from fsdd_pipeline.tracking.store import CHAMPION_ALIAS, use_store


def register_champion(tracking, model_name, run_id, model_uri, reason):
    """Register the run's raw-audio model (once per run) and point 'champion' at it;
    ``reason`` (why it won) becomes the version's description."""
    mlflow = use_store(tracking)
    registered_name = tracking["registered_model"]
    client = mlflow.MlflowClient()
    run = client.get_run(run_id)
    digest = run.data.tags.get("dataset_digest", "unknown")
    existing = [
        v for v in client.search_model_versions(f"name='{registered_name}'") if v.run_id == run_id
    ]
    if existing:
        version = existing[0]
    else:
        version = mlflow.register_model(
            model_uri,
            registered_name,
            tags={"model": model_name, "run_id": run_id, "dataset_digest": digest},
        )
    client.set_registered_model_alias(registered_name, CHAMPION_ALIAS, version.version)
    client.update_model_version(
        registered_name,
        version.version,
        description=f"{model_name}: {reason}; run {run_id}, dataset {digest}",
    )
    return {
        "registered_model": registered_name,
        "alias": CHAMPION_ALIAS,
        "version": int(version.version),
        "model": model_name,
        "run_id": run_id,
        "dataset_digest": digest,
        "reason": reason,
    }

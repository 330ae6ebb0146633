"""A trained model into MLflow: the classifier in its own flavor (keras or sklearn), with
signature and example, beside the raw-audio model that serving and the registry use."""

import os
from pathlib import Path

from fsdd_pipeline.tracking.store import _mlflow


def log_trained_model(result, model_dir, example_x, files):
    """Log a trained model into the active run: its final figures, the model in its own
    flavor, the raw-audio model, and the training ``files``; returns the raw-audio model's
    URI (what the registry registers)."""
    from fsdd_pipeline.serving.pyfunc import log_audio_model

    mlflow = _mlflow()
    if result.learning_curve is not None:  # scikit-learn: one "epoch", logged once
        mlflow.log_metrics(result.history.iloc[-1].drop("epoch").to_dict(), step=1)
    mlflow.log_metrics({"training_time_s": result.training_time_s, "params": result.params})
    _log_flavor_model(mlflow, result.classifier, example_x, model_dir)
    audio_model = log_audio_model(model_dir)
    for path in files:
        mlflow.log_artifact(str(path), artifact_path="training")
    return audio_model.model_uri


def log_training_file(path):
    """Add one more file (written after the model was logged) to the active run."""
    _mlflow().log_artifact(str(path), artifact_path="training")


def read_run_id(path):
    return Path(path).read_text().strip()


def _create_keras_model_dir_first(keras_flavor):
    """mlflow 3.17's keras flavor writes the input example before it creates the model
    folder, so log_model with an input example fails; create the folder first."""
    save_model = keras_flavor.save_model
    if getattr(save_model, "creates_dir_first", False):
        return

    def save_model_into_new_dir(model, path, *args, **kwargs):
        os.makedirs(path, exist_ok=True)
        return save_model(model, path, *args, **kwargs)

    save_model_into_new_dir.creates_dir_first = True
    keras_flavor.save_model = save_model_into_new_dir


def _log_flavor_model(mlflow, classifier, example_x, model_dir):
    """Log the classifier in its own flavor (keras or sklearn) with signature and example.

    The requirements are given, not inferred: inferring them loads the model again in a
    subprocess, which costs more than the training of a small model.
    """
    from mlflow.models import infer_signature

    from fsdd_pipeline.serving.pyfunc import pip_requirements

    signature = infer_signature(example_x, classifier.predict_proba(example_x))
    options = {
        "name": "model",
        "signature": signature,
        "input_example": example_x,
        "pip_requirements": pip_requirements(model_dir),
    }
    if classifier.is_keras:
        import mlflow.keras

        _create_keras_model_dir_first(mlflow.keras)
        mlflow.keras.log_model(classifier.estimator, **options)
    else:
        import mlflow.sklearn

        from fsdd_pipeline.serving.pyfunc import package_source

        own_types = _package_types(classifier.estimator)
        if not own_types:
            mlflow.sklearn.log_model(classifier.estimator, **options)
            return
        # The package's own estimators (frame_logreg, speed views): skops loads only the
        # types it is told to trust, and the flavor needs the package's source where it is
        # loaded.
        with package_source() as code:
            mlflow.sklearn.log_model(
                classifier.estimator,
                skops_trusted_types=own_types,
                code_paths=[str(code)],
                **options,
            )


def _package_types(estimator):
    """Full names of the fsdd_pipeline classes in a scikit-learn estimator and the
    estimators nested in its parameters, sorted."""
    estimators = [estimator, *estimator.get_params(deep=True).values()]
    names = {f"{type(e).__module__}.{type(e).__qualname__}" for e in estimators}
    return sorted(name for name in names if name.startswith("fsdd_pipeline."))

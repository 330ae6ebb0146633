"""A trained digit classifier: the model plus the input spec it needs, used the same way
for evaluation, cross-validation, robustness checks, the predict command and serving."""

from pathlib import Path

import numpy as np

from fsdd_pipeline.audio.reading import load_clip, prepare_clip
from fsdd_pipeline.features.embedding import get_embedder, offer_sequence_model, save_sequence_model
from fsdd_pipeline.features.librosa_runtime import load_librosa
from fsdd_pipeline.features.spectral import extract_features, silence_frame
from fsdd_pipeline.io import atomic_path
from fsdd_pipeline.labels import N_CLASSES
from fsdd_pipeline.models.inputs import InputSpec, inputs_from_frame, inputs_from_matrices
from fsdd_pipeline.models.keras_onnx import (
    ONNX_DIGEST_FILE,
    ONNX_FILE,
    OnnxKerasModel,
    current_export,
    export_onnx,
)
from fsdd_pipeline.models.linear import ARRAYS_FILE, ArrayModel, describe, load_arrays, save_arrays

KERAS_FILE = "model.keras"
SKLEARN_FILE = "model.joblib"
# Keras predicts in batches of this many examples (the batch size evaluation always used).
KERAS_BATCH = 256


class ModelNotFoundError(FileNotFoundError):
    """No trained model where one was expected."""


def sklearn_proba(estimator, x):
    """(n, 10) probabilities of a scikit-learn classifier, even if it saw fewer digits."""
    proba = np.zeros((len(x), N_CLASSES), dtype=np.float64)
    proba[:, estimator.classes_] = estimator.predict_proba(x)
    return proba


class DigitClassifier:
    """``estimator`` is a Keras model (softmax output), a scikit-learn classifier, or a
    package linear model read from its arrays (models.linear)."""

    def __init__(self, estimator, spec, model_dir=None):
        self.estimator = estimator
        self.spec = spec
        # The folder it was loaded from, if any.
        self.model_dir = model_dir

    @property
    def is_keras(self):
        """Keras or scikit-learn-like: decided here only, by what the estimator can do."""
        return not hasattr(self.estimator, "predict_proba")

    @staticmethod
    def model_file(model_dir):
        """The saved model in ``model_dir`` (model.keras or model.joblib)."""
        for name in (KERAS_FILE, SKLEARN_FILE):
            if (Path(model_dir) / name).is_file():
                return Path(model_dir) / name
        raise ModelNotFoundError(
            f"no trained model in {model_dir}: expected {KERAS_FILE} or {SKLEARN_FILE} "
            "(train it with snakemake first)"
        )

    @classmethod
    def load(cls, model_dir, inference_only=True):
        """The classifier saved in ``model_dir``, with only what predicting needs: a linear
        model's arrays without scikit-learn, a Keras model's ONNX export without TensorFlow
        (``inference_only=False``: the fitted scikit-learn or Keras model, for code that fits
        it further), the embedding's rewritten model if stored."""
        path = cls.model_file(model_dir)
        offer_sequence_model(model_dir)
        arrays = Path(model_dir) / ARRAYS_FILE
        if inference_only and arrays.is_file():
            estimator = load_arrays(arrays)
        elif (
            inference_only
            and path.suffix == ".keras"
            and (export := current_export(model_dir, path)) is not None
        ):
            estimator = OnnxKerasModel(export)
        elif path.suffix == ".keras":
            import keras

            from fsdd_pipeline.augment.spec_augment import SpecAugment

            estimator = keras.models.load_model(
                path, custom_objects={"fsdd_pipeline>SpecAugment": SpecAugment}
            )
        else:
            import joblib

            estimator = joblib.load(path)
        return cls(estimator, InputSpec.load(model_dir), Path(model_dir))

    def save(self, model_dir):
        if isinstance(self.estimator, (OnnxKerasModel, ArrayModel)):
            raise TypeError(
                "a model loaded for inference only cannot be saved; load it with "
                "inference_only=False"
            )
        model_dir = Path(model_dir)
        model_dir.mkdir(parents=True, exist_ok=True)
        self.spec.save(model_dir)
        with atomic_path(model_dir / (KERAS_FILE if self.is_keras else SKLEARN_FILE)) as path:
            if self.is_keras:
                self.estimator.save(path)
            else:
                import joblib

                joblib.dump(self.estimator, path)
        # Stale exports of another model must not stay beside this one.
        for name in (ARRAYS_FILE, ONNX_FILE, ONNX_DIGEST_FILE):
            (model_dir / name).unlink(missing_ok=True)
        if self.is_keras:
            export_onnx(self.estimator, self.spec.shape, model_dir / KERAS_FILE, model_dir)
        # A linear model is also saved as its arrays, which load() prefers.
        if not self.is_keras and describe(self.estimator) is not None:
            with atomic_path(model_dir / ARRAYS_FILE) as path:
                save_arrays(self.estimator, path)
        if "embedding" in self.spec.features:
            save_sequence_model(model_dir)

    def predict_proba(self, x):
        """Class probabilities (n, 10) for model inputs ``x`` (n, *spec.shape)."""
        if len(x) == 0:
            return np.zeros((0, N_CLASSES), dtype=np.float32)
        if self.is_keras:
            # predict() builds a dataset and an iterator on every call, 100+ ms for one clip;
            # predict_on_batch runs the same compiled step on the same batches directly.
            batches = [
                self.estimator.predict_on_batch(x[start : start + KERAS_BATCH])
                for start in range(0, len(x), KERAS_BATCH)
            ]
            return np.concatenate(batches).astype(np.float64)
        return sklearn_proba(self.estimator, x)

    def prepare_for_prediction(self):
        """Load now what the first prediction would load on its way (a server then answers
        its first request as fast as the others): librosa for spectral features, the speech
        embedding's sessions, the silence frames that pad sequences, and Keras' compiled
        predict step for one example."""
        params = self.spec.feature_params
        if set(self.spec.features) - {"embedding"}:
            load_librosa("features")
        if "embedding" in self.spec.features:
            get_embedder(params.embedding)
        if self.spec.pooling == "sequence":
            for feature in self.spec.matrix_features:
                silence_frame(feature, params)
        if self.is_keras:
            self.predict_proba(np.zeros((1, *self.spec.shape), dtype=np.float32))

    def predict_proba_frame(self, frame):
        """Probabilities for rows of the combined dataset."""
        x, _ = inputs_from_frame(frame, self.spec)
        return self.predict_proba(x)

    def clip_features(self, samples, rate, source="<samples>"):
        """The model's feature matrices of raw audio, prepared exactly like the training
        recordings."""
        return self.clip_features_and_words(samples, rate, source)[0]

    def clip_features_and_words(self, samples, rate, source="<samples>"):
        """(the model's feature matrices, words found in the take): a take with several
        words is cropped to its loudest, the one the features describe."""
        features, crop = self.clip_features_and_crop(samples, rate, source)
        return features, (crop.words if crop and crop.words else 1)

    def clip_features_and_crop(self, samples, rate, source="<samples>"):
        """(the model's feature matrices, the CropInfo of the endpointing or None): where in
        the take the word the features describe is."""
        params = self.spec.feature_params
        prepared, crop = prepare_clip(
            samples, rate, params.sample_rate, params.endpoint, params.min_duration_s, source
        )
        return self._features(prepared), crop

    def _features(self, prepared):
        # Only what the model consumes: the others cost time (and librosa or the embedding's
        # sessions) for nothing.
        return extract_features(prepared, self.spec.feature_params, self.spec.matrix_features)

    def predict_proba_matrices(self, matrices):
        """Probabilities for a list of {feature: matrix} dicts."""
        return self.predict_proba(inputs_from_matrices(matrices, self.spec))

    def predict_proba_samples(self, clips):
        """Probabilities for raw audio, one word each: ``clips`` is a list of (samples, rate)."""
        return self.predict_proba_matrices([self.clip_features(s, rate) for s, rate in clips])

    def predict_file(self, path):
        """(probabilities (10,), words found) of one audio file, loaded exactly like the
        training data, as one word: with several words, the loudest is predicted."""
        params = self.spec.feature_params
        samples, crop = load_clip(path, params.sample_rate, params.endpoint, params.min_duration_s)
        words = crop.words if crop and crop.words else 1
        return self.predict_proba_matrices([self._features(samples)])[0], words

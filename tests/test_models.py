"""Model builders and training on tiny synthetic data (no workflow)."""

import contextlib
import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import yaml

from fsdd_pipeline.data.dataset import assign_splits, read_feature_batches
from fsdd_pipeline.data.extraction import extract_batch
from fsdd_pipeline.data.metadata import read_speakers
from fsdd_pipeline.features.spectral import FeatureParams
from fsdd_pipeline.models import training
from fsdd_pipeline.models.builders import build_keras_model
from fsdd_pipeline.models.classifier import DigitClassifier, sklearn_proba
from fsdd_pipeline.models.inputs import InputSpec, inputs_from_frame
from fsdd_pipeline.models.keras_onnx import ONNX_DIGEST_FILE, OnnxKerasModel
from fsdd_pipeline.planning.model_types import KERAS_TYPES

from .conftest import PROJECT, write_tone

CONFIG = yaml.safe_load((PROJECT / "config/config.yaml").read_text())
MODELS = CONFIG["models"]
KERAS_MODELS = [name for name, model in MODELS.items() if model["type"] in KERAS_TYPES]
FRAMES = CONFIG["training"]["frames"]
PARAMS = FeatureParams()


def spec_of(config):
    return InputSpec.from_model_config(config, FRAMES, PARAMS)


def quick(name, epochs=2):
    return MODELS[name] | {"epochs": epochs, "patience": epochs}


@pytest.fixture(scope="module")
def tiny_dataset(tmp_path_factory):
    """80 tones (2 speakers x 10 digits x takes 0, 5, 6, 7): 40 train, 20 val, 20 test rows."""
    root = tmp_path_factory.mktemp("tones")
    (root / "wavs").mkdir()
    wavs = [
        write_tone(
            root / "wavs" / f"{digit}_{speaker}_{take}.wav",
            frequency=180 + 70 * digit + 4 * take + 9 * s,
            seconds=0.25 + 0.03 * digit,
            amplitude=0.2 + 0.05 * take,
        )
        for s, speaker in enumerate(("george", "theo"))
        for digit in range(10)
        for take in (0, 5, 6, 7)
    ]
    speakers = read_speakers(PROJECT / "config/speakers.csv")
    assert extract_batch(wavs, root / "features", PARAMS, speakers) == []
    frame = assign_splits(read_feature_batches([root / "features"]), val_fraction=0.1, seed=1)
    assert frame.groupby("split").size().to_dict() == {"test": 20, "train": 40, "val": 20}
    return {s: frame[frame.split == s].reset_index(drop=True) for s in ("train", "val", "test")}


@pytest.fixture
def keras_training(monkeypatch):
    """Let training.configure_tensorflow run in a process where TensorFlow already started
    (other test modules, earlier tests); see test_configure_tensorflow_after_tf_started."""
    import tensorflow as tf

    for name in ("set_intra_op_parallelism_threads", "set_inter_op_parallelism_threads"):
        original = getattr(tf.config.threading, name)

        def tolerant(threads, original=original):
            with contextlib.suppress(RuntimeError):
                original(threads)

        monkeypatch.setattr(tf.config.threading, name, tolerant)


@pytest.mark.parametrize("name", KERAS_MODELS)
def test_keras_builders_give_probabilities_of_ten_digits(name):
    config, spec = MODELS[name], spec_of(MODELS[name])
    x = np.random.default_rng(0).normal(-20, 15, size=(5, *spec.shape)).astype(np.float32)
    model = build_keras_model(config, spec, x)
    assert model.input_shape == (None, *spec.shape)
    proba = model.predict(x, verbose=0)
    assert proba.shape == (5, 10)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-5)


@pytest.mark.parametrize("name", KERAS_MODELS)
def test_keras_classifier_gives_keras_predict_numbers(name):
    """DigitClassifier runs Keras batch by batch (predict_on_batch, no dataset per call):
    the same numbers as model.predict in batches of 256, for one clip and for several batches."""
    config, spec = MODELS[name], spec_of(MODELS[name])
    x = np.random.default_rng(1).normal(-20, 15, size=(300, *spec.shape)).astype(np.float32)
    model = build_keras_model(config, spec, x)
    classifier = DigitClassifier(model, spec)
    for rows in (x[:1], x):
        expected = model.predict(rows, batch_size=256, verbose=0).astype(np.float64)
        np.testing.assert_array_equal(classifier.predict_proba(rows), expected)


def test_seed_mlp_has_the_notebook_architecture():
    config = MODELS["mlp"]
    spec = spec_of(config)
    assert spec.shape == (40,)
    model = build_keras_model(config, spec, np.ones((4, 40), np.float32))
    assert sum(int(np.prod(w.shape)) for w in model.trainable_weights) == 72_458
    dense = [layer.units for layer in model.layers if type(layer).__name__ == "Dense"]
    assert dense == [128, 256, 128, 10]
    assert model.get_layer("normalization").trainable_weights == []


def test_normalization_is_fitted_on_the_training_split_only(tiny_dataset, keras_training):
    train, val = tiny_dataset["train"], tiny_dataset["val"].copy()
    val["mfcc"] = [np.asarray(m) + 1000.0 for m in val["mfcc"]]  # far from every train row
    config = quick("mlp", epochs=1)
    spec = spec_of(config)
    result = training.train_model(config, spec, train, val, threads=1)

    layer = result.classifier.estimator.get_layer("normalization")
    mean, variance = (np.ravel(np.asarray(v)) for v in (layer.mean, layer.variance))
    train_x, _ = inputs_from_frame(train, spec)
    pooled_x = np.concatenate([train_x, inputs_from_frame(val, spec)[0]])
    np.testing.assert_allclose(mean, train_x.mean(axis=0), rtol=1e-4, atol=1e-3)
    np.testing.assert_allclose(variance, train_x.var(axis=0), rtol=1e-3, atol=1e-2)
    assert np.abs(mean - pooled_x.mean(axis=0)).min() > 100


@pytest.mark.parametrize("name", ["mlp", "cnn_small"])
def test_training_twice_gives_identical_results(tiny_dataset, keras_training, name):
    config, spec = quick(name), spec_of(MODELS[name])
    test_x, _ = inputs_from_frame(tiny_dataset["test"], spec)
    runs = [
        training.train_model(config, spec, tiny_dataset["train"], tiny_dataset["val"], threads=1)
        for _ in range(2)
    ]
    assert list(runs[0].history.columns) == training.HISTORY_COLUMNS
    assert len(runs[0].history) == 2
    pd.testing.assert_frame_equal(runs[0].history, runs[1].history)
    first, second = (run.classifier.predict_proba(test_x) for run in runs)
    np.testing.assert_array_equal(first, second)


def test_svm_gives_ten_probabilities_without_a_digit_in_training(tiny_dataset):
    train, val = tiny_dataset["train"], tiny_dataset["val"]
    config, spec = MODELS["svm"], spec_of(MODELS["svm"])
    result = training.train_model(config, spec, train[train.digit != 3], val)
    x, y = inputs_from_frame(val, spec)
    estimator = result.classifier.estimator
    assert 3 not in estimator.classes_ and len(estimator.classes_) == 9

    proba = sklearn_proba(estimator, x)
    assert proba.shape == (len(val), 10)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-9)
    assert (proba[:, 3] == 0).all()
    np.testing.assert_array_equal(result.classifier.predict_proba(x), proba)
    assert np.isfinite(result.history.to_numpy(dtype=float)).all()
    assert (y == 3).any()  # the missing digit is still scored (log loss over 10 labels)


def test_configure_tensorflow_after_tf_started(caplog):
    """Once TensorFlow ran, its thread pools are fixed: configuring warns instead of failing,
    and still makes training repeatable (seeded, deterministic ops)."""
    import keras

    keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)]).predict(
        np.zeros((1, 3)), verbose=0
    )
    with caplog.at_level("WARNING"):
        training.configure_tensorflow(3, seed=0)
    assert "already initialized" in caplog.text
    first = keras.random.uniform((4,), seed=None)
    training.configure_tensorflow(3, seed=0)
    np.testing.assert_array_equal(keras.random.uniform((4,), seed=None), first)


def test_precomputed_augmented_copies_are_the_ones_training_would_make(tiny_dataset):
    """The augment_features rule's table (any batch order) gives the same training inputs
    as augmenting in memory; a recording without copies is an error, not fewer examples."""
    from fsdd_pipeline.augment.augmented_features import augmented_feature_frame, augmented_rows_for

    config = MODELS["emb_logreg_aug"] | {"augment": MODELS["cnn"]["augment"] | {"copies": 2}}
    spec = spec_of(config)
    train = tiny_dataset["train"]
    in_memory_x, in_memory_y = training.training_inputs(config, spec, train)
    assert len(in_memory_x) == 3 * len(train)
    # Computed per batch, in another order, with more features than this model reads.
    halves = [train.iloc[len(train) // 2 :], train.iloc[: len(train) // 2]]
    features = ["embedding", "mfcc"]
    table = pd.concat(
        [augmented_feature_frame(h, config["augment"], PARAMS, features) for h in halves]
    )
    x, y = training.training_inputs(config, spec, train, augmented=table)
    np.testing.assert_array_equal(x, in_memory_x)
    np.testing.assert_array_equal(y, in_memory_y)
    rows = augmented_rows_for(train, table)
    assert list(rows["file_name"]) == [name for name in train["file_name"] for _ in range(2)]
    with pytest.raises(ValueError, match=train["file_name"].iloc[0]):
        augmented_rows_for(train, table[table["file_name"] != train["file_name"].iloc[0]])


def test_models_sharing_augment_settings_share_one_augmentation():
    from fsdd_pipeline.planning.augmentation_plan import augmentation_plan, model_augmentation

    plan = augmentation_plan(MODELS)
    shared = model_augmentation(MODELS, "cnn")
    assert shared == model_augmentation(MODELS, "emb_logreg_aug")
    assert model_augmentation(MODELS, "emb_logreg") is None
    assert set(plan[shared]["models"]) == {"cnn", "cnn_small", "crnn", "emb_logreg_aug"}
    assert plan[shared]["features"] == ["embedding", "mfcc", "spectrogram"]
    rooms = model_augmentation(MODELS, "emb_frame_logreg_rooms")
    assert set(plan) == {shared, rooms}
    assert plan[rooms]["models"] == ["emb_frame_logreg_rooms"]
    other = MODELS | {"x": MODELS["cnn"] | {"augment": MODELS["cnn"]["augment"] | {"copies": 2}}}
    assert len(augmentation_plan(other)) == 3


# A saved Keras model folder loaded for prediction in a fresh interpreter: its
# probabilities of the given inputs, and whether TensorFlow or Keras was imported.
LOAD_PREDICT_AND_LIST_IMPORTS = """
import json, sys
import numpy as np
from fsdd_pipeline.models.classifier import DigitClassifier
classifier = DigitClassifier.load(sys.argv[1])
proba = classifier.predict_proba(np.load(sys.argv[2]))
print(json.dumps([proba.tolist(), [m for m in ("tensorflow", "keras") if m in sys.modules]]))
"""


@pytest.mark.parametrize("name", KERAS_MODELS)
def test_a_saved_keras_model_predicts_through_its_onnx_export_without_tensorflow(name, tmp_path):
    """Saving a Keras model writes its ONNX export; predicting reads it with onnxruntime
    alone and gives Keras' probabilities to float32 rounding."""
    config, spec = MODELS[name], spec_of(MODELS[name])
    x = np.random.default_rng(2).normal(-20, 15, size=(300, *spec.shape)).astype(np.float32)
    keras_classifier = DigitClassifier(build_keras_model(config, spec, x), spec)
    keras_classifier.save(tmp_path / "model")
    np.save(tmp_path / "x.npy", x)
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            LOAD_PREDICT_AND_LIST_IMPORTS,
            tmp_path / "model",
            tmp_path / "x.npy",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    proba, imported = json.loads(result.stdout.strip().splitlines()[-1])
    assert imported == []
    np.testing.assert_allclose(proba, keras_classifier.predict_proba(x), rtol=0, atol=1e-5)


def test_a_stale_onnx_export_is_not_used_and_an_inference_model_is_not_saved(tmp_path):
    name = KERAS_MODELS[0]
    config, spec = MODELS[name], spec_of(MODELS[name])
    x = np.random.default_rng(3).normal(-20, 15, size=(8, *spec.shape)).astype(np.float32)
    DigitClassifier(build_keras_model(config, spec, x), spec).save(tmp_path / "model")
    loaded = DigitClassifier.load(tmp_path / "model")
    assert isinstance(loaded.estimator, OnnxKerasModel) and not loaded.is_keras
    with pytest.raises(TypeError, match="inference only"):
        loaded.save(tmp_path / "copy")
    assert not (tmp_path / "copy").exists()  # refused before anything is written
    assert DigitClassifier.load(tmp_path / "model", inference_only=False).is_keras
    # model.keras replaced after the export (its digest no longer matches): Keras loads it.
    (tmp_path / "model" / ONNX_DIGEST_FILE).write_text('{"keras_sha256": "another model"}')
    assert DigitClassifier.load(tmp_path / "model").is_keras


def test_training_voices_are_added_to_training_only_when_the_model_asks(tiny_dataset):
    train, val = tiny_dataset["train"], tiny_dataset["val"]
    config, spec = MODELS["svm"], spec_of(MODELS["svm"])
    voices = val.assign(split="train")  # stand-in rows with the dataset's columns
    x, y = training.training_inputs(config, spec, train, training_voices=voices)
    assert len(x) == len(train)  # the model does not ask for them
    asking = config | {"training_voices": True}
    x, y = training.training_inputs(asking, spec, train, training_voices=voices)
    assert len(x) == len(train) + len(voices)
    np.testing.assert_array_equal(y[len(train) :], inputs_from_frame(voices, spec)[1])
    with pytest.raises(ValueError, match=r"training_voices: true.*none were given"):
        training.training_inputs(asking, spec, train)

"""fsdd-predict and the raw-audio MLflow model, with a small model trained on real FSDD takes."""

import base64
import contextlib
import io
import json
import os
import shutil
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import soundfile
import yaml

from fsdd_pipeline.audio.realistic_takes import noise_take, place_in_take
from fsdd_pipeline.audio.resampling import resample
from fsdd_pipeline.data.dataset import read_feature_batches
from fsdd_pipeline.data.extraction import extract_batch
from fsdd_pipeline.data.metadata import read_speakers
from fsdd_pipeline.features.librosa_runtime import load_librosa
from fsdd_pipeline.features.spectral import FeatureParams
from fsdd_pipeline.models.builders import build_sklearn_model
from fsdd_pipeline.models.classifier import DigitClassifier
from fsdd_pipeline.models.inputs import InputSpec, inputs_from_frame
from fsdd_pipeline.planning.audio_formats import SUPPORTED_TEXT
from fsdd_pipeline.planning.naming import parse_recording_name
from fsdd_pipeline.serving.cli import main

from .conftest import PROJECT, requires_fsdd
from .servers import BIN, served_model

pytestmark = requires_fsdd

TRAIN_TAKES = (5, 6, 7, 8, 9)
TEST_TAKES = (0, 1)
REGISTERED = "fsdd-digit-classifier"


@contextlib.contextmanager
def restored_environment():
    """Undo what main() and the registry do to the process: MLflow's global tracking URI
    (which MLflow also exports as $MLFLOW_TRACKING_URI) and the CLI's env defaults, so
    later tests and their subprocesses are unaffected."""
    saved = dict(os.environ)
    try:
        yield
    finally:
        if "mlflow" in sys.modules:
            sys.modules["mlflow"].set_tracking_uri(None)
        os.environ.clear()
        os.environ.update(saved)


def run_cli(capsys, *args):
    """main() in-process: (exit code, stdout, stderr)."""
    capsys.readouterr()
    with restored_environment():
        code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def run_console(*args, env=None):
    """The installed fsdd-predict command as a subprocess."""
    return subprocess.run(
        [str(BIN / "fsdd-predict"), *map(str, args)],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        check=False,
    )


def takes(folder, wanted):
    return sorted(p for p in folder.glob("*.wav") if parse_recording_name(p).index in wanted)


@pytest.fixture(scope="module")
def test_wavs(fsdd_subset):
    return takes(fsdd_subset, TEST_TAKES)


@pytest.fixture(scope="module")
def model_dir(fsdd_subset, tmp_path_factory):
    """A real model: the pipeline's own svm (scaled MFCC statistics into an RBF SVC, as the
    project's config sets it up), trained on takes 5-9."""
    tmp = tmp_path_factory.mktemp("model")
    params = FeatureParams()
    speakers = read_speakers(PROJECT / "config/speakers.csv")
    rejected = extract_batch(takes(fsdd_subset, TRAIN_TAKES), tmp / "batch", params, speakers)
    assert not rejected
    config = yaml.safe_load((PROJECT / "config/config.yaml").read_text())["models"]["svm"]
    spec = InputSpec.from_model_config(config, 48, params)
    x, y = inputs_from_frame(read_feature_batches([tmp / "batch"]), spec)
    estimator = build_sklearn_model(config).fit(x, y)
    DigitClassifier(estimator, spec).save(tmp / "model")
    return tmp / "model"


@pytest.fixture(scope="module")
def registry(model_dir, fsdd_subset, tmp_path_factory):
    """A SQLite MLflow store in tmp with the pyfunc model registered as champion."""
    import mlflow
    from mlflow import MlflowClient

    from fsdd_pipeline.serving.pyfunc import log_audio_model

    tmp = tmp_path_factory.mktemp("mlflow")
    uri = f"sqlite:///{tmp}/mlflow.db"
    with restored_environment():
        mlflow.set_tracking_uri(uri)
        # An explicit artifact location: the default would be relative to the current folder.
        experiment = mlflow.create_experiment("predict-test", (tmp / "artifacts").as_uri())
        with mlflow.start_run(experiment_id=experiment) as run:
            info = log_audio_model(model_dir, input_example_wav=fsdd_subset / "0_george_5.wav")
        version = mlflow.register_model(info.model_uri, REGISTERED)
        MlflowClient().set_registered_model_alias(REGISTERED, "champion", version.version)
    return SimpleNamespace(
        uri=uri, model_uri=info.model_uri, run_uri=f"runs:/{run.info.run_id}/audio_model"
    )


def predict_json(capsys, *args):
    code, out, err = run_cli(capsys, "--json", "--all-probabilities", *args)
    assert (code, err) == (0, ""), err
    return json.loads(out)


def probabilities(record):
    return np.array([record[f"prob_{d}"] for d in range(10)])


def test_predicts_real_test_takes_as_json_and_table(model_dir, test_wavs, capsys):
    records = predict_json(capsys, "--model-dir", model_dir, *test_wavs)
    assert [r["file"] for r in records] == [str(p) for p in test_wavs]
    for record in records:
        assert record["digit"] in range(10)
        assert probabilities(record).sum() == pytest.approx(1.0, abs=1e-6)
        assert record["probability"] == pytest.approx(probabilities(record).max())
        assert record["digit"] == int(probabilities(record).argmax())
    truth = [parse_recording_name(p).digit for p in test_wavs]
    accuracy = np.mean([r["digit"] == t for r, t in zip(records, truth, strict=True)])
    assert accuracy >= 0.75, f"a real model should recognise most test takes ({accuracy:.2f})"

    code, out, err = run_cli(capsys, "--model-dir", model_dir, *test_wavs[:3])
    assert (code, err) == (0, "")
    header, _, *rows = out.strip().splitlines()
    assert header.split() == ["file", "digits", "digit", "probability"]
    for row, record in zip(rows, records[:3], strict=True):
        file, digits, digit, probability = row.split()
        assert (file, digits, int(digit)) == (record["file"], record["digits"], record["digit"])
        assert float(probability) == pytest.approx(record["probability"], abs=1e-4)


def test_console_script_and_model_name(model_dir, test_wavs, tmp_path, capsys):
    project = tmp_path / "project"
    shutil.copytree(model_dir, project / "results/models/svc/model")
    expected = predict_json(capsys, "--model-dir", model_dir, *test_wavs[:2])
    result = run_console("--project-dir", project, "--model", "svc", "--json", *test_wavs[:2])
    assert (result.returncode, result.stderr) == (0, ""), result.stderr
    assert [r["digit"] for r in json.loads(result.stdout)] == [r["digit"] for r in expected]


def test_stereo_44k_copy_predicts_like_the_original(model_dir, test_wavs, tmp_path, capsys):
    records = predict_json(capsys, "--model-dir", model_dir, *test_wavs)
    # The most confident clips: a digit that is a near tie could flip on resampling noise.
    chosen = sorted(records, key=lambda r: -r["probability"])[:3]
    copies = []
    for record in chosen:
        samples, rate = soundfile.read(record["file"], dtype="float32")
        resampled = load_librosa().resample(samples, orig_sr=rate, target_sr=44100)
        path = tmp_path / f"{Path(record['file']).stem}_stereo.wav"
        soundfile.write(path, np.stack([resampled, 0.7 * resampled], axis=1), 44100)
        assert soundfile.info(path).channels == 2
        copies.append(path)
    converted = predict_json(capsys, "--model-dir", model_dir, *copies)
    assert [r["digit"] for r in converted] == [r["digit"] for r in chosen]


def test_folder_input_takes_its_audio_files_sorted(model_dir, test_wavs, tmp_path, capsys):
    folder = tmp_path / "clips"
    folder.mkdir()
    for wav in test_wavs[:3]:
        shutil.copy2(wav, folder / wav.name)
    samples, rate = soundfile.read(test_wavs[3])
    flac_path = folder / f"{test_wavs[3].stem}.flac"
    soundfile.write(flac_path, samples, rate)
    # A phone's voice note: Opus in OGG, at one of the rates Opus codes (16 kHz).
    opus_path = folder / f"{test_wavs[4].stem}.opus"
    samples, rate = soundfile.read(test_wavs[4], dtype="float32")
    soundfile.write(opus_path, resample(samples, rate, 16000), 16000, format="OGG", subtype="OPUS")
    (folder / "notes.txt").write_text("not a recording")
    (folder / "sub").mkdir()
    shutil.copy2(test_wavs[4], folder / "sub" / test_wavs[4].name)

    records = predict_json(capsys, "--model-dir", model_dir, folder)
    expected = sorted([*(folder / w.name for w in test_wavs[:3]), flac_path, opus_path])
    assert [r["file"] for r in records] == [str(p) for p in expected]
    original = predict_json(capsys, "--model-dir", model_dir, test_wavs[3])[0]
    flac = next(r for r in records if r["file"] == str(flac_path))
    assert flac["digit"] == original["digit"]
    assert flac["probability"] == pytest.approx(original["probability"], abs=1e-3)
    opus = next(r for r in records if r["file"] == str(opus_path))
    assert opus["digit"] == predict_json(capsys, "--model-dir", model_dir, test_wavs[4])[0]["digit"]

    (tmp_path / "empty").mkdir()
    code, out, err = run_cli(capsys, "--model-dir", model_dir, tmp_path / "empty", test_wavs[0])
    assert code == 1 and test_wavs[0].name in out
    assert err.strip() == (
        f"fsdd-predict: {tmp_path / 'empty'}: folder holds no audio files "
        "(WAV, FLAC, OGG (Vorbis or Opus), MP3 or AIFF)"
    )


@pytest.fixture
def bad_files(tmp_path):
    not_audio = tmp_path / "notes.wav"
    not_audio.write_text("this is a text file, not a recording\n")
    empty = tmp_path / "empty.wav"
    soundfile.write(empty, np.zeros(0, dtype=np.float32), 8000)
    return {
        tmp_path / "missing.wav": "file not found",
        not_audio: "cannot read audio",
        empty: "empty audio",
    }


def console_model_source(source, model_dir, request):
    """(fsdd-predict options, environment) of a model folder or the registered champion."""
    env = dict(os.environ)
    if source == "model-dir":
        return ["--model-dir", model_dir], env
    env["MLFLOW_TRACKING_URI"] = request.getfixturevalue("registry").uri
    return [], env


@pytest.mark.parametrize("source", ["model-dir", "champion"])
def test_bad_files_are_named_and_the_rest_predicted(
    source, model_dir, test_wavs, bad_files, request
):
    good = [test_wavs[0], test_wavs[-1]]
    args, env = console_model_source(source, model_dir, request)
    result = run_console(*args, good[0], *bad_files, good[1], env=env)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == len(bad_files), result.stderr
    for line, (path, reason) in zip(lines, bad_files.items(), strict=True):
        assert line.startswith(f"fsdd-predict: {path}: {reason}")
    rows = result.stdout.strip().splitlines()[2:]
    assert [row.split()[0] for row in rows] == [str(p) for p in good]


@pytest.mark.parametrize("source", ["model-dir", "champion"])
def test_truncated_empty_silent_and_m4a_files_are_named_with_file_reasons(
    source, model_dir, test_wavs, tmp_path, request
):
    folder = tmp_path / "clips"
    folder.mkdir()
    good = folder / test_wavs[0].name
    shutil.copy2(test_wavs[0], good)
    truncated = folder / "truncated.wav"
    truncated.write_bytes(test_wavs[1].read_bytes()[:100])
    (folder / "zero_bytes.wav").write_bytes(b"")
    dither = np.random.default_rng(0).standard_normal(8000) * 10 ** (-90 / 20)
    soundfile.write(folder / "silence.wav", dither, 8000, subtype="PCM_16")
    (folder / "take.m4a").write_bytes(test_wavs[2].read_bytes())
    expected = {
        folder / "take.m4a": "unsupported format .m4a: convert to WAV, FLAC, OGG",
        truncated: "truncated file: the WAV header promises",
        folder / "zero_bytes.wav": "cannot read audio: the file is empty (0 bytes)",
        folder / "silence.wav": "no speech: the loudest 32 ms is",
    }
    args, env = console_model_source(source, model_dir, request)
    result = run_console(*args, folder, env=env)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == len(expected), result.stderr
    assert "audio_base64" not in result.stderr and "row" not in result.stderr
    for path, reason in expected.items():
        assert any(line.startswith(f"fsdd-predict: {path}: {reason}") for line in lines), path
    assert [row.split()[0] for row in result.stdout.strip().splitlines()[2:]] == [str(good)]


def test_no_model_exits_2_saying_how_to_train(test_wavs, tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    project = tmp_path / "project"
    project.mkdir()
    code, out, err = run_cli(capsys, "--project-dir", project, test_wavs[0])
    assert (code, out) == (2, "")
    assert "has no config/config.yaml" in err and "--tracking-uri" in err
    shutil.copytree(PROJECT / "config", project / "config")
    code, out, err = run_cli(capsys, "--project-dir", project, test_wavs[0])
    assert (code, out) == (2, "")
    assert "no MLflow store at" in err and "snakemake" in err
    assert len(err.strip().splitlines()) == 1
    assert not (project / "results").exists(), "a missing store must not be created"

    code, _, err = run_cli(capsys, "--project-dir", project, "--model", "cnn", test_wavs[0])
    assert code == 2 and "no trained model" in err and "snakemake" in err
    code, _, err = run_cli(capsys, "--model-dir", project, test_wavs[0])
    assert code == 2 and "model.keras or model.joblib" in err


def test_champion_and_run_uri_predict_like_the_model_folder(registry, model_dir, test_wavs, capsys):
    local = predict_json(capsys, "--model-dir", model_dir, *test_wavs)
    champion = predict_json(capsys, "--tracking-uri", registry.uri, *test_wavs)
    by_run = predict_json(
        capsys, "--tracking-uri", registry.uri, "--model-uri", registry.run_uri, *test_wavs
    )
    assert [r["digit"] for r in champion] == [r["digit"] for r in local]
    assert [r["digit"] for r in by_run] == [r["digit"] for r in local]
    for a, b in zip(champion, local, strict=True):
        np.testing.assert_allclose(probabilities(a), probabilities(b), atol=1e-6)

    code, _, err = run_cli(capsys, "--tracking-uri", registry.uri, "--alias", "gone", test_wavs[0])
    assert code == 2 and "alias gone not found" in err


@contextlib.contextmanager
def read_only(folder):
    """``folder`` mounted read-only over itself (as root; skips where mounting is refused)."""
    folder = str(folder)
    mounted = subprocess.run(["mount", "--bind", folder, folder], capture_output=True, check=False)
    if mounted.returncode:
        pytest.skip(f"cannot bind-mount {folder} read-only here: {mounted.stderr!r}")
    try:
        subprocess.run(["mount", "-o", "remount,bind,ro", folder], check=True, timeout=30)
        yield
    finally:
        subprocess.run(["umount", folder], check=True, timeout=30)


# fsdd-predict in a fresh interpreter; the last line of its output says whether it imported
# MLflow.
PREDICT_AND_SAY_IF_MLFLOW = """
import json, sys
from fsdd_pipeline.serving.cli import main
code = main(sys.argv[1:])
print(json.dumps([code, "mlflow" in sys.modules]))
"""


def test_a_read_only_store_gives_its_champion_without_importing_mlflow(
    registry, model_dir, test_wavs, capsys
):
    """The registry's answer read from the SQLite store with sqlite3 alone, from a store and
    artifacts nobody may write to (MLflow itself writes into the model folder on load)."""
    expected = predict_json(capsys, "--model-dir", model_dir, *test_wavs[:3])
    store = Path(registry.uri.removeprefix("sqlite:///")).parent
    with read_only(store):
        result = subprocess.run(
            [sys.executable, "-c", PREDICT_AND_SAY_IF_MLFLOW, "--tracking-uri", registry.uri]
            + ["--json", "--all-probabilities", *map(str, test_wavs[:3])],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
    *records, status = result.stdout.strip().splitlines()
    assert json.loads(status) == [0, False], result.stderr
    got = json.loads("\n".join(records))
    assert [probabilities(r).tolist() for r in got] == [probabilities(r).tolist() for r in expected]


def test_a_read_only_copy_of_a_store_gives_the_champion_in_the_copy(registry, tmp_path):
    """A copied store that cannot be rewritten: its recorded paths point into the original,
    and the champion's folder is found in the copy, with nothing written."""
    from fsdd_pipeline.tracking.registry import local_registered_model

    store = Path(registry.uri.removeprefix("sqlite:///")).parent
    copy = tmp_path / "copy"
    shutil.copytree(store, copy)
    with read_only(copy):
        folder = local_registered_model(copy / "mlflow.db", REGISTERED, "champion")
        assert folder is not None and folder.is_relative_to(copy)
        assert (
            DigitClassifier.load(folder).spec
            == DigitClassifier.load(
                local_registered_model(store / "mlflow.db", REGISTERED, "champion")
            ).spec
        )


def test_pyfunc_takes_samples_and_names_bad_rows(registry, test_wavs):
    import mlflow

    from fsdd_pipeline.serving.pyfunc import AudioInputError

    with restored_environment():
        mlflow.set_tracking_uri(registry.uri)
        model = mlflow.pyfunc.load_model(f"models:/{REGISTERED}@champion")
    encoded = base64.b64encode(test_wavs[2].read_bytes()).decode("ascii")
    samples, rate = soundfile.read(test_wavs[2], dtype="float32")
    by_bytes = model.predict(pd.DataFrame({"audio_base64": [encoded]}))
    by_samples = model.predict(pd.DataFrame({"samples": [samples.tolist()], "sample_rate": [rate]}))
    assert list(by_bytes.columns) == [
        "digit",
        "probability",
        *(f"prob_{d}" for d in range(10)),
        "digits",
        "words",
    ]
    pd.testing.assert_frame_equal(by_bytes, by_samples, atol=1e-6)

    junk = base64.b64encode(b"not audio").decode("ascii")
    with pytest.raises(AudioInputError) as caught:
        model.predict(pd.DataFrame({"audio_base64": [encoded, junk, "%%%", encoded]}))
    assert set(caught.value.reasons) == {1, 2}
    assert "row 1: cannot read audio" in str(caught.value)
    assert "row 2: audio_base64 is not valid base64" in str(caught.value)


def post_json(url, payload):
    request = urllib.request.Request(
        url, json.dumps(payload).encode(), {"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


@pytest.fixture(scope="module")
def audio_model(model_dir):
    """The pyfunc model's own class over the trained folder, called as MLflow calls it."""
    from fsdd_pipeline.serving.pyfunc import AudioDigitModel

    model = AudioDigitModel()
    model.load_context(SimpleNamespace(artifacts={"model_dir": str(model_dir)}))
    return model


@pytest.fixture(scope="module")
def clips(test_wavs):
    """Two real test takes as base64 WAV bytes and as (samples, rate)."""
    encoded = [base64.b64encode(p.read_bytes()).decode("ascii") for p in test_wavs[:2]]
    samples = [soundfile.read(p, dtype="float32") for p in test_wavs[:2]]
    return SimpleNamespace(encoded=encoded, samples=samples)


def wav_bytes(samples, rate=8000):
    buffer = io.BytesIO()
    soundfile.write(buffer, samples, rate, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


def b64(data):
    return base64.b64encode(data).decode("ascii")


# What MLflow's scoring server hands predict() for each request format, for a model without
# an input schema (mlflow.pyfunc.scoring_server.infer_and_parse_data): a DataFrame for
# dataframe_split/_records, a dict of numpy arrays for `inputs` as columns and for
# `instances` (its rows merged into columns), a list of dicts of 0-d arrays for `inputs` as rows.
TWO_CLIP_SHAPES = {
    "dataframe": lambda c: pd.DataFrame({"audio_base64": c.encoded}),
    "dict_of_arrays": lambda c: {"audio_base64": np.array(c.encoded)},
    "dict_of_lists": lambda c: {"audio_base64": list(c.encoded)},
    "list_of_dicts_of_0d_arrays": lambda c: [{"audio_base64": np.array(e)} for e in c.encoded],
    "samples_dataframe": lambda c: pd.DataFrame(
        {"samples": [s.tolist() for s, _ in c.samples], "sample_rate": [r for _, r in c.samples]}
    ),
    "samples_list_of_dicts": lambda c: [
        {"samples": s.astype(np.float64), "sample_rate": np.array(r)} for s, r in c.samples
    ],
}


@pytest.mark.parametrize("shape", TWO_CLIP_SHAPES)
def test_pyfunc_predicts_every_row_of_each_input_shape(audio_model, clips, shape):
    expected = audio_model.predict(None, pd.DataFrame({"audio_base64": clips.encoded}))
    output = audio_model.predict(None, TWO_CLIP_SHAPES[shape](clips))
    assert len(output) == 2
    pd.testing.assert_frame_equal(output, expected, atol=1e-6)


ONE_CLIP_SHAPES = {
    # {"inputs": {"audio_base64": "<b64>"}}
    "dict_of_0d_array": lambda c: {"audio_base64": np.array(c.encoded[0])},
    # {"inputs"/"instances": ... {"samples": [[...]], "sample_rate": [8000]}}
    "samples_2d_array": lambda c: {
        "samples": c.samples[0][0][None, :].astype(np.float64),
        "sample_rate": np.array([c.samples[0][1]]),
    },
    # {"inputs": {"samples": [...], "sample_rate": 8000}}
    "samples_1d_array_and_0d_rate": lambda c: {
        "samples": c.samples[0][0].astype(np.float64),
        "sample_rate": np.array(c.samples[0][1]),
    },
}


@pytest.mark.parametrize("shape", ONE_CLIP_SHAPES)
def test_pyfunc_predicts_one_row_of_each_single_clip_shape(audio_model, clips, shape):
    expected = audio_model.predict(None, pd.DataFrame({"audio_base64": clips.encoded[:1]}))
    output = audio_model.predict(None, ONE_CLIP_SHAPES[shape](clips))
    pd.testing.assert_frame_equal(output, expected, atol=1e-6)


@pytest.mark.parametrize(
    "model_input",
    [
        pd.DataFrame({"audio": ["x"]}),
        {"audio": np.array(["x"])},
        [{"audio_base64": "x", "rate": 1}],
    ],
    ids=["dataframe", "dict", "list_of_dicts"],
)
def test_pyfunc_refuses_unknown_columns_naming_them_and_the_accepted_ones(audio_model, model_input):
    from fsdd_pipeline.serving.pyfunc import AudioRequestError

    with pytest.raises(
        AudioRequestError, match=r"unknown column\(s\) '(audio|rate)': accepted"
    ) as error:
        audio_model.predict(None, model_input)
    assert error.value.error_code == "INVALID_PARAMETER_VALUE"
    assert f"audio_base64 (base64 of a {SUPPORTED_TEXT} file), or samples" in (error.value.message)


@pytest.mark.parametrize(
    "model_input",
    [np.array(["UklGRg==", "UklGRg=="]), np.zeros((2, 3)), "UklGRg=="],
    ids=["array_of_strings", "array_of_numbers", "string"],
)
def test_pyfunc_refuses_unnamed_inputs(audio_model, model_input):
    from fsdd_pipeline.serving.pyfunc import AudioRequestError

    with pytest.raises(AudioRequestError, match="unnamed input .*: name the columns"):
        audio_model.predict(None, model_input)


def test_pyfunc_refuses_columns_of_different_lengths(audio_model):
    from fsdd_pipeline.serving.pyfunc import AudioRequestError

    model_input = {"samples": np.zeros((2, 800)), "sample_rate": np.array([8000, 8000, 8000])}
    with pytest.raises(
        AudioRequestError, match="different numbers of rows .*samples 2, sample_rate 3"
    ):
        audio_model.predict(None, model_input)


def test_pyfunc_refuses_a_row_with_both_forms_of_audio(audio_model, clips):
    from fsdd_pipeline.serving.pyfunc import AudioInputError

    # {"instances": [{"audio_base64": ...}, {"samples": ..., "sample_rate": ...}]} after MLflow
    # merged the two rows into one.
    samples, rate = clips.samples[0]
    model_input = {
        "audio_base64": np.array(clips.encoded[:1]),
        "samples": samples[None, :].astype(np.float64),
        "sample_rate": np.array([rate]),
    }
    with pytest.raises(AudioInputError, match="row 0: both audio_base64 and samples"):
        audio_model.predict(None, model_input)


@pytest.mark.parametrize("rate", [1e9, 10])
def test_pyfunc_bounds_the_sample_rate(audio_model, clips, rate):
    from fsdd_pipeline.serving.pyfunc import AudioInputError

    samples, _ = clips.samples[0]
    model_input = pd.DataFrame({"samples": [samples.tolist()], "sample_rate": [rate]})
    with pytest.raises(AudioInputError) as error:
        audio_model.predict(None, model_input)
    assert error.value.reasons == {
        0: f"sample rate {int(rate)} Hz is outside the supported 1000-384000 Hz"
    }


def test_pyfunc_names_truncated_silent_and_empty_rows(audio_model, clips, test_wavs):
    from fsdd_pipeline.serving.pyfunc import AudioInputError

    rng = np.random.default_rng(0)
    truncated = test_wavs[0].read_bytes()[:100]
    dither = wav_bytes(rng.standard_normal(8000) * 10 ** (-90 / 20))
    noise = wav_bytes(rng.standard_normal(8000) * 10 ** (-66 / 20))
    rows = [clips.encoded[0], b64(truncated), b64(dither), b64(noise), "", clips.encoded[1]]
    with pytest.raises(AudioInputError) as caught:
        audio_model.predict(None, pd.DataFrame({"audio_base64": rows}))
    reasons = caught.value.reasons
    assert sorted(reasons) == [1, 2, 3, 4]
    assert reasons[1].startswith("truncated file: the WAV header promises")
    assert reasons[2].startswith("no speech: the loudest 32 ms")
    assert reasons[3].startswith("no speech: the spectrum is as flat as noise")
    assert reasons[4] == "cannot read audio: the file is empty (0 bytes)"


@pytest.fixture(scope="module")
def served(registry, tmp_path_factory):
    """A real `mlflow models serve` of the registered champion; yields its invocations URL."""
    tmp = tmp_path_factory.mktemp("serve")
    with served_model(f"models:/{REGISTERED}@champion", registry.uri, tmp) as url:
        yield f"{url}/invocations"


def test_served_champion_matches_the_cli(served, model_dir, test_wavs, capsys):
    wav = test_wavs[5]
    expected = predict_json(capsys, "--model-dir", model_dir, wav)[0]["digit"]
    encoded = base64.b64encode(wav.read_bytes()).decode("ascii")
    payload = {"dataframe_split": {"columns": ["audio_base64"], "data": [[encoded]]}}
    status, body = post_json(served, payload)
    assert status == 200, body
    assert body["predictions"][0]["digit"] == expected

    junk = base64.b64encode(b"not audio").decode("ascii")
    payload = {"dataframe_split": {"columns": ["audio_base64"], "data": [[encoded], [junk]]}}
    status, body = post_json(served, payload)
    assert status == 400
    assert "row 1: cannot read audio" in body["message"]
    # The answer names the row and the reason, and does not echo the request back.
    assert encoded[:100] not in json.dumps(body) and len(json.dumps(body)) < 2000


def test_a_served_model_with_two_workers_answers_without_nagle(registry, clips, tmp_path):
    """With --workers 2, uvicorn binds the listener itself with protocol 0, and asyncio then
    left Nagle's algorithm on every connection (each answer 40 ms late): the raw-audio
    model turns TCP_NODELAY back on in each worker (serving.nodelay)."""
    import http.client
    from urllib.parse import urlparse

    from .servers import accepted_socket

    with served_model(f"models:/{REGISTERED}@champion", registry.uri, tmp_path, 2) as url:
        connection = http.client.HTTPConnection(urlparse(url).hostname, urlparse(url).port)
        payload = {"dataframe_split": {"columns": ["audio_base64"], "data": [[clips.encoded[0]]]}}
        connection.request(
            "POST", "/invocations", json.dumps(payload), {"Content-Type": "application/json"}
        )
        answer = connection.getresponse()
        assert answer.status == 200, answer.read()
        answer.read()
        try:
            server_end = accepted_socket(urlparse(url).port, connection.sock.getsockname()[1])
        except OSError as error:
            pytest.skip(f"cannot inspect the server's socket here: {error}")
        with server_end:
            assert server_end.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
        connection.close()


def test_served_model_refuses_a_request_over_its_size_with_413(served, clips):
    """A request of more audio than the model takes (64 MB) is refused before decoding, in
    a short answer."""
    too_much = "A" * (65 * 10**6 * 4 // 3)
    status, body = post_json(served, {"inputs": {"audio_base64": [clips.encoded[0], too_much]}})
    assert status == 413, body
    assert body["message"].startswith("request too large: 65.0 MB of audio in 2 rows")
    assert len(json.dumps(body)) < 2000


def samples_rows(clips):
    return [{"samples": s.tolist(), "sample_rate": int(r)} for s, r in clips.samples]


REQUESTS = {
    "dataframe_split": lambda c: {
        "dataframe_split": {"columns": ["audio_base64"], "data": [[e] for e in c.encoded]}
    },
    "dataframe_records": lambda c: {"dataframe_records": [{"audio_base64": e} for e in c.encoded]},
    "instances": lambda c: {"instances": [{"audio_base64": e} for e in c.encoded]},
    "inputs_columns": lambda c: {"inputs": {"audio_base64": c.encoded}},
    "inputs_rows": lambda c: {"inputs": [{"audio_base64": e} for e in c.encoded]},
    "samples_dataframe_records": lambda c: {"dataframe_records": samples_rows(c)},
    "samples_inputs_rows": lambda c: {"inputs": samples_rows(c)},
}


@pytest.mark.parametrize("request_format", REQUESTS)
def test_served_model_predicts_every_row_of_each_request_format(
    served, audio_model, clips, request_format
):
    expected = audio_model.predict(None, pd.DataFrame({"audio_base64": clips.encoded}))
    status, body = post_json(served, REQUESTS[request_format](clips))
    assert status == 200, body
    assert [row["digit"] for row in body["predictions"]] == expected["digit"].tolist()
    np.testing.assert_allclose(
        [row["probability"] for row in body["predictions"]], expected["probability"], atol=1e-6
    )


def test_served_model_takes_instances_of_samples_of_one_length(served, audio_model, clips):
    length = min(len(s) for s, _ in clips.samples)
    rows = [{"samples": s[:length].tolist(), "sample_rate": int(r)} for s, r in clips.samples]
    expected = audio_model.predict(None, pd.DataFrame(rows))
    status, body = post_json(served, {"instances": rows})
    assert status == 200, body
    assert [row["digit"] for row in body["predictions"]] == expected["digit"].tolist()


def test_served_instances_of_samples_of_different_lengths_are_refused_by_mlflow(served, clips):
    """MLflow stacks `instances` into arrays before the model sees them: ragged rows fail."""
    status, body = post_json(served, {"instances": samples_rows(clips)})
    assert status == 400, body
    assert "inhomogeneous shape" in body["message"]


@pytest.mark.parametrize(
    "payload",
    [
        {"dataframe_split": {"columns": ["audio"], "data": [["UklGRg=="]]}},
        {"instances": [{"audio": "UklGRg=="}]},
        {"inputs": {"audio": ["UklGRg=="]}},
    ],
    ids=["dataframe_split", "instances", "inputs"],
)
def test_served_model_refuses_an_unknown_column_naming_it(served, payload):
    status, body = post_json(served, payload)
    assert status == 400, body
    assert "unknown column(s) 'audio': accepted columns are audio_base64" in body["message"]


def test_served_model_refuses_unnamed_inputs(served, clips):
    status, body = post_json(served, {"inputs": clips.encoded})
    assert status == 400, body
    assert "unnamed input (ndarray): name the columns" in body["message"]


def test_served_model_bounds_the_sample_rate(served, clips):
    samples, _ = clips.samples[0]
    rows = [[samples.tolist(), 1e9]]
    payload = {"dataframe_split": {"columns": ["samples", "sample_rate"], "data": rows}}
    status, body = post_json(served, payload)
    assert status == 400, body
    assert (
        "row 0: sample rate 1000000000 Hz is outside the supported 1000-384000 Hz"
        in (body["message"])
    )


def test_served_model_names_a_truncated_row(served, clips, test_wavs):
    truncated = b64(test_wavs[0].read_bytes()[:100])
    status, body = post_json(served, {"inputs": {"audio_base64": [clips.encoded[0], truncated]}})
    assert status == 400, body
    assert "row 1: truncated file: the WAV header promises" in body["message"]


@pytest.fixture(scope="module")
def embedding_model_dir(fsdd_subset, tmp_path_factory):
    """The pipeline's emb_frame_logreg_speeds (its config entry, the champion): logistic
    regressions on the pooled pretrained speech embedding and on its frames, trained on
    takes 5-9 of the subset and their speed views, predicting over a clip's views too."""
    tmp = tmp_path_factory.mktemp("embedding-model")
    return train_champion_recipe(takes(fsdd_subset, TRAIN_TAKES), tmp)


def train_champion_recipe(recordings, folder):
    """The project config's emb_frame_logreg_speeds trained on ``recordings``, saved as the
    model folder ``folder``/model (features extracted into ``folder``/batch); returns it."""
    project_config = yaml.safe_load((PROJECT / "config/config.yaml").read_text())
    params = FeatureParams.from_config(project_config)
    speakers = read_speakers(PROJECT / "config/speakers.csv")
    assert not extract_batch(recordings, folder / "batch", params, speakers)
    config = project_config["models"]["emb_frame_logreg_speeds"]
    spec = InputSpec.from_model_config(config, 48, params)
    x, y = inputs_from_frame(read_feature_batches([folder / "batch"]), spec)
    DigitClassifier(build_sklearn_model(config).fit(x, y), spec).save(folder / "model")
    return folder / "model"


def test_a_clip_inside_a_noisy_take_predicts_like_the_clip(
    embedding_model_dir, test_wavs, tmp_path, capsys
):
    """Endpointing finds the word in a 3 s take with a noise floor, a DC offset and edge
    clicks; the same digit comes out as for the clean clip."""
    clean = predict_json(capsys, "--model-dir", embedding_model_dir, *test_wavs)
    rng = np.random.default_rng(7)
    takes_written = []
    for record in clean:
        samples, rate = soundfile.read(record["file"], dtype="float32")
        take = place_in_take(
            samples,
            rate,
            rng,
            duration_s=3.0,
            snr_db=30,
            noise_color="pink",
            dc_offset=0.02,
            edge_clicks=True,
        )
        path = tmp_path / Path(record["file"]).name
        soundfile.write(path, take.samples, rate, subtype="PCM_16")
        takes_written.append(path)
    in_takes = predict_json(capsys, "--model-dir", embedding_model_dir, *takes_written)
    same = np.mean([a["digit"] == b["digit"] for a, b in zip(clean, in_takes, strict=True)])
    assert same >= 0.95, f"only {same:.0%} of the takes predicted like their clean clip"


# fsdd-predict in a fresh interpreter, then the heavy packages it imported (each costs
# seconds of start-up): the last line of its output.
PREDICT_AND_LIST_IMPORTS = """
import json, sys
from fsdd_pipeline.serving.cli import main
code = main(sys.argv[1:])
heavy = ("tensorflow", "keras", "mlflow", "matplotlib", "librosa", "onnxruntime", "onnx", "sklearn")
print(json.dumps([code, [name for name in heavy if name in sys.modules]]))
"""


@pytest.mark.parametrize(
    "model, imported",
    [
        # MFCCs need librosa, not the embedding's onnxruntime; an SVM is scikit-learn's.
        ("model_dir", ["librosa", "sklearn"]),
        # An 8 kHz take is resampled for the embedding without librosa; the rewritten
        # embedding model is stored with the model (no onnx) and the logistic regressions
        # are read as arrays (no scikit-learn).
        ("embedding_model_dir", ["onnxruntime"]),
    ],
)
def test_a_model_folder_predicts_without_packages_it_does_not_need(
    model, imported, test_wavs, request
):
    folder = request.getfixturevalue(model)
    result = subprocess.run(
        [sys.executable, "-c", PREDICT_AND_LIST_IMPORTS, "--model-dir", folder, test_wavs[0]],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    code, modules = json.loads(result.stdout.strip().splitlines()[-1])
    assert code == 0, result.stderr
    assert modules == imported


# The pyfunc model loaded in a fresh interpreter: is librosa loaded, how many speech
# embedders are open.
LOAD_AND_LIST_RESOURCES = """
import json, sys
from types import SimpleNamespace
from fsdd_pipeline.features.embedding import _shared_embedder
from fsdd_pipeline.serving.pyfunc import AudioDigitModel
AudioDigitModel().load_context(SimpleNamespace(artifacts={"model_dir": sys.argv[1]}))
print(json.dumps(["librosa" in sys.modules, _shared_embedder.cache_info().currsize]))
"""


@pytest.mark.parametrize(
    "model, loaded", [("model_dir", [True, 0]), ("embedding_model_dir", [False, 1])]
)
def test_the_pyfunc_model_loads_what_its_features_need_with_the_model(model, loaded, request):
    """Loaded with the model, not in the first request: a server that answers /ping answers
    its first request as fast as the others."""
    result = subprocess.run(
        [sys.executable, "-c", LOAD_AND_LIST_RESOURCES, request.getfixturevalue(model)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1]) == loaded


def test_the_speed_views_champion_answers_raw_audio_like_the_cli(
    embedding_model_dir, clips, test_wavs, capsys
):
    """The pyfunc model of the champion's recipe computes a clip's speed views itself: its
    probabilities for base64 WAVs and for samples are the CLI's for the same files."""
    from fsdd_pipeline.serving.pyfunc import AudioDigitModel

    model = AudioDigitModel()
    model.load_context(SimpleNamespace(artifacts={"model_dir": str(embedding_model_dir)}))
    assert model.classifier.spec.speed_views
    cli = predict_json(capsys, "--model-dir", embedding_model_dir, *test_wavs[:2])
    expected = np.stack([probabilities(record) for record in cli])
    for request in (
        TWO_CLIP_SHAPES["dataframe"](clips),
        TWO_CLIP_SHAPES["samples_dataframe"](clips),
    ):
        answer = model.predict(None, request)
        got = answer[[f"prob_{d}" for d in range(10)]].to_numpy()
        np.testing.assert_allclose(got, expected, atol=1e-6)


def test_the_pyfunc_model_computes_only_the_features_its_model_uses(audio_model, clips):
    samples, rate = clips.samples[0]
    features = audio_model.classifier.clip_features(samples, rate)
    assert list(features) == list(audio_model.classifier.spec.features) == ["mfcc"]


def test_silent_and_two_word_takes_say_so(embedding_model_dir, test_wavs, tmp_path, capsys):
    rng = np.random.default_rng(3)
    silent = tmp_path / "room_tone.wav"
    soundfile.write(silent, noise_take(3.0, 8000, rng, level_dbfs=-45, noise_color="pink"), 8000)
    code, out, err = run_cli(capsys, "--model-dir", embedding_model_dir, silent)
    assert code == 1 and out == "" and f"{silent}: no speech" in err

    first, _ = soundfile.read(test_wavs[0], dtype="float32")
    second, _ = soundfile.read(test_wavs[-1], dtype="float32")
    pause = np.zeros(8000, dtype=np.float32)
    two_words = tmp_path / "two_words.wav"
    soundfile.write(two_words, np.concatenate([pause, first, pause, 0.3 * second, pause]), 8000)
    # A model folder without a digit-string segmenter reads a take as one word: its loudest.
    code, out, err = run_cli(capsys, "--model-dir", embedding_model_dir, "--json", two_words)
    assert code == 0
    expected = predict_json(capsys, "--model-dir", embedding_model_dir, test_wavs[0])
    (record,) = json.loads(out)
    assert record["digit"] == expected[0]["digit"]
    assert record["digits"] == str(expected[0]["digit"]) and len(record["words"]) == 1


def test_logged_requirements_follow_what_the_model_reads(tmp_path):
    """An embedding model's raw-audio model needs the embedding's packages; a spectral
    scikit-learn model needs neither them nor TensorFlow."""
    from fsdd_pipeline.features.spectral import FeatureParams
    from fsdd_pipeline.models.inputs import InputSpec
    from fsdd_pipeline.serving.pyfunc import pip_requirements

    names = {}
    for features in (("embedding",), ("mfcc",)):
        folder = tmp_path / features[0]
        InputSpec(features, "summary", 48, FeatureParams()).save(folder)
        names[features[0]] = {r.split("==")[0] for r in pip_requirements(folder)}
    assert {"onnxruntime", "openwakeword", "onnx"} <= names["embedding"]
    assert not {"onnxruntime", "openwakeword", "onnx", "tensorflow-cpu"} & names["mfcc"]
    assert {"mlflow", "scikit-learn", "soundfile"} <= names["mfcc"]


@pytest.fixture(scope="module")
def spark():
    """A local two-core Spark session, in this Python environment (needs Java)."""
    if shutil.which("java") is None:
        pytest.skip("no Java runtime for Spark: apt-get install openjdk-17-jre-headless")
    from pyspark.sql import SparkSession

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    session = (
        SparkSession.builder.master("local[2]")
        .appName("fsdd-test")
        .config("spark.ui.enabled", "false")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .getOrCreate()
    )
    try:
        yield session
    finally:
        session.stop()


def test_spark_scores_a_folder_with_the_registered_model_like_the_cli(
    spark, registry, model_dir, test_wavs, tmp_path, capsys
):
    from fsdd_pipeline.serving.spark import predict_recordings

    folder = tmp_path / "recordings"
    folder.mkdir()
    for wav in test_wavs:
        shutil.copy2(wav, folder / wav.name)
    expected = predict_json(capsys, "--model-dir", model_dir, folder)
    with restored_environment():
        os.environ["MLFLOW_TRACKING_URI"] = registry.uri
        rows = predict_recordings(spark, f"models:/{REGISTERED}@champion", folder).collect()
    assert [Path(row.path.removeprefix("file:")).name for row in rows] == [
        Path(record["file"]).name for record in expected
    ]
    assert [row.digit for row in rows] == [record["digit"] for record in expected]
    np.testing.assert_allclose(
        [row.probability for row in rows], [r["probability"] for r in expected], atol=1e-6
    )

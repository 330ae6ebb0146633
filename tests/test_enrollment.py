"""fsdd-enroll: a personal model from one take of every digit, with real FSDD takes and a
real champion-recipe model trained on another speaker."""

import json
import shutil
from types import SimpleNamespace

import numpy as np
import pytest

from fsdd_pipeline.planning.naming import parse_recording_name
from fsdd_pipeline.tracking.store import DEFAULT_REGISTERED_MODEL
from fsdd_pipeline.voices.enroll_cli import main as enroll_main
from fsdd_pipeline.voices.enrollment import ENROLLMENT_FILE

from .conftest import requires_fsdd
from .test_predict import restored_environment, run_cli, train_champion_recipe

pytestmark = requires_fsdd

BASE_SPEAKER, PERSON = "theo", "george"


def recordings(folder, speaker, takes=None):
    return sorted(
        p
        for p in folder.glob(f"*_{speaker}_*.wav")
        if takes is None or parse_recording_name(p).index in takes
    )


@pytest.fixture(scope="module")
def base_model_dir(fsdd_subset, tmp_path_factory):
    """The champion's recipe (emb_frame_logreg_speeds) trained on one speaker only: the
    person enrolled later is a voice it never heard."""
    tmp = tmp_path_factory.mktemp("base-model")
    return train_champion_recipe(recordings(fsdd_subset, BASE_SPEAKER), tmp)


def enroll(capsys, *args):
    capsys.readouterr()
    with restored_environment():
        code = enroll_main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def accuracy(capsys, model_dir, files):
    code, out, err = run_cli(capsys, "--json", "--model-dir", model_dir, *files)
    assert (code, err) == (0, ""), err
    records = json.loads(out)
    return np.mean([r["digit"] == parse_recording_name(r["file"]).digit for r in records]), records


@pytest.fixture(scope="module")
def segmented_base_model_dir(fsdd_subset, base_model_dir, tmp_path_factory):
    """The base model with a word segmenter in its folder, as the workflow's models have
    (trained as the workflow trains it, on takes of the subset's training split)."""
    from fsdd_pipeline.strings.decode import StringsModel
    from fsdd_pipeline.strings.evaluation import read_clips, recordings_rows, training_takes
    from fsdd_pipeline.strings.segmentation import SEGMENTER_FILE, WordSegmenter
    from fsdd_pipeline.strings.takes import StringTakeSettings

    folder = tmp_path_factory.mktemp("segmented-base") / "model"
    shutil.copytree(base_model_dir, folder)
    rows = recordings_rows(fsdd_subset)
    clips = read_clips(fsdd_subset, rows[rows.split == "train"], 8000)
    takes, embeddings = training_takes(clips, 20, 8000, 0, StringTakeSettings())
    segmenter = WordSegmenter().fit(embeddings, [take.words for take in takes])
    StringsModel(segmenter).save(folder / SEGMENTER_FILE)
    return folder


def test_a_personal_model_reads_digit_strings_as_its_base_does(
    fsdd_subset, segmented_base_model_dir, tmp_path, capsys
):
    from fsdd_pipeline.strings.segmentation import SEGMENTER_FILE
    from fsdd_pipeline.strings.takes import StringTakeSettings, synthesize_take

    output = tmp_path / "george"
    takes = recordings(fsdd_subset, PERSON, takes=(0,))
    code, _, err = enroll(
        capsys, *takes, "--model-dir", segmented_base_model_dir, "--output", output
    )
    assert code == 0, err
    assert (output / SEGMENTER_FILE).is_file()
    import soundfile

    clips = [
        (soundfile.read(path, dtype="float32")[0], parse_recording_name(path).digit)
        for path in recordings(fsdd_subset, PERSON, takes=(1,))[:4]
    ]
    settings = StringTakeSettings(pause_s=(0.4, 0.4), overlap_probability=0.0, snr_db=(35, 40))
    take = synthesize_take(clips, 8000, np.random.default_rng(0), settings)
    soundfile.write(tmp_path / "pin.wav", take.samples, 8000)
    extents = {}
    for model_dir in (segmented_base_model_dir, output):
        code, out, err = run_cli(capsys, "--json", "--model-dir", model_dir, tmp_path / "pin.wav")
        assert (code, err) == (0, ""), err
        extents[model_dir] = [(w["start_s"], w["end_s"]) for w in json.loads(out)[0]["words"]]
    # Without the segmenter the take would be one word from its start to its end.
    assert extents[output] == extents[segmented_base_model_dir]
    assert len(extents[output]) >= 4


@pytest.fixture(scope="module")
def personal(fsdd_subset, base_model_dir, tmp_path_factory):
    """george enrolled with his take 0 of every digit."""
    output = tmp_path_factory.mktemp("personal") / "george"
    takes = recordings(fsdd_subset, PERSON, takes=(0,))
    with restored_environment():
        code = enroll_main(
            [*map(str, takes), "--model-dir", str(base_model_dir), "--output", str(output)]
        )
    assert code == 0
    return SimpleNamespace(dir=output, takes=takes)


def test_enrolled_model_predicts_the_persons_other_takes(
    fsdd_subset, base_model_dir, personal, capsys
):
    others = [p for p in recordings(fsdd_subset, PERSON) if p not in personal.takes]
    assert len(others) == 60
    before, _ = accuracy(capsys, base_model_dir, others)
    after, _ = accuracy(capsys, personal.dir, others)
    assert after >= 0.9, f"enrolled: {after:.1%} of george's other takes (base {before:.1%})"
    assert after >= before + 0.1, f"enrollment gained too little: {before:.1%} -> {after:.1%}"
    record = json.loads((personal.dir / ENROLLMENT_FILE).read_text())
    assert sorted(t["digit"] for t in record["takes"]) == list(range(10))
    # The speaker it was trained on is still recognized.
    theirs, _ = accuracy(capsys, personal.dir, recordings(fsdd_subset, BASE_SPEAKER))
    assert theirs >= 0.9


def test_personal_model_serves_as_a_pyfunc_like_the_cli(fsdd_subset, personal, capsys):
    from fsdd_pipeline.serving.pyfunc import AudioDigitModel

    model = AudioDigitModel()
    model.load_context(SimpleNamespace(artifacts={"model_dir": str(personal.dir)}))
    files = recordings(fsdd_subset, PERSON, takes=(1,))
    _, records = accuracy(capsys, personal.dir, files)
    import base64

    import pandas as pd

    request = pd.DataFrame(
        {"audio_base64": [base64.b64encode(p.read_bytes()).decode() for p in files]}
    )
    answer = model.predict(None, request)
    assert answer["digit"].tolist() == [r["digit"] for r in records]


def test_enrolls_from_the_registered_champion_and_registers_the_result(
    fsdd_subset, base_model_dir, tmp_path, capsys
):
    """Without a model option the registered champion is enrolled from (as fsdd-predict
    uses it); --register puts the personal model into the same store."""
    import mlflow
    from mlflow import MlflowClient

    from fsdd_pipeline.serving.pyfunc import log_audio_model

    uri = f"sqlite:///{tmp_path}/mlflow.db"
    with restored_environment():
        mlflow.set_tracking_uri(uri)
        experiment = mlflow.create_experiment("enroll-test", (tmp_path / "artifacts").as_uri())
        with mlflow.start_run(experiment_id=experiment):
            info = log_audio_model(base_model_dir)
        version = mlflow.register_model(info.model_uri, DEFAULT_REGISTERED_MODEL)
        MlflowClient().set_registered_model_alias(
            DEFAULT_REGISTERED_MODEL, "champion", version.version
        )
    takes = recordings(fsdd_subset, PERSON, takes=(1,))
    code, out, err = enroll(
        capsys,
        *takes,
        "--tracking-uri",
        uri,
        "--registered-name",
        DEFAULT_REGISTERED_MODEL,
        "--output",
        tmp_path / "me",
        "--register",
        "george-digits",
    )
    assert code == 0, err
    assert "registered as george-digits version 1" in out
    record = json.loads((tmp_path / "me" / ENROLLMENT_FILE).read_text())
    assert record["base_model"] == f"models:/{DEFAULT_REGISTERED_MODEL}@champion"
    others = recordings(fsdd_subset, PERSON, takes=(5, 6))
    expected, records = accuracy(capsys, tmp_path / "me", others)
    code, out, err = run_cli(
        capsys, "--json", "--tracking-uri", uri, "--model-uri", "models:/george-digits/1", *others
    )
    assert code == 0, err
    assert [r["digit"] for r in json.loads(out)] == [r["digit"] for r in records]


def test_a_missing_digit_is_refused_naming_it(fsdd_subset, base_model_dir, tmp_path, capsys):
    takes = [
        p
        for p in recordings(fsdd_subset, PERSON, takes=(0, 1))
        if parse_recording_name(p).digit not in (3, 7)
    ]
    code, out, err = enroll(
        capsys, *takes, "--model-dir", base_model_dir, "--output", tmp_path / "me"
    )
    assert code == 1
    assert "missing: 3, 7" in err
    assert not (tmp_path / "me").exists()


def test_unlabelled_take_and_used_output_are_refused(
    fsdd_subset, base_model_dir, personal, tmp_path, capsys
):
    takes = recordings(fsdd_subset, PERSON, takes=(0,))
    unlabelled = tmp_path / "me_zero.wav"
    shutil.copy2(takes[0], unlabelled)
    code, _, err = enroll(
        capsys, *takes, unlabelled, "--model-dir", base_model_dir, "--output", tmp_path / "me"
    )
    assert code == 1 and f"{unlabelled}: an enrollment take's file name must start" in err
    code, _, err = enroll(capsys, *takes, "--model-dir", base_model_dir, "--output", personal.dir)
    assert code == 1 and "exists and is not an empty folder" in err

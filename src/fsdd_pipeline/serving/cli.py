"""``fsdd-predict``: the spoken digits of recordings (planning.audio_formats), from a trained
model.

By default the registered ``champion`` model of the MLflow store is used; ``--model``,
``--model-dir`` or ``--model-uri`` pick another one. Whatever the source, recordings are
loaded and turned into features by the pipeline's own code. Exit codes: 0 all files
predicted, 1 some file could not be predicted, 2 no usable model.
"""

import argparse
import base64
import contextlib
import json
import logging
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from fsdd_pipeline.labels import PROB_COLUMNS
from fsdd_pipeline.planning.audio_formats import LISTED_SUFFIXES, SUPPORTED_TEXT
from fsdd_pipeline.planning.naming import unsupported_format
from fsdd_pipeline.planning.tracking_uri import sqlite_file
from fsdd_pipeline.tracking.relocation import follow_project
from fsdd_pipeline.tracking.store import CHAMPION_ALIAS, DEFAULT_REGISTERED_MODEL, project_tracking

MODELS_DIR = Path("results/models")
# Inside a model's folder, the trained model itself (the train_model rule's output).
MODEL_SUBDIR = "model"
PREDICT_BATCH = 64
EXIT_BAD_INPUT = 1
EXIT_NO_MODEL = 2
HOW_TO_TRAIN = "run the workflow (snakemake --cores N in the project folder) to train models"


class NoModelError(Exception):
    """No usable model at the chosen source; the message says what is missing."""


def build_parser():
    parser = argparse.ArgumentParser(
        prog="fsdd-predict",
        description=f"Predict the spoken digits (0-9), in order, of {SUPPORTED_TEXT} recordings.",
        epilog="Without a model option the registered model (tracking.registered_model "
        f"of the project's config) with the alias '{CHAMPION_ALIAS}' is used, from the "
        "project's MLflow store (tracking.uri).",
    )
    parser.add_argument(
        "paths", nargs="+", metavar="PATH", help="an audio file, or a folder of them"
    )
    add_model_options(parser)
    parser.add_argument(
        "--all-probabilities", action="store_true", help="also show the 10 class probabilities"
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument(
        "--jobs",
        type=int,
        default=len(os.sched_getaffinity(0)),
        help="processes that predict a folder of many files at once (default: the CPUs this "
        "process may use, %(default)s); Keras models use one",
    )
    return parser


def add_model_options(parser):
    """The options that choose the model (shared by fsdd-predict, fsdd-app and fsdd-enroll);
    read them back with model_source."""
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--model", metavar="NAME", help="the trained model results/models/NAME/")
    source.add_argument("--model-dir", metavar="DIR", help="a trained model folder")
    source.add_argument(
        "--model-uri", metavar="URI", help="an MLflow model URI, e.g. runs:/<run id>/audio_model"
    )
    parser.add_argument(
        "--registered-name",
        help="registered model name (default: tracking.registered_model of the project, "
        f"else {DEFAULT_REGISTERED_MODEL})",
    )
    parser.add_argument(
        "--alias", default=CHAMPION_ALIAS, help="registered model alias (default: %(default)s)"
    )
    parser.add_argument(
        "--tracking-uri",
        help="MLflow tracking URI (default: $MLFLOW_TRACKING_URI, "
        "else tracking.uri of the project's config)",
    )
    parser.add_argument(
        "--project-dir",
        default=".",
        type=Path,
        help="project folder holding results/ (default: the current folder)",
    )


def collect_files(paths):
    """The files to predict: files as given, folders as their sorted audio files.

    Returns (files, problems) where problems are (path, reason) of empty folders and of
    files in an audio format the pipeline does not take (given, or found in a folder).
    """
    files, problems = [], []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found = sorted(
                p for p in path.iterdir() if p.is_file() and p.suffix.lower() in LISTED_SUFFIXES
            )
            if not found:
                problems.append((path, f"folder holds no audio files ({SUPPORTED_TEXT})"))
        else:
            found = [path]
        for file in found:
            reason = unsupported_format(file)
            if reason:
                problems.append((file, reason))
            else:
                files.append(file)
    return files, problems


def one_line(text):
    return " ".join(str(text).split())


class FolderPredictor:
    """A trained model folder, used through DigitClassifier: files in batches, and, for many
    files and a model that is not Keras, in ``jobs`` processes at once."""

    def __init__(self, model_dir, jobs=1):
        from fsdd_pipeline.models.classifier import DigitClassifier
        from fsdd_pipeline.serving.transcript import attach_strings_model

        try:
            self.classifier = attach_strings_model(DigitClassifier.load(model_dir), model_dir)
        except FileNotFoundError as error:
            raise NoModelError(one_line(error)) from None
        # TensorFlow (a Keras model without its ONNX export) is not safe to fork once it has
        # started; its own threads use the cores.
        self.jobs = 1 if self.classifier.is_keras else max(1, jobs)

    def predict(self, paths):
        """(transcript or None, reason or None) per path, in order (see
        serving.transcript.transcript_result)."""
        batches = [
            paths[start : start + PREDICT_BATCH] for start in range(0, len(paths), PREDICT_BATCH)
        ]
        if self.jobs == 1 or len(batches) < 2:
            return [
                result for batch in batches for result in _predict_batch(self.classifier, batch)
            ]
        import multiprocessing

        # Forked workers inherit the loaded model; each starts its own embedding sessions.
        global _worker_classifier
        _worker_classifier = self.classifier
        context = multiprocessing.get_context("fork")
        with context.Pool(min(self.jobs, len(batches))) as pool:
            return [
                result for batch in pool.map(_predict_worker_batch, batches) for result in batch
            ]


_worker_classifier = None


def _predict_worker_batch(paths):
    return _predict_batch(_worker_classifier, paths)


def _predict_batch(classifier, paths):
    """(transcript or None, reason or None) of each file."""
    from fsdd_pipeline.audio.reading import read_audio
    from fsdd_pipeline.errors import PipelineError, RecordingError
    from fsdd_pipeline.serving.transcript import transcribe, transcript_result

    results = []
    for path in paths:
        try:
            try:
                with open(path, "rb") as handle:
                    samples, rate = read_audio(handle, source=path)
            except OSError as error:
                raise RecordingError(path, f"cannot read file ({error.strerror})") from None
            results.append(transcript_result(transcribe(classifier, samples, rate, path)))
        except PipelineError as error:
            results.append((None, getattr(error, "reason", str(error))))
    return results


@contextlib.contextmanager
def opened_store(model_uri, tracking_uri, missing_hint):
    """``mlflow`` set to the store ``tracking_uri``, to load ``model_uri`` from in the block;
    the block's MLflow and file errors become NoModelError saying what is missing."""
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    store = sqlite_file(tracking_uri)
    needs_store = model_uri.startswith(("models:/", "runs:/"))
    if needs_store and store is not None and not store.is_file():
        # Opening a missing sqlite store would create an empty one.
        raise NoModelError(f"no MLflow store at {store}: {missing_hint}")
    if needs_store and store is not None:
        follow_project(store)  # a moved or copied project's store points into it

    import mlflow
    from mlflow.exceptions import MlflowException

    logging.getLogger("mlflow").setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    mlflow.set_tracking_uri(tracking_uri)
    try:
        yield mlflow
    except MlflowException as error:
        # A missing alias is INVALID_PARAMETER_VALUE, a missing name or run is not.
        if error.error_code == "RESOURCE_DOES_NOT_EXIST" or "not found" in error.message:
            raise NoModelError(
                f"no model {model_uri} in the MLflow store {tracking_uri} "
                f"({one_line(error.message)}): {missing_hint}"
            ) from None
        raise NoModelError(f"cannot load model {model_uri}: {one_line(error.message)}") from None
    except OSError as error:
        raise NoModelError(f"cannot load model {model_uri}: {one_line(error)}") from None


class PyfuncPredictor:
    """An MLflow raw-audio pyfunc model (fsdd_pipeline.serving.pyfunc.AudioDigitModel)."""

    def __init__(self, model_uri, tracking_uri, missing_hint):
        with opened_store(model_uri, tracking_uri, missing_hint) as mlflow:
            self.model = mlflow.pyfunc.load_model(model_uri)
        schema = self.model.metadata.get_input_schema()
        if schema is not None and "audio_base64" not in schema.input_names():
            raise NoModelError(
                f"model {model_uri} does not take raw audio (no audio_base64 input): "
                "log it with fsdd_pipeline.serving.pyfunc.log_audio_model"
            )

    def predict(self, paths):
        """(probabilities or None, reason or None, words found) per path, sent in batches."""
        from fsdd_pipeline.audio.reading import EMPTY_FILE_REASON

        results = [None] * len(paths)
        for start in range(0, len(paths), PREDICT_BATCH):
            items = []
            for index in range(start, min(start + PREDICT_BATCH, len(paths))):
                try:
                    data = paths[index].read_bytes()
                except OSError as error:
                    results[index] = (None, f"cannot read file ({error.strerror or error})", 0)
                    continue
                if not data:  # said here: models logged by older versions speak of audio_base64
                    results[index] = (None, EMPTY_FILE_REASON, 0)
                    continue
                items.append((index, base64.b64encode(data).decode("ascii")))
            for index, result in self._predict_encoded(items).items():
                results[index] = result
        return results

    def _predict_encoded(self, items):
        import pandas as pd

        results = {}
        while items:
            frame = pd.DataFrame({"audio_base64": [encoded for _, encoded in items]})
            try:
                output = self.model.predict(frame)
            except Exception as error:  # the model may raise anything; report it per file
                reasons = getattr(error, "reasons", None)
                if reasons:
                    # AudioDigitModel names every bad row: drop them and predict the rest.
                    for row, reason in reasons.items():
                        results[items[row][0]] = (None, reason, 0)
                    items = [item for row, item in enumerate(items) if row not in reasons]
                    continue
                if len(items) == 1:
                    message = one_line(getattr(error, "message", error))
                    results[items[0][0]] = (None, message, 0)
                    break
                for item in items:
                    results.update(self._predict_encoded([item]))
                break
            for (index, _), row in zip(items, output.to_dict("records"), strict=True):
                results[index] = pyfunc_transcript(row)
            break
        return results


def pyfunc_transcript(row):
    """(transcript, None) of one output row of the raw-audio model; a model logged before
    digit strings (no ``digits`` column) gives its one digit as a one-word transcript."""
    from fsdd_pipeline.serving.transcript import transcript_result
    from fsdd_pipeline.strings.decode import named

    # The row's digit is its probabilities' argmax (pyfunc._prediction_columns), as named's.
    answer = named([float(row[column]) for column in PROB_COLUMNS])
    if "digits" in row:
        return transcript_result(
            {"digits": row["digits"], "words": json.loads(row["words"]), **answer}
        )
    return transcript_result({"digits": str(answer["digit"]), "words": [answer], **answer})


@dataclass(frozen=True)
class ModelSource:
    """Where the chosen model is: a trained model folder (``model_dir``), or an MLflow model
    (``model_uri`` in the store ``tracking_uri``; ``missing_hint`` says how to make one)."""

    model_dir: Path | None = None
    # What a registered model found without MLflow is called (models:/NAME@ALIAS).
    name: str | None = None
    model_uri: str | None = None
    tracking_uri: str | None = None
    missing_hint: str = ""


def model_source(args):
    """The model that add_model_options' options choose; NoModelError if there is none."""
    project = args.project_dir
    if args.model_dir:
        return ModelSource(model_dir=Path(args.model_dir))
    if args.model:
        model_dir = project / MODELS_DIR / args.model / MODEL_SUBDIR
        if not model_dir.is_dir():
            trained = sorted(p.name for p in (project / MODELS_DIR).glob("*") if p.is_dir())
            known = f"trained models: {', '.join(trained)}" if trained else "no models trained yet"
            raise NoModelError(f"no trained model {model_dir} ({known}): {HOW_TO_TRAIN}")
        return ModelSource(model_dir=model_dir)
    settings = project_tracking(project)
    tracking_uri = args.tracking_uri or os.environ.get("MLFLOW_TRACKING_URI") or settings["uri"]
    registered_name = (
        args.registered_name or settings["registered_model"] or DEFAULT_REGISTERED_MODEL
    )
    if not tracking_uri:
        raise NoModelError(
            f"{project} has no config/config.yaml to read the MLflow store from: run in the "
            "project folder, give --project-dir or --tracking-uri (or $MLFLOW_TRACKING_URI), "
            "or choose a model with --model-dir"
        )
    hint = (
        f"{HOW_TO_TRAIN} and register the best one, "
        "or choose a model with --model, --model-dir or --model-uri"
    )
    database = sqlite_file(tracking_uri)
    if args.model_uri is None and database is not None and database.is_file():
        # The registry's answer without importing MLflow, where a local store can give it.
        from fsdd_pipeline.tracking.registry import local_registered_model

        follow_project(database)  # a moved or copied project's store points into it
        folder = local_registered_model(database, registered_name, args.alias)
        if folder is not None:
            return ModelSource(model_dir=folder, name=f"models:/{registered_name}@{args.alias}")
    uri = args.model_uri or f"models:/{registered_name}@{args.alias}"
    return ModelSource(model_uri=uri, tracking_uri=tracking_uri, missing_hint=hint)


def make_predictor(args):
    """The predictor for the chosen model source; NoModelError if there is none."""
    source = model_source(args)
    if source.model_dir is not None:
        return FolderPredictor(source.model_dir, args.jobs)
    return PyfuncPredictor(source.model_uri, source.tracking_uri, source.missing_hint)


def format_rows(rows, all_probabilities, as_json):
    """Rows (file, transcript) as a table or JSON text: the digit string of every file;
    JSON adds its words; ``digit``/``probability`` are its single-digit answer. A transcript
    None (no speech) shows as an empty digit string."""
    records = []
    for path, transcript in rows:
        if transcript is None:
            if as_json:
                records.append({"file": str(path), "digits": "", "words": []})
            continue
        record = {"file": str(path), "digits": transcript["digits"]}
        if as_json:
            record["words"] = transcript["words"]
        record.update(digit=transcript["digit"], probability=transcript["probability"])
        if all_probabilities:
            record.update({f"prob_{d}": p for d, p in enumerate(transcript["probabilities"])})
        records.append(record)
    if as_json:
        return json.dumps(records, indent=2)
    if not records:
        return ""
    from tabulate import tabulate

    # The digit string stays text: "0123" keeps its zero.
    return tabulate(records, headers="keys", floatfmt=".4f", disable_numparse=[1])


def main(argv=None):
    """Console entry point; returns the exit code."""
    args = build_parser().parse_args(argv)
    # TensorFlow's C++ start-up notices would drown the one-line errors; its oneDNN notice
    # is printed whatever the log level, unless oneDNN (a float round-off difference) is off.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
    files, failures = collect_files(args.paths)
    for path, reason in failures:
        print(f"fsdd-predict: {path}: {reason}", file=sys.stderr)
    try:
        predictor = make_predictor(args)
    except NoModelError as error:
        print(f"fsdd-predict: {error}", file=sys.stderr)
        return EXIT_NO_MODEL

    existing = []
    for path in files:
        if path.is_file():
            existing.append(path)
        else:
            failures.append((path, "file not found"))
            print(f"fsdd-predict: {path}: file not found", file=sys.stderr)
    rows = []
    for path, (transcript, reason) in zip(existing, predictor.predict(existing), strict=True):
        if reason is None:
            rows.append((path, transcript))
        else:
            failures.append((path, reason))
            print(f"fsdd-predict: {path}: {one_line(reason)}", file=sys.stderr)
            if reason.startswith("no speech"):
                rows.append((path, None))  # its digit string is empty
    text = format_rows(rows, args.all_probabilities, args.json)
    if text:
        print(text)
    return EXIT_BAD_INPUT if failures else 0


if __name__ == "__main__":
    sys.exit(main())

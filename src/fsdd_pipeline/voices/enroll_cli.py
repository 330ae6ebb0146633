"""``fsdd-enroll``: a personal model from a few labelled takes of one person.

    fsdd-enroll 0_me_a.wav 1_me_a.wav ... 9_me_a.wav --output my-model
    fsdd-predict --model-dir my-model new_take.wav

Takes are audio files (WAV, FLAC, OGG, MP3 or AIFF; or folders of them) whose names start
with their digit; every digit needs at least one. The model enrolled from is chosen as for
``fsdd-predict`` (default: the registered champion of the project's MLflow store).
``--register NAME`` also logs the personal model as a raw-audio MLflow model and registers
it as NAME. Exit codes: 0 enrolled, 1 unusable takes or output, 2 no usable model.
"""

import argparse
import os
import sys
from pathlib import Path

from fsdd_pipeline.models.classifier import DigitClassifier
from fsdd_pipeline.serving.cli import (
    EXIT_BAD_INPUT,
    EXIT_NO_MODEL,
    FolderPredictor,
    NoModelError,
    add_model_options,
    collect_files,
    make_predictor,
)
from fsdd_pipeline.voices.enrollment import (
    DEFAULT_TAKE_WEIGHT,
    ENROLLMENT_FILE,
    EnrollmentError,
    check_every_digit,
    take_digit,
)

# The MLflow experiment of the enrollment runs.
ENROLL_EXPERIMENT = "fsdd-enroll"


def build_parser():
    parser = argparse.ArgumentParser(
        prog="fsdd-enroll",
        description="Adapt the digit model to one person's voice from labelled takes.",
        epilog="Take file names start with their digit (7_me_0.wav); at least one take of "
        "every digit. Use the result with fsdd-predict --model-dir DIR.",
    )
    parser.add_argument("takes", nargs="+", metavar="TAKE", help="an audio take, or a folder")
    parser.add_argument("--output", required=True, type=Path, help="the personal model folder")
    parser.add_argument(
        "--take-weight",
        type=float,
        default=DEFAULT_TAKE_WEIGHT,
        help="training examples one take counts as (default: %(default)s)",
    )
    parser.add_argument(
        "--register",
        metavar="NAME",
        help="also register the personal model under NAME in the MLflow store "
        "(--tracking-uri, else $MLFLOW_TRACKING_URI, else the project's)",
    )
    add_model_options(parser)
    # One process: fsdd-predict's --jobs (predicting many files at once) has no use here.
    parser.set_defaults(jobs=1)
    return parser


def base_classifier(args):
    """The DigitClassifier of the chosen model source (fsdd-predict's choice)."""
    predictor = make_predictor(args)
    if isinstance(predictor, FolderPredictor):
        loaded = predictor.classifier
    else:
        loaded = predictor.model.unwrap_python_model().classifier
    # Predicting reads a linear model's arrays; adapting it needs the fitted estimator.
    return DigitClassifier.load(loaded.model_dir, inference_only=False)


def describe_source(args):
    """The model enrolled from, as enrollment.json records it."""
    from fsdd_pipeline.tracking.store import DEFAULT_REGISTERED_MODEL, project_tracking

    if args.model_dir:
        return str(Path(args.model_dir).resolve())
    if args.model:
        return f"results/models/{args.model}/model"
    if args.model_uri:
        return args.model_uri
    name = (
        args.registered_name
        or project_tracking(args.project_dir)["registered_model"]
        or DEFAULT_REGISTERED_MODEL
    )
    return f"models:/{name}@{args.alias}"


def register(output, name, args):
    """Log the personal model as a raw-audio MLflow model (a run of the experiment
    ENROLL_EXPERIMENT) and register it as ``name``; returns (run id, version)."""
    from fsdd_pipeline.serving.pyfunc import log_audio_model
    from fsdd_pipeline.tracking.store import project_tracking, use_store

    uri = (
        args.tracking_uri
        or os.environ.get("MLFLOW_TRACKING_URI")
        or project_tracking(args.project_dir)["uri"]
    )
    if not uri:
        raise NoModelError("--register needs an MLflow store: give --tracking-uri")
    # A SQLite store gets its artifact folder beside it (not ./mlruns), as the workflow's.
    mlflow = use_store({"uri": uri, "experiment": ENROLL_EXPERIMENT})
    with mlflow.start_run(run_name=f"enroll-{Path(output).name}") as run:
        mlflow.log_artifact(str(Path(output) / ENROLLMENT_FILE))
        info = log_audio_model(output)
    version = mlflow.register_model(info.model_uri, name)
    return run.info.run_id, version.version


def main(argv=None):
    args = build_parser().parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from fsdd_pipeline.voices.enrollment import enroll

    files, problems = collect_files(args.takes)
    problems += [(path, "file not found") for path in files if not path.is_file()]
    for path, reason in problems:
        print(f"fsdd-enroll: {path}: {reason}", file=sys.stderr)
    if problems:
        return EXIT_BAD_INPUT
    try:  # the takes' names first: no model loaded for takes that cannot be used
        check_every_digit([take_digit(path) for path in files])
    except EnrollmentError as error:
        print(f"fsdd-enroll: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    try:
        classifier, source = base_classifier(args), describe_source(args)
    except NoModelError as error:
        print(f"fsdd-enroll: {error}", file=sys.stderr)
        return EXIT_NO_MODEL
    try:
        enroll(classifier, files, args.output, args.take_weight, source)
    except EnrollmentError as error:
        print(f"fsdd-enroll: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    print(f"fsdd-enroll: personal model from {len(files)} takes in {args.output}")
    if args.register:
        run_id, version = register(args.output, args.register, args)
        print(f"fsdd-enroll: registered as {args.register} version {version} (run {run_id})")
    return 0


if __name__ == "__main__":
    sys.exit(main())

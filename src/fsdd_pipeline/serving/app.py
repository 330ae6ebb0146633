"""``fsdd-app``: try a trained model in the browser, on this machine only.

A page of its own (``serving/static``: HTML, CSS and JavaScript, no CDN, no web fonts) on
FastAPI and uvicorn, which come with MLflow. The browser records the microphone and encodes
a WAV itself, or takes an audio file (WAV, FLAC, OGG, MP3 or AIFF); it POSTs the file's
bytes to ``/api/recognize`` and draws the answer of fsdd_pipeline.serving.transcript.
Nothing is sent anywhere else.

The model is chosen with fsdd-predict's options (the registered champion by default) and
loaded once, before the server listens. Requests share nothing but the loaded model, which
only reads: several visitors are served at once without mixing their takes.
"""

import argparse
import json
import logging
import os
import sys
import tempfile
import time
from pathlib import Path

from fsdd_pipeline.errors import PipelineError, RecordingError
from fsdd_pipeline.planning.audio_formats import FILE_PICKER_ACCEPT
from fsdd_pipeline.serving.app_voices import (
    ENROLL_PATH,
    VOICE_HEADER,
    EnrollRequestError,
    PersonalVoices,
    UnknownVoiceError,
    request_takes,
)
from fsdd_pipeline.serving.cli import (
    EXIT_NO_MODEL,
    MODEL_SUBDIR,
    FolderPredictor,
    NoModelError,
    add_model_options,
    model_source,
    one_line,
    opened_store,
)
from fsdd_pipeline.serving.transcript import NO_DIGIT_REASON, transcribe
from fsdd_pipeline.serving.uploads import TakeTooLongError, read_take
from fsdd_pipeline.tracking.registry import MODEL_DIR_ARTIFACT

log = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).parent / "static"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8050
# A take longer than this is refused before it is decoded whole: the model hears words, and a
# minute of audio is far more than a spoken number; the page stops recording at the limit.
DEFAULT_MAX_TAKE_S = 30.0
# 30 s of 48 kHz stereo 16-bit WAV is 5.5 MB; uploads above the bound are refused unread.
DEFAULT_MAX_UPLOAD_MB = 16.0
RECOGNIZE_PATH = "/api/recognize"
# A Keras model cannot be adapted to a voice (enrollment moves linear heads).
NO_PERSONAL_MODELS = "this app's model cannot learn a voice (a Keras model): no personal models"
EXIT_USAGE = 2
EXIT_SERVER = 3  # the server could not start (e.g. the port is taken)
# The page may load and contact only this server: the browser enforces it.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data:; media-src 'self' blob:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)


def build_parser():
    parser = argparse.ArgumentParser(
        prog="fsdd-app",
        description="Try a trained model in the browser: speak into the microphone or drop "
        "an audio file, see the digits. Serves on this machine only by default.",
        epilog="Without a model option the registered model with the alias 'champion' is "
        "used, from the project's MLflow store, as fsdd-predict does.",
    )
    parser.add_argument(
        "--host",
        default=DEFAULT_HOST,
        help="address to listen on (default: %(default)s, this machine only)",
    )
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="(default: %(default)s)")
    add_model_options(parser)
    parser.add_argument(
        "--max-take-s",
        type=float,
        default=DEFAULT_MAX_TAKE_S,
        help="longest take accepted, in seconds (default: %(default)s)",
    )
    parser.add_argument(
        "--max-upload-mb",
        type=float,
        default=DEFAULT_MAX_UPLOAD_MB,
        help="largest file accepted, in MB (default: %(default)s)",
    )
    parser.add_argument(
        "--voices-dir",
        type=Path,
        help='keep the personal models visitors teach it ("teach it my voice") in this '
        "folder, each usable with fsdd-predict --model-dir (default: kept only while the "
        "app runs)",
    )
    return parser


def registered_model_dir(source, destination):
    """The trained model folder inside the raw-audio MLflow model ``source.model_uri``,
    downloaded into ``destination`` (its ``model_dir`` artifact); NoModelError if absent."""
    with opened_store(source.model_uri, source.tracking_uri, source.missing_hint) as mlflow:
        from mlflow.models import Model

        flavor = Model.load(source.model_uri).flavors.get("python_function", {})
        artifact = flavor.get("artifacts", {}).get(MODEL_DIR_ARTIFACT)
        if not artifact:
            raise NoModelError(
                f"model {source.model_uri} is not a raw-audio model (no "
                f"'{MODEL_DIR_ARTIFACT}' artifact): log it with "
                "fsdd_pipeline.serving.pyfunc.log_audio_model"
            )
        folder = mlflow.artifacts.download_artifacts(
            artifact_uri=f"{source.model_uri.rstrip('/')}/{artifact['path']}",
            dst_path=str(destination),
        )
    return Path(folder)


def load_classifier(args, scratch):
    """(DigitClassifier ready to predict, a name for the page) of the chosen model source;
    a registered model's folder is downloaded into ``scratch``. NoModelError if none."""
    source = model_source(args)
    if source.model_dir is not None:
        folder, name = source.model_dir, source.name or model_folder_name(source.model_dir)
    else:
        folder, name = registered_model_dir(source, scratch), source.model_uri
    classifier = FolderPredictor(folder).classifier
    classifier.prepare_for_prediction()
    return classifier, name


def model_folder_name(folder):
    """The name a model folder is known by: NAME of results/models/NAME/model."""
    folder = Path(folder).resolve()
    return folder.parent.name if folder.name == MODEL_SUBDIR else folder.name


def recognize_bytes(classifier, data, max_take_s):
    """The transcript of an uploaded audio file (see fsdd_pipeline.serving.transcript)."""
    samples, rate = read_take(data, max_take_s)
    answer = transcribe(classifier, samples, rate, source="upload")
    if not answer["words"]:
        # As fsdd-predict and the served model say it: a take in which no digit was found.
        raise RecordingError("upload", NO_DIGIT_REASON)
    return answer


def error_response(status, message):
    from fastapi.responses import JSONResponse

    return JSONResponse({"error": message}, status_code=status)


def create_app(
    classifier, model_name, max_take_s=DEFAULT_MAX_TAKE_S, max_upload_bytes=None, voices=None
):
    """The FastAPI application: the page, its static files, the recognition endpoint and,
    with ``voices`` (a serving.app_voices.PersonalVoices), the enrollment endpoint."""
    from fastapi import FastAPI, Request
    from fastapi.responses import FileResponse, JSONResponse
    from fastapi.staticfiles import StaticFiles
    from starlette.concurrency import run_in_threadpool

    if max_upload_bytes is None:
        max_upload_bytes = int(DEFAULT_MAX_UPLOAD_MB * 1e6)
    too_large = (
        f"file too large: the app takes files up to {max_upload_bytes / 1e6:g} MB "
        f"and takes up to {max_take_s:g} s"
    )
    app = FastAPI(title="fsdd-app", docs_url=None, redoc_url=None, openapi_url=None)

    @app.middleware("http")
    async def security_headers(request, call_next):
        response = await call_next(request)
        response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        return response

    @app.get("/")
    def page():
        return FileResponse(STATIC_DIR / "index.html", headers={"Cache-Control": "no-cache"})

    @app.get("/api/info")
    def info():
        return {
            "model": model_name,
            "max_take_s": max_take_s,
            "max_upload_bytes": max_upload_bytes,
            "sample_rate": classifier.spec.feature_params.sample_rate,
            "enroll": voices is not None,
            "audio_accept": FILE_PICKER_ACCEPT,
        }

    async def read_body(request):
        """The request's bytes, or the error response of a body over the bound."""
        declared = request.headers.get("content-length")
        if declared is not None:
            if not declared.isdigit():
                return error_response(400, f"bad Content-Length header {declared!r}")
            if int(declared) > max_upload_bytes:
                return error_response(413, too_large)
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > max_upload_bytes:
                return error_response(413, too_large)
        return bytes(body)

    @app.post(RECOGNIZE_PATH)
    async def recognize(request: Request):
        started = time.perf_counter()
        body = await read_body(request)
        if not isinstance(body, bytes):
            return body
        model, token = classifier, request.headers.get(VOICE_HEADER)
        if token:
            if voices is None:
                return error_response(404, NO_PERSONAL_MODELS)
            try:
                model = voices.classifier(token)
            except UnknownVoiceError as error:
                return error_response(404, str(error))
        try:
            # The computation runs in a worker thread: the server keeps answering meanwhile.
            answer = await run_in_threadpool(recognize_bytes, model, body, max_take_s)
        except TakeTooLongError as error:
            return error_response(413, error.reason)
        except RecordingError as error:
            return error_response(422, error.reason)
        except Exception as error:  # a bug, not the take: said as JSON, logged with its trace
            log.exception("recognizing a take failed")
            return error_response(500, f"internal error: {one_line(error)}")
        # The server's time from the request to the answer (benchmarks/app.py reads it).
        timing = f"recognize;dur={(time.perf_counter() - started) * 1000:.1f}"
        return JSONResponse(answer, headers={"Server-Timing": timing})

    @app.post(ENROLL_PATH)
    async def enroll_voice(request: Request):
        if voices is None:
            return error_response(404, NO_PERSONAL_MODELS)
        body = await read_body(request)
        if not isinstance(body, bytes):
            return body
        try:
            takes = request_takes(json.loads(body))
            token, folder, seconds = await run_in_threadpool(voices.enroll, takes)
        except json.JSONDecodeError as error:
            return error_response(400, f"the request is not JSON: {error}")
        except EnrollRequestError as error:
            return error_response(400, str(error))
        except TakeTooLongError as error:
            return error_response(413, str(error))
        except PipelineError as error:  # a take without speech, a missing digit, a Keras model
            return error_response(422, str(error))
        except Exception as error:
            log.exception("enrolling a voice failed")
            return error_response(500, f"internal error: {one_line(error)}")
        return {
            "voice": token,
            "takes": len(takes),
            "seconds": round(seconds, 2),
            "model": f"{model_name} + your voice",
            "folder": str(folder) if voices.keep_in else None,
        }

    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    return app


def main(argv=None):
    """Console entry point: load the model, then serve until interrupted; the exit code."""
    args = build_parser().parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
    if args.max_take_s <= 0 or args.max_upload_mb <= 0:
        print("fsdd-app: --max-take-s and --max-upload-mb must be positive", file=sys.stderr)
        return EXIT_USAGE
    with tempfile.TemporaryDirectory(prefix="fsdd-app-") as scratch:
        try:
            classifier, name = load_classifier(args, Path(scratch))
        except NoModelError as error:
            print(f"fsdd-app: {one_line(error)}", file=sys.stderr)
            return EXIT_NO_MODEL
        import uvicorn

        voices = None
        if not classifier.is_keras:  # enrollment adapts linear heads
            voices = PersonalVoices(classifier.model_dir, name, args.max_take_s, args.voices_dir)
        app = create_app(classifier, name, args.max_take_s, int(args.max_upload_mb * 1e6), voices)
        shown_host = f"[{args.host}]" if ":" in args.host else args.host
        print(
            f"fsdd-app: {name} on http://{shown_host}:{args.port}/ (Ctrl+C to stop)",
            file=sys.stderr,
            flush=True,
        )
        try:
            uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
        except SystemExit as error:  # uvicorn exits when it cannot bind the port
            return error.code or EXIT_SERVER
        finally:
            if voices is not None:
                voices.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())

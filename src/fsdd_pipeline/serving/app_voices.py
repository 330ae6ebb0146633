"""fsdd-app's "teach it my voice" mode: a visitor's labelled takes, sent from the page,
become a personal model (voices.enrollment, as ``fsdd-enroll`` makes it), which answers the
visitor's later takes while the app runs.

The page keeps the token the enrollment answers with and sends it with its takes
(``VOICE_HEADER``); other visitors keep the app's model. Personal models live in the app's
scratch folder unless ``--voices-dir`` names a folder to keep them in, where each is an
ordinary model folder (``fsdd-predict --model-dir``). At most ``MAX_VOICES`` are kept loaded:
the oldest is forgotten first (its page is then asked to enroll again).
"""

import base64
import binascii
import secrets
import shutil
import tempfile
import threading
import time
from collections import OrderedDict
from pathlib import Path

from fsdd_pipeline.errors import PipelineError

ENROLL_PATH = "/api/enroll"
VOICE_HEADER = "X-Voice"
MAX_VOICES = 16
# More takes than anyone records for one enrollment: a bound on one request's work.
MAX_TAKES = 100


class EnrollRequestError(PipelineError):
    """An enrollment request the app cannot use; the message says which take and why."""


class UnknownVoiceError(PipelineError):
    """A voice token the app does not hold (never made, forgotten, or the app restarted)."""


def request_takes(payload):
    """[(digit, audio bytes)] of an enrollment request ``{"takes": [{"digit": 0-9,
    "audio_base64": ...}, ...]}``; EnrollRequestError naming the take that is wrong."""
    takes = payload.get("takes") if isinstance(payload, dict) else None
    if not isinstance(takes, list) or not takes:
        raise EnrollRequestError('expected {"takes": [{"digit": 0-9, "audio_base64": "..."}, ...]}')
    if len(takes) > MAX_TAKES:
        raise EnrollRequestError(f"{len(takes)} takes: at most {MAX_TAKES} per enrollment")
    result = []
    for index, take in enumerate(takes, start=1):
        digit = take.get("digit") if isinstance(take, dict) else None
        if not isinstance(digit, int) or isinstance(digit, bool) or not 0 <= digit <= 9:
            raise EnrollRequestError(f"take {index}: 'digit' must be a whole number 0-9")
        try:
            data = base64.b64decode(take.get("audio_base64") or "", validate=True)
        except (binascii.Error, TypeError, ValueError):
            raise EnrollRequestError(
                f"take {index} (digit {digit}): audio_base64 is not base64"
            ) from None
        result.append((digit, data))
    return result


class PersonalVoices:
    """Personal models made from the app's model (the folder ``base_dir``), by token."""

    def __init__(self, base_dir, base_name, max_take_s, keep_in=None):
        self.base_dir = Path(base_dir)
        self.base_name = base_name
        self.max_take_s = max_take_s
        self.keep_in = Path(keep_in) if keep_in else None
        self._scratch = None if self.keep_in else Path(tempfile.mkdtemp(prefix="fsdd-voices-"))
        self._base = None
        self._voices = OrderedDict()  # token -> (classifier, folder)
        self._lock = threading.Lock()

    def _base_classifier(self):
        """The app's model as enrollment adapts it (its fitted estimator, not only arrays)."""
        from fsdd_pipeline.models.classifier import DigitClassifier

        with self._lock:
            if self._base is None:
                self._base = DigitClassifier.load(self.base_dir, inference_only=False)
            return self._base

    def enroll(self, takes):
        """(token, personal model folder, seconds) of a personal model made from ``takes``
        [(digit, audio file bytes)]; EnrollmentError (a missing digit, a take without
        speech, a model enrollment cannot adapt) or RecordingError naming the take."""
        import soundfile

        from fsdd_pipeline.serving.cli import FolderPredictor
        from fsdd_pipeline.serving.uploads import read_take
        from fsdd_pipeline.voices.enrollment import EnrollmentError, check_every_digit, enroll

        started = time.perf_counter()
        check_every_digit([digit for digit, _ in takes])
        token = secrets.token_urlsafe(12)
        stamp = time.strftime("%Y%m%d-%H%M%S")
        output = (self.keep_in or self._scratch) / f"voice-{stamp}-{token[:6]}"
        with tempfile.TemporaryDirectory(prefix="fsdd-enroll-") as folder:
            paths, sources = [], {}
            for index, (digit, data) in enumerate(takes):
                source = f"take {index + 1} (digit {digit})"
                samples, rate = read_take(data, self.max_take_s, source)
                path = Path(folder) / f"{digit}_voice_{index}.wav"
                soundfile.write(path, samples, rate, subtype="FLOAT")
                paths.append(path)
                sources[str(path)] = source
            try:
                enroll(
                    self._base_classifier(),
                    paths,
                    output,
                    source=self.base_name,
                    names=list(sources.values()),
                )
            except EnrollmentError as error:
                # Named as the page knows the take, not by the scratch file it was read from.
                message = str(error)
                for path, source in sources.items():
                    message = message.replace(path, source)
                raise EnrollmentError(message) from None
        classifier = FolderPredictor(output).classifier
        classifier.prepare_for_prediction()
        with self._lock:
            self._voices[token] = (classifier, output)
            while len(self._voices) > MAX_VOICES:
                _, (_, forgotten) = self._voices.popitem(last=False)
                if self._scratch is not None:
                    shutil.rmtree(forgotten, ignore_errors=True)
        return token, output, time.perf_counter() - started

    def classifier(self, token):
        """The personal model of ``token``; UnknownVoiceError when the app holds none."""
        with self._lock:
            if token not in self._voices:
                raise UnknownVoiceError(
                    "unknown voice model: teach it your voice again (the app keeps personal "
                    "models only while it runs, and the latest "
                    f"{MAX_VOICES})"
                )
            self._voices.move_to_end(token)
            return self._voices[token][0]

    def close(self):
        """Forget every personal model; remove them unless they are kept (--voices-dir)."""
        with self._lock:
            self._voices.clear()
        if self._scratch is not None:
            shutil.rmtree(self._scratch, ignore_errors=True)

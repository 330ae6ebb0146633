"""fsdd-app end to end: the real `fsdd-app` command serving a real model, used through
Debian's Chromium driven by Playwright (never Playwright's own browser download).

The model is the champion's recipe trained on the test subset (test_predict's fixture).
Every request the browser makes is recorded: none may leave 127.0.0.1.
"""

import concurrent.futures
import http.client
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np
import pytest
import soundfile

from fsdd_pipeline.audio.realistic_takes import noise_take, place_in_take
from fsdd_pipeline.audio.resampling import resample
from fsdd_pipeline.io import atomic_path
from fsdd_pipeline.models.classifier import DigitClassifier
from fsdd_pipeline.planning.audio_formats import FILE_PICKER_ACCEPT
from fsdd_pipeline.planning.naming import parse_recording_name
from fsdd_pipeline.serving.transcript import transcribe

from .conftest import PROJECT, requires_fsdd
from .servers import BIN, background_server, free_port

# Fixtures reused (imported, pytest finds them here): the champion-recipe model and a store.
from .test_predict import (  # noqa: F401
    embedding_model_dir,
    model_dir,
    registry,
    restored_environment,
    takes,
)
from .test_strings import segmenter, subset_clips  # noqa: F401

pytestmark = requires_fsdd

CHROMIUM = Path("/usr/bin/chromium")
CHAMPION_RECIPE = "emb_frame_logreg_speeds"
# The README's screenshot is this test's page: FSDD_APP_SCREENSHOT=docs/app.png writes it there
# (elsewhere a run would change a committed file with every port and timing).
SCREENSHOT_ENV = "FSDD_APP_SCREENSHOT"
# Hard bounds: every wait in a browser test ends, and so does the app's start.
PAGE_TIMEOUT_MS = 30_000
SERVER_START_TIMEOUT_S = 90
RECORD_S = 3.0
FAKE_MICROPHONE_RATE = 48_000


def ensure_chromium():
    """Debian's Chromium, installed with apt-get when missing (CI runs as root)."""
    if CHROMIUM.is_file():
        return CHROMIUM
    if os.geteuid() != 0:
        pytest.fail(f"no {CHROMIUM}: install Debian's browser with `apt-get install -y chromium`")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (["apt-get", "update"], ["apt-get", "install", "-y", "chromium"]):
        result = subprocess.run(
            command, capture_output=True, text=True, timeout=900, env=env, check=False
        )
        if result.returncode != 0:
            pytest.fail(f"{' '.join(command)} failed:\n{result.stdout[-2000:]}{result.stderr}")
    return CHROMIUM


def app_command():
    """The installed `fsdd-app` console script (python -m of the same main when this
    environment's install predates it)."""
    script = BIN / "fsdd-app"
    if script.is_file():
        return [str(script)]
    return [sys.executable, "-m", "fsdd_pipeline.serving.app"]


def write_wav(path, samples, rate):
    soundfile.write(path, np.asarray(samples, dtype=np.float32), rate, subtype="PCM_16")
    return path


@pytest.fixture(scope="module")
def app_model_dir(embedding_model_dir, segmenter, tmp_path_factory):  # noqa: F811
    """The champion-recipe model with a digit-string segmenter in its folder, as the
    workflow's train_model leaves it."""
    from fsdd_pipeline.strings.decode import StringsModel
    from fsdd_pipeline.strings.segmentation import SEGMENTER_FILE

    folder = tmp_path_factory.mktemp("app_model") / "model"
    shutil.copytree(embedding_model_dir, folder)
    StringsModel(segmenter, max_take_s=60).save(folder / SEGMENTER_FILE)
    return folder


@pytest.fixture(scope="module")
def classifier(app_model_dir):
    from fsdd_pipeline.serving.transcript import attach_strings_model

    loaded = attach_strings_model(DigitClassifier.load(app_model_dir), app_model_dir)
    loaded.prepare_for_prediction()
    return loaded


@pytest.fixture(scope="module")
def clips(fsdd_subset, classifier):
    """Official test takes (0) the model gets right, most confident first, one per digit."""
    chosen = {}
    for path in takes(fsdd_subset, (0,)):
        samples, rate = soundfile.read(path, dtype="float32")
        answer = transcribe(classifier, samples, rate)
        digit = parse_recording_name(path).digit
        word = answer["words"][0]
        if word["digit"] == digit and word["probability"] > chosen.get(digit, (0, None))[0]:
            chosen[digit] = (word["probability"], path)
    assert len(chosen) >= 5, "the model should get most official test takes right"
    return [path for _, path in sorted(chosen.values(), reverse=True)]


@pytest.fixture(scope="module")
def voices_dir(tmp_path_factory):
    """Where the app keeps the personal models taught on its page (--voices-dir)."""
    return tmp_path_factory.mktemp("voices")


@pytest.fixture(scope="module")
def app_url(app_model_dir, voices_dir, tmp_path_factory):
    """A real `fsdd-app` subprocess on 127.0.0.1 with a free port, stopped by its PID (its
    process group), run in a project folder."""
    folder = tmp_path_factory.mktemp("app")
    # A project folder holding the model as the workflow trains it: chosen with --model.
    shutil.copytree(app_model_dir, folder / "results/models" / CHAMPION_RECIPE / "model")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [*app_command(), "--port", str(port), "--model", CHAMPION_RECIPE]
    command += ["--voices-dir", str(voices_dir)]
    with background_server(
        command, f"{url}/api/info", folder / "app.log", cwd=folder, timeout=SERVER_START_TIMEOUT_S
    ):
        yield url


@pytest.fixture(scope="module")
def fake_microphone(clips, tmp_path_factory):
    """What Chromium's fake microphone says: a pause, one test clip, a long pause (48 kHz)."""
    path = clips[0]
    samples, rate = soundfile.read(path, dtype="float32")
    samples = resample(samples, rate, FAKE_MICROPHONE_RATE)
    # The lead leaves room for the time between the device opening and the recording.
    pause = np.zeros(int(1.0 * FAKE_MICROPHONE_RATE), np.float32)
    tail = np.zeros(int(3.5 * FAKE_MICROPHONE_RATE), np.float32)
    wav = tmp_path_factory.mktemp("microphone") / "microphone.wav"
    write_wav(wav, np.concatenate([pause, samples, tail]), FAKE_MICROPHONE_RATE)
    return wav, parse_recording_name(path).digit


@pytest.fixture(scope="module")
def browser(fake_microphone):
    from playwright.sync_api import sync_playwright

    executable = ensure_chromium()
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(executable),
            headless=True,
            timeout=PAGE_TIMEOUT_MS,
            args=[
                "--no-sandbox",  # CI runs as root
                "--use-fake-ui-for-media-stream",
                "--use-fake-device-for-media-stream",
                f"--use-file-for-fake-audio-capture={fake_microphone[0]}",
                "--autoplay-policy=no-user-gesture-required",
            ],
        )
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def page(browser, app_url):
    """A fresh page of the app; after the test, every request it made must have gone to
    127.0.0.1 (no CDN, font, script or telemetry host)."""
    context = browser.new_context(viewport={"width": 1100, "height": 900})
    requested = []
    context.on("request", lambda request: requested.append(request.url))
    opened = context.new_page()
    opened.set_default_timeout(PAGE_TIMEOUT_MS)
    opened.goto(app_url)
    opened.wait_for_selector("body[data-ready='true']")
    try:
        yield opened
    finally:
        context.close()
    assert any(url.endswith("/api/info") for url in requested), requested
    outside = sorted({url for url in requested if urlsplit(url).hostname != "127.0.0.1"})
    assert not outside, f"the page requested hosts other than 127.0.0.1: {outside}"


def upload(page, path):
    """Choose ``path`` in the page's file input; wait for the answer or the error."""
    page.set_input_files("#file-input", str(path))
    page.wait_for_selector("body[data-state='result'], body[data-state='error']")


def shown_digits(page):
    assert page.get_attribute("body", "data-state") == "result", page.inner_text("#message")
    assert page.is_hidden("#message")
    return page.inner_text("#digits").strip()


def shown_words(page):
    """(digit, probability text) of every word card on the page."""
    cards = page.query_selector_all("#words .word")
    return [
        (
            int(card.get_attribute("data-digit")),
            card.query_selector(".word-probability").inner_text(),
        )
        for card in cards
    ]


def test_microphone_take_reads_the_spoken_digit(page, fake_microphone):
    _, digit = fake_microphone
    page.click("#record-button")
    page.wait_for_selector("body[data-state='recording']")
    time.sleep(RECORD_S)
    page.click("#record-button")
    page.wait_for_selector("body[data-state='result'], body[data-state='error']")
    digits = shown_digits(page)
    # The fake microphone loops its file: however often the digit is heard, it is that digit.
    assert digits and set(digits) == {str(digit)}, digits
    assert page.inner_text("#take-name") == "microphone"
    assert page.inner_text("#model-name") == CHAMPION_RECIPE
    # The level meter moved with the word (its loudest point, 0-1, is kept on it).
    assert float(page.get_attribute("#level", "data-peak")) > 0.3
    words = shown_words(page)
    assert [d for d, _ in words] == [int(c) for c in digits]
    assert len(page.query_selector_all("#words .word .bars .bar")) == 10 * len(words)


def test_uploaded_test_clip_and_flac_show_the_digit_and_its_probabilities(
    page, clips, classifier, tmp_path
):
    path = clips[1]
    samples, rate = soundfile.read(path, dtype="float32")
    expected = transcribe(classifier, samples, rate)
    # The file pickers offer the formats the server reads (the enrollment slots' too).
    accepts = page.eval_on_selector_all("input[type=file]", "nodes => nodes.map(n => n.accept)")
    assert len(accepts) == 11 and set(accepts) == {FILE_PICKER_ACCEPT}, accepts
    upload(page, path)
    assert shown_digits(page) == str(parse_recording_name(path).digit) == expected["digits"]
    (digit, probability), *others = shown_words(page)
    assert not others and digit == expected["words"][0]["digit"]
    assert probability.endswith("%")
    heights = page.eval_on_selector_all(
        "#words .word .bar-fill", "nodes => nodes.map(n => parseFloat(n.style.height))"
    )
    np.testing.assert_allclose(
        np.array(heights) / 100, expected["words"][0]["probabilities"], atol=1e-3
    )
    flac = write_wav(tmp_path / f"{path.stem}.flac", samples, rate)
    upload(page, flac)
    assert shown_digits(page) == expected["digits"]
    assert page.inner_text("#take-name") == flac.name


def test_three_digit_take(page, clips, tmp_path):
    """Three test clips of different digits with pauses; the middle one loudest."""
    first, loudest, last = clips[2:5]
    gains = {first: 0.4, loudest: 1.0, last: 0.5}
    pause = np.zeros(4000, np.float32)
    parts = [pause]
    for path, gain in gains.items():
        samples, _ = soundfile.read(path, dtype="float32")
        parts += [gain * samples / np.abs(samples).max() * 0.8, pause]
    take = write_wav(tmp_path / "three_digits.wav", np.concatenate(parts), 8000)
    upload(page, take)
    spoken = "".join(str(parse_recording_name(p).digit) for p in gains)
    assert shown_digits(page) == spoken
    assert len(shown_words(page)) == len(spoken)


def test_bad_file_and_silent_take_show_the_error_then_a_good_take_works(page, clips, tmp_path):
    text = tmp_path / "notes.wav"
    text.write_text("this is a text file, not a recording\n")
    silent = write_wav(
        tmp_path / "room_tone.wav",
        noise_take(3.0, 8000, np.random.default_rng(3), level_dbfs=-45, noise_color="pink"),
        8000,
    )
    too_long = write_wav(tmp_path / "long.wav", np.zeros(31 * 8000), 8000)
    good = clips[0]
    expected = str(parse_recording_name(good).digit)
    for bad, reason in [
        (text, "cannot read audio"),
        (silent, "no speech"),
        (too_long, "take too long: 31.0 s, the app takes at most 30 s"),
    ]:
        upload(page, bad)
        assert page.get_attribute("body", "data-state") == "error"
        assert page.inner_text("#message").startswith(f"{bad.name}: {reason}")
        assert page.is_hidden("#result")
        upload(page, good)
        assert shown_digits(page) == expected


def test_take_in_a_noisy_recording_marks_the_word_and_makes_the_screenshot(
    page, clips, classifier, tmp_path
):
    """A clip inside a 3 s take with a noise floor: the word is found where it was placed,
    marked on the waveform; this page is the README's screenshot."""
    path = clips[0]
    samples, rate = soundfile.read(path, dtype="float32")
    take = place_in_take(samples, rate, np.random.default_rng(5), duration_s=3.0, snr_db=30)
    wav = write_wav(tmp_path / "take.wav", take.samples, rate)
    upload(page, wav)
    assert shown_digits(page) == str(parse_recording_name(path).digit)
    answer = transcribe(classifier, take.samples, rate)
    word = answer["words"][0]
    placed_start, placed_end = take.word_seconds
    assert word["start_s"] <= placed_start + 0.08 and word["end_s"] >= placed_end - 0.08
    # The waveform is drawn, with the word's region shaded: its pixels are not all blank.
    drawn = page.eval_on_selector(
        "#waveform",
        """canvas => {
            const data = canvas.getContext('2d').getImageData(0, 0, canvas.width,
                canvas.height).data;
            let inked = 0;
            for (let i = 3; i < data.length; i += 4) inked += data[i] > 0;
            return inked / (data.length / 4);
        }""",
    )
    assert drawn > 0.05
    screenshot = Path(os.environ.get(SCREENSHOT_ENV) or tmp_path / "app.png")
    with atomic_path(screenshot) as temporary:
        page.screenshot(path=str(temporary), type="png", full_page=True)
    assert screenshot.stat().st_size > 10_000
    errors = []
    page.on("pageerror", lambda error: errors.append(error))
    page.click("#play-take")  # plays (headless: to a fake output device)
    page.click("#words .word button")
    page.wait_for_timeout(300)
    assert not errors


def recognize_request(url, body, headers=None, path="/api/recognize"):
    """(status, JSON answer) of a POST to the app's recognition (or another) endpoint."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    try:
        connection.request("POST", path, body, headers or {})
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


def test_concurrent_visitors_get_their_own_takes(app_url, clips, classifier):
    bodies = [path.read_bytes() for path in clips[:6]] * 2
    with concurrent.futures.ThreadPoolExecutor(max_workers=6) as pool:
        answers = list(pool.map(lambda body: recognize_request(app_url, body), bodies))
    for path, (status, answer) in zip(clips[:6] * 2, answers, strict=True):
        samples, rate = soundfile.read(path, dtype="float32")
        assert status == 200, answer
        assert answer == json.loads(json.dumps(transcribe(classifier, samples, rate)))


def test_oversized_upload_is_refused_unread(app_url):
    status, answer = recognize_request(app_url, b"", {"Content-Length": str(10**9)})
    assert status == 413
    assert answer == {
        "error": "file too large: the app takes files up to 16 MB and takes up to 30 s"
    }


def test_no_model_is_said_in_one_line(tmp_path):
    result = subprocess.run(
        [*app_command(), "--model-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.strip().startswith("fsdd-app: no trained model in")
    assert len(result.stderr.strip().splitlines()) == 1


def test_the_page_and_its_files_ship_with_the_package():
    """The package data of pyproject.toml holds the page and every file it links."""
    import re
    import tomllib

    from fsdd_pipeline.serving.app import STATIC_DIR

    setuptools = tomllib.loads((PROJECT / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert setuptools["package-data"]["fsdd_pipeline.serving"] == ["static/*"]
    linked = re.findall(r'(?:src|href)="/static/([^"]+)"', (STATIC_DIR / "index.html").read_text())
    linked += re.findall(r'"/static/([^"]+)"', (STATIC_DIR / "app.js").read_text())
    assert set(linked) >= {"app.js", "app.css", "favicon.svg", "recorder-worklet.js"}
    for name in linked:
        assert (STATIC_DIR / name).is_file(), name


def test_a_registered_model_is_used_through_its_model_folder(registry, model_dir, clips, tmp_path):  # noqa: F811
    """The champion of an MLflow store: its model_dir artifact, loaded as a DigitClassifier,
    answers like the folder it was logged from; a missing alias is said."""
    from fsdd_pipeline.serving.app import build_parser, load_classifier
    from fsdd_pipeline.serving.cli import NoModelError

    with restored_environment():
        args = build_parser().parse_args(["--tracking-uri", registry.uri])
        loaded, name = load_classifier(args, tmp_path / "download")
        by_run = build_parser().parse_args(
            ["--tracking-uri", registry.uri, "--model-uri", registry.run_uri]
        )
        loaded_by_run, _ = load_classifier(by_run, tmp_path / "by-run")
        missing = build_parser().parse_args(["--tracking-uri", registry.uri, "--alias", "gone"])
        with pytest.raises(NoModelError, match="alias gone not found"):
            load_classifier(missing, tmp_path / "missing")
    assert name == "models:/fsdd-digit-classifier@champion"
    local = DigitClassifier.load(model_dir)
    for path in clips[:3]:
        samples, rate = soundfile.read(path, dtype="float32")
        expected = transcribe(local, samples, rate)
        assert transcribe(loaded, samples, rate) == transcribe(loaded_by_run, samples, rate)
        assert transcribe(loaded, samples, rate) == expected


def test_the_page_tells_the_browser_to_load_nothing_from_elsewhere(app_url):
    import urllib.request

    with urllib.request.urlopen(app_url, timeout=30) as response:
        policy = response.headers["Content-Security-Policy"]
        page = response.read().decode()
    assert "default-src 'self'" in policy and "connect-src 'self'" in policy
    assert "http://" not in page and "https://" not in page


PERSON = "george"


def person_take(fsdd_subset, digit, take):
    return fsdd_subset / f"{digit}_{PERSON}_{take}.wav"


def test_teach_it_your_voice_then_takes_go_to_the_personal_model(
    page, fsdd_subset, fake_microphone, voices_dir
):
    """One take of every digit (one said into the microphone, the others chosen as files)
    makes a personal model; the page's later takes go to it, or to the app's model when the
    visitor unticks it."""
    from fsdd_pipeline.serving.transcript import attach_strings_model
    from fsdd_pipeline.voices.enrollment import ENROLLMENT_FILE

    recognize_headers = []
    page.on(
        "request",
        lambda request: (
            recognize_headers.append(request.headers.get("x-voice"))
            if request.url.endswith("/api/recognize")
            else None
        ),
    )
    assert page.is_visible("#enroll") and page.is_disabled("#enroll-button")
    spoken = fake_microphone[1]
    slot = f"#enroll-slots .slot[data-digit='{spoken}']"
    page.click(f"{slot} .slot-record")
    page.wait_for_selector("body[data-state='recording']")
    time.sleep(RECORD_S)
    page.click(f"{slot} .slot-record")
    page.wait_for_selector(f"{slot}[data-filled='true']")
    assert page.inner_text(f"{slot} .slot-status") == "✓ recorded"
    others = [digit for digit in range(10) if digit != spoken]
    for digit in others[:-1]:
        page.set_input_files(
            f"#enroll-slots .slot[data-digit='{digit}'] input[type=file]",
            str(person_take(fsdd_subset, digit, 0)),
        )
    assert page.is_disabled("#enroll-button")
    assert page.inner_text("#enroll-status") == f"still to say: {others[-1]}"
    page.set_input_files(
        f"#enroll-slots .slot[data-digit='{others[-1]}'] input[type=file]",
        str(person_take(fsdd_subset, others[-1], 0)),
    )
    page.click("#enroll-button")
    page.wait_for_selector("#enroll[data-enroll='ready'], #enroll[data-enroll='error']")
    assert page.get_attribute("#enroll", "data-enroll") == "ready", page.inner_text("#message")
    assert page.inner_text("#model-name") == f"{CHAMPION_RECIPE} + your voice"
    (folder,) = voices_dir.iterdir()
    assert folder.name in page.inner_text("#enroll-status")
    record = json.loads((folder / ENROLLMENT_FILE).read_text())
    assert sorted(take["digit"] for take in record["takes"]) == list(range(10))
    assert all(take["file"].startswith("take ") for take in record["takes"])
    # A later take goes to the personal model (kept in --voices-dir, an ordinary folder).
    personal = attach_strings_model(DigitClassifier.load(folder), folder)
    later = person_take(fsdd_subset, 3, 1)
    samples, rate = soundfile.read(later, dtype="float32")
    upload(page, later)
    assert shown_digits(page) == transcribe(personal, samples, rate)["digits"]
    assert recognize_headers[-1], "the take was not sent to the personal model"
    page.uncheck("#voice-toggle")
    assert page.inner_text("#model-name") == CHAMPION_RECIPE
    upload(page, later)
    assert recognize_headers[-1] is None


def test_enrollment_requests_that_cannot_work_are_refused_with_the_reason(
    app_url, fsdd_subset, tmp_path
):
    import base64

    def take(digit, data=None):
        data = person_take(fsdd_subset, digit, 0).read_bytes() if data is None else data
        return {"digit": digit, "audio_base64": base64.b64encode(data).decode()}

    def enroll(payload):
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        return recognize_request(app_url, body, {"Content-Type": "application/json"}, "/api/enroll")

    missing = [take(digit) for digit in range(10) if digit not in (3, 7)]
    assert enroll({"takes": missing}) == (
        422,
        {"error": "enrollment needs at least one take of every digit; missing: 3, 7"},
    )
    silent = write_wav(tmp_path / "silent.wav", np.zeros(8000), 8000).read_bytes()
    status, answer = enroll({"takes": [take(d, silent if d == 4 else None) for d in range(10)]})
    assert status == 422 and answer["error"].startswith("take 5 (digit 4): ")
    assert enroll({"takes": [{"digit": 12, "audio_base64": ""}]}) == (
        400,
        {"error": "take 1: 'digit' must be a whole number 0-9"},
    )
    assert enroll(b"{not json")[0] == 400
    status, answer = recognize_request(
        app_url, person_take(fsdd_subset, 1, 1).read_bytes(), {"X-Voice": "forgotten"}
    )
    assert status == 404 and answer["error"].startswith("unknown voice model")


def test_an_app_whose_model_cannot_learn_a_voice_says_so(classifier, clips):
    """With no personal models (a Keras model's app), enrollment and a voice token are
    answered 404 with the reason, and the page is told not to offer it."""
    import threading
    import urllib.request

    import uvicorn

    from fsdd_pipeline.serving.app import NO_PERSONAL_MODELS, create_app

    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(classifier, "m"), host="127.0.0.1", port=port, log_level="warning"
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + SERVER_START_TIMEOUT_S
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.05)
        with urllib.request.urlopen(f"{url}/api/info", timeout=30) as response:
            assert json.loads(response.read())["enroll"] is False
        assert recognize_request(url, b"{}", path="/api/enroll") == (
            404,
            {"error": NO_PERSONAL_MODELS},
        )
        body = clips[0].read_bytes()
        assert recognize_request(url, body, {"X-Voice": "x"}) == (
            404,
            {"error": NO_PERSONAL_MODELS},
        )
    finally:
        server.should_exit = True
        thread.join(timeout=30)

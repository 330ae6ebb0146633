"""espeak-ng as a library: the pinned synthesizer of the ``espeakng-loader`` wheel.

The training voices (voices.training_voices) are synthesized with the espeak-ng library
and data that wheel ships (espeak-ng 1.52), not with whatever ``espeak-ng`` a machine has,
so every installation synthesizes the same audio and trains the same model. The library
keeps state between syntheses (its noise generators), so each voice's words are
synthesized in a fresh process of this module, in order: the same voice, rate, pitch and
words give the same samples every time. Not so for the breathy female variants f2, f3 and
f5, whose audio changes with the clock: the training voices' config refuses them.

Licence: espeak-ng is GPL-3.0. It is not part of this project: it is installed from PyPI
with the ``espeakng-loader`` wheel and loaded at run time; the audio it synthesizes is not
covered by its licence.

    python -m fsdd_pipeline.voices.espeak_library VOICE RATE PITCH OUT.npz TEXT [TEXT ...]
"""

import ctypes
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from fsdd_pipeline.errors import PipelineError

AUDIO_OUTPUT_SYNCHRONOUS = 2
ESPEAK_RATE, ESPEAK_PITCH = 1, 3  # espeak_PARAMETER values
POS_CHARACTER = 1
EVENT_LIST_TERMINATED, EVENT_WORD = 0, 1  # espeak_EVENT_TYPE values
SYNTHESIS_TIMEOUT_S = 120
INSTALL_HINT = "it comes with this project's install (pip install -e .), as espeakng-loader"


class EspeakLibraryError(PipelineError):
    """The espeak-ng library is missing, or did not synthesize a voice's words."""


def _library():
    try:
        import espeakng_loader
    except ImportError:
        raise EspeakLibraryError(
            f"the espeak-ng library is not installed; {INSTALL_HINT}"
        ) from None
    library = ctypes.CDLL(espeakng_loader.get_library_path())
    library.espeak_Synth.argtypes = [
        ctypes.c_char_p,
        ctypes.c_size_t,
        ctypes.c_uint,
        ctypes.c_int,
        ctypes.c_uint,
        ctypes.c_uint,
        ctypes.c_void_p,
        ctypes.c_void_p,
    ]
    rate = library.espeak_Initialize(
        AUDIO_OUTPUT_SYNCHRONOUS, 0, espeakng_loader.get_data_path().encode(), 0
    )
    if rate <= 0:
        raise EspeakLibraryError("the espeak-ng library did not initialize")
    return library, rate


class _Event(ctypes.Structure):
    """espeak_EVENT of speak_lib.h (the fields read here, and the layout around them)."""

    _fields_ = [
        ("type", ctypes.c_int),
        ("unique_identifier", ctypes.c_uint),
        ("text_position", ctypes.c_int),
        ("length", ctypes.c_int),
        ("audio_position", ctypes.c_int),  # milliseconds from the start of the text's audio
        ("sample", ctypes.c_int),
        ("user_data", ctypes.c_void_p),
        ("id", ctypes.c_void_p),
    ]


def synthesize_here(voice, rate, pitch, texts):
    """(int16 samples of every text, the sample where each of its words starts, sample
    rate), synthesized in this process; its state carries over to the next call, so use
    ``synthesize_words`` or ``synthesize_texts`` for repeatable audio."""
    library, sample_rate = _library()
    pieces, starts = [], []
    callback_type = ctypes.CFUNCTYPE(
        ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.POINTER(_Event)
    )

    def collect(wav, count, events):
        index = 0
        while events[index].type != EVENT_LIST_TERMINATED:
            if events[index].type == EVENT_WORD:
                starts.append(events[index].audio_position * sample_rate // 1000)
            index += 1
        if count > 0:
            pieces.append(np.ctypeslib.as_array(wav, shape=(count,)).copy())
        return 0

    callback = callback_type(collect)  # kept referenced while the library may call it
    library.espeak_SetSynthCallback(callback)
    if library.espeak_SetVoiceByName(voice.encode()) != 0:
        raise EspeakLibraryError(f"espeak-ng has no voice {voice!r}")
    library.espeak_SetParameter(ESPEAK_RATE, int(rate), 0)
    library.espeak_SetParameter(ESPEAK_PITCH, int(pitch), 0)
    spoken = []
    for text in texts:
        pieces.clear()
        starts.clear()
        encoded = text.encode()
        status = library.espeak_Synth(encoded, len(encoded) + 1, 0, POS_CHARACTER, 0, 0, None, None)
        library.espeak_Synchronize()
        if status != 0 or not pieces:
            raise EspeakLibraryError(f"espeak-ng gave no audio for {text!r} ({voice})")
        spoken.append((np.concatenate(pieces), np.array(starts, dtype=np.int64)))
    return spoken, sample_rate


def synthesize_texts(voice, rate, pitch, texts):
    """(list of (float32 samples in [-1, 1], the sample where each word starts), one per
    text, sample rate): ``texts`` spoken by espeak-ng ``voice`` (for example ``en+f4``) at
    ``rate`` words a minute and ``pitch`` (0-99), in a fresh process, so the same arguments
    always give the same audio. A text of several words is spoken as connected speech; its
    word starts are espeak-ng's own word events."""
    with tempfile.TemporaryDirectory() as scratch:
        out = Path(scratch) / "texts.npz"
        command = [
            sys.executable,
            "-m",
            __name__,
            voice,
            str(int(rate)),
            str(int(pitch)),
            str(out),
            *texts,
        ]
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=SYNTHESIS_TIMEOUT_S, check=False
        )
        if done.returncode != 0:
            reason = done.stderr.strip().splitlines()[-1:] or [f"exit {done.returncode}"]
            raise EspeakLibraryError(f"{voice} at rate {rate}, pitch {pitch}: {reason[0]}")
        stored = np.load(out)
        spoken = [
            ((stored[f"text{i}"] / 32768.0).astype(np.float32), stored[f"starts{i}"])
            for i in range(len(texts))
        ]
        return spoken, int(stored["rate"])


def synthesize_words(voice, rate, pitch, words):
    """(list of float32 samples in [-1, 1], one per word, sample rate): ``words`` spoken one
    by one (synthesize_texts)."""
    spoken, sample_rate = synthesize_texts(voice, rate, pitch, words)
    return [samples for samples, _ in spoken], sample_rate


def main(argv=None):
    voice, rate, pitch, out, *texts = argv if argv is not None else sys.argv[1:]
    try:
        spoken, sample_rate = synthesize_here(voice, int(rate), int(pitch), texts)
    except EspeakLibraryError as error:
        sys.exit(f"EspeakLibraryError: {error}")
    arrays = {}
    for index, (samples, starts) in enumerate(spoken):
        arrays |= {f"text{index}": samples, f"starts{index}": starts}
    np.savez(out, rate=sample_rate, **arrays)


if __name__ == "__main__":
    main()

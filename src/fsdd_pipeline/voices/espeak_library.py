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

    python -m fsdd_pipeline.voices.espeak_library VOICE RATE PITCH OUT.npz WORD [WORD ...]
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


def synthesize_here(voice, rate, pitch, words):
    """(int16 samples of every word, sample rate), synthesized in this process; its state
    carries over to the next call, so use ``synthesize_words`` for repeatable audio."""
    library, sample_rate = _library()
    pieces = []
    callback_type = ctypes.CFUNCTYPE(
        ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p
    )

    def collect(wav, count, _events):
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
    for word in words:
        pieces.clear()
        text = word.encode()
        status = library.espeak_Synth(text, len(text) + 1, 0, POS_CHARACTER, 0, 0, None, None)
        library.espeak_Synchronize()
        if status != 0 or not pieces:
            raise EspeakLibraryError(f"espeak-ng gave no audio for {word!r} ({voice})")
        spoken.append(np.concatenate(pieces))
    return spoken, sample_rate


def synthesize_words(voice, rate, pitch, words):
    """(list of float32 samples in [-1, 1], one per word, sample rate): ``words`` spoken by
    espeak-ng ``voice`` (for example ``en+f4``) at ``rate`` words a minute and ``pitch``
    (0-99), in a fresh process, so the same arguments always give the same audio."""
    with tempfile.TemporaryDirectory() as scratch:
        out = Path(scratch) / "words.npz"
        command = [
            sys.executable,
            "-m",
            __name__,
            voice,
            str(int(rate)),
            str(int(pitch)),
            str(out),
            *words,
        ]
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=SYNTHESIS_TIMEOUT_S, check=False
        )
        if done.returncode != 0:
            reason = done.stderr.strip().splitlines()[-1:] or [f"exit {done.returncode}"]
            raise EspeakLibraryError(f"{voice} at rate {rate}, pitch {pitch}: {reason[0]}")
        stored = np.load(out)
        spoken = [stored[f"word{index}"] for index in range(len(words))]
        return [(samples / 32768.0).astype(np.float32) for samples in spoken], int(stored["rate"])


def main(argv=None):
    voice, rate, pitch, out, *words = argv if argv is not None else sys.argv[1:]
    try:
        spoken, sample_rate = synthesize_here(voice, int(rate), int(pitch), words)
    except EspeakLibraryError as error:
        sys.exit(f"EspeakLibraryError: {error}")
    np.savez(out, rate=sample_rate, **{f"word{i}": samples for i, samples in enumerate(spoken)})


if __name__ == "__main__":
    main()

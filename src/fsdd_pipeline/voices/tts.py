"""Validation voices: the ten digits spoken by the text-to-speech engines Debian packages.

FSDD's six speakers are adult men; these voices are not: espeak-ng's English voices and
accents, each with male and female variants (``+m3``, ``+f1``, ...), and flite's voices,
at several speaking rates and pitches, resampled to 8 kHz. They serve to choose settings
together with LOSO folds, never to train the champion. Every clip is also placed in a
realistic take (a longer, noisy recording: audio.realistic_takes), as people record.

A voice's family: ``female`` (a female variant or voice), ``accent`` (an English accent
other than General American and British RP, male), ``male`` otherwise.
"""

import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fsdd_pipeline.audio.reading import mono
from fsdd_pipeline.audio.resampling import resample
from fsdd_pipeline.errors import PipelineError

DIGIT_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
ENGINES = {"espeak-ng": "espeak-ng", "flite": "flite"}
INSTALL_HINT = "install them with: apt-get install -y espeak-ng flite"
FAMILIES = ("female", "male", "accent")
SYNTHESIS_TIMEOUT_S = 30
# espeak-ng's default pitch, and the pitch recorded for flite's voices (their own).
OWN_PITCH = 50
# espeak-ng's default words per minute: flite's own speed is taken to be this rate.
ESPEAK_DEFAULT_RATE = 175
SPEECH_PEAK = 0.7  # -3 dBFS, the level synthesized words are scaled to


class SynthesisError(PipelineError):
    """A voice could not be synthesized: engine missing, unknown voice, or no audio."""


@dataclass(frozen=True)
class Voice:
    """One engine voice at one rate and pitch.

    ``rate``: espeak-ng words per minute (-s), flite a duration factor of 175 / rate
    (so both read the same); ``pitch``: espeak-ng's 0-99 pitch (-p); flite voices keep
    their own pitch (flite sets an absolute mean F0 only, which would make its female
    voice male), recorded as OWN_PITCH.
    """

    engine: str
    name: str
    family: str
    rate: int
    pitch: int

    @property
    def label(self):
        """A name for tables and file names, e.g. ``espeak-ng_en-us+f1_r175_p50``."""
        return f"{self.engine}_{self.name}_r{self.rate}_p{self.pitch}"


def voices_from_config(settings):
    """Every configured voice at every rate and pitch: ``settings`` is the ``voices``
    section (engines: {engine: [{name, family}]}, rates, pitches)."""
    voices = []
    for engine, entries in settings["engines"].items():
        if engine not in ENGINES:
            raise SynthesisError(f"voices.engines: unknown engine {engine!r} ({list(ENGINES)})")
        for entry in entries:
            if entry["family"] not in FAMILIES:
                raise SynthesisError(
                    f"voices.engines.{engine}: voice {entry['name']!r} has family "
                    f"{entry['family']!r}, not one of {FAMILIES}"
                )
            pitches = settings["pitches"] if engine == "espeak-ng" else [OWN_PITCH]
            for rate in settings["rates"]:
                for pitch in pitches:
                    voices.append(Voice(engine, entry["name"], entry["family"], rate, pitch))
    return voices


def check_engines(voices):
    """SynthesisError naming the missing engines and how to install them, or the voices an
    engine does not know (both engines would silently speak with their default voice)."""
    missing = sorted({v.engine for v in voices if shutil.which(ENGINES[v.engine]) is None})
    if missing:
        raise SynthesisError(
            f"text-to-speech engine(s) not found: {', '.join(missing)}; {INSTALL_HINT}"
        )
    for engine in sorted({v.engine for v in voices}):
        known = known_voices(engine)
        unknown = sorted({v.name for v in voices if v.engine == engine} - known)
        if unknown:
            raise SynthesisError(
                f"{engine} has no voice {', '.join(unknown)} (see {engine} "
                f"{'-lv' if engine == 'flite' else '--voices=en'})"
            )


def _listing(*command):
    return subprocess.run(
        command, capture_output=True, text=True, timeout=SYNTHESIS_TIMEOUT_S, check=True
    ).stdout


def _table_rows(listing):
    return [line.split() for line in listing.splitlines()[1:] if line.strip()]


def known_voices(engine):
    """The voice names ``engine`` takes: flite's listed voices; espeak-ng's languages and
    voice names, each also with every variant (``en-us+f1``)."""
    if engine == "flite":
        return set(_listing("flite", "-lv").split(":", 1)[1].split())
    rows = _table_rows(_listing("espeak-ng", "--voices"))
    voices = {row[1] for row in rows} | {row[3] for row in rows}
    variants = {
        row[4].split("/")[-1] for row in _table_rows(_listing("espeak-ng", "--voices=variant"))
    }
    return voices | {f"{voice}+{variant}" for voice in voices for variant in variants}


def _command(voice, word, wav):
    if voice.engine == "espeak-ng":
        return [
            "espeak-ng",
            "-v",
            voice.name,
            "-s",
            str(voice.rate),
            "-p",
            str(voice.pitch),
            "-w",
            str(wav),
            word,
        ]
    stretch = 175.0 / voice.rate
    return [
        "flite",
        "-voice",
        voice.name,
        "--setf",
        f"duration_stretch={stretch:.3f}",
        "--setf",
        f"int_f0_target_mean={110.0 * voice.pitch / 50.0:.1f}",
        "-t",
        word,
        "-o",
        str(wav),
    ]


def synthesize(voice, word, sample_rate):
    """Float32 samples of ``word`` spoken by ``voice``, resampled to ``sample_rate``."""
    import soundfile

    with tempfile.TemporaryDirectory() as scratch:
        wav = Path(scratch) / "word.wav"
        command = _command(voice, word, wav)
        try:
            done = subprocess.run(
                command, capture_output=True, text=True, timeout=SYNTHESIS_TIMEOUT_S, check=False
            )
        except FileNotFoundError:
            raise SynthesisError(f"{command[0]} not found; {INSTALL_HINT}") from None
        if done.returncode != 0 or not wav.is_file() or wav.stat().st_size == 0:
            raise SynthesisError(
                f"{voice.label}: {command[0]} gave no audio for {word!r} "
                f"(exit {done.returncode}: {' '.join(done.stderr.split())[:200]})"
            )
        samples, rate = soundfile.read(wav, dtype="float32")
    samples = mono(samples, np.float32)
    if not np.any(samples):
        raise SynthesisError(f"{voice.label}: {command[0]} gave silence for {word!r}")
    samples = at_speech_peak(samples)
    return resample(samples, rate, sample_rate).astype(np.float32)


def at_speech_peak(samples):
    """``samples`` scaled to peak at -3 dBFS: engines differ in level, and recordings are
    levelled by the pipeline anyway (``samples`` must not be all zero)."""
    return samples / np.abs(samples).max() * SPEECH_PEAK


def _realistic_take(samples, sample_rate, rng, snr_range, duration_s, edge_clicks, gain_db=0.0):
    """``samples`` placed in a realistic take (audio.realistic_takes.place_in_take): a noise
    floor of a random colour drawn from ``snr_range`` dB below the speech, a DC offset,
    ``edge_clicks``, a gain; stored as 16-bit PCM would be."""
    from fsdd_pipeline.audio.realistic_takes import NOISE_EXPONENTS, place_in_take

    colors = sorted(NOISE_EXPONENTS)
    low, high = (snr_range, snr_range) if isinstance(snr_range, int | float) else snr_range
    take = place_in_take(
        samples,
        sample_rate,
        rng,
        duration_s=duration_s,
        snr_db=float(rng.uniform(low, high)),
        noise_color=colors[int(rng.integers(len(colors)))],
        dc_offset=float(rng.uniform(-0.01, 0.01)),
        gain_db=gain_db,
        edge_clicks=edge_clicks,
    )
    return _as_16_bit(take.samples)


def _as_16_bit(samples):
    """``samples`` (float, nominally in [-1, 1]) as a 16-bit PCM file would store them."""
    return (np.round(np.clip(samples, -1, 1) * 32767) / 32767).astype(np.float32)


def _voice_columns(voice):
    return dict(
        voice=voice.label,
        engine=voice.engine,
        name=voice.name,
        family=voice.family,
        rate=voice.rate,
        pitch=voice.pitch,
    )


def validation_clips(voices, sample_rate, take_settings, seed):
    """Every voice saying every digit, clean and placed in a realistic take: a DataFrame of
    voice, engine, name, family, rate, pitch, digit, condition (clean or take) and samples.

    A take (audio.realistic_takes.place_in_take) lasts ``duration_s``, with a noise floor
    of a random colour ``snr_db`` (a [low, high] range) below the word, a DC offset and
    edge clicks; stored as 16-bit PCM. Seeded per voice and digit.
    """
    import pandas as pd

    check_engines(voices)
    rows = []
    for index, voice in enumerate(voices):
        for digit, word in enumerate(DIGIT_WORDS):
            samples = synthesize(voice, word, sample_rate)
            rng = np.random.default_rng([seed, index, digit])
            take = _realistic_take(
                samples,
                sample_rate,
                rng,
                take_settings["snr_db"],
                take_settings["duration_s"],
                edge_clicks=True,
            )
            base = _voice_columns(voice) | {"digit": digit}
            rows.append(base | {"condition": "clean", "samples": samples})
            rows.append(base | {"condition": "take", "samples": take})
    return pd.DataFrame(rows)


def validation_strings(voices, sample_rate, take_settings, strings, seed):
    """Every voice reading ``strings["per_voice"]`` digit strings of ``strings["digits"]``
    (fewest, most) digits as connected speech ("four one five nine": no pauses but the
    voice's own), each in a realistic take: a noise floor ``take_settings["snr_db"]`` below
    the speech, a DC offset, 0.35-0.65 s of it on each side, a gain drawn from
    ``strings["gain_db"]``. A DataFrame of voice, engine, name, family, rate, pitch, style
    ("connected"), pause_s (0), reference (the digits, "4159") and samples. Seeded per
    voice."""
    import pandas as pd

    check_engines(voices)
    rows = []
    for index, voice in enumerate(voices):
        rng = np.random.default_rng([seed, index, len(DIGIT_WORDS)])
        for _ in range(strings["per_voice"]):
            fewest, most = strings["digits"]
            spoken = rng.integers(0, len(DIGIT_WORDS), size=int(rng.integers(fewest, most + 1)))
            samples = synthesize(voice, " ".join(DIGIT_WORDS[d] for d in spoken), sample_rate)
            take = _realistic_take(
                samples,
                sample_rate,
                rng,
                take_settings["snr_db"],
                samples.size / sample_rate + 1.0,
                edge_clicks=False,
                gain_db=float(rng.uniform(*strings["gain_db"])),
            )
            reference = "".join(str(int(d)) for d in spoken)
            rows.append(
                _voice_columns(voice)
                | {"style": "connected", "pause_s": 0.0, "reference": reference, "samples": take}
            )
    return pd.DataFrame(rows)


def paused_strings(voices, clips, sample_rate, take_settings, strings, seed):
    """Every voice's own ten clean words (``clips``: validation_clips of ``voices``) said
    one by one and joined into digit strings, as people read a PIN or a phone number digit
    by digit: at each pause of ``strings["pauses_s"]`` (each gap +-20%),
    ``strings["paused_per_pause"]`` takes of ``strings["digits"]`` digits over a noise floor
    ``take_settings["snr_db"]`` below the words, with a gain drawn from
    ``strings["gain_db"]`` (strings.takes.synthesize_take), stored as 16-bit PCM. A
    DataFrame of validation_strings' columns (style "paused"). Seeded per voice."""
    import pandas as pd

    from fsdd_pipeline.strings.takes import StringTakeSettings, synthesize_take

    settings = StringTakeSettings(
        digits=strings["digits"],
        overlap_probability=0.0,
        snr_db=take_settings["snr_db"],
        gain_db=strings["gain_db"],
    )
    clean = clips[clips["condition"] == "clean"]
    rows = []
    for index, voice in enumerate(voices):
        rng = np.random.default_rng([seed, index, len(DIGIT_WORDS) + 1])
        words = clean[clean["voice"] == voice.label]
        said = dict(zip(words["digit"].astype(int), words["samples"], strict=True))
        for pause_s in strings["pauses_s"]:
            for _ in range(strings["paused_per_pause"]):
                count = int(rng.integers(settings.digits[0], settings.digits[1] + 1))
                spoken = [int(d) for d in rng.integers(0, len(DIGIT_WORDS), size=count)]
                take = synthesize_take(
                    [(np.asarray(said[d]), d) for d in spoken], sample_rate, rng, settings, pause_s
                )
                rows.append(
                    _voice_columns(voice)
                    | {
                        "style": "paused",
                        "pause_s": float(pause_s),
                        "reference": take.digits,
                        "samples": _as_16_bit(take.samples),
                    }
                )
    return pd.DataFrame(rows)

"""Training voices: the ten digits spoken by espeak-ng voices, extra training data for the
models whose config says ``training_voices: true``.

FSDD's six speakers are adult men; synthetic voices of other kinds (female variants,
English accents, slow and fast, high and low) add what they lack. The voices are drawn
(seeded) from espeak-ng's English dialects x its voice variants x speaking rates x pitches,
leaving out every dialect-variant pair the validation voices use, so no validation clip is
ever trained on; they are synthesized by the pinned espeak-ng library
(voices.espeak_library), endpointed and featurized exactly as FSDD's recordings are. What
they are worth, in LOSO folds and on the validation voices: benchmarks/tts_training.py
(docs/voices.md)."""

import itertools
import logging
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from fsdd_pipeline.audio.reading import prepare_clip
from fsdd_pipeline.data.extraction import FEATURE_SCHEMA, clip_record
from fsdd_pipeline.errors import PipelineError, RecordingError
from fsdd_pipeline.voices.espeak_library import synthesize_words
from fsdd_pipeline.voices.tts import DIGIT_WORDS, at_speech_peak

log = logging.getLogger(__name__)

SPLIT = "train"  # the split every training-voice row has: they only ever train
SCHEMA = FEATURE_SCHEMA.append(pa.field("split", pa.string()))  # the dataset's columns
SPEAKER_PREFIX = "tts:"  # speaker names of the training voices, never an FSDD speaker's
# The validation voices' CLI names that the library knows by another: espeak-ng's "en"
# voice is British English, which its command line also accepts as "en-gb".
LIBRARY_NAMES = {"en-gb": "en"}


class TrainingVoicesError(PipelineError):
    """The training voices cannot be drawn or synthesized as configured."""


@dataclass(frozen=True)
class TrainingVoice:
    name: str  # espeak-ng voice, e.g. "en-029+f4"
    rate: int  # words a minute
    pitch: int  # 0-99

    @property
    def label(self):
        return f"{self.name}_r{self.rate}_p{self.pitch}"

    @property
    def family(self):
        return "female" if "+f" in self.name else "male"


def library_name(name):
    """``name`` as the espeak-ng library knows it (``en-gb+f4`` -> ``en+f4``)."""
    dialect, plus, variant = name.partition("+")
    return LIBRARY_NAMES.get(dialect, dialect) + plus + variant


def draw_training_voices(settings, validation_names):
    """``settings["count"]`` voices drawn (``settings["seed"]``) from every dialect x variant
    x rate x pitch of ``settings`` whose dialect-variant pair is not one of
    ``validation_names`` (the validation voices' espeak-ng names), in a stable order."""
    excluded = {library_name(name) for name in validation_names}
    candidates = [
        TrainingVoice(dialect + (f"+{variant}" if variant else ""), int(rate), int(pitch))
        for dialect, variant, rate, pitch in itertools.product(
            settings["dialects"], settings["variants"], settings["rates"], settings["pitches"]
        )
    ]
    candidates = [voice for voice in candidates if library_name(voice.name) not in excluded]
    count = int(settings["count"])
    if count > len(candidates):
        raise TrainingVoicesError(
            f"training_voices.count: {count} voices asked for, but the dialects, variants, "
            f"rates and pitches give only {len(candidates)} outside the validation voices"
        )
    chosen = np.random.default_rng(int(settings["seed"])).choice(
        len(candidates), size=count, replace=False
    )
    return [candidates[index] for index in sorted(chosen)]


def voice_records(voice, params):
    """The feature rows (the dataset's columns) of ``voice``'s ten digits. A word in which
    endpointing finds no speech stops the run (RecordingError naming the voice and word):
    a voice that cannot be heard is a wrong setting, not data to drop."""
    spoken, rate = synthesize_words(library_name(voice.name), voice.rate, voice.pitch, DIGIT_WORDS)
    records = []
    for digit, samples in enumerate(spoken):
        source = f"training voice {voice.label}, word {DIGIT_WORDS[digit]!r}"
        if not np.any(samples):
            raise TrainingVoicesError(f"{source}: espeak-ng gave silence")
        samples = at_speech_peak(samples)
        clip, crop = prepare_clip(
            samples, rate, params.sample_rate, params.endpoint, params.min_duration_s, source
        )
        identity = {
            "file_name": f"{digit}_{voice.label}.wav",
            "digit": digit,
            "speaker": SPEAKER_PREFIX + voice.name,
            "sample_number": 0,
            "gender": voice.family,
            "accent": voice.name.partition("+")[0],
        }
        record = clip_record(identity, clip, crop, params) | {"split": SPLIT}
        records.append(record)
    return records


def training_voice_table(settings, validation_names, params):
    """Every drawn voice's ten digits as rows of the dataset's schema (split ``train``)."""
    records = []
    for voice in draw_training_voices(settings, validation_names):
        try:
            records += voice_records(voice, params)
        except RecordingError as error:
            raise TrainingVoicesError(f"{error}; change training_voices") from error
    log.info("synthesized %d clips of %d training voices", len(records), len(records) // 10)
    return pa.Table.from_pylist(records, schema=SCHEMA)

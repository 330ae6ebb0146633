"""The workflow's digit-string evaluation and the segmenter's training data.

Training takes are drawn per speaker from that speaker's training-split clips and embedded
once: the segmenter that travels with every model is fitted on all of them, and each
leave-one-speaker-out fold refits it without the held-out speaker's. Test takes come from
the official test split (takes 0-4 of every speaker) and, per fold, from the held-out
speaker's clips only, read by the fold's classifier (trained without that speaker).
"""

import logging
import time
from dataclasses import dataclass, replace
from pathlib import Path

import pandas as pd
import soundfile

from fsdd_pipeline.audio.resampling import resample
from fsdd_pipeline.features.embedding import get_embedder
from fsdd_pipeline.planning.naming import OFFICIAL_TEST_INDICES, parse_recording_name
from fsdd_pipeline.strings.decode import StringsModel, transcribe_take
from fsdd_pipeline.strings.metrics import by_bucket, score_strings
from fsdd_pipeline.strings.segmentation import (
    BlendedSegmenter,
    SegmenterParams,
    WordSegmenter,
    take_embeddings,
)
from fsdd_pipeline.strings.takes import StringTakeSettings, draw_string_takes, pause_strata
from fsdd_pipeline.strings.voice_takes import training_voice_string_takes
from fsdd_pipeline.voices.training_voices import SPEAKER_PREFIX

log = logging.getLogger(__name__)

# PINs: four digits with the pauses of someone reading them one by one (the issue's
# "4-digit string accuracy at pauses of 0.2 s or more").
PIN_DIGITS = 4
PIN_PAUSE_S = (0.2, 0.6)


@dataclass(frozen=True)
class StringsSettings:
    """config ``strings`` (see the schema): how many takes of which kind, the segmenter's
    settings, the longest take accepted, and whether the classifier re-labels words."""

    seed: int
    train_takes_per_speaker: int
    max_take_s: float
    relabel: str
    takes: StringTakeSettings
    segmenter: SegmenterParams
    # Speed range of the segmenter's training takes only (StringTakeSettings.speed), and
    # the range of semitones their words are raised by, tempo kept (pitch_semitones).
    train_speed: tuple = (0.8, 1.25)
    train_pitch_semitones: tuple = (0.0, 0.0)
    # Connected-speech takes, and takes of its words said one by one, of every training
    # voice for a second segmenter (both 0: none), and its weight in the blend with the
    # first (BlendedSegmenter).
    voice_takes_per_voice: int = 2
    voice_word_takes_per_voice: int = 4
    voice_blend: float = 0.6
    # Evaluation only: the segmenter's training is not told them (a change retrains nothing).
    test_takes: int = 0
    loso_takes_per_speaker: int = 0
    pin_takes_per_speaker: int = 0

    @classmethod
    def from_config(cls, strings):
        plain = {k: v for k, v in strings.items() if k not in ("models", "takes", "segmenter")}
        return cls(
            **plain,
            takes=StringTakeSettings(**strings["takes"]),
            segmenter=SegmenterParams(**strings["segmenter"]),
        )

    @property
    def training_take_settings(self):
        """The take settings of the segmenter's training takes: ``takes`` at ``train_speed``
        and ``train_pitch_semitones``."""
        return replace(
            self.takes,
            speed=tuple(self.train_speed),
            pitch_semitones=tuple(self.train_pitch_semitones),
        )


def recordings_rows(recordings):
    """file_name, speaker, digit and split ("test" or "train") of a recordings folder's
    WAV files, the official test split being takes OFFICIAL_TEST_INDICES."""
    rows = []
    for path in sorted(Path(recordings).glob("*.wav")):
        name = parse_recording_name(path)
        split = "test" if name.index in OFFICIAL_TEST_INDICES else "train"
        rows.append((path.name, name.speaker, name.digit, split))
    return pd.DataFrame(rows, columns=["file_name", "speaker", "digit", "split"])


def train_segmenter(recordings, sample_rate, settings, training_voices=None, validation_voices=()):
    """(StringsModel fitted on every speaker's training takes and, with
    ``settings.voice_takes_per_voice`` / ``settings.voice_word_takes_per_voice``, the
    training voices' connected speech / words said one by one (``training_voices``: config
    training_voices; ``validation_voices``: the espeak-ng names they leave out), (takes,
    embeddings))."""
    rows = recordings_rows(recordings)
    clips = read_clips(recordings, rows[rows.split == "train"], sample_rate)
    takes, embeddings = training_takes(
        clips,
        settings.train_takes_per_speaker,
        sample_rate,
        settings.seed,
        settings.training_take_settings,
    )
    if settings.voice_takes_per_voice or settings.voice_word_takes_per_voice:
        if training_voices is None:
            raise ValueError(
                "strings.voice_takes_per_voice and strings.voice_word_takes_per_voice need "
                "the training voices' settings (config training_voices)"
            )
        spoken = training_voice_string_takes(
            training_voices,
            validation_voices,
            settings.voice_takes_per_voice,
            sample_rate,
            settings.seed,
            settings.takes,
            words_per_voice=settings.voice_word_takes_per_voice,
        )
        log.info(
            "training voices: %d takes (%d of connected speech and %d of words said one by "
            "one per voice)",
            len(spoken),
            settings.voice_takes_per_voice,
            settings.voice_word_takes_per_voice,
        )
        takes += spoken
        embeddings += embed_takes(spoken, sample_rate)
    segmenter = fit_segmenter(
        takes, embeddings, settings.segmenter, voice_blend=settings.voice_blend
    )
    model = StringsModel(segmenter, settings.max_take_s, settings.relabel)
    return model, (takes, embeddings)


def pin_take_settings(take_settings):
    """The string-take settings of PINs: PIN_DIGITS words, pauses PIN_PAUSE_S, no overlap;
    noise floors, gains and leads as for every other take."""
    return replace(
        take_settings,
        digits=(PIN_DIGITS, PIN_DIGITS),
        pause_s=PIN_PAUSE_S,
        overlap_probability=0.0,
    )


def evaluate_strings(classifier, training, recordings, sample_rate, settings, fold_classifier):
    """Rows of read_takes: the official test split's takes read by ``classifier`` (with its
    StringsModel), and per speaker the takes of that speaker's clips read by
    ``fold_classifier(speaker)`` (trained without them) and a segmenter refitted on the
    training takes of the other speakers: "loso" takes as the official ones, and "loso_pin"
    takes (pin_take_settings) when ``settings.pin_takes_per_speaker``. The official and
    "loso" takes are drawn in equal shares per pause bucket (pause_strata)."""
    rows = recordings_rows(recordings)
    everything = read_clips(recordings, rows, sample_rate)
    test_files = set(rows.file_name[rows.split == "test"])
    test = {
        speaker: kept
        for speaker, clips in everything.items()
        if (kept := [clip for clip in clips if clip[2] in test_files])
    }
    # As many takes in every pause bucket: each bucket's figures are read from as many.
    strata = pause_strata(settings.takes)
    official = draw_string_takes(
        test, settings.test_takes, sample_rate, settings.seed + 1000, settings.takes, strata
    )
    model = classifier.strings_model
    read = [read_takes(classifier, model, official, "official")]
    takes, embeddings = training
    for index, speaker in enumerate(sorted(everything)):
        held_out = draw_string_takes(
            {speaker: everything[speaker]},
            settings.loso_takes_per_speaker,
            sample_rate,
            settings.seed + 2000 + index,
            settings.takes,
            strata,
        )
        segmenter = fit_segmenter(
            takes, embeddings, settings.segmenter, speaker, voice_blend=settings.voice_blend
        )
        fold_model = StringsModel(segmenter, settings.max_take_s, settings.relabel)
        fold = fold_classifier(speaker)
        read.append(read_takes(fold, fold_model, held_out, "loso"))
        if settings.pin_takes_per_speaker:
            pins = draw_string_takes(
                {speaker: everything[speaker]},
                settings.pin_takes_per_speaker,
                sample_rate,
                settings.seed + 3000 + index,
                pin_take_settings(settings.takes),
            )
            read.append(read_takes(fold, fold_model, pins, "loso_pin"))
        log.info("strings: LOSO fold %s read", speaker)
    return pd.concat(read, ignore_index=True)


def read_clips(recordings, rows, sample_rate):
    """{speaker: [(samples, digit, file name)]} of the dataset ``rows`` (file_name, speaker,
    digit), read from ``recordings`` at ``sample_rate``."""
    clips = {}
    for row in rows.sort_values("file_name").itertuples():
        samples, rate = soundfile.read(Path(recordings) / row.file_name, dtype="float32")
        if samples.ndim == 2:
            samples = samples.mean(axis=1)
        if rate != sample_rate:
            samples = resample(samples, rate, sample_rate)
        clips.setdefault(row.speaker, []).append((samples, int(row.digit), row.file_name))
    return clips


def training_takes(clips_by_speaker, per_speaker, sample_rate, seed, take_settings):
    """(takes, embeddings): ``per_speaker`` takes of every speaker's own clips, embedded."""
    takes = []
    for index, speaker in enumerate(sorted(clips_by_speaker)):
        drawn = draw_string_takes(
            {speaker: clips_by_speaker[speaker]},
            per_speaker,
            sample_rate,
            seed + index,
            take_settings,
        )
        takes += drawn
    return takes, embed_takes(takes, sample_rate)


def embed_takes(takes, sample_rate):
    """The embedding frames of each take (segmentation.take_embeddings), as the segmenter
    is trained on them."""
    embedder = get_embedder()
    return [take_embeddings(take.samples, sample_rate, embedder) for take in takes]


def fit_segmenter(
    takes, embeddings, params, exclude_speaker=None, voice_blend=StringsSettings.voice_blend
):
    """The segmenter of the takes of every speaker but ``exclude_speaker``: a WordSegmenter,
    or, when they include the training voices' takes, a BlendedSegmenter of one fitted on
    FSDD's takes only and one on all of them (``voice_blend`` on the second)."""
    chosen = [i for i, take in enumerate(takes) if take.speaker != exclude_speaker]
    fsdd = [i for i in chosen if not takes[i].speaker.startswith(SPEAKER_PREFIX)]

    def fitted(indices):
        return WordSegmenter(params).fit(
            [embeddings[i] for i in indices], [takes[i].words for i in indices]
        )

    if len(fsdd) == len(chosen):
        return fitted(chosen)
    return BlendedSegmenter(fitted(fsdd), fitted(chosen), voice_blend)


def read_takes(classifier, strings_model, takes, evaluation):
    """One row per take: evaluation, speaker, reference, hypothesis, pause_s, seconds."""
    rows = []
    for take in takes:
        clock = time.perf_counter()
        result = transcribe_take(classifier, strings_model, take.samples, take.sample_rate)
        rows.append(
            {
                "evaluation": evaluation,
                "speaker": take.speaker,
                "reference": take.digits,
                "hypothesis": result["digits"],
                "pause_s": round(take.pause_s, 4),
                "duration_s": round(take.samples.size / take.sample_rate, 3),
                "seconds": round(time.perf_counter() - clock, 4),
            }
        )
    return pd.DataFrame(rows)


def bucket_table(read):
    """by_bucket() of every evaluation in ``read`` (rows of read_takes), stacked."""
    tables = []
    for evaluation, group in read.groupby("evaluation", sort=False):
        scored = score_strings(group.reference, group.hypothesis, group.pause_s)
        tables.append(by_bucket(scored).assign(evaluation=evaluation))
    columns = ["evaluation", "bucket", "takes", "digits", "string_accuracy", "digit_error_rate"]
    return pd.concat(tables, ignore_index=True)[columns]

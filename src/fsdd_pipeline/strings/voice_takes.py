"""String takes spoken by the training voices, for the word segmenter.

FSDD has only isolated words of six men, so the segmenter's takes made of them have a
pause, or a short overlap, between words, and only men's words. The training voices
(voices.training_voices: espeak-ng voices, women's variants among them, that share no
dialect-variant pair with the validation voices) give two more kinds of take:

- connected speech: people and TTS engines reading a number run the words together, with
  coarticulation no joined clips have. Each voice reads digit strings as one text;
  espeak-ng's own word events give where every word starts, a word ends where the next
  starts (the last where its sound ends), and the utterance is placed in a take with a
  lead, a noise floor and a gain drawn as for every other string take (strings.takes);
- words said one by one: each voice's ten words joined as FSDD's clips are
  (strings.takes.draw_string_takes), so that the segmenter sees longer, higher words than
  FSDD's whole (a woman's slow "seven" was cut in two, its "s" read as a word).

They train the second segmenter of the blend (strings.evaluation.train_segmenter,
segmentation.BlendedSegmenter); what they are worth, in LOSO folds and on the validation
voices' strings: benchmarks/strings_study.py (docs/digit_strings.md).
"""

import numpy as np

from fsdd_pipeline.audio.resampling import resample
from fsdd_pipeline.strings.takes import StringTake, draw_string_takes, noisy_take, word_extent
from fsdd_pipeline.voices.espeak_library import synthesize_texts, synthesize_words
from fsdd_pipeline.voices.training_voices import (
    SPEAKER_PREFIX,
    TrainingVoicesError,
    draw_training_voices,
    library_name,
)
from fsdd_pipeline.voices.tts import DIGIT_WORDS, at_speech_peak


def voice_string_takes(voice, count, sample_rate, seed, settings, comma_probability=0.0):
    """``count`` StringTakes of ``voice`` (a TrainingVoice) reading digit strings (lengths
    ``settings.digits``) as connected speech, or with probability ``comma_probability`` with
    a comma (a pause) after every word, reproducible from ``seed``."""
    rng = np.random.default_rng(seed)
    strings = [
        rng.integers(0, 10, size=int(rng.integers(settings.digits[0], settings.digits[1] + 1)))
        for _ in range(count)
    ]
    separators = [", " if rng.random() < comma_probability else " " for _ in strings]
    texts = [
        separator.join(DIGIT_WORDS[digit] for digit in digits)
        for separator, digits in zip(separators, strings, strict=True)
    ]
    spoken, rate = synthesize_texts(library_name(voice.name), voice.rate, voice.pitch, texts)
    takes = []
    for digits, (samples, starts) in zip(strings, spoken, strict=True):
        if len(starts) != len(digits):
            raise TrainingVoicesError(
                f"training voice {voice.label}: espeak-ng marked {len(starts)} words in "
                f"{len(digits)} digits"
            )
        samples = at_speech_peak(resample(samples, rate, sample_rate)).astype(np.float64)
        scale = sample_rate / rate
        first, last = word_extent(samples, sample_rate)
        bounds = [int(round(start * scale)) for start in starts]
        bounds[0] = max(bounds[0], first)
        bounds.append(max(last, bounds[-1] + 1))
        lead = int(round(rng.uniform(*settings.lead_s) * sample_rate))
        tail = int(round(rng.uniform(*settings.lead_s) * sample_rate))
        speech = samples[first:last] - samples[first:last].mean()
        take = np.concatenate([np.zeros(lead), speech, np.zeros(tail)])
        offset = lead - first
        words = []
        for begin, end, digit in zip(bounds[:-1], bounds[1:], digits, strict=True):
            # A word's sound within its span: a pause before the next word is not the word.
            first_loud, last_loud = word_extent(samples[begin:end], sample_rate)
            words.append(
                (
                    (begin + first_loud + offset) / sample_rate,
                    (begin + last_loud + offset) / sample_rate,
                    int(digit),
                )
            )
        words = tuple(words)
        word_power = float(np.mean(np.square(speech)))
        takes.append(
            StringTake(
                noisy_take(take, word_power, sample_rate, rng, settings),
                sample_rate,
                words,
                0.0,
                SPEAKER_PREFIX + voice.label,
            )
        )
    return takes


def voice_word_takes(voice, count, sample_rate, seed, settings):
    """``count`` StringTakes of ``voice`` (a TrainingVoice) saying its ten words one by one,
    joined as FSDD's clips are (draw_string_takes with ``settings``), reproducible from
    ``seed``."""
    words, rate = synthesize_words(library_name(voice.name), voice.rate, voice.pitch, DIGIT_WORDS)
    clips = [
        (at_speech_peak(resample(samples, rate, sample_rate)), digit, f"{digit}_{voice.label}")
        for digit, samples in enumerate(words)
    ]
    speaker = SPEAKER_PREFIX + voice.label
    return draw_string_takes({speaker: clips}, count, sample_rate, seed, settings)


def training_voice_string_takes(
    voice_settings,
    validation_names,
    per_voice,
    sample_rate,
    seed,
    settings,
    comma_probability=0.0,
    words_per_voice=0,
):
    """``per_voice`` connected-speech takes (voice_string_takes) and ``words_per_voice``
    takes of words said one by one (voice_word_takes) of every training voice
    (draw_training_voices)."""
    takes = []
    for index, voice in enumerate(draw_training_voices(voice_settings, validation_names)):
        if per_voice:
            takes += voice_string_takes(
                voice, per_voice, sample_rate, seed + index, settings, comma_probability
            )
        if words_per_voice:
            takes += voice_word_takes(voice, words_per_voice, sample_rate, seed + index, settings)
    return takes

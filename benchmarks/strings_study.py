"""Study of the digit-string segmenter's settings in leave-one-speaker-out folds.

Takes of each speaker's own clips (strings.takes), embedded once; in every fold the
segmenter is trained on the other speakers' takes and decodes the held-out speaker's.
Run: nice -n 10 python -m benchmarks.strings_study RECORDINGS [TAKES_PER_SPEAKER]
     python -m benchmarks.strings_study relabel RECORDINGS 60 lda 2 3 2.0 0.5
     python -m benchmarks.strings_study cuts RECORDINGS 60   (from a full run's folder)
     python -m benchmarks.strings_study variants RECORDINGS 60 "" "onset_class=False"
     python -m benchmarks.strings_study named RECORDINGS 60 "takes=20;takes.speed=(0.85,1.15)"
     python -m benchmarks.strings_study oracle RECORDINGS 60   (after named, same folder)
     python -m benchmarks.strings_study frames40 RECORDINGS 60 "min_word_frames=4;context=2"
     STRINGS_STUDY_DRAW=1 python -m benchmarks.strings_study named ...   (another draw of
     every take: evaluation, training, training voices' and TTS strings)
     python -m benchmarks.strings_study named RECORDINGS 60 "takes=20;gru=64;blend=0.3"
     (frame classes from a bidirectional GRU, GruSegmenter, blended with the default's)
     STRINGS_STUDY_EXTENT_DB=50 python -m benchmarks.strings_study named ...   (every
     take's words cut at 50 dB below their loudest frame instead of WORD_EXTENT_DB;
     cached apart)
     python -m benchmarks.strings_study extent 35 50   (after named, same folder: the
     held-out speakers' clips read whole, cut to their word, and cut in a take's noise)
The last two also read digit strings spoken as connected speech by the validation voices
(config voices, 2 strings of 3-7 digits per voice, in realistic takes; espeak-ng, flite).
"""

import contextlib
import itertools
import os
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import soundfile

from fsdd_pipeline.features.embedding import EmbeddingParams, get_embedder
from fsdd_pipeline.strings import takes as string_takes
from fsdd_pipeline.strings.evaluation import embed_takes
from fsdd_pipeline.strings.metrics import by_bucket, score_strings, summarize
from fsdd_pipeline.strings.segmentation import (
    BlendedSegmenter,
    SegmenterParams,
    WordSegmenter,
    take_embeddings,
)
from fsdd_pipeline.strings.takes import StringTakeSettings, draw_string_takes, synthesize_take

CACHE = Path("/tmp/strings_study")
if "STRINGS_STUDY_EXTENT_DB" in os.environ:  # another cut of every take's words
    string_takes.WORD_EXTENT_DB = float(os.environ["STRINGS_STUDY_EXTENT_DB"])
    CACHE = CACHE.with_name(f"{CACHE.name}_extent{string_takes.WORD_EXTENT_DB:g}")
CONFIGS = (("lda", 1), ("lda", 0), ("lda", 2), ("logreg", 1))


def load_clips(folder):
    clips = {}
    for path in sorted(Path(folder).glob("*.wav")):
        digit, speaker, _ = path.stem.split("_")
        samples, rate = soundfile.read(path, dtype="float32")
        assert rate == 8000
        clips.setdefault(speaker, []).append((samples, int(digit), path.name))
    return clips


def takes_and_embeddings(folder, per_speaker, seed=0, **settings):
    """Takes of every speaker's own clips (StringTakeSettings changed by ``settings``) and
    their embeddings, cached by their settings."""
    tag = "".join(f"_{k}{v}" for k, v in sorted(settings.items())).replace(" ", "")
    cache = CACHE / f"takes_{per_speaker}_{seed}{tag}.npz"
    clips = load_clips(folder)
    takes = []
    for index, speaker in enumerate(sorted(clips)):
        for take in draw_string_takes(
            {speaker: clips[speaker]},
            per_speaker,
            8000,
            seed + index,
            StringTakeSettings(**settings),
        ):
            takes.append((speaker, take))
    if cache.exists():
        stored = np.load(cache, allow_pickle=True)
        return takes, list(stored["embeddings"])
    start = time.process_time()
    embeddings = embed_takes([t for _, t in takes], 8000)
    seconds = sum(len(t.samples) for _, t in takes) / 8000
    print(f"embedded {seconds:.0f} s of takes in {time.process_time() - start:.1f} s CPU")
    CACHE.mkdir(exist_ok=True)
    np.savez(cache, embeddings=np.array(embeddings, dtype=object))
    return takes, embeddings


def main(folder, per_speaker=60):
    takes, embeddings = takes_and_embeddings(folder, int(per_speaker))
    speakers = sorted({s for s, _ in takes})
    rows = []
    for kind, context in CONFIGS:
        C = 0.1
        log_probas = [None] * len(takes)
        for held_out in speakers:
            train = [i for i, (s, _) in enumerate(takes) if s != held_out]
            clock = time.process_time()
            segmenter = WordSegmenter(
                SegmenterParams(context=context, classifier=kind, C=C, max_iter=300)
            ).fit([embeddings[i] for i in train], [takes[i][1].words for i in train])
            print(f"fold {held_out}: trained in {time.process_time() - clock:.1f} s", flush=True)
            for i, (s, _) in enumerate(takes):
                if s == held_out:
                    log_probas[i] = segmenter.frame_log_proba(embeddings[i])
            prior = segmenter.log_prior_
        for m, penalty, power in itertools.product((1, 2, 3), (0.0, 2.0, 5.0), (0.0, 0.5)):
            decoder = WordSegmenter(SegmenterParams(context, kind, C, 300, m, penalty, power))
            decoder.log_prior_ = prior
            hyps = ["".join(str(d) for *_, d in decoder.decode(lp)) for lp in log_probas]
            scored = score_strings(
                [t.digits for _, t in takes], hyps, [t.pause_s for _, t in takes]
            )
            table = by_bucket(scored).set_index("bucket")
            rows.append(
                {
                    "classifier": kind,
                    "context": context,
                    "C": C,
                    "min_frames": m,
                    "penalty": penalty,
                    "prior_power": power,
                    **{f"der_{b}": table.loc[b, "digit_error_rate"] for b in table.index},
                    **{f"acc_{b}": table.loc[b, "string_accuracy"] for b in table.index},
                }
            )
        print(pd.DataFrame(rows).sort_values("der_all").head(5).to_string(), flush=True)
    result = pd.DataFrame(rows).sort_values("der_all")
    result.to_csv(CACHE / "grid.csv", index=False)
    print(result.head(15).to_string())


def fold_models(takes, embeddings, params=None):
    """(held-out speaker, segmenter, champion) of every LOSO fold: the segmenter (``params``,
    default the config's) fitted on the other speakers' takes, the config's champion recipe
    trained without the speaker. Run from a full run's folder (config/, results/dataset/)."""
    import yaml

    from fsdd_pipeline.data.dataset import read_dataset
    from fsdd_pipeline.evaluation.loso import fold_splits
    from fsdd_pipeline.features.spectral import FeatureParams
    from fsdd_pipeline.models.inputs import InputSpec
    from fsdd_pipeline.models.training import train_model

    config = yaml.safe_load(Path("config/config.yaml").read_text())
    model_config = config["models"]["emb_frame_logreg_speeds"]
    spec = InputSpec.from_model_config(
        model_config, config["training"]["frames"], FeatureParams.from_config(config)
    )
    params = params or SegmenterParams(**config["strings"]["segmenter"])
    dataset = read_dataset("results/dataset/features.parquet")
    for held_out in sorted({s for s, _ in takes}):
        train = [i for i, (s, _) in enumerate(takes) if s != held_out]
        segmenter = WordSegmenter(params).fit(
            [embeddings[i] for i in train], [takes[i][1].words for i in train]
        )
        train_frame, val_frame, _ = fold_splits(dataset, held_out)
        trained = train_model(model_config, spec, train_frame, val_frame, learning_curve=False)
        yield held_out, segmenter, trained.classifier


def relabel_study(folder, per_speaker=60, kind="lda", context=1, m=3, penalty=2.0, power=0.5):
    """Segmenter digits against the LOSO fold champion re-labelling every found word."""
    from fsdd_pipeline.strings.decode import StringsModel, transcribe_take

    params = SegmenterParams(int(context), kind, 0.1, 300, int(m), float(penalty), float(power))
    takes, embeddings = takes_and_embeddings(folder, int(per_speaker))
    rows = []
    for held_out, segmenter, classifier in fold_models(takes, embeddings, params):
        for mode in ("segmenter", "classifier", "both"):
            model = StringsModel(segmenter, relabel=mode)
            clock = time.process_time()
            for s, take in takes:
                if s != held_out:
                    continue
                result = transcribe_take(classifier, model, take.samples, 8000)
                rows.append(
                    {
                        "mode": mode,
                        "speaker": s,
                        "reference": take.digits,
                        "hypothesis": result["digits"],
                        "pause_s": take.pause_s,
                    }
                )
            print(f"{held_out} {mode}: {time.process_time() - clock:.1f} s", flush=True)
    rows = pd.DataFrame(rows)
    rows.to_csv(CACHE / "relabel.csv", index=False)
    for mode, group in rows.groupby("mode"):
        scored = score_strings(group.reference, group.hypothesis, group.pause_s)
        scored["length_error"] = scored.hypothesis.str.len() != scored.reference.str.len()
        print(mode, "takes with a wrong word count:", scored.length_error.mean())
        print(by_bucket(scored).to_string())


def _fold_words(segmenter, embeddings):
    """The segmenter's words of a take, undivided, with their mean frame probabilities."""
    from fsdd_pipeline.labels import N_CLASSES

    log_proba = segmenter.frame_log_proba(embeddings)
    digit_log_proba = segmenter.digit_log_proba(log_proba)
    words = []
    for first, last, digit in segmenter.decode(log_proba, split=False):
        mean = digit_log_proba[first : last + 1, :N_CLASSES].mean(axis=0)
        words.append((first, last, digit, np.exp(mean - np.logaddexp.reduce(mean))))
    return words


def cuts_study(folder, per_speaker=60):
    """How words are cut for the champion (margins, halfway to the neighbours) and the split
    of over-long words, in the LOSO folds of the relabel study (the config's segmenter)."""
    from fsdd_pipeline.strings import decode
    from fsdd_pipeline.strings.segmentation import split_long_words

    takes, embeddings = takes_and_embeddings(folder, int(per_speaker))
    folds = {}
    for held_out, segmenter, classifier in fold_models(takes, embeddings):
        found = {
            i: _fold_words(segmenter, embeddings[i])
            for i, (s, _) in enumerate(takes)
            if s == held_out
        }
        folds[held_out] = (classifier, found, segmenter.word_frames_)

    def digits_of(classifier, samples, words, margin, halfway):
        duration = samples.size / 8000
        if duration <= decode.ONE_WORD_MAX_S or (
            len(words) <= 1 and duration <= decode.ONE_WORD_TAKE_S
        ):
            features, _ = classifier.clip_features_and_words(samples, 8000, "take")
            return [int(np.argmax(classifier.predict_proba_matrices([features])[0]))]
        extents = [decode.word_seconds(first, last, duration) for first, last, *_ in words]
        digits = []
        for k, (start, end) in enumerate(extents):
            low = extents[k - 1][1] if k else 0.0
            high = extents[k + 1][0] if k + 1 < len(extents) else duration
            if halfway:
                low, high = (low + start) / 2 if k else 0.0, (end + high) / 2
            crop = (max(low, start - margin), min(high, end + margin))
            probabilities = decode.classify_word(classifier, samples, 8000, *crop, "take")
            digits.append(int(np.argmax(words[k][3] if probabilities is None else probabilities)))
        return digits

    variants = [(0.15, False, 0), (0.25, False, 0), (0.35, False, 0), (0.25, True, 0)]
    variants += [(0.5, True, 0), (0.15, False, 1.6), (0.15, False, 1.8), (0.15, False, 2.0)]
    variants += [(0.25, True, 1.8), (0.5, True, 1.8)]
    for margin, halfway, factor in variants:
        hypotheses = []
        for i, (speaker, take) in enumerate(takes):
            classifier, found, word_frames = folds[speaker]
            words = found[i]
            if factor:
                cut = split_long_words([w[:3] for w in words], word_frames, factor)
                probability = {w[0]: w[3] for w in words}
                words = [(a, b, d, probability.get(a, np.full(10, 0.1))) for a, b, d in cut]
            digits = digits_of(classifier, take.samples, words, margin, halfway)
            hypotheses.append("".join(map(str, digits)))
        scored = score_strings(
            [t.digits for _, t in takes], hypotheses, [t.pause_s for _, t in takes]
        )
        table = by_bucket(scored).set_index("bucket")
        print(
            f"margin {margin} s{' (halfway)' if halfway else ''}, split {factor or 'never'}: "
            + " ".join(f"{b} {100 * table.loc[b, 'digit_error_rate']:.1f}%" for b in table.index)
            + f", exact {100 * table.loc['all', 'string_accuracy']:.1f}%",
            flush=True,
        )


def tts_string_takes(count_per_voice=2, seed=0):
    """Digit strings read as connected speech by the config's validation voices, each in a
    realistic take, and their embeddings (cached): [(reference, family, samples)], [emb]."""
    import yaml

    from fsdd_pipeline.audio.realistic_takes import NOISE_EXPONENTS, place_in_take
    from fsdd_pipeline.voices.tts import DIGIT_WORDS, synthesize, voices_from_config

    cache = CACHE / f"tts_{count_per_voice}_{seed}.npz"
    if cache.exists():
        stored = np.load(cache, allow_pickle=True)
        return list(stored["takes"]), list(stored["embeddings"])
    config = yaml.safe_load((Path(__file__).parents[1] / "config/config.yaml").read_text())
    rng = np.random.default_rng(seed)
    takes = []
    for voice in voices_from_config(config["voices"]):
        for _ in range(count_per_voice):
            digits = rng.integers(0, 10, size=int(rng.integers(3, 8)))
            text = " ".join(DIGIT_WORDS[d] for d in digits)
            samples = synthesize(voice, text, 8000)
            take = place_in_take(
                samples,
                8000,
                rng,
                duration_s=samples.size / 8000 + 1.0,
                snr_db=float(rng.uniform(20, 35)),
                noise_color=str(rng.choice(sorted(NOISE_EXPONENTS))),
                dc_offset=float(rng.uniform(-0.02, 0.02)),
                gain_db=float(rng.uniform(-20, 0)),
            )
            takes.append(("".join(map(str, digits)), voice.family, take.samples))
    embedder = get_embedder(EmbeddingParams())
    embeddings = [take_embeddings(samples, 8000, embedder) for *_, samples in takes]
    CACHE.mkdir(exist_ok=True)
    np.savez(
        cache,
        takes=np.array(takes, dtype=object),
        embeddings=np.array(embeddings, dtype=object),
    )
    return takes, embeddings


# The pauses of the joined voices' takes: people reading digits one by one, quickly to slowly.
JOINED_PAUSES_S = (0.08, 0.15, 0.3, 0.6)


def tts_joined_takes(per_pause=2, seed=0):
    """Each validation voice's own ten words, said one by one, joined by the pauses of
    JOINED_PAUSES_S (``per_pause`` takes of 3-7 digits at each) over a noise floor and a
    gain as FSDD's takes (strings.takes): how people other than FSDD's men read a PIN or a
    phone number digit by digit. [(StringTake, family)], cached."""
    import joblib
    import yaml

    from fsdd_pipeline.voices.tts import DIGIT_WORDS, synthesize, voices_from_config

    cache = CACHE / f"tts_joined_{per_pause}_{seed}.joblib"
    if cache.exists():
        return joblib.load(cache)
    config = yaml.safe_load((Path(__file__).parents[1] / "config/config.yaml").read_text())
    settings = StringTakeSettings(**{**config["strings"]["takes"], "overlap_probability": 0.0})
    rng = np.random.default_rng(seed)
    takes = []
    for voice in voices_from_config(config["voices"]):
        words = [(synthesize(voice, word, 8000), digit) for digit, word in enumerate(DIGIT_WORDS)]
        for pause_s in JOINED_PAUSES_S:
            for _ in range(per_pause):
                chosen = [words[d] for d in rng.integers(0, 10, size=int(rng.integers(3, 8)))]
                take = synthesize_take(chosen, 8000, rng, settings, pause_s=pause_s)
                takes.append((take, voice.family))
    CACHE.mkdir(exist_ok=True)
    joblib.dump(takes, cache)
    return takes


def _report_joined(joined, hypotheses):
    """One line: the joined voices' takes, DER by pause and by family, and exact strings."""
    scored = score_strings(
        [t.digits for t, _ in joined], hypotheses, [t.pause_s for t, _ in joined]
    )
    scored["family"] = [f for _, f in joined]

    def der(group):
        return f"{100 * summarize(group).iloc[0]['digit_error_rate']:.1f}%"

    print(
        f"  joined voices: DER {der(scored)}, exact {100 * scored.exact.mean():.1f}% | "
        + " ".join(f"{p}s {der(g)}" for p, g in scored.groupby("pause_s"))
        + " | "
        + " ".join(f"{f} {der(g)}" for f, g in scored.groupby("family")),
        flush=True,
    )


def _changes(variant):
    """{key: value} of a variant string ``key=value;key=value`` (see _variant)."""
    return dict(item.split("=") for item in variant.split(";") if item)


def _variant(folder, per_speaker, variant, takes, embeddings, draw=0):
    """(SegmenterParams, training takes, their embeddings) of a variant string
    ``key=value;key=value``: SegmenterParams keys; ``takes=N``: training takes drawn anew
    (seed 1 + 100 x ``draw``, N per speaker) and ``takes.KEY=VALUE`` changing their
    StringTakeSettings; without either, the evaluation takes of the other speakers train
    the segmenter; ``voices=N`` / ``voicewords=N``: N takes per training voice added
    (voice_takes_and_embeddings; ``commas=P``: a share with pauses; ``voicecount=N``: N
    training voices instead of the config's); ``gru=UNITS`` (and
    ``gru.epochs=N``): GruSegmenter's frame classes instead of the linear classifier's
    (_segmenter_maker); ``relabel=MODE``: who names the words and ``blend=W``: two
    segmenters blended, the variant and the variant without these keys (named_study only;
    ``firstwords=N``: the first of them also trained with N takes of the training voices'
    words joined, as ``voicewords``)."""
    changes = _changes(variant)
    base = SegmenterParams()
    segmenter_changes = {
        k: type(getattr(base, k))(eval(v))
        for k, v in changes.items()
        if not k.startswith("takes") and k not in ("relabel", "denoise", *BLENDED)
    }
    params = SegmenterParams(**{**base.as_dict(), **segmenter_changes})
    train_takes, train_embeddings = takes, embeddings
    if any(k.startswith("takes") for k in changes):
        train_takes, train_embeddings = takes_and_embeddings(
            folder,
            int(changes.get("takes", per_speaker)),
            1 + 100 * draw,
            **{k[6:]: eval(v) for k, v in changes.items() if k.startswith("takes.")},
        )
    for key, connected in (("voices", True), ("voicewords", False)):
        if key in changes:
            voice_takes, voice_embeddings = voice_takes_and_embeddings(
                int(changes[key]),
                seed=100 * draw,
                connected=connected,
                commas=float(changes.get("commas", 0)),
                count=changes.get("voicecount"),
            )
            train_takes = train_takes + voice_takes
            train_embeddings = train_embeddings + voice_embeddings
    return params, train_takes, train_embeddings


def voice_takes_and_embeddings(per_voice, seed=0, connected=True, commas=0.0, count=None):
    """[(speaker, take)] of ``per_voice`` connected-speech takes of every training voice of
    the config (strings.voice_takes), or with ``connected=False`` takes of its ten words said
    one by one and joined as FSDD's clips are (strings.takes), and their embeddings, cached;
    ``count``: that many training voices drawn instead of the config's."""
    import hashlib
    import json

    import joblib
    import yaml

    from fsdd_pipeline.planning.validation_voices import espeak_validation_names
    from fsdd_pipeline.strings.voice_takes import training_voice_string_takes

    config = yaml.safe_load((Path(__file__).parents[1] / "config/config.yaml").read_text())
    validation = espeak_validation_names(config["voices"])
    voices = config["training_voices"] | ({"count": int(count)} if count else {})
    # Keyed by every setting the takes depend on, so a changed config draws them anew.
    drawn_by = [voices, validation, config["strings"]["takes"], commas]
    digest = hashlib.sha256(json.dumps(drawn_by, sort_keys=True).encode()).hexdigest()[:12]
    tag = "connected" if connected else "words"
    cache = CACHE / f"voice_takes_{tag}_{per_voice}_{seed}_{digest}.joblib"
    if cache.exists():
        return joblib.load(cache)
    settings = StringTakeSettings(**config["strings"]["takes"])
    if connected:
        takes = training_voice_string_takes(
            voices, validation, per_voice, 8000, seed, settings, commas
        )
    else:
        takes = training_voice_string_takes(
            voices, validation, 0, 8000, seed, settings, words_per_voice=per_voice
        )
    embeddings = embed_takes(takes, 8000)
    CACHE.mkdir(exist_ok=True)
    result = ([(t.speaker, t) for t in takes], embeddings)
    joblib.dump(result, cache)
    return result


def _fold_segmenters(params, train_takes, train_embeddings, speakers, make=WordSegmenter):
    """{held-out speaker: segmenter fitted without them}, and the segmenter of all takes;
    ``make(params)`` builds an unfitted segmenter."""
    folds = {}
    for held_out in speakers:
        train = [i for i, (s, _) in enumerate(train_takes) if s != held_out]
        folds[held_out] = make(params).fit(
            [train_embeddings[i] for i in train], [train_takes[i][1].words for i in train]
        )
    return folds, make(params).fit(train_embeddings, [t.words for _, t in train_takes])


class GruSegmenter(WordSegmenter):
    """The segmenter with its frame classes from a small bidirectional GRU over the take's
    standardized embedding frames instead of a linear classifier of each frame and its
    neighbours: the whole take is its context. Decoded as WordSegmenter decodes."""

    def __init__(self, params=None, units=48, epochs=40, seed=0):
        super().__init__(params or SegmenterParams())
        self.units, self.epochs, self.seed = int(units), int(epochs), int(seed)

    def fit(self, embeddings_list, words_list):
        import keras

        from fsdd_pipeline.models.training import configure_tensorflow

        configure_tensorflow(2, self.seed)
        labels, n_classes = self.frame_targets(embeddings_list, words_list)
        frames = np.concatenate(embeddings_list)
        self.mean_, self.scale_ = frames.mean(axis=0), frames.std(axis=0) + 1e-6
        longest = max(len(e) for e in embeddings_list)
        x = np.zeros((len(embeddings_list), longest, frames.shape[1]), np.float32)
        y = np.zeros((len(embeddings_list), longest), np.int64)
        weight = np.zeros((len(embeddings_list), longest), np.float32)
        for i, (e, label) in enumerate(zip(embeddings_list, labels, strict=True)):
            x[i, : len(e)] = (e - self.mean_) / self.scale_
            y[i, : len(e)], weight[i, : len(e)] = label, 1.0
        inputs = keras.Input((None, frames.shape[1]))
        hidden = keras.layers.Masking(0.0)(inputs)
        hidden = keras.layers.Dropout(0.2)(hidden)
        hidden = keras.layers.Bidirectional(keras.layers.GRU(self.units, return_sequences=True))(
            hidden
        )
        hidden = keras.layers.Dropout(0.2)(hidden)
        outputs = keras.layers.Dense(n_classes, activation="softmax")(hidden)
        self.model_ = keras.Model(inputs, outputs)
        self.model_.compile(
            optimizer=keras.optimizers.Adam(2e-3), loss="sparse_categorical_crossentropy"
        )
        self.model_.fit(x, y, sample_weight=weight, epochs=self.epochs, batch_size=16, verbose=0)
        self.fit_priors(labels, n_classes, embeddings_list, words_list)
        return self

    def frame_log_proba(self, embeddings):
        if len(embeddings) == 0:
            return np.zeros((0, len(self.log_prior_)))
        x = ((np.asarray(embeddings) - self.mean_) / self.scale_).astype(np.float32)
        probabilities = self.model_.predict_on_batch(x[None])[0]
        return np.log(np.clip(probabilities.astype(np.float64), 1e-12, 1.0))


def _segmenter_maker(changes):
    """WordSegmenter, or GruSegmenter with ``gru=UNITS`` (``gru.epochs=N``)."""
    if "gru" not in changes:
        return WordSegmenter
    return lambda params: GruSegmenter(
        params, int(changes["gru"]), int(changes.get("gru.epochs", 40))
    )


def _report(name, takes, hypotheses, tts, tts_hypotheses):
    """One line: LOSO DER by pause bucket and exact strings; TTS DER, exact, per family."""
    scored = score_strings([t.digits for _, t in takes], hypotheses, [t.pause_s for _, t in takes])
    table = by_bucket(scored).set_index("bucket")
    tts_scored = score_strings([r for r, *_ in tts], tts_hypotheses, [0.0] * len(tts))
    tts_scored["family"] = [f for _, f, _ in tts]
    families = {
        family: group.edits.sum() / group.length.sum()
        for family, group in tts_scored.groupby("family")
    }
    print(
        f"{name}: LOSO "
        + " ".join(f"{b} {100 * table.loc[b, 'digit_error_rate']:.1f}%" for b in table.index)
        + f", exact {100 * table.loc['all', 'string_accuracy']:.1f}%"
        + f" | TTS DER {100 * tts_scored.edits.sum() / tts_scored.length.sum():.1f}%"
        + f" exact {100 * tts_scored.exact.mean():.1f}% "
        + " ".join(f"{f} {100 * v:.1f}%" for f, v in families.items()),
        flush=True,
    )


def variants_study(folder, per_speaker=60, *variants):
    """Segmenter-alone DER of parameter variants (see _variant) in the LOSO folds and on
    TTS connected speech (the segmenter trained on all six speakers' takes)."""
    takes, embeddings = takes_and_embeddings(folder, int(per_speaker))
    tts, tts_embeddings = tts_string_takes()
    speakers = sorted({s for s, _ in takes})

    def digits(segmenter, embedding):
        return "".join(str(d) for *_, d in segmenter.decode(segmenter.frame_log_proba(embedding)))

    for variant in variants or ("",):
        changes = _changes(variant)
        folds, segmenter = _fold_segmenters(
            *_variant(folder, per_speaker, variant, takes, embeddings),
            speakers,
            _segmenter_maker(changes),
        )
        hypotheses = [digits(folds[s], e) for (s, _), e in zip(takes, embeddings, strict=True)]
        tts_hypotheses = [digits(segmenter, e) for e in tts_embeddings]
        _report(variant or "default", takes, hypotheses, tts, tts_hypotheses)


def half_step_embeddings(samples_list):
    """Every take's embeddings at 40 ms: its own frames (centred on 0, 80, 160 ms ...)
    interleaved with those of the take 40 ms later (centred on 40, 120 ms ...)."""
    from fsdd_pipeline.strings.segmentation import FRAME_S

    embedder = get_embedder(EmbeddingParams())
    shift = int(round(FRAME_S / 2 * 8000))
    fine = []
    for samples in samples_list:
        own = take_embeddings(np.asarray(samples, np.float32), 8000, embedder)
        later = take_embeddings(np.asarray(samples, np.float32)[shift:], 8000, embedder)
        later = later[: len(own)]
        frames = np.empty((len(own) + len(later), own.shape[1]), own.dtype)
        frames[0::2], frames[1::2] = own, later
        fine.append(frames)
    return fine


def frames40_study(folder, per_speaker=60, *variants):
    """Segmenter-alone DER (as variants_study) with 40 ms frames instead of 80 ms: the
    embeddings at half the step (half_step_embeddings), SegmenterParams ``variants``
    (key=value;...), training takes as the shipped config's (20 per speaker, 0.8-1.25x)."""
    from fsdd_pipeline.strings import segmentation

    takes, embeddings = takes_and_embeddings(folder, int(per_speaker))
    train_takes, train_embeddings = takes_and_embeddings(folder, 20, 1, speed=(0.8, 1.25))
    tts, tts_embeddings = tts_string_takes()
    speakers = sorted({s for s, _ in takes})

    def report(name, params, evaluated, trained, spoken):
        folds, segmenter = _fold_segmenters(params, train_takes, trained, speakers)
        hypotheses = [
            "".join(str(d) for *_, d in folds[s].decode(folds[s].frame_log_proba(e)))
            for (s, _), e in zip(takes, evaluated, strict=True)
        ]
        tts_hypotheses = [
            "".join(str(d) for *_, d in segmenter.decode(segmenter.frame_log_proba(e)))
            for e in spoken
        ]
        _report(name, takes, hypotheses, tts, tts_hypotheses)

    report("80 ms", SegmenterParams(), embeddings, train_embeddings, tts_embeddings)
    fine = half_step_embeddings([t.samples for _, t in takes])
    train_fine = half_step_embeddings([t.samples for _, t in train_takes])
    tts_fine = half_step_embeddings([samples for *_, samples in tts])
    base = SegmenterParams()
    frame_s = segmentation.FRAME_S
    segmentation.FRAME_S = frame_s / 2  # frame labels and word lengths at 40 ms
    try:
        for variant in variants or ("min_word_frames=4;context=2",):
            changes = _changes(variant)
            params = {k: type(getattr(base, k))(eval(v)) for k, v in changes.items()}
            report(
                f"40 ms {variant}",
                SegmenterParams(**{**base.as_dict(), **params}),
                fine,
                train_fine,
                tts_fine,
            )
    finally:
        segmentation.FRAME_S = frame_s


def spectral_subtraction(samples, rate, spans, over_subtraction, floor=0.05):
    """``samples`` with the noise spectrum of the frames outside ``spans`` ((start_s,
    end_s) of the words, 50 ms around each) subtracted from every frame's power,
    ``over_subtraction`` times, each bin kept at least ``floor`` of its magnitude (32 ms
    windows, the take's own phases)."""
    from scipy import signal

    window, hop = int(0.032 * rate), int(0.008 * rate)
    _, times, spectrum = signal.stft(samples, rate, nperseg=window, noverlap=window - hop)
    inside = np.zeros(times.size, bool)
    for start_s, end_s in spans:
        inside |= (times >= start_s - 0.05) & (times <= end_s + 0.05)
    if (~inside).sum() < 5:
        return samples
    power = np.abs(spectrum) ** 2
    noise = power[:, ~inside].mean(axis=1, keepdims=True)
    gain = np.sqrt(np.maximum(1 - over_subtraction * noise / np.maximum(power, 1e-20), floor**2))
    _, cleaned = signal.istft(spectrum * gain, rate, nperseg=window, noverlap=window - hop)
    return cleaned[: samples.size].astype(np.float32)


@contextlib.contextmanager
def denoised_words(over_subtraction):
    """While active, the product names the words found in a take denoised by
    spectral_subtraction (noise from the frames outside those words); a study of
    named_study (variant key ``denoise=OVER_SUBTRACTION``), not the product's behaviour."""
    from fsdd_pipeline.strings import decode

    read_words = decode.read_words

    def read_denoised(classifier, strings_model, samples, rate, found, source):
        duration_s = samples.size / rate
        spans = [decode.word_seconds(first, last, duration_s) for first, last, *_ in found]
        cleaned = spectral_subtraction(
            np.asarray(samples, np.float32), rate, spans, over_subtraction
        )
        return read_words(classifier, strings_model, cleaned, rate, found, source)

    decode.read_words = read_denoised
    try:
        yield
    finally:
        decode.read_words = read_words


BLENDED = (
    "voices",
    "voicewords",
    "voicecount",
    "firstwords",
    "commas",
    "blend",
    "gru",
    "gru.epochs",
)


def _report_voice_words(champion, strings_model):
    """The run's validation voices' single words (results/voices/clips.parquet, clean and
    in takes) scored as the voices report scores them (voices.validation.predict_clips: as
    fsdd-predict answers) with ``strings_model``: accuracy per condition, of "seven" and of
    women's words, and the share read as more than one word."""
    import copy

    from fsdd_pipeline.voices.validation import predict_clips

    reader = copy.copy(champion)  # the champion, reading takes with this variant's segmenter
    reader.strings_model = strings_model
    clips = predict_clips(reader, pd.read_parquet("results/voices/clips.parquet"), 8000)
    clips["right"] = clips.predicted == clips.digit
    clips["split"] = clips.digits.str.len() > 1
    by = clips.groupby("condition")
    print(
        "  voices' words:",
        " ".join(f"{c} {g.right.mean():.1%}" for c, g in by),
        "| seven",
        " ".join(f"{c} {g[g.digit == 7].right.mean():.1%}" for c, g in by),
        "| female",
        " ".join(f"{c} {g[g.family == 'female'].right.mean():.1%}" for c, g in by),
        f"| read as several words {clips.split.mean():.1%}",
        flush=True,
    )


def named_study(folder, per_speaker=60, *variants):
    """Variants as the product reads strings (the words named by the champion): in the LOSO
    folds (each fold's champion and segmenter trained without the held-out speaker) and on
    TTS connected speech (the run's champion, the segmenter on all speakers' takes). Run
    from a full run's folder."""
    from fsdd_pipeline.models.classifier import DigitClassifier
    from fsdd_pipeline.strings.decode import StringsModel, transcribe_take

    # Another draw of every take (evaluation, training, voices, TTS strings): the spread.
    draw = int(os.environ.get("STRINGS_STUDY_DRAW", "0"))
    takes, embeddings = takes_and_embeddings(folder, int(per_speaker), seed=100 * draw)
    tts, _ = tts_string_takes(seed=draw)
    joined = tts_joined_takes(seed=draw)
    import joblib

    cached = CACHE / "fold_champions.joblib"  # the fold champions of this run's folder
    if cached.exists():
        champions = joblib.load(cached)
    else:
        champions = {held_out: model for held_out, _, model in fold_models(takes, embeddings)}
        joblib.dump(champions, cached)
    # The voices' takes are read by this run's model (STRINGS_STUDY_CHAMPION; the tables up
    # to the sixth study used emb_frame_logreg_speeds).
    champion_name = os.environ.get("STRINGS_STUDY_CHAMPION", "emb_frame_logreg_speeds")
    champion = DigitClassifier.load(f"results/models/{champion_name}/model")
    for number, variant in enumerate(variants or ("",)):
        changes = _changes(variant)
        folds, segmenter = _fold_segmenters(
            *_variant(folder, per_speaker, variant, takes, embeddings, draw),
            sorted(champions),
            _segmenter_maker(changes),
        )
        if "blend" in changes:  # blended with the same variant without the BLENDED keys
            plain = ";".join(
                item for item in variant.split(";") if item.split("=")[0] not in BLENDED
            )
            if "firstwords" in changes:  # the voices' words joined in the first one too
                plain += f";voicewords={changes['firstwords']}"
            plain_folds, plain_segmenter = _fold_segmenters(
                *_variant(folder, per_speaker, plain, takes, embeddings, draw), sorted(champions)
            )
            weight = float(changes["blend"])
            folds = {s: BlendedSegmenter(plain_folds[s], folds[s], weight) for s in folds}
            segmenter = BlendedSegmenter(plain_segmenter, segmenter, weight)
        relabel = changes.get("relabel", "classifier")
        denoise = float(changes.get("denoise", 0))
        with denoised_words(denoise) if denoise else contextlib.nullcontext():
            hypotheses = [
                transcribe_take(
                    champions[s], StringsModel(folds[s], relabel=relabel), take.samples, 8000
                )["digits"]
                for s, take in takes
            ]
            model = StringsModel(segmenter, relabel=relabel)
            tts_hypotheses = [transcribe_take(champion, model, x, 8000)["digits"] for *_, x in tts]
            joined_hypotheses = [
                transcribe_take(champion, model, take.samples, 8000)["digits"] for take, _ in joined
            ]
        _report(f"named {variant or 'default'}", takes, hypotheses, tts, tts_hypotheses)
        _report_joined(joined, joined_hypotheses)
        _report_voice_words(champion, model)
        pd.DataFrame(
            {
                "set": ["loso"] * len(takes) + ["tts"] * len(tts) + ["joined"] * len(joined),
                "group": [s for s, _ in takes] + [f for _, f, _ in tts] + [f for _, f in joined],
                "reference": [t.digits for _, t in takes]
                + [r for r, *_ in tts]
                + [t.digits for t, _ in joined],
                "hypothesis": hypotheses + tts_hypotheses + joined_hypotheses,
                "pause_s": [t.pause_s for _, t in takes]
                + [0.0] * len(tts)
                + [t.pause_s for t, _ in joined],
            }
        ).to_csv(CACHE / f"named_{number}.csv", index=False)


def oracle_study(folder, per_speaker=60):
    """The floor segmentation cannot go below: each word of the LOSO takes named by its
    fold's champion on its true extents (exact; with the product's margins stopping at the
    neighbours; exact in the take denoised with its true pauses' noise), per pause bucket.
    Run from a folder where named_study cached the fold champions."""
    import joblib

    from fsdd_pipeline.strings.decode import WORD_MARGIN_S, classify_word
    from fsdd_pipeline.strings.metrics import pause_bucket

    takes, _ = takes_and_embeddings(folder, int(per_speaker))
    champions = joblib.load(CACHE / "fold_champions.joblib")
    rows = []
    for speaker, take in takes:
        duration_s = take.samples.size / take.sample_rate
        words = list(take.words)
        # The take denoised with the noise of its true pauses (spectral_subtraction, 2x).
        denoised = spectral_subtraction(
            take.samples, take.sample_rate, [(start, end) for start, end, _ in words], 2.0
        )
        for index, (start_s, end_s, digit) in enumerate(words):
            low = words[index - 1][1] if index else 0.0
            high = words[index + 1][0] if index + 1 < len(words) else duration_s
            margins = (max(low, start_s - WORD_MARGIN_S), min(high, end_s + WORD_MARGIN_S))
            for extent, samples, (first, last) in (
                ("exact", take.samples, (start_s, end_s)),
                ("margins", take.samples, margins),
                ("exact, denoised", denoised, (start_s, end_s)),
            ):
                probabilities = classify_word(
                    champions[speaker], samples, take.sample_rate, first, last, "take"
                )
                wrong = probabilities is None or int(np.argmax(probabilities)) != digit
                rows.append(
                    {"bucket": pause_bucket(take.pause_s), "extent": extent, "wrong": wrong}
                )
    table = pd.DataFrame(rows).groupby(["bucket", "extent"])["wrong"].agg(["size", "mean"])
    print((table.assign(mean=100 * table["mean"]).round(2)).to_string(), flush=True)


def extent_study(*extents_db):
    """Each held-out speaker's clips read by its fold champion (cached by named_study):
    as recorded, cut to its word at each of ``extents_db`` below its loudest frame (as the
    takes cut them), and so cut with 0.3 s of silence each side under a take's noise floor
    (StringTakeSettings' SNR and colours). What cutting and the noise cost the words of a
    take, apart from the segmenter."""
    import joblib

    from fsdd_pipeline.data.dataset import read_dataset
    from fsdd_pipeline.strings.takes import noisy_take, word_cut

    champions = joblib.load(CACHE / "fold_champions.joblib")
    dataset = read_dataset("results/dataset/features.parquet")
    settings, rows = StringTakeSettings(), []
    for number, extent_db in enumerate(map(float, extents_db or (string_takes.WORD_EXTENT_DB,))):
        string_takes.WORD_EXTENT_DB = extent_db
        rng = np.random.default_rng(0)
        for speaker, champion in sorted(champions.items()):
            for row in dataset[dataset.speaker == speaker].itertuples():
                samples, rate = np.asarray(row.samples, np.float64), int(row.sample_rate)
                cut = word_cut(samples, rate)
                silence = np.zeros(int(0.3 * rate))
                placed = np.concatenate([silence, cut, silence])
                in_noise = noisy_take(placed, float(np.mean(cut**2)), rate, rng, settings)
                views = [(f"cut at {extent_db:g} dB", cut)]
                views.append((f"cut at {extent_db:g} dB, in a take's noise", in_noise))
                if not number:
                    views.append(("recorded", samples))
                for view, audio in views:
                    probabilities = champion.predict_proba_samples(
                        [(audio.astype(np.float32), rate)]
                    )[0]
                    right = int(np.argmax(probabilities)) == int(row.digit)
                    rows.append({"view": view, "speaker": speaker, "right": right})
    table = pd.DataFrame(rows).groupby(["view", "speaker"])["right"].mean().unstack()
    table["mean"] = table.mean(axis=1)
    print((100 * table).round(2).to_string(), flush=True)


if __name__ == "__main__":
    if sys.argv[1] == "relabel":
        relabel_study(*sys.argv[2:])
    elif sys.argv[1] == "named":
        named_study(*sys.argv[2:])
    elif sys.argv[1] == "variants":
        variants_study(*sys.argv[2:])
    elif sys.argv[1] == "oracle":
        oracle_study(*sys.argv[2:])
    elif sys.argv[1] == "frames40":
        frames40_study(*sys.argv[2:])
    elif sys.argv[1] == "cuts":
        cuts_study(*sys.argv[2:])
    elif sys.argv[1] == "extent":
        extent_study(*sys.argv[2:])
    else:
        main(*sys.argv[1:])

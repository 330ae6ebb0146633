"""Study of the digit-string segmenter's settings in leave-one-speaker-out folds.

Takes of each speaker's own clips (strings.takes), embedded once; in every fold the
segmenter is trained on the other speakers' takes and decodes the held-out speaker's.
Run: nice -n 10 python -m benchmarks.strings_study RECORDINGS [TAKES_PER_SPEAKER]
     python -m benchmarks.strings_study relabel RECORDINGS 60 lda 2 3 2.0 0.5
     python -m benchmarks.strings_study cuts RECORDINGS 60   (from a full run's folder)
"""

import itertools
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import soundfile

from fsdd_pipeline.features.embedding import EmbeddingParams, get_embedder
from fsdd_pipeline.strings.metrics import by_bucket, score_strings
from fsdd_pipeline.strings.segmentation import SegmenterParams, WordSegmenter, take_embeddings
from fsdd_pipeline.strings.takes import draw_string_takes

CACHE = Path("/tmp/strings_study")
CONFIGS = (("lda", 1), ("lda", 0), ("lda", 2), ("logreg", 1))


def load_clips(folder):
    clips = {}
    for path in sorted(Path(folder).glob("*.wav")):
        digit, speaker, _ = path.stem.split("_")
        samples, rate = soundfile.read(path, dtype="float32")
        assert rate == 8000
        clips.setdefault(speaker, []).append((samples, int(digit), path.name))
    return clips


def takes_and_embeddings(folder, per_speaker, seed=0):
    cache = CACHE / f"takes_{per_speaker}_{seed}.npz"
    clips = load_clips(folder)
    takes = []
    for index, speaker in enumerate(sorted(clips)):
        for take in draw_string_takes({speaker: clips[speaker]}, per_speaker, 8000, seed + index):
            takes.append((speaker, take))
    if cache.exists():
        stored = np.load(cache, allow_pickle=True)
        return takes, list(stored["embeddings"])
    embedder = get_embedder(EmbeddingParams())
    start = time.process_time()
    embeddings = [take_embeddings(t.samples, 8000, embedder) for _, t in takes]
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
    from fsdd_pipeline.strings.segmentation import viterbi_words

    log_proba = segmenter.frame_log_proba(embeddings)
    scores = log_proba - segmenter.params.prior_power * segmenter.log_prior_
    words = []
    for first, last, digit in viterbi_words(
        scores, segmenter.params.min_word_frames, segmenter.params.word_penalty
    ):
        mean = log_proba[first : last + 1, :N_CLASSES].mean(axis=0)
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


if __name__ == "__main__":
    if sys.argv[1] == "relabel":
        relabel_study(*sys.argv[2:])
    elif sys.argv[1] == "cuts":
        cuts_study(*sys.argv[2:])
    else:
        main(*sys.argv[1:])

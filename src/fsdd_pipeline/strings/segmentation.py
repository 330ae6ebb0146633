"""Word segmentation of a take: which 80 ms frames belong to which digit, and where each
word starts and ends.

Energy and pauses cannot tell the closure inside "six" from the pause between "six" and
"two", and connected speech has no pause at all. Here a model does: the frozen speech
embedding (features.embedding) runs once over the whole take, padded so that frame ``i``'s
0.775 s window is centred on ``i * FRAME_S``; a logistic regression gives every frame the
probabilities of 11 classes (the ten digits and GAP, "no digit / between words"), trained
on synthesized string takes whose frames are labelled by the word extent their centre falls
in; a Viterbi pass over word states with a minimum duration and a gap state turns them into
words. A long take is embedded in chunks of ``CHUNK_FRAMES`` (bit-identical frames: the
model has no padding in time), so memory stays bounded.
"""

from dataclasses import asdict, dataclass

import numpy as np

from fsdd_pipeline.audio.resampling import resample
from fsdd_pipeline.features.embedding import (
    EMBEDDING_SIZE,
    INT16_SCALE,
    MEL_HOP,
    MEL_WINDOW,
    MODEL_RATE,
    WINDOW_FRAMES,
    WINDOW_STEP,
)
from fsdd_pipeline.labels import N_CLASSES
from fsdd_pipeline.models.linear import as_arrays, standardized_logreg

GAP = N_CLASSES  # the 11th frame class: no digit, between words
ONSET = GAP + 1  # ONSET + d: the first frame of a word of digit d (SegmenterParams.onset_class)
FRAME_S = WINDOW_STEP * MEL_HOP / MODEL_RATE  # 0.08 s between embedding frames
# Model-rate samples from a window's first sample to its centre.
WINDOW_SPAN = (WINDOW_FRAMES - 1) * MEL_HOP + MEL_WINDOW
CENTRE_OFFSET = WINDOW_SPAN // 2
# Embedding frames per chunk of a long take (60 s): bounds the memory of the ONNX runs.
CHUNK_FRAMES = 750
SEGMENTER_FILE = "segmenter.joblib"


@dataclass(frozen=True)
class SegmenterParams:
    """Settings of the segmenter (from config ``strings.segmenter``).

    ``context``: neighbouring frames on each side stacked with a frame as its input;
    ``classifier``: "lda" (linear discriminant analysis with shrinkage, closed form) or
    "logreg" (logistic regression, ``C`` its inverse regularization); ``min_word_frames``: the
    fewest frames a word lasts in decoding; ``word_penalty``: log-probability paid for
    every word started (fewer invented words); ``prior_power``: every class's posterior is
    divided by its training share to this power (1: scaled likelihoods, 0: posteriors);
    ``split_factor``: a word decoded longer than this many times its digit's median length
    in the training takes is split into as many words of that length as fit (a digit said
    twice with no pause, "4 4", decodes as one long word); 0: never; ``onset_class``: a
    word's first frame is a class of its own per digit (20 word classes), and decoding
    enters a word only through it, so two like words said without a pause ("3 3") have a
    boundary to find (needs ``min_word_frames`` >= 2).
    """

    context: int = 1
    classifier: str = "lda"
    C: float = 0.1
    max_iter: int = 300
    min_word_frames: int = 2
    word_penalty: float = 1.0
    prior_power: float = 1.0
    split_factor: float = 1.8
    onset_class: bool = True

    def __post_init__(self):
        if self.onset_class and self.min_word_frames < 2:
            raise ValueError("segmenter onset_class needs min_word_frames >= 2")

    def as_dict(self):
        return asdict(self)


def model_audio(samples, sample_rate):
    """A take as the embedding takes it (16 kHz, int16 scale), padded so that embedding
    frame ``i`` is centred on the take's time ``i * FRAME_S`` from 0 to past its end."""
    samples = np.asarray(samples, dtype=np.float32)
    if sample_rate != MODEL_RATE:
        samples = resample(samples, sample_rate, MODEL_RATE)
    step = WINDOW_STEP * MEL_HOP
    frames = int(np.ceil(samples.size / step)) + 1
    right = (frames - 1) * step + WINDOW_SPAN - CENTRE_OFFSET - samples.size
    return (np.pad(samples, (CENTRE_OFFSET, max(0, right))) * INT16_SCALE).astype(np.float32)


def take_embeddings(samples, sample_rate, embedder, chunk_frames=CHUNK_FRAMES):
    """(frames, 96) embeddings of a whole take, frame ``i`` centred on ``i * FRAME_S`` s."""
    audio = model_audio(samples, sample_rate)
    step = WINDOW_STEP * MEL_HOP
    total = (audio.size - WINDOW_SPAN) // step + 1
    chunks = []
    for first in range(0, total, chunk_frames):
        last = min(total, first + chunk_frames)
        piece = audio[first * step : (last - 1) * step + WINDOW_SPAN]
        chunks.append(embedder.embed_model_audio(piece))
    return np.concatenate(chunks) if chunks else np.zeros((0, EMBEDDING_SIZE), np.float32)


def stacked(embeddings, context):
    """Every frame with its ``context`` neighbours on each side (edges repeated)."""
    if context == 0:
        return np.asarray(embeddings, dtype=np.float64)
    padded = np.pad(embeddings, ((context, context), (0, 0)), mode="edge")
    n = len(embeddings)
    return np.concatenate([padded[k : k + n] for k in range(2 * context + 1)], axis=1).astype(
        np.float64
    )


def frame_classifier(params):
    """The untrained frame classifier ``params.classifier`` names."""
    if params.classifier == "logreg":
        return standardized_logreg(params.C, params.max_iter)
    if params.classifier == "lda":
        from sklearn.discriminant_analysis import LinearDiscriminantAnalysis

        return LinearDiscriminantAnalysis(solver="lsqr", shrinkage="auto")
    raise ValueError(f"unknown segmenter classifier {params.classifier!r}: lda or logreg")


def frame_labels(n_frames, words, onset=False):
    """The class of every frame: the digit whose extent holds its centre, else GAP; with
    ``onset``, a word's first frame is ONSET + digit instead. ``words``: (start_s, end_s,
    digit); where extents overlap, the later word wins."""
    centres = np.arange(n_frames) * FRAME_S
    labels = np.full(n_frames, GAP, dtype=np.int64)
    for start_s, end_s, digit in words:
        inside = np.flatnonzero((centres >= start_s) & (centres < end_s))
        labels[inside] = int(digit)
        if onset and inside.size:
            labels[inside[0]] = ONSET + int(digit)
    return labels


class WordSegmenter:
    """Frame classifier + Viterbi decoding; ``fit`` on (embeddings, words) of takes."""

    def __init__(self, params=SegmenterParams()):
        self.params = params

    def fit(self, embeddings_list, words_list):
        x = np.concatenate([stacked(e, self.params.context) for e in embeddings_list])
        labels, n_classes = self.frame_targets(embeddings_list, words_list)
        y = np.concatenate(labels)
        missing = set(range(n_classes)) - set(y.tolist())
        if missing:
            raise ValueError(f"segmenter training frames lack classes {sorted(missing)}")
        # Kept as its arrays: the same numbers, and a process that reads strings does not
        # import scikit-learn to unpickle it.
        self.model_ = as_arrays(frame_classifier(self.params).fit(x, y))
        self.fit_priors(labels, n_classes, embeddings_list, words_list)
        return self

    def frame_targets(self, embeddings_list, words_list):
        """(every training take's frame classes, how many classes there are)."""
        onset = self.params.onset_class
        labels = [
            frame_labels(len(e), w, onset) for e, w in zip(embeddings_list, words_list, strict=True)
        ]
        return labels, ONSET + N_CLASSES if onset else N_CLASSES + 1

    def fit_priors(self, labels, n_classes, embeddings_list, words_list):
        """The frame classes' log-priors (decoding scales the posteriors by them) and the
        median frames of each digit's words (over-long words are split), from the training
        takes' frame classes ``labels`` (frame_targets)."""
        y = np.concatenate(labels)
        self.log_prior_ = np.log(np.bincount(y, minlength=n_classes) / len(y))
        self.word_frames_ = median_word_frames(embeddings_list, words_list)

    def frame_log_proba(self, embeddings):
        """(frames, classes) log-probabilities of the frame classes: the ten digits and
        GAP, then (``onset_class``) the ten digits' first frames."""
        if len(embeddings) == 0:
            return np.zeros((0, len(self.log_prior_)))
        return self.model_.predict_log_proba(stacked(embeddings, self.params.context))

    @staticmethod
    def digit_log_proba(log_proba):
        """(frames, 11) log-probabilities of the ten digits and GAP (a digit's first-frame
        class, when there is one, counted as that digit)."""
        if log_proba.shape[1] == N_CLASSES + 1:
            return log_proba
        merged = log_proba[:, : N_CLASSES + 1].copy()
        merged[:, :N_CLASSES] = np.logaddexp(merged[:, :N_CLASSES], log_proba[:, ONSET:])
        return merged

    def decode(self, log_proba, split=True):
        """Words found: a list of (first frame, last frame inclusive, digit); ``split``:
        over-long words split (``split_factor``)."""
        scores = log_proba - self.params.prior_power * self.log_prior_
        onset_scores = scores[:, ONSET:] if scores.shape[1] > ONSET else None
        words = viterbi_words(
            scores[:, : N_CLASSES + 1],
            self.params.min_word_frames,
            self.params.word_penalty,
            onset_scores,
        )
        # A segmenter saved before word lengths were kept decodes as it did.
        word_frames = getattr(self, "word_frames_", None)
        if word_frames is None or not self.params.split_factor or not split:
            return words
        return split_long_words(words, word_frames, self.params.split_factor)


class BlendedSegmenter:
    """Two fitted WordSegmenters' scaled frame likelihoods blended log-linearly, ``weight``
    on the second, decoded as the first decodes (its priors and word lengths).

    The first is trained on FSDD's takes, the second on those and the training voices'
    connected speech: the second alone misses fewer words of connected speech but invents
    words inside FSDD's; blended, the held-out speakers read as before and the validation
    voices' connected speech better (docs/digit_strings.md)."""

    def __init__(self, first, second, weight):
        if not 0 < weight <= 1:
            raise ValueError(f"segmenter blend weight must be in (0, 1], not {weight}")
        self.first, self.second, self.weight = first, second, float(weight)

    @property
    def params(self):
        return self.first.params

    def frame_log_proba(self, embeddings):
        """The blend of both segmenters' scaled likelihoods, times the first's priors (so
        that ``decode`` scales it back as it does a WordSegmenter's own)."""
        power = self.params.prior_power
        first = self.first.frame_log_proba(embeddings) - power * self.first.log_prior_
        second = self.second.frame_log_proba(embeddings) - power * self.second.log_prior_
        blended = (1 - self.weight) * first + self.weight * second
        return blended + power * self.first.log_prior_

    digit_log_proba = staticmethod(WordSegmenter.digit_log_proba)

    def decode(self, log_proba, split=True):
        return self.first.decode(log_proba, split)


def median_word_frames(embeddings_list, words_list):
    """(10,) median frames a word of each digit spans in the labelled takes (frames whose
    centre is inside its extent)."""
    lengths = [[] for _ in range(N_CLASSES)]
    for embeddings, words in zip(embeddings_list, words_list, strict=True):
        centres = np.arange(len(embeddings)) * FRAME_S
        for start_s, end_s, digit in words:
            lengths[int(digit)].append(
                int(np.count_nonzero((centres >= start_s) & (centres < end_s)))
            )
    return np.array([np.median(frames) if frames else np.inf for frames in lengths])


def split_long_words(words, word_frames, factor):
    """``words`` (first, last, digit) with every word longer than ``factor`` times its
    digit's median length cut into round(length / median) equal words of that digit."""
    result = []
    for first, last, digit in words:
        length, typical = last - first + 1, word_frames[digit]
        pieces = max(1, int(round(length / typical))) if length > factor * typical else 1
        bounds = np.linspace(first, last + 1, pieces + 1).round().astype(int)
        result += [(int(bounds[k]), int(bounds[k + 1]) - 1, digit) for k in range(pieces)]
    return result


def viterbi_words(scores, min_frames, word_penalty, onset_scores=None):
    """The best path through a gap state and, per digit, a chain of ``min_frames`` states
    whose last one repeats; a word may follow a word directly (connected speech, "1 1").
    ``scores`` (frames, 11) are per-frame log-scores of the ten digits and GAP;
    ``onset_scores`` (frames, 10), when given, score each chain's first state (a word's
    first frame) instead (min_frames >= 2). Returns [(first frame, last frame, digit)] in
    order."""
    n_frames = len(scores)
    if n_frames == 0:
        return []
    m = max(1, int(min_frames))
    n_states = 1 + N_CLASSES * m  # state 0: gap; 1 + d * m + k: digit d, k-th frame
    digit_of = np.concatenate([[GAP], np.repeat(np.arange(N_CLASSES), m)])
    position = np.concatenate([[-1], np.tile(np.arange(m), N_CLASSES)])
    firsts = np.flatnonzero(position == 0)
    lasts = np.flatnonzero(position == m - 1)
    emissions = scores[:, digit_of]
    if onset_scores is not None:
        emissions[:, firsts] = onset_scores[:, digit_of[firsts]]
    score = np.full(n_states, -np.inf)
    score[0] = emissions[0, 0]
    score[firsts] = emissions[0, firsts] - word_penalty
    back = np.zeros((n_frames, n_states), dtype=np.int32)
    entered = np.zeros((n_frames, n_states), dtype=bool)  # a word starts at (frame, state)
    entered[0, firsts] = True
    previous_in_chain = np.arange(n_states) - 1
    inner = np.flatnonzero(position > 0)
    exits = np.concatenate([[0], lasts])
    for t in range(1, n_frames):
        new = np.full(n_states, -np.inf)
        source = np.zeros(n_states, dtype=np.int32)
        # gap and every word's first state come from the gap or a word's last state
        best = exits[np.argmax(score[exits])]
        new[0], source[0] = score[best], best
        new[firsts], source[firsts] = score[best] - word_penalty, best
        entered[t, firsts] = True
        new[inner], source[inner] = score[previous_in_chain[inner]], previous_in_chain[inner]
        # a word's last state repeats (with m == 1 it is also the first: staying competes
        # with starting the same digit again)
        stay = score[lasts] > new[lasts]
        new[lasts[stay]], source[lasts[stay]] = score[lasts[stay]], lasts[stay]
        entered[t, lasts[stay]] = False
        score = new + emissions[t]
        back[t] = source
    state = int(exits[np.argmax(score[exits])])
    path = np.zeros(n_frames, dtype=np.int64)
    starts = np.zeros(n_frames, dtype=bool)
    for t in range(n_frames - 1, -1, -1):
        path[t], starts[t] = state, entered[t, state]
        state = back[t, state]
    words, start = [], None
    for t in range(n_frames + 1):
        ends_here = t == n_frames or path[t] == 0 or starts[t]
        if start is not None and ends_here:
            words.append((start, t - 1, int(digit_of[path[t - 1]])))
            start = None
        if t < n_frames and starts[t]:
            start = t
    return words

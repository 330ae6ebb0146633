"""Digit strings: every digit a person says in one take, in order (PINs, phone numbers).

``takes`` synthesizes string takes from single-digit clips with known word extents;
``segmentation`` trains and runs the frame-level word segmenter (the frozen speech
embedding of the whole take, a logistic regression over 11 frame classes: ten digits
and "between words", decoded by a Viterbi pass with a minimum word duration); ``decode``
turns a take into its words and digits (optionally re-labelling every word with the
single-digit champion); ``metrics`` scores strings (exact string accuracy, digit error
rate = edit distance over reference length, both by pause bucket); ``evaluation`` is the
workflow's string evaluation (official test split and leave-one-speaker-out folds).
"""

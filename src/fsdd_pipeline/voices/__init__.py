"""Voices unlike FSDD's six men: enrollment (the champion adapted to one person from a few
labelled takes, ``fsdd-enroll``), the validation voices synthesized with text-to-speech
engines, used with LOSO folds to choose settings (never as training data), and the training
voices (espeak-ng voices outside the validation set) for models that ask to train on them.
"""

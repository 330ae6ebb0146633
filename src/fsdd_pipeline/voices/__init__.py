"""Voices unlike FSDD's six men: enrollment (the champion adapted to one person from a few
labelled takes, ``fsdd-enroll``) and the validation voices synthesized with text-to-speech
engines, used with LOSO folds to choose settings (never as the champion's training data).
"""

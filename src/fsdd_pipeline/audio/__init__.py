"""Audio in: reading any WAV, FLAC, OGG, MP3 or AIFF a user has, resampling,
endpoint detection (finding the spoken word in a take) and the realistic takes the
robustness check builds.

Everything that turns a file or a buffer into the clean mono clip the features read lives
here.
"""

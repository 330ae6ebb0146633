"""Training-time augmentation: waveform transforms (noise, gain, speed, realistic takes),
SpecAugment, and the augmented feature tables the workflow builds once per distinct setting.
"""

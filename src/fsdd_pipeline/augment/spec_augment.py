"""SpecAugment (Park et al. 2019): time and frequency masking of feature sequences, as a
NumPy function and as a Keras layer that is active in training only."""

import keras
import numpy as np


def spec_augment(x, rng, time_masks=2, time_width=8, freq_masks=2, freq_width=8, fill=0.0):
    """SpecAugment (Park et al. 2019) time and frequency masking of one (frames, channels) array.

    Each mask's width is drawn uniformly from [0, width] and its start uniformly
    among the positions where it fits; masked values become ``fill``, a number or
    a per-channel vector.
    """
    masked = np.array(x, dtype=np.float32)
    if masked.ndim != 2:
        raise ValueError(f"expected a (frames, channels) array, got shape {masked.shape}")
    frames, channels = masked.shape
    fill_row = np.broadcast_to(np.asarray(fill, dtype=np.float32), (channels,))
    for _ in range(time_masks):
        width = int(rng.integers(0, min(time_width, frames) + 1))
        start = int(rng.integers(0, frames - width + 1))
        masked[start : start + width] = fill_row
    for _ in range(freq_masks):
        width = int(rng.integers(0, min(freq_width, channels) + 1))
        start = int(rng.integers(0, channels - width + 1))
        masked[:, start : start + width] = fill_row[start : start + width]
    return masked


@keras.saving.register_keras_serializable(package="fsdd_pipeline")
class SpecAugment(keras.layers.Layer):
    """SpecAugment masking of (batch, frames, channels) inputs, only while training.

    Masked values are 0, the mean once placed after a normalization layer; every
    example gets its own masks. Inference, validation and test see the identity.
    """

    def __init__(self, time_masks=2, time_width=8, freq_masks=2, freq_width=8, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.time_masks = int(time_masks)
        self.time_width = int(time_width)
        self.freq_masks = int(freq_masks)
        self.freq_width = int(freq_width)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def _band_mask(self, batch, length, count, max_width):
        """(batch, length) boolean mask: the union of ``count`` random bands per example."""
        ops = keras.ops
        positions = ops.arange(length)[None, :]
        mask = ops.zeros((batch, length), dtype="bool")
        length_f = ops.cast(length, "float32")
        max_width_f = ops.minimum(float(max_width), length_f)
        for _ in range(count):
            u_width = keras.random.uniform((batch, 1), seed=self.seed_generator)
            u_start = keras.random.uniform((batch, 1), seed=self.seed_generator)
            # uniform() is in [0, 1), so floor(u * (n + 1)) is uniform over 0..n.
            width = ops.floor(u_width * (max_width_f + 1.0))
            start = ops.floor(u_start * (length_f - width + 1.0))
            start = ops.cast(start, "int32")
            end = start + ops.cast(width, "int32")
            band = ops.logical_and(positions >= start, positions < end)
            mask = ops.logical_or(mask, band)
        return mask

    def call(self, inputs, training=None):
        if not training or (self.time_masks == 0 and self.freq_masks == 0):
            return inputs
        shape = keras.ops.shape(inputs)
        batch, frames, channels = shape[0], shape[1], shape[2]
        time_mask = self._band_mask(batch, frames, self.time_masks, self.time_width)
        freq_mask = self._band_mask(batch, channels, self.freq_masks, self.freq_width)
        mask = keras.ops.logical_or(time_mask[:, :, None], freq_mask[:, None, :])
        return keras.ops.where(mask, keras.ops.zeros_like(inputs), inputs)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(
            time_masks=self.time_masks,
            time_width=self.time_width,
            freq_masks=self.freq_masks,
            freq_width=self.freq_width,
            seed=self.seed,
        )
        return config

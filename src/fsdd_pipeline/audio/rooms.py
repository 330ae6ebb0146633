"""A word said in a room: the clip convolved with a synthetic room impulse response.

FSDD was recorded close to the microphone; people say digits into laptops and phones
across rooms, where the word arrives with its reflections. A room is simulated by its
impulse response, the statistical model of late reverberation: the direct sound, then
after a short pre-delay a dense tail of Gaussian noise whose amplitude falls by 60 dB
over the room's reverberation time (RT60), scaled to a direct-to-reverberant energy ratio
(DRR). Functions draw their randomness from a ``numpy.random.Generator``, so every room
is reproducible from a seed.
"""

import numpy as np

# Direct sound to the first reflections (s): a few metres of path.
PRE_DELAY_S = (0.002, 0.012)
# The robustness evaluation's rooms: a furnished office to a bare classroom, the speaker
# a metre or two from the microphone.
ROBUSTNESS_RT60_S = (0.3, 0.6)
ROBUSTNESS_DRR_DB = (3.0, 9.0)


def room_impulse_response(rng, sample_rate, rt60_s, drr_db):
    """A room's impulse response at ``sample_rate``: 1 at time 0 (the direct sound), then
    after a pre-delay drawn from PRE_DELAY_S a Gaussian tail ``rt60_s`` long whose
    amplitude falls 60 dB over it, its energy exactly ``drr_db`` below the direct sound's."""
    if rt60_s <= 0:
        raise ValueError(f"a room's RT60 must be positive, not {rt60_s}")
    delay = int(rng.uniform(*PRE_DELAY_S) * sample_rate)
    length = max(1, int(rt60_s * sample_rate))
    t = np.arange(length) / sample_rate
    tail = rng.standard_normal(length) * 10.0 ** (-3.0 * t / rt60_s)
    tail *= np.sqrt(10.0 ** (-drr_db / 10.0) / np.sum(tail**2))
    response = np.zeros(delay + length)
    response[0] = 1.0
    response[delay:] += tail
    return response


def in_room(samples, sample_rate, rng, rt60_s, drr_db):
    """1-D ``samples`` said in a room drawn uniformly from the ``rt60_s`` and ``drr_db``
    (low, high) ranges: the whole reverberant sound (the clip's length plus the room's
    tail), scaled to the clip's own peak."""
    samples = np.asarray(samples, dtype=np.float64)
    response = room_impulse_response(rng, sample_rate, rng.uniform(*rt60_s), rng.uniform(*drr_db))
    wet = np.convolve(samples, response)
    peak = np.max(np.abs(wet))
    if peak > 0:
        wet *= np.max(np.abs(samples)) / peak
    return wet.astype(np.float32)

"""Names of the robustness transforms and the groups the workflow computes them in, light
enough for the Snakefile; ``evaluation.robustness`` and ``audio.realistic_takes`` hold the
transforms under these names."""

# Perturbations of a clean test clip, in report order.
STANDARD_TRANSFORMS = (
    "clean",
    "white_noise_20db",
    "white_noise_10db",
    "silence_padding",
    "resampled_44k_stereo",
    "gain_minus_12db",
    "reverberant_room",
)
# The word inside a longer noisy take, and a poor channel, in report order.
REALISTIC_TRANSFORMS = (
    "take_white_40db",
    "take_white_30db",
    "take_white_20db",
    "take_pink_20db",
    "take_brown_20db",
    "take_dc_offset",
    "take_edge_clicks",
    "low_quality_channel",
)
# A realistic transform's row evaluated without endpointing carries this suffix.
NO_ENDPOINTING = "_no_endpointing"
# The group only an endpointing lever reads (levers: ablation: endpointing).
NO_ENDPOINTING_GROUP = "realistic_no_endpointing"
# The transforms in groups of similar cost, each computed by its own job; name ->
# [(row name, transform name, endpointing on)], in report order.
TRANSFORM_GROUPS = {
    "standard": [(name, name, True) for name in STANDARD_TRANSFORMS],
    "realistic": [(name, name, True) for name in REALISTIC_TRANSFORMS],
    NO_ENDPOINTING_GROUP: [
        (f"{name}{NO_ENDPOINTING}", name, False) for name in REALISTIC_TRANSFORMS
    ],
}

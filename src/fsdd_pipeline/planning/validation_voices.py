"""Which espeak-ng voices the validation voices use, so the training voices leave them out.

Imports nothing heavy: the Snakefile calls it while it plans the DAG.
"""


def espeak_validation_names(voices_config):
    """The espeak-ng voice names (e.g. ``en-us+f1``) of config ``voices``' validation
    voices: no training voice shares a dialect-variant pair with them."""
    return [voice["name"] for voice in voices_config["engines"].get("espeak-ng", [])]

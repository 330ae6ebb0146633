"""Errors that name the offending file or key and the reason."""


class PipelineError(Exception):
    """Base class of the errors this package raises on bad input."""


class RecordingError(PipelineError):
    """A recording cannot be used: misnamed, unknown speaker, empty, corrupt or unreadable."""

    def __init__(self, path, reason):
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


class ConfigError(PipelineError):
    """A configuration value is invalid."""

    def __init__(self, key, reason):
        self.key = key
        self.reason = reason
        super().__init__(f"config key '{key}': {reason}")

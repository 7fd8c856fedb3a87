"""User-facing errors.

Every mistake a user can make (bad config, missing model file, prompt too long, bad flag value) raises a
`MoEError` subclass with a one-line message. Interfaces print that line and exit with code 2; only
`--debug` shows a traceback. Programming errors stay ordinary exceptions.
"""


class MoEError(Exception):
    """A problem the user can fix; `str(err)` is a complete one-line explanation."""


class ConfigError(MoEError):
    """The configuration file or an `MOE_*` variable is invalid."""


class ModelNotFoundError(MoEError):
    """The configured base model (folder, GGUF file or embedded package) cannot be found."""


class ContextLengthError(MoEError):
    """A prompt does not fit into the model's context window."""


class InvalidRequestError(MoEError):
    """A generation request has invalid parameters."""


class ExpertError(MoEError):
    """An expert cannot be used: not installed, wrong base model, unsupported kind, bad weights."""


class ManifestError(ExpertError):
    """An expert manifest is invalid; the message names the field."""


class PackageError(ExpertError):
    """An `.expert` package is malformed, unsafe, or fails its integrity or signature check."""


class DatasetError(MoEError):
    """A training or evaluation dataset is malformed; the message names the file and line."""


def one_line(err: object) -> str:
    """An exception's text with its whitespace (newlines included) collapsed, for one-line messages."""
    return " ".join(str(err).split())


class ToolError(MoEError):
    """A tool (calculator, SQL check, sandbox) refused its input or failed on it; the message says why."""

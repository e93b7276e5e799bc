"""One error hierarchy for the engine. Front ends print `message` (and `hint`)."""

from __future__ import annotations


class KodamaError(Exception):
    """An error with a one-line message for the user and an optional hint."""

    exit_code = 1

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message


class InvalidInput(KodamaError):
    """Bad name, quantity, flag combination: caught before touching the cluster."""


class ConfigError(InvalidInput):
    """A config file is malformed or has an unknown key or bad value."""


class NeedsConfirmation(InvalidInput):
    """A repository file changes what runs or where: the user must see it and agree first."""

    def __init__(self, source: str, changes: list[str], hint: str | None = None) -> None:
        super().__init__(f"{source} sets " + "; ".join(changes), hint)
        self.source = source
        self.changes = changes


class NotFound(KodamaError):
    pass


class AlreadyExists(KodamaError):
    pass


class ClusterError(KodamaError):
    """The API server refused or could not be reached."""


class Forbidden(ClusterError):
    pass


class Timeout(KodamaError):
    pass


class ImagePullFailed(KodamaError):
    """The session's image cannot be pulled by the node."""


class AgentLaunchFailed(KodamaError):
    """The agent ended as soon as it was launched (missing command, broken set-up)."""


class Cancelled(KodamaError):
    exit_code = 130

    def __init__(self, message: str = "interrupted", hint: str | None = None) -> None:
        super().__init__(message, hint)


class RemoteCommandFailed(KodamaError):
    """A command run in the pod exited non-zero."""

    def __init__(self, message: str, exit_code: int, hint: str | None = None) -> None:
        super().__init__(message, hint)
        self.exit_code = exit_code

"""Typed errors whose text is safe to show to a user and says what to do next."""

from __future__ import annotations

# What the user can do about an error, as a key each front end words its own way: the CLI's
# ``hint`` names its command, the window names its menu item or offers a button.
ACTION_SETUP_MODELS = "setup-models"  # get or choose a model (the window: File → Set Up Models…)
ACTION_LIST = "list"  # see what is in memory (the window: the memory list)
ACTION_SETTINGS = "settings"  # change a setting (the window: File → Settings…)


class TeraError(Exception):
    """Base class: ``str(err)`` is one line a person can act on.

    ``message`` says what happened (no command, no raw id); ``hint`` is the CLI's advice (it may
    name a ``tera`` command); ``action`` (an ``ACTION_*`` key or None) is what to do, which
    each front end renders its own way."""

    exit_code = 1

    def __init__(self, message: str, hint: str | None = None, *, action: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.action = action

    def __str__(self) -> str:
        return f"{self.message} {self.hint}" if self.hint else self.message


class ConfigError(TeraError):
    """A setting or environment variable has a value Tera cannot use."""


class ModelMissingError(TeraError):
    """A model is not on disk and could not be fetched."""


class ModelLoadError(TeraError):
    """A model file is present but cannot be loaded (corrupt, wrong format)."""


class DownloadError(TeraError):
    """A download failed (network, disk, server)."""


class ChecksumError(DownloadError):
    """A downloaded file does not match its published checksum."""


class StoreError(TeraError):
    """The memory store failed."""


class StoreLockedError(StoreError):
    """Another Tera process has the memory open."""

    exit_code = 3


class DiskFullError(StoreError):
    """The disk holding the memory is full or read-only: nothing was written, nothing is lost."""

    exit_code = 4


class EmbeddingMismatchError(StoreError):
    """The memory was built with a different embedding model."""


class NotFoundError(TeraError):
    """An id, source or model name does not exist."""


class IngestError(TeraError):
    """One file could not be ingested; the message is its reason."""


class UnsupportedFileError(IngestError):
    """A file Tera does not read (an image, a program…): skipped, not failed."""


class GenerationError(TeraError):
    """The language model failed while answering."""


class ServerError(GenerationError):
    """A model server could not be used; ``reason`` says why: "unreachable", "auth", "model",
    "timeout", "no-stream", "cut", "http" (any other HTTP error), "protocol" (not OpenAI's API)."""

    def __init__(
        self,
        message: str,
        hint: str | None = None,
        *,
        reason: str = "http",
        action: str | None = None,
    ) -> None:
        super().__init__(message, hint, action=action)
        self.reason = reason


class Cancelled(TeraError):
    """The user stopped the work."""

    def __init__(self, message: str = "Stopped.") -> None:
        super().__init__(message)

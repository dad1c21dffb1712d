"""Logging to the log folder: one rotating file, set up once per process by the CLI or the app."""

from __future__ import annotations

import logging
from logging.handlers import RotatingFileHandler

from tera_desktop.core.paths import Paths
from tera_desktop.core.secrets import MaskSecretsFilter

_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class _QuietFileHandler(RotatingFileHandler):
    """A log line that cannot be written (a full or read-only disk) is dropped: the user sees
    Tera's one-line error, never a logging traceback. Text that is not valid UTF-8 (a file name
    from another system) is written escaped."""

    def handleError(self, record: logging.LogRecord) -> None:
        pass


def setup_logging(paths: Paths, level: int = logging.INFO) -> logging.Logger:
    """Send the ``tera`` loggers to ``logs/tera.log`` (1 MB x 3 files). Idempotent per file."""
    logger = logging.getLogger("tera")
    target = str(paths.log_file)
    for handler in logger.handlers:
        if isinstance(handler, RotatingFileHandler) and handler.baseFilename == target:
            return logger
    for handler in list(logger.handlers):  # a different home: switch files
        if isinstance(handler, RotatingFileHandler):
            logger.removeHandler(handler)
            handler.close()
    try:
        paths.logs.mkdir(parents=True, exist_ok=True)
    except OSError:  # a read-only disk: run without a log file
        return logger
    handler = _QuietFileHandler(
        target,
        maxBytes=1_000_000,
        backupCount=3,
        encoding="utf-8",
        errors="backslashreplace",
        delay=True,
    )
    handler.setFormatter(logging.Formatter(_FORMAT))
    handler.addFilter(MaskSecretsFilter())  # no key or password in the log (issue 26.6)
    logger.addHandler(handler)
    logger.setLevel(level)
    return logger

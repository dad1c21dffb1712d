"""Logging to the log folder: one rotating file, set up once per process by the CLI or the app."""

from __future__ import annotations

import logging
from logging.handlers import RotatingFileHandler

from tera_desktop.core.paths import Paths

_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


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
    paths.logs.mkdir(parents=True, exist_ok=True)
    handler = RotatingFileHandler(target, maxBytes=1_000_000, backupCount=3, encoding="utf-8")
    handler.setFormatter(logging.Formatter(_FORMAT))
    logger.addHandler(handler)
    logger.setLevel(level)
    return logger

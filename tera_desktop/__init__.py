"""Tera Desktop: a private, offline second memory for your desktop."""

from __future__ import annotations

from importlib import metadata

try:
    __version__ = metadata.version("tera-desktop")
except metadata.PackageNotFoundError:  # running from a source tree without install
    __version__ = "0.0.0+source"

APP_NAME = "Tera"
APP_ID = "tera-desktop"

"""Every folder Tera uses, in one place.

By default the folders follow the platform's conventions (platformdirs). ``TERA_HOME`` (or the CLI's
``--home DIR``) puts them all under one folder: for tests, portable installs and backups.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

APP_DIR_NAME = "tera-desktop"
ENV_HOME = "TERA_HOME"


@dataclass(frozen=True)
class Paths:
    data: Path
    config: Path
    cache: Path
    models: Path
    logs: Path

    @property
    def store(self) -> Path:
        """The embedded Qdrant engine's folder (the memory itself)."""
        return self.data / "memory"

    @property
    def settings_file(self) -> Path:
        return self.config / "settings.json"

    @property
    def llm_models(self) -> Path:
        return self.models / "llm"

    @property
    def embedding_models(self) -> Path:
        return self.models / "embeddings"

    @property
    def downloads(self) -> Path:
        """Partial downloads live here until their checksum is verified."""
        return self.cache / "downloads"

    @property
    def waiting_file(self) -> Path:
        """Facts typed before the embedding model was ready, stored once it is."""
        return self.data / "pending-facts.json"

    @property
    def log_file(self) -> Path:
        return self.logs / "tera.log"

    def ensure(self) -> Paths:
        for folder in (self.data, self.config, self.cache, self.models, self.logs):
            folder.mkdir(parents=True, exist_ok=True)
        return self


def get_paths(home: str | os.PathLike[str] | None = None) -> Paths:
    """The folders to use: ``home`` if given, else ``$TERA_HOME``, else the platform's."""
    root = home if home is not None else os.environ.get(ENV_HOME) or None
    if root:
        base = Path(root).expanduser().resolve()
        return Paths(
            data=base / "data",
            config=base / "config",
            cache=base / "cache",
            models=base / "models",
            logs=base / "logs",
        )
    import platformdirs

    data = Path(platformdirs.user_data_dir(APP_DIR_NAME, appauthor=False))
    return Paths(
        data=data,
        config=Path(platformdirs.user_config_dir(APP_DIR_NAME, appauthor=False)),
        cache=Path(platformdirs.user_cache_dir(APP_DIR_NAME, appauthor=False)),
        models=data / "models",
        logs=Path(platformdirs.user_log_dir(APP_DIR_NAME, appauthor=False)),
    )

"""Rebuild a damaged memory (``tera repair``, and the window's Repair button).

The damaged store is kept as it is (moved aside to ``data/memory-damaged-<time>``); what it still
holds is read in a bounded child process (``store_health.salvage``); then the memory is rebuilt:
facts re-embedded from their text (with which fact replaced which), documents and watched
folders read again from their files still on disk. A generator of plain-language progress lines,
so the CLI prints them and the window shows them; the result comes last. No Qt here.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tera_desktop.core import store_health
from tera_desktop.core.errors import StoreLockedError, TeraError
from tera_desktop.core.paths import Paths
from tera_desktop.core.settings import Settings
from tera_desktop.core.units import plural


@dataclass(frozen=True)
class RepairResult:
    facts: int = 0
    files_added: int = 0
    files_failed: int = 0
    documents_gone: int = 0
    total: int = 0
    kept_at: Path | None = None
    unreadable: str = ""  # why the damaged memory could not be read at all
    nothing_to_do: bool = False
    damage: list[str] = field(default_factory=list)

    @property
    def summary(self) -> str:
        if self.nothing_to_do:
            return "The memory is intact: nothing to repair."
        return (
            f"Rebuilt: {plural(self.facts, 'fact')} and {plural(self.files_added, 'file')} "
            f"({plural(self.files_failed, 'file')} failed, "
            f"{plural(self.documents_gone, 'document')} whose file is gone). "
            f"Tera now holds {plural(self.total, 'memory', 'memories')}."
        )


def repair_memory(
    paths: Paths, settings: Settings, *, force: bool = False, app_lock_held: bool = False
) -> Iterator[str | RepairResult]:
    """Yield progress lines, then the ``RepairResult``. ``app_lock_held``: the caller is the
    running app (its memory is closed); else Tera must not be running."""
    from tera_desktop.core.engine import Engine
    from tera_desktop.core.ingest import FAILED, FileResult
    from tera_desktop.core.instance import InstanceLock

    if settings.qdrant_url:
        raise TeraError(
            "Repair rebuilds a memory kept on this computer; this one is on a Qdrant server.",
            "Restore it with the server's own snapshots.",
        )
    health = store_health.check_store_folder(paths.store)
    if health.ok and not force:
        yield RepairResult(nothing_to_do=True)
        return
    damage = [str(d) for d in health.damage]
    if damage:
        yield f"The memory at {paths.store} is damaged:"
        yield from (f"  {d}" for d in damage[:20])
    app_lock = None if app_lock_held else InstanceLock.for_paths(paths)
    if app_lock is not None and not app_lock.acquire():
        raise StoreLockedError("Tera is running.", "Close the Tera window, then run tera repair.")
    try:
        store_lock = InstanceLock(paths.store / "store.lock")
        if paths.store.exists() and not store_lock.acquire():
            raise StoreLockedError(
                "Another Tera command has the memory open.", "Repair it when that has ended."
            )
        store_lock.release()
        kept: Path | None = paths.data / f"memory-damaged-{time.strftime('%Y%m%d-%H%M%S')}"
        if paths.store.exists():
            assert kept is not None
            os.replace(paths.store, kept)
            yield f"The damaged memory is kept, as it was, in {kept}"
            yield "Reading what it still holds…"
            found = store_health.salvage(kept, {"TERA_EMBEDDING_MODEL": settings.embedding_model})
        else:
            kept = None
            found = store_health.Salvage(error="there is no memory folder")
        if found.error:
            yield f"It cannot be read: {found.error}."
        else:
            yield (
                f"It still holds {plural(len(found.facts), 'fact')} and "
                f"{plural(len(found.documents), 'document')}."
            )
        engine = Engine(paths, settings)
        try:
            engine.ensure_embedding_model()
            facts = 0
            new_ids: dict[str, str] = {}
            for fact in found.facts:
                remembered = engine.remember(fact["text"], supersede=False)
                facts += remembered.is_new
                if fact.get("id"):
                    new_ids[fact["id"]] = remembered.id
            _restore_superseded(engine, found.facts, new_ids)
            on_disk = [d for d in dict.fromkeys(found.documents) if Path(d).is_file()]
            folders = [f for f in settings.watched_folders if Path(f).is_dir()]
            added = failed = 0
            for event in engine.upload([*on_disk, *folders]):
                if isinstance(event, FileResult):
                    failed += event.status == FAILED
                    added += event.status != FAILED
            total = engine.count()
        finally:
            engine.close()
    finally:
        if app_lock is not None:
            app_lock.release()
    yield RepairResult(
        facts=facts,
        files_added=added,
        files_failed=failed,
        documents_gone=len(set(found.documents)) - len(on_disk),
        total=total,
        kept_at=kept,
        unreadable=found.error or "",
        damage=damage,
    )


def _restore_superseded(engine: Any, facts: list[dict[str, str]], new_ids: dict[str, str]) -> None:
    """Mark again, with the rebuilt facts' ids, each fact the damaged memory held as replaced."""
    from tera_desktop.core.supersede import mark

    when = datetime.now(UTC).isoformat(timespec="milliseconds")
    for fact in facts:
        older, newer = new_ids.get(fact.get("id", "")), new_ids.get(fact.get("superseded_by", ""))
        if older and newer and older != newer:
            mark(engine.store, older, newer, when)

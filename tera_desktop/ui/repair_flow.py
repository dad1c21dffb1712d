"""A damaged memory found when it opens: the window names what is damaged and offers Repair,
which runs ``core/repair.py`` on a worker (progress in the status bar), then opens it again."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtWidgets import QStatusBar, QWidget

from tera_desktop.core.store_health import StoreDamagedError
from tera_desktop.ui.shell import Shell

REPAIR_QUESTION = (
    "Tera cannot open its memory: {reason}\n\nRepair it now? The damaged memory is kept as it is "
    "in your data folder; facts and the documents whose files are still on this computer are "
    "read again."
)


def offer_repair(
    shell: Shell,
    exc: StoreDamagedError,
    *,
    memory: QWidget,
    status: QStatusBar,
    reopen: Callable[[], None],
) -> None:
    """Say what is damaged; when the user agrees, rebuild it and ``reopen``."""
    shell.notify(exc.message, error=True)
    if not shell.confirm("Repair your memory", REPAIR_QUESTION.format(reason=exc.message)):
        return
    from tera_desktop.core.repair import RepairResult, repair_memory

    memory.setEnabled(False)
    app = shell.app

    def said(step: object) -> None:
        if isinstance(step, RepairResult):
            shell.notify(step.summary, timeout_ms=0)
        else:
            status.showMessage(str(step))

    def done() -> None:
        memory.setEnabled(True)
        if not shell.closing():
            reopen()

    shell.run_worker(
        "repair",
        lambda _c: repair_memory(app.paths, app.settings, app_lock_held=True),
        yielded=said,
        finished=done,
    )

"""The desktop app: ``tera-desktop`` / ``python -m tera_desktop``.

Start-up stays light: Qt and the window first; the embedding model, the store and the language
model load in background workers after the window is shown.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from tera_desktop import APP_ID, APP_NAME, __version__

if TYPE_CHECKING:
    from PySide6.QtGui import QIcon

_T0 = time.perf_counter()
ICON_DIR = Path(__file__).resolve().parent.parent / "resources" / "icons"


def _parse(argv: Sequence[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="tera-desktop", description="Tera Desktop")
    p.add_argument("--version", action="version", version=f"tera-desktop {__version__}")
    p.add_argument("--home", metavar="DIR", help="keep everything under DIR (like $TERA_HOME)")
    p.add_argument(
        "--selftest",
        action="store_true",
        help="open the window offscreen, remember a fact, ask about it, exit 0 if all worked",
    )
    p.add_argument(
        "--exit-after-show",
        action="store_true",
        help=argparse.SUPPRESS,  # benchmarks: print "shown <ms>" once painted, then quit
    )
    args, _qt_args = p.parse_known_args(list(argv))
    return args


def app_icon() -> QIcon:
    """The app icon from resources/icons (source tree, or next to the package in a bundle)."""
    from PySide6.QtGui import QIcon

    icon = QIcon()
    folder = ICON_DIR
    for png in sorted(folder.glob("tera-desktop-*.png")):
        icon.addFile(str(png))
    if icon.isNull() and (folder / "tera-desktop.svg").exists():
        icon.addFile(str(folder / "tera-desktop.svg"))
    return icon


def _headless() -> bool:
    from PySide6.QtGui import QGuiApplication

    return QGuiApplication.platformName() in ("offscreen", "minimal")


def _rss_mb() -> float:
    """This process's resident memory now (Linux /proc; else the peak from getrusage)."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _close_on_signals(window: Any) -> object:
    """SIGTERM, SIGHUP and SIGINT close the window as its close button does: workers stopped and
    joined, the memory closed, exit code 0. (Python runs a signal handler only when it gets
    control, and Qt's event loop is C++: the signal's wakeup byte on a socket wakes Qt up.)"""
    import signal
    import socket

    from PySide6.QtCore import QSocketNotifier, QTimer

    receiver, sender = socket.socketpair()
    receiver.setblocking(False)
    sender.setblocking(False)
    signal.set_wakeup_fd(sender.fileno())
    notifier = QSocketNotifier(receiver.fileno(), QSocketNotifier.Type.Read, window)

    def drain() -> None:  # the Python-level handler has already run when this is called
        with contextlib.suppress(OSError):
            receiver.recv(512)

    notifier.activated.connect(drain)

    def on_signal(signum: int, _frame: object) -> None:
        log = logging.getLogger("tera")
        log.info("signal %d: closing", signum)
        QTimer.singleShot(0, window.close)

    for sig in (signal.SIGTERM, signal.SIGINT, getattr(signal, "SIGHUP", None)):
        if sig is not None:
            signal.signal(sig, on_signal)
    return (receiver, sender, notifier)


def _log_uncaught(log: logging.Logger) -> None:
    """An exception no handler caught (e.g. in a Qt slot) goes to tera.log, not only stderr."""
    previous = sys.excepthook

    def hook(kind: type[BaseException], exc: BaseException, tb: Any) -> None:
        log.error("uncaught exception", exc_info=(kind, exc, tb))
        previous(kind, exc, tb)

    sys.excepthook = hook


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv if argv is None else argv)
    args = _parse(argv[1:])
    if args.selftest:
        if args.home:
            os.environ["TERA_HOME"] = args.home
        from tera_desktop.selftest import run

        return run()

    try:
        from PySide6.QtWidgets import QApplication
    except ImportError as exc:  # a broken install: one line, not a traceback
        print(
            f"tera-desktop: the Qt toolkit (PySide6) cannot be loaded ({exc}). Reinstall "
            "tera-desktop, or use the `tera` command.",
            file=sys.stderr,
        )
        return 1

    from tera_desktop.core.instance import InstanceLock
    from tera_desktop.core.logs import setup_logging
    from tera_desktop.core.paths import get_paths

    paths = get_paths(args.home).ensure()
    log = setup_logging(paths)
    log.info("tera-desktop %s starting (data: %s)", __version__, paths.data)
    _log_uncaught(log)

    app = cast(QApplication, QApplication.instance() or QApplication(argv))
    app.setApplicationName(APP_NAME)
    app.setApplicationDisplayName(APP_NAME)
    app.setApplicationVersion(__version__)
    app.setDesktopFileName(APP_ID)
    app.setWindowIcon(app_icon())

    lock = InstanceLock(paths.data / "tera-desktop.lock")
    if not lock.acquire():
        from tera_desktop.ui.single_instance import ask_running_to_raise

        if ask_running_to_raise(paths):  # the running Tera shows its window: nothing else to do
            print("tera-desktop: Tera is already running; its window was brought to the front.")
            return 0
        pid = lock.holder_pid()
        message = (
            f"Tera is already running{f' (process {pid})' if pid else ''} with the data folder "
            f"{paths.data}.\nSwitch to its window, or close it before starting Tera again."
        )
        print(f"tera-desktop: {message}", file=sys.stderr)
        if not _headless():
            from tera_desktop.ui.safe_text import message_box

            message_box(None, APP_NAME, message).exec()  # plain text: the path is not markup
        return 2

    from tera_desktop.core.app import TeraApp
    from tera_desktop.ui.main_window import MainWindow, schedule_start
    from tera_desktop.ui.single_instance import InstanceServer

    core = TeraApp(paths)  # a settings file that cannot be read is set aside and said once
    notice = core.notice
    window = MainWindow(paths, app=core)
    instance_server = InstanceServer(paths, window)  # later launches raise this window
    instance_server.activated.connect(window.bring_to_front)
    window.show()
    log.info("window shown %.0f ms after start", (time.perf_counter() - _T0) * 1000)
    if notice:
        window.notify(notice, error=True)
    if args.exit_after_show:
        from PySide6.QtCore import QTimer

        def shown() -> None:
            rss_mb = _rss_mb()
            print(f"shown {(time.perf_counter() - _T0) * 1000:.1f} rss_mb {rss_mb:.1f}", flush=True)
            app.quit()

        QTimer.singleShot(0, shown)
    elif os.environ.get("TERA_NO_AUTOSTART") != "1":
        schedule_start(window)
    keep = _close_on_signals(window)  # noqa: F841 - must live as long as the event loop
    try:
        code = app.exec()
    finally:
        window.shutdown()
        lock.release()
    from tera_desktop.workers import running_workers

    stuck = running_workers()
    if stuck:  # one ignored Stop past the shutdown's wait: Qt's pool would wait for it forever
        log.error("exiting with workers still running: %s", stuck)
        logging.shutdown()
        os._exit(code)
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

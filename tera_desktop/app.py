"""The desktop app: ``tera-desktop`` / ``python -m tera_desktop``.

Start-up stays light: Qt and the window first; the embedding model, the store and the language
model load in background workers after the window is shown.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from tera_desktop import APP_ID, APP_NAME, __version__

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


def app_icon() -> object:
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


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv if argv is None else argv)
    args = _parse(argv[1:])
    if args.selftest:
        if args.home:
            os.environ["TERA_HOME"] = args.home
        from tera_desktop.selftest import run

        return run()

    from PySide6.QtWidgets import QApplication, QMessageBox

    from tera_desktop.core.errors import ConfigError
    from tera_desktop.core.instance import InstanceLock
    from tera_desktop.core.logs import setup_logging
    from tera_desktop.core.paths import get_paths
    from tera_desktop.core.settings import Settings, load_settings

    paths = get_paths(args.home).ensure()
    log = setup_logging(paths)
    log.info("tera-desktop %s starting (data: %s)", __version__, paths.data)

    app = QApplication.instance() or QApplication(argv)
    app.setApplicationName(APP_NAME)
    app.setApplicationDisplayName(APP_NAME)
    app.setApplicationVersion(__version__)
    app.setDesktopFileName(APP_ID)
    app.setWindowIcon(app_icon())

    lock = InstanceLock(paths.data / "tera-desktop.lock")
    if not lock.acquire():
        pid = lock.holder_pid()
        message = (
            f"Tera is already running{f' (process {pid})' if pid else ''} with the data folder "
            f"{paths.data}.\nSwitch to its window, or close it before starting Tera again."
        )
        print(f"tera-desktop: {message}", file=sys.stderr)
        if not _headless():
            QMessageBox.information(None, APP_NAME, message)
        return 2

    notice = ""
    try:
        settings = load_settings(paths)
    except ConfigError as exc:
        settings, notice = Settings(), f"{exc} Using the default settings for now."

    from tera_desktop.ui.main_window import MainWindow, schedule_start

    window = MainWindow(paths, settings)
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
    try:
        return app.exec()
    finally:
        window.shutdown()
        lock.release()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

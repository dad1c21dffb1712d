"""PyInstaller entry point for the GUI executable (tera-desktop)."""

import multiprocessing
import sys

from tera_desktop.app import main

if __name__ == "__main__":
    multiprocessing.freeze_support()
    sys.exit(main())

"""PyInstaller entry point for the CLI executable (tera)."""

import multiprocessing
import sys

from tera_desktop.cli import main

if __name__ == "__main__":
    multiprocessing.freeze_support()
    sys.exit(main())

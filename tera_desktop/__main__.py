"""``python -m tera_desktop``: the desktop app."""

import sys

from tera_desktop.app import main

sys.exit(main())

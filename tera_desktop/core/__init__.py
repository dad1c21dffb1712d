"""Tera's headless core: shared by the CLI, the desktop app and the tests. Never imports Qt."""

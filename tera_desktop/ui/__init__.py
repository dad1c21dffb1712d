"""Widgets only: they talk to the core through workers and signals."""

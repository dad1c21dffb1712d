"""Helpers for tests, benchmarks and the app's self-test (tiny deterministic models)."""

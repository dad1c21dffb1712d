"""Benchmarks for Tera Desktop (run as modules: ``python -m bench.bench_store``)."""

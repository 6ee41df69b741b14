"""Ingest: the pipeline that wires one poll of a source (feeds, queue, fetch, extract, write),
the backfill walk, and the worker processes that do the CPU-heavy part.

May import: ``worker.net``, ``worker.extract``, ``worker.store`` and everything below them.
"""

"""Extraction: page bytes in, :class:`worker.model.Extracted` out, by the source's profile.

Pure. May import: ``worker.parse``, ``worker.model``, ``worker.errors``.
"""

from worker.extract.extractor import extract

__all__ = ["extract"]

"""Storage: the state store (what was seen, the queue, leases) and the archive store (the
records and raw pages), and the record they hold.

May import: ``worker.config``, ``worker.parse``, ``worker.model``, ``worker.errors``.
"""

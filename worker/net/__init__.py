"""The network: the one door every request goes through (:class:`worker.net.fetcher.Fetcher`),
its transport, politeness, robots.txt, the private-address guard and pure header logic.

May import: ``worker.config``, ``worker.parse``, ``worker.errors``.
"""

"""Parsers: feed, sitemap, date, URL and charset bytes in, frozen values out.

Pure: no network, no disk, no clock (time is passed in). May import: ``worker.errors``.
"""

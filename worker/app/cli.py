"""The command line: parse flags, load config, configure logging, call the right command. Thin.

Exit codes: 0 all fine; 1 ran, but some items failed (recorded, retried next time); 2 bad usage
or configuration (one line naming the bad key or flag, nothing written).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

import orjson

from worker import __version__
from worker.app import backfill, discover, fetch, maintenance, render, revisions, status
from worker.config import Settings, load
from worker.errors import ConfigError, WorkerError
from worker.extract import registry

log = logging.getLogger(__name__)


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors (exit 2) instead of a usage block."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="news-worker", description="Archive news articles from feeds.")
    parser.add_argument("--version", action="version", version=f"news-worker {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--config", type=Path, help="TOML configuration file")
        p.add_argument("--archive", type=Path, help="archive folder (overrides archive.dir)")
        p.add_argument("--state", type=Path, help="state file (overrides state.path)")
        p.add_argument("--log-format", choices=("auto", "json", "text"), default="auto")
        p.add_argument("-v", "--verbose", action="store_true", help="log every event")

    fetch = sub.add_parser("fetch", help="poll the sources once, archive what is new, exit")
    common(fetch)
    fetch.add_argument("--source", action="append", default=[], metavar="NAME")
    fetch.add_argument(
        "--feed",
        action="append",
        default=[],
        metavar="URL",
        help="poll this feed instead of the source's feeds",
    )
    fetch.add_argument(
        "--url",
        action="append",
        default=[],
        metavar="ARTICLE_URL",
        help="fetch this article page directly (always refetched)",
    )

    run = sub.add_parser("run", help="the service: poll on schedule until SIGTERM/SIGINT")
    common(run)

    back = sub.add_parser("backfill", help="archive a date range from the source's sitemaps")
    common(back)
    back.add_argument("--source", required=True, metavar="NAME")
    back.add_argument("--since", required=True, metavar="YYYY-MM-DD")
    back.add_argument("--until", metavar="YYYY-MM-DD", help="default: today (UTC)")

    again = sub.add_parser("reextract", help="re-run extraction on the stored raw pages")
    common(again)
    again.add_argument("--source", action="append", default=[], metavar="NAME")
    again.add_argument("--since", metavar="YYYY-MM-DD", help="only articles published since")

    disc = sub.add_parser("discover", help="list the feeds a site announces, ready for the config")
    common(disc)
    disc.add_argument("url", metavar="URL")

    render = sub.add_parser("render", help="print an archived article")
    common(render)
    render.add_argument("target", metavar="PATH_OR_ID")
    render.add_argument("--format", choices=("markdown", "json"), default="markdown")
    render.add_argument(
        "--source", metavar="NAME", help="the source whose record to show, when several share an ID"
    )
    render.add_argument("--revision", type=int, metavar="N", help="an earlier revision")
    render.add_argument("--revisions", action="store_true", help="list the revision history")

    export = sub.add_parser("export", help="the latest revision of every article, one row each")
    common(export)
    export.add_argument("--source", action="append", default=[], metavar="NAME")
    export.add_argument("--since", metavar="YYYY-MM-DD", help="first archive day")
    export.add_argument("--until", metavar="YYYY-MM-DD", help="last archive day")
    export.add_argument("--format", choices=("jsonl", "csv", "parquet"), required=True)
    export.add_argument("--output", type=Path, metavar="F", help="default: stdout")

    diff = sub.add_parser("diff", help="what changed between two revisions of an article")
    common(diff)
    diff.add_argument("target", metavar="ID")
    diff.add_argument("--from", dest="old", type=int, metavar="N", help="default: the one before")
    diff.add_argument("--to", dest="new", type=int, metavar="M", help="default: the latest")

    state = sub.add_parser("state", help="maintain the state file")
    common(state)
    state.add_argument(
        "action",
        choices=("rebuild", "migrate"),
        help="rebuild: restore the seen-set from the archive; migrate: copy a SQLite state "
        "into PostgreSQL (--to)",
    )
    state.add_argument("--to", metavar="POSTGRESQL_URL", help="the database migrate copies into")

    status = sub.add_parser("status", help="per source: polls, failures, counts")
    common(status)
    status.add_argument("--json", action="store_true", help="machine-readable output")
    return parser


def settings_from(args: argparse.Namespace) -> Settings:
    """Config file, then environment (inside ``load``), then flags. ``--archive`` and
    ``--state`` name a folder and a file: they win over ``archive.url`` / ``state.url`` too."""
    settings = load(args.config, profiles=registry.names())
    if args.archive is not None:
        old = settings.archive.dir
        state = settings.state
        if args.state is None and not state.url and state.path.is_relative_to(old):
            state = dataclasses.replace(state, path=args.archive / state.path.relative_to(old))
        settings = dataclasses.replace(
            settings,
            archive=dataclasses.replace(settings.archive, dir=args.archive, url=""),
            state=state,
        )
    if args.state is not None:
        settings = dataclasses.replace(
            settings, state=dataclasses.replace(settings.state, path=args.state, url="")
        )
    return settings


def _fail(message: str, code: int) -> int:
    print(f"news-worker: error: {message}", file=sys.stderr)
    return code


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    fmt = args.log_format
    on_tty = sys.stderr.isatty()
    json_lines = fmt == "json" or (fmt == "auto" and not on_tty)
    # On a terminal the summary names every failure once; -v shows the events as they happen.
    level = logging.INFO if (args.verbose or json_lines) else logging.ERROR
    from worker.app import logs

    logs.configure(json_lines=json_lines, level=level)
    try:
        settings = settings_from(args)
        if args.command == "fetch":
            return asyncio.run(
                fetch.fetch(
                    settings,
                    sources=args.source,
                    feeds=args.feed,
                    urls=args.url,
                    progress=on_tty and not json_lines,
                    json_summary=json_lines,
                )
            )
        if args.command == "run":
            from worker.app import service

            return service.run(settings)
        if args.command == "backfill":
            return asyncio.run(
                backfill.backfill(
                    settings,
                    source_name=args.source,
                    since=args.since,
                    until=args.until,
                    progress=on_tty and not json_lines,
                    json_summary=json_lines,
                )
            )
        if args.command == "reextract":
            code, text = maintenance.reextract(settings, sources=args.source, since=args.since)
            print(text, end="")
            return code
        if args.command == "discover":
            code, text = asyncio.run(discover.discover(settings, args.url))
            print(text, end="")
            return code
        if args.command == "render" and (args.revisions or args.revision is not None):
            text = revisions.render(
                settings, args.target, args.format, args.revision, listing=args.revisions
            )
            print(text, end="")
            return 0
        if args.command == "render":
            print(render.render(settings, args.target, args.format, args.source), end="")
            return 0
        if args.command == "export":
            from worker.app import export

            print(
                export.export(
                    settings,
                    sources=args.source,
                    since=args.since,
                    until=args.until,
                    fmt=args.format,
                    output=args.output,
                ),
                end="",
            )
            return 0
        if args.command == "diff":
            colour = sys.stdout.isatty() and not os.environ.get("NO_COLOR")
            print(revisions.diff(settings, args.target, args.old, args.new, colour=colour), end="")
            return 0
        if args.command == "state" and args.action == "migrate":
            print(maintenance.migrate_state(settings, args.to))
            return 0
        if args.command == "state":
            print(maintenance.rebuild_state(settings))
            return 0
        if args.command == "status":
            rows = status.status(settings)
            if args.json:
                print(orjson.dumps(rows, option=orjson.OPT_INDENT_2).decode())
            else:
                print(status.status_table(rows))
            return 0
    except ConfigError as exc:
        return _fail(str(exc), 2)
    except WorkerError as exc:
        return _fail(str(exc), 1)
    except KeyboardInterrupt:
        return _fail("interrupted", 130)
    raise AssertionError(args.command)  # pragma: no cover

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

import orjson

from worker.app import args as flags
from worker.app import (
    backfill,
    completion,
    configcmd,
    discover,
    fetch,
    maintenance,
    render,
    revisions,
    status,
)
from worker.config import Settings, load
from worker.errors import ConfigError, WorkerError
from worker.extract import registry

log = logging.getLogger(__name__)


def settings_from(args: argparse.Namespace) -> Settings:
    """Config file, then environment (inside ``load``), then flags. ``--archive`` and
    ``--state`` name a folder and a file: they win over ``archive.url`` / ``state.url`` too."""
    settings = load(args.config, profiles=registry.names())
    origins = dict(settings.origins)
    if args.archive is not None:
        old = settings.archive.dir
        state = settings.state
        if args.state is None and state.path.is_relative_to(old):
            state = dataclasses.replace(state, path=args.archive / state.path.relative_to(old))
            origins["state.path"] = "from --archive"
        origins["archive.dir"] = "from --archive"
        settings = dataclasses.replace(
            settings,
            archive=dataclasses.replace(settings.archive, dir=args.archive, url=""),
            state=state,
        )
    if args.state is not None:
        origins["state.path"] = "from --state"
        settings = dataclasses.replace(
            settings, state=dataclasses.replace(settings.state, path=args.state, url="")
        )
    return dataclasses.replace(settings, origins=origins)


def _fail(message: str, code: int) -> int:
    print(f"news-worker: error: {message}", file=sys.stderr)
    return code


def main(argv: Sequence[str] | None = None) -> int:
    parser = flags.parser()
    args = parser.parse_args(argv)
    if args.command == "completion":
        print(completion.script(parser, args.shell), end="")
        return 0
    fmt = args.log_format
    on_tty = sys.stderr.isatty()
    json_lines = fmt == "json" or (fmt == "auto" and not on_tty)
    # On a terminal the summary names every failure once; -v shows the events as they happen.
    level = logging.INFO if (args.verbose or json_lines) else logging.ERROR
    from worker.app import logs

    logs.configure(json_lines=json_lines, level=level)
    terminal = on_tty and not json_lines  # progress bars, the service's own lines
    try:
        settings = settings_from(args)
        return _command(args, settings, terminal=terminal, json_lines=json_lines)
    except ConfigError as exc:
        return _fail(str(exc), 2)
    except WorkerError as exc:
        return _fail(str(exc), 1)
    except KeyboardInterrupt:
        return _fail("interrupted", 130)


def _command(
    args: argparse.Namespace, settings: Settings, *, terminal: bool, json_lines: bool
) -> int:
    if args.command == "fetch":
        return asyncio.run(
            fetch.fetch(
                settings,
                sources=args.source,
                feeds=args.feed,
                urls=args.url,
                progress=terminal,
                json_summary=json_lines,
                list_only=args.list,
                limit=args.limit,
            )
        )
    if args.command == "run":
        from worker.app import service

        return service.run(settings, console=terminal and not args.verbose)
    if args.command == "backfill":
        return asyncio.run(
            backfill.backfill(
                settings,
                source_name=args.source,
                since=args.since,
                until=args.until,
                progress=terminal,
                json_summary=json_lines,
            )
        )
    if args.command == "reextract":
        code, text = maintenance.reextract(
            settings, sources=args.source, since=args.since, progress=terminal
        )
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

        written = export.export(
            settings,
            sources=args.source,
            since=args.since,
            until=args.until,
            fmt=args.format,
            output=args.output,
        )
        print(written, end="")
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
    if args.command == "config":
        print(
            configcmd.check(settings) if args.action == "check" else configcmd.show(settings),
            end="",
        )
        return 0
    if args.command == "sources":
        found = configcmd.sources(settings)
        out = orjson.dumps(found, option=orjson.OPT_INDENT_2).decode() if args.json else None
        print(out or configcmd.sources_table(found))
        return 0
    raise AssertionError(args.command)  # pragma: no cover

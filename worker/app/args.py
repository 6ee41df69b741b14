"""The command line's flags, help and examples: one argparse parser, also read by the shell
completion generator (:mod:`worker.app.completion`)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import NoReturn

from worker import __version__


class Parser(argparse.ArgumentParser):
    """argparse with one-line errors (exit 2) instead of a usage block."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


EXAMPLES = {
    None: """\
examples:
  news-worker fetch                          poll every source once, archive what is new
  news-worker fetch --list                   print what a fetch would archive, fetch no page
  news-worker run --config news-worker.toml  the service, with /healthz /readyz /metrics
  news-worker status                         what each source did last, what waits
  news-worker config check                   validate the configuration and exit
  news-worker completion bash > /etc/bash_completion.d/news-worker

exit codes: 0 all fine; 1 it ran, but something failed or waits on the archive or state
(recorded, retried next time); 2 bad usage, configuration, or an archive, state or port that
cannot be used (one line naming it; nothing written)""",
    "fetch": """\
examples:
  news-worker fetch --source moscowtimes
  news-worker fetch --list --limit 20        the first 20 articles a fetch would take
  news-worker fetch --limit 5                archive at most 5 articles per source
  news-worker fetch --url https://www.themoscowtimes.com/2024/12/27/...-a87467
  news-worker fetch --source moscowtimes --feed https://www.themoscowtimes.com/rss/news""",
    "run": """\
examples:
  news-worker run --config config/news-worker.toml
  NEWS_WORKER_SERVICE_HOST=0.0.0.0 news-worker run   the endpoint on every interface
  curl -s localhost:9464/readyz""",
    "backfill": """\
example:
  news-worker backfill --source moscowtimes --since 2024-12-01 --until 2024-12-31""",
    "reextract": """\
example:
  news-worker reextract --source moscowtimes --since 2024-12-01""",
    "discover": """\
example:
  news-worker discover https://news.example/ >> config/news-worker.toml""",
    "render": """\
examples:
  news-worker render a87467
  news-worker render archive/moscowtimes/2024/12/27/a87467.json --format json
  news-worker render a87467 --revisions      the revision history
  news-worker render a87467 --revision 1     the first revision""",
    "export": """\
examples:
  news-worker export --format jsonl > articles.jsonl
  news-worker export --source moscowtimes --since 2024-12-01 --format parquet --output dec.parquet""",
    "diff": """\
examples:
  news-worker diff a87467                    the latest revision against the one before
  news-worker diff a87467 --from 1 --to 3""",
    "state": """\
examples:
  news-worker state rebuild
  news-worker state migrate --to postgresql://worker@db.internal:5432/news""",
    "status": """\
examples:
  news-worker status
  news-worker status --json | jq '.[] | {source, queued, queued_by_reason}'""",
    "config": """\
examples:
  news-worker config check                   validate; exit 2 with the bad key named
  news-worker config show                    every value and where it came from""",
    "sources": """\
example:
  news-worker sources --json""",
    "completion": """\
examples:
  news-worker completion bash > ~/.local/share/bash-completion/completions/news-worker
  news-worker completion zsh > "${fpath[1]}/_news-worker\"""",
}


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", type=Path, help="TOML configuration file")
    p.add_argument("--archive", type=Path, help="archive folder (overrides archive.dir)")
    p.add_argument("--state", type=Path, help="state file (overrides state.path)")
    p.add_argument(
        "--log-format",
        choices=("auto", "json", "text"),
        default="auto",
        help="auto: readable key=value lines on a terminal, JSON lines elsewhere",
    )
    p.add_argument("-v", "--verbose", action="store_true", help="log every event")


def parser() -> argparse.ArgumentParser:
    top = Parser(
        prog="news-worker",
        description="Archive news articles from feeds.",
        epilog=EXAMPLES[None],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    top.add_argument("--version", action="version", version=f"news-worker {__version__}")
    sub = top.add_subparsers(dest="command", required=True, parser_class=Parser)

    def command(name: str, text: str) -> argparse.ArgumentParser:
        p = sub.add_parser(
            name,
            help=text,
            description=text,
            epilog=EXAMPLES.get(name),
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        _common(p)
        return p

    fetch = command("fetch", "poll the sources once, archive what is new, exit")
    fetch.add_argument("--source", action="append", default=[], metavar="NAME")
    fetch.add_argument(
        "--feed", action="append", default=[], metavar="URL", help="poll this feed instead"
    )
    fetch.add_argument(
        "--url",
        action="append",
        default=[],
        metavar="ARTICLE_URL",
        help="fetch this article page directly (always refetched)",
    )
    fetch.add_argument(
        "--list",
        action="store_true",
        help="poll the feeds, print the article URLs a fetch would take, fetch no page",
    )
    fetch.add_argument("--limit", type=_positive, metavar="N", help="at most N articles per source")

    command("run", "the service: poll on schedule until SIGTERM/SIGINT")

    back = command("backfill", "archive a date range from the source's sitemaps")
    back.add_argument("--source", required=True, metavar="NAME")
    back.add_argument("--since", required=True, metavar="YYYY-MM-DD")
    back.add_argument("--until", metavar="YYYY-MM-DD", help="default: today (UTC)")

    again = command("reextract", "re-run extraction on the stored raw pages")
    again.add_argument("--source", action="append", default=[], metavar="NAME")
    again.add_argument("--since", metavar="YYYY-MM-DD", help="only articles published since")

    disc = command("discover", "list the feeds a site announces, ready for the config")
    disc.add_argument("url", metavar="URL")

    render = command("render", "print an archived article")
    render.add_argument("target", metavar="PATH_OR_ID")
    render.add_argument("--format", choices=("markdown", "json"), default="markdown")
    render.add_argument(
        "--source", metavar="NAME", help="the source whose record to show, when several share an ID"
    )
    render.add_argument("--revision", type=int, metavar="N", help="an earlier revision")
    render.add_argument("--revisions", action="store_true", help="list the revision history")

    export = command("export", "the latest revision of every article, one row each")
    export.add_argument("--source", action="append", default=[], metavar="NAME")
    export.add_argument("--since", metavar="YYYY-MM-DD", help="first archive day")
    export.add_argument("--until", metavar="YYYY-MM-DD", help="last archive day")
    export.add_argument("--format", choices=("jsonl", "csv", "parquet"), required=True)
    export.add_argument("--output", type=Path, metavar="F", help="default: stdout")

    diff = command("diff", "what changed between two revisions of an article")
    diff.add_argument("target", metavar="ID")
    diff.add_argument("--from", dest="old", type=int, metavar="N", help="default: the one before")
    diff.add_argument("--to", dest="new", type=int, metavar="M", help="default: the latest")

    state = command("state", "maintain the state file")
    state.add_argument(
        "action",
        choices=("rebuild", "migrate"),
        help="rebuild: restore the seen-set from the archive; migrate: copy a SQLite state "
        "into PostgreSQL (--to)",
    )
    state.add_argument("--to", metavar="POSTGRESQL_URL", help="the database migrate copies into")

    status = command("status", "per source: polls, failures, counts")
    status.add_argument("--json", action="store_true", help="machine-readable output")

    config = command("config", "check the configuration, or show it with each value's origin")
    config.add_argument(
        "action",
        choices=("check", "show"),
        help="check: validate and exit (2 naming the bad key); show: the merged configuration, "
        "secrets masked",
    )

    sources = command("sources", "list the configured sources")
    sources.add_argument("--json", action="store_true", help="machine-readable output")

    completion = sub.add_parser(
        "completion",
        help="print a shell completion script",
        epilog=EXAMPLES["completion"],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    completion.add_argument("shell", choices=("bash", "zsh"))
    return top


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a count of 1 or more, got {text!r}")
    return int(text)

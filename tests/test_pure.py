"""Pure functions, table-tested: headers, URLs and IDs, dates, durations and sizes."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from worker.config import RetrySettings, parse_duration, parse_size
from worker.errors import (
    ArchiveError,
    BudgetError,
    ConfigError,
    ExtractError,
    GoneError,
    PermanentFetchError,
    TransientFetchError,
)
from worker.extract.profiles.moscowtimes import site_id as moscowtimes_id
from worker.extract.registry import article_id
from worker.ingest.policy import after_failure
from worker.net import headers
from worker.parse import dates
from worker.parse.urls import canonical_url, identity_key, url_id

NOW = datetime(2024, 12, 27, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("120", 120.0),
        ("0", 0.0),
        ("Fri, 27 Dec 2024 12:01:30 GMT", 90.0),
        ("Friday, 27-Dec-24 12:00:10 GMT", 10.0),
        ("Fri, 27 Dec 2024 11:00:00 GMT", 0.0),
        ("soon", None),
        ("", None),
    ],
)
def test_retry_delay(value: str, seconds: float | None) -> None:
    assert headers.retry_delay({"retry-after": value}, NOW) == seconds


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("max-age=600", 600.0),
        ("public, s-maxage=60, max-age=30", 60.0),
        ("no-store, max-age=600", None),
        ("private", None),
    ],
)
def test_cache_max_age(value: str, seconds: float | None) -> None:
    assert headers.cache_max_age({"cache-control": value}) == seconds


def test_validators_and_conditional_headers() -> None:
    etag, modified = headers.validators(
        {"etag": ' "abc" ', "last-modified": "Fri, 27 Dec 2024 12:00:00 GMT"}
    )
    assert headers.conditional_headers(etag, modified) == {
        "If-None-Match": '"abc"',
        "If-Modified-Since": "Fri, 27 Dec 2024 12:00:00 GMT",
    }
    assert headers.conditional_headers(None, None) == {}


@pytest.mark.parametrize(
    ("attempts", "delay"),
    [(0, 0.0), (1, 300.0), (2, 600.0), (3, 1200.0), (10, 21600.0), (99, 21600.0)],
)
def test_backoff(attempts: int, delay: float) -> None:
    assert headers.backoff(attempts, 300.0, 21600.0) == delay


@pytest.mark.parametrize(
    ("href", "base", "expected"),
    [
        (
            "/2024/12/27/x-a1?utm_source=rss&utm_medium=feed#top",
            "https://www.themoscowtimes.com/rss/news",
            "https://www.themoscowtimes.com/2024/12/27/x-a1",
        ),
        ("HTTPS://Example.COM/a?b=1&utm_campaign=x", None, "https://example.com/a?b=1"),
        ("javascript:alert(1)", None, None),
        ("file:///etc/passwd", None, None),
        ("ftp://example.com/x", None, None),
        ("mailto:a@b.c", None, None),
        ("http:///nohost", None, None),
        ("https://example.com/" + "a" * 3000, None, None),
        ("https://exa mple.com:99999/", None, None),
        ("", "https://example.com/", None),
        # The URL requested keeps its spelling: no query re-encoded, as some servers tell apart.
        ("https://example.com/a?id", None, "https://example.com/a?id"),
        ("https://example.com/a?q=a%20b&x=1+2", None, "https://example.com/a?q=a%20b&x=1+2"),
        ("https://example.com/a?b=2&a=1&UTM_term=z", None, "https://example.com/a?b=2&a=1"),
        ("https://example.com/a?utm%5Fsource=z&id=3", None, "https://example.com/a?id=3"),
    ],
)
def test_canonical_url(href: str, base: str | None, expected: str | None) -> None:
    assert canonical_url(href, base) == expected


SAME_PAGE = [
    [
        "https://news.example/q?a=1&b=2",
        "https://news.example/q?b=2&a=1",
        "https://NEWS.example:443/q?a=1&b=2",
    ],
    [
        "https://news.example/p/x",
        "https://news.example/p/./x",
        "https://news.example/p/y/../x",
        "https://news.example/p/%78",
    ],
    ["https://news.example/s?id", "https://news.example/s?id="],
    [
        "https://news.example/c/caf%C3%A9",
        "https://news.example/c/café",
        "https://news.example/c/caf%c3%a9",
    ],
]


@pytest.mark.parametrize("spellings", SAME_PAGE, ids=["query-order", "path", "blank", "utf8"])
def test_equivalent_spellings_are_one_identity(spellings: list[str]) -> None:
    assert len({identity_key(url) for url in spellings}) == 1
    assert len({article_id(url, "generic") for url in spellings}) == 1


def test_a_trailing_slash_is_the_same_page_only_where_the_profile_says_so() -> None:
    plain, slashed = "https://news.example/p/x", "https://news.example/p/x/"
    assert article_id(plain, "generic") != article_id(slashed, "generic")
    assert article_id(plain, "moscowtimes") == article_id(slashed, "moscowtimes")
    assert identity_key("https://news.example/", trailing_slash=True) == "https://news.example/"


def test_other_pages_stay_other_pages() -> None:
    pages = [
        "https://news.example/q?a=1",
        "https://news.example/q?a=2",
        "https://news.example/q?a=1&a=2",
        "https://news.example/Q?a=1",
        "https://news.example/p/x%2Fy",  # an encoded slash is not a path separator
        "https://news.example/p/x/y",
        "http://news.example/q?a=1",
        "https://news.example:8443/q?a=1",
    ]
    assert len({article_id(url, "generic") for url in pages}) == len(pages)


@pytest.mark.parametrize(
    ("url", "known_id"),
    [  # IDs written by earlier versions for URLs that were already canonical
        ("https://news.example/2024/12/27/story-of-the-day", "u92fb43c696c1f8e79be3"),
        ("https://news.example/politics/story-name/", "u1ccf052fcfb68bdb94be"),
        ("https://news.example/article?id=1234&page=2", "u325fede52c113edccab4"),
        ("https://www.themoscowtimes.com/archive/old-story", "u90bf0366451b1eb2ac01"),
        ("http://127.0.0.1:8080/news/a1", "u6e874639bcf5518b131a"),
        ("https://news.example/a%2Fb", "ubd907f78ecf9dc7a9261"),
    ],
)
def test_ids_of_already_canonical_urls_do_not_change(url: str, known_id: str) -> None:
    assert article_id(url, "generic") == known_id
    if not url.endswith("/"):  # the Moscow Times' profile drops a trailing slash
        assert article_id(url, "moscowtimes") == known_id


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "https://www.themoscowtimes.com/2024/12/27/ukraine-captured-north-korean-soldier-fighting-alongside-russia-south-korea-says-a87467",
            "a87467",
        ),
        (
            "https://www.themoscowtimes.com/2024/12/27/3-key-developments-in-the-russia-ukraine-war-in-2024-2-a87402",
            "a87402",
        ),
        ("https://www.themoscowtimes.com/2024/12/27/a-a1-b-a22", "a22"),
        ("https://www.themoscowtimes.com/news/some-slug-60848", None),
        ("https://www.themoscowtimes.com/rss/news", None),
    ],
)
def test_moscowtimes_id(url: str, expected: str | None) -> None:
    assert moscowtimes_id(url) == expected


def test_article_id_falls_back_to_a_url_hash() -> None:
    url = "https://example.com/2024/01/01/story"
    assert article_id(url, "generic") == url_id(url)
    assert article_id(url, "moscowtimes") == url_id(url)
    assert url_id(url) != url_id(url + "2")
    assert article_id("https://www.themoscowtimes.com/x-a5", "moscowtimes") == "a5"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Fri, 27 Dec 2024 12:38:00 +0300", "2024-12-27T12:38:00+03:00"),
        ("2024-12-27T12:38:00+03:00", "2024-12-27T12:38:00+03:00"),
        ("2024-12-27T12:38:00.123Z", "2024-12-27T12:38:00.123000+00:00"),
        ("2024-12-27 12:38:00+0300", "2024-12-27T12:38:00+03:00"),
        ("2024-12-27T12:38", "2024-12-27T12:38:00"),
        ("2024-12-27", "2024-12-27"),  # a day stays a day: no invented midnight
        ("yesterday", None),
        ("", None),
    ],
)
def test_dates_keep_their_offset(value: str, expected: str | None) -> None:
    assert dates.normalize(value) == expected


def test_utc_day_for_the_archive_folder() -> None:
    assert dates.utc_day("2024-12-27T01:30:00+03:00", NOW) == ("2024", "12", "26")
    assert dates.utc_day(None, NOW) == ("2024", "12", "27")


@pytest.mark.parametrize(
    ("value", "seconds"),
    [("500ms", 0.5), ("10s", 10.0), ("10m", 600.0), ("6h", 21600.0), ("1d", 86400.0)],
)
def test_durations(value: str, seconds: float) -> None:
    assert parse_duration(value, "k") == seconds


@pytest.mark.parametrize("value", ["10", 10, "ten minutes", "-1s", ""])
def test_bad_durations_name_the_key(value: object) -> None:
    with pytest.raises(ConfigError, match=r"the\.key"):
        parse_duration(value, "the.key")


@pytest.mark.parametrize(
    ("value", "size"), [(1024, 1024), ("10MB", 10_000_000), ("1MiB", 1048576), ("512", 512)]
)
def test_sizes(value: object, size: int) -> None:
    assert parse_size(value, "k") == size


@pytest.mark.parametrize(
    ("error", "attempts", "give_up", "delay"),
    [
        (GoneError("x", reason="http_404", status=404), 1, True, None),
        (PermanentFetchError("x", reason="robots_disallowed"), 1, True, None),
        (PermanentFetchError("x", reason="http_403", status=403), 1, False, 300.0),
        (PermanentFetchError("x", reason="http_403", status=403), 30, True, None),
        (TransientFetchError("x", reason="http_503", retry_after=7200.0), 1, False, 7200.0),
        (TransientFetchError("x", reason="timeout"), 3, False, 1200.0),
        (TransientFetchError("x", reason="timeout"), 40, True, None),
        (ArchiveError("disk full"), 40, False, 21600.0),  # never the article's fault
        (ExtractError("no body"), 2, False, 600.0),
        # Past its budget, or refused markup: the same bytes would cost the same again.
        (BudgetError("over", reason="cpu_budget"), 1, True, None),
        (BudgetError("over", reason="memory_budget"), 1, True, None),
        (ExtractError("refused", reason="too_many_attributes"), 1, True, None),
        (ExtractError("refused", reason="nested_too_deep"), 1, True, None),
        (ExtractError("crashed", reason="worker_crashed"), 1, False, 300.0),
    ],
)
def test_the_verdict_after_a_failure(
    error: Exception, attempts: int, give_up: bool, delay: float | None
) -> None:
    verdict = after_failure(error, attempts, RetrySettings(), jitter=0.0)
    assert verdict.give_up is give_up
    if delay is not None:
        assert verdict.delay == delay
    assert after_failure(error, attempts, RetrySettings(), jitter=1.0).delay == pytest.approx(
        verdict.delay * 1.1
    )


def test_errors_cross_process_boundaries_with_their_reason() -> None:
    import pickle

    for error in (
        TransientFetchError("x", reason="timeout", status=503, retry_after=3.0),
        BudgetError("over", reason="memory_budget"),
        ExtractError("refused", reason="too_many_attributes"),
    ):
        again = pickle.loads(pickle.dumps(error))
        assert (type(again), str(again), again.__dict__) == (
            type(error),
            str(error),
            error.__dict__,
        )

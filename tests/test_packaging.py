"""What ships: the default configuration (two identical copies) and the record schema."""

from __future__ import annotations

from pathlib import Path

import jsonschema

from worker.config import load, packaged_default
from worker.store.record import schema

ROOT = Path(__file__).resolve().parents[1]


def test_shipped_default_config_is_the_packaged_one() -> None:
    assert (ROOT / "config" / "news-worker.toml").read_text(encoding="utf-8") == packaged_default()


def test_default_config_loads_with_the_moscow_times() -> None:
    settings = load(ROOT / "config" / "news-worker.toml", env={})
    source = settings.source("moscowtimes")
    assert source.profile == "moscowtimes"
    assert "https://www.themoscowtimes.com/rss/news" in source.feeds
    assert "https://www.themoscowtimes.com/rss/all" in source.feeds
    assert source.sitemap == "https://static.themoscowtimes.com/sitemap/sitemap.xml"
    assert source.interval == 600 and source.honour_ttl is False
    assert settings.http.per_host_concurrency == 2
    assert settings.http.per_host_delay == 1.0
    assert settings.http.respect_robots is True
    assert settings.http.allow_private_addresses is False


def test_record_schema_is_a_valid_json_schema() -> None:
    jsonschema.Draft202012Validator.check_schema(schema())

"""Configuration an operator gets wrong: every number in range, no string for a number in the
file, no misspelt ``NEWS_WORKER_`` variable, and errors that say where the value came from."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import Cli, write_config


def _one_line(code: int, err: str) -> str:
    assert code == 2
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    return err.strip()


@pytest.mark.parametrize(
    ("section", "key", "value", "says"),
    [
        ("service", "port", 99999, "must be at most 65535"),
        ("service", "port", -1, "must be at least 0"),
        ("service", "jitter", 5, "must be below 1"),
        ("service", "jitter", 1, "must be below 1"),
        ("service", "jitter", -0.5, "must be at least 0"),
        ("retry", "give_up_after", "30", "expected an integer, got '30'"),
        ("retry", "give_up_after", 0, "must be at least 1"),
        ("retry", "attempts", 10**12, "must be at most 1000000"),
        ("http", "max_connections", 0, "must be at least 1"),
        ("http", "timeout", "99999d", 'must be at most "366d"'),
        ("http", "respect_robots", "yes", "expected true or false"),
        ("archive", "processes", 100000, "must be at most 256"),
    ],
)
def test_numbers_out_of_range_name_the_key_and_the_file(
    cli: Cli, tmp_path: Path, section: str, key: str, value: object, says: str
) -> None:
    config = write_config(
        tmp_path / "c.toml", feeds=["https://news.example/rss"], archive=tmp_path / "archive"
    )
    literal = f'"{value}"' if isinstance(value, str) else str(value)
    lines = [ln for ln in config.read_text().splitlines() if not ln.startswith(f"{key} = ")]
    text = "\n".join(lines) + "\n"
    config.write_text(text.replace(f"[{section}]\n", f"[{section}]\n{key} = {literal}\n", 1))
    line = _one_line(*cli("fetch", "--config", str(config))[::2])
    assert f"{section}.{key} in {config}: {says}" in line
    assert not (tmp_path / "archive").exists()


def test_a_number_from_the_environment_is_text_and_parsed(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = write_config(
        tmp_path / "c.toml", feeds=["https://news.example/rss"], archive=tmp_path / "archive"
    )
    monkeypatch.setenv("NEWS_WORKER_RETRY_GIVE_UP_AFTER", "30")
    assert cli("config", "check", "--config", str(config))[0] == 0
    monkeypatch.setenv("NEWS_WORKER_SERVICE_PORT", "70000")
    line = _one_line(*cli("config", "check", "--config", str(config))[::2])
    assert "service.port from NEWS_WORKER_SERVICE_PORT: must be at most 65535" in line


def test_an_unknown_news_worker_variable_names_the_nearest_key(
    cli: Cli, config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NEWS_WORKER_HTTP_TIMOUT", "5s")
    line = _one_line(*cli("fetch", "--config", str(config))[::2])
    assert "NEWS_WORKER_HTTP_TIMOUT" in line
    assert "did you mean NEWS_WORKER_HTTP_TIMEOUT (http.timeout)?" in line
    monkeypatch.delenv("NEWS_WORKER_HTTP_TIMOUT")
    monkeypatch.setenv("NEWS_WORKER_FROBNICATE", "1")
    line = _one_line(*cli("fetch", "--config", str(config))[::2])
    assert "NEWS_WORKER_FROBNICATE" in line and "NEWS_WORKER_<SECTION>_<KEY>" in line


def test_a_config_named_by_the_variable_is_reported_as_the_variable(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("NEWS_WORKER_CONFIG", "nope.toml")
    line = _one_line(*cli("fetch")[::2])
    assert "NEWS_WORKER_CONFIG=nope.toml: cannot read" in line and "--config" not in line
    monkeypatch.delenv("NEWS_WORKER_CONFIG")
    line = _one_line(*cli("fetch", "--config", "nope.toml")[::2])
    assert "--config nope.toml: cannot read" in line


def test_a_misspelt_key_suggests_the_right_one(cli: Cli, tmp_path: Path) -> None:
    config = write_config(
        tmp_path / "c.toml", feeds=["https://news.example/rss"], archive=tmp_path / "archive"
    )
    config.write_text(config.read_text().replace("[http]\n", "[http]\nper_host_concurency = 2\n"))
    line = _one_line(*cli("fetch", "--config", str(config))[::2])
    assert (
        f"http.per_host_concurency in {config}: unknown key (did you mean per_host_concurrency?"
        in line
    )

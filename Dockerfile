# news-worker: the ingest service in a container.
# Dependencies come from requirements.lock (hash-pinned, regenerated as README's "Scaling out"
# says), so two builds of one commit install the same files; the image holds the `all` extras
# (PostgreSQL state, S3 archive) so one image serves a single worker and a scaled-out setup.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    NEWS_WORKER_CONFIG=/config/news-worker.toml \
    NEWS_WORKER_ARCHIVE_DIR=/data/archive \
    NEWS_WORKER_STATE_PATH=/data/state/news-worker.sqlite3 \
    NEWS_WORKER_SERVICE_HOST=0.0.0.0 \
    NEWS_WORKER_SERVICE_PORT=9464

RUN groupadd --system --gid 10001 worker \
    && useradd --system --uid 10001 --gid 10001 --home-dir /data --shell /usr/sbin/nologin worker \
    && mkdir -p /data/archive /data/state /config \
    && chown -R 10001:10001 /data

WORKDIR /app
COPY requirements.lock ./
# The pip that ships with Python 3.11 (23.2) skips lxml_html_clean, which trafilatura needs.
RUN python -m pip install --no-cache-dir pip==26.3 \
    && python -m pip install --no-cache-dir --require-hashes -r requirements.lock
COPY pyproject.toml README.md LICENSE ./
COPY worker ./worker
COPY config/news-worker.toml /config/news-worker.toml
# The lock holds the build backend too: nothing is fetched for the build.
RUN python -m pip install --no-cache-dir --no-deps --no-build-isolation . \
    && python -m pip check \
    && news-worker --version

USER 10001:10001
WORKDIR /data
VOLUME ["/data"]
EXPOSE 9464
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, sys, urllib.request; port = os.environ.get('NEWS_WORKER_SERVICE_PORT', '9464'); sys.exit(urllib.request.urlopen(f'http://127.0.0.1:{port}/healthz', timeout=4).status != 200)"]

ENTRYPOINT ["news-worker"]
CMD ["run"]

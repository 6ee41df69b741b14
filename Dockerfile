# news-worker: the ingest service in a container.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    NEWS_WORKER_CONFIG=/config/news-worker.toml \
    NEWS_WORKER_ARCHIVE_DIR=/data/archive \
    NEWS_WORKER_STATE_PATH=/data/state/news-worker.sqlite3 \
    NEWS_WORKER_SERVICE_HOST=0.0.0.0 \
    NEWS_WORKER_SERVICE_PORT=9464

RUN useradd --system --uid 10001 --home-dir /data --shell /usr/sbin/nologin worker \
    && mkdir -p /data/archive /data/state /config \
    && chown -R worker:worker /data

WORKDIR /app
COPY pyproject.toml README.md LICENSE ./
COPY worker ./worker
COPY config/news-worker.toml /config/news-worker.toml
# The pip that ships with Python 3.11 skips lxml_html_clean, which trafilatura needs.
RUN python -m pip install --no-cache-dir --upgrade pip \
    && python -m pip install --no-cache-dir . \
    && news-worker --version

USER worker
WORKDIR /data
VOLUME ["/data"]
EXPOSE 9464
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:9464/healthz', timeout=4).status != 200)"

ENTRYPOINT ["news-worker"]
CMD ["run"]

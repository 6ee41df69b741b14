"""news-worker: a scheduled ingest worker that archives news articles as normalized JSON."""

__version__ = "0.1.0"

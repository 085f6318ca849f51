"""Prometheus metrics: requests, latency, encode and search time, index size and age."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest

if TYPE_CHECKING:
    from ..searcher import Searcher

REGISTRY = CollectorRegistry(auto_describe=True)
FAST_BUCKETS = (0.0005, 0.001, 0.002, 0.004, 0.008, 0.016, 0.032, 0.064, 0.128, 0.256, 0.512, 1.0, 2.0, 5.0)

REQUESTS = Counter("qa_requests_total", "HTTP requests by route and status", ["route", "method", "status"],
                   registry=REGISTRY)
LATENCY = Histogram("qa_request_seconds", "HTTP request latency by route", ["route"], buckets=FAST_BUCKETS,
                    registry=REGISTRY)
ENCODE_SECONDS = Histogram("qa_encode_seconds", "Time to embed one batch of questions", buckets=FAST_BUCKETS,
                           registry=REGISTRY)
SEARCH_SECONDS = Histogram("qa_search_seconds",
                           "Time to retrieve and answer one batch (with a partner model, its encoding too)",
                           buckets=FAST_BUCKETS,
                           registry=REGISTRY)
BATCH_SIZE = Histogram("qa_batch_size", "Questions per encoder call", buckets=(1, 2, 4, 8, 16, 32, 64),
                       registry=REGISTRY)
CACHE_HITS = Counter("qa_cache_hits_total", "Answers served from the cache", registry=REGISTRY)
DROPPED = Counter("qa_questions_dropped_total", "Questions not computed: refused while too many waited (busy), "
                  "or left by every request that asked them (abandoned)", ["reason"], registry=REGISTRY)
CONNECTIONS_CLOSED = Counter("qa_connections_closed_total", "Connections the server closed on a client: too many "
                             "open (too_many_connections), a request not received or a response not read in time "
                             "(slow_client), or a request head or trailers too large (head_too_large)", ["reason"], registry=REGISTRY)
LOW_CONFIDENCE = Counter("qa_low_confidence_total", "Answers flagged low confidence", registry=REGISTRY)
INDEX_SECTIONS = Gauge("qa_index_sections", "Sections in the served index", registry=REGISTRY)
INDEX_ARTICLES = Gauge("qa_index_articles", "Articles in the served index", registry=REGISTRY)
INDEX_BUILT = Gauge("qa_index_built_timestamp_seconds", "When the served index was built (Unix time)",
                    registry=REGISTRY)
INDEX_AGE = Gauge("qa_index_age_seconds", "Seconds since the served index was built", registry=REGISTRY)
RELOADS = Counter("qa_index_reloads_total", "Index generations swapped in", ["outcome"], registry=REGISTRY)

router = APIRouter(tags=["operations"])


def observe_index(searcher: Searcher) -> None:
    from datetime import datetime

    counts = searcher.manifest.get("counts", {})
    INDEX_SECTIONS.set(counts.get("sections", 0))
    INDEX_ARTICLES.set(counts.get("articles", 0))
    try:
        built = datetime.fromisoformat(searcher.manifest["built_at"]).timestamp()
    except (KeyError, ValueError, TypeError):
        built = time.time()
    INDEX_BUILT.set(built)
    INDEX_AGE.set_function(lambda: time.time() - built)


@router.get("/metrics", summary="Prometheus metrics", response_class=Response,
            responses={200: {"content": {CONTENT_TYPE_LATEST: {}}, "description": "Metrics in text format"}})
def get_metrics() -> Response:
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)

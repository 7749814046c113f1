"""Prometheus metrics: request counts and latency by route template, plus scrape-time gauges.

Counters live in prometheus-client's default registry, so metrics other modules
register there are served by ``/metrics`` too. The outbox lag and queue depths
are read when Prometheus scrapes, from the outboxes and the broker's queues.
"""

from __future__ import annotations

import structlog
from prometheus_client import REGISTRY, Counter, Gauge, Histogram, generate_latest

from shared.config import Settings
from shared.messaging.events import CONSUMERS
from shared.messaging.relay import outbox_lag_seconds
from shared.services import SERVICES

log = structlog.get_logger("kolokol.metrics")

SERVICE_QUEUES: tuple[str, ...] = SERVICES
"""Each service's actors listen on the queue of its name."""
DRAMATIQ_NAMESPACE = "dramatiq"

HTTP_REQUESTS = Counter(
    "kolokol_http_requests",
    "HTTP requests answered, by service, route template, method and status.",
    ["service", "route", "method", "status"],
)
HTTP_DURATION = Histogram(
    "kolokol_http_request_duration_seconds",
    "Time to answer an HTTP request, by service, route template and method.",
    ["service", "route", "method"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
OUTBOX_LAG = Gauge(
    "kolokol_outbox_lag_seconds",
    "Age of the oldest unpublished outbox row (0 when the outbox is drained).",
)
QUEUE_DEPTH = Gauge(
    "kolokol_queue_depth",
    "Messages waiting in a broker queue.",
    ["queue"],
)


def observe_request(
    service: str, route: str, method: str, status: int, duration_seconds: float
) -> None:
    HTTP_REQUESTS.labels(service, route, method, str(status)).inc()
    HTTP_DURATION.labels(service, route, method).observe(duration_seconds)


def _queues() -> list[str]:
    queues = set(SERVICE_QUEUES)
    for services in CONSUMERS.values():
        queues.update(services)
    return sorted(queues)


async def refresh_gauges(settings: Settings) -> None:
    """Read the outbox lag and queue depths now; a source that is down is skipped."""
    try:
        OUTBOX_LAG.set(await outbox_lag_seconds())
    except Exception as exc:  # a scrape must not fail because one source is down
        log.warning("metrics.outbox_lag_failed", error=type(exc).__name__)
    try:
        from shared.redis import get_redis

        redis = get_redis(settings)
        queues = _queues()
        async with redis.pipeline(transaction=False) as pipe:
            for queue in queues:
                pipe.llen(f"{DRAMATIQ_NAMESPACE}:{queue}")
            depths = await pipe.execute()
        for queue, depth in zip(queues, depths, strict=True):
            QUEUE_DEPTH.labels(queue).set(int(depth))
    except Exception as exc:  # same: report what can be read
        log.warning("metrics.queue_depth_failed", error=type(exc).__name__)


def render_latest() -> bytes:
    return generate_latest(REGISTRY)

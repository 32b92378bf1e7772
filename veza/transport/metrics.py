"""Prometheus metrics, kept in a registry per app so several apps can live in one process.

Every label takes its value from a small set, whatever clients send: a method outside the
standard ones counts as `other`, and a path that matches no route as the one template
`unmatched` (routes are counted by their template, never by their path)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
OTHER_METHOD = "other"
UNMATCHED_ROUTE = "unmatched"


def method_label(method: str) -> str:
    """The method as a label: one of METHODS, or `other` (any token is a valid HTTP method,
    so a client could otherwise add label sets without end)."""
    return method if method in METHODS else OTHER_METHOD


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "veza_http_requests",
            "HTTP requests answered, by route template and status",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "veza_http_request_duration_seconds",
            "Time to answer an HTTP request, by route template",
            ["method", "route"],
            registry=self.registry,
        )
        self.in_flight = Gauge(
            "veza_http_requests_in_flight", "HTTP requests being answered", registry=self.registry
        )
        self.jobs = Gauge(
            "veza_jobs", "Jobs in the queue, by status", ["status"], registry=self.registry
        )

        self.events = Gauge(
            "veza_events",
            "The event bus: open subscriptions, events published or delivered (a running"
            " total), subscriptions dropped for lagging (a running total)",
            ["what"],
            registry=self.registry,
        )
        self.relay = Gauge(
            "veza_event_relay",
            "The PostgreSQL event relay (running totals): events not sent to other processes,"
            " times every subscription was told to resynchronise",
            ["what"],
            registry=self.registry,
        )

    def observe(self, method: str, route: str | None, status: int, seconds: float) -> None:
        """Count a request answered: `route` is the template of the route that matched, or
        None when none did."""
        method, route = method_label(method), route or UNMATCHED_ROUTE
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(method, route).observe(seconds)

    def set_job_counts(self, counts: dict[str, int]) -> None:
        for status in ("queued", "running", "done", "failed"):
            self.jobs.labels(status).set(counts.get(status, 0))

    def set_events(
        self, subscriptions: int, published: int, dropped: int, relay: tuple[int, int] | None
    ) -> None:
        self.events.labels("subscriptions").set(subscriptions)
        self.events.labels("published").set(published)
        self.events.labels("dropped").set(dropped)
        if relay is not None:
            self.relay.labels("lost").set(relay[0])
            self.relay.labels("resyncs").set(relay[1])

    def render(self) -> bytes:
        return generate_latest(self.registry)

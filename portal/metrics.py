"""Prometheus text exposition (format 0.0.4), written by hand: a few families, no client library.

`RequestLatency` is the portal's own request-duration histogram, kept in process: one series per
route *template* (`/records/<record_id>`, never the URL), method and status code, so its size is
bounded by the app's routes whatever URLs clients send. Under gunicorn each worker process keeps
its own; docs/operations.md says how to read that.

Reference: https://prometheus.io/docs/instrumenting/exposition_formats/#text-based-format
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from werkzeug.http import HTTP_STATUS_CODES

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# seconds; a page should take tens of milliseconds, a search on a loaded SQLite index may take seconds
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
UNMATCHED_ROUTE = "(unmatched)"  # 404s for URLs no route knows: one series, not one per URL
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"})

Labels = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Sample:
    suffix: str  # appended to the family name: "", "_bucket", "_sum", "_count"
    labels: Labels
    value: float


@dataclass(frozen=True)
class Family:
    name: str
    kind: str  # "counter", "gauge", "histogram", "summary"
    help: str
    samples: tuple[Sample, ...] = field(default_factory=tuple)


def escape_label(value: str) -> str:
    """A label value as the text format quotes it: backslash, double quote and newline escaped."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _number(value: float) -> str:
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if math.isnan(value):
        return "NaN"
    return repr(int(value)) if float(value).is_integer() and abs(value) < 2**53 else repr(float(value))


def render(families: Iterable[Family]) -> str:
    """The exposition text of `families` (one HELP and TYPE line each, then its samples)."""
    lines = []
    for family in families:
        lines.append(f"# HELP {family.name} {family.help.replace(chr(92), chr(92) * 2).replace(chr(10), ' ')}")
        lines.append(f"# TYPE {family.name} {family.kind}")
        for sample in family.samples:
            labels = ",".join(f'{name}="{escape_label(value)}"' for name, value in sample.labels)
            lines.append(f"{family.name}{sample.suffix}{{{labels}}} {_number(sample.value)}" if labels
                         else f"{family.name}{sample.suffix} {_number(sample.value)}")
    return "\n".join(lines) + "\n"


def gauge(name: str, help_text: str, values: Mapping[Labels, float] | float) -> Family:
    items = values.items() if isinstance(values, Mapping) else [((), values)]
    return Family(name, "gauge", help_text, tuple(Sample("", labels, value) for labels, value in items))


def counter(name: str, help_text: str, values: Mapping[Labels, float] | float) -> Family:
    """A counter `name_total`: the text format names the family as its samples, suffix included."""
    items = values.items() if isinstance(values, Mapping) else [((), values)]
    return Family(name + "_total", "counter", help_text, tuple(Sample("", labels, value) for labels, value in items))


class RequestLatency:
    """A thread-safe request-duration histogram per (route template, method, status code)."""

    def __init__(self, buckets: tuple[float, ...] = LATENCY_BUCKETS) -> None:
        self.buckets = buckets
        self._series: dict[Labels, list[float]] = {}  # bucket counts..., then sum, then count
        self._lock = threading.Lock()

    def observe(self, route: str | None, method: str, status: int, seconds: float) -> None:
        labels = (("route", route or UNMATCHED_ROUTE),
                  ("method", method if method in KNOWN_METHODS else "other"),
                  ("code", str(status) if status in HTTP_STATUS_CODES else "other"))
        with self._lock:
            series = self._series.get(labels)
            if series is None:
                series = self._series[labels] = [0.0] * (len(self.buckets) + 2)
            for position, bound in enumerate(self.buckets):
                if seconds <= bound:
                    series[position] += 1
            series[-2] += seconds
            series[-1] += 1

    def family(self, name: str = "sunshine_portal_request_duration_seconds") -> Family:
        with self._lock:
            snapshot = {labels: list(series) for labels, series in self._series.items()}
        samples = []
        for labels, series in sorted(snapshot.items()):
            for position, bound in enumerate(self.buckets):
                samples.append(Sample("_bucket", (*labels, ("le", _number(bound))), series[position]))
            samples.append(Sample("_bucket", (*labels, ("le", "+Inf")), series[-1]))
            samples.append(Sample("_sum", labels, series[-2]))
            samples.append(Sample("_count", labels, series[-1]))
        return Family(name, "histogram", "Time the portal took to answer, by route template, method and "
                      "status code (this process).", tuple(samples))

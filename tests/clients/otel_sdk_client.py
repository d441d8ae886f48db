"""Emits traces, metrics and logs with the OpenTelemetry Python SDK and its OTLP exporters,
clients nobody here wrote.

Usage: otel_sdk_client.py PROTOCOL ENDPOINT, PROTOCOL being "http" (OTLP/HTTP protobuf, ENDPOINT
like http://127.0.0.1:4318) or "grpc" (ENDPOINT like 127.0.0.1:4317).

It sends, with resource service.name=vivo-test and scope "vivo.test" 1.2:
- a span tree: "checkout" (server) with a child "charge" (client, status ERROR "card declined",
  attributes amount=42 (int), currency="EUR", retried=true, ratio=0.5, an event "retry" with
  attempt=2, and a link to the parent's context);
- metrics: counter "orders" (+3 with method=GET, +2 with method=POST), histogram "latency_ms"
  (values 5, 15, 150 with explicit bounds 10 and 100), gauge "queue_depth" (7);
- logs: "payment failed" (WARNING, with attribute order.id="A1") emitted inside the child span,
  and "done" (INFO).
It prints the trace and span IDs it used as JSON on stdout, and exits non-zero if an export
failed.

Environment: VIVO_TEST_CA, a CA certificate file, makes it use TLS (ENDPOINT https://... for
"http"); VIVO_TEST_TOKEN sends "authorization: Bearer <token>" with every export.
"""

import json
import logging
import os
import sys

from opentelemetry import metrics, trace
from opentelemetry._logs import set_logger_provider
from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.metrics.view import ExplicitBucketHistogramAggregation, View
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import Link, SpanKind, Status, StatusCode


def exporters(protocol, endpoint):
    ca = os.environ.get("VIVO_TEST_CA")
    token = os.environ.get("VIVO_TEST_TOKEN")
    headers = {"authorization": f"Bearer {token}"} if token else None
    if protocol == "http":
        from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
        from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        options = {"timeout": 10, "headers": headers, "certificate_file": ca}
        return (
            OTLPSpanExporter(endpoint=f"{endpoint}/v1/traces", **options),
            OTLPMetricExporter(endpoint=f"{endpoint}/v1/metrics", **options),
            OTLPLogExporter(endpoint=f"{endpoint}/v1/logs", **options),
        )
    from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter
    from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

    options = {"timeout": 10, "headers": headers, "insecure": ca is None}
    if ca:
        import grpc

        with open(ca, "rb") as f:
            options["credentials"] = grpc.ssl_channel_credentials(root_certificates=f.read())
    return (
        OTLPSpanExporter(endpoint=endpoint, **options),
        OTLPMetricExporter(endpoint=endpoint, **options),
        OTLPLogExporter(endpoint=endpoint, **options),
    )


class Checked:
    """Wraps an exporter and remembers whether every export succeeded."""

    def __init__(self, inner):
        self.inner = inner
        self.failed = []

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def export(self, batch, *args, **kwargs):
        result = self.inner.export(batch, *args, **kwargs)
        if getattr(result, "name", "SUCCESS") != "SUCCESS":
            self.failed.append(str(result))
        return result


def main():
    protocol, endpoint = sys.argv[1], sys.argv[2]
    resource = Resource.create({"service.name": "vivo-test"})
    span_exporter, metric_exporter, log_exporter = (Checked(e) for e in exporters(protocol, endpoint))

    tracer_provider = TracerProvider(resource=resource)
    tracer_provider.add_span_processor(SimpleSpanProcessor(span_exporter))
    reader = PeriodicExportingMetricReader(metric_exporter, export_interval_millis=3_600_000)
    meter_provider = MeterProvider(
        resource=resource,
        metric_readers=[reader],
        views=[View(instrument_name="latency_ms",
                    aggregation=ExplicitBucketHistogramAggregation(boundaries=[10, 100]))],
    )
    logger_provider = LoggerProvider(resource=resource)
    logger_provider.add_log_record_processor(SimpleLogRecordProcessor(log_exporter))
    set_logger_provider(logger_provider)
    log = logging.getLogger("vivo.test.app")
    log.propagate = False
    log.addHandler(LoggingHandler(level=logging.INFO, logger_provider=logger_provider))
    log.setLevel(logging.INFO)

    tracer = tracer_provider.get_tracer("vivo.test", "1.2")
    ids = {}
    with tracer.start_as_current_span("checkout", kind=SpanKind.SERVER) as parent:
        parent_ctx = parent.get_span_context()
        with tracer.start_as_current_span(
            "charge",
            kind=SpanKind.CLIENT,
            attributes={"amount": 42, "currency": "EUR", "retried": True, "ratio": 0.5},
            links=[Link(parent_ctx, {"rel": "parent"})],
        ) as child:
            child.add_event("retry", {"attempt": 2})
            child.set_status(Status(StatusCode.ERROR, "card declined"))
            log.warning("payment failed", extra={"order.id": "A1"})
            ids["child_span_id"] = format(child.get_span_context().span_id, "016x")
        ids["trace_id"] = format(parent_ctx.trace_id, "032x")
        ids["parent_span_id"] = format(parent_ctx.span_id, "016x")
    log.info("done")

    meter = meter_provider.get_meter("vivo.test", "1.2")
    orders = meter.create_counter("orders", description="Orders placed")
    orders.add(3, {"method": "GET"})
    orders.add(2, {"method": "POST"})
    latency = meter.create_histogram("latency_ms", description="Latency")
    for value in (5, 15, 150):
        latency.record(value)
    meter.create_gauge("queue_depth").set(7)
    reader.force_flush()

    tracer_provider.shutdown()
    meter_provider.shutdown()
    logger_provider.shutdown()
    failed = span_exporter.failed + metric_exporter.failed + log_exporter.failed
    if failed:
        sys.exit(f"exports failed: {failed}")
    print(json.dumps(ids))


if __name__ == "__main__":
    main()

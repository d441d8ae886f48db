#!/usr/bin/env python3
"""Writes this folder's extra Forward vectors (what the Fluent Bit v4.1.2 capture lacks).

Run from this folder with the `msgpack` package: python3 make_vectors.py
The .expected.ndjson files are written by hand from the rules in spec §6-§8, not by this
script and not from our output."""
import struct
import msgpack

def event_time(sec, nsec):
    return msgpack.ExtType(0, struct.pack(">II", sec, nsec))

def bits(x):
    return struct.unpack(">Q", struct.pack(">d", x))[0]

def write(name, message):
    with open(name + ".forward.msgpack", "wb") as f:
        f.write(msgpack.packb(message, use_bin_type=True))

# 1. cmetrics context (v5 shape) with one exponential histogram family, as PackedForward.
exp_hist = {
    "meta": {"cmetrics": {}, "external": {}, "processing": {"static_labels": []}},
    "metrics": [{
        "meta": {
            "ver": 2, "type": 5,
            "opts": {"ns": "http", "ss": "server", "name": "duration_seconds",
                     "desc": "Request duration.", "unit": "s"},
            "labels": ["route"], "aggregation_type": 2,
        },
        "values": [{
            "ts": 1700000000123456789, "start_ts": 1699999990000000000,
            "exp_histogram": {
                "scale": 3, "zero_count": 1, "zero_threshold": 0.0,
                "positive_offset": -2, "positive_buckets": [4, 0, 7],
                "negative_offset": 0, "negative_buckets": [],
                "count": 12, "sum_set": 1, "sum": bits(2.5),
            },
            "labels": ["/cart"], "hash": 42,
        }],
    }],
}
write("metrics-exphist", ["otel.metrics", msgpack.packb(exp_hist, use_bin_type=True),
                          {"fluent_signal": 1}])

# 2. Forward mode with float-second timestamps (as Fluentd v0.12-era clients send them).
write("logs-float-time", ["legacy.float", [
    [1700000000.25, {"msg": "quarter"}],
    [1700000001.5, {"msg": "half"}],
    [-0.5, {"msg": "before the epoch"}],
]])

# 3. Message mode, integer time, metadata in the options, an ack requested.
write("logs-message-int", ["app.single", 1700000002, {"msg": "one", "n": -3},
                           {"metadata": {"trace_id": "ab12"}, "chunk": "c0ffee"}])

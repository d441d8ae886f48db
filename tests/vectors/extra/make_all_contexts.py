#!/usr/bin/env python3
"""Writes <vector>.all-contexts.ndjson for the vectors whose payload holds several cmetrics or
ctraces contexts (Fluent Bit's vivo_exporter keeps only the first; we keep every one). Each line
is one context rendered by the independent reference renderer (../reference_render.py, Fluent
Bit v4.1.2's rules), so tests/vectors_render.rs can compare our output byte for byte.

Run from tests/vectors: python3 extra/make_all_contexts.py (needs the msgpack package)."""
import gzip, os, sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
import reference_render as ref  # noqa: E402

VECTORS = ["metrics-05", "metrics-06", "traces-08", "traces-09"]


def contexts(raw):
    m = ref.unpack_all(raw)[0]
    second, opts = m[1], (m[2] if len(m) > 2 else None)
    if isinstance(second, list):  # fluentd_compat: [[time, [ctx, ...]]]
        return [c for entry in second for c in entry[1]]
    payload = second if isinstance(second, bytes) else second.encode("utf-8", "surrogateescape")
    if ref.opts_get(opts, "compressed") == "gzip":
        payload = gzip.decompress(payload)
    return ref.unpack_all(payload)


for name in VECTORS:
    raw = open(os.path.join(HERE, "..", name + ".forward.msgpack"), "rb").read()
    text = "".join(ref.render(c) + "\n" for c in contexts(raw))
    first = open(os.path.join(HERE, "..", name + ".expected.ndjson")).read()
    assert text.startswith(first), f"{name}: the first context differs from Fluent Bit's"
    with open(os.path.join(HERE, name + ".all-contexts.ndjson"), "w") as out:
        out.write(text)
    print(f"{name}: {text.count(chr(10))} contexts")

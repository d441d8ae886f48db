#!/usr/bin/env bash
# RUSTC_WRAPPER for fuzz/run-ci.sh: compiles the crates whose code the fuzz targets exercise with
# libFuzzer's coverage instrumentation, and every other crate (the service's web, TLS and gRPC
# stack, which the targets never reach) as it is, which saves minutes on a cold build.
# Invoked by cargo as: sancov-rustc.sh <rustc> <args...>
set -euo pipefail
crate=
prev=
for arg in "$@"; do
    if [ "$prev" = --crate-name ]; then crate=$arg; break; fi
    prev=$arg
done
case "$crate" in
    # The service and the harness; the decoders they hand bytes to.
    vivo_exporter | vivo_fuzz | forward_framer | forward_message | render_value | otlp_decode | query | \
        prost | opentelemetry_proto | serde_json | simd_json | flate2 | miniz_oxide | zstd)
        # cargo-fuzz's flags without a sanitizer (src/project.rs in rust-fuzz/cargo-fuzz).
        exec "$@" -Cpasses=sancov-module \
            -Cllvm-args=-sanitizer-coverage-level=4 \
            -Cllvm-args=-sanitizer-coverage-inline-8bit-counters \
            -Cllvm-args=-sanitizer-coverage-pc-table \
            -Cllvm-args=-sanitizer-coverage-trace-compares \
            -Cllvm-args=-sanitizer-coverage-stack-depth \
            --cfg fuzzing ;;
    *) exec "$@" ;;
esac

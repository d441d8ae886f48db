#!/usr/bin/env bash
# Compressed reads: server CPU per MB and compression ratio per coding on real log lines, and
# the cost of the era-B/C /api/v1/logs transform (see loadtest/compression.py).
#
#   loadtest/compression.sh                 # the lines of this machine's own logs in /var/log
#   loadtest/compression.sh app.log ...     # your own lines
#   READ_MB=100 SKIP_BUILD=1 loadtest/compression.sh   # fewer reads per row (400 MB)
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ ${SKIP_BUILD:-0} != 1 ]]; then
    cargo build --release --quiet --bin vivo-exporter
fi
exec python3 loadtest/compression.py "$@"

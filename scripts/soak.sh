#!/usr/bin/env bash
# The soak run: the release proxy binary under SOAK_SECS (default 600) of mixed traffic at SOAK_RATE
# requests/s (default 400) — plain and
# streamed chats, upstream errors, clients hanging up mid-stream, 1 MB bodies — with its memory and
# open descriptors sampled every 5 s. Fails when either grows or a request is not recorded exactly
# once. The test itself: proxy/tests/api/soak.rs. Figures: BENCHMARKS.md.
set -euo pipefail
cd "$(dirname "$0")/.."

export DB_PORT=${DB_PORT:-3306}
export DATABASE_URL=${DATABASE_URL:-mysql://root@127.0.0.1:$DB_PORT/test}
scripts/ensure-mariadb.sh >/dev/null
SOAK_SECS=${SOAK_SECS:-600} cargo test --release --locked -p proxy --test api soak::soak -- --ignored --nocapture

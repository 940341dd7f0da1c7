#!/usr/bin/env bash
# The benchmark harness (BENCHMARKS.md, "Request path and log writer"). Builds the proxy, the admin API
# and the harness, makes sure MariaDB answers, installs LiteLLM's proxy into a private venv when it is
# missing (not for --quick or --no-litellm), then runs the harness with the arguments given:
#   scripts/bench.sh                 # the full run (~15 min): every scenario, 5 rounds, LiteLLM too
#   scripts/bench.sh --quick         # a few seconds, debug build: the harness works, nothing is lost
#   scripts/bench.sh --only writer   # one part: request-path, writer or storage
#   scripts/bench.sh --only growth   # the writer as its tables grow (~10 min; not in the full run)
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/tokenslipper-target}
export DB_PORT=${DB_PORT:-3306}
scripts/ensure-mariadb.sh >/dev/null

quick=false litellm=true
for arg in "$@"; do
  case $arg in
    --quick) quick=true ;;
    --no-litellm | --litellm) litellm=false ;;
  esac
done

if $quick; then
  cargo build --locked -q -p proxy -p admin-api -p bench
  bin=$CARGO_TARGET_DIR/debug
else
  cargo build --locked -q --release -p proxy -p admin-api -p bench
  bin=$CARGO_TARGET_DIR/release
  venv=$HOME/.cache/tokenslipper-tools/litellm-venv
  if $litellm && [ ! -x "$venv/bin/litellm" ]; then
    echo "bench: installing LiteLLM's proxy into $venv (once)" >&2
    python3 -m venv "$venv" && "$venv/bin/pip" install -q 'litellm[proxy]'
  fi
fi
exec "$bin/bench" --mysql "mysql://root@127.0.0.1:$DB_PORT" "$@"

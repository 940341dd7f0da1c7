#!/usr/bin/env bash
# The test command: every test of the workspace against a real MariaDB (started when none answers),
# with the official OpenAI Python SDK installed for the client test, the admin SPA built and driven
# in headless Chromium (tools installed when missing: scripts/ensure-web-tools.sh), the whole stack
# started by scripts/run-local.sh, and the Docker files checked against the repository.
set -euo pipefail
cd "$(dirname "$0")/.."

export DB_PORT=${DB_PORT:-3306}
export DATABASE_URL=${DATABASE_URL:-mysql://root@127.0.0.1:$DB_PORT/test}
scripts/ensure-mariadb.sh >/dev/null

if ! python3 -c 'import openai' 2>/dev/null; then
  echo "test.sh: installing the openai Python SDK" >&2
  if ! python3 -m pip --version >/dev/null 2>&1; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-pip >/dev/null
  fi
  python3 -m pip install --quiet openai 2>/dev/null || python3 -m pip install --quiet --break-system-packages openai
fi

# docker-compose.yml and the Dockerfile, checked without a Docker engine (Debian's docker-compose
# validates the file; it brings PyYAML for Debian's own python3, which the check runs under).
if ! command -v docker-compose >/dev/null; then
  echo "test.sh: installing docker-compose (to validate docker-compose.yml)" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker-compose >/dev/null
fi
/usr/bin/python3 scripts/check-deploy-files.py

tools_bin=$(scripts/ensure-web-tools.sh)
export PATH="$tools_bin:$HOME/.cargo/bin:$PATH"
echo "test.sh: building the admin SPA (trunk build --release)" >&2
(cd admin-web && trunk build --release)

# The server crates (default members) and admin-web are tested apart: built together, admin-web's
# serde_json features would be switched on for the servers too, and they would be tested as built
# differently from how they ship.
cargo test --locked "$@"
# admin-web's unit tests (formatting, URL state, chart layout) run on the host.
cargo test --locked -p admin-web
# The benchmark harness in its quick mode: it must keep working, and nothing it sends may be lost
# or doubled in MySQL (timings are not checked here; see BENCHMARKS.md).
echo "test.sh: benchmark harness, quick mode" >&2
scripts/bench.sh --quick
# Its growth part, which a full run leaves out: two runs into one database, numbered on.
scripts/bench.sh --quick --only growth

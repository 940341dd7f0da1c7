#!/usr/bin/env bash
# Makes sure a MySQL-compatible server answers on 127.0.0.1:${DB_PORT:-3306} with user root and an
# empty password, and that database ${DB_NAME:-test} exists. When nothing answers, it starts a private
# MariaDB (installing Debian's mariadb-server first if needed) with its data under
# ${TOKENSLIPPER_DB_DIR:-$HOME/.cache/tokenslipper-mariadb}. Safe to run again: a running server is reused.
# Prints the process id of a server it started (nothing when one was running), for callers that stop it.
set -euo pipefail

port=${DB_PORT:-3306}
name=${DB_NAME:-test}
datadir=${TOKENSLIPPER_DB_DIR:-$HOME/.cache/tokenslipper-mariadb}

answers() { mariadb-admin --protocol=tcp -h127.0.0.1 -P"$port" -uroot ping >/dev/null 2>&1; }

if ! command -v mariadb-admin >/dev/null || ! command -v mariadbd >/dev/null; then
  echo "ensure-mariadb: installing mariadb-server from Debian" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq mariadb-server >/dev/null
fi

if ! answers; then
  echo "ensure-mariadb: nothing answers on 127.0.0.1:$port; starting a private MariaDB in $datadir" >&2
  if [ ! -d "$datadir/mysql" ]; then
    mkdir -p "$datadir"
    mariadb-install-db --no-defaults --user="$(id -un)" --datadir="$datadir" --auth-root-authentication-method=normal \
      --skip-test-db >"$datadir/install.log" 2>&1 || { cat "$datadir/install.log" >&2; exit 1; }
  fi
  # --no-defaults keeps a system my.cnf out; the charset flags keep utf8mb4 as the server default.
  nohup mariadbd --no-defaults --datadir="$datadir" --socket="$datadir/mariadb.sock" --port="$port" \
    --bind-address=127.0.0.1 --user="$(id -un)" --character-set-server=utf8mb4 \
    --collation-server=utf8mb4_unicode_ci --max-connections=500 >"$datadir/mariadb.log" 2>&1 &
  started=$!
  for _ in $(seq 1 60); do answers && break; sleep 0.5; done
  answers || { echo "ensure-mariadb: MariaDB did not start; see $datadir/mariadb.log" >&2; exit 1; }
  echo "$started"
fi

mariadb --protocol=tcp -h127.0.0.1 -P"$port" -uroot \
  -e "CREATE DATABASE IF NOT EXISTS \`$name\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"

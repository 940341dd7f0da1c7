#!/usr/bin/env bash
# TokenSlipper without Docker: builds the proxy, the admin service and the admin web app, then runs
# them against the MySQL/MariaDB that `.env` (or the environment) names. When that database is on
# this machine, nothing answers on its port and `mariadbd` is installed, it starts a private
# MariaDB there for as long as it runs. Prints both banners (URLs, admin token); Ctrl-C stops
# everything it started.
#
# Settings, besides everything in .env.example:
#   TOKENSLIPPER_PROFILE  cargo profile to build and run: release (default) or dev
#   LOCAL_MARIADB         auto (default: start one when needed, as above) or no
#   LOCAL_MARIADB_DIR     data of the private MariaDB (default .local/mariadb-<port>)
set -euo pipefail
cd "$(dirname "$0")/.."

say() { echo "run-local: $*" >&2; }
die() { say "$*"; exit 1; }

# A setting as the binaries will see it: the environment first, then .env.
setting() {
  local name=$1 default=${2-}
  if [ -n "${!name+set}" ]; then
    printf '%s' "${!name}"
  elif [ -f .env ] && grep -q "^$name=" .env; then
    grep "^$name=" .env | tail -n1 | cut -d= -f2- | sed -e 's/^"\(.*\)"$/\1/' -e "s/^'\(.*\)'$/\1/"
  else
    printf '%s' "$default"
  fi
}

# ---- the database ------------------------------------------------------------------------------
url=$(setting DATABASE_URL)
if [ -n "$url" ]; then
  [[ $url =~ ^mysql://([^:@/]*)(:([^@/]*))?@([^:/]+)(:([0-9]+))?/([^?]+) ]] \
    || die "DATABASE_URL is not mysql://user[:password]@host[:port]/database"
  db_user=${BASH_REMATCH[1]} db_password=${BASH_REMATCH[3]} db_host=${BASH_REMATCH[4]}
  db_port=${BASH_REMATCH[6]:-3306} db_name=${BASH_REMATCH[7]}
else
  db_user=$(setting DB_USER root) db_password=$(setting DB_PASSWORD) db_host=$(setting DB_HOST 127.0.0.1)
  db_port=$(setting DB_PORT 3306) db_name=$(setting DB_NAME tokenslipper)
fi

started_db=""
case "$db_host" in 127.0.0.1 | localhost) local_db=yes ;; *) local_db=no ;; esac
if [ "$(setting LOCAL_MARIADB auto)" = auto ] && [ $local_db = yes ] && command -v mariadbd >/dev/null \
  && ! mariadb-admin --protocol=tcp -h127.0.0.1 -P"$db_port" -u"$db_user" ${db_password:+-p"$db_password"} \
    --connect-timeout=2 ping >/dev/null 2>&1; then
  datadir=$(setting LOCAL_MARIADB_DIR ".local/mariadb-$db_port")
  mkdir -p "$datadir"
  datadir=$(cd "$datadir" && pwd)
  say "nothing answers on 127.0.0.1:$db_port: starting a private MariaDB (data in $datadir)"
  started_db=$(DB_PORT=$db_port DB_NAME=$db_name TOKENSLIPPER_DB_DIR=$datadir scripts/ensure-mariadb.sh)
  if [ "$db_user" != root ]; then
    mariadb --protocol=tcp -h127.0.0.1 -P"$db_port" -uroot -e "CREATE USER IF NOT EXISTS '$db_user'@'%' \
      IDENTIFIED BY '$db_password'; GRANT ALL ON \`$db_name\`.* TO '$db_user'@'%';"
  fi
fi

pids=()
stop_all() {
  trap - INT TERM EXIT
  # TERM: the proxy finishes open requests and writes what is queued before it exits.
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  if [ -n "$started_db" ]; then
    say "stopping the private MariaDB"
    kill -TERM "$started_db" 2>/dev/null || true
    while kill -0 "$started_db" 2>/dev/null; do sleep 0.2; done
  fi
}
trap 'stop_all; exit 130' INT
trap 'stop_all; exit 143' TERM
trap stop_all EXIT

# ---- build ---------------------------------------------------------------------------------------
profile=$(setting TOKENSLIPPER_PROFILE release)
case "$profile" in
  release) profile_flag=--release profile_dir=release ;;
  dev) profile_flag="" profile_dir=debug ;;
  *) die "TOKENSLIPPER_PROFILE must be release or dev, not $profile" ;;
esac
say "building the proxy and the admin service ($profile)"
cargo build --locked $profile_flag -p proxy -p admin-api
target_dir=$(cargo metadata --format-version 1 --no-deps | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')

web_dir=$(setting ADMIN_WEB_DIR admin-web/dist)
# Rebuilt only when a source of it is newer than the build.
if [ ! -f "$web_dir/index.html" ] || [ -n "$(find admin-web/src admin-web/queries admin-web/style admin-web/index.html \
  admin-web/Trunk.toml admin-web/Cargo.toml admin-api/schema.graphql -newer "$web_dir/index.html" -print -quit)" ]; then
  say "building the admin web app (trunk build --release)"
  tools_bin=$(scripts/ensure-web-tools.sh --no-browser)
  (cd admin-web && PATH="$tools_bin:$HOME/.cargo/bin:$PATH" trunk build --release)
fi

# ---- run -----------------------------------------------------------------------------------------
# Two malloc arenas, as in the Docker images: the default (one per thread) costs the admin API
# 10-15 MB under load. The proxy allocates with mimalloc and does not read it.
export MALLOC_ARENA_MAX=${MALLOC_ARENA_MAX:-2}
# The proxy's mimalloc hands freed memory back after 10 ms instead of a second, as in the Docker
# image: ~15 MB less at 256 concurrent logged requests.
export MIMALLOC_PURGE_DELAY=${MIMALLOC_PURGE_DELAY:-10}
"$target_dir/$profile_dir/tokenslipper-proxy" &
pids+=($!)
"$target_dir/$profile_dir/tokenslipper-admin" &
pids+=($!)
say "running; Ctrl-C stops the proxy, the admin service${started_db:+ and the private MariaDB}"
# Either one ending ends the run.
set +e
wait -n "${pids[@]}"
status=$?
set -e
say "a service stopped (exit status $status); stopping the rest"
exit "$status"

#!/usr/bin/env bash
# Like wrk-cpu.sh, but counts until MySQL holds every request of the load: the rate a logging proxy
# sustains, its CPU and MariaDB's per request over load and drain, and the proxy's peak RSS (VmHWM:
# the peak since the process started, so start a fresh proxy per measurement of memory). Needs the
# proxy's /metrics (tokenslipper_log_written_total). Used for the A/B rows in BENCHMARKS.md.
#   scripts/wrk-drain.sh PORT [CONNECTIONS] [SECONDS] [LUA]    # LUA: bench/wrk/chat.lua (default)
set -euo pipefail
port=$1 connections=${2:-32} seconds=${3:-5}
lua=${4:-$(dirname "$0")/../bench/wrk/chat.lua}
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
written() { curl -fsS "http://127.0.0.1:$port/metrics" | awk '/^tokenslipper_log_written_total/ {print $2}'; }
pid=$(ss -ltnpH "sport = :$port" | grep -o 'pid=[0-9]*' | head -1 | cut -d= -f2)
db=$(pgrep -x mariadbd || pgrep -x mysqld || true)
out=$(mktemp)
w0=$(written)
p0=$(ticks "$pid"); d0=$([ -n "$db" ] && ticks "$db" || echo 0); t0=$(date +%s%N)
wrk -t1 -c"$connections" -d"${seconds}s" -s "$lua" "http://127.0.0.1:$port/v1/chat/completions" >"$out"
requests=$(awk '/requests in/ {print $1}' "$out")
rm -f "$out"
while [ $(($(written) - w0)) -lt "$requests" ]; do sleep 0.05; done
t1=$(date +%s%N); p1=$(ticks "$pid"); d1=$([ -n "$db" ] && ticks "$db" || echo 0)
peak=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status")
hz=$(getconf CLK_TCK)
awk -v n="$requests" -v ns=$((t1 - t0)) -v p=$((p1 - p0)) -v d=$((d1 - d0)) -v hz="$hz" -v c="$connections" -v kb="$peak" 'BEGIN {
  printf "c=%d  %.0f requests/s until MySQL held them  CPU per request: process %.1f µs, database %.1f µs  peak RSS %.1f MB\n",
    c, n / (ns / 1e9), p / hz / n * 1e6, d / hz / n * 1e6, kb / 1024 }'

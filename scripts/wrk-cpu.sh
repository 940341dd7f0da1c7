#!/usr/bin/env bash
# Requests/s and CPU per request of whatever listens on PORT, under wrk with one thread — the quick
# check used while profiling (BENCHMARKS.md, "What each optimisation bought"); the harness
# (scripts/bench.sh) is the measurement of record.
#   scripts/wrk-cpu.sh PORT [CONNECTIONS] [SECONDS] [LUA]    # LUA: bench/wrk/chat.lua (default) or stream.lua
set -euo pipefail
port=$1 connections=${2:-32} seconds=${3:-5}
lua=${4:-$(dirname "$0")/../bench/wrk/chat.lua}
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
pid=$(ss -ltnpH "sport = :$port" | grep -o 'pid=[0-9]*' | head -1 | cut -d= -f2)
db=$(pgrep -x mariadbd || pgrep -x mysqld || true)
out=$(mktemp)
wrk -t1 -c"$connections" -d$((seconds + 2))s -s "$lua" "http://127.0.0.1:$port/v1/chat/completions" >"$out" &
sleep 1
p0=$(ticks "$pid"); d0=$([ -n "$db" ] && ticks "$db" || echo 0)
sleep "$seconds"
p1=$(ticks "$pid"); d1=$([ -n "$db" ] && ticks "$db" || echo 0)
wait
rps=$(awk '/Requests\/sec/ {print $2}' "$out")
rm -f "$out"
hz=$(getconf CLK_TCK)
awk -v r="$rps" -v p=$((p1 - p0)) -v d=$((d1 - d0)) -v s="$seconds" -v hz="$hz" -v c="$connections" 'BEGIN {
  printf "c=%d  %.0f requests/s  CPU per request: process %.1f µs, database %.1f µs\n", c, r, p / hz / (r * s) * 1e6, d / hz / (r * s) * 1e6 }'

#!/usr/bin/env bash
# Requests/s and CPU per request of whatever listens on PORT, under wrk with one thread — the quick
# check used while profiling (BENCHMARKS.md, "What each optimisation bought"); the harness
# (scripts/bench.sh) is the measurement of record.
#   scripts/wrk-cpu.sh [--drain] PORT [CONNECTIONS] [SECONDS] [LUA]    # LUA: bench/wrk/chat.lua (default) or stream.lua
# Without --drain it samples SECONDS of steady load. With --drain (a logging proxy) it counts from
# the start of the load until MySQL holds every request of it (the proxy's /metrics,
# tokenslipper_log_written_total) — the rate it sustains — and adds the proxy's peak RSS (VmHWM: the
# peak since the process started, so start a fresh proxy per measurement of memory).
set -euo pipefail
drain=false
if [ "${1:-}" = --drain ]; then drain=true; shift; fi
port=$1 connections=${2:-32} seconds=${3:-5}
lua=${4:-$(dirname "$0")/../bench/wrk/chat.lua}
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
written() { curl -fsS "http://127.0.0.1:$port/metrics" | awk '/^tokenslipper_log_written_total/ {print $2}'; }
pid=$(ss -ltnpH "sport = :$port" | grep -o 'pid=[0-9]*' | head -1 | cut -d= -f2)
db=$(pgrep -x mariadbd || pgrep -x mysqld || true)
out=$(mktemp)
if $drain; then
  w0=$(written)
  p0=$(ticks "$pid"); d0=$([ -n "$db" ] && ticks "$db" || echo 0); t0=$(date +%s%N)
  wrk -t1 -c"$connections" -d"${seconds}s" -s "$lua" "http://127.0.0.1:$port/v1/chat/completions" >"$out"
  requests=$(awk '/requests in/ {print $1}' "$out")
  while [ $(($(written) - w0)) -lt "$requests" ]; do sleep 0.05; done
  t1=$(date +%s%N); p1=$(ticks "$pid"); d1=$([ -n "$db" ] && ticks "$db" || echo 0)
  rps=$(awk -v n="$requests" -v ns=$((t1 - t0)) 'BEGIN {print n / (ns / 1e9)}')
  measured=$(awk -v ns=$((t1 - t0)) 'BEGIN {print ns / 1e9}')
  peak=$(awk '/VmHWM/ {printf "  peak RSS %.1f MB", $2 / 1024}' "/proc/$pid/status")
  label="until MySQL held them"
else
  wrk -t1 -c"$connections" -d$((seconds + 2))s -s "$lua" "http://127.0.0.1:$port/v1/chat/completions" >"$out" &
  sleep 1
  p0=$(ticks "$pid"); d0=$([ -n "$db" ] && ticks "$db" || echo 0)
  sleep "$seconds"
  p1=$(ticks "$pid"); d1=$([ -n "$db" ] && ticks "$db" || echo 0)
  wait
  rps=$(awk '/Requests\/sec/ {print $2}' "$out")
  measured=$seconds peak="" label=""
fi
rm -f "$out"
hz=$(getconf CLK_TCK)
awk -v r="$rps" -v p=$((p1 - p0)) -v d=$((d1 - d0)) -v s="$measured" -v hz="$hz" -v c="$connections" \
  -v label="$label" -v peak="$peak" 'BEGIN {
  printf "c=%d  %.0f requests/s%s  CPU per request: process %.1f µs, database %.1f µs%s\n", c, r,
    (label == "" ? "" : " " label), p / hz / (r * s) * 1e6, d / hz / (r * s) * 1e6, peak }'

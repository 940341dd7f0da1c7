#!/usr/bin/env bash
# Who held the CPU while the request path waited for it: records the scheduler for SECONDS with
# `perf sched` (run it while a load runs, e.g. `wrk -t1 -c1 ...`), then, for every time a thread
# whose name matches PATTERN waited longer than THRESHOLD_MS between being woken and running, adds
# up what ran on its CPU meanwhile, by thread name. BENCHMARKS.md ("What the figures say", c=1 p99).
#   scripts/sched-waits.sh [SECONDS] [THRESHOLD_MS] [PATTERN]    # defaults: 4, 0.3, tokio|wrk
set -euo pipefail
seconds=${1:-4} threshold=${2:-0.3} pattern=${3:-tokio|wrk}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
perf sched record -o "$dir/sched.data" -- sleep "$seconds" >/dev/null 2>&1
perf sched timehist -i "$dir/sched.data" 2>/dev/null >"$dir/timehist.txt"
python3 - "$dir/timehist.txt" "$threshold" "$pattern" <<'EOF'
import bisect, collections, re, sys

path, threshold, pattern = sys.argv[1], float(sys.argv[2]), re.compile(sys.argv[3])
# timehist: time [cpu] task wait-time sch-delay run-time (ms), one line per switch-out.
switches = []
for line in open(path).read().splitlines()[3:]:
    fields = line.split()
    try:
        at, cpu, task = float(fields[0]), int(fields[1].strip('[]')), fields[2]
        delay, run = float(fields[4]), float(fields[5])
    except (IndexError, ValueError):
        continue
    switches.append((at, cpu, task, delay, run))
ran = collections.defaultdict(list)  # per CPU: (end, start, task) in seconds, in time order
for at, cpu, task, _, run in switches:
    ran[cpu].append((at, at - run / 1000, task))
ends = {cpu: [end for end, _, _ in spans] for cpu, spans in ran.items()}
held, waits, waited = collections.Counter(), 0, 0.0
for at, cpu, task, delay, run in switches:
    if delay <= threshold or not pattern.match(task):
        continue
    waits += 1
    waited += delay
    started = at - run / 1000
    woken = started - delay / 1000
    # Only the spans on that CPU that end after the wake-up, up to the one that ran the waiter.
    spans = ran[cpu]
    for i in range(bisect.bisect_right(ends[cpu], woken), len(spans)):
        end, start, other = spans[i]
        if start >= started:
            break
        overlap = min(end, started) - max(start, woken)
        if overlap > 0:
            held[re.sub(r'\[.*', '', other)] += overlap * 1000
print(f'{waits} waits over {threshold} ms by /{pattern.pattern}/ threads, {waited:.1f} ms in all;')
print('ms their CPU spent meanwhile on:')
for task, ms in held.most_common(10):
    print(f'{ms:9.1f}  {task}')
EOF

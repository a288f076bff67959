#!/usr/bin/env bash
# The bounded fuzz run (make -C test/fuzz fuzz): one libFuzzer process per CPU, each on its own
# seed, all sharing one corpus directory (-reload picks up what the others found). At the end:
# each worker's libFuzzer summary, any finding, and one total line (inputs, seconds, inputs/s).
#
#   run-fuzz.sh FUZZER SECONDS CORPUS_DIR SEED_CORPUS REGRESSIONS_DIR LOG_DIR
# Environment: WSKB_FUZZ_WORKERS (default: the CPUs this process may use, at most 4: each worker
# grows to about 650 MB of RSS in two minutes, mostly ASan's quarantine).
#
# Pool checks run sampled here (KSIM_POOL_CHECK=sampled, native/ksim/src/pool.c): every block up
# to 4 KiB is still poisoned and checked whole, larger ones at their edges and one line per page,
# and ASan watches every byte. Full checks made each input six times slower (most of it filling
# and checking 64 KiB-4 MiB buffers); `make replay`, which npm test runs, replays the corpus and
# every regression with full checks.
set -uo pipefail
fuzzer=$1 seconds=$2 corpus=$3 seeds=$4 regressions=$5 logs=$6
cpus=$(nproc 2>/dev/null || echo 1)
workers=${WSKB_FUZZ_WORKERS:-$((cpus < 4 ? cpus : 4))}
mkdir -p "$corpus" "$regressions" "$logs"
rm -f "$logs"/worker-*.log

pids=()
for ((w = 1; w <= workers; w++)); do
  KSIM_POOL_CHECK=sampled "$fuzzer" -max_total_time="$seconds" -timeout=60 -rss_limit_mb=4096 -detect_leaks=0 \
    -seed="$w" -reload=1 -artifact_prefix="$regressions/" -print_final_stats=1 "$corpus" "$seeds" \
    >"$logs/worker-$w.log" 2>&1 &
  pids+=($!)
done
status=0
for pid in "${pids[@]}"; do
  wait "$pid" || status=1
done

# A slow unit is not a finding: libFuzzer writes one whenever an input's wall time beats the
# slowest so far past 10 s, and a stall of the whole machine does that (one 27 s stall hit both
# workers of a run here at once; the input itself replays in 0.1 s). It is moved to the logs and
# named; a hang is a timeout (60 s), which stays in regressions/.
for slow in "$regressions"/slow-unit-*; do
  [ -e "$slow" ] || continue
  mv "$slow" "$logs/"
  echo "fuzz: $(basename "$slow") (an input slower than 10 s, not a finding) moved to $logs"
done

total=0
for ((w = 1; w <= workers; w++)); do
  log="$logs/worker-$w.log"
  echo "-- worker $w ($log)"
  grep -E '^(#[0-9]+[[:space:]]+DONE|==[0-9]+== ?ERROR|SUMMARY|artifact_prefix|Test unit written)' "$log" || true
  count=$(sed -n 's/^ioctl_fuzz: \([0-9][0-9]*\) inputs executed.*/\1/p' "$log" | tail -1)
  total=$((total + ${count:-0}))
done
echo "fuzz: ${total} inputs executed in ${seconds} s by ${workers} worker(s): $((total / (seconds > 0 ? seconds : 1))) inputs/s (deterministic scheduler, in-memory network)"
exit "$status"

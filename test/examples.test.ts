// SPDX-License-Identifier: MIT
//
// Every example (scripts/examples/) and the demo run as a user runs them, on sim: a child
// process each, which must exit 0 within its timeout. The examples import the package by name
// ('wsk-bridge', through package.json's self-reference exports), as a user's code does.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';

const root = path.resolve(__dirname, '..', '..');
const examples = readdirSync(path.join(root, 'scripts', 'examples')).filter((f) => f.endsWith('.ts') && f !== 'common.ts');

function run(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, args, { cwd: root, timeout: 60_000, env: { ...process.env, WSKB_BACKEND: 'sim', WSKB_TRACE: '' } }, (error, stdout, stderr) => {
      resolve({ code: error ? ((error as { code?: number }).code ?? null) : 0, stdout, stderr });
    });
  });
}

describe('examples and demo run (sim)', function () {
  this.timeout(70_000);

  it('finds the examples', () => {
    assert.ok(examples.length >= 5, `examples: ${examples.join(', ')}`);
  });

  for (const file of examples) {
    it(`${file} exits 0, imports only the package by name`, async () => {
      const source = readFileSync(path.join(root, 'scripts', 'examples', file), 'utf8');
      assert.doesNotMatch(source, /from '\.\.\/\.\.\/lib\//, 'examples use the package, not its sources');
      const { code, stdout, stderr } = await run([path.join(root, 'dist', 'scripts', 'examples', file.replace(/\.ts$/, '.js'))]);
      assert.equal(code, 0, `stdout:\n${stdout}\nstderr:\n${stderr}`);
      assert.match(stdout, /STATUS_SUCCESS/);
    });
  }

  it('`wsk-bridge demo` prints the event table and finishes', async () => {
    const { code, stdout, stderr } = await run([path.join(root, 'dist', 'scripts', 'cli.js'), 'demo']);
    assert.equal(code, 0, `stdout:\n${stdout}\nstderr:\n${stderr}`);
    assert.match(stdout, /seq\s+time\s+socket\s+what\s+details/);
    assert.match(stdout, /listener\s+accept\s+new socket 0x[0-9a-f]+/);
    assert.match(stdout, /\ndone\.\n/);
  });
});

// SPDX-License-Identifier: MIT
//
// Soak: the Node process exits promptly (< 1 s) once the last handle is closed, after real
// traffic, whatever state its iterators were left in: broken out of, waiting in next(),
// holding buffered events, paused with data still flowing, or sockets closed under them.
// Also with the session left open and idle (READ_EVENTS are weak). Each scenario runs in a
// child (test/soak/fixtures/exit-scenarios.ts) that prints CLOSED and then does nothing.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as path from 'node:path';

const EXIT_WITHIN_MS = 1000;

function runScenario(name: string): Promise<{ code: number | null; signal: NodeJS.Signals | null; closedToExitMs: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(__dirname, 'fixtures', 'exit-scenarios.js'), name], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, WSKB_BACKEND: 'sim' },
    });
    let stdout = '';
    let stderr = '';
    let closedAt = 0;
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      if (!closedAt && /CLOSED verifier=\d+\n/.test(stdout)) closedAt = Date.now();
    });
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    // Killed if it lingers: the assertion below then reports how long it hung.
    const killer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      clearTimeout(killer);
      const exitedAt = Date.now();
      resolve({ code, signal, closedToExitMs: closedAt ? exitedAt - closedAt : NaN, stdout, stderr });
    });
  });
}

describe('soak: the process exits promptly after the last handle closes', function () {
  this.timeout(30_000);

  for (const scenario of ['break', 'waiting', 'paused', 'socket-close', 'idle-open']) {
    it(`scenario '${scenario}'`, async () => {
      const result = await runScenario(scenario);
      console.log(`      exit ${result.closedToExitMs} ms after CLOSED`);
      assert.equal(result.signal, null, `the process hung and was killed (stderr: ${result.stderr})`);
      assert.equal(result.code, 0, `exit code ${result.code}: ${result.stderr}`);
      assert.ok(!Number.isNaN(result.closedToExitMs), `the scenario never reached CLOSED: ${result.stderr}`);
      assert.match(result.stdout, /CLOSED verifier=0\n/, 'ksim verifier failures in the child');
      assert.ok(result.closedToExitMs < EXIT_WITHIN_MS, `exited ${result.closedToExitMs} ms after the last handle closed`);
    });
  }
});

// SPDX-License-Identifier: MIT
//
// Node users fear processes that never exit: an open session with idle sockets must not keep
// the process alive (READ_EVENTS are weak), while an iterator waiting for events must.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as path from 'node:path';

const lib = path.resolve(__dirname, '../lib/index.js');

function run(script: string, killAfterMs: number): Promise<{ code: number | null; signal: NodeJS.Signals | null; ms: number; stderr: string }> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, WSKB_BACKEND: 'sim' } });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), killAfterMs);
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, ms: Date.now() - started, stderr });
    });
  });
}

describe('process lifetime', function () {
  this.timeout(20_000);

  it('an open session with idle sockets lets the process exit by itself', async () => {
    const script = `
      const { open } = require(${JSON.stringify(lib)});
      (async () => {
        const session = await open({ backend: 'sim' });
        const s = await session.socket('datagram');
        await s.bind({ family: 'ipv4', address: '127.0.0.1', port: 0 });
        await session.socket('listen');
        // No close: the event pump's reads are weak and must not hold the loop.
      })().catch((e) => { console.error(e); process.exit(2); });`;
    const result = await run(script, 8000);
    assert.equal(result.signal, null, `the process had to be killed (stderr: ${result.stderr})`);
    assert.equal(result.code, 0, result.stderr);
  });

  it('an iterator waiting for events keeps the process alive', async () => {
    const script = `
      const { open } = require(${JSON.stringify(lib)});
      (async () => {
        const session = await open({ backend: 'sim' });
        for await (const event of session.events()) console.log(event.type);
      })().catch((e) => { console.error(e); process.exit(2); });`;
    const result = await run(script, 1500);
    assert.equal(result.signal, 'SIGKILL', `exited on its own with code ${result.code} (stderr: ${result.stderr})`);
  });

  it('a pending IRP-style request keeps the process alive until it completes', async () => {
    const script = `
      const { open } = require(${JSON.stringify(lib)});
      const dgram = require('node:dgram');
      (async () => {
        const session = await open({ backend: 'sim' });
        const s = await session.socket('datagram');
        await s.bind({ family: 'ipv4', address: '127.0.0.1', port: 0 });
        const port = (await s.localAddress()).port;
        const peer = dgram.createSocket('udp4');
        setTimeout(() => { peer.send('late', port, '127.0.0.1', () => peer.close()); }, 500).unref();
        const { data } = await s.receiveFrom(100);
        if (data.toString() !== 'late') process.exit(3);
        await session.close();
      })().catch((e) => { console.error(e); process.exit(2); });`;
    const result = await run(script, 8000);
    assert.equal(result.signal, null, `killed (stderr: ${result.stderr})`);
    assert.equal(result.code, 0, result.stderr);
    assert.ok(result.ms >= 450, `exited after ${result.ms} ms, before the datagram came`);
  });
});

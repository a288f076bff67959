// SPDX-License-Identifier: MIT
//
// Driver paths the coverage run (scripts/coverage.sh, docs/reliability.md §6) found reachable
// on ksim but exercised by no test: addresses of a connected connection socket, an accept
// refused because the event budget is spent, and a socket closed while its receive is paused.

import assert from 'node:assert/strict';
import { once } from 'node:events';
import * as net from 'node:net';
import { open, WskEvent, type WskBridgeEvent, type WskSession } from '../lib/index.js';
import { WSKB_EVENT_BUDGET_MIN } from '../lib/protocol.js';
import { closeServer, eventually, leakCounters, nodeServer, openSim, withTimeout } from './helpers/util.js';

/** A session whose pump keeps one READ_EVENTS pending and stops reading after one event: a
 * session-wide iterator with a high-water mark of 1 that nobody reads (only a session-wide
 * iterator stops the pump; an unread socket is held back on its own). The driver's event budget
 * then fills, which these tests need. `release()` lets the pump read again (the gate's unread
 * event goes back to the unclaimed queue). */
async function openStalled(): Promise<WskSession & { release(): Promise<void> }> {
  const session = await open({ backend: 'sim', eventBudget: WSKB_EVENT_BUDGET_MIN, pump: { depth: 1 } });
  const gate = session.events({ highWaterMark: 1 });
  return Object.assign(session, { release: async () => void (await gate.return!()) });
}

/** Waits until a counter of session.stats() is non-zero (the driver did it). */
async function waitForStat(session: WskSession, name: 'receivePauses' | 'acceptsRefused'): Promise<void> {
  const deadline = Date.now() + 5000;
  while ((await session.stats())[name] === 0n) {
    if (Date.now() > deadline) assert.fail(`${name} stayed 0`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Collects events until `until` holds for one of them. */
async function collect(session: WskSession, until: (e: WskBridgeEvent) => boolean, ms = 10_000): Promise<WskBridgeEvent[]> {
  const seen: WskBridgeEvent[] = [];
  const iterator = session.events();
  try {
    for (;;) {
      const { value, done } = await withTimeout(iterator.next(), ms, 'the expected event');
      if (done) return seen;
      seen.push(value);
      if (until(value)) return seen;
    }
  } finally {
    await iterator.return!();
  }
}

describe('driver edge paths (found by the coverage run)', function () {
  this.timeout(30_000);

  it('a connected connection socket reports both its addresses', async () => {
    const session = await openSim();
    const { server, port } = await nodeServer('127.0.0.1', () => {});
    try {
      const socket = await session.socket('connection');
      await socket.bind({ family: 'ipv4', address: '127.0.0.1', port: 0 });
      await socket.connect({ family: 'ipv4', address: '127.0.0.1', port });
      const local = await socket.localAddress();
      const remote = await socket.remoteAddress();
      assert.equal(local?.address, '127.0.0.1');
      assert.ok(local && local.port > 0, 'an ephemeral port was bound');
      assert.deepEqual(remote, { family: 'ipv4', address: '127.0.0.1', port });
      await socket.close();
    } finally {
      await session.close();
      await closeServer(server);
    }
  });

  it('an accept indicated while the event budget is spent is refused, counted and reported', async () => {
    const baseline = leakCounters();
    const session = await openStalled();
    const clients: net.Socket[] = [];
    try {
      const listener = await session.socket('listen');
      await listener.bind({ family: 'ipv4', address: '127.0.0.1', port: 0 });
      const port = (await listener.localAddress())!.port;
      await listener.enableEvents(WskEvent.Accept | WskEvent.Receive);

      // The first peer fills the budget with data nobody reads.
      const filler = net.connect(port, '127.0.0.1');
      filler.on('error', () => {});
      clients.push(filler);
      await once(filler, 'connect');
      filler.write(Buffer.alloc(4 * WSKB_EVENT_BUDGET_MIN, 0x61));
      await waitForStat(session, 'receivePauses');

      // The second peer's accept finds no budget: WskAcceptEvent returns
      // STATUS_REQUEST_NOT_ACCEPTED and the provider resets the connection.
      const refused = net.connect(port, '127.0.0.1');
      clients.push(refused);
      const turnedAway = new Promise<void>((resolve) => refused.on('error', () => resolve()).on('close', () => resolve()));
      await withTimeout(turnedAway, 5000, 'the refused peer to be turned away');
      assert.ok((await session.stats()).acceptsRefused >= 1n, 'counted in stats');

      // Reading again drains the budget; the refusal is reported as an event.
      await session.release();
      const seen = await collect(session, (e) => e.type === 'acceptsRefused');
      const report = seen.find((e) => e.type === 'acceptsRefused');
      assert.ok(report && report.type === 'acceptsRefused' && report.count >= 1, 'an acceptsRefused event with its count');
      assert.equal(report.socketId, listener.id);
    } finally {
      for (const client of clients) client.destroy();
      await session.close();
    }
    await eventually(() => JSON.stringify(leakCounters()) === JSON.stringify(baseline), 'ksim back at baseline');
  });

  it('a socket closed while its receive is paused is never re-armed, and leaves nothing behind', async () => {
    const baseline = leakCounters();
    const session = await openStalled();
    let peer: net.Socket | undefined;
    const { server, port } = await nodeServer('127.0.0.1', (socket) => {
      peer = socket;
      socket.on('error', () => {});
      socket.write(Buffer.alloc(4 * WSKB_EVENT_BUDGET_MIN, 0x62));
    });
    try {
      const socket = await session.socket('connection');
      await socket.bind({ family: 'ipv4', address: '127.0.0.1', port: 0 });
      await socket.connect({ family: 'ipv4', address: '127.0.0.1', port });
      await socket.enableEvents(WskEvent.Receive);
      await waitForStat(session, 'receivePauses');
      await socket.close();
      await session.release();
      // Reading resumes (the library drops the events of a socket closed unread); the budget
      // drains below half, which re-arms paused sockets: this one left the paused list at close.
      const other = await session.socket('datagram');
      await other.bind({ family: 'ipv4', address: '127.0.0.1', port: 0 });
      const drained = collect(session, () => false, 1000).catch(() => []);
      await drained;
      const stats = await session.stats();
      assert.equal(stats.receiveResumes, 0n, 'no zero-length WskReceive on a closed socket');
      assert.equal(stats.socketsOpen, 1, 'only the datagram socket is open');
      await other.close();
    } finally {
      peer?.destroy();
      await session.close();
      await closeServer(server);
    }
    await eventually(() => JSON.stringify(leakCounters()) === JSON.stringify(baseline), 'ksim back at baseline');
  });
});

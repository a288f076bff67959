// SPDX-License-Identifier: MIT
//
// Soak: 10 000 connections accepted through WskAcceptEvent and closed by the bridge (half of
// them after a graceful WskDisconnect, half with WskCloseSocket alone), while a
// Node child process connects and closes as fast as it can (32 at a time). Nothing may grow
// between a baseline taken after a warm-up and the end: ksim's pool (allocations and bytes),
// IRPs, MDLs, host sockets, WSK sockets, this process's file descriptors, and the session's
// own view (open sockets, unclaimed events). Every connection must have been accepted (no
// refusals), and every accepted socket must have reached its socketClosed event.

import assert from 'node:assert/strict';
import { fork } from 'node:child_process';
import * as path from 'node:path';
import { WskEvent, type WskSession, type WskSocket } from '../../lib/index.js';
import { counters, eventually, leakCounters, openSim } from '../helpers/util.js';
import type { ChurnCommand, ChurnResult } from './fixtures/churn-clients.js';
import { openFds } from './fixtures/stream.js';

const COUNT = Number(process.env.WSKB_SOAK_CONNECTIONS ?? 10_000);
const WARMUP = 500;
const CONCURRENCY = 32;

function clients(command: ChurnCommand): Promise<ChurnResult> {
  const child = fork(path.join(__dirname, 'fixtures', 'churn-clients.js'), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  return new Promise<ChurnResult>((resolve, reject) => {
    let result: ChurnResult | undefined;
    child.once('message', (m) => (result = m as ChurnResult));
    // Resolve only once the child is gone: its pipes are then closed, not counted as ours.
    child.once('close', (code) => (result ? resolve(result) : reject(new Error(`clients exited with ${code} before reporting`))));
    child.send(command);
  });
}

/** The bridge side: accepts through events and closes each accepted socket at once. */
class Acceptor {
  accepted = 0;
  closedSeen = 0;
  refused = 0;
  listenerClosedEvents = 0;
  readonly closing = new Set<Promise<void>>();
  readonly closeErrors: string[] = [];
  private readonly loop: Promise<void>;
  private readonly stop = new AbortController();

  constructor(session: WskSession, listenerId: bigint) {
    this.loop = (async () => {
      try {
        for await (const event of session.events({ signal: this.stop.signal, highWaterMark: 4096 })) {
          if (event.type === 'accept') {
            if (!event.socket) {
              this.listenerClosedEvents++;
              continue;
            }
            this.accepted++;
            const socket: WskSocket = event.socket;
            // Every other one gracefully (WskDisconnect, then WskCloseSocket); the rest with
            // WskCloseSocket alone, which resets the connection.
            const graceful = this.accepted % 2 === 0;
            const closing = (graceful ? socket.disconnect().then(() => socket.close()) : socket.close()).catch((e: unknown) => {
              if (this.closeErrors.length < 10) this.closeErrors.push(String(e));
            });
            this.closing.add(closing);
            void closing.finally(() => this.closing.delete(closing));
          } else if (event.type === 'socketClosed' && event.socketId !== listenerId) {
            this.closedSeen++;
          } else if (event.type === 'acceptsRefused') {
            this.refused += event.count;
          }
        }
      } catch (error) {
        if ((error as Error).name !== 'AbortError') throw error;
      }
    })();
  }

  async settle(expected: number): Promise<void> {
    await eventually(() => this.accepted >= expected && this.closedSeen >= expected && this.closing.size === 0, `${expected} accepted sockets closed (accepted ${this.accepted}, closed ${this.closedSeen})`, 30_000);
  }

  async end(): Promise<void> {
    this.stop.abort();
    await this.loop;
  }
}

describe('soak: 10 000 connections accepted through events and closed', function () {
  this.timeout(280_000);

  it('returns to the baseline: pool, IRPs, MDLs, host and WSK sockets, file descriptors', async () => {
    const session = await openSim();
    try {
      const listener = await session.socket('listen');
      await listener.bind({ family: 'ipv4', address: '127.0.0.1', port: 0 });
      await listener.enableEvents(WskEvent.Accept);
      const port = (await listener.localAddress())!.port;
      const acceptor = new Acceptor(session, listener.id);

      const warm = await clients({ port, count: WARMUP, concurrency: CONCURRENCY });
      assert.equal(warm.connected, WARMUP, `warm-up: ${JSON.stringify(warm)}`);
      await acceptor.settle(WARMUP);
      // Host sockets close a moment after their completion; wait for the quiet state.
      await new Promise((resolve) => setTimeout(resolve, 200));
      const before = leakCounters();
      const fdsBefore = openFds();
      const statsBefore = await session.stats();
      const totalAllocationsBefore = counters().poolAllocationsTotal;

      const started = Date.now();
      const run = await clients({ port, count: COUNT, concurrency: CONCURRENCY });
      await acceptor.settle(WARMUP + COUNT);
      const seconds = (Date.now() - started) / 1000;

      // Everything the connections held must be gone again (host sockets may close a moment late).
      let after = leakCounters();
      await eventually(
        () => {
          after = leakCounters();
          return JSON.stringify(after) === JSON.stringify(before);
        },
        'ksim counters back to the baseline',
        10_000,
      ).catch(() => undefined);
      let fdsAfter = openFds();
      await eventually(() => (fdsAfter = openFds()) <= fdsBefore, 'file descriptors back to the baseline', 5000).catch(() => undefined);
      const statsAfter = await session.stats();
      const allocationsPerConnection = (counters().poolAllocationsTotal - totalAllocationsBefore) / COUNT;

      console.log(
        `      ${COUNT} connections in ${seconds.toFixed(1)} s (${(COUNT / seconds).toFixed(0)}/s); client side: ${run.closedCleanly} clean, ${run.resets} reset, ${run.closedBeforeConnectEvent} closed by the bridge before libuv saw the connect; ` +
          `${allocationsPerConnection.toFixed(1)} pool allocations per connection; ` +
          `counters before ${JSON.stringify(before)} after ${JSON.stringify(after)}; fds ${fdsBefore} -> ${fdsAfter}`,
      );

      assert.deepEqual(run.failures, [], 'client failures');
      assert.ok(run.closedCleanly > 0, 'graceful disconnects reached the clients as a clean close');
      assert.equal(run.connected, COUNT);
      assert.equal(acceptor.accepted, WARMUP + COUNT, 'every connection came as an accept event');
      assert.equal(acceptor.refused, 0, 'no accept was refused');
      assert.equal(acceptor.listenerClosedEvents, 0);
      assert.deepEqual(acceptor.closeErrors, []);
      assert.equal(statsAfter.acceptsRefused, statsBefore.acceptsRefused);
      assert.equal(statsAfter.socketsOpen, 1, 'only the listener is open in the driver');
      assert.equal(statsAfter.socketsOpen, statsBefore.socketsOpen);
      assert.equal(statsAfter.eventsQueued, statsAfter.eventsDelivered, 'no event left in the driver');
      assert.deepEqual(session.openSockets.map((s) => s.id), [listener.id], 'the session knows only the listener');

      assert.deepEqual(after, before, 'ksim counters (pool, IRPs, MDLs, host and WSK sockets) grew over 10 000 connections');
      assert.ok(fdsAfter <= fdsBefore, `file descriptors grew from ${fdsBefore} to ${fdsAfter}`);

      await acceptor.end();
      await listener.close();
    } finally {
      await session.close();
    }
  });
});

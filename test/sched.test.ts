// SPDX-License-Identifier: MIT
//
// ksim's execution model (native/ksim/src/ksim_sched.h): which one is in force, that it cannot
// change under a loaded driver, and that the simulated kernel keeps running while the
// JavaScript thread is busy. In the host-loop model the network runs on this thread's event
// loop, so a JavaScript thread that never yields would stall it but for the watchdog; in the
// thread model the network thread is independent. Both must pass (npm test runs the suite in
// host-loop, `npm run test:sched-thread` in thread).

import assert from 'node:assert/strict';
import * as dgram from 'node:dgram';
import { once } from 'node:events';
import * as net from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import { addon } from '../lib/addon.js';
import { open, WskEvent, type WskSession } from '../lib/index.js';
import { openSim, rejectsWith } from './helpers/util.js';

const STATUS_INVALID_PARAMETER = -1073741811; // 0xC000000D
const STATUS_INVALID_DEVICE_STATE = -1073741436; // 0xC0000184

// How long the JavaScript thread stays busy; the checks compare the kernel's timestamps of what
// it took with this span, so they do not depend on how fast the machine is.
const BUSY_MS = 800;

/** Keeps the JavaScript thread busy for BUSY_MS without returning to the event loop (a chain
 *  of process.nextTick callbacks, as a sender looping on nextTick would), calling `act` with the
 *  elapsed milliseconds on every tick. */
function busyOnNextTick(act: (elapsedMs: number) => void): Promise<void> {
  return new Promise((resolve) => {
    const start = performance.now();
    const step = (): void => {
      const elapsed = performance.now() - start;
      if (elapsed >= BUSY_MS) {
        resolve();
        return;
      }
      act(elapsed);
      process.nextTick(step);
    };
    process.nextTick(step);
  });
}

/** Waits until `count()` stops growing for a while (the kernel has nothing more to hand over). */
async function settled(count: () => number): Promise<void> {
  let last = -1;
  for (let i = 0; i < 50 && count() !== last; i++) {
    last = count();
    await delay(200);
  }
}

const spanMs = (timestamps: bigint[]): number =>
  timestamps.length < 2 ? 0 : Number(timestamps[timestamps.length - 1]! - timestamps[0]!) / 10_000;

describe(`ksim execution model (${addon().ksim.scheduler()})`, () => {
  let session: WskSession;
  beforeEach(async () => {
    session = await openSim(32 << 20);
  });
  afterEach(async () => {
    await session.close();
  });

  it('reports the model in force, WSKB_KSIM_SCHED or host-loop by default', () => {
    const expected = process.env.WSKB_KSIM_SCHED || 'host-loop';
    assert.equal(addon().ksim.scheduler(), expected);
  });

  it('refuses to change the model while the driver is loaded, and rejects unknown names', () => {
    const before = addon().ksim.scheduler();
    const other = before === 'thread' ? 'host-loop' : 'thread';
    assert.equal(addon().ksim.selectScheduler(other), STATUS_INVALID_DEVICE_STATE);
    assert.equal(addon().ksim.selectScheduler('no-such-model'), STATUS_INVALID_PARAMETER);
    assert.equal(addon().ksim.scheduler(), before);
  });

  it('open({ simScheduler }) accepts the model in force, refuses the other while sessions are open, switches when none is', async () => {
    const current = addon().ksim.scheduler() as 'thread' | 'host-loop';
    const other = current === 'thread' ? 'host-loop' : 'thread';
    const again = await open({ backend: 'sim', simScheduler: current });
    await again.close();
    await rejectsWith(open({ backend: 'sim', simScheduler: other }), 'STATUS_INVALID_DEVICE_STATE', 'open');
    await assert.rejects(open({ backend: 'sim', simScheduler: 'fast' as never }), TypeError);
    assert.equal(addon().ksim.scheduler(), current);

    // With every session closed the driver unloads and the model may change: the other one
    // runs a session (a TCP connection through the kernel), then the suite's model comes back.
    await session.close();
    const switched = await open({ backend: 'sim', simScheduler: other });
    try {
      assert.equal(addon().ksim.scheduler(), other);
      const listener = await switched.socket('listen', { family: 'ipv4' });
      await listener.bind({ family: 'ipv4', address: '127.0.0.1', port: 0 });
      const client = net.connect((await listener.localAddress())!.port, '127.0.0.1');
      const { socket: accepted } = await listener.accept();
      client.write('over the other model');
      assert.equal((await accepted.receive(100)).toString(), 'over the other model');
      client.destroy();
      await accepted.close();
      await listener.close();
    } finally {
      await switched.close();
    }
    assert.equal(addon().ksim.selectScheduler(current), 0);
    session = await openSim(32 << 20);
  });

  it('takes datagrams all along while a sender loops on process.nextTick', async () => {
    const socket = await session.socket('datagram', { family: 'ipv4' });
    await socket.bind({ family: 'ipv4', address: '127.0.0.1', port: 0 });
    await socket.enableEvents(WskEvent.ReceiveFrom);
    const port = (await socket.localAddress())!.port;
    const sender = dgram.createSocket('udp4');
    sender.bind(0, '127.0.0.1');
    await once(sender, 'listening');

    const timestamps: bigint[] = [];
    // An iterator that never pushes back: while the thread is busy it cannot be read, and past
    // its high-water mark the library would hold the socket back in the driver (its datagrams
    // then counted dropped), which is not what this test is about.
    const events = socket.events({ highWaterMark: 1 << 20 });
    const consuming = (async () => {
      for await (const event of events) if (event.type === 'receiveFrom') timestamps.push(event.timestamp);
    })();
    // 10 datagrams per millisecond: far more over the busy span than the host socket's receive
    // buffer holds (a few hundred), so only a kernel that keeps taking them gets most of them.
    const data = Buffer.alloc(64, 0x5a);
    let sent = 0;
    await busyOnNextTick((elapsed) => {
      for (; sent < Math.floor(elapsed) * 10; sent++) sender.send(data, port, '127.0.0.1');
    });
    await settled(() => timestamps.length);
    await events.return!();
    await consuming;
    sender.close();

    const stats = await session.stats();
    assert.equal(stats.datagramsDropped, 0n, 'the event budget is large enough for all of them');
    assert.ok(timestamps.length >= sent / 2, `the kernel took ${timestamps.length} of ${sent} datagrams`);
    // Taken while the thread was busy, not in one go afterwards.
    assert.ok(spanMs(timestamps) >= BUSY_MS / 2,
      `datagrams taken over ${spanMs(timestamps).toFixed(1)} ms of the ${BUSY_MS} ms busy span`);
  });

  it('accepts connections while the JavaScript thread is busy', async () => {
    const listener = await session.socket('listen', { family: 'ipv4' });
    await listener.bind({ family: 'ipv4', address: '127.0.0.1', port: 0 });
    await listener.enableEvents(WskEvent.Accept);
    const port = (await listener.localAddress())!.port;

    const accepted: bigint[] = [];
    const sockets: Array<{ close(): Promise<void> }> = [];
    const events = session.events();
    const consuming = (async () => {
      for await (const event of events) {
        if (event.type === 'accept') {
          accepted.push(event.timestamp);
          if (event.socket) sockets.push(event.socket);
        }
      }
    })();
    // One client every BUSY_MS / 5; net.connect's connect() runs in a nextTick, inside the span.
    const clients: net.Socket[] = [];
    await busyOnNextTick((elapsed) => {
      if (clients.length < 5 && elapsed >= clients.length * (BUSY_MS / 5)) {
        const client = net.connect(port, '127.0.0.1');
        client.on('error', () => {});
        clients.push(client);
      }
    });
    await settled(() => accepted.length);
    await events.return!();
    await consuming;
    for (const client of clients) client.destroy();
    for (const socket of sockets) await socket.close();
    await listener.close();

    assert.equal(accepted.length, clients.length);
    assert.ok(spanMs(accepted) >= (BUSY_MS * 3) / 5 / 2,
      `connections accepted over ${spanMs(accepted).toFixed(1)} ms; they were made over ${(BUSY_MS * 4) / 5} ms`);
  });
});

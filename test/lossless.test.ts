// SPDX-License-Identifier: MIT
//
// The library never loses or reorders data on its own (ARCHITECTURE.md, "Rules of the API"):
// events an iterator did not take go back to the unclaimed queue, in order; one socket's sends
// leave in call order whether or not the caller awaits; a socket nobody reads slows only itself.
// Each test here failed before the fix it guards (issue 9, items 1-3).

import assert from 'node:assert/strict';
import * as dgram from 'node:dgram';
import { once } from 'node:events';
import * as net from 'node:net';
import { open, WskEvent, type WskSession, type WskSocket } from '../lib/index.js';
import { closeServer, eventually, nodeServer, openSim, payload, sha256, skipBecause, withTimeout } from './helpers/util.js';

/** A listener on 127.0.0.1 with accept (and, by static callbacks, receive) events. */
async function listening(session: WskSession): Promise<{ listener: WskSocket; port: number }> {
  const listener = await session.socket('listen');
  await listener.bind({ family: 'ipv4', address: '127.0.0.1', port: 0 });
  const port = (await listener.localAddress())!.port;
  await listener.enableEvents(WskEvent.Accept);
  return { listener, port };
}

/** A datagram socket bound to 127.0.0.1 with WskReceiveFromEvent enabled, and its port. */
async function datagramSocket(session: WskSession, events = true): Promise<{ socket: WskSocket; port: number }> {
  const socket = await session.socket('datagram');
  await socket.bind({ family: 'ipv4', address: '127.0.0.1', port: 0 });
  const port = (await socket.localAddress())!.port;
  if (events) await socket.enableEvents(WskEvent.ReceiveFrom);
  return { socket, port };
}

/** Sends `count` datagrams made by `make(i)` to 127.0.0.1:port, 50 at a time (each burst is
 * handed to the kernel before the next). */
async function sendBursts(peer: dgram.Socket, port: number, count: number, make: (i: number) => string | Buffer): Promise<void> {
  for (let sent = 0; sent < count; sent += 50) {
    await new Promise<void>((resolve) => {
      let left = Math.min(50, count - sent);
      for (let i = sent; i < sent + 50 && i < count; i++) peer.send(make(i), port, '127.0.0.1', () => --left === 0 && resolve());
    });
    await new Promise((resolve) => setImmediate(resolve));
  }
}

function connectClient(port: number): net.Socket {
  const client = net.connect(port, '127.0.0.1');
  client.on('error', () => {});
  return client;
}

describe('lossless: break hands unread events back', function () {
  this.timeout(30_000);
  let session: WskSession;
  beforeEach(async () => {
    session = await openSim();
  });
  afterEach(async () => {
    await session.close();
  });

  /** A client connects and writes at once; a session-wide loop breaks at the accept event after
   * the receive event had time to arrive into its buffer. */
  async function breakAfterAccept(message: string): Promise<{ accepted: WskSocket; client: net.Socket; listener: WskSocket }> {
    await session.setStaticEventCallbacks(WskEvent.Accept | WskEvent.Receive);
    const { listener, port } = await listening(session);
    const client = connectClient(port);
    await once(client, 'connect');
    client.write(message);
    let accepted: WskSocket | null = null;
    for await (const event of session.events()) {
      if (event.type === 'accept') {
        accepted = event.socket;
        await new Promise((resolve) => setTimeout(resolve, 50));
        break;
      }
    }
    assert.ok(accepted, 'an accept event');
    return { accepted, client, listener };
  }

  it("break after the accept event: a second loop still sees the client's first write", async () => {
    const { accepted, client, listener } = await breakAfterAccept('first write');
    const next = await withTimeout(accepted.events().next(), 5000, "the client's first write as a receive event");
    assert.equal(next.value?.type, 'receive');
    if (next.value?.type === 'receive') assert.equal(next.value.data.toString(), 'first write');
    client.destroy();
    await listener.close();
  });

  it("break after the accept event: receive() still returns the client's first write", async () => {
    const { accepted, client, listener } = await breakAfterAccept('hello kernel');
    const got = await withTimeout(accepted.receive(100), 5000, 'receive() after break');
    assert.equal(got.toString(), 'hello kernel');
    client.destroy();
    await listener.close();
  });

  it('break in a datagram loop: the datagrams it had buffered go to the next loop, in order', async () => {
    const { socket, port } = await datagramSocket(session);
    const peer = dgram.createSocket('udp4');
    try {
      for (let i = 0; i < 5; i++) peer.send(`datagram ${i}`, port, '127.0.0.1');
      const first: string[] = [];
      const iterator = socket.events();
      for await (const event of iterator) {
        if (event.type !== 'receiveFrom') continue;
        first.push(event.data.toString());
        // Wait for the rest to be buffered in this iterator, then leave.
        await new Promise((resolve) => setTimeout(resolve, 100));
        break;
      }
      const rest: string[] = [];
      for await (const event of socket.events()) {
        if (event.type !== 'receiveFrom') continue;
        rest.push(event.data.toString());
        if (first.length + rest.length === 5) break;
      }
      assert.deepEqual([...first, ...rest], [0, 1, 2, 3, 4].map((i) => `datagram ${i}`));
    } finally {
      peer.close();
    }
  });
});

describe('lossless: sends leave in call order', function () {
  this.timeout(60_000);
  let session: WskSession;
  beforeEach(async () => {
    session = await openSim();
  });
  afterEach(async () => {
    await session.close();
  });

  /** A connection socket to a Node server that records every byte; `run` sends, then the
   * peer's bytes are compared with `expected` (all of them, in this order). */
  async function toRecordingPeer(run: (socket: WskSocket) => Promise<void>, expected: () => Buffer[]): Promise<void> {
    const received: Buffer[] = [];
    let done!: () => void;
    const ended = new Promise<void>((resolve) => (done = resolve));
    const { server, port } = await nodeServer('127.0.0.1', (peer) => {
      peer.on('data', (chunk: Buffer) => received.push(chunk));
      peer.on('end', done);
    });
    try {
      const socket = await session.socket('connection');
      await socket.bind({ family: 'ipv4', address: '127.0.0.1', port: 0 });
      await socket.connect({ family: 'ipv4', address: '127.0.0.1', port });
      await run(socket);
      await withTimeout(ended, 20_000, 'the peer to read everything');
      const all = Buffer.concat(received);
      const want = expected();
      assert.equal(all.length, want.reduce((n, b) => n + b.length, 0));
      assert.equal(sha256(all), sha256(want), 'the bytes of each call, in call order');
      await socket.close();
    } finally {
      await closeServer(server);
    }
  }

  it('two 4 MiB sends not awaited arrive byte-exact, one after the other', async () => {
    const a = payload(4 * 1024 * 1024);
    const b = payload(4 * 1024 * 1024);
    const c = payload(1000);
    await toRecordingPeer(
      async (socket) => {
        // Not awaited, on purpose: the library must keep the order.
        const sends = [socket.send(a), socket.send(b)];
        assert.deepEqual(await Promise.all(sends), [a.length, b.length]);
        await socket.disconnect({ data: c });
      },
      () => [a, b, c],
    );
  });

  it('disconnect with data waits for the sends before it', async () => {
    const a = payload(3 * 1024 * 1024);
    const c = payload(100);
    await toRecordingPeer(
      async (socket) => {
        await Promise.all([socket.send(a), socket.disconnect({ data: c })]);
      },
      () => [a, c],
    );
  });

  it('a failed send fails the sends queued behind it instead of sending them out of order', async () => {
    const socket = await session.socket('connection');
    await socket.bind({ family: 'ipv4', address: '127.0.0.1', port: 0 });
    // Not connected: WSK refuses the first send; the second must not overtake it and must not
    // be sent either (its bytes would follow a gap).
    const first = socket.send(payload(10));
    const second = socket.send(payload(10));
    await assert.rejects(first);
    await assert.rejects(second, /an earlier send on this socket failed/);
  });

  it('sendTo calls not awaited leave in call order', async () => {
    const socket = await session.socket('datagram');
    await socket.bind({ family: 'ipv4', address: '127.0.0.1', port: 0 });
    const peer = dgram.createSocket('udp4');
    peer.bind(0, '127.0.0.1');
    await once(peer, 'listening');
    const got: string[] = [];
    const all = new Promise<void>((resolve) =>
      peer.on('message', (msg) => {
        got.push(msg.toString());
        if (got.length === 50) resolve();
      }),
    );
    try {
      const to = { family: 'ipv4' as const, address: '127.0.0.1', port: peer.address().port };
      // A large one first, so that an unordered implementation would let the small ones pass it.
      const sends = [socket.sendTo(Buffer.alloc(60_000, 'x'), to)];
      for (let i = 1; i < 50; i++) sends.push(socket.sendTo(`#${i}`, to));
      await Promise.all(sends);
      await withTimeout(all, 10_000, '50 datagrams');
      assert.equal(got[0]!.length, 60_000);
      assert.deepEqual(got.slice(1), Array.from({ length: 49 }, (_, i) => `#${i + 1}`));
    } finally {
      peer.close();
    }
  });
});


describe('lossless: a socket nobody reads slows only itself', function () {
  this.timeout(60_000);
  let session: WskSession;
  const warnings: Array<Error & { code?: string }> = [];
  const onWarning = (w: Error) => warnings.push(w);
  beforeEach(async () => {
    warnings.length = 0;
    process.on('warning', onWarning);
    session = await openSim();
  });
  afterEach(async () => {
    process.off('warning', onWarning);
    await session.close();
  });

  it("an unread datagram socket with thousands of events does not stop another socket's accepts", async function () {
    if (process.platform === 'win32') {
      // A Winsock host (sim under Wine) drops what its UDP queue cannot hold without counting it,
      // so the 4096+ datagrams this scenario needs past the limit may never reach ksim (seen: 0
      // holds in one Wine run of two). The same path is covered on Linux, where every drop counts.
      this.skip();
    }
    const { socket: unread, port: unreadPort } = await datagramSocket(session);
    const hostBefore = (await session.stats()).hostDatagramsDropped!;
    const peer = dgram.createSocket('udp4');
    // Well past the pump's default unclaimedLimit (4096), in bursts the host socket can take.
    const sent = 6000;
    try {
      await sendBursts(peer, unreadPort, sent, (i) => `d${i}`);
    } finally {
      peer.close();
    }
    // Give the pump time to take what the driver queued (before the fix it stopped here).
    await new Promise((resolve) => setTimeout(resolve, 300));

    const { listener, port } = await listening(session);
    const client = connectClient(port);
    try {
      const accepted = await withTimeout(listener.events().next(), 10_000, "another socket's accept event while one socket is unread");
      assert.equal(accepted.value?.type, 'accept');

      // The hold is visible: stats, a process warning with a code, a bridge event.
      const stats = await session.stats();
      assert.equal(stats.socketsHeld, 1, 'the unread socket is held back');
      assert.ok(stats.socketHolds >= 1);
      assert.ok(warnings.some((w) => w.code === 'WSKB_SOCKET_BACKPRESSURE' && w.message.includes(`0x${unread.id.toString(16)}`)), 'a WSKB_SOCKET_BACKPRESSURE warning naming the socket');

      // Everything is still there for the unread socket, in order, and every datagram sent is
      // accounted for: delivered, counted dropped by the driver (while held), or counted dropped
      // by the host socket below ksim. Read until the socket is let go and quiet, then close it
      // and read to its socketClosed.
      let datagrams = 0;
      let dropped = 0;
      let paused = 0;
      let resumed = 0;
      let last = -1;
      let closing: Promise<void> | undefined;
      const iterator = unread.events({ batch: true });
      // A next() that loses the race against the quiet timer is kept, not called again: no event is lost.
      let pending = iterator.next();
      const deadline = Date.now() + 30_000;
      for (;;) {
        assert.ok(Date.now() < deadline, `the unread socket's events (${datagrams} datagrams, ${dropped} dropped, paused ${paused}, resumed ${resumed})`);
        const next = await Promise.race([pending, new Promise<null>((resolve) => setTimeout(() => resolve(null), 300))]);
        if (next === null) {
          if (resumed > 0 && !closing) closing = unread.close();
          continue;
        }
        if (next.done) break;
        for (const event of next.value) {
          if (event.type === 'receiveFrom') {
            const n = Number(event.data.toString().slice(1));
            assert.ok(n > last, `datagram ${n} after ${last}: in order`);
            last = n;
            datagrams++;
          } else if (event.type === 'datagramsDropped') dropped += event.count;
          else if (event.type === 'socketPaused') paused++;
          else if (event.type === 'socketResumed') resumed++;
        }
        pending = iterator.next();
      }
      await closing;
      const hostDropped = (await session.stats()).hostDatagramsDropped! - hostBefore;
      assert.ok(paused >= 1 && resumed >= 1, 'socketPaused, then socketResumed');
      assert.ok(datagrams >= 4096, `kept at least the limit (${datagrams})`);
      assert.equal(datagrams + dropped + hostDropped, sent, `${datagrams} delivered + ${dropped} dropped by the driver + ${hostDropped} by the host = ${sent} sent`);
    } finally {
      client.destroy();
    }
  });

  it('an unread connection socket is paused, not dropped: every byte arrives once it is read', async () => {
    const data = payload(12 * 1024 * 1024);
    let done!: () => void;
    const written = new Promise<void>((resolve) => (done = resolve));
    const { server, port } = await nodeServer('127.0.0.1', (peer) => {
      peer.end(data, done);
    });
    try {
      const socket = await session.socket('connection');
      await socket.bind({ family: 'ipv4', address: '127.0.0.1', port: 0 });
      await socket.connect({ family: 'ipv4', address: '127.0.0.1', port });
      await socket.enableEvents(WskEvent.Receive | WskEvent.Disconnect);
      // Nobody reads it for a while: past unclaimedBytes (4 MiB) it is held in the driver.
      await eventually(() => session.pumpCounters.socketsHeld === 1, 'the unread socket to be held', 10_000);
      // Another socket still works meanwhile.
      const { listener, port: otherPort } = await listening(session);
      const client = connectClient(otherPort);
      const accepted = await withTimeout(listener.events().next(), 10_000, 'an accept while the first socket is held');
      assert.equal(accepted.value?.type, 'accept');
      client.destroy();

      const chunks: Buffer[] = [];
      for await (const event of socket.events()) {
        if (event.type === 'receive') chunks.push(event.data);
        if (event.type === 'disconnect') break;
      }
      await withTimeout(written, 10_000, 'the peer to finish writing');
      assert.equal(sha256(chunks), sha256(data), 'every byte, in order');
      await socket.close();
    } finally {
      await closeServer(server);
    }
  });
});

describe('lossless: a held listening socket refuses connections, counted', function () {
  this.timeout(30_000);

  it('past the unclaimed limit its accepts are refused and reported; read, it accepts again', async () => {
    const session = await open({ backend: 'sim', pump: { unclaimedLimit: 2 } });
    const clients: net.Socket[] = [];
    try {
      const { listener, port } = await listening(session);
      // Two accept events nobody takes reach the limit: the listener is held.
      for (let i = 0; i < 2; i++) {
        const client = connectClient(port);
        clients.push(client);
        await once(client, 'connect');
      }
      await eventually(() => session.pumpCounters.socketsHeld === 1, 'the listener to be held');
      const refused = connectClient(port);
      clients.push(refused);
      await withTimeout(new Promise<void>((resolve) => refused.on('close', () => resolve())), 10_000, 'the third client to be turned away');
      assert.ok((await session.stats()).acceptsRefused >= 1n, 'counted by the driver');
      // Reading the listener's events releases it; the refusal is among them, counted.
      const events = listener.events();
      const types: string[] = [];
      let refusals = 0;
      while (refusals === 0) {
        const { value } = await withTimeout(events.next(), 10_000, 'the listener events');
        types.push(value!.type);
        if (value!.type === 'acceptsRefused') refusals += value!.count;
      }
      assert.deepEqual(types.slice(0, 3), ['accept', 'accept', 'socketPaused']);
      await eventually(() => session.pumpCounters.socketsHeld === 0, 'the listener to be released');
      const welcome = connectClient(port);
      clients.push(welcome);
      for (;;) {
        const { value } = await withTimeout(events.next(), 10_000, 'an accept after the release');
        if (value!.type === 'accept') break;
      }
      await events.return!();
    } finally {
      for (const client of clients) client.destroy();
      await session.close();
    }
  });
});

describe('lossless: datagram loss below the driver is counted (sim)', function () {
  this.timeout(60_000);

  it("the host socket's own drops reach stats().hostDatagramsDropped, exactly", async function () {
    const session = await openSim();
    const peer = dgram.createSocket('udp4');
    try {
      // No event enabled and no receive posted: ksim does not read the host socket, whose
      // queue (a few hundred KiB) overflows.
      const { socket, port } = await datagramSocket(session, false);
      const before = (await session.stats()).hostDatagramsDropped;
      assert.equal(typeof before, 'number');
      const sent = 2000;
      await sendBursts(peer, port, sent, (i) => Buffer.alloc(1000, i));
      await new Promise((resolve) => setTimeout(resolve, 100));
      // Take what the host queue kept, then close: ksim reads the drop count when the queue is
      // drained and again before closing the host socket.
      let received = 0;
      for (;;) {
        const next = socket.receiveFrom(2000).then(() => true, () => false);
        const got = await Promise.race([next, new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 300))]);
        if (!got) break;
        received++;
      }
      await socket.close();
      const dropped = (await session.stats()).hostDatagramsDropped! - before!;
      if (process.platform !== 'linux') skipBecause(this, 'only Linux keeps a per-socket drop count (SO_MEMINFO)');
      assert.ok(dropped > 0, 'the host queue overflowed');
      assert.equal(received + dropped, sent, `${received} received + ${dropped} dropped by the host = ${sent} sent`);
    } finally {
      peer.close();
      await session.close();
    }
  });
});

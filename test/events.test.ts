// SPDX-License-Identifier: MIT
//
// Basic event delivery over real connections: receive events in order without a gap, the
// accept event's socket, and the iterators' contract (break, AbortSignal, end after close,
// back-pressure that slows the kernel instead of dropping).

import assert from 'node:assert/strict';
import { once } from 'node:events';
import * as net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { AbortError, WskError, WskEvent, type WskBridgeEvent, type WskSession, type WskSocket } from '../lib/index.js';
import { WSKB_EVENT_BUDGET_MIN } from '../lib/protocol.js';
import { closeServer, nodeServer, openSim, payload, sha256, withTimeout } from './helpers/util.js';

async function connectedPair(session: WskSession): Promise<{ socket: WskSocket; peer: net.Socket; server: net.Server }> {
  let peer: net.Socket | undefined;
  const { server, port } = await nodeServer('127.0.0.1', (p) => {
    peer = p;
  });
  const socket = await session.socket('connection');
  await socket.bind({ family: 'ipv4', address: '127.0.0.1', port: 0 });
  await socket.connect({ family: 'ipv4', address: '127.0.0.1', port });
  while (!peer) await sleep(2);
  return { socket, peer, server };
}

describe('events', function () {
  this.timeout(30_000);
  let session: WskSession;
  beforeEach(async () => {
    session = await openSim();
  });
  afterEach(async () => {
    await session.close();
  });

  it('receive events arrive in order, without a gap, with every byte', async () => {
    const { socket, peer, server } = await connectedPair(session);
    try {
      await socket.enableEvents(WskEvent.Receive | WskEvent.Disconnect);
      const data = payload(2 * 1024 * 1024 + 7);
      // Many small writes, so that there are many indications.
      for (let at = 0; at < data.length; at += 16384) peer.write(data.subarray(at, at + 16384));
      peer.end();
      const chunks: Buffer[] = [];
      let last = 0n;
      let sawDisconnect = false;
      for await (const event of session.events()) {
        assert.equal(event.sequence, last + 1n, `session sequence after ${last}`);
        last = event.sequence;
        assert.equal(event.socketId, socket.id);
        if (event.type === 'receive') {
          assert.ok(event.data.length > 0 && event.data.length <= event.bytesIndicated, 'data within what WSK indicated');
          chunks.push(event.data);
        } else if (event.type === 'disconnect') {
          assert.equal(event.abortive, false);
          sawDisconnect = true;
          break;
        } else if (event.type === 'receiveClosed') {
          break;
        }
      }
      assert.ok(sawDisconnect, 'the graceful close arrives as a disconnect event');
      assert.equal(Buffer.concat(chunks).length, data.length);
      assert.equal(sha256(chunks), sha256(data));
      assert.ok(last > 1n);
    } finally {
      peer.destroy();
      await closeServer(server);
    }
  });

  it('an accept event carries a working socket and both addresses', async () => {
    const listener = await session.socket('listen');
    await listener.bind({ family: 'ipv4', address: '127.0.0.1', port: 0 });
    const local = (await listener.localAddress())!;
    await listener.enableEvents(WskEvent.Accept);
    const events = listener.events();
    const client = net.connect(local.port, '127.0.0.1');
    // Closing a connection socket that is not disconnected both ways is abortive (WskCloseSocket
    // docs), so the client may see ECONNRESET at the end: that is expected, not a failure.
    client.on('error', () => {});
    await once(client, 'connect');
    try {
      const { value: event } = await withTimeout(events.next(), 5000, 'the accept event');
      assert.ok(event && event.type === 'accept', `got ${event?.type}`);
      assert.equal(event.socketId, listener.id);
      assert.equal(event.listenerClosed, false);
      assert.deepEqual(event.localAddress, { family: 'ipv4', address: '127.0.0.1', port: local.port });
      assert.deepEqual(event.remoteAddress, { family: 'ipv4', address: '127.0.0.1', port: client.localPort });
      const accepted = event.socket!;
      assert.equal(accepted.kind, 'connection');
      assert.notEqual(accepted.id, listener.id);
      assert.ok(session.openSockets.includes(accepted), 'the accepted socket joined the session');
      // It works both ways.
      await accepted.send('from the kernel');
      const [got] = (await once(client, 'data')) as [Buffer];
      assert.equal(got.toString(), 'from the kernel');
      client.write('from node');
      assert.equal((await accepted.receive(100)).toString(), 'from node');
      await events.return!();
      await accepted.close();
    } finally {
      client.destroy();
    }
  });

  it('conditional accept: inspect events offer accept() and reject()', async () => {
    const listener = await session.socket('listen');
    await listener.setConditionalAccept(true); // before bind, with an IRP, as WSK requires
    await listener.bind({ family: 'ipv4', address: '127.0.0.1', port: 0 });
    const port = (await listener.localAddress())!.port;
    await listener.enableEvents(WskEvent.Accept);
    const events = listener.events();

    const welcome = net.connect(port, '127.0.0.1');
    welcome.on('error', () => {});
    const inspect = (await withTimeout(events.next(), 5000, 'the inspect event')).value!;
    assert.equal(inspect.type, 'inspect');
    if (inspect.type !== 'inspect') return;
    assert.equal(inspect.remoteAddress?.address, '127.0.0.1');
    assert.equal(inspect.localAddress?.port, port);
    await inspect.accept();
    const accept = (await withTimeout(events.next(), 5000, 'the accept event after accept()')).value!;
    assert.equal(accept.type, 'accept');
    if (accept.type !== 'accept') return;
    // ksim establishes the host connection before the inspection, so 'connect' may have fired.
    if (welcome.connecting) await once(welcome, 'connect');
    assert.equal(accept.remoteAddress?.port, welcome.localPort);
    await accept.socket!.send('welcome');
    assert.equal(((await once(welcome, 'data')) as [Buffer])[0].toString(), 'welcome');

    const unwanted = net.connect(port, '127.0.0.1');
    const unwantedClosed = new Promise<void>((resolve) => unwanted.on('error', () => resolve()).on('close', () => resolve()));
    const second = (await withTimeout(events.next(), 5000, 'the second inspect event')).value!;
    assert.equal(second.type, 'inspect');
    if (second.type !== 'inspect') return;
    await second.reject();
    await withTimeout(unwantedClosed, 5000, 'the rejected client to be turned away');
    welcome.destroy();
    await events.return!();
  });

  it('static event callbacks apply to sockets created afterwards, without enableEvents()', async () => {
    const static_ = await session.setStaticEventCallbacks(WskEvent.Receive | WskEvent.ReceiveFrom);
    assert.equal(static_.callStatus, 0);
    const { socket, peer, server } = await connectedPair(session);
    try {
      peer.write('static');
      const { value } = await withTimeout(socket.events().next(), 5000, 'a receive event with no enableEvents()');
      assert.equal(value?.type, 'receive');
      if (value?.type === 'receive') assert.equal(value.data.toString(), 'static');
      // Too late once a socket exists: WSK (ksim) refuses, and setStaticEventCallbacks throws.
      await assert.rejects(session.setStaticEventCallbacks(WskEvent.Disconnect), (e: unknown) => e instanceof WskError && e.operation === 'setStaticEventCallbacks');
      await assert.rejects(session.setStaticEventCallbacks(WskEvent.Disable | WskEvent.Receive), TypeError);
    } finally {
      peer.destroy();
      await closeServer(server);
    }
  });

  it("a socket's iterator ends after its socketClosed event", async () => {
    const socket = await session.socket('datagram');
    await socket.bind({ family: 'ipv4', address: '127.0.0.1', port: 0 });
    const seen: WskBridgeEvent['type'][] = [];
    const iterating = (async () => {
      for await (const event of socket.events()) seen.push(event.type);
    })();
    await sleep(10);
    await socket.close();
    await withTimeout(iterating, 5000, 'the socket iterator to end');
    assert.deepEqual(seen, ['socketClosed']);
  });

  it('break releases the iterator; later events go to the next iterator', async () => {
    const { socket, peer, server } = await connectedPair(session);
    try {
      await socket.enableEvents(WskEvent.Receive);
      peer.write('one');
      for await (const event of socket.events()) {
        assert.equal(event.type, 'receive');
        break;
      }
      peer.write('two');
      const next = await withTimeout(socket.events().next(), 5000, 'an event after break');
      assert.equal(next.value?.type, 'receive');
    } finally {
      peer.destroy();
      await closeServer(server);
    }
  });

  it('an AbortSignal rejects a waiting iterator with an AbortError', async () => {
    const socket = await session.socket('datagram');
    await socket.bind({ family: 'ipv4', address: '127.0.0.1', port: 0 });
    const controller = new AbortController();
    const iterator = socket.events({ signal: controller.signal });
    const waiting = iterator.next();
    setTimeout(() => controller.abort(new Error('enough')), 20);
    await assert.rejects(waiting, (e: unknown) => e instanceof AbortError && e.name === 'AbortError');
    assert.deepEqual(await iterator.next(), { value: undefined, done: true });
    // Node core throws at once for a signal that is already aborted.
    assert.throws(() => socket.events({ signal: AbortSignal.abort() }), { name: 'AbortError' });
  });

  it('validates iterator options', () => {
    assert.throws(() => session.events({ highWaterMark: 0 }), RangeError);
    assert.throws(() => session.events({ overflow: 'drop' as never }), /overflow must be 'pause'/);
  });

  it('disableEvent takes exactly one event; the raw path sends any mask unchanged', async () => {
    const { socket, peer, server } = await connectedPair(session);
    try {
      await socket.enableEvents(WskEvent.Receive | WskEvent.Disconnect);
      await assert.rejects(socket.disableEvent(WskEvent.Receive | WskEvent.Disconnect), TypeError);
      await assert.rejects(socket.enableEvents(WskEvent.Accept), /cannot be enabled on a connection socket/);
      const result = await socket.disableEvent(WskEvent.Disconnect);
      assert.ok(result.callStatus === 0 || result.callStatus === 0x103, `call status ${result.callStatus}`);
      assert.equal(result.irpStatus, 0);
      // Several events with WSK_EVENT_DISABLE reach WSK as given; whatever it answers comes back.
      const raw = await socket.setEventCallbackRaw((WskEvent.Receive | WskEvent.Disconnect | WskEvent.Disable) >>> 0);
      assert.equal(typeof raw.callStatus, 'number');
    } finally {
      peer.destroy();
      await closeServer(server);
    }
  });

  it('a slow consumer slows the kernel: receive pauses, nothing is lost', async function () {
    await session.close();
    session = await openSim(WSKB_EVENT_BUDGET_MIN);
    const { socket, peer, server } = await connectedPair(session);
    try {
      await socket.enableEvents(WskEvent.Receive | WskEvent.Disconnect);
      const data = payload(3 * 1024 * 1024);
      peer.end(data);
      const chunks: Buffer[] = [];
      let paused = 0;
      let resumed = 0;
      let n = 0;
      let ended = false;
      for await (const event of socket.events({ highWaterMark: 4 })) {
        if (event.type === 'receive') chunks.push(event.data);
        if (event.type === 'flowPaused') paused++;
        if (event.type === 'flowResumed') resumed++;
        if (event.type === 'disconnect' || event.type === 'receiveClosed') ended = true;
        // A re-arm's FLOW_RESUMED may follow the indications it let through, the end included.
        if (ended && resumed > 0) break;
        // Slow at first, so that the budget (64 KiB) fills while the peer is still sending.
        if (n++ < 20) await sleep(10);
      }
      assert.equal(sha256(chunks), sha256(data), 'every byte, in order');
      assert.ok(paused > 0, 'the driver paused receive indications');
      assert.ok(resumed > 0, 'and re-armed them once user mode drained');
      const stats = await session.stats();
      assert.ok(stats.receivePauses > 0n);
      assert.ok(stats.eventBytesHighWater <= BigInt(WSKB_EVENT_BUDGET_MIN) + 64n * 1024n, `high water ${stats.eventBytesHighWater}`);
    } finally {
      peer.destroy();
      await closeServer(server);
    }
  });
});

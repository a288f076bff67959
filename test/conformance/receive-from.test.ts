// SPDX-License-Identifier: MIT
//
// Datagram sockets: WskReceiveFromEvent (docs/wsk-facts.md §3.7).
//
// WSK disables a non-static receive-from event when the callback returns
// STATUS_DATA_NOT_ACCEPTED, until the application re-enables it. The bridge never returns it
// (driver/callbacks.c): a datagram that does not fit the event budget is dropped, counted in
// session.stats() and reported by a datagramsDropped event, and the event stays enabled. These
// tests pin that behaviour, which is what a bridge user can observe of the rule.

import assert from 'node:assert/strict';
import { WskEvent, type WskBridgeEvent } from '../../lib/index.js';
import {
  LOOPBACK,
  logOf,
  nodeUdp,
  openSession,
  sleep,
  useConformanceCleanup,
  withTimeout,
} from './harness.test.js';

describe('receiving datagrams [R:nc-wsk-pfn_wsk_receive_from_event]', function () {
  this.timeout(60_000);
  useConformanceCleanup();

  it('[R:nc-wsk-pfn_wsk_receive_from_event] datagrams are indicated one per record, in order, with the sender\'s address', async () => {
    const session = await openSession();
    const datagram = await session.socket('datagram');
    await datagram.bind({ family: 'ipv4', address: LOOPBACK, port: 0 });
    const port = (await datagram.localAddress())!.port;
    await datagram.enableEvents(WskEvent.ReceiveFrom);
    const log = logOf(datagram);
    const udp = await nodeUdp();
    for (let i = 0; i < 5; i++) await udp.send(`datagram ${i}`, port);
    await log.until((events) => events.filter((e) => e.type === 'receiveFrom').length === 5, 'five datagrams');
    const got = log.ofType('receiveFrom');
    assert.deepEqual(
      got.map((e) => e.data.toString()),
      [0, 1, 2, 3, 4].map((i) => `datagram ${i}`),
    );
    for (const event of got) {
      assert.equal(event.remoteAddress?.address, LOOPBACK);
      assert.equal(event.remoteAddress?.port, udp.port);
    }
  });

  it('[driver] a datagram that finds the event queue empty while a read waits is written straight into it (stats.eventsWrittenDirect), in order with the rest', async () => {
    const session = await openSession();
    const datagram = await session.socket('datagram');
    await datagram.bind({ family: 'ipv4', address: LOOPBACK, port: 0 });
    const port = (await datagram.localAddress())!.port;
    await datagram.enableEvents(WskEvent.ReceiveFrom);
    const log = logOf(datagram); // its iterator keeps the pump's READ_EVENTS waiting in the driver
    const udp = await nodeUdp();
    await udp.send('first', port);
    await log.until((events) => events.some((e) => e.type === 'receiveFrom'), 'the first datagram');
    // Nothing queued now, and the pump waits again: the next datagram goes into a waiting read.
    await sleep(50);
    const before = await session.stats();
    await udp.send('second', port);
    await log.until((events) => events.filter((e) => e.type === 'receiveFrom').length === 2, 'the second datagram');
    const after = await session.stats();
    assert.ok(
      after.eventsWrittenDirect > before.eventsWrittenDirect,
      `written directly: ${before.eventsWrittenDirect} before, ${after.eventsWrittenDirect} after`,
    );
    assert.ok(after.eventsWrittenDirect <= after.eventsDelivered);
    assert.equal(after.eventBytesHighWater, before.eventBytesHighWater, 'never held in the queue');
    // A burst mixes both paths (direct while the queue is empty, the ring behind it): one order.
    for (let i = 0; i < 20; i++) await udp.send(`burst ${i}`, port);
    await log.until((events) => events.filter((e) => e.type === 'receiveFrom').length === 22, 'the burst');
    assert.deepEqual(
      log.ofType('receiveFrom').map((e) => e.data.toString()),
      ['first', 'second', ...Array.from({ length: 20 }, (_, i) => `burst ${i}`)],
    );
  });

  it('[R:nc-wsk-pfn_wsk_receive_from_event] on IPv6 the indicated remote address is the sender\'s IPv6 address', async () => {
    const session = await openSession();
    const datagram = await session.socket('datagram', { family: 'ipv6' });
    await datagram.bind({ family: 'ipv6', address: '::1', port: 0 });
    const port = (await datagram.localAddress())!.port;
    await datagram.enableEvents(WskEvent.ReceiveFrom);
    const log = logOf(datagram);
    const udp = await nodeUdp('::1');
    await udp.send('over ipv6', port);
    const event = await log.next('receiveFrom');
    assert.equal(event.data.toString(), 'over ipv6');
    assert.equal(event.remoteAddress?.family, 'ipv6');
    assert.equal(event.remoteAddress?.address, '::1');
    assert.equal(event.remoteAddress?.port, udp.port);
  });

  it('[R:nc-wsk-pfn_wsk_receive_from_event] a disabled receive-from event leaves datagrams for WskReceiveFrom; re-enabling indicates again', async () => {
    const session = await openSession();
    const datagram = await session.socket('datagram');
    await datagram.bind({ family: 'ipv4', address: LOOPBACK, port: 0 });
    const port = (await datagram.localAddress())!.port;
    await datagram.enableEvents(WskEvent.ReceiveFrom);
    await datagram.disableEvent(WskEvent.ReceiveFrom);
    const log = logOf(datagram);
    const udp = await nodeUdp();
    await udp.send('while disabled', port);
    await log.none('receiveFrom');
    assert.equal((await withTimeout(datagram.receiveFrom(100), 5000, 'WskReceiveFrom')).data.toString(), 'while disabled');
    await datagram.enableEvents(WskEvent.ReceiveFrom);
    await udp.send('enabled again', port);
    assert.equal((await log.next('receiveFrom')).data.toString(), 'enabled again');
  });

  it('[R:nc-wsk-pfn_wsk_receive_from_event] past the event budget the bridge drops and counts datagrams (datagramsDropped events = stats), never silently, and the event stays enabled', async () => {
    const budget = 64 * 1024;
    const total = 400;
    const size = 1000;
    // One small READ_EVENTS in flight, so that an unread iterator lets the driver's budget run out.
    const session = await openSession({ eventBudget: budget, pump: { depth: 1, readBytes: 64 * 1024 + 256 } });
    const datagram = await session.socket('datagram');
    await datagram.bind({ family: 'ipv4', address: LOOPBACK, port: 0 });
    const port = (await datagram.localAddress())!.port;
    await datagram.enableEvents(WskEvent.ReceiveFrom);
    // A consumer that does not read yet: past one buffered event the pump stops reading. It is
    // session-wide on purpose: a socket's own iterator past its mark would hold that socket back
    // instead (its datagrams refused as held, not for want of budget); the session has no other
    // socket, so it sees the same events.
    const iterator = session.events({ highWaterMark: 1, lowWaterMark: 0 });

    const udp = await nodeUdp();
    for (let i = 0; i < total; i++) {
      const message = Buffer.alloc(size, i & 0xff);
      message.writeUInt32LE(i, 0);
      await udp.send(message, port);
      // Paced, so that no datagram is lost below WSK (in the host's socket buffer, ~90 of them).
      if (i % 5 === 4) await sleep(1);
    }
    // Wait until the driver has seen them all (indicated or counted as dropped) before reading.
    const deadline = Date.now() + 10_000;
    let stats = await session.stats();
    while (stats.datagramsDropped === 0n && Date.now() < deadline) {
      await sleep(20);
      stats = await session.stats();
    }
    assert.ok(stats.datagramsDropped > 0n, `the budget should have run out (dropped ${stats.datagramsDropped})`);

    const indices: number[] = [];
    let droppedReported = 0;
    const drain = async (): Promise<void> => {
      while (indices.length + droppedReported < total) {
        const next = await iterator.next();
        if (next.done) throw new Error('the iterator ended early');
        const event: WskBridgeEvent = next.value;
        if (event.type === 'receiveFrom') {
          assert.equal(event.data.length, size);
          indices.push(event.data.readUInt32LE(0));
        } else if (event.type === 'datagramsDropped') {
          assert.ok(event.count > 0);
          droppedReported += event.count;
        }
      }
    };
    await withTimeout(drain(), 20_000, `received + dropped to reach ${total}`).catch((error: unknown) => {
      throw new Error(`${String(error)}: received ${indices.length}, dropped (reported) ${droppedReported}`);
    });

    stats = await session.stats();
    assert.equal(BigInt(droppedReported), stats.datagramsDropped, 'every drop counted in stats was reported by an event');
    assert.ok(droppedReported > 0);
    for (let i = 1; i < indices.length; i++) assert.ok(indices[i]! > indices[i - 1]!, `datagrams in order: ${indices[i - 1]} then ${indices[i]}`);

    // Still enabled: no re-enable needed after the drops.
    await udp.send('after the drops', port);
    for (;;) {
      const next = await withTimeout(iterator.next(), 5000, 'a datagram after the drops');
      assert.equal(next.done, false);
      if (next.value.type === 'receiveFrom') {
        assert.equal(next.value.data.toString(), 'after the drops');
        break;
      }
    }
    await iterator.return?.();
  });
});

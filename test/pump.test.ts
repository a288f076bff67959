// SPDX-License-Identifier: MIT
//
// The event pump's own logic, against a scripted device (no driver): batches put back in
// sequence order, gaps detected, reads paused past the high-water mark and resumed below the
// low-water mark, the device referenced exactly while an iterator waits, and events kept for an
// iterator that comes later. The suites over real traffic cover the same paths end to end;
// this one makes the rare orderings happen on purpose.

import assert from 'node:assert/strict';
import type { IoctlCallback, NativeDevice } from '../lib/addon.js';
import { decodeBatch, EventPump, type EventHost, type WskBridgeEvent } from '../lib/events.js';
import * as P from '../lib/protocol.js';
import type { WskSocket } from '../lib/socket.js';

class ScriptedDevice implements NativeDevice {
  readonly backend = 'sim';
  reads: IoctlCallback[] = [];
  /** SOCKET_FLOW requests, completed at once with `flowStatus`: [socket id, pause]. */
  flows: Array<[bigint, boolean]> = [];
  flowStatus = 0;
  /** The caller's buffer of each pending read (READ_EVENTS is METHOD_OUT_DIRECT). */
  outputs: Buffer[] = [];
  refs = 0;
  get pending(): number {
    return this.reads.length;
  }
  ioctl(code: number, input: Uint8Array | null, output: number | Uint8Array, callback: IoctlCallback, weak?: boolean): void {
    if (code === P.WSKB_IOCTL_SOCKET_FLOW) {
      const buf = Buffer.from(input!);
      assert.equal(buf.length, P.layouts.WSKB_SOCKET_FLOW_IN.size);
      assert.equal(weak, true, 'SOCKET_FLOW must be weak');
      this.flows.push([buf.readBigUInt64LE(0), buf.readUInt32LE(8) === 1]);
      queueMicrotask(() => callback(this.flowStatus, 0, Buffer.alloc(0)));
      return;
    }
    assert.equal(code, P.WSKB_IOCTL_READ_EVENTS);
    assert.equal(input, null);
    assert.ok(Buffer.isBuffer(output), 'READ_EVENTS reads into a buffer the pump owns');
    assert.ok(output.byteLength >= P.WSKB_READ_EVENTS_MIN_OUTPUT);
    assert.equal(weak, true, 'READ_EVENTS must be weak');
    this.reads.push(callback);
    this.outputs.push(output);
  }
  /** Completes the index-th pending read with these records, written into its buffer as the
   * driver does (the bytes after them are left as they were). */
  complete(index: number, records: Buffer[], status = 0): void {
    const [callback] = this.reads.splice(index, 1);
    const [output] = this.outputs.splice(index, 1);
    assert.ok(callback !== undefined && output !== undefined, `no pending read #${index}`);
    const bytes = Buffer.concat(records);
    bytes.copy(output);
    callback(status, bytes.length, output);
  }
  cancelAll(): void {}
  close(): void {}
  ref(): void {
    this.refs++;
  }
  unref(): void {
    this.refs--;
  }
}

function receive(sequence: bigint, socketId = 7n, text = `#${sequence}`): Buffer {
  return P.encodeEventRecord({ type: P.WSKB_EVENT_RECEIVE, sequence, timestamp: sequence * 100n, socketId, wskFlags: 0, param: BigInt(text.length), body: Buffer.from(text) });
}

const host: EventHost = {
  adoptAcceptedSocket: (id) => ({ id }) as unknown as WskSocket,
  inspectComplete: async () => {},
  isClosedByUser: () => false,
};

const tick = () => new Promise((resolve) => setImmediate(resolve));

async function take(iterator: AsyncIterableIterator<WskBridgeEvent>, n: number): Promise<bigint[]> {
  const out: bigint[] = [];
  for (let i = 0; i < n; i++) {
    const next = await iterator.next();
    assert.equal(next.done, false);
    out.push(next.value.sequence);
  }
  return out;
}

describe('event pump (scripted device)', () => {
  it('reuses a READ_EVENTS buffer for small batches (copied out) and gives a large one to its events', async () => {
    const device = new ScriptedDevice();
    const pump = new EventPump(device, host, { depth: 1 });
    pump.start();
    const events = pump.subscribe(undefined);
    const control = (sequence: bigint) =>
      P.encodeEventRecord({ type: P.WSKB_EVENT_SEND_BACKLOG, sequence, timestamp: 0n, socketId: 7n, wskFlags: 0, param: 4096n, body: Buffer.alloc(0) });
    // Small batches are copied out of the buffer, which is the next read's.
    const first = device.outputs[0]!;
    device.complete(0, [control(1n)]);
    assert.equal(device.outputs[0], first, 'the buffer of a small batch is reused');
    device.complete(0, [receive(2n, 7n, 'kept intact')]);
    assert.equal(device.outputs[0], first, 'a small batch with a payload is copied out, its buffer reused');
    // The payload survives the next batch written into the same buffer.
    device.complete(0, [receive(3n, 7n, 'XXXXXXXXXXXXXXXXXXXXXXXXX')]);
    // A large batch (bulk data) is not copied: its buffer goes to its events, and the next read
    // gets another one.
    const large = device.outputs[0]!;
    device.complete(0, [receive(4n, 7n, 'L'.repeat(large.byteLength >>> 2))]);
    assert.notEqual(device.outputs[0], large, 'a large batch keeps its buffer');
    device.complete(0, [receive(5n, 7n, 'after')]);
    const got = [];
    for (let i = 0; i < 5; i++) got.push((await events.next()).value as WskBridgeEvent);
    assert.equal(got[1]!.type === 'receive' && got[1]!.data.toString(), 'kept intact');
    assert.equal(got[2]!.type === 'receive' && got[2]!.data.toString(), 'XXXXXXXXXXXXXXXXXXXXXXXXX');
    assert.equal(got[3]!.type === 'receive' && got[3]!.data.toString(), 'L'.repeat(large.byteLength >>> 2));
    assert.equal(got[4]!.type === 'receive' && got[4]!.data.toString(), 'after');
    pump.stop();
  });

  it('keeps `depth` weak READ_EVENTS pending', () => {
    const device = new ScriptedDevice();
    new EventPump(device, host, { depth: 3 }).start();
    assert.equal(device.reads.length, 3);
  });

  it('puts batches completed out of order back in sequence order', async () => {
    const device = new ScriptedDevice();
    const pump = new EventPump(device, host, { depth: 2 });
    pump.start();
    const events = pump.subscribe(undefined);
    device.complete(1, [receive(3n), receive(4n)]); // the second read carries the later batch
    device.complete(0, [receive(1n), receive(2n)]);
    assert.deepEqual(await take(events, 4), [1n, 2n, 3n, 4n]);
  });

  it('a sequence gap is an error delivered to the iterator', async () => {
    const device = new ScriptedDevice();
    const pump = new EventPump(device, host, { depth: 1 });
    pump.start();
    const events = pump.subscribe(undefined);
    device.complete(0, [receive(1n)]);
    assert.deepEqual(await take(events, 1), [1n]);
    device.complete(0, [receive(3n)]);
    await assert.rejects(events.next(), /event sequence gap: expected 2, next delivered is 3/);
    assert.deepEqual(await events.next(), { value: undefined, done: true });
  });

  it('a gap inside one batch and a repeated sequence are errors too', async () => {
    const device = new ScriptedDevice();
    const pump = new EventPump(device, host, { depth: 1 });
    pump.start();
    const events = pump.subscribe(undefined);
    device.complete(0, [receive(1n), receive(3n)]);
    await assert.rejects(events.next(), /gap inside one batch/);

    const device2 = new ScriptedDevice();
    const pump2 = new EventPump(device2, host, { depth: 1 });
    pump2.start();
    const events2 = pump2.subscribe(undefined);
    device2.complete(0, [receive(1n)]);
    device2.complete(0, [receive(1n)]);
    await take(events2, 1);
    await assert.rejects(events2.next(), /delivered twice/);
  });

  it('stops reading past the high-water mark and resumes at the low-water mark', async () => {
    const device = new ScriptedDevice();
    const pump = new EventPump(device, host, { depth: 2 });
    pump.start();
    const events = pump.subscribe(undefined, { highWaterMark: 4, lowWaterMark: 1 });
    device.complete(0, [receive(1n), receive(2n)]);
    assert.equal(device.reads.length, 2, 'below the mark: re-issued');
    device.complete(0, [receive(3n), receive(4n)]);
    assert.equal(device.reads.length, 1, 'at the mark: not re-issued');
    device.complete(0, [receive(5n)]);
    assert.equal(device.reads.length, 0, 'nothing pending: the kernel budget fills and the driver pauses');
    await take(events, 3); // 5 buffered -> 2
    assert.equal(device.reads.length, 0, 'still above the low-water mark');
    await take(events, 1); // -> 1
    assert.equal(device.reads.length, 2, 'resumed');
  });

  it('references the device exactly while an iterator waits', async () => {
    const device = new ScriptedDevice();
    const pump = new EventPump(device, host, { depth: 1 });
    pump.start();
    const events = pump.subscribe(undefined);
    assert.equal(device.refs, 0, 'an idle session does not keep the process alive');
    const waiting = events.next();
    assert.equal(device.refs, 1);
    device.complete(0, [receive(1n)]);
    await waiting;
    assert.equal(device.refs, 0);
    const again = events.next();
    assert.equal(device.refs, 1);
    await events.return!();
    assert.deepEqual(await again, { value: undefined, done: true });
    assert.equal(device.refs, 0, 'return() drops the reference');
  });

  it('keeps events nobody took for the next iterator that matches them', async () => {
    const device = new ScriptedDevice();
    const pump = new EventPump(device, host, { depth: 1 });
    pump.start();
    device.complete(0, [receive(1n, 7n), receive(2n, 8n), receive(3n, 7n)]);
    const seven = pump.subscribe(7n);
    assert.deepEqual(await take(seven, 2), [1n, 3n]);
    const all = pump.subscribe(undefined);
    assert.deepEqual(await take(all, 1), [2n]);
    assert.equal(pump.unclaimedCount, 0);
  });

  it('a socket iterator ends after the socket closed event; others see it too', async () => {
    const device = new ScriptedDevice();
    const pump = new EventPump(device, host, { depth: 1 });
    pump.start();
    const socket = pump.subscribe(7n);
    const all = pump.subscribe(undefined);
    const closed = P.encodeEventRecord({ type: P.WSKB_EVENT_SOCKET_CLOSED, sequence: 2n, timestamp: 0n, socketId: 7n, wskFlags: 0, param: 0n, body: Buffer.alloc(0) });
    device.complete(0, [receive(1n), closed]);
    assert.deepEqual(await take(socket, 2), [1n, 2n]);
    assert.deepEqual(await socket.next(), { value: undefined, done: true });
    assert.deepEqual(await take(all, 2), [1n, 2n]);
  });

  it('an iterator asked for after the socket\'s last event went by ends instead of waiting forever', async () => {
    const device = new ScriptedDevice();
    const pump = new EventPump(device, host, { depth: 1 });
    pump.start();
    const late = pump.subscribe(9n, {}, true);
    assert.deepEqual(await late.next(), { value: undefined, done: true });
    assert.equal(device.refs, 0);
  });

  it('decodes every event type', async () => {
    const device = new ScriptedDevice();
    const adopted: bigint[] = [];
    const completions: Array<[bigint, bigint, number]> = [];
    const pump = new EventPump(device, {
      adoptAcceptedSocket: (id) => {
        adopted.push(id);
        return { id } as unknown as WskSocket;
      },
      inspectComplete: async (listener, token, action) => {
        completions.push([listener, token, action]);
      },
      isClosedByUser: () => false,
    }, { depth: 1 });
    pump.start();
    const events = pump.subscribe(undefined);
    const pair = Buffer.alloc(64);
    const pv = new DataView(pair.buffer, pair.byteOffset, 64);
    P.writeSockaddr(pv, 0, { family: 'ipv4', address: '127.0.0.1', port: 80 });
    P.writeSockaddr(pv, 32, { family: 'ipv4', address: '127.0.0.1', port: 5555 });
    const inspect = Buffer.alloc(80);
    inspect.set(pair, 0);
    inspect.writeBigUInt64LE(0xabcn, 64);
    inspect.writeUInt32LE(9, 72);
    const from = Buffer.concat([Buffer.alloc(32), Buffer.from('dg')]);
    P.writeSockaddr(new DataView(from.buffer, from.byteOffset, 32), 0, { family: 'ipv6', address: '::1', port: 53 });
    let seq = 0n;
    const rec = (type: number, param: bigint, body: Buffer = Buffer.alloc(0), wskFlags = 0, socketId = 1n) =>
      P.encodeEventRecord({ type, sequence: ++seq, timestamp: seq, socketId, wskFlags, param, body });
    device.complete(0, [
      rec(P.WSKB_EVENT_RECEIVE, 5n, Buffer.from('hello'), 4),
      rec(P.WSKB_EVENT_RECEIVE_CLOSED, 0n),
      rec(P.WSKB_EVENT_DISCONNECT, 0n, undefined, 1),
      rec(P.WSKB_EVENT_SEND_BACKLOG, 65536n),
      rec(P.WSKB_EVENT_ACCEPT, 0x2_0000_0003n, pair),
      rec(P.WSKB_EVENT_ACCEPT, 0n, Buffer.alloc(64)),
      rec(P.WSKB_EVENT_INSPECT, 42n, inspect),
      rec(P.WSKB_EVENT_ABORT, 42n, inspect),
      rec(P.WSKB_EVENT_RECEIVE_FROM, 0n, from, 0x400),
      rec(P.WSKB_EVENT_FLOW_PAUSED, 1000n),
      rec(P.WSKB_EVENT_FLOW_RESUMED, 0n),
      rec(P.WSKB_EVENT_DATAGRAMS_DROPPED, 3n),
      rec(P.WSKB_EVENT_ACCEPTS_REFUSED, 2n),
      rec(P.WSKB_EVENT_SOCKET_CLOSED, 0n),
    ]);
    const got: WskBridgeEvent[] = [];
    for (let i = 0; i < 14; i++) got.push((await events.next()).value as WskBridgeEvent);
    assert.deepEqual(got.map((e) => e.type), ['receive', 'receiveClosed', 'disconnect', 'sendBacklog', 'accept', 'accept', 'inspect', 'abort', 'receiveFrom', 'flowPaused', 'flowResumed', 'datagramsDropped', 'acceptsRefused', 'socketClosed']);
    const [r, , d, b, a, dead, ins, ab, rf, fp, fr, dd, ar] = got as any[];
    assert.equal(r.data.toString(), 'hello');
    assert.equal(r.bytesIndicated, 5);
    assert.equal(r.flags, 4);
    assert.equal(d.abortive, true);
    assert.equal(b.idealBacklogSize, 65536);
    assert.equal(a.socket.id, 0x2_0000_0003n);
    assert.deepEqual(adopted, [0x2_0000_0003n]);
    assert.deepEqual(a.remoteAddress, { family: 'ipv4', address: '127.0.0.1', port: 5555 });
    assert.equal(dead.socket, null);
    assert.equal(dead.listenerClosed, true);
    // Whatever sits in Reserved0 (where WSK_INSPECT_ID.Key was) never reaches JS.
    assert.deepEqual(ins.inspectId, { serialNumber: 9 });
    await ins.accept();
    // An inspection is decided once: a second decision is refused before reaching the driver.
    await assert.rejects(ins.reject(), { code: 'ERR_WSKB_INSPECT_DECIDED', message: /already decided \(accept\(\) was called\)/ });
    assert.deepEqual(completions, [[1n, 42n, 1]]);
    assert.equal(ab.token, 42n);
    assert.equal(rf.data.toString(), 'dg');
    assert.equal(rf.remoteAddress.address, '::1');
    assert.equal(rf.flags, 0x400);
    assert.equal(fp.bytesLeft, 1000);
    assert.equal(fr.statusName, 'STATUS_SUCCESS');
    assert.equal(dd.count, 3);
    assert.equal(ar.count, 2);
  });

  it('an unknown event type is a protocol error, not skipped', async () => {
    const device = new ScriptedDevice();
    const pump = new EventPump(device, host, { depth: 1 });
    pump.start();
    const events = pump.subscribe(undefined);
    device.complete(0, [P.encodeEventRecord({ type: 77, sequence: 1n, timestamp: 0n, socketId: 1n, wskFlags: 0, param: 0n, body: Buffer.alloc(0) })]);
    await assert.rejects(events.next(), /unknown type 77/);
  });

  it('return() hands unread events back, in order, ahead of later ones', async () => {
    const device = new ScriptedDevice();
    const pump = new EventPump(device, host, { depth: 1 });
    pump.start();
    const first = pump.subscribe(7n);
    device.complete(0, [receive(1n), receive(2n), receive(3n)]);
    assert.deepEqual(await take(first, 1), [1n]);
    await first.return!();
    device.complete(0, [receive(4n)]);
    const second = pump.subscribe(7n);
    assert.deepEqual(await take(second, 3), [2n, 3n, 4n]);
    // A session-wide iterator released mid-way: its unread events of two sockets go back too.
    const all = pump.subscribe(undefined);
    device.complete(0, [receive(5n, 8n), receive(6n, 9n), receive(7n, 8n)]);
    await second.return!();
    await all.return!();
    const eight = pump.subscribe(8n);
    assert.deepEqual(await take(eight, 2), [5n, 7n]);
    const rest = pump.subscribe(undefined);
    assert.deepEqual(await take(rest, 1), [6n]);
  });

  it('an AbortSignal hands the unread events back as well', async () => {
    const device = new ScriptedDevice();
    const pump = new EventPump(device, host, { depth: 1 });
    pump.start();
    const controller = new AbortController();
    const first = pump.subscribe(7n, { signal: controller.signal });
    device.complete(0, [receive(1n), receive(2n)]);
    controller.abort();
    await assert.rejects(first.next(), { name: 'AbortError' });
    assert.deepEqual(await take(pump.subscribe(7n), 2), [1n, 2n]);
  });

  it('an event two iterators hold goes back once, and not at all if one of them yielded it', async () => {
    const device = new ScriptedDevice();
    const pump = new EventPump(device, host, { depth: 1 });
    pump.start();
    const a = pump.subscribe(7n);
    const b = pump.subscribe(undefined);
    device.complete(0, [receive(1n), receive(2n)]);
    assert.deepEqual(await take(b, 1), [1n]);
    await a.return!(); // b still holds 2, and yielded 1
    assert.equal(pump.unclaimedCount, 0);
    await b.return!(); // 2 was read by no one: back once; 1 was read: never
    assert.equal(pump.unclaimedCount, 1);
    assert.deepEqual(await take(pump.subscribe(7n), 1), [2n]);
  });

  it('batch form: each next() yields every buffered event, in order', async () => {
    const device = new ScriptedDevice();
    const pump = new EventPump(device, host, { depth: 1 });
    pump.start();
    const batches = pump.subscribe(undefined, { batch: true });
    const waiting = batches.next();
    device.complete(0, [receive(1n), receive(2n), receive(3n)]);
    const first = await waiting;
    assert.deepEqual(first.value?.map((e: WskBridgeEvent) => e.sequence), [1n, 2n, 3n], 'a waiting next() gets the whole batch, not its first event');
    device.complete(0, [receive(4n)]);
    device.complete(0, [receive(5n)]);
    assert.deepEqual((await batches.next()).value?.map((e: WskBridgeEvent) => e.sequence), [4n, 5n]);
    await batches.return!();
  });

  it('a socket nobody reads is held back in the driver alone, and let go once read', async () => {
    const device = new ScriptedDevice();
    const warnings: Error[] = [];
    const onWarning = (w: Error) => warnings.push(w);
    process.on('warning', onWarning);
    try {
      const pump = new EventPump(device, host, { depth: 1, unclaimedLimit: 4 });
      pump.start();
      const other = pump.subscribe(8n);
      device.complete(0, [receive(1n), receive(2n), receive(3n)]);
      assert.deepEqual(device.flows, [], 'below the limit');
      device.complete(0, [receive(4n), receive(5n, 8n)]);
      await tick();
      assert.deepEqual(device.flows, [[7n, true]], 'held at the limit');
      assert.equal(pump.socketsHeld, 1);
      assert.equal(device.reads.length, 1, 'the pump goes on reading for the other sockets');
      assert.deepEqual(await take(other, 1), [5n]);
      device.complete(0, [receive(6n), receive(7n)]);
      await tick();
      assert.deepEqual(device.flows, [[7n, true]], 'one hold, not one per event');
      const seven = pump.subscribe(7n, { highWaterMark: 100 });
      await tick();
      assert.deepEqual(device.flows, [[7n, true], [7n, false]], 'let go once an iterator took them');
      assert.deepEqual(await take(seven, 6), [1n, 2n, 3n, 4n, 6n, 7n]);
      assert.equal(pump.socketsHeld, 0);
      assert.equal(pump.counters.socketHolds, 1);
      await tick();
      assert.deepEqual(warnings.map((w) => (w as Error & { code?: string }).code), ['WSKB_SOCKET_BACKPRESSURE']);
    } finally {
      process.off('warning', onWarning);
    }
  });

  it("a socket's own full iterator holds that socket, not the pump", async () => {
    const device = new ScriptedDevice();
    const pump = new EventPump(device, host, { depth: 1 });
    pump.start();
    const seven = pump.subscribe(7n, { highWaterMark: 2, lowWaterMark: 0 });
    device.complete(0, [receive(1n), receive(2n)]);
    await tick();
    assert.deepEqual(device.flows, [[7n, true]]);
    assert.equal(device.reads.length, 1, 'still reading');
    assert.deepEqual(await take(seven, 2), [1n, 2n]);
    await tick();
    assert.deepEqual(device.flows, [[7n, true], [7n, false]]);
    // The report the release causes (and other bridge reports) does not hold the socket again:
    // with a mark this low that would hold it again at once, and drop the next datagram.
    const resumed = P.encodeEventRecord({ type: P.WSKB_EVENT_SOCKET_RESUMED, sequence: 3n, timestamp: 0n, socketId: 7n, wskFlags: 0, param: 0n, body: Buffer.alloc(0) });
    const dropped = P.encodeEventRecord({ type: P.WSKB_EVENT_DATAGRAMS_DROPPED, sequence: 4n, timestamp: 0n, socketId: 7n, wskFlags: 0, param: 9n, body: Buffer.alloc(0) });
    device.complete(0, [resumed, dropped]);
    await tick();
    assert.deepEqual(device.flows, [[7n, true], [7n, false]], 'no hold for the bridge reports');
    device.complete(0, [receive(5n)]);
    await tick();
    assert.deepEqual(device.flows, [[7n, true], [7n, false], [7n, true]], 'data does hold it');
  });

  it('receive() takes kept receive data first, splitting a larger event', async () => {
    const device = new ScriptedDevice();
    const pump = new EventPump(device, host, { depth: 1 });
    pump.start();
    device.complete(0, [receive(1n, 7n, 'hello'), receive(2n, 7n, ' world')]);
    assert.equal(pump.takeKept(7n, 'receive', 3)?.toString(), 'hel');
    assert.equal(pump.takeKept(7n, 'receive', 100)?.toString(), 'lo world');
    assert.equal(pump.takeKept(7n, 'receive', 100), undefined);
    assert.equal(pump.unclaimedCount, 0);
  });

  it('decodeBatch with a reused buffer copies what the events keep', () => {
    const batch = Buffer.concat([receive(1n, 7n, 'abc')]);
    const events = decodeBatch(batch, batch.length, host, { reusedBuffer: true });
    batch.fill(0);
    assert.equal(events.length, 1);
    const event = events[0]!;
    assert.equal(event.type, 'receive');
    if (event.type === 'receive') assert.equal(event.data.toString(), 'abc');
    assert.equal(event.sequence, 1n);
    assert.equal(event.socketId, 7n);
    assert.deepEqual(Object.keys((event as unknown as { toJSON(): object }).toJSON()).sort(), ['bytesIndicated', 'data', 'flags', 'sequence', 'socketId', 'timestamp', 'type', 'wskFlags'].sort());
  });

  it('stop() ends iterators after what they hold; STATUS_CANCELLED reads are quiet', async () => {
    const device = new ScriptedDevice();
    const pump = new EventPump(device, host, { depth: 2 });
    pump.start();
    const events = pump.subscribe(undefined);
    device.complete(0, [receive(1n)]);
    pump.stop();
    device.complete(0, [], 0xc0000120 | 0);
    assert.deepEqual(await take(events, 1), [1n]);
    assert.deepEqual(await events.next(), { value: undefined, done: true });
    await tick();
  });
});

// SPDX-License-Identifier: MIT
//
// The event pump's own logic, against a scripted device (no driver): batches put back in
// sequence order, gaps detected, reads paused past the high-water mark and resumed below the
// low-water mark, the device referenced exactly while an iterator waits, and events kept for an
// iterator that comes later. The suites over real traffic cover the same paths end to end;
// this one makes the rare orderings happen on purpose.

import assert from 'node:assert/strict';
import type { IoctlCallback, NativeDevice } from '../lib/addon.js';
import { EventPump, type EventHost, type WskBridgeEvent } from '../lib/events.js';
import * as P from '../lib/protocol.js';
import type { WskSocket } from '../lib/socket.js';

class ScriptedDevice implements NativeDevice {
  readonly backend = 'sim';
  reads: IoctlCallback[] = [];
  refs = 0;
  get pending(): number {
    return this.reads.length;
  }
  ioctl(code: number, input: Uint8Array | null, outputLength: number, callback: IoctlCallback, weak?: boolean): void {
    assert.equal(code, P.WSKB_IOCTL_READ_EVENTS);
    assert.equal(input, null);
    assert.ok(outputLength >= P.WSKB_READ_EVENTS_MIN_OUTPUT);
    assert.equal(weak, true, 'READ_EVENTS must be weak');
    this.reads.push(callback);
  }
  /** Completes the index-th pending read with these records. */
  complete(index: number, records: Buffer[], status = 0): void {
    const [callback] = this.reads.splice(index, 1);
    assert.ok(callback, `no pending read #${index}`);
    const output = Buffer.concat(records);
    callback(status, output.length, output);
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
    await ins.reject();
    assert.deepEqual(completions, [[1n, 42n, 1], [1n, 42n, 0]]);
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

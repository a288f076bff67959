// SPDX-License-Identifier: MIT
//
// lib/protocol.ts against driver/protocol.h: every constant, struct size, field offset and field
// width the addon compiles from the header (protocolConstants(), the shared test vectors) must
// equal the TypeScript mirror, and every one of them must be mirrored. Then the encoders and
// decoders, on their own.

import assert from 'node:assert/strict';
import { addon } from '../lib/addon.js';
import { decodeBatch, type EventHost } from '../lib/events.js';
import * as P from '../lib/protocol.js';

/** decodeBatch's host, for records that need none (no accept, no inspect). */
const noHost: EventHost = {
  adoptAcceptedSocket: () => assert.fail('no accept record here'),
  inspectComplete: async () => assert.fail('no inspect record here'),
  isClosedByUser: () => false,
};

describe('protocol mirror (lib/protocol.ts vs driver/protocol.h)', () => {
  const header = addon().protocolConstants();

  /** The mirror flattened to the addon's key scheme. */
  function mirror(): Map<string, number> {
    const keys = new Map<string, number>();
    for (const [name, value] of Object.entries(P.constants)) keys.set(name, value);
    for (const [struct, layout] of Object.entries(P.layouts)) {
      keys.set(`sizeof.${struct}`, layout.size);
      for (const [field, offset] of Object.entries(layout.offsets)) keys.set(`offsetof.${struct}.${field}`, offset);
      for (const [field, size] of Object.entries(layout.fieldSizes)) keys.set(`sizeof.${struct}.${field}`, size);
    }
    return keys;
  }

  it('every value of the header equals its mirror', () => {
    const ours = mirror();
    const wrong: string[] = [];
    for (const [key, value] of Object.entries(header)) {
      if (!ours.has(key)) wrong.push(`${key}: not mirrored in lib/protocol.ts`);
      else if (ours.get(key) !== value) wrong.push(`${key}: header ${value}, mirror ${ours.get(key)}`);
    }
    assert.deepEqual(wrong, []);
  });

  it('every mirrored value exists in the header', () => {
    const missing = [...mirror().keys()].filter((key) => !(key in header));
    assert.deepEqual(missing, []);
  });

  it('the vectors are not trivially empty', () => {
    // A broken protocolConstants() returning {} would make the two tests above pass vacuously.
    assert.ok(Object.keys(header).length > 150, `only ${Object.keys(header).length} vectors`);
    assert.equal(header['sizeof.WSKB_EVENT_HEADER'], 48);
  });

  it('each layout is consistent: fields inside the struct, no overlap, size a multiple of 8', () => {
    for (const [struct, layout] of Object.entries(P.layouts as Record<string, P.Layout>)) {
      assert.equal(layout.size % 8, 0, struct);
      const fields = Object.keys(layout.offsets).map((f) => [layout.offsets[f]!, layout.fieldSizes[f]!] as const);
      fields.sort((a, b) => a[0] - b[0]);
      let end = 0;
      for (const [offset, size] of fields) {
        assert.ok(offset >= end, `${struct}: field at ${offset} overlaps`);
        end = offset + size;
      }
      assert.equal(end, layout.size, `${struct}: fields end at ${end}, size ${layout.size} (hidden padding?)`);
    }
  });
});

describe('protocol encoders and decoders', () => {
  it('IPv4 socket addresses round-trip with Windows AF_INET = 2 and a host-order port', () => {
    const buf = Buffer.alloc(32);
    const view = new DataView(buf.buffer, buf.byteOffset, 32);
    P.writeSockaddr(view, 0, { family: 'ipv4', address: '192.168.1.20', port: 0x1234 });
    assert.equal(buf.readUInt16LE(0), 2);
    assert.equal(buf.readUInt16LE(2), 0x1234);
    assert.deepEqual([...buf.subarray(8, 12)], [192, 168, 1, 20]);
    assert.deepEqual(P.readSockaddr(view, 0), { family: 'ipv4', address: '192.168.1.20', port: 0x1234 });
  });

  it('IPv6 socket addresses round-trip with AF_INET6 = 23, flow info and scope id', () => {
    const cases: Array<[string, string]> = [
      ['::1', '::1'],
      ['::', '::'],
      ['fe80::1:2', 'fe80::1:2'],
      ['2001:DB8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
      ['::ffff:10.1.2.3', '::ffff:a01:203'],
      ['1:2:3:4:5:6:7:8', '1:2:3:4:5:6:7:8'],
      ['1:0:0:2:0:0:0:3', '1:0:0:2::3'],
    ];
    for (const [input, canonical] of cases) {
      const buf = Buffer.alloc(32);
      const view = new DataView(buf.buffer, buf.byteOffset, 32);
      P.writeSockaddr(view, 0, { family: 'ipv6', address: input, port: 443, flowInfo: 7, scopeId: 3 });
      assert.equal(buf.readUInt16LE(0), 23);
      assert.deepEqual(P.readSockaddr(view, 0), { family: 'ipv6', address: canonical, port: 443, flowInfo: 7, scopeId: 3 }, input);
    }
  });

  it('rejects malformed addresses with clear errors', () => {
    const view = new DataView(new ArrayBuffer(32));
    assert.throws(() => P.writeSockaddr(view, 0, { family: 'ipv4', address: '1.2.3', port: 1 }), /not an IPv4 address/);
    assert.throws(() => P.writeSockaddr(view, 0, { family: 'ipv6', address: '1::2::3', port: 1 }), /not an IPv6 address/);
    assert.throws(() => P.writeSockaddr(view, 0, { family: 'ipv4', address: '1.2.3.4', port: 65536 }), /port must be an integer/);
    assert.throws(() => P.writeSockaddr(view, 0, { family: 'ipx' as never, address: '1.2.3.4', port: 1 }), /unknown address family/);
    assert.throws(() => P.writeSockaddr(view, 0, { family: 'ipv4', address: '1.2.3.4', port: 1, scopeId: 1 }), /IPv6 only/);
  });

  it('an AF_UNSPEC address reads as null and an unknown family is a protocol error', () => {
    const buf = Buffer.alloc(32);
    assert.equal(P.decodeSockaddr(buf), null);
    buf.writeUInt16LE(99, 0);
    assert.throws(() => P.decodeSockaddr(buf), P.ProtocolError);
  });

  it('HELLO_IN carries the magic, our version and the budget', () => {
    const buf = P.encodeHelloIn(128 * 1024);
    assert.equal(buf.length, 16);
    assert.equal(buf.readUInt32LE(0), P.WSKB_MAGIC);
    assert.equal(buf.readUInt32LE(4), P.WSKB_PROTOCOL_VERSION);
    assert.equal(buf.readUInt32LE(8), 128 * 1024);
    assert.equal(buf.readUInt32LE(12), 0);
  });

  it('request headers put every field where protocol.h says', () => {
    const data = P.encodeDataIn(0x1_0000_0002n, 5, Buffer.from('abc'));
    assert.equal(data.length, 16 + 3);
    assert.equal(data.readBigUInt64LE(0), 0x1_0000_0002n);
    assert.equal(data.readUInt32LE(8), 5);
    assert.equal(data.readUInt32LE(12), 3);
    assert.equal(data.subarray(16).toString(), 'abc');

    const ctl = P.encodeControlSocketIn({ socketId: 9n, requestType: 0, code: 0x4002, level: 0xffff, input: Buffer.from([0x40, 0, 0, 0]), outputLength: 8, flags: 1 });
    assert.deepEqual(
      [ctl.readBigUInt64LE(0), ctl.readUInt32LE(8), ctl.readUInt32LE(12), ctl.readUInt32LE(16), ctl.readUInt32LE(20), ctl.readUInt32LE(24), ctl.readUInt32LE(28), ctl.readUInt32LE(32)],
      [9n, 0, 0x4002, 0xffff, 4, 8, 1, 0x40],
    );

    const sendTo = P.encodeSendToIn(3n, { family: 'ipv4', address: '127.0.0.1', port: 9 }, 0, Buffer.from('xy'));
    assert.equal(sendTo.length, 48 + 2);
    assert.equal(sendTo.readUInt16LE(8), 2);
    assert.equal(sendTo.readUInt16LE(10), 9);
    assert.equal(sendTo.readUInt32LE(44), 2);

    const inspect = P.encodeInspectCompleteIn(4n, 77n, 1);
    assert.deepEqual([inspect.readBigUInt64LE(0), inspect.readBigUInt64LE(8), inspect.readUInt32LE(16)], [4n, 77n, 1]);

    const hold = P.encodeSocketFlowIn(0x2_0001_0003n, true);
    assert.equal(hold.length, P.layouts.WSKB_SOCKET_FLOW_IN.size);
    assert.deepEqual([hold.readBigUInt64LE(0), hold.readUInt32LE(8), hold.readUInt32LE(12)], [0x2_0001_0003n, 1, 0]);
    assert.equal(P.encodeSocketFlowIn(5n, false).readUInt32LE(8), 0);
    assert.equal(P.WSKB_PROTOCOL_VERSION, 3, 'version 3: STATS reports EventsWrittenDirect');
  });

  it('request encoders refuse oversized input instead of truncating it', () => {
    assert.throws(() => P.encodeDataIn(1n, 0, Buffer.alloc(P.WSKB_MAX_IO_BYTES + 1)), RangeError);
    assert.throws(() => P.encodeControlClientIn(7, Buffer.alloc(P.WSKB_MAX_CONTROL_BYTES + 1), 0, 0), RangeError);
    assert.throws(() => P.encodeSocketId(-1n), TypeError);
  });

  it('CONTROL_OUT: statuses are signed and the output is cut at OutputSizeReturned', () => {
    const buf = Buffer.alloc(16 + 8);
    buf.writeInt32LE(0x103, 0);
    buf.writeInt32LE(0xc0000120 | 0, 4);
    buf.writeBigUInt64LE(3n, 8);
    buf.write('abcdefgh', 16);
    const out = P.decodeControlOut(buf);
    assert.equal(out.callStatus, 0x103);
    assert.equal(out.irpStatus, 0xc0000120 | 0);
    assert.equal(out.output.toString(), 'abc');
    buf.writeBigUInt64LE(9n, 8);
    assert.throws(() => P.decodeControlOut(buf), /OutputSizeReturned 9 exceeds/);
  });

  it('event batches split into records; padding records are skipped', () => {
    const a = P.encodeEventRecord({ type: P.WSKB_EVENT_RECEIVE, sequence: 1n, timestamp: 10n, socketId: 5n, wskFlags: 4, param: 3n, body: Buffer.from('abc') });
    const pad = P.encodeEventRecord({ type: P.WSKB_EVENT_PAD, sequence: 0n, timestamp: 0n, socketId: 0n, wskFlags: 0, param: 0n, body: Buffer.alloc(16) });
    const body = Buffer.alloc(32 + 2);
    const view = new DataView(body.buffer, body.byteOffset, body.length);
    P.writeSockaddr(view, 0, { family: 'ipv4', address: '10.0.0.1', port: 53 });
    body.write('hi', 32);
    const b = P.encodeEventRecord({ type: P.WSKB_EVENT_RECEIVE_FROM, sequence: 2n, timestamp: 11n, socketId: 6n, wskFlags: 0, param: 0n, body });
    assert.equal(a.length, 56); // 48 + 3 rounded up to 8
    const batch = Buffer.concat([a, pad, b]);
    const events = decodeBatch(batch, batch.length, noHost);
    assert.equal(events.length, 2);
    const [first, second] = events;
    assert.ok(first?.type === 'receive' && second?.type === 'receiveFrom');
    assert.equal(first.data.toString(), 'abc');
    assert.equal(first.bytesIndicated, 3);
    assert.equal(first.sequence, 1n);
    assert.equal(first.timestamp, 10n);
    assert.equal(first.socketId, 5n);
    assert.equal(first.wskFlags, 4);
    assert.equal(second.data.toString(), 'hi');
    assert.deepEqual(second.remoteAddress, { family: 'ipv4', address: '10.0.0.1', port: 53 });
    // Only `length` bytes count: a batch in a larger (reused) buffer.
    const larger = Buffer.concat([batch, Buffer.alloc(64, 0xff)]);
    assert.equal(decodeBatch(larger, batch.length, noHost, { reusedBuffer: true }).length, 2);
  });

  it('malformed event batches are protocol errors, not silently skipped', () => {
    const good = P.encodeEventRecord({ type: 1, sequence: 1n, timestamp: 0n, socketId: 1n, wskFlags: 0, param: 0n, body: Buffer.alloc(8) });
    const badSize = Buffer.from(good);
    badSize.writeUInt32LE(50, 0);
    assert.throws(() => decodeBatch(badSize, badSize.length, noHost), /bad Size 50/);
    assert.throws(() => decodeBatch(good, 40, noHost), /header needs 48/);
    const overrun = Buffer.from(good);
    overrun.writeUInt32LE(100, 36); // DataLength
    assert.throws(() => decodeBatch(overrun, overrun.length, noHost), /overruns its record/);
    assert.throws(() => decodeBatch(good, good.length + 1, noHost), RangeError);
  });
});

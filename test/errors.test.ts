// SPDX-License-Identifier: MIT
//
// Errors with their exact NTSTATUS: bad socket ids, closed sockets, operations a socket kind
// does not have, WSK's own refusals, and malformed or truncated IOCTL buffers sent raw through
// the device (the driver's validation, driver/ioctl.c's rules 1-4).

import assert from 'node:assert/strict';
import { WskError, type WskSession } from '../lib/index.js';
import * as P from '../lib/protocol.js';
import { openSim, rejectsWith } from './helpers/util.js';

describe('errors with exact NTSTATUS', () => {
  let session: WskSession;
  beforeEach(async () => {
    session = await openSim();
  });
  afterEach(async () => {
    await session.close();
  });

  it('an unknown socket id is STATUS_INVALID_HANDLE', async () => {
    for (const id of [0n, 0xdeadbeefn, 0xffff_ffff_ffff_ffffn]) {
      const result = await session.rawIoctl(P.WSKB_IOCTL_GET_ADDRESS, P.encodeGetAddressIn(id, P.WSKB_ADDRESS_LOCAL), 32);
      assert.equal(result.statusName, 'STATUS_INVALID_HANDLE', `id ${id}`);
    }
  });

  it('a closed socket is STATUS_INVALID_HANDLE, and its id is never reused', async () => {
    const socket = await session.socket('connection');
    await socket.close();
    const error = await rejectsWith(socket.bind({ family: 'ipv4', address: '127.0.0.1', port: 0 }), 'STATUS_INVALID_HANDLE', 'bind');
    // The message names the operation, the status, the socket and the address (issue 9).
    assert.equal(error.message, `bind failed: STATUS_INVALID_HANDLE (0xC0000008) on socket 0x${socket.id.toString(16)} at 127.0.0.1:0`);
    assert.equal(error.code, 'STATUS_INVALID_HANDLE');
    assert.equal(error.socketId, socket.id);
    await rejectsWith(socket.send('x'), 'STATUS_INVALID_HANDLE', 'send');
    const again = await session.socket('connection');
    assert.notEqual(again.id, socket.id, 'a new socket gets a new id (generation), even in the same slot');
    // close() is idempotent on the JS side: the second call does not go to the driver.
    await socket.close();
  });

  it('an operation the socket kind does not have is STATUS_INVALID_DEVICE_REQUEST', async () => {
    const listener = await session.socket('listen');
    const datagram = await session.socket('datagram');
    const connection = await session.socket('connection');
    const basic = await session.socket('basic');
    const somewhere = { family: 'ipv4', address: '127.0.0.1', port: 9 } as const;
    await rejectsWith(listener.connect(somewhere), 'STATUS_INVALID_DEVICE_REQUEST', 'connect');
    await rejectsWith(listener.send('x'), 'STATUS_INVALID_DEVICE_REQUEST', 'send');
    await rejectsWith(datagram.receive(10), 'STATUS_INVALID_DEVICE_REQUEST', 'receive');
    await rejectsWith(datagram.accept(), 'STATUS_INVALID_DEVICE_REQUEST', 'accept');
    await rejectsWith(connection.sendTo('x', somewhere), 'STATUS_INVALID_DEVICE_REQUEST', 'sendTo');
    await rejectsWith(connection.receiveFrom(10), 'STATUS_INVALID_DEVICE_REQUEST', 'receiveFrom');
    await rejectsWith(basic.bind(somewhere), 'STATUS_INVALID_DEVICE_REQUEST', 'bind');
    await rejectsWith(datagram.remoteAddress(), 'STATUS_INVALID_DEVICE_REQUEST', 'remoteAddress');
  });

  it('connect before bind is STATUS_INVALID_DEVICE_STATE (as WSK on Windows answers)', async () => {
    const socket = await session.socket('connection');
    await rejectsWith(socket.connect({ family: 'ipv4', address: '127.0.0.1', port: 9 }), 'STATUS_INVALID_DEVICE_STATE', 'connect');
  });

  it('binding a socket twice is STATUS_ADDRESS_ALREADY_ASSOCIATED', async () => {
    const socket = await session.socket('datagram');
    await socket.bind({ family: 'ipv4', address: '127.0.0.1', port: 0 });
    const error = await socket.bind({ family: 'ipv4', address: '127.0.0.1', port: 0 }).then(
      () => assert.fail('a second bind succeeded'),
      (e: unknown) => e,
    );
    assert.ok(error instanceof WskError);
    assert.equal(error.operation, 'bind');
    assert.equal(error.statusName, 'STATUS_ADDRESS_ALREADY_ASSOCIATED');
  });

  it('binding a second socket to a port in use is STATUS_ADDRESS_ALREADY_EXISTS', async () => {
    const first = await session.socket('listen');
    await first.bind({ family: 'ipv4', address: '127.0.0.1', port: 0 });
    const port = (await first.localAddress())!.port;
    const second = await session.socket('listen');
    await rejectsWith(second.bind({ family: 'ipv4', address: '127.0.0.1', port }), 'STATUS_ADDRESS_ALREADY_EXISTS', 'bind');
  });

  it('connecting to a port nobody listens on is STATUS_CONNECTION_REFUSED', async () => {
    const probe = await session.socket('listen');
    await probe.bind({ family: 'ipv4', address: '127.0.0.1', port: 0 });
    const port = (await probe.localAddress())!.port;
    await probe.close();
    const socket = await session.socket('connection');
    await socket.bind({ family: 'ipv4', address: '127.0.0.1', port: 0 });
    await rejectsWith(socket.connect({ family: 'ipv4', address: '127.0.0.1', port }), 'STATUS_CONNECTION_REFUSED', 'connect');
  });

  describe('malformed and truncated IOCTL buffers, sent raw', () => {
    /** One table row: what is sent and the exact status expected back. */
    interface Row {
      name: string;
      code: number;
      input: () => Promise<Uint8Array | null> | Uint8Array | null;
      output: number;
      status: string;
    }
    const address = { family: 'ipv4', address: '127.0.0.1', port: 0 } as const;
    const dgram = async () => (await session.socket('datagram')).id;
    const conn = async () => (await session.socket('connection')).id;
    const withU32 = (buf: Buffer, offset: number, value: number) => {
      buf.writeUInt32LE(value >>> 0, offset);
      return buf;
    };
    // A well-formed SOCKET_CONNECT to a port nobody listens on (the rows above break one field each).
    const socketConnectIn = () =>
      P.encodeSocketConnectIn({ socketType: 1, protocol: 6, options: 0, localAddress: { family: 'ipv4', address: '0.0.0.0', port: 0 }, remoteAddress: { family: 'ipv4', address: '127.0.0.1', port: 9 } });
    const withU16 = (buf: Buffer, offset: number, value: number) => {
      buf.writeUInt16LE(value, offset);
      return buf;
    };

    const rows: Row[] = [
      { name: 'an unknown IOCTL code', code: P.ctlCode(P.WSKB_DEVICE_TYPE, 0x8ff, 0, 3), input: () => null, output: 0, status: 'STATUS_INVALID_DEVICE_REQUEST' },
      { name: 'a code of another device type', code: P.ctlCode(0x22, 0x800, 0, 3), input: () => null, output: 0, status: 'STATUS_INVALID_DEVICE_REQUEST' },
      { name: 'a second HELLO', code: P.WSKB_IOCTL_HELLO, input: () => P.encodeHelloIn(0), output: 24, status: 'STATUS_INVALID_DEVICE_STATE' },
      { name: 'SOCKET_CREATE truncated by one byte', code: P.WSKB_IOCTL_SOCKET_CREATE, input: () => P.encodeSocketCreateIn({ family: 2, socketType: 1, protocol: 6, wskFlags: 2, options: 0 }).subarray(0, 15), output: 8, status: 'STATUS_INVALID_PARAMETER' },
      { name: 'SOCKET_CREATE one byte too long', code: P.WSKB_IOCTL_SOCKET_CREATE, input: () => Buffer.concat([P.encodeSocketCreateIn({ family: 2, socketType: 1, protocol: 6, wskFlags: 2, options: 0 }), Buffer.alloc(1)]), output: 8, status: 'STATUS_INVALID_PARAMETER' },
      { name: 'SOCKET_CREATE with an unknown option bit', code: P.WSKB_IOCTL_SOCKET_CREATE, input: () => P.encodeSocketCreateIn({ family: 2, socketType: 1, protocol: 6, wskFlags: 2, options: 0x80 }), output: 8, status: 'STATUS_INVALID_PARAMETER' },
      { name: 'SOCKET_CREATE of a kind the driver does not drive (stream)', code: P.WSKB_IOCTL_SOCKET_CREATE, input: () => P.encodeSocketCreateIn({ family: 2, socketType: 1, protocol: 6, wskFlags: 8, options: 0 }), output: 8, status: 'STATUS_INVALID_PARAMETER' },
      // SOCKET_CONNECT (WskSocketConnect, issue 9): every byte of its input checked.
      { name: 'SOCKET_CONNECT truncated by one byte', code: P.WSKB_IOCTL_SOCKET_CONNECT, input: () => socketConnectIn().subarray(0, 79), output: 8, status: 'STATUS_INVALID_PARAMETER' },
      { name: 'SOCKET_CONNECT one byte too long', code: P.WSKB_IOCTL_SOCKET_CONNECT, input: () => Buffer.concat([socketConnectIn(), Buffer.alloc(1)]), output: 8, status: 'STATUS_INVALID_PARAMETER' },
      { name: 'SOCKET_CONNECT with a non-zero Reserved', code: P.WSKB_IOCTL_SOCKET_CONNECT, input: () => withU16(socketConnectIn(), 2, 1), output: 8, status: 'STATUS_INVALID_PARAMETER' },
      { name: 'SOCKET_CONNECT with a non-zero Reserved2 (the reserved Flags)', code: P.WSKB_IOCTL_SOCKET_CONNECT, input: () => withU32(socketConnectIn(), 12, 1), output: 8, status: 'STATUS_INVALID_PARAMETER' },
      { name: 'SOCKET_CONNECT with an unknown option bit', code: P.WSKB_IOCTL_SOCKET_CONNECT, input: () => withU32(socketConnectIn(), 8, 0x80), output: 8, status: 'STATUS_INVALID_PARAMETER' },
      { name: 'SOCKET_CONNECT with an unknown local address family', code: P.WSKB_IOCTL_SOCKET_CONNECT, input: () => withU16(socketConnectIn(), 16, 99), output: 8, status: 'STATUS_INVALID_PARAMETER' },
      { name: 'SOCKET_CONNECT with a non-zero remote WSKB_SOCKADDR.Reserved', code: P.WSKB_IOCTL_SOCKET_CONNECT, input: () => withU32(socketConnectIn(), 48 + 28, 1), output: 8, status: 'STATUS_INVALID_PARAMETER' },
      { name: 'SOCKET_CONNECT with local and remote of different families', code: P.WSKB_IOCTL_SOCKET_CONNECT, input: () => P.encodeSocketConnectIn({ socketType: 1, protocol: 6, options: 0, localAddress: { family: 'ipv6', address: '::', port: 0 }, remoteAddress: { family: 'ipv4', address: '127.0.0.1', port: 9 } }), output: 8, status: 'STATUS_INVALID_PARAMETER' },
      { name: 'SOCKET_CONNECT with no room for the id', code: P.WSKB_IOCTL_SOCKET_CONNECT, input: () => socketConnectIn(), output: 7, status: 'STATUS_BUFFER_TOO_SMALL' },
      { name: 'SOCKET_CREATE with no room for the id', code: P.WSKB_IOCTL_SOCKET_CREATE, input: () => P.encodeSocketCreateIn({ family: 2, socketType: 1, protocol: 6, wskFlags: 2, options: 0 }), output: 7, status: 'STATUS_BUFFER_TOO_SMALL' },
      { name: 'BIND truncated', code: P.WSKB_IOCTL_BIND, input: async () => P.encodeAddressIn(await dgram(), address, 0).subarray(0, 40), output: 0, status: 'STATUS_INVALID_PARAMETER' },
      { name: 'BIND with a non-zero Reserved', code: P.WSKB_IOCTL_BIND, input: async () => withU32(P.encodeAddressIn(await dgram(), address, 0), 44, 1), output: 0, status: 'STATUS_INVALID_PARAMETER' },
      { name: 'BIND with an unknown address family', code: P.WSKB_IOCTL_BIND, input: async () => withU16(P.encodeAddressIn(await dgram(), address, 0), 8, 99), output: 0, status: 'STATUS_INVALID_PARAMETER' },
      { name: 'BIND with a non-zero WSKB_SOCKADDR.Reserved', code: P.WSKB_IOCTL_BIND, input: async () => withU32(P.encodeAddressIn(await dgram(), address, 0), 8 + 28, 5), output: 0, status: 'STATUS_INVALID_PARAMETER' },
      { name: 'SEND whose Length exceeds the bytes that follow', code: P.WSKB_IOCTL_SEND, input: async () => withU32(P.encodeDataIn(await conn(), 0, Buffer.alloc(10)), 12, 11), output: 8, status: 'STATUS_INVALID_PARAMETER' },
      { name: 'SEND whose Length is short of the bytes that follow', code: P.WSKB_IOCTL_SEND, input: async () => withU32(P.encodeDataIn(await conn(), 0, Buffer.alloc(10)), 12, 9), output: 8, status: 'STATUS_INVALID_PARAMETER' },
      { name: 'SEND with a Length over WSKB_MAX_IO_BYTES', code: P.WSKB_IOCTL_SEND, input: async () => withU32(P.encodeDataIn(await conn(), 0, null), 12, P.WSKB_MAX_IO_BYTES + 1), output: 8, status: 'STATUS_INVALID_BUFFER_SIZE' },
      { name: 'SEND with a Length that would overflow the sum', code: P.WSKB_IOCTL_SEND, input: async () => withU32(P.encodeDataIn(await conn(), 0, null), 12, 0xffffffff), output: 8, status: 'STATUS_INVALID_BUFFER_SIZE' },
      { name: 'SEND shorter than its header', code: P.WSKB_IOCTL_SEND, input: () => Buffer.alloc(15), output: 8, status: 'STATUS_INVALID_PARAMETER' },
      { name: 'RECEIVE with an output smaller than Length', code: P.WSKB_IOCTL_RECEIVE, input: async () => P.encodeDataIn(await conn(), 0, null, 100), output: 99, status: 'STATUS_BUFFER_TOO_SMALL' },
      { name: 'RECEIVE_FROM with no room for its header', code: P.WSKB_IOCTL_RECEIVE_FROM, input: async () => P.encodeDataIn(await dgram(), 0, null, 100), output: 100, status: 'STATUS_BUFFER_TOO_SMALL' },
      { name: 'GET_ADDRESS with Which = 2', code: P.WSKB_IOCTL_GET_ADDRESS, input: async () => P.encodeGetAddressIn(await dgram(), 2), output: 32, status: 'STATUS_INVALID_PARAMETER' },
      { name: 'GET_ADDRESS with a 31-byte output', code: P.WSKB_IOCTL_GET_ADDRESS, input: async () => P.encodeGetAddressIn(await dgram(), 0), output: 31, status: 'STATUS_BUFFER_TOO_SMALL' },
      { name: 'CONTROL_SOCKET with InputLength over the limit', code: P.WSKB_IOCTL_CONTROL_SOCKET, input: async () => withU32(P.encodeControlSocketIn({ socketId: await dgram(), requestType: 0, code: 0x4002, level: 0xffff, input: null, outputLength: 0, flags: 0 }), 20, P.WSKB_MAX_CONTROL_BYTES + 1), output: 16, status: 'STATUS_INVALID_BUFFER_SIZE' },
      { name: 'CONTROL_SOCKET with an unknown flag', code: P.WSKB_IOCTL_CONTROL_SOCKET, input: async () => P.encodeControlSocketIn({ socketId: await dgram(), requestType: 0, code: 0x4002, level: 0xffff, input: Buffer.alloc(4), outputLength: 0, flags: 2 }), output: 16, status: 'STATUS_INVALID_PARAMETER' },
      { name: 'CONTROL_SOCKET with no room for CONTROL_OUT', code: P.WSKB_IOCTL_CONTROL_SOCKET, input: async () => P.encodeControlSocketIn({ socketId: await dgram(), requestType: 0, code: 0x4002, level: 0xffff, input: Buffer.alloc(4), outputLength: 0, flags: 0 }), output: 15, status: 'STATUS_BUFFER_TOO_SMALL' },
      { name: 'CONTROL_SOCKET with SO_WSK_SECURITY (a kernel pointer cannot come from user mode)', code: P.WSKB_IOCTL_CONTROL_SOCKET, input: async () => P.encodeControlSocketIn({ socketId: await dgram(), requestType: 0, code: 0x4001, level: 0xffff, input: Buffer.alloc(8), outputLength: 0, flags: 0 }), output: 16, status: 'STATUS_NOT_SUPPORTED' },
      { name: 'CONTROL_CLIENT truncated', code: P.WSKB_IOCTL_CONTROL_CLIENT, input: () => Buffer.alloc(12), output: 16, status: 'STATUS_INVALID_PARAMETER' },
      { name: 'CLOSE with a 7-byte id', code: P.WSKB_IOCTL_CLOSE, input: () => Buffer.alloc(7), output: 0, status: 'STATUS_INVALID_PARAMETER' },
      { name: 'READ_EVENTS with a buffer below WSKB_READ_EVENTS_MIN_OUTPUT', code: P.WSKB_IOCTL_READ_EVENTS, input: () => null, output: P.WSKB_READ_EVENTS_MIN_OUTPUT - 1, status: 'STATUS_BUFFER_TOO_SMALL' },
      { name: 'READ_EVENTS with input bytes', code: P.WSKB_IOCTL_READ_EVENTS, input: () => Buffer.alloc(8), output: P.WSKB_READ_EVENTS_MIN_OUTPUT, status: 'STATUS_INVALID_PARAMETER' },
      { name: 'STATS with an 87-byte output', code: P.WSKB_IOCTL_STATS, input: () => null, output: 87, status: 'STATUS_BUFFER_TOO_SMALL' },
      { name: 'INSPECT_COMPLETE on a socket that is not listening', code: P.WSKB_IOCTL_INSPECT_COMPLETE, input: async () => P.encodeInspectCompleteIn(await dgram(), 1n, 1), output: 0, status: 'STATUS_INVALID_DEVICE_REQUEST' },
    ];

    for (const row of rows) {
      it(`${row.name}: ${row.status}`, async () => {
        const input = await row.input();
        const result = await session.rawIoctl(row.code, input, row.output);
        assert.equal(result.statusName, row.status);
        assert.equal(result.information, 0, 'a refused request returns no bytes');
      });
    }

    it('a session that has not said HELLO is refused with STATUS_INVALID_DEVICE_STATE', async () => {
      const { addon } = await import('../lib/addon.js');
      const device = addon().Device.open('sim');
      try {
        const status = await new Promise<number>((resolve) => device.ioctl(P.WSKB_IOCTL_STATS, null, P.layouts.WSKB_STATS_OUT.size, (s) => resolve(s)));
        assert.equal(status, 0xc0000184 | 0);
        const hello = P.encodeHelloIn(0, P.WSKB_PROTOCOL_VERSION + 1);
        const [refused, driverVersion, bytes] = await new Promise<[number, number, number]>((resolve) =>
          device.ioctl(P.WSKB_IOCTL_HELLO, hello, 24, (s, information, output) => resolve([s, information, output.length])),
        );
        assert.equal(refused, 0xc0000059 | 0, 'another protocol version: STATUS_REVISION_MISMATCH');
        assert.equal(driverVersion, P.WSKB_PROTOCOL_VERSION, "Information carries the driver's version");
        assert.equal(bytes, 0, 'no output on an error status');
        const badMagic = P.encodeHelloIn(0, P.WSKB_PROTOCOL_VERSION, 0x12345678);
        const bad = await new Promise<number>((resolve) => device.ioctl(P.WSKB_IOCTL_HELLO, badMagic, 24, (s) => resolve(s)));
        assert.equal(bad, 0xc000000d | 0, 'a wrong magic: STATUS_INVALID_PARAMETER');
      } finally {
        device.close();
      }
    });
  });
});

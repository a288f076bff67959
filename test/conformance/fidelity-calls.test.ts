// SPDX-License-Identifier: MIT
//
// docs/ksim-fidelity.md, "Host errors to NTSTATUS" and "Call conventions": the statuses ksim
// chose where Microsoft documents none, asserted as ksim chose them. Backend-neutral (harness):
// run against the kernel on Windows, a failure here means Windows chose differently, and the
// fidelity row and ksim change together.

import assert from 'node:assert/strict';
import { NTSTATUS, SOCK_DGRAM, SOCK_STREAM, WskFlag } from '../../lib/index.js';
import * as P from '../../lib/protocol.js';
import { skipBecause, UNDER_WINE } from '../helpers/util.js';
import {
  assertStatus,
  connectedPair,
  LOOPBACK,
  nodeServer,
  nodeUdp,
  openSession,
  sleep,
  useConformanceCleanup,
  withTimeout,
  wskErrorOf,
} from './harness.test.js';

const S = NTSTATUS;

describe('ksim fidelity: host errors and call conventions (docs/ksim-fidelity.md)', function () {
  this.timeout(30_000);
  useConformanceCleanup();

  it('[fidelity host-errors] connecting to a port nobody listens on → STATUS_CONNECTION_REFUSED', async () => {
    const session = await openSession();
    // A port that was just free: a peer server opened and closed on it.
    const probe = await nodeServer();
    const port = probe.port;
    await new Promise<void>((resolve) => probe.server.close(() => resolve()));
    const socket = await session.socket('connection');
    await socket.bind({ family: 'ipv4', address: LOOPBACK, port: 0 });
    const error = await wskErrorOf(socket.connect({ family: 'ipv4', address: LOOPBACK, port }), 'connect to a closed port');
    assertStatus(error.status, S.STATUS_CONNECTION_REFUSED, 'connect to a closed port');
  });

  it('[fidelity host-errors] binding to an address another socket holds → STATUS_ADDRESS_ALREADY_EXISTS', async () => {
    const session = await openSession();
    const first = await session.socket('listen');
    await first.bind({ family: 'ipv4', address: LOOPBACK, port: 0 });
    const port = (await first.localAddress())!.port;
    const second = await session.socket('listen');
    const error = await wskErrorOf(second.bind({ family: 'ipv4', address: LOOPBACK, port }), 'a second bind to a held address');
    assertStatus(error.status, S.STATUS_ADDRESS_ALREADY_EXISTS, 'a second bind to a held address');
  });

  it('[fidelity host-errors] binding a socket that is already bound → STATUS_ADDRESS_ALREADY_ASSOCIATED', async () => {
    const session = await openSession();
    const socket = await session.socket('datagram');
    await socket.bind({ family: 'ipv4', address: LOOPBACK, port: 0 });
    const error = await wskErrorOf(socket.bind({ family: 'ipv4', address: LOOPBACK, port: 0 }), 'bind twice');
    assertStatus(error.status, S.STATUS_ADDRESS_ALREADY_ASSOCIATED, 'bind twice');
  });

  it('[fidelity host-errors] binding to an address that is not on this host (192.0.2.1, TEST-NET-1) → STATUS_INVALID_ADDRESS_COMPONENT', async function () {
    if (UNDER_WINE) skipBecause(this, "Wine's bind() accepts an address that is not on the host (Windows and Linux refuse it with WSAEADDRNOTAVAIL/EADDRNOTAVAIL)");
    const session = await openSession();
    const socket = await session.socket('datagram');
    const error = await wskErrorOf(socket.bind({ family: 'ipv4', address: '192.0.2.1', port: 0 }), 'bind to a foreign address');
    assertStatus(error.status, S.STATUS_INVALID_ADDRESS_COMPONENT, 'bind to a foreign address');
  });

  it('[fidelity host-errors] sending after the peer reset the connection → STATUS_CONNECTION_RESET', async () => {
    const session = await openSession();
    const { socket, peer } = await connectedPair(session);
    peer.resetAndDestroy();
    await sleep(100);
    // The first send may still be taken before the reset is seen; one of a few must fail.
    let status = 0;
    for (let i = 0; i < 20 && status === 0; i++) {
      try {
        await socket.send('into a reset connection');
      } catch (error) {
        status = (await wskErrorOf(Promise.reject(error), 'send after reset')).status;
      }
      if (status === 0) await sleep(50);
    }
    assertStatus(status, S.STATUS_CONNECTION_RESET, 'send after the peer reset');
  });

  it('[fidelity host-errors] a UDP datagram larger than IPv4 allows (70000 bytes) → STATUS_INVALID_BUFFER_SIZE', async () => {
    const session = await openSession();
    const udp = await nodeUdp();
    const socket = await session.socket('datagram');
    await socket.bind({ family: 'ipv4', address: LOOPBACK, port: 0 });
    const error = await wskErrorOf(socket.sendTo(Buffer.alloc(70_000), { family: 'ipv4', address: LOOPBACK, port: udp.port }), 'an oversized datagram');
    assertStatus(error.status, S.STATUS_INVALID_BUFFER_SIZE, 'an oversized datagram');
  });

  it('[fidelity 1] connect before bind fails at once with STATUS_INVALID_DEVICE_STATE', async () => {
    const session = await openSession();
    const socket = await session.socket('connection');
    const error = await wskErrorOf(socket.connect({ family: 'ipv4', address: LOOPBACK, port: 9 }), 'connect before bind');
    assertStatus(error.status, S.STATUS_INVALID_DEVICE_STATE, 'connect before bind');
  });

  it('[fidelity 3] WskSocket: an unknown address family → STATUS_INVALID_PARAMETER; a type/protocol pair other than STREAM/TCP, DGRAM/UDP → STATUS_NOT_SUPPORTED', async () => {
    const session = await openSession();
    const badFamily = await wskErrorOf(session.socket('datagram', { family: 99 }), 'family 99');
    assertStatus(badFamily.status, S.STATUS_INVALID_PARAMETER, 'family 99');
    const streamUdp = await wskErrorOf(session.socket('connection', { socketType: SOCK_STREAM, protocol: 'udp' }), 'SOCK_STREAM/UDP');
    assertStatus(streamUdp.status, S.STATUS_NOT_SUPPORTED, 'SOCK_STREAM/UDP');
    const dgramTcp = await wskErrorOf(session.socket('datagram', { socketType: SOCK_DGRAM, protocol: 'tcp' }), 'SOCK_DGRAM/TCP');
    assertStatus(dgramTcp.status, S.STATUS_NOT_SUPPORTED, 'SOCK_DGRAM/TCP');
    // Protocol 0 takes the type's default.
    const anyProtocol = await session.socket('datagram', { socketType: SOCK_DGRAM, protocol: 0 });
    await anyProtocol.bind({ family: 'ipv4', address: LOOPBACK, port: 0 });
  });

  it('[fidelity 3] a connection socket of SOCK_DGRAM/UDP is created, and its bind fails with STATUS_NOT_IMPLEMENTED', async () => {
    const session = await openSession();
    const socket = await session.socket('connection', { socketType: SOCK_DGRAM, protocol: 'udp' });
    const error = await wskErrorOf(socket.bind({ family: 'ipv4', address: LOOPBACK, port: 0 }), 'bind of a SOCK_DGRAM connection socket');
    assertStatus(error.status, S.STATUS_NOT_IMPLEMENTED, 'bind of a SOCK_DGRAM connection socket');
  });

  it('[fidelity 26] after our abortive WskDisconnect, a pending receive and later sends and receives fail with STATUS_CONNECTION_ABORTED', async () => {
    const session = await openSession();
    const { socket } = await connectedPair(session);
    const pending = wskErrorOf(socket.receive(100), 'the pending receive');
    await sleep(50);
    await socket.disconnect({ abortive: true });
    assertStatus((await withTimeout(pending, 5000, 'the pending receive to fail')).status, S.STATUS_CONNECTION_ABORTED, 'the pending receive');
    assertStatus((await wskErrorOf(socket.send('x'), 'send after abort')).status, S.STATUS_CONNECTION_ABORTED, 'send after abort');
    assertStatus((await wskErrorOf(socket.receive(10), 'receive after abort')).status, S.STATUS_CONNECTION_ABORTED, 'receive after abort');
  });

  it('[fidelity 27] send after our graceful WskDisconnect → STATUS_INVALID_DEVICE_STATE', async () => {
    const session = await openSession();
    const { socket, peer } = await connectedPair(session);
    await socket.disconnect();
    const error = await wskErrorOf(socket.send('after FIN'), 'send after a graceful disconnect');
    assertStatus(error.status, S.STATUS_INVALID_DEVICE_STATE, 'send after a graceful disconnect');
    // The receive direction still works.
    peer.write('still open');
    assert.equal((await withTimeout(socket.receive(100), 5000, 'receive after our FIN')).toString(), 'still open');
  });

  it('[fidelity 31] WskAccept before bind → STATUS_INVALID_DEVICE_STATE', async () => {
    const session = await openSession();
    const listener = await session.socket('listen');
    const error = await wskErrorOf(listener.accept(), 'accept before bind');
    assertStatus(error.status, S.STATUS_INVALID_DEVICE_STATE, 'accept before bind');
  });

  it('[fidelity 37] a datagram longer than the WskReceiveFrom buffer: its head, STATUS_BUFFER_OVERFLOW, MSG_TRUNC in ControlFlags', async () => {
    const session = await openSession();
    const udp = await nodeUdp();
    const socket = await session.socket('datagram');
    await socket.bind({ family: 'ipv4', address: LOOPBACK, port: 0 });
    const port = (await socket.localAddress())!.port;
    const message = Buffer.alloc(1000, 0x5a);
    const receiving = session.rawIoctl(P.WSKB_IOCTL_RECEIVE_FROM, P.encodeDataIn(socket.id, 0, null, 100), P.layouts.WSKB_RECEIVE_FROM_OUT.size + 100);
    await sleep(50);
    await udp.send(message, port);
    const result = await withTimeout(receiving, 5000, 'the truncated datagram');
    assertStatus(result.status, S.STATUS_BUFFER_OVERFLOW, 'WskReceiveFrom of a longer datagram');
    const out = P.decodeReceiveFromOut(result.output.subarray(0, result.information));
    assert.equal(out.data.length, 100);
    assert.deepEqual(out.data, message.subarray(0, 100));
    assert.equal(out.controlFlags & 0x0100, 0x0100, `MSG_TRUNC in ControlFlags 0x${out.controlFlags.toString(16)}`);
  });

  it('[fidelity 38] WskSendTo before bind → STATUS_INVALID_DEVICE_STATE; with no remote address and none set → STATUS_INVALID_PARAMETER', async () => {
    const session = await openSession();
    const udp = await nodeUdp();
    const socket = await session.socket('datagram');
    const unbound = await wskErrorOf(socket.sendTo('x', { family: 'ipv4', address: LOOPBACK, port: udp.port }), 'sendTo before bind');
    assertStatus(unbound.status, S.STATUS_INVALID_DEVICE_STATE, 'sendTo before bind');
    await socket.bind({ family: 'ipv4', address: LOOPBACK, port: 0 });
    // An all-zero WSKB_SOCKADDR is a NULL RemoteAddress for WskSendTo (driver/README.md).
    const input = P.encodeSendToIn(socket.id, { family: 'ipv4', address: LOOPBACK, port: 1 }, 0, Buffer.from('x'));
    input.fill(0, P.layouts.WSKB_SEND_TO_IN.offsets.RemoteAddress, P.layouts.WSKB_SEND_TO_IN.offsets.RemoteAddress + P.layouts.WSKB_SOCKADDR.size);
    const result = await session.rawIoctl(P.WSKB_IOCTL_SEND_TO, input, P.layouts.WSKB_TRANSFER_OUT.size);
    assertStatus(result.status, S.STATUS_INVALID_PARAMETER, 'sendTo with a NULL remote address');
  });

  it('[fidelity 23] WSK_FLAG_WAITALL completes with what arrived at the FIN; WSK_FLAG_DRAIN completes with 0 bytes at the FIN', async () => {
    const session = await openSession();
    const first = await connectedPair(session);
    const waitAll = first.socket.receive(100, { flags: WskFlag.WaitAll });
    await sleep(50);
    first.peer.end('short');
    assert.equal((await withTimeout(waitAll, 5000, 'the WAITALL receive')).toString(), 'short');

    const second = await connectedPair(session);
    // DRAIN takes a zero-length buffer (the reference page); it discards until the FIN.
    const drain = second.socket.receive(0, { flags: WskFlag.Drain });
    await sleep(50);
    second.peer.write('discarded');
    await sleep(50);
    second.peer.end();
    assert.equal((await withTimeout(drain, 5000, 'the DRAIN receive')).length, 0);
    // Drained: nothing is left but the FIN.
    assert.equal((await withTimeout(second.socket.receive(100), 5000, 'a receive after the drain')).length, 0);
  });

  it('[fidelity 22] a zero-length WskReceive completes when data arrives, takes none of it', async () => {
    const session = await openSession();
    const { socket, peer } = await connectedPair(session);
    let done = false;
    const zero = socket.receive(0, { zeroLength: true }).then((data) => {
      done = true;
      return data;
    });
    await sleep(200);
    assert.equal(done, false, 'the zero-length receive waits for data');
    peer.write('kept');
    assert.equal((await withTimeout(zero, 5000, 'the zero-length receive')).length, 0);
    assert.equal((await withTimeout(socket.receive(100), 5000, 'the data')).toString(), 'kept');
  });
});

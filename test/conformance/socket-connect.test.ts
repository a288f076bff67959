// SPDX-License-Identifier: MIT
//
// WskSocketConnect [R:nc-wsk-pfn_wsk_socket_connect]: one call creates a connection socket,
// binds it and connects it (the driver's SOCKET_CONNECT, session.connect()). Backend-neutral:
// on Windows it runs against the kernel's WSK.

import assert from 'node:assert/strict';
import { NTSTATUS, WskEvent } from '../../lib/index.js';
import { LOOPBACK, nodeServer, openSession, useConformanceCleanup, withTimeout, wskErrorOf } from './harness.test.js';

describe('WskSocketConnect [R:nc-wsk-pfn_wsk_socket_connect]', function () {
  this.timeout(30_000);
  useConformanceCleanup();

  it('[R:nc-wsk-pfn_wsk_socket_connect] returns a connected socket, bound where asked, that sends, receives and has events', async () => {
    const session = await openSession();
    const server = await nodeServer();
    const socket = await session.connect({ address: LOOPBACK, port: server.port }, { localAddress: { address: LOOPBACK, port: 0 } });
    const peer = await server.nextPeer();
    assert.deepEqual(await socket.remoteAddress(), { family: 'ipv4', address: LOOPBACK, port: server.port });
    const local = (await socket.localAddress())!;
    assert.equal(local.address, LOOPBACK);
    assert.equal(local.port, peer.remotePort);

    const arrived = new Promise<string>((resolve) => peer.once('data', (chunk: Buffer) => resolve(chunk.toString())));
    await socket.send('from WskSocketConnect');
    assert.equal(await withTimeout(arrived, 5000, 'the bytes at the Node peer'), 'from WskSocketConnect');

    // Its client dispatch table is the connection table: receive events can be enabled.
    await socket.enableEvents(WskEvent.Receive);
    peer.write('back');
    const receive = await socket.once('receive', { timeout: 10_000 });
    assert.equal(receive.data.toString(), 'back');
    await socket.end();
  });

  it('[R:nc-wsk-pfn_wsk_socket_connect] to a port nobody listens on fails as WskConnect does, and leaves no socket', async () => {
    const session = await openSession();
    const server = await nodeServer();
    const port = server.port;
    await new Promise<void>((resolve) => server.server.close(() => resolve()));
    const error = await wskErrorOf(session.connect({ address: LOOPBACK, port }), 'WskSocketConnect to a closed port');
    assert.equal(error.status, NTSTATUS.STATUS_CONNECTION_REFUSED, error.message);
    assert.equal(error.operation, 'socketConnect');
    assert.equal((await session.stats()).socketsOpen, 0);
  });
});

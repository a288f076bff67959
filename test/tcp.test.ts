// SPDX-License-Identifier: MIT
//
// TCP through the driver on ksim, against Node `net` peers: bulk data both ways verified by
// SHA-256, IRP-style accept from several clients, IPv6 on ::1.

import assert from 'node:assert/strict';
import { once } from 'node:events';
import * as net from 'node:net';
import type { WskSession, WskSocket } from '../lib/index.js';
import { closeServer, nodeServer, openSim, payload, readAll, sha256, withTimeout } from './helpers/util.js';

const BULK = 8 * 1024 * 1024 + 12345; // >= 8 MiB, deliberately not a multiple of MaxIoBytes

/** A connection socket bound to an ephemeral port of `host` and connected to host:port. */
async function connectTo(session: WskSession, host: string, port: number): Promise<WskSocket> {
  const family = net.isIPv6(host) ? 'ipv6' : 'ipv4';
  const socket = await session.socket('connection', { family });
  await socket.bind({ family, address: family === 'ipv6' ? '::' : '0.0.0.0', port: 0 });
  await socket.connect({ family, address: host, port });
  return socket;
}

/** Receives (IRP style) until the peer's graceful close: the empty Buffer. */
async function receiveAll(socket: WskSocket): Promise<Buffer[]> {
  const chunks: Buffer[] = [];
  for (;;) {
    const chunk = await socket.receive(256 * 1024);
    if (chunk.length === 0) return chunks;
    chunks.push(chunk);
  }
}

describe('TCP (sim backend, Node net peers)', function () {
  this.timeout(60_000);
  let session: WskSession;

  beforeEach(async () => {
    session = await openSim();
  });
  afterEach(async () => {
    await session.close();
  });

  it('sends >= 8 MiB from a bridge connection socket to a Node server, byte-exact', async () => {
    const data = payload(BULK);
    let received: Promise<Buffer> | undefined;
    const { server, port } = await nodeServer('127.0.0.1', (peer) => {
      received = readAll(peer);
    });
    try {
      const socket = await connectTo(session, '127.0.0.1', port);
      assert.equal(await socket.send(data), data.length);
      await socket.disconnect();
      await withTimeout(
        (async () => {
          while (!received) await new Promise((r) => setTimeout(r, 5));
        })(),
        5000,
        'the Node server to see the connection',
      );
      const got = await withTimeout(received!, 30_000, 'the Node peer to read everything');
      assert.equal(got.length, data.length);
      assert.equal(sha256(got), sha256(data));
      await socket.close();
    } finally {
      await closeServer(server);
    }
  });

  it('receives >= 8 MiB from a Node server on a bridge connection socket, byte-exact', async () => {
    const data = payload(BULK);
    const { server, port } = await nodeServer('127.0.0.1', (peer) => {
      peer.end(data);
    });
    try {
      const socket = await connectTo(session, '127.0.0.1', port);
      const chunks = await withTimeout(receiveAll(socket), 30_000, 'receiving everything');
      assert.equal(chunks.reduce((n, c) => n + c.length, 0), data.length);
      assert.equal(sha256(chunks), sha256(data));
      await socket.close();
    } finally {
      await closeServer(server);
    }
  });

  it('accepts (IRP style) several Node clients on a listening socket, with their addresses', async () => {
    const listener = await session.socket('listen');
    await listener.bind({ family: 'ipv4', address: '127.0.0.1', port: 0 });
    const local = await listener.localAddress();
    assert.ok(local && local.port > 0, 'the listener has an ephemeral port');
    assert.equal(local.address, '127.0.0.1');

    const clients: net.Socket[] = [];
    const accepted: WskSocket[] = [];
    try {
      for (let i = 0; i < 3; i++) {
        const acceptance = listener.accept();
        const client: net.Socket = net.connect(local.port, '127.0.0.1');
        clients.push(client);
        await once(client, 'connect');
        const { socket, localAddress, remoteAddress } = await withTimeout(acceptance, 5000, `accept #${i}`);
        accepted.push(socket);
        assert.equal(socket.kind, 'connection');
        assert.deepEqual(localAddress, { family: 'ipv4', address: '127.0.0.1', port: local.port });
        assert.deepEqual(remoteAddress, { family: 'ipv4', address: '127.0.0.1', port: client.localPort });
        assert.deepEqual(await socket.remoteAddress(), remoteAddress);
      }
      // Each accepted socket talks to its own client, both ways.
      await Promise.all(
        accepted.map(async (socket, i) => {
          const client: net.Socket = clients[i]!;
          client.write(`hello from client ${i}`);
          const got = await socket.receive(100);
          assert.equal(got.toString(), `hello from client ${i}`);
          await socket.send(`reply to ${i}`);
          const [reply] = (await once(client, 'data')) as [Buffer];
          assert.equal(reply.toString(), `reply to ${i}`);
        }),
      );
      const ids = new Set(accepted.map((s) => s.id));
      assert.equal(ids.size, 3, 'each accepted socket has its own id');
    } finally {
      for (const client of clients) client.destroy();
      for (const socket of accepted) await socket.close();
      await listener.close();
    }
  });

  it('disconnect sends final data then FIN; abortive disconnect resets the peer', async () => {
    const peers: net.Socket[] = [];
    const { server, port } = await nodeServer('127.0.0.1', (peer) => peers.push(peer));
    try {
      const graceful = await connectTo(session, '127.0.0.1', port);
      while (peers.length < 1) await new Promise((r) => setTimeout(r, 2));
      const gotAll = readAll(peers[0]!);
      await graceful.send('body;');
      await graceful.disconnect({ data: 'trailer' });
      assert.equal((await withTimeout(gotAll, 5000, 'FIN at the peer')).toString(), 'body;trailer');

      const abortive = await connectTo(session, '127.0.0.1', port);
      while (peers.length < 2) await new Promise((r) => setTimeout(r, 2));
      const reset = new Promise<string>((resolve) => {
        peers[1]!.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error'));
        peers[1]!.on('end', () => resolve('end'));
        peers[1]!.resume();
      });
      await abortive.disconnect({ abortive: true });
      assert.equal(await withTimeout(reset, 5000, 'RST at the peer'), 'ECONNRESET');
      await graceful.close();
      await abortive.close();
    } finally {
      for (const p of peers) p.destroy();
      await closeServer(server);
    }
  });

  it('sees the peer close: receive resolves with an empty Buffer', async () => {
    const { server, port } = await nodeServer('127.0.0.1', (peer) => peer.end('last words'));
    try {
      const socket = await connectTo(session, '127.0.0.1', port);
      const chunks = await withTimeout(receiveAll(socket), 5000, 'graceful close');
      assert.equal(Buffer.concat(chunks).toString(), 'last words');
      await socket.close();
    } finally {
      await closeServer(server);
    }
  });

  it('works over IPv6 (::1) both ways, with IPv6 addresses reported', async () => {
    const listener = await session.socket('listen', { family: 'ipv6' });
    await listener.bind({ family: 'ipv6', address: '::1', port: 0 });
    const local = await listener.localAddress();
    assert.equal(local?.family, 'ipv6');
    assert.equal(local?.address, '::1');

    const acceptance = listener.accept();
    const client = net.connect({ host: '::1', port: local!.port });
    await once(client, 'connect');
    const { socket, remoteAddress } = await withTimeout(acceptance, 5000, 'IPv6 accept');
    try {
      assert.equal(remoteAddress?.family, 'ipv6');
      assert.equal(remoteAddress?.address, '::1');
      assert.equal(remoteAddress?.port, client.localPort);
      const up = payload(300_000);
      const down = payload(200_000);
      const clientGot = readAll(client);
      client.end(up);
      await socket.send(down);
      await socket.disconnect();
      const chunks = await withTimeout(receiveAll(socket), 10_000, 'IPv6 receive');
      assert.equal(sha256(chunks), sha256(up));
      assert.equal(sha256(await clientGot), sha256(down));
    } finally {
      client.destroy();
      await socket.close();
      await listener.close();
    }
  });
});

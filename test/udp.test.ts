// SPDX-License-Identifier: MIT
//
// UDP through the driver on ksim, against Node `dgram` sockets, IPv4 and IPv6.

import assert from 'node:assert/strict';
import * as dgram from 'node:dgram';
import { once } from 'node:events';
import type { WskSession } from '../lib/index.js';
import { openSim, payload, withTimeout } from './helpers/util.js';

for (const [family, host, any] of [
  ['ipv4', '127.0.0.1', '0.0.0.0'],
  ['ipv6', '::1', '::'],
] as const) {
  describe(`UDP over ${family} (sim backend, Node dgram peers)`, () => {
    let session: WskSession;
    let peer: dgram.Socket;

    beforeEach(async () => {
      session = await openSim();
      peer = dgram.createSocket(family === 'ipv4' ? 'udp4' : 'udp6');
      peer.bind(0, host);
      await once(peer, 'listening');
    });
    afterEach(async () => {
      peer.close();
      await session.close();
    });

    it('sends datagrams to a Node socket, each one intact and from the bound address', async () => {
      const socket = await session.socket('datagram', { family });
      await socket.bind({ family, address: host, port: 0 });
      const local = await socket.localAddress();
      assert.equal(local?.address, host);
      const messages = [payload(1), payload(512), payload(1400), payload(8000)];
      const got: Array<{ msg: Buffer; rinfo: dgram.RemoteInfo }> = [];
      const all = new Promise<void>((resolve) => {
        peer.on('message', (msg, rinfo) => {
          got.push({ msg, rinfo });
          if (got.length === messages.length) resolve();
        });
      });
      for (const message of messages) {
        assert.equal(await socket.sendTo(message, { family, address: host, port: peer.address().port }), message.length);
      }
      await withTimeout(all, 5000, 'datagrams at the Node peer');
      // Loopback keeps order; compare as a multiset anyway so the test is about content.
      assert.deepEqual(got.map((g) => g.msg.toString('hex')).sort(), messages.map((m) => m.toString('hex')).sort());
      for (const { rinfo } of got) assert.equal(rinfo.port, local!.port);
      await socket.close();
    });

    it('receives datagrams from a Node socket (IRP style) with the sender address', async () => {
      const socket = await session.socket('datagram', { family });
      await socket.bind({ family, address: any, port: 0 });
      const port = (await socket.localAddress())!.port;
      for (let i = 0; i < 5; i++) {
        const message = payload(100 + i * 300);
        const receiving = socket.receiveFrom(65536);
        peer.send(message, port, host);
        const { data, remoteAddress } = await withTimeout(receiving, 5000, `datagram ${i}`);
        assert.equal(data.toString('hex'), message.toString('hex'));
        assert.equal(remoteAddress?.family, family);
        assert.equal(remoteAddress?.address, host);
        assert.equal(remoteAddress?.port, peer.address().port);
      }
      await socket.close();
    });

    it('a datagram larger than maxLength comes back truncated to maxLength', async () => {
      const socket = await session.socket('datagram', { family });
      await socket.bind({ family, address: host, port: 0 });
      const port = (await socket.localAddress())!.port;
      const message = payload(1000);
      const receiving = socket.receiveFrom(100);
      peer.send(message, port, host);
      // The I/O manager copies METHOD_BUFFERED output back for warnings too, so the head of
      // the datagram arrives with STATUS_BUFFER_OVERFLOW (a warning, not an error).
      const { data, truncated } = await withTimeout(receiving, 5000, 'truncated datagram');
      assert.equal(truncated, true);
      assert.equal(data.length, 100);
      assert.deepEqual(data, message.subarray(0, 100));
      await socket.close();
    });
  });
}

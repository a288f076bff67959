// SPDX-License-Identifier: MIT
//
// open({ backend: 'sim', network: 'memory' }): a session whose WSK sockets live on ksim's
// in-memory network (native/ksim/host/host_net_memory.c). Its peers are memory peers
// (addon().ksim.memoryNet); the host's sockets cannot reach it. The conformance suite runs on
// it in full (npm run test:memory); these are the option's own rules.

import assert from 'node:assert/strict';
import * as net from 'node:net';
import { open, WskEvent } from '../lib/index.js';
import { addon } from '../lib/addon.js';
import { withTimeout } from './helpers/util.js';

describe('the in-memory network (open({ network: "memory" }))', () => {
  it('refuses a network on the kernel backend and an unknown network, with a TypeError naming it', async () => {
    await assert.rejects(open({ backend: 'kernel', network: 'memory' }), (error: Error) => error instanceof TypeError && /network: 'memory' needs the sim backend/.test(error.message));
    await assert.rejects(open({ backend: 'sim', network: 'wifi' as never }), (error: Error) => error instanceof TypeError && /network must be 'host' or 'memory', got "wifi"/.test(error.message));
  });

  it('a memory peer reaches a memory listener; a Node client on the same port does not', async () => {
    const session = await open({ backend: 'sim', network: 'memory' });
    const mem = addon().ksim.memoryNet;
    const peers: number[] = [];
    try {
      const listener = await session.socket('listen');
      await listener.bind({ family: 'ipv4', address: '127.0.0.1', port: 0 });
      const port = (await listener.localAddress())!.port;
      await listener.enableEvents(WskEvent.Accept);
      const accepted = listener.events();
      // The in-memory network's ephemeral ports start at Windows' dynamic range.
      assert.ok(port >= 49152, `ephemeral port ${port}`);

      // The host's loopback has nothing on this port for the session: refused (or, should a
      // host process happen to hold it, at least not our listener: no accept event follows).
      const node = net.connect({ host: '127.0.0.1', port });
      const nodeOutcome = await new Promise<string>((resolve) => {
        node.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? 'error'));
        node.once('connect', () => resolve('connected'));
      });
      node.destroy();

      const peer = mem.socket(4, 'tcp');
      peers.push(peer);
      mem.connect(peer, 4, port, Buffer.from([127, 0, 0, 1]));
      const first = await withTimeout(accepted.next(), 5000, 'the accept event of the memory peer');
      assert.equal(first.done, false);
      assert.equal(first.value.type, 'accept');
      if (first.value.type === 'accept') assert.equal(first.value.remoteAddress?.port, mem.localAddress(peer).port);
      if (nodeOutcome === 'connected') {
        // A host process held the port: its connection never reached the session.
        const none = await Promise.race([accepted.next().then(() => 'event'), new Promise((r) => setTimeout(() => r('none'), 200))]);
        assert.equal(none, 'none');
      } else {
        assert.equal(nodeOutcome, 'ECONNREFUSED');
      }
      await accepted.return?.();
    } finally {
      for (const handle of peers) mem.close(handle, true);
      await session.close();
    }
  });

  it('peer calls fail with an errno-style code (and "would block" is null, not an error)', () => {
    const mem = addon().ksim.memoryNet;
    const udp = mem.socket(6, 'udp');
    try {
      mem.bind(udp, 6, 0, Buffer.from('00000000000000000000000000000001', 'hex'));
      assert.equal(mem.receiveFrom(udp), null);
      assert.throws(() => mem.bind(udp, 6, 0, Buffer.alloc(16)), (error: NodeJS.ErrnoException) => error.code === 'EINVAL');
      assert.throws(() => mem.sendTo(udp, Buffer.alloc(70_000), 6, 9, Buffer.alloc(16, 0)), (error: NodeJS.ErrnoException) => error.code === 'EMSGSIZE');
    } finally {
      mem.close(udp);
    }
  });
});

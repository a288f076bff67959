// SPDX-License-Identifier: MIT
//
// A new user's test file, written from the README alone (its "API overview" and "Testing"
// sections): node:test, the package by name, wsk-bridge/testing for the Node peers and the
// leak check, no helper of its own. `npm test` runs it with `node --test`. The backend is the
// default ('auto': the kernel where the driver is installed, sim elsewhere; WSKB_BACKEND
// overrides), so it runs unchanged on Windows.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { open, WskEvent } from 'wsk-bridge';
import { assertNoLeaks, expectEvents, leakBaseline, tcpClient, udpPeer } from 'wsk-bridge/testing';

test('a kernel listener sees the accept, the data and the FIN of a Node client, and answers', async (t) => {
  const baseline = leakBaseline();
  let backend = '';
  {
    await using session = await open({ signal: t.signal });
    backend = session.backend;
    await using listener = await session.socket('listen');
    await listener.bind({ address: '127.0.0.1', port: 0 });
    await listener.enableEvents(WskEvent.Accept | WskEvent.Receive | WskEvent.Disconnect);

    const client = await tcpClient((await listener.localAddress())!);
    const answer = new Promise<string>((resolve) => {
      let text = '';
      client.on('data', (chunk: Buffer) => (text += chunk.toString()));
      client.on('end', () => resolve(text));
    });
    client.end('ping');

    const accept = await listener.once('accept', { signal: t.signal, timeout: 5000 });
    assert.ok(accept.socket);
    await expectEvents(accept.socket, [{ type: 'receive', data: 'ping' }, { type: 'disconnect', abortive: false }], { signal: t.signal });
    await accept.socket.send('pong');
    await accept.socket.end();
    assert.equal(await answer, 'pong');
    assert.deepEqual(client.errors, []);
  }
  if (backend === 'sim') await assertNoLeaks(baseline);
});

test('a kernel datagram socket receives from a Node UDP peer, and a wait that times out loses nothing', async (t) => {
  await using session = await open({ signal: t.signal });
  await using socket = await session.socket('datagram');
  await socket.bind({ address: '127.0.0.1', port: 0 });
  await socket.enableEvents(WskEvent.ReceiveFrom);
  const peer = await udpPeer();
  t.after(() => peer.close());

  await assert.rejects(socket.once('receiveFrom', { timeout: 20 }), { code: 'ETIMEDOUT' });
  await peer.send('hello', (await socket.localAddress())!);
  const datagram = await socket.once('receiveFrom', { signal: t.signal, timeout: 5000 });
  assert.equal(datagram.data.toString(), 'hello');
  assert.equal(datagram.remoteAddress?.port, peer.port);

  await socket.sendTo('back', peer.address);
  assert.equal((await peer.next({ signal: t.signal })).data.toString(), 'back');
});

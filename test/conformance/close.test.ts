// SPDX-License-Identifier: MIT
//
// WskCloseSocket (docs/wsk-facts.md §3.10): pending IRPs complete with STATUS_CANCELLED, no
// event follows the close's completion (the bridge's socketClosed event), and a connection not
// fully disconnected is reset.

import assert from 'node:assert/strict';
import { once } from 'node:events';
import { WskEvent } from '../../lib/index.js';
import {
  boundListener,
  closed,
  connectedPair,
  EventLog,
  LOOPBACK,
  openSession,
  QUIET_MS,
  sleep,
  STATUS,
  useConformanceCleanup,
  withTimeout,
  wskErrorOf,
} from './harness.test.js';

describe('closing sockets [R:nc-wsk-pfn_wsk_close_socket]', function () {
  this.timeout(30_000);
  useConformanceCleanup();

  it('[R:nc-wsk-pfn_wsk_close_socket] a pending WskReceive completes with STATUS_CANCELLED when the socket closes', async () => {
    const session = await openSession();
    const { socket } = await connectedPair(session);
    const pending = wskErrorOf(socket.receive(100), 'the pending receive');
    await sleep(50);
    await socket.close();
    const error = await withTimeout(pending, 5000, 'the pending receive to complete');
    assert.equal(error.statusName, 'STATUS_CANCELLED');
    assert.equal(error.status, STATUS.CANCELLED);
  });

  it('[R:nc-wsk-pfn_wsk_close_socket] a pending WskAccept completes with STATUS_CANCELLED when the listener closes', async () => {
    const session = await openSession();
    const { listener } = await boundListener(session);
    const pending = wskErrorOf(listener.accept(), 'the pending accept');
    await sleep(50);
    await listener.close();
    assert.equal((await withTimeout(pending, 5000, 'the pending accept to complete')).statusName, 'STATUS_CANCELLED');
  });

  it('[R:nc-wsk-pfn_wsk_close_socket] a pending WskReceiveFrom completes with STATUS_CANCELLED when the socket closes', async () => {
    const session = await openSession();
    const datagram = await session.socket('datagram');
    await datagram.bind({ family: 'ipv4', address: LOOPBACK, port: 0 });
    const pending = wskErrorOf(datagram.receiveFrom(100), 'the pending receiveFrom');
    await sleep(50);
    await datagram.close();
    assert.equal((await withTimeout(pending, 5000, 'the pending receiveFrom to complete')).statusName, 'STATUS_CANCELLED');
  });

  it('[R:nc-wsk-pfn_wsk_close_socket] events stop after socketClosed: it is the socket\'s last event, and its iterator ends', async () => {
    const session = await openSession();
    const { socket, peer } = await connectedPair(session);
    await socket.enableEvents(WskEvent.Receive | WskEvent.Disconnect);
    const socketLog = new EventLog(socket.events());
    const sessionLog = new EventLog(session.events());
    // The peer keeps sending while the socket closes.
    const writer = setInterval(() => {
      if (!peer.destroyed) peer.write('tick');
    }, 2);
    try {
      await socketLog.next('receive');
      await socket.close();
      const closedEvent = await socketLog.next('socketClosed');
      await withTimeout(
        (async () => {
          while (!socketLog.ended) await sleep(5);
        })(),
        5000,
        'the socket\'s iterator to end after socketClosed',
      );
      assert.equal(socketLog.error, undefined);
      assert.equal(socketLog.events.at(-1)?.type, 'socketClosed', `the last event: ${socketLog.summary()}`);
      await sleep(QUIET_MS);
      const after = sessionLog.events.filter((e) => e.socketId === socket.id && e.sequence > closedEvent.sequence);
      assert.equal(after.length, 0, `events of the socket after socketClosed: ${after.map((e) => e.type).join(', ')}`);
    } finally {
      clearInterval(writer);
    }
  });

  it('[L:closing-a-socket] a connection closed without a full disconnect is reset (abortive), which the Node peer sees', async () => {
    const session = await openSession();
    const { socket, peer } = await connectedPair(session);
    const peerClosed = closed(peer);
    await socket.close();
    const outcome = await withTimeout(peerClosed, 5000, 'the Node peer to see the close');
    assert.equal(outcome.code, 'ECONNRESET', `the peer saw hadError=${outcome.hadError} code=${outcome.code}`);
  });

  it('[L:closing-a-socket] a connection disconnected both ways closes without a reset', async () => {
    const session = await openSession();
    const { socket, peer } = await connectedPair(session);
    await socket.enableEvents(WskEvent.Disconnect);
    const log = new EventLog(socket.events());
    const peerClosed = closed(peer);
    const peerEnded = once(peer, 'end');
    await socket.disconnect();
    await withTimeout(peerEnded, 5000, 'the Node peer to see the FIN');
    peer.end();
    await log.next('disconnect', (e) => !e.abortive);
    await socket.close();
    const outcome = await withTimeout(peerClosed, 5000, 'the Node peer to close');
    assert.equal(outcome.code, undefined, `no error expected, got ${outcome.code}`);
    assert.equal(outcome.hadError, false);
  });
});

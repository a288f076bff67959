// SPDX-License-Identifier: MIT
//
// Listening sockets: WskAcceptEvent, and the inheritance of connection events from a listener
// to the sockets it accepts (docs/wsk-facts.md §3.5).

import assert from 'node:assert/strict';
import { once } from 'node:events';
import { WskEvent } from '../../lib/index.js';
import {
  assertErrorStatus,
  assertStatus,
  boundListener,
  KSIM_CHOICE,
  logOf,
  nodeClient,
  openSession,
  QUIET_MS,
  STATUS,
  useConformanceCleanup,
  withTimeout,
} from './harness.test.js';

describe('accepting connections [R:nc-wsk-pfn_wsk_accept_event]', function () {
  this.timeout(30_000);
  useConformanceCleanup();

  it('[R:nc-wsk-pfn_wsk_accept_event] an accept event carries a working socket and both addresses', async () => {
    const session = await openSession();
    const { listener, port } = await boundListener(session);
    assertStatus((await listener.enableEvents(WskEvent.Accept)).callStatus, STATUS.SUCCESS, 'enable ACCEPT');
    const log = logOf(listener);
    const client = await nodeClient(port);
    const accept = await log.next('accept');
    assert.equal(accept.listenerClosed, false);
    assert.ok(accept.socket, 'the accept event carries the accepted socket');
    assert.equal(accept.localAddress?.port, port, 'local address: the listener\'s port');
    assert.equal(accept.remoteAddress?.port, client.localPort, 'remote address: the Node client\'s port');
    assert.equal(accept.remoteAddress?.address, '127.0.0.1');
    // No conditional accept: no inspection preceded it.
    assert.equal(log.ofType('inspect').length, 0);

    const received = once(client, 'data');
    await accept.socket.send('from the accepted socket');
    assert.equal(String((await withTimeout(received, 5000, 'the Node client to receive'))[0]), 'from the accepted socket');
    client.write('to the accepted socket');
    assert.equal((await withTimeout(accept.socket.receive(100), 5000, 'WskReceive on the accepted socket')).toString(), 'to the accepted socket');
  });

  it('[R:nc-wsk-pfn_wsk_accept_event] on IPv6 the accept event carries IPv6 local and remote addresses', async () => {
    const session = await openSession();
    const listener = await session.socket('listen', { family: 'ipv6' });
    await listener.bind({ family: 'ipv6', address: '::1', port: 0 });
    const port = (await listener.localAddress())!.port;
    await listener.enableEvents(WskEvent.Accept);
    const log = logOf(listener);
    const client = await nodeClient(port, '::1');
    const accept = await log.next('accept');
    assert.deepEqual(
      { local: accept.localAddress?.address, localPort: accept.localAddress?.port, remote: accept.remoteAddress?.address, remotePort: accept.remoteAddress?.port },
      { local: '::1', localPort: port, remote: '::1', remotePort: client.localPort },
    );
    assert.equal(accept.socket?.family, 'ipv6');
  });

  it('[R:nc-wsk-pfn_wsk_accept] events are disabled by default on an accepted socket (listener with only ACCEPT enabled)', async () => {
    const session = await openSession();
    const { listener, port } = await boundListener(session);
    await listener.enableEvents(WskEvent.Accept);
    const log = logOf(listener);
    const client = await nodeClient(port);
    const accepted = (await log.next('accept')).socket!;
    const acceptedLog = logOf(accepted);
    client.write('not indicated');
    await acceptedLog.none('receive', QUIET_MS);
    assert.equal((await withTimeout(accepted.receive(100), 5000, 'WskReceive')).toString(), 'not indicated');
  });

  it('[L:so-wsk-event-callback] RECEIVE|DISCONNECT enabled on a listener are on for sockets accepted through WskAcceptEvent', async () => {
    const session = await openSession();
    const { listener, port } = await boundListener(session);
    assertStatus((await listener.enableEvents(WskEvent.Accept | WskEvent.Receive | WskEvent.Disconnect)).callStatus, STATUS.SUCCESS, 'enable ACCEPT|RECEIVE|DISCONNECT on the listener');
    const log = logOf(listener);
    const client = await nodeClient(port);
    const accepted = (await log.next('accept')).socket!;
    const acceptedLog = logOf(accepted);
    client.end('inherited');
    await acceptedLog.until(() => acceptedLog.receivedData().toString() === 'inherited', 'inherited receive events');
    assert.equal((await acceptedLog.next('disconnect')).abortive, false);
    // The listener itself indicates no receive: its connection events are for accepted sockets.
    assert.equal(log.ofType('receive').length, 0);
  });

  it('[L:so-wsk-event-callback] sockets taken with WskAccept (IRP style) do not inherit the listener\'s RECEIVE', async () => {
    const session = await openSession();
    const { listener, port } = await boundListener(session);
    // RECEIVE only: no ACCEPT event competes with the WskAccept IRP.
    assertStatus((await listener.enableEvents(WskEvent.Receive)).callStatus, STATUS.SUCCESS, 'enable RECEIVE on the listener');
    const pending = listener.accept();
    const client = await nodeClient(port);
    const { socket, remoteAddress } = await withTimeout(pending, 5000, 'WskAccept to complete');
    assert.equal(remoteAddress?.port, client.localPort);
    const log = logOf(socket);
    client.write('not inherited');
    await log.none('receive', QUIET_MS);
    assert.equal((await withTimeout(socket.receive(100), 5000, 'WskReceive')).toString(), 'not inherited');
  });

  it('[L:so-wsk-event-callback] connection events enabled on a listener cannot be disabled there', async () => {
    const session = await openSession();
    const { listener, port } = await boundListener(session);
    await listener.enableEvents(WskEvent.Accept | WskEvent.Receive);
    const result = await listener.setEventCallbackRaw(WskEvent.Receive | WskEvent.Disable, { irp: true });
    assertErrorStatus(result.callStatus, 'disable RECEIVE on a listener');
    assertStatus(result.callStatus, KSIM_CHOICE.listenerInheritedDisable, 'disable RECEIVE on a listener (ksim\'s choice)');
    // ...and it is still inherited.
    const log = logOf(listener);
    const client = await nodeClient(port);
    const accepted = (await log.next('accept')).socket!;
    const acceptedLog = logOf(accepted);
    client.write('still inherited');
    await acceptedLog.until(() => acceptedLog.receivedData().toString() === 'still inherited', 'inherited receive events');
  });

  it('[L:so-wsk-event-callback] disabling and re-enabling ACCEPT keeps the listener\'s connection-event set for later accepts', async () => {
    const session = await openSession();
    const { listener, port } = await boundListener(session);
    await listener.enableEvents(WskEvent.Accept | WskEvent.Receive);
    assertStatus((await listener.disableEvent(WskEvent.Accept)).irpStatus, STATUS.SUCCESS, 'disable ACCEPT');
    assertStatus((await listener.enableEvents(WskEvent.Accept)).callStatus, STATUS.SUCCESS, 're-enable ACCEPT alone');
    const log = logOf(listener);
    const client = await nodeClient(port);
    const accepted = (await log.next('accept')).socket!;
    const acceptedLog = logOf(accepted);
    client.write('kept');
    await acceptedLog.until(() => acceptedLog.receivedData().toString() === 'kept', 'inherited receive events');
  });

  it('[R:nc-wsk-pfn_wsk_accept_event] with ACCEPT disabled, connections wait for WskAccept instead of being indicated', async () => {
    const session = await openSession();
    const { listener, port } = await boundListener(session);
    await listener.enableEvents(WskEvent.Accept);
    await listener.disableEvent(WskEvent.Accept);
    const log = logOf(listener);
    const client = await nodeClient(port);
    await log.none('accept', QUIET_MS);
    const { remoteAddress } = await withTimeout(listener.accept(), 5000, 'WskAccept to take the waiting connection');
    assert.equal(remoteAddress?.port, client.localPort);
  });

  it('[R:nc-wsk-pfn_wsk_accept] a queued WskAccept takes priority over WskAcceptEvent', async () => {
    const session = await openSession();
    const { listener, port } = await boundListener(session);
    await listener.enableEvents(WskEvent.Accept);
    const log = logOf(listener);
    const pending = listener.accept();
    // Let the IRP reach WSK before the connection does.
    await new Promise((resolve) => setTimeout(resolve, 50));
    const client = await nodeClient(port);
    const { remoteAddress } = await withTimeout(pending, 5000, 'WskAccept to complete');
    assert.equal(remoteAddress?.port, client.localPort);
    await log.none('accept', QUIET_MS);
  });
});

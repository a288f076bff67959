// SPDX-License-Identifier: MIT
//
// The three code examples of Microsoft Learn's "Enabling and Disabling Event Callback Functions"
// (https://learn.microsoft.com/windows-hardware/drivers/network/enabling-and-disabling-event-callback-functions),
// each transcribed call for call through the bridge's raw control paths:
//   WskControlSocket(Socket, WskSetOption, SO_WSK_EVENT_CALLBACK, SOL_SOCKET,
//                    sizeof(WSK_EVENT_CALLBACK_CONTROL), &EventCallbackControl, 0, NULL, NULL, Irp)
//   WskControlClient(Client, WSK_SET_STATIC_EVENT_CALLBACKS, sizeof(...), &EventCallbackControl,
//                    0, NULL, NULL, NULL)
// The driver fills EventCallbackControl.NpiId = &NPI_WSK_INTERFACE_ID; the mask and the IRP choice
// are the sample's.

import assert from 'node:assert/strict';
import {
  SocketOption,
  SOL_SOCKET,
  WskClientControl,
  WskControlSocketType,
  WskEvent,
  type WskSocket,
} from '../../lib/index.js';
import {
  assertErrorStatus,
  assertStatus,
  closed,
  connectedPair,
  logOf,
  LOOPBACK,
  nodeUdp,
  openSession,
  QUIET_MS,
  STATUS,
  useConformanceCleanup,
  withTimeout,
} from './harness.test.js';

function eventCallbackControl(mask: number): Buffer {
  const input = Buffer.alloc(4);
  input.writeUInt32LE(mask >>> 0);
  return input;
}

/** Dispatch->WskControlSocket(Socket, WskSetOption, SO_WSK_EVENT_CALLBACK, SOL_SOCKET, ..., Irp). */
function setEventCallback(socket: WskSocket, mask: number, irp: boolean) {
  return socket.control({
    type: WskControlSocketType.SetOption,
    code: SocketOption.SO_WSK_EVENT_CALLBACK,
    level: SOL_SOCKET,
    input: eventCallbackControl(mask),
    irp,
  });
}

describe('seed examples [L:enabling-and-disabling-event-callback-functions]', function () {
  this.timeout(30_000);
  useConformanceCleanup();

  it('example 1: EnableDisconnectAndRecieveCallbacks: DISCONNECT|RECEIVE with no IRP returns STATUS_SUCCESS, then receive and disconnect events arrive from a Node peer', async () => {
    const session = await openSession();
    const { socket, peer } = await connectedPair(session);

    // EventCallbackControl.EventMask = WSK_EVENT_DISCONNECT | WSK_EVENT_RECEIVE; NULL IRP.
    const result = await setEventCallback(socket, WskEvent.Disconnect | WskEvent.Receive, false);
    assertStatus(result.callStatus, STATUS.SUCCESS, 'WskControlSocket (enable, no IRP)');

    const log = logOf(socket);
    peer.write('hello from node');
    await log.until(() => log.receivedData().toString() === 'hello from node', 'the peer\'s bytes as receive events');
    peer.end();
    const disconnect = await log.next('disconnect');
    assert.equal(disconnect.abortive, false, 'a FIN is a graceful disconnect (no WSK_FLAG_ABORTIVE)');
    // Order: every receive came before the disconnect indication.
    const receives = log.ofType('receive');
    assert.ok(receives.every((r) => r.sequence < disconnect.sequence), `receive before disconnect: ${log.summary()}`);
  });

  it('example 2: DisableDisconnectCallback: DISCONNECT|DISABLE with an IRP completes it with STATUS_SUCCESS, and no disconnect event arrives when the peer closes', async () => {
    const session = await openSession();
    const { socket, peer } = await connectedPair(session);
    const enabled = await setEventCallback(socket, WskEvent.Disconnect | WskEvent.Receive, false);
    assertStatus(enabled.callStatus, STATUS.SUCCESS, 'enable DISCONNECT|RECEIVE');

    // IoAllocateIrp + IoSetCompletionRoutine(DisableDisconnectComplete); EventMask =
    // WSK_EVENT_DISCONNECT | WSK_EVENT_DISABLE. The completion routine checks
    // Irp->IoStatus.Status == STATUS_SUCCESS.
    const result = await setEventCallback(socket, WskEvent.Disconnect | WskEvent.Disable, true);
    assert.ok(
      result.callStatus === STATUS.SUCCESS || result.callStatus === STATUS.PENDING,
      `WskControlSocket (disable, IRP) returned ${result.callStatus}: only STATUS_SUCCESS or STATUS_PENDING are documented`,
    );
    assertStatus(result.irpStatus, STATUS.SUCCESS, 'the disable IRP (DisableDisconnectComplete sees)');

    const log = logOf(socket);
    // RECEIVE stays enabled: the socket still indicates, so the quiet below is the disable's doing.
    peer.write('still receiving');
    await log.until(() => log.receivedData().toString() === 'still receiving', 'receive events after the disable');
    // The peer's FIN: a pending WskReceive completing with 0 bytes proves WSK has seen it.
    const fin = socket.receive(100);
    peer.end();
    assert.equal((await withTimeout(fin, 10_000, 'a WskReceive to complete with the FIN')).length, 0);
    await log.none('disconnect', QUIET_MS);
  });

  it('example 3: SetStaticEventCallbacks: RECEIVE_FROM|RECEIVE before any socket; datagram and connection sockets then indicate with no enable call, and disabling a static event fails', async () => {
    const session = await openSession();
    // WskControlClient(WSK_SET_STATIC_EVENT_CALLBACKS, ..., NULL IRP), before any socket.
    const result = await session.controlClient(WskClientControl.SetStaticEventCallbacks, eventCallbackControl(WskEvent.ReceiveFrom | WskEvent.Receive));
    assertStatus(result.callStatus, STATUS.SUCCESS, 'WskControlClient(WSK_SET_STATIC_EVENT_CALLBACKS)');

    // A datagram socket: WskReceiveFromEvent with no SO_WSK_EVENT_CALLBACK call.
    const datagram = await session.socket('datagram');
    await datagram.bind({ family: 'ipv4', address: LOOPBACK, port: 0 });
    const datagramPort = (await datagram.localAddress())!.port;
    const datagramLog = logOf(datagram);
    const udp = await nodeUdp();
    await udp.send('static datagram', datagramPort);
    const from = await datagramLog.next('receiveFrom');
    assert.equal(from.data.toString(), 'static datagram');
    assert.equal(from.remoteAddress?.port, udp.port);

    // A connection socket: WskReceiveEvent with no SO_WSK_EVENT_CALLBACK call.
    const { socket, peer } = await connectedPair(session);
    const log = logOf(socket);
    peer.write('static receive');
    await log.until(() => log.receivedData().toString() === 'static receive', 'receive events of a static callback');

    // "cannot be disabled or re-enabled later by the WSK application"
    const disableReceive = await setEventCallback(socket, WskEvent.Receive | WskEvent.Disable, true);
    assertErrorStatus(disableReceive.callStatus, 'disabling the static WSK_EVENT_RECEIVE');
    const disableReceiveFrom = await setEventCallback(datagram, WskEvent.ReceiveFrom | WskEvent.Disable, true);
    assertErrorStatus(disableReceiveFrom.callStatus, 'disabling the static WSK_EVENT_RECEIVE_FROM');

    // ...and the refused disables changed nothing: both still indicate.
    peer.write(' and more');
    await log.until(() => log.receivedData().toString() === 'static receive and more', 'receive events after the refused disable');
    await udp.send('second datagram', datagramPort);
    await datagramLog.until((events) => events.some((e) => e.type === 'receiveFrom' && e.data.toString() === 'second datagram'), 'a datagram after the refused disable');
    const peerClosed = closed(peer);
    peer.end();
    await socket.close();
    await peerClosed;
  });
});

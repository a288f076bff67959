// SPDX-License-Identifier: MIT
//
// Seed paragraph: "a WSK application must disable each event callback function individually" —
// the page's second example, DisableDisconnectCallback: an IRP with a completion routine, and
//   EventMask = WSK_EVENT_DISCONNECT | WSK_EVENT_DISABLE
// The completion routine checks Irp->IoStatus.Status == STATUS_SUCCESS. Afterwards the peer's FIN
// indicates no disconnect event (receive, still enabled, keeps indicating). Then the same call
// with two events at once, to show what WSK answers.
//
//   node dist/scripts/examples/disable-event.js

import { WskEvent } from 'wsk-bridge';
import { connectToNode, disconnectAndClose, maskName, openSession, printControl, run, sleep, step, watch } from './common.js';

/** The paragraph as a function, so that `npm start` (scripts/demo.ts) can run it too. */
export async function disableEventExample(): Promise<void> {
  await using session = await openSession();
  const { socket, peer, server } = await connectToNode(session);
  const events = watch(socket, 'connection');

  const enable = WskEvent.Disconnect | WskEvent.Receive;
  printControl(`SO_WSK_EVENT_CALLBACK ${maskName(enable)} (no IRP)`, await socket.setEventCallbackRaw(enable, { irp: false }), false);

  const disable = WskEvent.Disconnect | WskEvent.Disable;
  printControl(`SO_WSK_EVENT_CALLBACK ${maskName(disable)} (with an IRP)`, await socket.setEventCallbackRaw(disable, { irp: true }), true);

  const two = WskEvent.Receive | WskEvent.SendBacklog | WskEvent.Disable;
  printControl(`SO_WSK_EVENT_CALLBACK ${maskName(two)} (two events at once, with an IRP)`, await socket.setEventCallbackRaw(two, { irp: true }), true);

  console.log('  node peer: write "still receiving" then end()');
  peer.end('still receiving');
  await events.waitFor('receive', 5000);
  const fin = await step('WskReceive (IRP)', socket.receive(100));
  console.log(`  WskReceive completed with ${fin.length} bytes: the peer's FIN`);
  await sleep(300);
  const disconnects = events.seen.filter((e) => e.type === 'disconnect').length;
  console.log(`  disconnect events after the disable: ${disconnects}`);
  await disconnectAndClose(socket);
  await events.stop();
  server.close();
}

if (require.main === module) run(disableEventExample);

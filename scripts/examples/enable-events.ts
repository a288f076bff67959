// SPDX-License-Identifier: MIT
//
// Seed paragraph: "A WSK application can enable multiple event callback functions on a socket at
// the same time" — the page's first example, EnableDisconnectAndRecieveCallbacks:
//   WskControlSocket(Socket, WskSetOption, SO_WSK_EVENT_CALLBACK, SOL_SOCKET,
//                    sizeof(WSK_EVENT_CALLBACK_CONTROL), &{NPI_WSK_INTERFACE_ID,
//                    WSK_EVENT_DISCONNECT | WSK_EVENT_RECEIVE}, 0, NULL, NULL, NULL /* no IRP */)
// then a Node peer sends data and closes: the receive and disconnect events arrive.
//
//   node dist/scripts/examples/enable-events.js

import { SocketOption, SOL_SOCKET, WskControlSocketType, WskEvent } from 'wsk-bridge';
import { connectToNode, disconnectAndClose, maskName, openSession, printControl, run, watch } from './common.js';

/** The paragraph as a function, so that `npm start` (scripts/demo.ts) can run it too. */
export async function enableEventsExample(): Promise<void> {
  await using session = await openSession();
  const { socket, peer, server } = await connectToNode(session);
  const events = watch(socket, 'connection');

  const mask = WskEvent.Disconnect | WskEvent.Receive;
  const input = Buffer.alloc(4);
  input.writeUInt32LE(mask);
  const result = await socket.control({
    type: WskControlSocketType.SetOption,
    code: SocketOption.SO_WSK_EVENT_CALLBACK,
    level: SOL_SOCKET,
    input,
    irp: false,
  });
  printControl(`WskControlSocket(SO_WSK_EVENT_CALLBACK, ${maskName(mask)}, no IRP)`, result, false);

  console.log('  node peer: write "hello, kernel" then end()');
  peer.end('hello, kernel');
  const disconnect = await events.waitFor('disconnect', 5000);
  console.log(disconnect ? '  done: receive and disconnect arrived with one enable call' : '  no disconnect event within 5 s');
  await disconnectAndClose(socket);
  await events.stop();
  server.close();
}

if (require.main === module) run(enableEventsExample);

// SPDX-License-Identifier: MIT
//
// Seed paragraph: WSK_SET_STATIC_EVENT_CALLBACKS — the page's third example,
// SetStaticEventCallbacks:
//   WskControlClient(Client, WSK_SET_STATIC_EVENT_CALLBACKS, sizeof(WSK_EVENT_CALLBACK_CONTROL),
//                    &{NPI_WSK_INTERFACE_ID, WSK_EVENT_RECEIVE_FROM | WSK_EVENT_RECEIVE},
//                    0, NULL, NULL, NULL /* no IRP */)
// before any socket. A datagram socket and a connection socket then indicate with no enable
// call; disabling a static event fails; and the same control call after a socket exists fails.
//
//   node dist/scripts/examples/static-callbacks.js

import * as dgram from 'node:dgram';
import { once } from 'node:events';
import { WskClientControl, WskEvent } from 'wsk-bridge';
import { connectToNode, disconnectAndClose, maskName, openSession, printControl, run, step, watch } from './common.js';

function u32(value: number): Buffer {
  const buffer = Buffer.alloc(4);
  buffer.writeUInt32LE(value >>> 0);
  return buffer;
}

/** The paragraph as a function, so that `npm start` (scripts/demo.ts) can run it too. */
export async function staticCallbacksExample(): Promise<void> {
  await using session = await openSession();
  const mask = WskEvent.ReceiveFrom | WskEvent.Receive;
  printControl(
    `WskControlClient(WSK_SET_STATIC_EVENT_CALLBACKS, ${maskName(mask)}, no IRP) before any socket`,
    await session.controlClient(WskClientControl.SetStaticEventCallbacks, u32(mask)),
    false,
  );

  const datagram = await step('WskSocket(AF_INET, SOCK_DGRAM, IPPROTO_UDP, WSK_FLAG_DATAGRAM_SOCKET)', session.socket('datagram'));
  await step('WskBind(127.0.0.1:0)', datagram.bind({ family: 'ipv4', address: '127.0.0.1', port: 0 }));
  const port = (await datagram.localAddress())!.port;
  const datagramEvents = watch(datagram, 'datagram');
  const udp = dgram.createSocket('udp4');
  udp.bind(0, '127.0.0.1');
  await once(udp, 'listening');
  console.log(`  node dgram: send "static datagram" to 127.0.0.1:${port}`);
  udp.send('static datagram', port, '127.0.0.1');
  await datagramEvents.waitFor('receiveFrom', 5000);

  const { socket, peer, server } = await connectToNode(session);
  const events = watch(socket, 'connection');
  console.log('  node peer: write "static receive"');
  peer.write('static receive');
  await events.waitFor('receive', 5000);

  const disable = WskEvent.Receive | WskEvent.Disable;
  printControl(`SO_WSK_EVENT_CALLBACK ${maskName(disable)} on the connection socket (static: must fail)`, await socket.setEventCallbackRaw(disable, { irp: true }), true);
  printControl(
    `WskControlClient(WSK_SET_STATIC_EVENT_CALLBACKS) again, now that sockets exist (must fail)`,
    await session.controlClient(WskClientControl.SetStaticEventCallbacks, u32(WskEvent.Disconnect)),
    false,
  );

  udp.close();
  await disconnectAndClose(socket);
  await step('WskCloseSocket (datagram)', datagram.close());
  await events.stop();
  await datagramEvents.stop();
  peer.end();
  server.close();
}

if (require.main === module) run(staticCallbacksExample);

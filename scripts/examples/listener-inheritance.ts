// SPDX-License-Identifier: MIT
//
// Seed paragraph: "A listening socket can automatically enable event callback functions on
// connection-oriented sockets that are accepted by the listening socket's WskAcceptEvent event
// callback function." WSK_EVENT_ACCEPT | WSK_EVENT_RECEIVE on the listener: the socket accepted
// through WskAcceptEvent indicates receive with no enable call of its own. A socket taken with
// WskAccept (IRP style) does not inherit it. And the inherited RECEIVE cannot be disabled on the
// listener.
//
//   node dist/scripts/examples/listener-inheritance.js

import { once } from 'node:events';
import * as net from 'node:net';
import { formatSocketId, WskEvent } from 'wsk-bridge';
import { maskName, openSession, printControl, run, sleep, step, watch } from './common.js';

async function nodeClient(port: number, text: string): Promise<net.Socket> {
  const client = net.connect({ host: '127.0.0.1', port });
  client.on('error', (error) => console.log(`  [node client] ${error.message}`));
  await once(client, 'connect');
  console.log(`  node client ${client.localPort}: connected; write ${JSON.stringify(text)}`);
  client.write(text);
  return client;
}

/** The paragraph as a function, so that `npm start` (scripts/demo.ts) can run it too. */
export async function listenerInheritanceExample(): Promise<void> {
  await using session = await openSession();
  const listener = await step('WskSocket(AF_INET, SOCK_STREAM, IPPROTO_TCP, WSK_FLAG_LISTEN_SOCKET)', session.socket('listen'));
  await step('WskBind(127.0.0.1:0)', listener.bind({ family: 'ipv4', address: '127.0.0.1', port: 0 }));
  const port = (await listener.localAddress())!.port;
  console.log(`  listening socket ${formatSocketId(listener.id)} on 127.0.0.1:${port}`);
  const listenerEvents = watch(listener, 'listener');

  const mask = WskEvent.Accept | WskEvent.Receive;
  printControl(`SO_WSK_EVENT_CALLBACK ${maskName(mask)} on the listener`, await listener.setEventCallbackRaw(mask, { irp: false }), false);

  const first = await nodeClient(port, 'inherited receive');
  const accept = await listenerEvents.waitFor('accept', 5000);
  if (accept?.type === 'accept' && accept.socket) {
    const acceptedEvents = watch(accept.socket, 'event-accepted');
    await acceptedEvents.waitFor('receive', 2000);
    console.log(`  event-accepted socket: ${acceptedEvents.seen.some((e) => e.type === 'receive') ? 'receive indicated (inherited)' : 'no receive event'}`);
    await acceptedEvents.stop();
  }

  const disable = WskEvent.Receive | WskEvent.Disable;
  printControl(`SO_WSK_EVENT_CALLBACK ${maskName(disable)} on the listener (inherited set: must fail)`, await listener.setEventCallbackRaw(disable, { irp: true }), true);

  // WskAccept takes the next connection before WskAcceptEvent sees it.
  const pending = listener.accept();
  await sleep(50);
  const second = await nodeClient(port, 'not inherited');
  const { socket: irpAccepted } = await step('WskAccept (IRP)', pending);
  console.log(`  the WskAccept'ed socket is ${formatSocketId(irpAccepted.id)}`);
  const irpEvents = watch(irpAccepted, 'irp-accepted');
  await sleep(300);
  console.log(`  WskAccept'ed socket: ${irpEvents.seen.filter((e) => e.type === 'receive').length} receive events`);
  const data = await step('WskReceive (IRP) on the WskAccept\'ed socket', irpAccepted.receive(100));
  console.log(`  it got ${JSON.stringify(data.toString())}`);

  await irpEvents.stop();
  await step('WskCloseSocket (listener)', listener.close());
  await listenerEvents.stop();
  first.destroy();
  second.destroy();
}

if (require.main === module) run(listenerInheritanceExample);

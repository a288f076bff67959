// SPDX-License-Identifier: MIT
//
// Seed paragraph: "For listening sockets, the WskInspectEvent and WskAbortEvent event callback
// functions are enabled only if the WSK application enables conditional accept mode on the
// socket" (SO_CONDITIONAL_ACCEPT before bind), after which they cannot be disabled.
// Three Node clients connect: the first is accepted (inspect, then accept event), the second
// rejected (the client sees a reset), the third gives up while its inspection is pended (abort).
//
//   node dist/scripts/examples/conditional-accept.js

import * as net from 'node:net';
import { WskEvent, type WskBridgeEvent } from 'wsk-bridge';
import { openSession, printControl, printStatus, run, sleep, statusOf, step, watch } from './common.js';

function connect(port: number, name: string): net.Socket {
  const client = net.connect({ host: '127.0.0.1', port });
  client.on('error', (error) => console.log(`  [${name}] ${error.message}`));
  client.on('close', () => console.log(`  [${name}] closed`));
  return client;
}

/** The paragraph as a function, so that `npm start` (scripts/demo.ts) can run it too. */
export async function conditionalAcceptExample(): Promise<void> {
  await using session = await openSession();
  const listener = await step('WskSocket(AF_INET, SOCK_STREAM, IPPROTO_TCP, WSK_FLAG_LISTEN_SOCKET)', session.socket('listen'));
  const conditional = await listener.setConditionalAccept(true);
  printStatus('WskControlSocket(SO_CONDITIONAL_ACCEPT = 1, IRP) before bind', conditional.irpStatus);
  await step('WskBind(127.0.0.1:0)', listener.bind({ family: 'ipv4', address: '127.0.0.1', port: 0 }));
  const port = (await listener.localAddress())!.port;
  printControl('SO_WSK_EVENT_CALLBACK ACCEPT', await listener.setEventCallbackRaw(WskEvent.Accept, { irp: false }), false);
  const events = watch(listener, 'listener');
  const inspections = async (n: number): Promise<Extract<WskBridgeEvent, { type: 'inspect' }>> => {
    for (;;) {
      const found = events.seen.filter((e): e is Extract<WskBridgeEvent, { type: 'inspect' }> => e.type === 'inspect');
      if (found.length >= n) return found[n - 1]!;
      await sleep(10);
    }
  };

  const accepted = connect(port, 'client 1');
  const first = await inspections(1);
  printStatus('WskInspectComplete(WskInspectAccept) for client 1', await statusOf(first.accept()));
  await events.waitFor('accept', 5000);

  const rejected = connect(port, 'client 2');
  const second = await inspections(2);
  printStatus('WskInspectComplete(WskInspectReject) for client 2', await statusOf(second.reject()));
  await sleep(200);

  const quitter = connect(port, 'client 3');
  const third = await inspections(3);
  console.log('  client 3 gives up (reset) while its inspection is pended');
  quitter.on('connect', () => quitter.resetAndDestroy());
  if (!quitter.connecting) quitter.resetAndDestroy();
  const abort = await events.waitFor('abort', 5000);
  if (abort) printStatus('WskInspectComplete(WskInspectAccept) for the aborted client 3 (the bridge forgot it)', await statusOf(third.accept()));

  await sleep(100);
  await step('WskCloseSocket (listener)', listener.close());
  await events.stop();
  accepted.destroy();
  rejected.destroy();
}

if (require.main === module) run(conditionalAcceptExample);

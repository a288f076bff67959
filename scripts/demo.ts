// SPDX-License-Identifier: MIT
//
// `npm start`: a small kernel network experiment, on the simulated kernel unless WSKB_BACKEND
// says otherwise.
//
// A kernel listening socket enables WskAcceptEvent, WskReceiveEvent and WskDisconnectEvent in
// one SO_WSK_EVENT_CALLBACK call; the connection events are inherited by every socket accepted
// through WskAcceptEvent. Three Node `net` peers connect, send two messages each and close. The
// kernel echoes what it receives and closes each connection when its peer does. Every WSK event
// is printed as it arrives, then a summary of what the kernel saw.
//
// Then the seed, live: the three code examples of Microsoft's "Enabling and Disabling Event
// Callback Functions" (scripts/examples/), each with the NTSTATUS of every call and its events.

import * as net from 'node:net';
import { open, WskEvent, WskFlag, type WskBridgeEvent, type WskSocket } from '../lib/index.js';
import { disableEventExample } from './examples/disable-event.js';
import { enableEventsExample } from './examples/enable-events.js';
import { staticCallbacksExample } from './examples/static-callbacks.js';

const PEERS = 3;
const started = process.hrtime.bigint();
const elapsed = (): string => `${(Number(process.hrtime.bigint() - started) / 1e6).toFixed(1).padStart(7)} ms`;

function describe(event: WskBridgeEvent): string {
  switch (event.type) {
    case 'accept':
      return event.socket
        ? `new socket ${label(event.socket.id)}, ${fmt(event.remoteAddress)} -> ${fmt(event.localAddress)}`
        : 'AcceptSocket == NULL: the listener is dead';
    case 'receive':
      return `${event.data.length} of ${event.bytesIndicated} bytes indicated [${receiveFlags(event.flags)}]: ${JSON.stringify(event.data.toString())}`;
    case 'disconnect':
      return event.abortive ? 'abortive (reset)' : 'graceful (FIN)';
    case 'receiveFrom':
      return `${event.data.length} bytes from ${fmt(event.remoteAddress)}`;
    case 'sendBacklog':
      return `ideal backlog ${event.idealBacklogSize} bytes`;
    case 'flowPaused':
      return `receive paused, ${event.bytesLeft} bytes left with WSK`;
    case 'flowResumed':
      return `receive re-armed (${event.statusName})`;
    case 'datagramsDropped':
    case 'acceptsRefused':
      return `${event.count}`;
    case 'inspect':
      return `${fmt(event.remoteAddress)} asks to connect`;
    default:
      return '';
  }
}

/** WskReceiveEvent's Flags by name. */
function receiveFlags(flags: number): string {
  const names: string[] = [];
  if (flags & WskFlag.ReleaseAsap) names.push('RELEASE_ASAP');
  if (flags & WskFlag.EntireMessage) names.push('ENTIRE_MESSAGE');
  if (flags & WskFlag.AtDispatchLevel) names.push('AT_DISPATCH_LEVEL');
  return names.join('|') || '0';
}

function fmt(address: { address: string; port: number } | null): string {
  return address ? `${address.address}:${address.port}` : '-';
}

const labels = new Map<bigint, string>();
function label(id: bigint): string {
  return labels.get(id) ?? `0x${id.toString(16)}`;
}

/** One Node peer: connects, sends two messages, checks each echo, then closes. */
async function peer(index: number, port: number): Promise<void> {
  const socket = net.connect(port, '127.0.0.1');
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  let echoed = '';
  socket.on('data', (chunk: Buffer) => {
    echoed += chunk.toString();
  });
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  const expect = async (text: string): Promise<void> => {
    const deadline = Date.now() + 3000;
    while (!echoed.endsWith(text)) {
      if (Date.now() > deadline) throw new Error(`peer ${index}: no echo of ${JSON.stringify(text)} (got ${JSON.stringify(echoed)})`);
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
  };
  for (const message of [`hello from peer ${index}`, `bye from peer ${index}`]) {
    socket.write(message);
    await expect(message);
    // A pause, so that the three conversations interleave in the event log.
    await new Promise((resolve) => setTimeout(resolve, 15));
  }
  socket.end();
  await closed;
}

async function main(): Promise<void> {
  const session = await open();
  console.log(`wsk-bridge demo: backend '${session.backend}' (${session.backendReason})`);
  console.log(`driver protocol v${session.driverVersion}, WSK 0x${session.wskVersion.highest.toString(16)}, event budget ${session.eventBudgetBytes} bytes\n`);

  const listener = await session.socket('listen');
  labels.set(listener.id, 'listener');
  await listener.bind({ family: 'ipv4', address: '127.0.0.1', port: 0 });
  const port = (await listener.localAddress())!.port;
  // One call enables several events; Receive and Disconnect on a listener are inherited.
  await listener.enableEvents(WskEvent.Accept | WskEvent.Receive | WskEvent.Disconnect);
  console.log(`kernel listening on 127.0.0.1:${port} with Accept|Receive|Disconnect enabled\n`);
  console.log(`${'seq'.padStart(4)}  ${'time'.padStart(10)}  ${'socket'.padEnd(9)}  ${'event'.padEnd(13)}  details`);

  const accepted = new Map<bigint, WskSocket>();
  const echoedBytes = new Map<bigint, number>();
  const work: Promise<unknown>[] = [];
  const peers = Promise.all(
    Array.from({ length: PEERS }, (_, i) => new Promise((resolve) => setTimeout(resolve, i * 10)).then(() => peer(i + 1, port))),
  );
  let closedConnections = 0;

  for await (const event of session.events()) {
    console.log(`${String(event.sequence).padStart(4)}  ${elapsed()}  ${label(event.socketId).padEnd(9)}  ${event.type.padEnd(13)}  ${describe(event)}`);
    if (event.type === 'accept' && event.socket) {
      labels.set(event.socket.id, `conn-${accepted.size + 1}`);
      accepted.set(event.socket.id, event.socket);
    } else if (event.type === 'receive') {
      // Echo, in the kernel, from the socket that received.
      work.push(accepted.get(event.socketId)!.send(event.data));
      echoedBytes.set(event.socketId, (echoedBytes.get(event.socketId) ?? 0) + event.data.length);
    } else if (event.type === 'disconnect' || event.type === 'receiveClosed') {
      const socket = accepted.get(event.socketId)!;
      work.push(socket.disconnect().then(() => socket.close()));
    } else if (event.type === 'socketClosed' && accepted.has(event.socketId)) {
      if (++closedConnections === PEERS) break;
    }
  }
  await Promise.all(work);
  await peers;

  const stats = await session.stats();
  console.log('\nwhat the kernel saw:');
  console.log(`  events queued ${stats.eventsQueued}, delivered ${stats.eventsDelivered} in ${stats.readEventsCompleted} READ_EVENTS completions`);
  console.log(`  event queue high water ${stats.eventBytesHighWater} bytes of a ${stats.eventBudgetBytes}-byte budget`);
  console.log(`  receive pauses ${stats.receivePauses}, resumes ${stats.receiveResumes}, datagrams dropped ${stats.datagramsDropped}, accepts refused ${stats.acceptsRefused}`);
  console.log(`  sockets open now ${stats.socketsOpen} (the listener)`);
  for (const [id, bytes] of echoedBytes) console.log(`  ${label(id)}: received and echoed ${bytes} bytes`);
  await listener.close();
  await session.close();

  const seed: [string, () => Promise<void>][] = [
    ['seed example 1: enable WskDisconnectEvent and WskReceiveEvent in one call, no IRP', enableEventsExample],
    ['seed example 2: disable WskDisconnectEvent alone, with an IRP and its completion', disableEventExample],
    ['seed example 3: WSK_SET_STATIC_EVENT_CALLBACKS before any socket', staticCallbacksExample],
  ];
  for (const [title, example] of seed) {
    console.log(`\n== ${title}`);
    await example();
  }
  console.log('\ndone.');
}

const watchdog = setTimeout(() => {
  console.error('demo: did not finish within 30 s');
  process.exit(1);
}, 30_000);
watchdog.unref();

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});

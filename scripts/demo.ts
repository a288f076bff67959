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
import { formatEventRow, formatSocketId, open, TABLE_HEADER, WskEvent, type WskSocket } from 'wsk-bridge';
import { disableEventExample } from './examples/disable-event.js';
import { enableEventsExample } from './examples/enable-events.js';
import { staticCallbacksExample } from './examples/static-callbacks.js';

const PEERS = 3;
const started = process.hrtime.bigint();
const elapsedMs = (): number => Number(process.hrtime.bigint() - started) / 1e6;

const labels = new Map<bigint, string>();
function label(id: bigint): string {
  return labels.get(id) ?? formatSocketId(id);
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

/** The demo; `wsk-bridge demo` and `npm start` run it. */
export async function runDemo(): Promise<void> {
  const watchdog = setTimeout(() => {
    console.error('demo: did not finish within 30 s');
    process.exit(1);
  }, 30_000);
  watchdog.unref();
  try {
    await main();
  } finally {
    clearTimeout(watchdog);
  }
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
  console.log(TABLE_HEADER);

  const accepted = new Map<bigint, WskSocket>();
  const echoedBytes = new Map<bigint, number>();
  const work: Promise<unknown>[] = [];
  const peers = Promise.all(
    Array.from({ length: PEERS }, (_, i) => new Promise((resolve) => setTimeout(resolve, i * 10)).then(() => peer(i + 1, port))),
  );
  let closedConnections = 0;

  for await (const event of session.events()) {
    console.log(formatEventRow(event, { elapsedMs: elapsedMs(), label }));
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

if (require.main === module) {
  runDemo().catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}

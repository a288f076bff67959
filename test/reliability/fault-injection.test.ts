// SPDX-License-Identifier: MIT
//
// Fault injection over every allocation point: each scenario below is run once without a fault
// to count the allocation points it passes (ksim numbers every ExAllocatePool2, IoAllocateIrp,
// IoAllocateMdl, WDF object and system thread creation, the driver's and the simulated WSK
// provider's alike), then once per point k = 1..N with ksim.failAllocationAfter(k): every point,
// not a sample. Each run must end either as it would without the fault, or with an error that
// names an NTSTATUS (a WskError, or the ksim open() refusal that quotes one) — never a crash, a
// hang, a verifier failure (the root hook in test/helpers/hooks.ts fails the test on one) or a
// leak: after everything is closed, pool blocks and bytes, IRPs, MDLs, host and WSK sockets are
// back at their baseline.
//
// What else counts as a clean outcome: a failed allocation under an event callback (at
// DISPATCH_LEVEL there is nobody to return an error to) may cost that one indication, and then
// the loss must be visible: the driver reports it (an ACCEPTS_REFUSED or DATAGRAMS_DROPPED
// event, or a sequence gap the pump turns into a ProtocolError), or, when the allocation was
// ksim's WSK provider's own, the stack refuses the connection and the Node peer sees the reset.
// A datagram the provider cannot allocate for is dropped before any callback, as UDP under
// memory pressure is anywhere; that is the only loss no one reports. Any other missing event
// fails the test.

import assert from 'node:assert/strict';
import * as dgram from 'node:dgram';
import { once } from 'node:events';
import * as net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { addon } from '../../lib/addon.js';
import { open, ProtocolError, WskError, WskEvent, type WskBridgeEvent, type WskSession, type WskSocket } from '../../lib/index.js';
import { closeServer, leakCounters, nodeServer } from '../helpers/util.js';

const ksim = () => addon().ksim;

/** A wait that may legitimately come up empty when an allocation under an event failed. */
class LostEvent extends Error {
  override name = 'LostEvent';
}

/** The driver refused an indication for want of memory and said so (ACCEPTS_REFUSED,
 * DATAGRAMS_DROPPED): the loss is visible to user mode, which is what the driver promises. */
class ReportedLoss extends Error {
  override name = 'ReportedLoss';
}

/** ksim's WSK provider could not allocate for an incoming connection and reset the peer, as a
 * stack under memory pressure refuses a connection: the driver never saw it. */
class StackRefusal extends Error {
  override name = 'StackRefusal';
}

/** The fault armed for the current run, to tell a lost event from a slow one. */
let armed: { before: number; k: number } | undefined;
function faultFired(): boolean {
  return armed !== undefined && ksim().counters().poolAllocationsTotal - armed.before >= armed.k;
}

// An event may be given up for lost only once the armed fault has fired, and then after this
// long; before that (and in the clean run) the wait is bounded only by EVENT_WAIT_MAX_MS, so a
// slow machine (the ASan run, a loaded CI box) does not turn a slow event into a "loss".
const EVENT_WAIT_MS = 1500;
const EVENT_WAIT_MAX_MS = 15_000;

async function nextEvent(events: AsyncIterator<WskBridgeEvent>, what: string, accept: (e: WskBridgeEvent) => boolean): Promise<WskBridgeEvent> {
  const start = Date.now();
  let pending = events.next();
  for (;;) {
    let timer: NodeJS.Timeout | undefined;
    const result = await Promise.race([
      pending,
      new Promise<'tick'>((resolve) => {
        timer = setTimeout(() => resolve('tick'), 50);
      }),
    ]).finally(() => clearTimeout(timer));
    if (result === 'tick') {
      const waited = Date.now() - start;
      if ((waited > EVENT_WAIT_MS && faultFired()) || waited > EVENT_WAIT_MAX_MS) throw new LostEvent(`no ${what} within ${waited} ms`);
      continue;
    }
    if (result.done) throw new LostEvent(`the iterator ended before ${what}`);
    if (result.value.type === 'acceptsRefused' || result.value.type === 'datagramsDropped') throw new ReportedLoss(result.value.type);
    if (accept(result.value)) return result.value;
    pending = events.next();
  }
}

/** Everything a run opened, closed in reverse order whatever happened. */
class Resources {
  private readonly closers: Array<() => Promise<unknown> | unknown> = [];
  add(closer: () => Promise<unknown> | unknown): void {
    this.closers.push(closer);
  }
  async session(): Promise<WskSession> {
    const session = await open({ backend: 'sim' });
    this.add(() => session.close());
    return session;
  }
  async nodeServer(onConnection: (socket: net.Socket) => void = () => {}): Promise<number> {
    const { server, port } = await nodeServer('127.0.0.1', onConnection);
    const peers = new Set<net.Socket>();
    server.on('connection', (socket) => peers.add(socket));
    this.add(async () => {
      for (const peer of peers) peer.destroy();
      await closeServer(server);
    });
    return port;
  }
  client(port: number): net.Socket {
    const client = net.connect(port, '127.0.0.1');
    client.on('error', () => {});
    this.add(() => client.destroy());
    return client;
  }
  /** The wait for an accept or inspect event came up empty: the simulated stack must have
   * refused the connection (ksim's provider resets the peer when it cannot allocate for it),
   * which the Node client sees. Anything else is a silent loss and fails the run. */
  async refusedOrLost(error: unknown, client: net.Socket): Promise<never> {
    if (!(error instanceof LostEvent)) throw error;
    if (!client.destroyed) await Promise.race([once(client, 'close'), sleep(2000)]);
    if (client.destroyed) throw new StackRefusal('connection refused by the stack, the peer was reset');
    throw error;
  }
  async udp(): Promise<dgram.Socket> {
    const socket = dgram.createSocket('udp4');
    socket.on('error', () => {});
    socket.bind(0, '127.0.0.1');
    await once(socket, 'listening');
    this.add(() => new Promise<void>((resolve) => socket.close(() => resolve())));
    return socket;
  }
  async closeAll(): Promise<void> {
    for (const closer of this.closers.reverse()) {
      try {
        await closer();
      } catch {
        // A close after a failure may itself fail (session already closing): the leak check
        // that follows is what judges the cleanup.
      }
    }
  }
}

const loopback = (port = 0) => ({ family: 'ipv4', address: '127.0.0.1', port }) as const;

interface Scenario {
  name: string;
  run(r: Resources): Promise<void>;
}

async function listening(session: WskSession, events: number): Promise<{ listener: WskSocket; port: number }> {
  const listener = await session.socket('listen');
  await listener.bind(loopback());
  const port = (await listener.localAddress())!.port;
  if (events) await listener.enableEvents(events);
  return { listener, port };
}

const scenarios: Scenario[] = [
  {
    name: 'driver load, open + HELLO, stats, close',
    async run(r) {
      const session = await r.session();
      await session.stats();
    },
  },
  {
    name: 'TCP: listen socket create/bind/listen, accept event, receive and disconnect events, close',
    async run(r) {
      const session = await r.session();
      const { listener, port } = await listening(session, WskEvent.Accept);
      const listenerEvents = listener.events();
      r.add(() => listenerEvents.return?.());
      const client = r.client(port);
      const accept = await nextEvent(listenerEvents, 'accept event', (e) => e.type === 'accept').catch((e) => r.refusedOrLost(e, client));
      assert.ok(accept.type === 'accept' && accept.socket, 'the accept event carries the socket');
      const accepted = accept.socket;
      await accepted.enableEvents(WskEvent.Receive | WskEvent.Disconnect);
      const events = accepted.events();
      r.add(() => events.return?.());
      client.write('hello from node');
      const received = await nextEvent(events, 'receive event', (e) => e.type === 'receive');
      assert.ok(received.type === 'receive');
      assert.equal(received.data.toString(), 'hello from node');
      await accepted.send('hello from the kernel');
      client.end();
      await nextEvent(events, 'disconnect event', (e) => e.type === 'disconnect' || e.type === 'receiveClosed');
      await accepted.close();
      await listener.close();
    },
  },
  {
    name: 'TCP: connect to Node, send, IRP-style receive, graceful disconnect, close',
    async run(r) {
      const session = await r.session();
      let peer: net.Socket | undefined;
      const port = await r.nodeServer((socket) => {
        peer = socket;
        socket.on('data', (data) => socket.write(data));
      });
      const socket = await session.socket('connection');
      await socket.bind(loopback());
      await socket.connect(loopback(port));
      await socket.send('echo me');
      let got = Buffer.alloc(0);
      while (got.length < 7) got = Buffer.concat([got, await socket.receive(64)]);
      assert.equal(got.toString(), 'echo me');
      await socket.disconnect();
      assert.ok(peer);
      await socket.close();
    },
  },
  {
    name: 'TCP: WskSocketConnect (SOCKET_CONNECT) to Node, send, graceful end',
    async run(r) {
      const session = await r.session();
      const port = await r.nodeServer((socket) => socket.on('data', (data) => socket.write(data)));
      const socket = await session.connect(loopback(port), { localAddress: loopback() });
      await socket.send('echo me');
      let got = Buffer.alloc(0);
      while (got.length < 7) got = Buffer.concat([got, await socket.receive(64)]);
      assert.equal(got.toString(), 'echo me');
      await socket.end();
    },
  },
  {
    name: 'UDP: datagram create/bind, receive-from events, sendTo, close',
    async run(r) {
      const session = await r.session();
      const node = await r.udp();
      const socket = await session.socket('datagram');
      await socket.bind(loopback());
      const port = (await socket.localAddress())!.port;
      await socket.enableEvents(WskEvent.ReceiveFrom);
      const events = socket.events();
      r.add(() => events.return?.());
      for (const text of ['one', 'two', 'three']) node.send(text, port, '127.0.0.1');
      const seen: string[] = [];
      while (seen.length < 3) {
        const event = await nextEvent(events, `datagram ${seen.length + 1}`, (e) => e.type === 'receiveFrom');
        if (event.type === 'receiveFrom') seen.push(event.data.toString());
      }
      assert.deepEqual(seen.sort(), ['one', 'three', 'two']);
      const back = once(node, 'message');
      await socket.sendTo('back', loopback((node.address() as net.AddressInfo).port));
      const [message] = (await back) as [Buffer];
      assert.equal(message.toString(), 'back');
      await socket.close();
    },
  },
  {
    name: 'conditional accept: inspect event, accept one, reject one',
    async run(r) {
      const session = await r.session();
      const listener = await session.socket('listen');
      await listener.setConditionalAccept(true);
      await listener.bind(loopback());
      const port = (await listener.localAddress())!.port;
      await listener.enableEvents(WskEvent.Accept);
      const events = listener.events();
      r.add(() => events.return?.());
      const first = r.client(port);
      const inspect = await nextEvent(events, 'inspect event', (e) => e.type === 'inspect').catch((e) => r.refusedOrLost(e, first));
      assert.ok(inspect.type === 'inspect');
      await inspect.accept();
      const accept = await nextEvent(events, 'accept event', (e) => e.type === 'accept').catch((e) => r.refusedOrLost(e, first));
      assert.ok(accept.type === 'accept' && accept.socket);
      const unwanted = r.client(port);
      const second = await nextEvent(events, 'second inspect event', (e) => e.type === 'inspect').catch((e) => r.refusedOrLost(e, unwanted));
      assert.ok(second.type === 'inspect');
      await second.reject();
    },
  },
  {
    name: 'session closed with live sockets and pending IRPs',
    async run(r) {
      const session = await r.session();
      const port = await r.nodeServer();
      const { listener } = await listening(session, WskEvent.Accept);
      const pendingAccept = listener.accept().catch(() => {});
      const connection = await session.socket('connection');
      await connection.bind(loopback());
      await connection.connect(loopback(port));
      await connection.enableEvents(WskEvent.Receive | WskEvent.Disconnect);
      const datagram = await session.socket('datagram');
      await datagram.bind(loopback());
      const pendingReceive = datagram.receiveFrom(100).catch(() => {});
      // Let the IRPs reach WSK before the handle goes.
      await sleep(5);
      await session.close();
      await Promise.all([pendingAccept, pendingReceive]);
    },
  },
];

type Outcome = 'completed' | `error ${string}` | `reported ${string}` | 'refused by the stack' | 'datagram dropped by the stack';

/** What a run ended with; anything unexpected is rethrown (the test fails with it). */
function classify(error: unknown): Outcome {
  if (error instanceof WskError) return `error ${error.statusName}`;
  // A loss without the fault having fired is no consequence of it: a failure.
  if ((error instanceof LostEvent || error instanceof StackRefusal) && !faultFired()) throw error;
  if (error instanceof StackRefusal) return 'refused by the stack';
  // Only datagrams may vanish without a report: ksim's provider drops one it cannot allocate
  // for before any callback (UDP under memory pressure); the driver's own drops are reported.
  if (error instanceof LostEvent && /^no datagram/.test(error.message)) return 'datagram dropped by the stack';
  if (error instanceof ReportedLoss) return `reported ${error.message}`;
  // The pump reports a sequence gap left by an event record the driver could not allocate.
  if (error instanceof ProtocolError && /sequence gap/.test(error.message)) return 'reported sequence gap';
  // Device.open('sim') failing (DriverEntry or EvtDeviceFileCreate refused) quotes its NTSTATUS.
  const refused = error instanceof Error ? /^cannot (?:open|load) .* on ksim: (?:DriverEntry returned )?0x[0-9A-F]{8} \((STATUS_\w+)\)$/.exec(error.message) : null;
  if (refused) return `error ${refused[1]}`;
  throw error;
}

function sameCounters(a: Record<string, number>, b: Record<string, number>): boolean {
  return Object.keys(a).every((key) => a[key] === b[key]);
}

async function settle(baseline: Record<string, number>, what: string): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!sameCounters(leakCounters(), baseline)) {
    if (Date.now() > deadline) {
      assert.deepEqual(leakCounters(), baseline, `${what}: ksim counters back to baseline after everything was closed`);
    }
    await sleep(2);
  }
}

/** Figures for docs/reliability.md, printed at the end of the suite. */
const report: Array<{ scenario: string; points: number; outcomes: Record<string, number> }> = [];

describe('reliability: fault injection at every allocation point', function () {
  this.timeout(60_000);

  afterEach(() => {
    ksim().failAllocationAfter(0);
    armed = undefined;
  });

  after(() => {
    if (process.env.WSKB_RELIABILITY_REPORT) {
      for (const row of report) {
        console.log(`  fault points: ${row.scenario}: N = ${row.points}; ${Object.entries(row.outcomes).map(([k, v]) => `${k}: ${v}`).join(', ')}`);
      }
    }
  });

  for (const scenario of scenarios) {
    it(scenario.name, async () => {
      const baseline = leakCounters();
      assert.equal(baseline.wskSockets, 0, 'no WSK socket open before the scenario');

      // The clean run: counts the points and proves the scenario itself works.
      const start = ksim().counters().poolAllocationsTotal;
      {
        const r = new Resources();
        try {
          await scenario.run(r);
        } finally {
          await r.closeAll();
        }
      }
      const points = ksim().counters().poolAllocationsTotal - start;
      await settle(baseline, 'clean run');
      assert.ok(points > 0, 'the scenario allocates');

      const outcomes: Record<string, number> = {};
      // Timing decides a few points (how many READ_EVENTS reads the pump has in flight, how a
      // peer's bytes are split into indications), so a faulted run may pass fewer points than
      // the clean one: k past the end of that run fires nowhere and is counted as such.
      for (let k = 1; k <= points; k++) {
        const before = ksim().counters().poolAllocationsTotal;
        armed = { before, k };
        ksim().failAllocationAfter(k);
        const r = new Resources();
        let outcome: Outcome = 'completed';
        try {
          await scenario.run(r);
        } catch (error) {
          outcome = classify(error);
        } finally {
          ksim().failAllocationAfter(0);
          await r.closeAll();
        }
        armed = undefined;
        const fired = ksim().counters().poolAllocationsTotal - before >= k;
        const key = fired ? outcome : 'not reached (timing)';
        if (process.env.WSKB_RELIABILITY_REPORT === 'verbose') console.error(`  [${scenario.name}] k=${k}: ${key}`);
        outcomes[key] = (outcomes[key] ?? 0) + 1;
        await settle(baseline, `${scenario.name}, allocation ${k} of ${points} failed (${outcome})`);
      }
      report.push({ scenario: scenario.name, points, outcomes });
      // The faults must have produced errors, not just been absorbed.
      assert.ok(
        Object.keys(outcomes).some((key) => key.startsWith('error STATUS_INSUFFICIENT_RESOURCES')),
        `some failed allocation surfaces as STATUS_INSUFFICIENT_RESOURCES: ${JSON.stringify(outcomes)}`,
      );
    });
  }
});

// SPDX-License-Identifier: MIT
//
// The conformance suite's harness: sessions on the backend under test, Node peers, and an
// event log that records what a socket's (or a session's) iterator yields so that a test can
// wait for an event or assert that none arrives.
//
// Backend-neutral by construction: the backend comes from WSKB_BACKEND (default 'sim'), and
// nothing here reaches into ksim. The same files run against the real kernel on Windows:
//   WSKB_BACKEND=kernel npx mocha --no-config --require dist/test/helpers/hooks.js \
//     --timeout 20000 'dist/test/conformance/**/*.test.js'
//
// This file is also a spec (mocha loads every *.test.js), and tests the harness itself.

import assert from 'node:assert/strict';
import { EventEmitter, once } from 'node:events';
import * as dgram from 'node:dgram';
import * as net from 'node:net';
import { addon } from '../../lib/addon.js';
import { MemorySocket, MemoryServer, MemoryUdp } from './memory-peers.js';
import {
  isError,
  makeWskVersion,
  open,
  statusName,
  WskError,
  WskEvent,
  type BackendChoice,
  type OpenOptions,
  type PumpOptions,
  type SimNetwork,
  type WskBridgeEvent,
  type WskBridgeEventType,
  type WskSession,
  type WskSocket,
} from '../../lib/index.js';

// ---- the backend under test -------------------------------------------------------------------

/** 'sim' unless WSKB_BACKEND says otherwise ('kernel' on a Windows VM with the driver). */
export function backendUnderTest(): BackendChoice {
  const env = process.env.WSKB_BACKEND;
  if (env === undefined || env === '') return 'sim';
  if (env !== 'sim' && env !== 'kernel' && env !== 'auto') {
    throw new TypeError(`WSKB_BACKEND must be 'sim', 'kernel' or 'auto', got ${JSON.stringify(env)}`);
  }
  return env;
}

/**
 * On sim, the network the sessions' sockets use: WSKB_KSIM_NETWORK=memory puts them on ksim's
 * in-memory network, and every peer below is then a memory peer (memory-peers.ts) instead of a
 * Node socket. undefined: ksim's default (the host's sockets).
 */
export function simNetworkUnderTest(): SimNetwork | undefined {
  const env = process.env.WSKB_KSIM_NETWORK;
  if (env === undefined || env === '') return undefined;
  if (env !== 'host' && env !== 'memory') throw new TypeError(`WSKB_KSIM_NETWORK must be 'host' or 'memory', got ${JSON.stringify(env)}`);
  if (backendUnderTest() !== 'sim') throw new TypeError('WSKB_KSIM_NETWORK applies to the sim backend only');
  return env;
}

function onMemory(): boolean {
  return simNetworkUnderTest() === 'memory';
}

/** What the tests do with a peer TCP socket: Node's net.Socket, or a memory peer shaped like it. */
export interface PeerSocket extends EventEmitter {
  connecting: boolean;
  destroyed: boolean;
  writable: boolean;
  errored: Error | null;
  localPort?: number | undefined;
  remotePort?: number | undefined;
  write(data: string | Buffer, callback?: (error?: Error | null) => void): boolean;
  end(): unknown;
  end(data: string | Buffer): unknown;
  destroy(): unknown;
  resetAndDestroy(): unknown;
}

/** Sessions opened by tests; closed after each test even when it fails half-way. */
const openSessions = new Set<WskSession>();
const openLogs = new Set<EventLog>();
const cleanups: Array<() => void | Promise<void>> = [];

export async function openSession(options: { eventBudget?: number; pump?: PumpOptions } = {}): Promise<WskSession> {
  const request: OpenOptions = { backend: backendUnderTest() };
  const network = simNetworkUnderTest();
  if (network !== undefined) request.network = network;
  if (options.eventBudget !== undefined) request.eventBudget = options.eventBudget;
  if (options.pump !== undefined) request.pump = options.pump;
  const session = await open(request);
  openSessions.add(session);
  return session;
}

/** Runs `fn` after the current test (Node servers, peers, timers). */
export function onCleanup(fn: () => void | Promise<void>): void {
  cleanups.push(fn);
}

/**
 * What must be back at its baseline once a test's sessions are closed: ksim's pool, IRPs, MDLs,
 * host and WSK sockets. Read only on the sim backend (the kernel's are not visible from here).
 */
function simLeakCounters(): Record<string, number> | undefined {
  if (backendUnderTest() !== 'sim') return undefined;
  const c = addon().ksim.counters();
  return { poolAllocations: c.poolAllocations, poolBytes: c.poolBytes, irps: c.irps, mdls: c.mdls, hostSockets: c.hostSockets, wskSockets: c.wskSockets };
}

/**
 * Registers the per-test cleanup in a describe() block of any conformance file. On sim it also
 * checks that closing the test's sessions returned ksim to where it was before the test.
 */
export function useConformanceCleanup(): void {
  let baseline: Record<string, number> | undefined;
  beforeEach(function () {
    baseline = simLeakCounters();
  });
  afterEach(async function () {
    for (const log of openLogs) await log.stop();
    openLogs.clear();
    for (const session of openSessions) await session.close();
    openSessions.clear();
    for (const fn of cleanups.splice(0).reverse()) {
      try {
        await fn();
      } catch {
        // A peer that already went away: nothing left to release.
      }
    }
    if (baseline !== undefined) {
      const before = baseline;
      // A leak is growth. (A count below its baseline is something an earlier file released late.)
      const grown = (): string[] =>
        Object.entries(simLeakCounters()!)
          .filter(([name, value]) => value > before[name]!)
          .map(([name, value]) => `${name} ${before[name]} -> ${value}`);
      // Host sockets may close a moment after the completion that reports it.
      const deadline = Date.now() + 5000;
      while (grown().length > 0 && Date.now() < deadline) await sleep(10);
      assert.deepEqual(grown(), [], 'ksim counters back at their baseline after the test\'s sessions closed');
    }
  });
}

// ---- statuses -----------------------------------------------------------------------------------

export const STATUS = {
  SUCCESS: 0,
  PENDING: 0x103,
  EVENT_PENDING: 0x40000013,
  CANCELLED: 0xc0000120 | 0,
  INVALID_PARAMETER: 0xc000000d | 0,
  INVALID_DEVICE_STATE: 0xc0000184 | 0,
  INVALID_DEVICE_REQUEST: 0xc0000010 | 0,
  NOT_SUPPORTED: 0xc00000bb | 0,
} as const;

/**
 * ksim's choices where Microsoft documents no status (docs/wsk-facts.md §7, recorded in
 * docs/ksim-fidelity.md). The tests marked [UNCONFIRMED n] assert these; run against the kernel
 * they settle each point: a failure there means Windows chose differently, and this table and
 * ksim change together.
 */
export const KSIM_CHOICE = {
  /** [UNCONFIRMED 1] WSK_EVENT_DISABLE with several event flags. */
  disableSeveralEvents: STATUS.INVALID_PARAMETER,
  /** [UNCONFIRMED 1] an event flag that does not fit the socket's category. */
  eventNotForKind: STATUS.INVALID_PARAMETER,
  /** [UNCONFIRMED 2] SO_WSK_EVENT_CALLBACK before bind (listen, datagram) or before connect. */
  eventCallbackTooEarly: STATUS.INVALID_DEVICE_STATE,
  /** [UNCONFIRMED 2] WSK_SET_STATIC_EVENT_CALLBACKS after the client's first socket. */
  staticTooLate: STATUS.INVALID_DEVICE_STATE,
  /** Undocumented status (not in §7): enabling an event on a socket created without a client dispatch table. */
  enableWithoutDispatch: STATUS.INVALID_PARAMETER,
  /** Undocumented status (not in §7): disabling a static event. */
  staticDisable: STATUS.INVALID_DEVICE_REQUEST,
  /** Undocumented status (not in §7): disabling, on a listener, a connection event it passes on. */
  listenerInheritedDisable: STATUS.INVALID_DEVICE_REQUEST,
  /** [UNCONFIRMED 4] whether a graceful FIN is (also) a NULL DataIndication to WskReceiveEvent. */
  finAsNullIndication: false as boolean,
} as const;

/** Asserts an NTSTATUS by name, so a failure message reads `STATUS_X` rather than a number. */
export function assertStatus(actual: number, expected: number, what: string): void {
  assert.equal(statusName(actual), statusName(expected), `${what}: expected ${statusName(expected)}, got ${statusName(actual)}`);
}

/** Asserts an error NTSTATUS (severity 3), whichever. */
export function assertErrorStatus(actual: number, what: string): void {
  assert.ok(isError(actual), `${what}: expected an error NTSTATUS, got ${statusName(actual)}`);
}

/** Resolves with the WskError `promise` rejects with; fails if it resolves or throws something else. */
export async function wskErrorOf(promise: Promise<unknown>, what: string): Promise<WskError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof WskError, `${what}: expected a WskError, got ${String(error)}`);
    return error;
  }
  assert.fail(`${what}: expected a WskError, but it succeeded`);
}

// ---- time -------------------------------------------------------------------------------------

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
    }),
  ]);
}

/** How long "no event arrives" is watched for. Loopback delivers in well under a millisecond. */
export const QUIET_MS = 300;

// ---- event log --------------------------------------------------------------------------------

type EventOf<T extends WskBridgeEventType> = Extract<WskBridgeEvent, { type: T }>;

/** Consumes an event iterator in the background and keeps everything it yields. */
export class EventLog {
  readonly events: WskBridgeEvent[] = [];
  ended = false;
  error: unknown = undefined;
  private readonly iterator: AsyncIterableIterator<WskBridgeEvent>;
  private readonly wakers = new Set<() => void>();
  private readonly finished: Promise<void>;

  constructor(iterator: AsyncIterableIterator<WskBridgeEvent>) {
    this.iterator = iterator;
    openLogs.add(this);
    this.finished = this.run();
  }

  private async run(): Promise<void> {
    try {
      for (;;) {
        const next = await this.iterator.next();
        if (next.done) break;
        this.events.push(next.value);
        this.wake();
      }
    } catch (error) {
      this.error = error;
    } finally {
      this.ended = true;
      this.wake();
    }
  }

  private wake(): void {
    for (const waker of [...this.wakers]) waker();
  }

  ofType<T extends WskBridgeEventType>(type: T): EventOf<T>[] {
    return this.events.filter((e): e is EventOf<T> => e.type === type);
  }

  /** The types seen so far, for failure messages. */
  summary(): string {
    return this.events.map((e) => `${e.sequence}:${e.type}`).join(' ') || '(none)';
  }

  /** Waits until `predicate` holds for the log (checked on every event). */
  async until(predicate: (events: WskBridgeEvent[]) => boolean, what: string, timeoutMs = 10_000): Promise<void> {
    if (predicate(this.events)) return;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.wakers.delete(check);
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}; events: ${this.summary()}`));
      }, timeoutMs);
      const check = (): void => {
        if (this.error !== undefined) {
          clearTimeout(timer);
          this.wakers.delete(check);
          reject(this.error);
        } else if (predicate(this.events)) {
          clearTimeout(timer);
          this.wakers.delete(check);
          resolve();
        } else if (this.ended) {
          clearTimeout(timer);
          this.wakers.delete(check);
          reject(new Error(`the iterator ended before ${what}; events: ${this.summary()}`));
        }
      };
      this.wakers.add(check);
    });
  }

  /** The first event of `type` (matching `predicate`), waiting for it if needed. */
  async next<T extends WskBridgeEventType>(type: T, predicate: (e: EventOf<T>) => boolean = () => true, timeoutMs = 10_000): Promise<EventOf<T>> {
    const find = (): EventOf<T> | undefined => this.ofType(type).find(predicate);
    await this.until(() => find() !== undefined, `a '${type}' event`, timeoutMs);
    return find()!;
  }

  /** Asserts that no event of `type` (matching `predicate`) arrives within `ms`. */
  async none<T extends WskBridgeEventType>(type: T, ms = QUIET_MS, predicate: (e: EventOf<T>) => boolean = () => true): Promise<void> {
    await sleep(ms);
    if (this.error !== undefined) throw this.error;
    const seen = this.ofType(type).filter(predicate);
    assert.equal(seen.length, 0, `expected no '${type}' event, got ${seen.length}; events: ${this.summary()}`);
  }

  /** Concatenated data of the receive events so far. */
  receivedData(): Buffer {
    return Buffer.concat(this.ofType('receive').map((e) => e.data));
  }

  /** Releases the iterator (return()), and waits for the background loop to end. */
  async stop(): Promise<void> {
    openLogs.delete(this);
    await this.iterator.return?.();
    await this.finished;
  }
}

export function logOf(source: WskSocket | WskSession): EventLog {
  return new EventLog(source.events());
}

// ---- Node peers and bridge sockets ------------------------------------------------------------

export const LOOPBACK = '127.0.0.1';

export interface NodeServer {
  server: { close(callback?: () => void): unknown };
  port: number;
  /** Resolves with the next connection the server accepts (in arrival order). */
  nextPeer(): Promise<PeerSocket>;
}

/**
 * A TCP server on 127.0.0.1:0 (or host) whose connections are peers: Node's (half-open
 * allowed, so a FIN from the bridge does not end our side), or the in-memory network's.
 */
export async function nodeServer(host: string = LOOPBACK): Promise<NodeServer> {
  const accepted: PeerSocket[] = [];
  const waiting: Array<(s: PeerSocket) => void> = [];
  const onPeer = (peer: PeerSocket): void => {
    peer.on('error', () => {
      // A reset is an outcome tests look at through 'close'; not an unhandled error.
    });
    onCleanup(() => void peer.destroy());
    const waiter = waiting.shift();
    if (waiter) waiter(peer);
    else accepted.push(peer);
  };
  let server: { close(callback?: () => void): unknown };
  let port: number;
  if (onMemory()) {
    const memory = new MemoryServer(host);
    memory.on('connection', onPeer);
    server = memory;
    port = memory.port;
  } else {
    const node = net.createServer({ allowHalfOpen: true }, (socket) => onPeer(socket));
    node.listen(0, host);
    await once(node, 'listening');
    server = node;
    port = (node.address() as net.AddressInfo).port;
  }
  onCleanup(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return {
    server,
    port,
    nextPeer: () => {
      const peer = accepted.shift();
      if (peer) return Promise.resolve(peer);
      return withTimeout(new Promise<PeerSocket>((resolve) => waiting.push(resolve)), 10_000, 'the peer server to accept a connection');
    },
  };
}

/**
 * A peer client connecting to host:port (127.0.0.1 by default), not waited for. On a
 * conditional-accept listener Windows holds the handshake until the inspection is decided, so
 * tests of that path must not wait for 'connect' first (ksim's stacks complete it at once; both
 * are fine here).
 */
export function nodeConnecting(port: number, host: string = LOOPBACK): PeerSocket {
  const client: PeerSocket = onMemory() ? MemorySocket.connect(port, host) : net.connect({ host, port, allowHalfOpen: true });
  client.on('error', () => {
    // Inspected by the tests that care through closed() / their own listeners.
  });
  onCleanup(() => void client.destroy());
  return client;
}

/** A peer client to host:port; resolves once connected. */
export async function nodeClient(port: number, host: string = LOOPBACK): Promise<PeerSocket> {
  const client = nodeConnecting(port, host);
  await withTimeout(once(client, 'connect'), 10_000, `a peer client to connect to port ${port}`);
  return client;
}

/** What the tests do with a peer UDP socket. */
export interface PeerUdp {
  address(): { port: number };
  send(data: Buffer | string, port: number, host: string, callback?: (error: Error | null) => void): void;
  close(callback?: () => void): void;
}

/** A peer UDP socket on 127.0.0.1:0 (or host: '::1' for IPv6). */
export async function nodeUdp(host: string = LOOPBACK): Promise<{ socket: PeerUdp; port: number; send(data: Buffer | string, port: number): Promise<void> }> {
  let socket: PeerUdp;
  if (onMemory()) {
    socket = new MemoryUdp(host);
  } else {
    const node = dgram.createSocket(host.includes(':') ? 'udp6' : 'udp4');
    node.bind(0, host);
    await once(node, 'listening');
    socket = node;
  }
  onCleanup(() => new Promise<void>((resolve) => socket.close(() => resolve())));
  return {
    socket,
    port: socket.address().port,
    send: (data, port) =>
      new Promise<void>((resolve, reject) => socket.send(data, port, host, (error) => (error ? reject(error) : resolve()))),
  };
}

/**
 * A bridge connection socket bound to 0.0.0.0:0 and connected to a fresh Node server, with the
 * Node side of the connection.
 */
export async function connectedPair(session: WskSession): Promise<{ socket: WskSocket; peer: PeerSocket; server: NodeServer }> {
  const server = await nodeServer();
  const socket = await session.socket('connection');
  await socket.bind({ family: 'ipv4', address: '0.0.0.0', port: 0 });
  await socket.connect({ family: 'ipv4', address: LOOPBACK, port: server.port });
  const peer = await server.nextPeer();
  return { socket, peer, server };
}

/** A bridge listening socket bound to 127.0.0.1:0, with its port. */
export async function boundListener(session: WskSession, options: { conditionalAccept?: boolean } = {}): Promise<{ listener: WskSocket; port: number }> {
  const listener = await session.socket('listen');
  if (options.conditionalAccept) await listener.setConditionalAccept(true);
  await listener.bind({ family: 'ipv4', address: LOOPBACK, port: 0 });
  const address = await listener.localAddress();
  assert.ok(address && address.port > 0, `the listening socket's local address has a port (got ${JSON.stringify(address)})`);
  return { listener, port: address.port };
}

/** Resolves when a Node socket has closed, with whether it saw an error and which. */
export function closed(socket: PeerSocket): Promise<{ hadError: boolean; code: string | undefined }> {
  let code: string | undefined;
  socket.on('error', (error: NodeJS.ErrnoException) => {
    code ??= error.code;
  });
  if (socket.destroyed) return Promise.resolve({ hadError: socket.errored !== null, code: (socket.errored as NodeJS.ErrnoException | null)?.code });
  return new Promise((resolve) => socket.once('close', (hadError: boolean) => resolve({ hadError, code })));
}

// ---- the harness's own tests --------------------------------------------------------------------

describe('conformance harness', function () {
  useConformanceCleanup();

  it('opens the backend WSKB_BACKEND names (default sim)', async () => {
    const session = await openSession();
    const expected = backendUnderTest();
    if (expected !== 'auto') assert.equal(session.backend, expected, session.backendReason);
  });

  it('[UNCONFIRMED 8] the WSK provider offers version 1.0 only (highest = lowest = MAKE_WSK_VERSION(1,0))', async () => {
    // ksim's choice (docs/ksim-fidelity.md): no version above 1.0 is known. On Windows this test
    // reports what netio.sys actually offers through WskQueryProviderCharacteristics.
    const session = await openSession();
    assert.equal(session.wskVersion.lowest, makeWskVersion(1, 0), `lowest WSK version 0x${session.wskVersion.lowest.toString(16)}`);
    assert.equal(session.wskVersion.highest, makeWskVersion(1, 0), `highest WSK version 0x${session.wskVersion.highest.toString(16)}`);
  });

  it('EventLog.none fails when the event does arrive (the negative checks can fail)', async () => {
    const session = await openSession();
    const { socket, peer } = await connectedPair(session);
    await socket.enableEvents(WskEvent.Receive);
    const log = logOf(socket);
    peer.write('x');
    await log.next('receive');
    await assert.rejects(log.none('receive', 10), /expected no 'receive' event/);
  });
});

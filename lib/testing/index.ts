// SPDX-License-Identifier: MIT
//
// wsk-bridge/testing: what a test of a kernel network experiment needs besides the library.
// Node peers that never crash the runner (an 'error' handler on every socket, errors kept for
// the test to look at), expectEvents() for ordered sequences, and on the sim backend
// assertNoLeaks(): ksim's pool, IRPs, MDLs and host sockets back at their baseline, no new
// verifier failure. docs/testing.md shows them in node:test and mocha templates.

import { AssertionError } from 'node:assert';
import * as dgram from 'node:dgram';
import { once } from 'node:events';
import * as net from 'node:net';
import { addon } from '../addon.js';
import { toWskAddress, type AddressLike } from '../address.js';
import { checkInteger, checkOptions, invalidArgType } from '../errors.js';
import type { WskBridgeEvent, WskBridgeEventType } from '../events.js';
import { formatEvent } from '../format.js';
import type { WskSession } from '../session.js';
import type { WskSocket } from '../socket.js';

export { formatEvent };

// ---- Node peers -------------------------------------------------------------------------------

/** A Node TCP server on loopback whose connections are queued for the test. */
export interface TcpPeerServer {
  server: net.Server;
  /** `server.address()`: pass it to `socket.connect()` as it is. */
  address: net.AddressInfo;
  port: number;
  /** The next connection (in arrival order). */
  accepted(options?: { signal?: AbortSignal }): Promise<net.Socket>;
  /** Errors of the server and of its connections (resets the kernel side caused, say). */
  errors: Error[];
  /** Destroys every connection and closes the server. */
  close(): Promise<void>;
}

/** Items in arrival order, taken one at a time; a taker waits (abortably) when there is none. */
class Arrivals<T> {
  private readonly items: T[] = [];
  private readonly takers: ((item: T) => void)[] = [];
  put(item: T): void {
    const take = this.takers.shift();
    if (take) take(item);
    else this.items.push(item);
  }
  take(signal?: AbortSignal): Promise<T> {
    if (this.items.length > 0) return Promise.resolve(this.items.shift()!);
    return new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason);
      const onAbort = () => {
        this.takers.splice(this.takers.indexOf(take), 1);
        reject(signal!.reason);
      };
      const take = (item: T) => {
        signal?.removeEventListener('abort', onAbort);
        resolve(item);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.takers.push(take);
    });
  }
}

function keepErrors(emitter: net.Socket | net.Server | dgram.Socket, errors: Error[]): void {
  emitter.on('error', (error: Error) => errors.push(error));
}

/** A TCP server on `host` (default 127.0.0.1), port 0. Connections allow half-open by default. */
export async function tcpServer(options: { host?: string; allowHalfOpen?: boolean } = {}): Promise<TcpPeerServer> {
  checkOptions('options', options, ['host', 'allowHalfOpen']);
  const errors: Error[] = [];
  const sockets = new Set<net.Socket>();
  const connections = new Arrivals<net.Socket>();
  const server = net.createServer({ allowHalfOpen: options.allowHalfOpen ?? true }, (socket) => {
    keepErrors(socket, errors);
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    connections.put(socket);
  });
  keepErrors(server, errors);
  server.listen(0, options.host ?? '127.0.0.1');
  await once(server, 'listening');
  const address = server.address() as net.AddressInfo;
  return {
    server,
    address,
    port: address.port,
    errors,
    accepted({ signal } = {}) {
      return connections.take(signal);
    },
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A Node TCP client connected to `address` (a WskAddress, an AddressInfo, or a port on 127.0.0.1). */
export async function tcpClient(address: AddressLike | number): Promise<net.Socket & { errors: Error[] }> {
  const to = typeof address === 'number' ? { address: '127.0.0.1', port: address } : toWskAddress(address);
  const socket = net.connect({ host: to.address, port: to.port, allowHalfOpen: true }) as net.Socket & { errors: Error[] };
  socket.errors = [];
  const failed = once(socket, 'error');
  await Promise.race([once(socket, 'connect'), failed.then(([error]) => Promise.reject(error))]);
  keepErrors(socket, socket.errors);
  return socket;
}

/** A datagram from a Node UDP peer. */
export interface Datagram {
  data: Buffer;
  from: dgram.RemoteInfo;
}

export interface UdpPeer {
  socket: dgram.Socket;
  address: net.AddressInfo;
  port: number;
  errors: Error[];
  /** Sends one datagram to a WskAddress / AddressInfo. */
  send(data: Uint8Array | string, to: AddressLike): Promise<void>;
  /** The next datagram received (in arrival order). */
  next(options?: { signal?: AbortSignal }): Promise<Datagram>;
  close(): Promise<void>;
}

/** A Node UDP socket bound to loopback port 0 ('udp4' by default). */
export async function udpPeer(options: { type?: 'udp4' | 'udp6' } = {}): Promise<UdpPeer> {
  checkOptions('options', options, ['type']);
  const type = options.type ?? 'udp4';
  const socket = dgram.createSocket(type);
  const errors: Error[] = [];
  keepErrors(socket, errors);
  const datagrams = new Arrivals<Datagram>();
  socket.on('message', (data, from) => datagrams.put({ data, from }));
  socket.bind(0, type === 'udp4' ? '127.0.0.1' : '::1');
  await once(socket, 'listening');
  const address = socket.address();
  return {
    socket,
    address,
    port: address.port,
    errors,
    send(data, to) {
      const target = toWskAddress(to);
      return new Promise((resolve, reject) => socket.send(data, target.port, target.address, (error) => (error ? reject(error) : resolve())));
    },
    next({ signal } = {}) {
      return datagrams.take(signal);
    },
    close() {
      return new Promise((resolve) => socket.close(() => resolve()));
    },
  };
}

// ---- expectEvents ----------------------------------------------------------------------------

/**
 * One expected event: its type; or its type with fields that must be equal (`data` may be a
 * string, compared with the event's bytes as UTF-8); or a predicate.
 */
export type ExpectedEvent =
  | WskBridgeEventType
  | ({ type: WskBridgeEventType; data?: string | Uint8Array } & Record<string, unknown>)
  | ((event: WskBridgeEvent) => boolean);

export interface ExpectEventsOptions {
  /** Milliseconds for the whole sequence (default 5000). */
  timeout?: number;
  /** Pass node:test's `t.signal` (or an AbortSignal a mocha hook aborts). */
  signal?: AbortSignal;
  /**
   * The event types taken from the source; others stay for other iterators. Default: the types
   * the expectations name, when every one names a type; otherwise every type.
   */
  types?: readonly WskBridgeEventType[];
}

function typeOf(expected: ExpectedEvent): WskBridgeEventType | undefined {
  return typeof expected === 'string' ? expected : typeof expected === 'object' ? expected.type : undefined;
}

function matches(event: WskBridgeEvent, expected: ExpectedEvent): string | undefined {
  if (typeof expected === 'function') return expected(event) ? undefined : 'the predicate said no';
  if (typeof expected === 'string') return event.type === expected ? undefined : `type ${event.type}, expected ${expected}`;
  for (const [key, want] of Object.entries(expected)) {
    const got = (event as unknown as Record<string, unknown>)[key];
    if (key === 'data' && got instanceof Uint8Array && (typeof want === 'string' || want instanceof Uint8Array)) {
      if (!Buffer.from(got).equals(typeof want === 'string' ? Buffer.from(want) : Buffer.from(want))) return `data ${JSON.stringify(Buffer.from(got).toString())}, expected ${JSON.stringify(Buffer.from(want as Uint8Array | string).toString())}`;
    } else if (typeof want === 'object' && want !== null) {
      if (JSON.stringify(got, (_k, v) => (typeof v === 'bigint' ? `${v}n` : v)) !== JSON.stringify(want, (_k, v) => (typeof v === 'bigint' ? `${v}n` : v))) return `${key} ${JSON.stringify(got)}, expected ${JSON.stringify(want)}`;
    } else if (got !== want) {
      return `${key} ${String(got)}, expected ${String(want)}`;
    }
  }
  return undefined;
}

/**
 * Takes the next `expected.length` events of `source` (of the types expected) and checks them,
 * in order. Resolves with the events; rejects with an AssertionError showing what came.
 *
 * ```ts
 * await expectEvents(socket, ['receive', { type: 'disconnect', abortive: false }], { signal: t.signal });
 * ```
 */
export async function expectEvents(
  source: WskSocket | WskSession,
  expected: readonly ExpectedEvent[],
  options: ExpectEventsOptions = {},
): Promise<WskBridgeEvent[]> {
  checkOptions('options', options, ['timeout', 'signal', 'types']);
  if (!Array.isArray(expected) || expected.length === 0) throw invalidArgType('expected', 'a non-empty array of expected events', expected);
  const timeout = checkInteger('options.timeout', options.timeout ?? 5000, 0, 2 ** 31 - 1);
  const named = expected.map(typeOf);
  const types = options.types ?? (named.every((t) => t !== undefined) ? [...new Set(named as WskBridgeEventType[])] : undefined);
  let events: WskBridgeEvent[];
  try {
    events = await source.collect(expected.length, { timeout, ...(options.signal ? { signal: options.signal } : {}), ...(types ? { types } : {}) });
  } catch (error) {
    const received = (error as { received?: WskBridgeEvent[] }).received;
    if ((error as { code?: string }).code === 'ETIMEDOUT' && received) {
      throw new AssertionError({
        message: `expectEvents: ${received.length} of ${expected.length} expected events within ${timeout} ms\n  received:\n${received.map((e) => `    ${formatEvent(e)}`).join('\n') || '    (none)'}\n  expected:\n${expected.map(describeExpected).join('\n')}`,
        actual: received.map((e) => e.type),
        expected: expected.map((e) => typeOf(e) ?? '(predicate)'),
        operator: 'expectEvents',
      });
    }
    throw error;
  }
  events.forEach((event, i) => {
    const why = matches(event, expected[i]!);
    if (why !== undefined) {
      throw new AssertionError({
        message: `expectEvents: event ${i + 1} of ${expected.length} does not match (${why})\n  received:\n${events.map((e) => `    ${formatEvent(e)}`).join('\n')}\n  expected:\n${expected.map(describeExpected).join('\n')}`,
        actual: events.map((e) => e.type),
        expected: expected.map((e) => typeOf(e) ?? '(predicate)'),
        operator: 'expectEvents',
      });
    }
  });
  return events;
}

function describeExpected(expected: ExpectedEvent): string {
  if (typeof expected === 'function') return `    (predicate ${expected.name || 'anonymous'})`;
  if (typeof expected === 'string') return `    ${expected}`;
  return `    ${JSON.stringify(expected, (_k, v) => (typeof v === 'bigint' ? `${v}n` : v instanceof Uint8Array ? Buffer.from(v).toString() : v))}`;
}

// ---- leaks (sim) -----------------------------------------------------------------------------

/** ksim's counters that must come back once every session is closed, and the verifier's count. */
export interface LeakBaseline {
  poolAllocations: number;
  poolBytes: number;
  irps: number;
  mdls: number;
  hostSockets: number;
  wskSockets: number;
  verifierFailures: number;
}

/** Reads ksim's counters now (before the sessions a test opens). Sim backend only. */
export function leakBaseline(): LeakBaseline {
  const c = addon().ksim.counters();
  return {
    poolAllocations: c.poolAllocations,
    poolBytes: c.poolBytes,
    irps: c.irps,
    mdls: c.mdls,
    hostSockets: c.hostSockets,
    wskSockets: c.wskSockets,
    verifierFailures: addon().ksim.verifierLastFailure().count,
  };
}

/**
 * On the sim backend, after the test closed its sessions: waits (up to `timeout` ms, default
 * 5000; host sockets close a moment after their completions) until ksim's pool allocations and
 * bytes, IRPs, MDLs, host sockets and WSK sockets are back at `baseline`, and checks that the
 * verifier recorded no failure since. Throws an AssertionError naming what stayed.
 * ksim's counters say nothing about the Windows kernel: on the kernel backend use Driver
 * Verifier (scripts/verifier.ps1).
 */
export async function assertNoLeaks(baseline: LeakBaseline, options: { timeout?: number } = {}): Promise<void> {
  checkOptions('options', options, ['timeout']);
  if (baseline === null || typeof baseline !== 'object') throw invalidArgType('baseline', 'the LeakBaseline leakBaseline() returned', baseline);
  const timeout = checkInteger('options.timeout', options.timeout ?? 5000, 0, 2 ** 31 - 1);
  const deadline = Date.now() + timeout;
  const keys = ['poolAllocations', 'poolBytes', 'irps', 'mdls', 'hostSockets', 'wskSockets'] as const;
  for (;;) {
    const now = leakBaseline();
    const verifier = addon().ksim.verifierLastFailure();
    if (now.verifierFailures !== baseline.verifierFailures) {
      throw new AssertionError({
        message: `assertNoLeaks: ${now.verifierFailures - baseline.verifierFailures} ksim verifier failure(s) since the baseline; last: ${verifier.message}`,
        actual: now.verifierFailures,
        expected: baseline.verifierFailures,
        operator: 'assertNoLeaks',
      });
    }
    const stayed = keys.filter((key) => now[key] !== baseline[key]);
    if (stayed.length === 0) return;
    if (Date.now() >= deadline) {
      throw new AssertionError({
        message: `assertNoLeaks: not back at the baseline after ${timeout} ms: ${stayed.map((key) => `${key} ${baseline[key]} -> ${now[key]}`).join(', ')} (is every session closed?)`,
        actual: Object.fromEntries(stayed.map((k) => [k, now[k]])),
        expected: Object.fromEntries(stayed.map((k) => [k, baseline[k]])),
        operator: 'assertNoLeaks',
      });
    }
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

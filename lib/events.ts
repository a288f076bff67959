// SPDX-License-Identifier: MIT
//
// The session's event pump (the user-mode half of the inverted call) and the async iterators
// built on it.
//
// The pump keeps a few READ_EVENTS requests pending in the driver. Each completion carries a
// batch of whole records; the pump puts batches back in sequence order (completions of
// different requests may reach JavaScript in any order), checks that sequence numbers have no
// gap, decodes each record into a typed event and hands it to every iterator whose filter
// matches. Events no iterator took are kept (bounded) for the next iterator that asks for
// them, so that `await socket.enableEvents(…)` followed by `socket.events()` misses nothing.
//
// Flow control: past an iterator's high-water mark (or past the unclaimed limit) the pump
// stops re-issuing READ_EVENTS. The driver's event queue then fills to its budget and the driver
// pauses receive indications (STATUS_DATA_NOT_ACCEPTED), so a slow consumer slows the kernel
// instead of growing this process's memory. Reads resume below the low-water mark.
//
// READ_EVENTS are weak: an idle session never keeps the process alive. Only while some
// iterator is waiting in next() does the pump hold a reference on the device.

import type { NativeDevice } from './addon.js';
import { AbortError, WskError } from './errors.js';
import { isError, NTSTATUS, statusName } from './ntstatus.js';
import {
  decodeAddressPair,
  decodeEventRecords,
  decodeInspectBody,
  ProtocolError,
  readSockaddr,
  recordFixedBody,
  recordPayload,
  WSKB_EVENT_ABORT,
  WSKB_EVENT_ACCEPT,
  WSKB_EVENT_ACCEPTS_REFUSED,
  WSKB_EVENT_DATAGRAMS_DROPPED,
  WSKB_EVENT_DISCONNECT,
  WSKB_EVENT_FLOW_PAUSED,
  WSKB_EVENT_FLOW_RESUMED,
  WSKB_EVENT_INSPECT,
  WSKB_EVENT_RECEIVE,
  WSKB_EVENT_RECEIVE_CLOSED,
  WSKB_EVENT_RECEIVE_FROM,
  WSKB_EVENT_SEND_BACKLOG,
  WSKB_EVENT_SOCKET_CLOSED,
  WSKB_IOCTL_READ_EVENTS,
  WSKB_READ_EVENTS_MIN_OUTPUT,
  type RawEventRecord,
  type WskAddress,
} from './protocol.js';
import type { WskSocket } from './socket.js';
import { WskFlag, WskInspectAction } from './wsk.js';

// ---- the typed events -------------------------------------------------------------------------

export interface EventBase {
  /** Per-session sequence number: starts at 1, never skips. */
  sequence: bigint;
  /** Kernel interrupt time when the callback ran, in 100 ns units. */
  timestamp: bigint;
  /** The socket the event belongs to (the listening socket for accept/inspect/abort). */
  socketId: bigint;
  /** The Flags argument WSK passed to the callback (0 for bridge events). */
  wskFlags: number;
}

/**
 * What the bridge exports of WSK_INSPECT_ID: its SerialNumber. The Key is a pointer-sized value
 * WSK may fill with a kernel object's address, so the driver never exports it; the event's
 * `token` (the driver's own) names the inspection, and an abort carries the same token while
 * the inspection is still pending.
 */
export interface InspectId {
  serialNumber: number;
}

export type WskBridgeEvent =
  | (EventBase & { type: 'receive'; data: Buffer; bytesIndicated: number; flags: number })
  | (EventBase & { type: 'receiveClosed' })
  | (EventBase & { type: 'disconnect'; abortive: boolean })
  | (EventBase & { type: 'sendBacklog'; idealBacklogSize: number })
  | (EventBase & {
      type: 'accept';
      /** The accepted socket, already in the session; null when WSK indicated a NULL AcceptSocket. */
      socket: WskSocket | null;
      /** True when WSK indicated AcceptSocket == NULL: the listening socket no longer works. */
      listenerClosed: boolean;
      localAddress: WskAddress | null;
      remoteAddress: WskAddress | null;
    })
  | (EventBase & {
      type: 'inspect';
      localAddress: WskAddress | null;
      remoteAddress: WskAddress | null;
      inspectId: InspectId;
      /** The driver's handle on the pended inspection. */
      token: bigint;
      /** WskInspectComplete(WskInspectAccept). */
      accept(): Promise<void>;
      /** WskInspectComplete(WskInspectReject). */
      reject(): Promise<void>;
    })
  | (EventBase & { type: 'abort'; inspectId: InspectId; token: bigint })
  | (EventBase & { type: 'receiveFrom'; data: Buffer; remoteAddress: WskAddress | null; flags: number })
  | (EventBase & { type: 'flowPaused'; bytesLeft: number })
  | (EventBase & { type: 'flowResumed'; status: number; statusName: string })
  | (EventBase & { type: 'datagramsDropped'; count: number })
  | (EventBase & { type: 'acceptsRefused'; count: number })
  | (EventBase & { type: 'socketClosed' });

export type WskBridgeEventType = WskBridgeEvent['type'];

/** The event of one type: `WskBridgeEventOf<'receive'>`. */
export type WskBridgeEventOf<T extends WskBridgeEventType> = Extract<WskBridgeEvent, { type: T }>;

/** What the pump needs from its session to turn records into events. */
export interface EventHost {
  /** Enters a socket accepted through WskAcceptEvent into the session. */
  adoptAcceptedSocket(id: bigint, localAddress: WskAddress | null, remoteAddress: WskAddress | null): WskSocket;
  /** INSPECT_COMPLETE for a pended inspection of a listening socket. */
  inspectComplete(listenerId: bigint, token: bigint, action: number): Promise<void>;
  /** True once the user called close() on this socket: its leftover events interest no one. */
  isClosedByUser(socketId: bigint): boolean;
  /** The socket's last event (socketClosed) has been dispatched. */
  socketClosedSeen?(socketId: bigint): void;
}

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

function toNumber(value: bigint, what: string): number {
  if (value > MAX_SAFE) throw new ProtocolError(`${what} ${value} is beyond 2^53`);
  return Number(value);
}

/** Decodes one record. Unknown types are a protocol error: both sides ship together. */
export function decodeEvent(r: RawEventRecord, host: EventHost): WskBridgeEvent {
  // The data events are the hot path (millions a second): built field by field, no spread.
  if (r.type === WSKB_EVENT_RECEIVE) {
    return {
      type: 'receive',
      sequence: r.sequence,
      timestamp: r.timestamp,
      socketId: r.socketId,
      wskFlags: r.wskFlags,
      data: recordPayload(r),
      bytesIndicated: toNumber(r.param, 'BytesIndicated'),
      flags: r.wskFlags,
    };
  }
  if (r.type === WSKB_EVENT_RECEIVE_FROM) {
    return {
      type: 'receiveFrom',
      sequence: r.sequence,
      timestamp: r.timestamp,
      socketId: r.socketId,
      wskFlags: r.wskFlags,
      data: recordPayload(r),
      remoteAddress: readSockaddr(recordFixedBody(r), 0),
      flags: r.wskFlags,
    };
  }
  const base: EventBase = { sequence: r.sequence, timestamp: r.timestamp, socketId: r.socketId, wskFlags: r.wskFlags };
  switch (r.type) {
    case WSKB_EVENT_RECEIVE_CLOSED:
      return { type: 'receiveClosed', ...base };
    case WSKB_EVENT_DISCONNECT:
      return { type: 'disconnect', ...base, abortive: (r.wskFlags & WskFlag.Abortive) !== 0 };
    case WSKB_EVENT_SEND_BACKLOG:
      return { type: 'sendBacklog', ...base, idealBacklogSize: toNumber(r.param, 'IdealBacklogSize') };
    case WSKB_EVENT_ACCEPT: {
      const { localAddress, remoteAddress } = decodeAddressPair(recordFixedBody(r));
      const socket = r.param === 0n ? null : host.adoptAcceptedSocket(r.param, localAddress, remoteAddress);
      return { type: 'accept', ...base, socket, listenerClosed: socket === null, localAddress, remoteAddress };
    }
    case WSKB_EVENT_INSPECT: {
      const body = decodeInspectBody(recordFixedBody(r));
      const token = r.param;
      const listener = r.socketId;
      return {
        type: 'inspect',
        ...base,
        ...body,
        token,
        accept: () => host.inspectComplete(listener, token, WskInspectAction.Accept),
        reject: () => host.inspectComplete(listener, token, WskInspectAction.Reject),
      };
    }
    case WSKB_EVENT_ABORT:
      return { type: 'abort', ...base, inspectId: decodeInspectBody(recordFixedBody(r)).inspectId, token: r.param };
    case WSKB_EVENT_FLOW_PAUSED:
      return { type: 'flowPaused', ...base, bytesLeft: toNumber(r.param, 'bytes left') };
    case WSKB_EVENT_FLOW_RESUMED: {
      const status = Number(BigInt.asIntN(32, r.param));
      return { type: 'flowResumed', ...base, status, statusName: statusName(status) };
    }
    case WSKB_EVENT_DATAGRAMS_DROPPED:
      return { type: 'datagramsDropped', ...base, count: toNumber(r.param, 'count') };
    case WSKB_EVENT_ACCEPTS_REFUSED:
      return { type: 'acceptsRefused', ...base, count: toNumber(r.param, 'count') };
    case WSKB_EVENT_SOCKET_CLOSED:
      return { type: 'socketClosed', ...base };
    default:
      throw new ProtocolError(`event ${r.sequence}: unknown type ${r.type}`);
  }
}

// ---- iterators --------------------------------------------------------------------------------

export interface EventsOptions {
  /** Rejects a waiting next() with an AbortError and releases the iterator. */
  signal?: AbortSignal;
  /** Events buffered in this iterator past which the pump stops reading (default 1024). */
  highWaterMark?: number;
  /** Reading resumes once the buffer is back to this many events (default highWaterMark / 2). */
  lowWaterMark?: number;
  /** What happens past the high-water mark. Only 'pause' exists: the kernel is slowed, nothing is dropped. */
  overflow?: 'pause';
}

/** FIFO with O(1) shift (Array.prototype.shift is a memmove on large arrays). */
class Fifo<T> {
  private items: T[] = [];
  private head = 0;
  get length(): number {
    return this.items.length - this.head;
  }
  push(item: T): void {
    this.items.push(item);
  }
  shift(): T | undefined {
    if (this.head >= this.items.length) return undefined;
    const item = this.items[this.head]!;
    this.items[this.head++] = undefined as T; // let it be collected
    if (this.head >= 1024 && this.head * 2 >= this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return item;
  }
  clear(): void {
    this.items = [];
    this.head = 0;
  }
  some(predicate: (item: T) => boolean): boolean {
    for (let i = this.head; i < this.items.length; i++) if (predicate(this.items[i]!)) return true;
    return false;
  }
}

interface Waiter {
  resolve(result: IteratorResult<WskBridgeEvent>): void;
  reject(error: unknown): void;
}

class Subscription implements AsyncIterableIterator<WskBridgeEvent> {
  readonly queue = new Fifo<WskBridgeEvent>();
  readonly waiters: Waiter[] = [];
  overHighWater = false;
  /** No more events will be added: the socket closed, the session closed, or released. */
  finished = false;
  error: unknown = undefined;
  private readonly onAbort?: () => void;

  constructor(
    private readonly pump: EventPump,
    readonly socketId: bigint | undefined,
    readonly highWaterMark: number,
    readonly lowWaterMark: number,
    private readonly signal: AbortSignal | undefined,
  ) {
    if (signal) {
      this.onAbort = () => this.fail(new AbortError(undefined, { cause: signal.reason }));
      signal.addEventListener('abort', this.onAbort, { once: true });
    }
  }

  matches(event: WskBridgeEvent): boolean {
    return this.socketId === undefined || event.socketId === this.socketId;
  }

  push(event: WskBridgeEvent): void {
    const waiter = this.waiters.shift();
    if (waiter) {
      waiter.resolve({ value: event, done: false });
      this.pump.updateRef();
    } else {
      this.queue.push(event);
      if (this.queue.length >= this.highWaterMark) this.overHighWater = true;
    }
    // A socket's iterator ends with the socket's last event.
    if (this.socketId !== undefined && event.type === 'socketClosed') this.finish();
  }

  /** Ends the iterator once its buffered events are consumed. */
  finish(): void {
    if (this.finished) return;
    this.finished = true;
    this.detach();
    if (this.queue.length === 0) this.flushWaiters();
  }

  /** Ends the iterator with an error, delivered (as in Node's events.on) after the events
   * already buffered, to the waiting or next next() call. */
  fail(error: unknown): void {
    if (this.error !== undefined) return;
    this.error = error;
    this.finished = true;
    this.detach();
    const waiter = this.waiters.shift();
    if (waiter) {
      this.error = null; // delivered
      waiter.reject(error);
    }
    this.flushWaiters();
  }

  private flushWaiters(): void {
    for (const waiter of this.waiters.splice(0)) waiter.resolve({ value: undefined, done: true });
    this.pump.updateRef();
  }

  private detach(): void {
    if (this.signal && this.onAbort) this.signal.removeEventListener('abort', this.onAbort);
    this.pump.unsubscribe(this);
  }

  next(): Promise<IteratorResult<WskBridgeEvent>> {
    if (this.queue.length > 0) {
      const value = this.queue.shift()!;
      if (this.overHighWater && this.queue.length <= this.lowWaterMark) {
        this.overHighWater = false;
        this.pump.kick();
      }
      return Promise.resolve({ value, done: false });
    }
    if (this.error !== undefined && this.error !== null) {
      const error = this.error;
      this.error = null;
      return Promise.reject(error);
    }
    if (this.finished) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve, reject) => {
      this.waiters.push({ resolve, reject });
      this.pump.updateRef();
    });
  }

  return(): Promise<IteratorResult<WskBridgeEvent>> {
    this.queue.clear();
    this.finish();
    this.flushWaiters();
    this.pump.kick();
    return Promise.resolve({ value: undefined, done: true });
  }

  throw(error?: unknown): Promise<IteratorResult<WskBridgeEvent>> {
    this.queue.clear();
    this.finish();
    this.flushWaiters();
    this.pump.kick();
    return Promise.reject(error);
  }

  [Symbol.asyncIterator](): this {
    return this;
  }
}

// ---- the pump ---------------------------------------------------------------------------------

export interface PumpOptions {
  /** READ_EVENTS requests kept pending (default 4). */
  depth?: number;
  /** Output bytes per READ_EVENTS (default 256 KiB; at least WSKB_READ_EVENTS_MIN_OUTPUT). */
  readBytes?: number;
  /** Events no iterator took, kept for later iterators, past which reading pauses (default 4096). */
  unclaimedLimit?: number;
}

export class EventPump {
  private readonly subscriptions = new Set<Subscription>();
  private readonly unclaimed: WskBridgeEvent[] = [];
  private readonly held = new Map<bigint, RawEventRecord[]>();
  private nextSequence = 1n;
  private inFlight = 0;
  private refed = false;
  private stopped = false;
  private failure: unknown = undefined;
  private readonly depth: number;
  private readonly readBytes: number;
  private readonly unclaimedLimit: number;
  /** Counters for stats and tests. */
  readonly counters = { readsCompleted: 0, eventsDecoded: 0, pauses: 0 };
  private paused = false;

  constructor(
    private readonly device: NativeDevice,
    private readonly host: EventHost,
    options: PumpOptions = {},
  ) {
    this.depth = options.depth ?? 4;
    this.readBytes = Math.max(options.readBytes ?? 256 * 1024, WSKB_READ_EVENTS_MIN_OUTPUT);
    this.unclaimedLimit = options.unclaimedLimit ?? 4096;
  }

  start(): void {
    this.kick();
  }

  /** `ended`: the socket's last event already went by; the iterator yields what is kept and ends. */
  subscribe(socketId: bigint | undefined, options: EventsOptions = {}, ended = false): AsyncIterableIterator<WskBridgeEvent> {
    const { signal, overflow = 'pause' } = options;
    if (overflow !== 'pause') throw new TypeError(`overflow must be 'pause' (the only policy that loses nothing), got ${JSON.stringify(overflow)}`);
    const highWaterMark = options.highWaterMark ?? 1024;
    if (!Number.isInteger(highWaterMark) || highWaterMark < 1) throw new RangeError(`highWaterMark must be a positive integer, got ${highWaterMark}`);
    const lowWaterMark = options.lowWaterMark ?? Math.floor(highWaterMark / 2);
    if (!Number.isInteger(lowWaterMark) || lowWaterMark < 0 || lowWaterMark >= highWaterMark) {
      throw new RangeError(`lowWaterMark must be an integer in [0, highWaterMark), got ${lowWaterMark}`);
    }
    if (signal !== undefined && !(signal instanceof AbortSignal)) throw new TypeError('signal must be an AbortSignal');
    if (signal?.aborted) throw new AbortError(undefined, { cause: signal.reason });

    const sub = new Subscription(this, socketId, highWaterMark, lowWaterMark, signal);
    // Hand over what arrived before anyone asked, in order.
    const keep: WskBridgeEvent[] = [];
    for (const event of this.unclaimed.splice(0)) (sub.matches(event) ? sub.queue : keep).push(event);
    this.unclaimed.push(...keep);
    if (sub.queue.length >= highWaterMark) sub.overHighWater = true;
    if (ended || (socketId !== undefined && sub.queue.some((e) => e.type === 'socketClosed'))) {
      sub.finish();
    } else if (this.failure !== undefined) {
      sub.fail(this.failure);
    } else if (this.stopped) {
      sub.finish();
    } else {
      this.subscriptions.add(sub);
    }
    this.kick();
    return sub;
  }

  unsubscribe(sub: Subscription): void {
    this.subscriptions.delete(sub);
    this.kick();
  }

  /** Holds the device (and so the process) alive exactly while some iterator waits. */
  updateRef(): void {
    let waiting = false;
    for (const sub of this.subscriptions) {
      if (sub.waiters.length > 0) {
        waiting = true;
        break;
      }
    }
    if (this.stopped) waiting = false;
    if (waiting === this.refed) return;
    this.refed = waiting;
    if (waiting) this.device.ref();
    else this.device.unref();
  }

  private get mayRead(): boolean {
    if (this.stopped || this.failure !== undefined) return false;
    if (this.unclaimed.length >= this.unclaimedLimit) return false;
    for (const sub of this.subscriptions) if (sub.overHighWater) return false;
    return true;
  }

  /** Issues READ_EVENTS until `depth` are pending, unless paused. */
  kick(): void {
    const may = this.mayRead;
    if (!may && !this.paused && !this.stopped) {
      this.paused = true;
      this.counters.pauses++;
    } else if (may) {
      this.paused = false;
    }
    while (this.mayRead && this.inFlight < this.depth) {
      this.inFlight++;
      try {
        this.device.ioctl(WSKB_IOCTL_READ_EVENTS, null, this.readBytes, (status, _information, output) => this.onRead(status, output), true);
      } catch (error) {
        this.inFlight--;
        this.fail(error);
        return;
      }
    }
  }

  private onRead(status: number, output: Buffer): void {
    this.inFlight--;
    this.counters.readsCompleted++;
    if (this.stopped) return;
    if (isError(status)) {
      // STATUS_CANCELLED: the handle is closing (or CancelIoEx); anything else is a driver bug.
      if (status === NTSTATUS.STATUS_CANCELLED) return;
      this.fail(new WskError('readEvents', status));
      return;
    }
    try {
      const records = decodeEventRecords(output);
      if (records.length > 0) this.accept(records);
      this.checkGap();
    } catch (error) {
      this.fail(error);
      return;
    }
    this.kick();
  }

  private accept(records: RawEventRecord[]): void {
    for (let i = 1; i < records.length; i++) {
      if (records[i]!.sequence !== records[i - 1]!.sequence + 1n) {
        throw new ProtocolError(`event sequence gap inside one batch: ${records[i - 1]!.sequence} then ${records[i]!.sequence}`);
      }
    }
    const first = records[0]!.sequence;
    if (first < this.nextSequence) {
      throw new ProtocolError(`event sequence ${first} delivered twice (expected ${this.nextSequence})`);
    }
    this.held.set(first, records);
    for (let batch = this.held.get(this.nextSequence); batch; batch = this.held.get(this.nextSequence)) {
      this.held.delete(this.nextSequence);
      this.nextSequence = batch[batch.length - 1]!.sequence + 1n;
      for (const record of batch) this.dispatch(decodeEvent(record, this.host));
    }
  }

  /** A batch waiting for an earlier one while no read is pending: the earlier one is lost. */
  private checkGap(): void {
    if (this.held.size > 0 && this.inFlight === 0) {
      const firstHeld = [...this.held.keys()].reduce((a, b) => (a < b ? a : b));
      throw new ProtocolError(`event sequence gap: expected ${this.nextSequence}, next delivered is ${firstHeld}`);
    }
  }

  private dispatch(event: WskBridgeEvent): void {
    this.counters.eventsDecoded++;
    let claimed = false;
    // A push may end a subscription and delete it from the set: safe while iterating a Set.
    for (const sub of this.subscriptions) {
      if (sub.matches(event)) {
        sub.push(event);
        claimed = true;
      }
    }
    const closedByUser = this.host.isClosedByUser(event.socketId);
    if (!claimed) {
      if (closedByUser) {
        // The user closed this socket without iterating it: drop what it left behind.
        if (event.type === 'socketClosed') {
          for (let i = this.unclaimed.length - 1; i >= 0; i--) if (this.unclaimed[i]!.socketId === event.socketId) this.unclaimed.splice(i, 1);
        }
      } else {
        this.unclaimed.push(event);
      }
    }
    if (event.type === 'socketClosed') this.host.socketClosedSeen?.(event.socketId);
  }

  /** A bug (gap, malformed record, driver failure): every iterator gets the error. */
  fail(error: unknown): void {
    if (this.failure !== undefined) return;
    this.failure = error;
    for (const sub of [...this.subscriptions]) sub.fail(error);
    this.subscriptions.clear();
    this.updateRef();
  }

  /** The session is closing: no more reads; iterators end after what they hold. */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    for (const sub of [...this.subscriptions]) sub.finish();
    this.subscriptions.clear();
    this.unclaimed.length = 0;
    this.updateRef();
  }

  get pending(): number {
    return this.inFlight;
  }

  get unclaimedCount(): number {
    return this.unclaimed.length;
  }
}

// SPDX-License-Identifier: MIT
//
// The session's event pump (the user-mode half of the inverted call) and the async iterators
// built on it.
//
// The pump keeps a few READ_EVENTS requests pending in the driver. Each completion carries a
// batch of whole records; decodeBatch() turns it into events, the pump puts batches back in
// sequence order (completions of different requests may reach JavaScript in any order), checks
// that sequence numbers have no gap and hands each event to every iterator whose filter matches.
//
// Decoding is lazy: the header fields the pump needs (type, sequence, socket) are read as
// numbers from one 32-bit view of the batch; an event's BigInts, payload Buffer and addresses
// are made only when user code reads them (getters), so an event costs one small object.
//
// Nothing is lost or reordered here (ARCHITECTURE.md, "Rules of the API"):
//  - events no iterator took are kept, per socket, for the next iterator (or receive() /
//    receiveFrom()) that asks for them; an iterator released with events unread (`break`,
//    return(), throw(), an AbortSignal) hands them back, in sequence order, ahead of later ones;
//  - backpressure is per socket. Past `unclaimedLimit` events (or `unclaimedBytes` payload bytes)
//    kept for a socket nobody reads, or past the high-water mark of a socket's own iterator, the
//    pump holds that socket back in the driver (SOCKET_FLOW): its receive indications are
//    paused by the driver's flow control, its datagrams counted as dropped for it, its
//    connections refused and counted, while every other socket goes on. The hold is visible: a
//    `socketPaused` event, `stats().socketsHeld`, and one process warning per socket with the code
//    WSKB_SOCKET_BACKPRESSURE. It is released below half the limit (or the low-water mark).
//  - a session-wide iterator past its high-water mark stops the pump itself (that iterator is
//    the consumer of every socket): the driver's queue fills to its budget and the driver pauses
//    receive indications of every socket.
//
// READ_EVENTS are weak: an idle session never keeps the process alive. Only while some
// iterator is waiting in next() does the pump hold a reference on the device.

import { endianness } from 'node:os';
import { inspect } from 'node:util';
import type { NativeDevice } from './addon.js';
import { AbortError, WskError, wskbError } from './errors.js';
import { isError, NTSTATUS, statusName } from './ntstatus.js';
import {
  decodeAddressPair,
  decodeInspectBody,
  encodeSocketFlowIn,
  fixedBodySize,
  layouts,
  ProtocolError,
  readSockaddr,
  WSKB_EVENT_ABORT,
  WSKB_EVENT_ACCEPT,
  WSKB_EVENT_ACCEPTS_REFUSED,
  WSKB_EVENT_DATAGRAMS_DROPPED,
  WSKB_EVENT_DISCONNECT,
  WSKB_EVENT_FLOW_PAUSED,
  WSKB_EVENT_FLOW_RESUMED,
  WSKB_EVENT_INSPECT,
  WSKB_EVENT_PAD,
  WSKB_EVENT_RECEIVE,
  WSKB_EVENT_RECEIVE_CLOSED,
  WSKB_EVENT_RECEIVE_FROM,
  WSKB_EVENT_SEND_BACKLOG,
  WSKB_EVENT_SOCKET_CLOSED,
  WSKB_EVENT_SOCKET_PAUSED,
  WSKB_EVENT_SOCKET_RESUMED,
  WSKB_IOCTL_READ_EVENTS,
  WSKB_IOCTL_SOCKET_FLOW,
  WSKB_READ_EVENTS_MIN_OUTPUT,
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
  /** The library held this socket back in the driver because nobody reads its events (see events()). */
  | (EventBase & { type: 'socketPaused' })
  /** ... and let it go again once they were read. */
  | (EventBase & { type: 'socketResumed' })
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
  /** Every event, as it is dispatched (the trace). */
  onEvent?(event: WskBridgeEvent): void;
}

// ---- lazy decoding ----------------------------------------------------------------------------

/** A socket id as a Map key without a BigInt: exact for generations below 2^21, a string beyond. */
export type SocketKey = number | string;

function socketKey(lo: number, hi: number): SocketKey {
  return hi < 0x200000 ? hi * 0x1_0000_0000 + lo : `${hi}:${lo}`;
}

/** The key of a socket id. */
export function socketKeyOf(id: bigint): SocketKey {
  return socketKey(Number(id & 0xffff_ffffn), Number(id >> 32n));
}

const HEADER = layouts.WSKB_EVENT_HEADER;
const HEADER_SIZE = HEADER.size;
const SOCKADDR_SIZE = layouts.WSKB_SOCKADDR.size;
const LITTLE_ENDIAN = endianness() === 'LE';
const TWO_32 = 0x1_0000_0000;

/** Reads a UINT64 of the batch as a number; beyond 2^53 it is a protocol error. */
function u64Number(buf: Buffer, at: number, what: string): number {
  const hi = buf.readUInt32LE(at + 4);
  if (hi >= 0x200000) throw new ProtocolError(`${what} ${buf.readBigUInt64LE(at)} is beyond 2^53`);
  return hi * TWO_32 + buf.readUInt32LE(at);
}

const BASE_FIELDS = ['type', 'sequence', 'timestamp', 'socketId', 'wskFlags'] as const;

/**
 * What every event is: a view on its record in the batch. The pump reads `_seq` and `_key`
 * (numbers); user code reads the public fields, which are getters. @internal
 */
abstract class BridgeEvent {
  declare readonly type: string;
  // Fields are declared and assigned in the constructor (assignment, not [[Define]] semantics:
  // cheaper per event on the hot path).
  /** @internal */ declare readonly _buf: Buffer;
  /** @internal */ declare readonly _at: number;
  /** @internal */ declare readonly _seq: number;
  /** @internal */ declare readonly _key: SocketKey;

  constructor(buf: Buffer, at: number, seq: number, key: SocketKey) {
    this._buf = buf;
    this._at = at;
    this._seq = seq;
    this._key = key;
  }

  get sequence(): bigint {
    return BigInt(this._seq);
  }
  get timestamp(): bigint {
    return this._buf.readBigUInt64LE(this._at + HEADER.offsets.Timestamp);
  }
  get socketId(): bigint {
    return this._buf.readBigUInt64LE(this._at + HEADER.offsets.SocketId);
  }
  get wskFlags(): number {
    return this._buf.readUInt32LE(this._at + HEADER.offsets.WskFlags);
  }
  /** @internal payload bytes held by this event (counted against unclaimedBytes). */
  get _bytes(): number {
    return 0;
  }
  /** @internal the public fields of this event type, beyond the base ones. */
  protected get _fields(): readonly string[] {
    return [];
  }

  /** The public fields as a plain object (what JSON.stringify and console.log show). */
  toJSON(): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const name of [...BASE_FIELDS, ...this._fields]) out[name] = (this as unknown as Record<string, unknown>)[name];
    return out;
  }

  [inspect.custom](depth: number, options: object): string {
    return `${this.constructor.name} ${inspect(this.toJSON(), { ...options, depth: depth < 0 ? null : depth })}`;
  }
}

/** An event with a payload: `data` is a view on the batch, made on first read. */
abstract class DataEvent extends BridgeEvent {
  /** @internal */ declare _p: number;
  /** @internal */ declare _n: number;
  private declare _data: Buffer | undefined;
  constructor(buf: Buffer, at: number, seq: number, key: SocketKey, payload: number, length: number) {
    super(buf, at, seq, key);
    this._p = payload;
    this._n = length;
    this._data = undefined;
  }
  get data(): Buffer {
    return (this._data ??= this._buf.subarray(this._p, this._p + this._n));
  }
  get flags(): number {
    return this.wskFlags;
  }
  override get _bytes(): number {
    return this._n;
  }
}

/** WskReceiveEvent data. */
class ReceiveEvent extends DataEvent {
  get bytesIndicated(): number {
    return u64Number(this._buf, this._at + HEADER.offsets.Param, 'BytesIndicated');
  }
  protected override get _fields(): readonly string[] {
    return ['data', 'bytesIndicated', 'flags'];
  }
  /** @internal the same record without its first `taken` bytes (receive() took them). */
  _rest(taken: number): ReceiveEvent {
    return new ReceiveEvent(this._buf, this._at, this._seq, this._key, this._p + taken, this._n - taken);
  }
}
Object.defineProperty(ReceiveEvent.prototype, 'type', { value: 'receive', enumerable: true });

/** WskReceiveFromEvent: one datagram, after its sender's WSKB_SOCKADDR. */
class ReceiveFromEvent extends DataEvent {
  private declare _from: WskAddress | null | undefined;
  constructor(buf: Buffer, at: number, seq: number, key: SocketKey, length: number) {
    super(buf, at, seq, key, at + HEADER_SIZE + SOCKADDR_SIZE, length);
    this._from = undefined;
  }
  get remoteAddress(): WskAddress | null {
    if (this._from === undefined) {
      const view = new DataView(this._buf.buffer, this._buf.byteOffset + this._at + HEADER_SIZE, SOCKADDR_SIZE);
      this._from = readSockaddr(view, 0);
    }
    return this._from;
  }
  protected override get _fields(): readonly string[] {
    return ['data', 'remoteAddress', 'flags'];
  }
}
Object.defineProperty(ReceiveFromEvent.prototype, 'type', { value: 'receiveFrom', enumerable: true });

/** Every other event (not the hot path): its fields are decoded at once, as own properties. */
class OtherEvent extends BridgeEvent {
  declare readonly type: string;
  private declare readonly _names: readonly string[];
  constructor(buf: Buffer, at: number, seq: number, key: SocketKey, type: string, fields: Record<string, unknown>) {
    super(buf, at, seq, key);
    Object.defineProperty(this, 'type', { value: type, enumerable: true });
    this._names = Object.keys(fields);
    Object.assign(this, fields);
  }
  protected override get _fields(): readonly string[] {
    return this._names;
  }
}
export interface DecodeOptions {
  /**
   * The buffer will be reused for a later READ_EVENTS: copy what the events keep (one copy of
   * the batch) so that no event refers to bytes about to be overwritten. Without it, events
   * refer to `buffer` itself, which must then never be written again.
   */
  reusedBuffer?: boolean;
}

/**
 * Decodes the first `length` bytes of a READ_EVENTS output into events, in record order. Every
 * rule of protocol.h is checked, because a record that breaks one means the two sides disagree
 * about the format and nothing after it can be trusted (ProtocolError). Accepted sockets are
 * entered into the session (host.adoptAcceptedSocket) as their records are decoded.
 */
export function decodeBatch(buffer: Buffer, length: number, host: EventHost, options: DecodeOptions = {}): WskBridgeEvent[] {
  if (!Number.isInteger(length) || length < 0 || length > buffer.byteLength) {
    throw new RangeError(`decodeBatch: length ${length} outside the buffer of ${buffer.byteLength} bytes`);
  }
  let buf = buffer;
  // One 32-bit view per batch needs 4-byte alignment; a reused buffer must not be referred to.
  if (options.reusedBuffer || (buffer.byteOffset & 3) !== 0 || !LITTLE_ENDIAN) {
    buf = Buffer.allocUnsafeSlow(length);
    buffer.copy(buf, 0, 0, length);
  }
  const words = new Uint32Array(buf.buffer, buf.byteOffset, length >>> 2);
  if (!LITTLE_ENDIAN) for (let i = 0; i < words.length; i++) words[i] = buf.readUInt32LE(i * 4); // our own copy
  const events: BridgeEvent[] = [];
  let at = 0;
  while (at < length) {
    if (length - at < HEADER_SIZE) throw new ProtocolError(`event record at ${at}: ${length - at} bytes left, header needs ${HEADER_SIZE}`);
    const size = words[at >>> 2]!;
    if (size < HEADER_SIZE || (size & 7) !== 0 || at + size > length) {
      throw new ProtocolError(`event record at ${at}: bad Size ${size} (batch of ${length} bytes)`);
    }
    const type = words[(at + 4) >>> 2]!;
    if (type !== WSKB_EVENT_PAD) {
      const seqHi = words[(at + 12) >>> 2]!;
      if (seqHi >= 0x200000) throw new ProtocolError(`event record at ${at}: sequence beyond 2^53`);
      const seq = seqHi * TWO_32 + words[(at + 8) >>> 2]!;
      const key = socketKey(words[(at + 24) >>> 2]!, words[(at + 28) >>> 2]!);
      const dataLength = words[(at + 36) >>> 2]!;
      const fixed = fixedBodySize(type);
      if (fixed + dataLength > size - HEADER_SIZE) {
        throw new ProtocolError(`event ${seq} (type ${type}): DataLength ${dataLength} overruns its record of ${size} bytes`);
      }
      if (type === WSKB_EVENT_RECEIVE) events.push(new ReceiveEvent(buf, at, seq, key, at + HEADER_SIZE, dataLength));
      else if (type === WSKB_EVENT_RECEIVE_FROM) events.push(new ReceiveFromEvent(buf, at, seq, key, dataLength));
      else events.push(decodeOther(buf, at, seq, key, type, host));
    }
    at += size;
  }
  return events as unknown as WskBridgeEvent[];
}

function decodeOther(buf: Buffer, at: number, seq: number, key: SocketKey, type: number, host: EventHost): BridgeEvent {
  const flags = buf.readUInt32LE(at + HEADER.offsets.WskFlags);
  const paramAt = at + HEADER.offsets.Param;
  const body = () => new DataView(buf.buffer, buf.byteOffset + at + HEADER_SIZE, fixedBodySize(type));
  const make = (name: string, fields: Record<string, unknown> = {}) => new OtherEvent(buf, at, seq, key, name, fields);
  switch (type) {
    case WSKB_EVENT_RECEIVE_CLOSED:
      return make('receiveClosed');
    case WSKB_EVENT_DISCONNECT:
      return make('disconnect', { abortive: (flags & WskFlag.Abortive) !== 0 });
    case WSKB_EVENT_SEND_BACKLOG:
      return make('sendBacklog', { idealBacklogSize: u64Number(buf, paramAt, 'IdealBacklogSize') });
    case WSKB_EVENT_ACCEPT: {
      const { localAddress, remoteAddress } = decodeAddressPair(body());
      const accepted = buf.readBigUInt64LE(paramAt);
      const socket = accepted === 0n ? null : host.adoptAcceptedSocket(accepted, localAddress, remoteAddress);
      return make('accept', { socket, listenerClosed: socket === null, localAddress, remoteAddress });
    }
    case WSKB_EVENT_INSPECT: {
      const decoded = decodeInspectBody(body());
      const token = buf.readBigUInt64LE(paramAt);
      const listener = buf.readBigUInt64LE(at + HEADER.offsets.SocketId);
      let decided: string | undefined;
      const decide = (action: number, name: string): Promise<void> => {
        if (decided !== undefined) {
          return Promise.reject(wskbError('ERR_WSKB_INSPECT_DECIDED', `inspect.${name}(): this inspection was already decided (${decided}() was called)`));
        }
        decided = name;
        return host.inspectComplete(listener, token, action);
      };
      return make('inspect', {
        ...decoded,
        token,
        accept: () => decide(WskInspectAction.Accept, 'accept'),
        reject: () => decide(WskInspectAction.Reject, 'reject'),
      });
    }
    case WSKB_EVENT_ABORT:
      return make('abort', { inspectId: decodeInspectBody(body()).inspectId, token: buf.readBigUInt64LE(paramAt) });
    case WSKB_EVENT_FLOW_PAUSED:
      return make('flowPaused', { bytesLeft: u64Number(buf, paramAt, 'bytes left') });
    case WSKB_EVENT_FLOW_RESUMED: {
      const status = buf.readInt32LE(paramAt);
      return make('flowResumed', { status, statusName: statusName(status) });
    }
    case WSKB_EVENT_DATAGRAMS_DROPPED:
      return make('datagramsDropped', { count: u64Number(buf, paramAt, 'count') });
    case WSKB_EVENT_ACCEPTS_REFUSED:
      return make('acceptsRefused', { count: u64Number(buf, paramAt, 'count') });
    case WSKB_EVENT_SOCKET_PAUSED:
      return make('socketPaused');
    case WSKB_EVENT_SOCKET_RESUMED:
      return make('socketResumed');
    case WSKB_EVENT_SOCKET_CLOSED:
      return make('socketClosed');
    default:
      throw new ProtocolError(`event ${seq}: unknown type ${type}`);
  }
}

// ---- iterators --------------------------------------------------------------------------------

export interface EventsOptions {
  /** Rejects a waiting next() with an AbortError and releases the iterator (its unread events go back). */
  signal?: AbortSignal;
  /** Only events of these types; the others stay unclaimed, for other iterators and once(). */
  types?: readonly WskBridgeEventType[];
  /**
   * Events buffered in this iterator past which it pushes back (default 1024): a socket's
   * iterator holds its socket back in the driver (as an unread socket is, see events()); a
   * session-wide iterator stops the pump, which slows every socket of the session.
   */
  highWaterMark?: number;
  /** The push-back ends once the buffer is back to this many events (default highWaterMark / 2). */
  lowWaterMark?: number;
  /** What happens past the high-water mark. Only 'pause' exists: the kernel is slowed, nothing is dropped. */
  overflow?: 'pause';
  /**
   * Yield arrays: each next() resolves with every event buffered at that moment (at least one),
   * in order. Much cheaper per event than one next() each.
   */
  batch?: boolean;
}

/** What once() and collect() add to an iterator: a filter, and how many events it takes. @internal */
export interface SubscribeExtra {
  filter?: (event: WskBridgeEvent) => boolean;
  limit?: number;
}

interface Waiter {
  resolve(result: IteratorResult<never>): void;
  reject(error: unknown): void;
}

/** Events the bridge reports about itself, as opposed to what WSK indicated. */
const REPORT_TYPES: ReadonlySet<string> = new Set(['flowPaused', 'flowResumed', 'datagramsDropped', 'acceptsRefused', 'socketPaused', 'socketResumed', 'socketClosed']);

const DONE: IteratorResult<never> = Object.freeze({ value: undefined, done: true }) as IteratorResult<never>;

class Subscription implements AsyncIterableIterator<WskBridgeEvent | WskBridgeEvent[]> {
  /** Buffered events, from `head` on (a FIFO whose shift is O(1)). */
  queue: BridgeEvent[] = [];
  head = 0;
  readonly waiters: Waiter[] = [];
  overHighWater = false;
  /** No more events will be added: the socket closed, the session closed, or released. */
  finished = false;
  /** Released by the user (return/throw/abort): unread events went back to the pump. */
  released = false;
  /** Waiters are to be resolved once the current batch is dispatched (queued with the pump). */
  flushPending = false;
  error: unknown = undefined;
  readonly key: SocketKey | undefined;
  private readonly onAbort?: () => void;

  constructor(
    private readonly pump: EventPump,
    readonly socketId: bigint | undefined,
    readonly highWaterMark: number,
    readonly lowWaterMark: number,
    readonly batch: boolean,
    private readonly signal: AbortSignal | undefined,
    private readonly accepts?: (event: WskBridgeEvent) => boolean,
    /** Takes at most this many events, then ends (once(), collect()). */
    public remaining = Infinity,
  ) {
    this.key = socketId === undefined ? undefined : socketKeyOf(socketId);
    if (signal) {
      this.onAbort = () => this.fail(new AbortError(undefined, { cause: signal.reason }), true);
      signal.addEventListener('abort', this.onAbort, { once: true });
    }
  }

  get length(): number {
    return this.queue.length - this.head;
  }

  matches(event: BridgeEvent): boolean {
    if (this.remaining <= 0) return false;
    if (this.key !== undefined && event._key !== this.key) return false;
    return this.accepts === undefined || this.accepts(event as unknown as WskBridgeEvent);
  }

  /** Takes one event from the pump. A single-event iterator with a waiter gets it at once. */
  push(event: BridgeEvent): void {
    this.remaining--;
    if (!this.batch && this.waiters.length > 0 && this.length === 0) {
      this.pump.yielded(event);
      this.waiters.shift()!.resolve({ value: event as unknown as never, done: false });
      this.pump.updateRef();
    } else {
      this.queue.push(event);
      // The bridge's own reports (flow, drops, holds) do not push back: they are few, and the
      // SOCKET_RESUMED that a release causes would otherwise hold the socket again at once.
      if (this.length >= this.highWaterMark && !this.overHighWater && !REPORT_TYPES.has(event.type)) {
        this.overHighWater = true;
        this.pump.pushedBack(this);
      }
      if (this.waiters.length > 0 && !this.flushPending) {
        this.flushPending = true;
        this.pump.flushLater(this);
      }
    }
    // A socket's iterator ends with the socket's last event.
    if (this.key !== undefined && event.type === 'socketClosed') this.finish();
    else if (this.remaining <= 0) this.finish();
  }

  /** Resolves waiters from the buffer (after a batch was dispatched). */
  flush(): void {
    this.flushPending = false;
    while (this.waiters.length > 0 && this.length > 0) this.waiters.shift()!.resolve({ value: this.take() as never, done: false });
    if (this.finished && this.length === 0) this.endWaiters();
    this.pump.updateRef();
  }

  /** The next value out of the buffer: one event, or all of them in batch mode. */
  private take(): WskBridgeEvent | WskBridgeEvent[] {
    let value: WskBridgeEvent | WskBridgeEvent[];
    if (this.batch) {
      const all = this.head === 0 ? this.queue : this.queue.slice(this.head);
      this.queue = [];
      this.head = 0;
      for (const event of all) this.pump.yielded(event);
      value = all as unknown as WskBridgeEvent[];
    } else {
      const event = this.queue[this.head]!;
      this.queue[this.head++] = undefined as unknown as BridgeEvent; // let it be collected
      if (this.head === this.queue.length) {
        this.queue = [];
        this.head = 0;
      } else if (this.head >= 1024 && this.head * 2 >= this.queue.length) {
        this.queue = this.queue.slice(this.head);
        this.head = 0;
      }
      this.pump.yielded(event);
      value = event as unknown as WskBridgeEvent;
    }
    if (this.overHighWater && this.length <= this.lowWaterMark) {
      this.overHighWater = false;
      this.pump.pushedBack(this);
    }
    return value;
  }

  /** Ends the iterator once its buffered events are consumed. */
  finish(): void {
    if (this.finished) return;
    this.finished = true;
    this.detach();
    if (this.length === 0) this.endWaiters();
  }

  /**
   * Ends the iterator with an error, delivered (as in Node's events.on) after the events
   * already buffered, to the waiting or next next() call. `release`: the user's own doing (an
   * abort): the buffered events go back to the pump instead.
   */
  fail(error: unknown, release = false): void {
    if (this.error !== undefined) return;
    if (release) this.release();
    this.error = error;
    this.finished = true;
    this.detach();
    const waiter = this.waiters.shift();
    if (waiter) {
      this.error = null; // delivered
      waiter.reject(error);
    }
    this.endWaiters();
  }

  private endWaiters(): void {
    for (const waiter of this.waiters.splice(0)) waiter.resolve(DONE);
    this.pump.updateRef();
  }

  private detach(): void {
    if (this.signal && this.onAbort) this.signal.removeEventListener('abort', this.onAbort);
    this.pump.unsubscribe(this);
  }

  /** The user let go: what is unread goes back to the pump, in order. */
  private release(): void {
    if (this.released) return;
    this.released = true;
    const unread = this.head === 0 ? this.queue : this.queue.slice(this.head);
    this.queue = [];
    this.head = 0;
    this.overHighWater = false;
    this.pump.giveBack(this, unread);
  }

  next(): Promise<IteratorResult<never>> {
    if (this.length > 0) return Promise.resolve({ value: this.take() as never, done: false });
    if (this.error !== undefined && this.error !== null) {
      const error = this.error;
      this.error = null;
      return Promise.reject(error);
    }
    if (this.finished) return Promise.resolve(DONE);
    return new Promise((resolve, reject) => {
      this.waiters.push({ resolve, reject });
      this.pump.updateRef();
    });
  }

  return(): Promise<IteratorResult<never>> {
    this.release();
    this.finish();
    this.endWaiters();
    return Promise.resolve(DONE);
  }

  throw(error?: unknown): Promise<IteratorResult<never>> {
    this.release();
    this.finish();
    this.endWaiters();
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
  /**
   * Events kept for one socket that no iterator took, past which that socket is held back in the
   * driver (default 4096); released at half. Per socket: other sockets are not affected.
   */
  unclaimedLimit?: number;
  /** The same limit in payload bytes of kept receive/receiveFrom events (default 4 MiB). */
  unclaimedBytes?: number;
}

/** Events kept for one socket, in sequence order. */
interface Unclaimed {
  events: BridgeEvent[];
  bytes: number;
}

/** The library's hold on one socket (SOCKET_FLOW). */
interface Hold {
  id: bigint;
  /** What the pump wants now. */
  want: boolean;
  /** What the driver was last told. */
  told: boolean;
}

export interface PumpCounters {
  readsCompleted: number;
  eventsDecoded: number;
  /** Times the pump stopped reading (a session-wide iterator past its high-water mark). */
  pauses: number;
  /** Times a socket was held back in the driver (nobody read it, or its iterator was full). */
  socketHolds: number;
}

export class EventPump {
  private readonly subscriptions = new Set<Subscription>();
  /** The same, as an array for the per-event loop (rebuilt when the set changes). */
  private subscribed: Subscription[] = [];
  private readonly unclaimed = new Map<SocketKey, Unclaimed>();
  private unclaimedTotal = 0;
  private readonly held = new Map<number, BridgeEvent[]>();
  /** READ_EVENTS output buffers to reuse (the driver writes into them: METHOD_OUT_DIRECT). */
  private readonly spare: Buffer[] = [];
  /** Events handed to more than one iterator: how many still hold them unread, and whether
   * one of them yielded it (then it never goes back to the unclaimed queue). */
  private readonly shared = new Map<BridgeEvent, { holders: number; taken: boolean }>();
  private readonly holds = new Map<SocketKey, Hold>();
  private readonly warned = new Set<SocketKey>();
  private toFlush: Subscription[] = [];
  private nextSequence = 1;
  private inFlight = 0;
  private refed = false;
  private stopped = false;
  private failure: unknown = undefined;
  private readonly depth: number;
  private readonly readBytes: number;
  private readonly unclaimedLimit: number;
  private readonly unclaimedBytes: number;
  /** Counters for stats and tests. */
  readonly counters: PumpCounters = { readsCompleted: 0, eventsDecoded: 0, pauses: 0, socketHolds: 0 };
  private paused = false;

  constructor(
    private readonly device: NativeDevice,
    private readonly host: EventHost,
    options: PumpOptions = {},
  ) {
    this.depth = options.depth ?? 4;
    this.readBytes = Math.max(options.readBytes ?? 256 * 1024, WSKB_READ_EVENTS_MIN_OUTPUT);
    this.unclaimedLimit = options.unclaimedLimit ?? 4096;
    this.unclaimedBytes = options.unclaimedBytes ?? 4 * 1024 * 1024;
  }

  start(): void {
    this.kick();
  }

  /** `ended`: the socket's last event already went by; the iterator yields what is kept and ends. */
  subscribe(socketId: bigint | undefined, options: EventsOptions & { batch: true }, ended?: boolean, extra?: SubscribeExtra): AsyncIterableIterator<WskBridgeEvent[]>;
  subscribe(socketId: bigint | undefined, options?: EventsOptions, ended?: boolean, extra?: SubscribeExtra): AsyncIterableIterator<WskBridgeEvent>;
  subscribe(socketId: bigint | undefined, options: EventsOptions = {}, ended = false, extra: SubscribeExtra = {}): AsyncIterableIterator<WskBridgeEvent | WskBridgeEvent[]> {
    const { signal, overflow = 'pause' } = options;
    if (overflow !== 'pause') throw new TypeError(`overflow must be 'pause' (the only policy that loses nothing), got ${JSON.stringify(overflow)}`);
    const highWaterMark = options.highWaterMark ?? 1024;
    if (!Number.isInteger(highWaterMark) || highWaterMark < 1) throw new RangeError(`highWaterMark must be a positive integer, got ${highWaterMark}`);
    const lowWaterMark = options.lowWaterMark ?? Math.floor(highWaterMark / 2);
    if (!Number.isInteger(lowWaterMark) || lowWaterMark < 0 || lowWaterMark >= highWaterMark) {
      throw new RangeError(`lowWaterMark must be an integer in [0, highWaterMark), got ${lowWaterMark}`);
    }
    if (options.batch !== undefined && typeof options.batch !== 'boolean') throw new TypeError(`batch must be a boolean, got ${String(options.batch)}`);
    if (signal !== undefined && !(signal instanceof AbortSignal)) throw new TypeError('signal must be an AbortSignal');
    if (signal?.aborted) throw new AbortError(undefined, { cause: signal.reason });

    const { types } = options;
    const { filter } = extra;
    const accepts =
      types === undefined && filter === undefined
        ? undefined
        : (event: WskBridgeEvent) => (types === undefined || types.includes(event.type)) && (filter === undefined || filter(event));
    const sub = new Subscription(this, socketId, highWaterMark, lowWaterMark, options.batch === true, signal, accepts, extra.limit);
    // Hand over what arrived before anyone asked, in order.
    sub.queue = this.claimUnclaimed(sub);
    sub.remaining -= sub.queue.length;
    if (sub.length >= highWaterMark) sub.overHighWater = true;
    if (sub.remaining <= 0) {
      sub.finish();
    } else if (ended || (sub.key !== undefined && sub.queue.some((e) => e.type === 'socketClosed'))) {
      sub.finish();
    } else if (this.failure !== undefined) {
      sub.fail(this.failure);
    } else if (this.stopped) {
      sub.finish();
    } else {
      this.subscriptions.add(sub);
      this.subscribed = [...this.subscriptions];
    }
    if (sub.overHighWater) this.pushedBack(sub);
    this.kick();
    return sub;
  }

  /** Takes the unclaimed events a new iterator matches, in sequence order. */
  private claimUnclaimed(sub: Subscription): BridgeEvent[] {
    const lists = sub.key === undefined ? [...this.unclaimed.keys()] : this.unclaimed.has(sub.key) ? [sub.key] : [];
    // With a limit (once(), collect()), only the earliest `remaining` matching events are taken.
    let chosen: Set<BridgeEvent> | undefined;
    if (Number.isFinite(sub.remaining)) {
      const candidates: BridgeEvent[] = [];
      for (const key of lists) for (const event of this.unclaimed.get(key)!.events) if (sub.matches(event)) candidates.push(event);
      candidates.sort((a, b) => a._seq - b._seq);
      chosen = new Set(candidates.slice(0, Math.max(0, sub.remaining)));
    }
    const taken: BridgeEvent[] = [];
    for (const key of lists) {
      const list = this.unclaimed.get(key)!;
      const keep: BridgeEvent[] = [];
      let keepBytes = 0;
      for (const event of list.events) {
        if (chosen ? chosen.has(event) : sub.matches(event)) taken.push(event);
        else {
          keep.push(event);
          keepBytes += event._bytes;
        }
      }
      this.unclaimedTotal -= list.events.length - keep.length;
      if (keep.length === 0) this.unclaimed.delete(key);
      else this.unclaimed.set(key, { events: keep, bytes: keepBytes });
      this.reviewHold(key);
    }
    if (lists.length > 1) taken.sort((a, b) => a._seq - b._seq);
    return taken;
  }

  unsubscribe(sub: Subscription): void {
    if (this.subscriptions.delete(sub)) this.subscribed = [...this.subscriptions];
    if (sub.key !== undefined) this.reviewHold(sub.key);
    this.kick();
  }

  /** An iterator crossed its high-water mark, either way. */
  pushedBack(sub: Subscription): void {
    if (sub.key !== undefined) this.reviewHold(sub.key);
    else this.kick();
  }

  /** An iterator yielded this event to user code. */
  yielded(event: BridgeEvent): void {
    if (this.shared.size === 0) return;
    const entry = this.shared.get(event);
    if (!entry) return;
    entry.taken = true;
    if (--entry.holders === 0) this.shared.delete(event);
  }

  /** A released iterator's unread events: back to the unclaimed queue, in order, unless another
   * iterator holds or yielded them too. */
  giveBack(sub: Subscription, unread: BridgeEvent[]): void {
    const back: BridgeEvent[] = [];
    for (const event of unread) {
      const entry = this.shared.size === 0 ? undefined : this.shared.get(event);
      if (entry) {
        if (--entry.holders > 0) continue;
        this.shared.delete(event);
        if (entry.taken) continue;
      }
      back.push(event);
    }
    if (back.length === 0 || this.stopped) return;
    const byKey = new Map<SocketKey, BridgeEvent[]>();
    for (const event of back) {
      if (this.host.isClosedByUser(event.socketId)) continue;
      let list = byKey.get(event._key);
      if (!list) byKey.set(event._key, (list = []));
      list.push(event);
    }
    for (const [key, events] of byKey) {
      const list = this.unclaimed.get(key);
      const merged = list ? mergeBySequence(events, list.events) : events;
      let bytes = 0;
      for (const event of merged) bytes += event._bytes;
      this.unclaimed.set(key, { events: merged, bytes });
      this.unclaimedTotal += events.length;
      this.reviewHold(key);
    }
    void sub;
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

  /** A subscription with waiters got events during this dispatch: resolve them afterwards. */
  flushLater(sub: Subscription): void {
    this.toFlush.push(sub);
  }

  private get mayRead(): boolean {
    if (this.stopped || this.failure !== undefined) return false;
    // Only a session-wide iterator stops the pump; a socket's own push-back holds that socket.
    for (const sub of this.subscriptions) if (sub.overHighWater && sub.key === undefined) return false;
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
    while (may && this.inFlight < this.depth) {
      this.inFlight++;
      try {
        // Uninitialized: the driver writes whole records (METHOD_OUT_DIRECT) and `information`
        // says how many bytes.
        const buffer = this.spare.pop() ?? Buffer.allocUnsafeSlow(this.readBytes);
        this.device.ioctl(WSKB_IOCTL_READ_EVENTS, null, buffer, (status, information) => this.onRead(status, information, buffer), true);
      } catch (error) {
        this.inFlight--;
        this.fail(error);
        return;
      }
    }
  }

  private onRead(status: number, information: number, buffer: Buffer): void {
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
      if (information > buffer.byteLength) throw new ProtocolError(`READ_EVENTS returned ${information} bytes into a ${buffer.byteLength}-byte buffer`);
      // Events are views on their batch. A small batch is copied out (one copy of `information`
      // bytes) and the buffer goes back to the spares; a large one (bulk data) is given to its
      // events and a fresh buffer is made, so bulk data is not copied here at all
      // (docs/performance.md, "Event path: fewer copies").
      const reuse = information <= this.readBytes >>> 3;
      const events = decodeBatch(buffer, information, this.host, { reusedBuffer: reuse }) as unknown as BridgeEvent[];
      if (reuse && this.spare.length < this.depth) this.spare.push(buffer);
      if (events.length > 0) this.accept(events);
      this.checkGap();
    } catch (error) {
      this.fail(error);
      return;
    }
    this.kick();
  }

  private accept(events: BridgeEvent[]): void {
    for (let i = 1; i < events.length; i++) {
      if (events[i]!._seq !== events[i - 1]!._seq + 1) {
        throw new ProtocolError(`event sequence gap inside one batch: ${events[i - 1]!._seq} then ${events[i]!._seq}`);
      }
    }
    const first = events[0]!._seq;
    if (first < this.nextSequence) {
      throw new ProtocolError(`event sequence ${first} delivered twice (expected ${this.nextSequence})`);
    }
    this.held.set(first, events);
    for (let batch = this.held.get(this.nextSequence); batch; batch = this.held.get(this.nextSequence)) {
      this.held.delete(this.nextSequence);
      this.nextSequence = batch[batch.length - 1]!._seq + 1;
      for (const event of batch) this.dispatch(event);
    }
    if (this.toFlush.length > 0) {
      const subs = this.toFlush;
      this.toFlush = [];
      for (const sub of subs) sub.flush();
    }
  }

  /** A batch waiting for an earlier one while no read is pending: the earlier one is lost. */
  private checkGap(): void {
    if (this.held.size > 0 && this.inFlight === 0) {
      const firstHeld = [...this.held.keys()].reduce((a, b) => (a < b ? a : b));
      throw new ProtocolError(`event sequence gap: expected ${this.nextSequence}, next delivered is ${firstHeld}`);
    }
  }

  private dispatch(event: BridgeEvent): void {
    this.counters.eventsDecoded++;
    this.host.onEvent?.(event as unknown as WskBridgeEvent);
    let claimed = 0;
    // A push may end a subscription (its socket closed) and so replace this.subscribed: the loop
    // goes on over the array it started with.
    const subs = this.subscribed;
    if (subs.length === 1) {
      const sub = subs[0]!;
      if (sub.matches(event)) {
        claimed = 1;
        sub.push(event);
      }
    } else if (subs.length > 1) {
      // Counted first: an event several iterators hold goes back only when the last lets go of it unread.
      const matching: Subscription[] = [];
      for (const sub of subs) if (sub.matches(event)) matching.push(sub);
      claimed = matching.length;
      if (claimed > 1) this.shared.set(event, { holders: claimed, taken: false });
      // A push may end a subscription and delete it from the set.
      for (const sub of matching) sub.push(event);
    }
    const closed = event.type === 'socketClosed';
    // A socket's iterator ends with its socket, also one whose types/filter refused the event.
    if (closed) for (const sub of subs) if (sub.key === event._key) sub.finish();
    if (claimed === 0) {
      if (this.host.isClosedByUser(event.socketId)) {
        // The user closed this socket without iterating it: drop what it left behind.
        if (closed) this.dropUnclaimed(event._key);
      } else {
        this.keep(event);
      }
    }
    if (closed) {
      this.holds.delete(event._key);
      this.host.socketClosedSeen?.(event.socketId);
    }
  }

  private keep(event: BridgeEvent): void {
    let list = this.unclaimed.get(event._key);
    if (!list) this.unclaimed.set(event._key, (list = { events: [], bytes: 0 }));
    list.events.push(event);
    list.bytes += event._bytes;
    this.unclaimedTotal++;
    if (list.events.length >= this.unclaimedLimit || list.bytes >= this.unclaimedBytes) this.reviewHold(event._key, event);
  }

  private dropUnclaimed(key: SocketKey): void {
    const list = this.unclaimed.get(key);
    if (!list) return;
    this.unclaimedTotal -= list.events.length;
    this.unclaimed.delete(key);
  }

  /**
   * Decides whether a socket is held back in the driver: kept events past the limits, or its
   * own iterator past its high-water mark; released below half the limits and the low-water mark.
   */
  private reviewHold(key: SocketKey, example?: BridgeEvent): void {
    if (key === 0 || this.stopped) return;
    const list = this.unclaimed.get(key);
    const count = list?.events.length ?? 0;
    const bytes = list?.bytes ?? 0;
    let full = false;
    for (const sub of this.subscriptions) if (sub.key === key && sub.overHighWater) full = true;
    let hold = this.holds.get(key);
    const want = hold?.want
      ? full || count > this.unclaimedLimit / 2 || bytes > this.unclaimedBytes / 2
      : full || count >= this.unclaimedLimit || bytes >= this.unclaimedBytes;
    if (!hold) {
      if (!want) return;
      const id = example?.socketId ?? list?.events[0]?.socketId ?? [...this.subscriptions].find((s) => s.key === key)?.socketId;
      if (id === undefined) return;
      this.holds.set(key, (hold = { id, want: false, told: false }));
    }
    if (hold.want === want) return;
    hold.want = want;
    if (want) {
      this.counters.socketHolds++;
      if (!this.warned.has(key)) {
        this.warned.add(key);
        const why = full
          ? 'its iterator is past its highWaterMark'
          : `${count} of its events (${bytes} payload bytes) are kept with no iterator to take them`;
        process.emitWarning(
          `wsk-bridge: socket 0x${hold.id.toString(16)} is held back in the driver because ${why}: its receive is paused by flow control, ` +
            'its datagrams are counted as dropped, its connections refused, until its events are read. Other sockets are not affected.',
          { code: 'WSKB_SOCKET_BACKPRESSURE' },
        );
      }
    }
    this.tellDriver(key, hold);
  }

  /**
   * Sends SOCKET_FLOW when the wanted state differs from the last one sent. Not waiting for the
   * previous request's completion: both devices issue a request on this thread and the driver
   * handles SOCKET_FLOW inside the call, so requests take effect in the order sent, and a
   * release takes effect before the code that caused it (an iterator draining) goes on.
   */
  private tellDriver(key: SocketKey, hold: Hold): void {
    if (hold.told === hold.want || this.stopped) return;
    const pause = hold.want;
    hold.told = pause;
    try {
      this.device.ioctl(
        WSKB_IOCTL_SOCKET_FLOW,
        encodeSocketFlowIn(hold.id, pause),
        0,
        (status) => {
          if (!isError(status)) return;
          // Closed meanwhile (or the session is closing): the driver forgot the socket.
          const gone = status === NTSTATUS.STATUS_INVALID_HANDLE || status === NTSTATUS.STATUS_CANCELLED || status === NTSTATUS.STATUS_DELETE_PENDING;
          if (!gone) process.emitWarning(`wsk-bridge: SOCKET_FLOW for socket 0x${hold.id.toString(16)} failed with ${statusName(status)}`, { code: 'WSKB_SOCKET_FLOW_FAILED' });
          if (this.holds.get(key) === hold) this.holds.delete(key);
        },
        true,
      );
    } catch {
      // The device closed: the session is going away with its sockets.
    }
  }

  /**
   * receive() / receiveFrom() on a socket with kept events: the data the driver already took from
   * WSK for it comes first. Receive: kept receive events at the head of the socket's queue, up to
   * maxLength bytes (the rest of a larger one stays). ReceiveFrom: the first kept datagram.
   * Stops at the socket's disconnect/close events. Undefined when there is none.
   */
  takeKept(socketId: bigint, kind: 'receive', maxLength: number): Buffer | undefined;
  takeKept(socketId: bigint, kind: 'receiveFrom', maxLength: number): WskBridgeEventOf<'receiveFrom'> | undefined;
  takeKept(socketId: bigint, kind: 'receive' | 'receiveFrom', maxLength: number): Buffer | WskBridgeEventOf<'receiveFrom'> | undefined {
    const key = socketKeyOf(socketId);
    const list = this.unclaimed.get(key);
    if (!list) return undefined;
    const events = list.events;
    const pieces: Buffer[] = [];
    let got = 0;
    let found: BridgeEvent | undefined;
    for (let i = 0; i < events.length && got < maxLength; i++) {
      const event = events[i]!;
      const type = event.type;
      if (type === 'disconnect' || type === 'receiveClosed' || type === 'socketClosed') break;
      if (type !== kind) continue;
      if (kind === 'receiveFrom') {
        found = event;
        events.splice(i, 1);
        list.bytes -= event._bytes;
        break;
      }
      const receive = event as unknown as ReceiveEvent;
      const want = Math.min(receive._n, maxLength - got);
      pieces.push(receive.data.subarray(0, want));
      got += want;
      list.bytes -= want;
      if (want < receive._n) {
        events[i] = receive._rest(want);
      } else {
        events.splice(i, 1);
        i--;
      }
    }
    const removed = kind === 'receiveFrom' ? (found ? 1 : 0) : pieces.length;
    if (removed === 0) return undefined;
    this.recount(key);
    return kind === 'receiveFrom' ? (found as unknown as WskBridgeEventOf<'receiveFrom'>) : pieces.length === 1 ? pieces[0]! : Buffer.concat(pieces);
  }

  private recount(key: SocketKey): void {
    let total = 0;
    for (const list of this.unclaimed.values()) total += list.events.length;
    this.unclaimedTotal = total;
    if (this.unclaimed.get(key)?.events.length === 0) this.unclaimed.delete(key);
    this.reviewHold(key);
  }

  /** A bug (gap, malformed record, driver failure): every iterator gets the error. */
  fail(error: unknown): void {
    if (this.failure !== undefined) return;
    this.failure = error;
    for (const sub of [...this.subscriptions]) sub.fail(error);
    this.subscriptions.clear();
    this.subscribed = [];
    this.updateRef();
  }

  /** The session is closing: no more reads; iterators end after what they hold. */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.spare.length = 0;
    for (const sub of [...this.subscriptions]) sub.finish();
    this.subscriptions.clear();
    this.subscribed = [];
    this.unclaimed.clear();
    this.unclaimedTotal = 0;
    this.shared.clear();
    this.holds.clear();
    this.updateRef();
  }

  get pending(): number {
    return this.inFlight;
  }

  /** Events kept for later iterators, all sockets together. */
  get unclaimedCount(): number {
    return this.unclaimedTotal;
  }

  /** Sockets held back in the driver right now because nobody reads them. */
  get socketsHeld(): number {
    let n = 0;
    for (const hold of this.holds.values()) if (hold.want) n++;
    return n;
  }
}

/** Merges two lists sorted by sequence. */
function mergeBySequence(a: BridgeEvent[], b: BridgeEvent[]): BridgeEvent[] {
  const out: BridgeEvent[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) out.push(a[i]!._seq <= b[j]!._seq ? a[i++]! : b[j++]!);
  while (i < a.length) out.push(a[i++]!);
  while (j < b.length) out.push(b[j++]!);
  return out;
}

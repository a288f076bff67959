// SPDX-License-Identifier: MIT
//
// A WSK socket inside the driver, addressed by its opaque 64-bit id. Each method is one IOCTL
// (send is chunked at MaxIoBytes); an error NTSTATUS from the driver or WSK rejects with
// WskError. The driver validates ids and socket kinds itself, so this class does not duplicate
// those checks: what an experiment sees is what the driver and WSK answer.

import { inspect } from 'node:util';
import { toWskAddress, type AddressLike } from './address.js';
import { checkInteger, checkOptions, formatSocketId, invalidArgType, outOfRange, WskError, type WskErrorContext } from './errors.js';
import type { EventsOptions, WskBridgeEvent, WskBridgeEventOf, WskBridgeEventType } from './events.js';
import { collectFrom, onceFrom, type CollectOptions, type OnceOptions } from './waiting.js';
import { isError, NTSTATUS } from './ntstatus.js';
import {
  decodeAcceptOut,
  decodeControlOut,
  decodeReceiveFromOut,
  decodeSockaddr,
  decodeTransferOut,
  encodeAcceptIn,
  encodeAddressIn,
  encodeControlSocketIn,
  encodeDataIn,
  encodeGetAddressIn,
  encodeSendToIn,
  encodeSocketId,
  layouts,
  WSKB_ADDRESS_LOCAL,
  WSKB_ADDRESS_REMOTE,
  WSKB_CONTROL_FLAG_USE_IRP,
  WSKB_IOCTL_ACCEPT,
  WSKB_IOCTL_BIND,
  WSKB_IOCTL_CLOSE,
  WSKB_IOCTL_CONNECT,
  WSKB_IOCTL_CONTROL_SOCKET,
  WSKB_IOCTL_DISCONNECT,
  WSKB_IOCTL_GET_ADDRESS,
  WSKB_IOCTL_RECEIVE,
  WSKB_IOCTL_RECEIVE_FROM,
  WSKB_IOCTL_SEND,
  WSKB_IOCTL_SEND_TO,
  WSKB_MAX_CONTROL_BYTES,
  type AddressFamily,
  type ControlOut,
  type WskAddress,
} from './protocol.js';
import type { WskSession } from './session.js';
import {
  eventMaskNames,
  MSG_TRUNC,
  SocketOption,
  SOL_SOCKET,
  validEventsByKind,
  WskControlSocketType,
  WskEvent,
  WskFlag,
  WSK_EVENT_ALL,
  type SocketKind,
} from './wsk.js';

export interface ControlRequest {
  /** WskSetOption (0), WskGetOption (1) or WskIoctl (2); any number is passed unchanged. */
  type: number;
  code: number;
  /** Default SOL_SOCKET. */
  level?: number;
  input?: Uint8Array | null;
  outputLength?: number;
  /** Pass an IRP to WskControlSocket (default false). */
  irp?: boolean;
}

export interface AcceptResult {
  socket: WskSocket;
  localAddress: WskAddress | null;
  remoteAddress: WskAddress | null;
}

export interface ReceiveFromResult {
  data: Buffer;
  remoteAddress: WskAddress | null;
  controlFlags: number;
  /** The datagram was longer than maxLength: WSK completed with the warning
   * STATUS_BUFFER_OVERFLOW (or flagged MSG_TRUNC) and `data` is its head. */
  truncated: boolean;
}

/** What SO_WSK_EVENT_CALLBACK returned: WSK's status, and the IRP's when one was passed. */
export interface EventControlResult {
  callStatus: number;
  irpStatus: number;
}

function u32(value: number): Buffer {
  const buf = Buffer.alloc(4);
  buf.writeUInt32LE(value >>> 0);
  return buf;
}

/** `{ flags }` options: no other key, flags an unsigned 32-bit integer. */
function checkFlags(options: { flags?: number } | undefined, extra: readonly string[] = []): number {
  checkOptions('options', options, ['flags', ...extra]);
  return checkInteger('options.flags', options?.flags ?? 0, 0, 0xffffffff);
}

function bytesOf(data: unknown, what: string): Uint8Array {
  if (typeof data === 'string') return Buffer.from(data);
  if (data instanceof Uint8Array) return data;
  throw invalidArgType(what, 'a Buffer, Uint8Array or string', data);
}

/** How long end() and close({ graceful: true }) wait for the peer's FIN after ours (ms). */
export const PEER_FIN_LINGER_MS = 2000;

export class WskSocket {
  /** Addresses known when the socket was accepted (WskAcceptEvent or accept()). */
  readonly acceptedAddresses: { localAddress: WskAddress | null; remoteAddress: WskAddress | null } | undefined;
  private closing: Promise<void> | undefined;
  private sessionGone = false;
  private lastEventSeen = false;
  /** The send queue: settles when the last send-side operation queued so far settled. */
  private sendTail: Promise<void> = Promise.resolve();
  private sendTickets = 0;
  private sendPoisonedThrough = 0;
  private sendFailure: unknown = undefined;
  /** A bind() succeeded (or the socket was accepted): a failed connect() explains itself otherwise. */
  private bound = false;

  /** @internal created by WskSession.socket(), accept() and accept events. */
  constructor(
    readonly session: WskSession,
    /** The driver's opaque id: generation (high 32 bits), session tag (16 bits), slot (16 bits); an id of another session names nothing here. Printed as `0x…` (formatSocketId()). */
    readonly id: bigint,
    readonly kind: SocketKind,
    readonly family: AddressFamily,
    accepted?: { localAddress: WskAddress | null; remoteAddress: WskAddress | null },
  ) {
    this.acceptedAddresses = accepted;
    this.bound = accepted !== undefined;
  }

  /** True once close() was called or the session closed. */
  get isClosed(): boolean {
    return this.closing !== undefined || this.sessionGone;
  }

  private ioctl(operation: string, code: number, input: Uint8Array, outputLength: number, context: WskErrorContext = {}) {
    return this.session._ioctl(operation, code, input, outputLength, { socketId: this.id, ...context });
  }

  /**
   * WskBind. `address` is a WskAddress, Node's AddressInfo, or `{ address, port }` (the family
   * is inferred from the text; 4, 6, 'ipv4', 'IPv4', … are all accepted).
   */
  async bind(address: AddressLike, options: { flags?: number } = {}): Promise<void> {
    const flags = checkFlags(options);
    const to = toWskAddress(address);
    await this.ioctl('bind', WSKB_IOCTL_BIND, encodeAddressIn(this.id, to, flags), 0, { address: to });
    this.bound = true;
  }

  /**
   * WskConnect (connection sockets). WSK requires the socket to be bound first: bind to
   * `{ address: '0.0.0.0', port: 0 }` (or '::'), or use `session.connect()`, which does both.
   */
  async connect(address: AddressLike, options: { flags?: number } = {}): Promise<void> {
    const flags = checkFlags(options);
    const to = toWskAddress(address);
    const hint = this.bound ? undefined : `the socket was never bound, and WSK connects only bound sockets: call bind({ address: '${to.family === 'ipv4' ? '0.0.0.0' : '::'}', port: 0 }) first, or use session.connect() (WskSocketConnect: create, bind and connect in one)`;
    await this.ioctl('connect', WSKB_IOCTL_CONNECT, encodeAddressIn(this.id, to, flags), 0, { address: to, ...(hint ? { detail: hint } : {}) });
  }

  /** SO_CONDITIONAL_ACCEPT on a listening socket, with an IRP (before bind). */
  async setConditionalAccept(on: boolean): Promise<EventControlResult> {
    const result = await this.control({
      type: WskControlSocketType.SetOption,
      code: SocketOption.SO_CONDITIONAL_ACCEPT,
      level: SOL_SOCKET,
      input: u32(on ? 1 : 0),
      irp: true,
    });
    if (isError(result.irpStatus)) throw new WskError('setConditionalAccept', result.irpStatus, { socketId: this.id, detail: 'the IRP completed with it' });
    if (isError(result.callStatus)) throw new WskError('setConditionalAccept', result.callStatus, { socketId: this.id });
    return { callStatus: result.callStatus, irpStatus: result.irpStatus };
  }

  /** WskAccept, IRP style: resolves with the next connection on this listening socket. */
  async accept(options: { flags?: number } = {}): Promise<AcceptResult> {
    const result = await this.ioctl('accept', WSKB_IOCTL_ACCEPT, encodeAcceptIn(this.id, checkFlags(options)), layouts.WSKB_ACCEPT_OUT.size);
    const out = decodeAcceptOut(result.output);
    const family = out.localAddress?.family ?? this.family;
    const socket = new WskSocket(this.session, out.acceptedSocketId, 'connection', family, {
      localAddress: out.localAddress,
      remoteAddress: out.remoteAddress,
    });
    this.session._register(socket);
    return { socket, localAddress: out.localAddress, remoteAddress: out.remoteAddress };
  }

  /**
   * WskSend, in chunks of at most the driver's MaxIoBytes, one after another. Resolves with the
   * bytes sent. Sends of one socket leave in call order whether or not the caller awaits each
   * one: a send starts only after the previous send(), sendTo() or graceful disconnect() of this
   * socket completed. When a send fails, the sends already queued behind it fail too (with the
   * failure as their `cause`) instead of putting their bytes on the wire after a gap.
   */
  async send(data: Uint8Array | string, options: { flags?: number } = {}): Promise<number> {
    const bytes = bytesOf(data, 'data');
    const flags = checkFlags(options);
    return this.inSendOrder('send', true, () => this.sendNow(bytes, flags));
  }

  private async sendNow(bytes: Uint8Array, flags: number): Promise<number> {
    const chunk = this.session.maxIoBytes;
    let sent = 0;
    do {
      const piece = bytes.subarray(sent, Math.min(sent + chunk, bytes.byteLength));
      const result = await this.ioctl('send', WSKB_IOCTL_SEND, encodeDataIn(this.id, flags, piece), layouts.WSKB_TRANSFER_OUT.size);
      const done = decodeTransferOut(result.output);
      if (done > piece.byteLength) throw new Error(`send: the driver reported ${done} bytes sent of ${piece.byteLength}`);
      // WSK completes a stream send only when all its bytes are taken; a short count is kept
      // going rather than trusted to never happen.
      if (done === 0 && piece.byteLength > 0) throw new Error(`send: WSK sent 0 of ${piece.byteLength} bytes`);
      sent += done;
    } while (sent < bytes.byteLength);
    return sent;
  }

  /**
   * Runs `run` after every earlier send-side operation of this socket settled: one queue per
   * socket, so bytes leave in call order. `stream`: a failure fails the stream operations queued
   * behind it (a datagram's failure concerns only that datagram).
   */
  private inSendOrder<T>(operation: string, stream: boolean, run: () => Promise<T>): Promise<T> {
    const ticket = ++this.sendTickets;
    const result = this.sendTail.then(() => {
      if (stream && ticket <= this.sendPoisonedThrough) {
        throw new Error(`${operation}: not sent because an earlier send on this socket failed (socket 0x${this.id.toString(16)})`, {
          cause: this.sendFailure,
        });
      }
      return run();
    });
    this.sendTail = result.then(
      () => undefined,
      (error: unknown) => {
        if (!stream) return;
        // Everything queued so far is behind the failure.
        if (ticket > this.sendPoisonedThrough) this.sendFailure = error;
        this.sendPoisonedThrough = this.sendTickets;
      },
    );
    return result;
  }

  /**
   * WskReceive, IRP style: resolves with 1 to maxLength bytes. An empty Buffer means the peer
   * closed gracefully (a WskReceive completing with 0 bytes), which is why `maxLength` 0 is
   * refused (ERR_OUT_OF_RANGE): its empty answer could not be told from the peer's FIN. It is
   * taken with WskFlag.Drain (WSK's zero-length drain) or `{ zeroLength: true }` (a probe).
   * Data WSK already indicated to this socket's receive event that no iterator took (kept by
   * the session, or handed back by a `break`) is returned first, without a WskReceive; data
   * indicated while the WskReceive is pending goes to the events.
   */
  async receive(maxLength = 65536, options: { flags?: number; zeroLength?: boolean } = {}): Promise<Buffer> {
    const flags = checkFlags(options, ['zeroLength']);
    // WSK_FLAG_DRAIN takes a zero-length buffer by definition; a zero-length probe says so.
    if (maxLength === 0 && (flags & WskFlag.Drain) === 0 && options.zeroLength !== true) {
      throw outOfRange(
        'maxLength',
        `an integer >= 1 and <= ${this.session.maxIoBytes}: an empty result means the peer's FIN, which a zero-length receive could not tell from data (pass { zeroLength: true } to issue one anyway)`,
        maxLength,
      );
    }
    checkInteger('maxLength', maxLength, 0, this.session.maxIoBytes);
    const input = encodeDataIn(this.id, flags, null, maxLength);
    // Data WSK already indicated to the receive event, which no iterator took, comes first.
    const kept = maxLength > 0 ? this.session._takeKept(this.id, 'receive', maxLength) : undefined;
    if (kept) return kept;
    const result = await this.ioctl('receive', WSKB_IOCTL_RECEIVE, input, maxLength);
    return result.output.subarray(0, result.information);
  }

  /** WskSendTo (datagram sockets). Resolves with the bytes sent. Datagrams of one socket
   * leave in call order (see send()); a failed one does not fail those behind it. */
  async sendTo(data: Uint8Array | string, address: AddressLike, options: { flags?: number } = {}): Promise<number> {
    const bytes = bytesOf(data, 'data');
    if (bytes.byteLength > this.session.maxIoBytes) {
      throw outOfRange('data.byteLength', `<= MaxIoBytes ${this.session.maxIoBytes} (one datagram)`, bytes.byteLength);
    }
    const to = toWskAddress(address);
    const input = encodeSendToIn(this.id, to, checkFlags(options), bytes);
    return this.inSendOrder('sendTo', false, async () => {
      const result = await this.ioctl('sendTo', WSKB_IOCTL_SEND_TO, input, layouts.WSKB_TRANSFER_OUT.size, { address: to });
      return decodeTransferOut(result.output);
    });
  }

  /** WskReceiveFrom, IRP style: the next datagram (truncated to maxLength) and its sender. A
   * datagram already indicated to the receive-from event that no iterator took comes first
   * (its controlFlags then carry MSG_TRUNC only). */
  async receiveFrom(maxLength = 65536, options: { flags?: number } = {}): Promise<ReceiveFromResult> {
    checkInteger('maxLength', maxLength, 0, this.session.maxIoBytes);
    const input = encodeDataIn(this.id, checkFlags(options), null, maxLength);
    // A datagram WSK already indicated to the receive-from event, which no iterator took, comes first.
    const kept = this.session._takeKept(this.id, 'receiveFrom', maxLength);
    if (kept) {
      const truncated = kept.data.byteLength > maxLength;
      return { data: truncated ? kept.data.subarray(0, maxLength) : kept.data, remoteAddress: kept.remoteAddress, controlFlags: truncated ? MSG_TRUNC : 0, truncated };
    }
    const result = await this.ioctl('receiveFrom', WSKB_IOCTL_RECEIVE_FROM, input, layouts.WSKB_RECEIVE_FROM_OUT.size + maxLength);
    if (result.status !== 0 && result.output.length < layouts.WSKB_RECEIVE_FROM_OUT.size) {
      // A warning (not an error) with nothing copied back: the datagram is gone, say why.
      throw new WskError('receiveFrom', result.status, { socketId: this.id, detail: 'the driver returned no WSKB_RECEIVE_FROM_OUT with this warning' });
    }
    const out = decodeReceiveFromOut(result.output.subarray(0, result.information));
    const truncated = result.status === NTSTATUS.STATUS_BUFFER_OVERFLOW || (out.controlFlags & MSG_TRUNC) !== 0;
    return { data: out.data, remoteAddress: out.remoteAddress, controlFlags: out.controlFlags, truncated };
  }

  /**
   * WskDisconnect: graceful (FIN, after optional final data) or abortive (RST). A graceful one
   * waits for the sends queued before it (its data and FIN follow their bytes); an abortive one
   * goes at once.
   */
  async disconnect(options: { abortive?: boolean; data?: Uint8Array | string } = {}): Promise<void> {
    checkOptions('options', options, ['abortive', 'data']);
    const data = options.data === undefined ? null : bytesOf(options.data, 'data');
    const flags = options.abortive ? WskFlag.Abortive : 0;
    const input = encodeDataIn(this.id, flags, data);
    if (options.abortive) {
      await this.ioctl('disconnect', WSKB_IOCTL_DISCONNECT, input, 0);
      return;
    }
    await this.inSendOrder('disconnect', true, () => this.ioctl('disconnect', WSKB_IOCTL_DISCONNECT, input, 0));
  }

  /** WskGetLocalAddress. */
  async localAddress(): Promise<WskAddress | null> {
    const result = await this.ioctl('localAddress', WSKB_IOCTL_GET_ADDRESS, encodeGetAddressIn(this.id, WSKB_ADDRESS_LOCAL), layouts.WSKB_SOCKADDR.size);
    return decodeSockaddr(result.output);
  }

  /** WskGetRemoteAddress. */
  async remoteAddress(): Promise<WskAddress | null> {
    const result = await this.ioctl('remoteAddress', WSKB_IOCTL_GET_ADDRESS, encodeGetAddressIn(this.id, WSKB_ADDRESS_REMOTE), layouts.WSKB_SOCKADDR.size);
    return decodeSockaddr(result.output);
  }

  /**
   * WskControlSocket, raw: type, code, level and input reach WSK unchanged (for
   * SO_WSK_EVENT_CALLBACK the driver fills NpiId). Resolves with WSK's own statuses whatever
   * they are; rejects only when the driver refuses the request itself (unknown id, bad length).
   *
   * Only the calls of the driver's allowlist pass (CONTROL_ALLOWLIST in lib/controls.ts,
   * docs/controls.md): scalar options at SOL_SOCKET / IPPROTO_IP / IPV6 / TCP / UDP (set: 4
   * bytes of input; get: outputLength 4; `irp: true` required), SO_WSK_EVENT_CALLBACK (4-byte
   * mask; no IRP to enable, optional to disable), SIO_WSK_QUERY_IDEAL_SEND_BACKLOG /
   * SIO_WSK_QUERY_RECEIVE_BACKLOG (outputLength 8, IRP), SIO_WSK_SET_REMOTE_ADDRESS /
   * SIO_WSK_SET_SENDTO_ADDRESS (a SOCKADDR or nothing, IRP) and SIO_WSK_SET_TCP_SILENT_MODE
   * (IRP). Anything else rejects with STATUS_NOT_SUPPORTED (codes whose buffers carry pointers,
   * such as SO_WSK_SECURITY, SIO_ADDRESS_LIST_QUERY, SIO_WSK_QUERY_INSPECT_ID, are never
   * forwarded), a size outside the entry with STATUS_INVALID_BUFFER_SIZE, and an `irp` against
   * the entry's IRP rule with STATUS_INVALID_PARAMETER_MIX, all before WSK sees the call.
   */
  async control(request: ControlRequest): Promise<ControlOut> {
    if (request === null || typeof request !== 'object') throw invalidArgType('request', 'an object { type, code, level?, input?, outputLength?, irp? }', request);
    checkOptions('request', request, ['type', 'code', 'level', 'input', 'outputLength', 'irp']);
    const outputLength = checkInteger('request.outputLength', request.outputLength ?? 0, 0, WSKB_MAX_CONTROL_BYTES);
    const input = encodeControlSocketIn({
      socketId: this.id,
      requestType: request.type,
      code: request.code,
      level: request.level ?? SOL_SOCKET,
      input: request.input ?? null,
      outputLength,
      flags: request.irp ? WSKB_CONTROL_FLAG_USE_IRP : 0,
    });
    const result = await this.ioctl('control', WSKB_IOCTL_CONTROL_SOCKET, input, layouts.WSKB_CONTROL_OUT.size + outputLength);
    return decodeControlOut(result.output);
  }

  /** SO_WSK_EVENT_CALLBACK with any mask, unchanged (several events with WskEvent.Disable too). */
  async setEventCallbackRaw(mask: number, options: { irp?: boolean } = {}): Promise<ControlOut> {
    return this.control({
      type: WskControlSocketType.SetOption,
      code: SocketOption.SO_WSK_EVENT_CALLBACK,
      level: SOL_SOCKET,
      input: u32(mask),
      irp: options.irp ?? false,
    });
  }

  /**
   * Enables one or several event callbacks in one SO_WSK_EVENT_CALLBACK call, without an IRP
   * (as the documentation's example does). Rejects masks that do not fit this socket's kind;
   * setEventCallbackRaw() sends anything.
   */
  async enableEvents(mask: number): Promise<EventControlResult> {
    if (!Number.isInteger(mask) || mask <= 0 || (mask & WskEvent.Disable) !== 0 || (mask & ~WSK_EVENT_ALL) !== 0) {
      throw new TypeError(
        `enableEvents(mask): mask must be a non-empty OR of WskEvent flags without WskEvent.Disable, got 0x${(mask >>> 0).toString(16)}`,
      );
    }
    const valid = validEventsByKind[this.kind];
    if ((mask & ~valid) !== 0) {
      throw new TypeError(
        `enableEvents(${eventMaskNames(mask)}): ${eventMaskNames(mask & ~valid)} cannot be enabled on a ${this.kind} socket (valid: ${eventMaskNames(valid)}); setEventCallbackRaw() sends it anyway`,
      );
    }
    const result = await this.setEventCallbackRaw(mask, { irp: false });
    if (isError(result.callStatus)) throw new WskError('enableEvents', result.callStatus, { socketId: this.id, detail: `SO_WSK_EVENT_CALLBACK ${eventMaskNames(mask)}` });
    return { callStatus: result.callStatus, irpStatus: result.irpStatus };
  }

  /**
   * Disables exactly one event callback: mask = event | WSK_EVENT_DISABLE, with an IRP by
   * default. Resolves with WSK's statuses: STATUS_PENDING (IRP) or STATUS_EVENT_PENDING (no IRP)
   * when callbacks were in progress. WSK requires one event per call, so several are a TypeError
   * here; setEventCallbackRaw() can send them to see what WSK answers.
   */
  async disableEvent(event: number, options: { irp?: boolean } = {}): Promise<EventControlResult> {
    const bits = Number.isInteger(event) ? event & WSK_EVENT_ALL : 0;
    if (!Number.isInteger(event) || event !== bits || bits === 0 || (bits & (bits - 1)) !== 0) {
      throw new TypeError(
        `disableEvent(event): exactly one WskEvent flag is required (WSK disables events one at a time), got ${Number.isInteger(event) ? eventMaskNames(event) : String(event)}; setEventCallbackRaw() sends any mask`,
      );
    }
    const result = await this.setEventCallbackRaw((event | WskEvent.Disable) >>> 0, { irp: options.irp ?? true });
    if (isError(result.callStatus)) throw new WskError('disableEvent', result.callStatus, { socketId: this.id, detail: `SO_WSK_EVENT_CALLBACK ${eventMaskNames(event)}|Disable` });
    if (isError(result.irpStatus)) throw new WskError('disableEvent', result.irpStatus, { socketId: this.id, detail: `SO_WSK_EVENT_CALLBACK ${eventMaskNames(event)}|Disable: the IRP completed with it` });
    return { callStatus: result.callStatus, irpStatus: result.irpStatus };
  }

  /**
   * This socket's events, in order; ends after its socketClosed event. Events that arrived
   * before any iterator asked (say between enableEvents() and this call), or that an earlier
   * iterator left unread (`break`), are delivered first. Past `highWaterMark` buffered events
   * this socket alone is held back in the driver. What can be dropped and how it is counted:
   * see WskSession.events().
   */
  events(options: EventsOptions & { batch: true }): AsyncIterableIterator<WskBridgeEvent[]>;
  events(options?: EventsOptions): AsyncIterableIterator<WskBridgeEvent>;
  events(options: EventsOptions = {}): AsyncIterableIterator<WskBridgeEvent> | AsyncIterableIterator<WskBridgeEvent[]> {
    // Once its last event went by, the iterator yields what was kept for it and ends.
    return this.session._socketEvents(this.id, options, this.lastEventSeen);
  }

  /**
   * The next event of `type` on this socket, like Node's `events.once()`: rejects with
   * AbortError (ABORT_ERR) when `signal` aborts, TimeoutError (ETIMEDOUT) after `timeout` ms, an
   * ERR_WSKB_SOCKET_CLOSED / ERR_WSKB_SESSION_CLOSED error when the socket or session ends
   * first. Events of other types, and those `filter` refuses, stay for other iterators.
   */
  once<T extends WskBridgeEventType>(type: T, options?: OnceOptions<WskBridgeEventOf<T>>): Promise<WskBridgeEventOf<T>> {
    try {
      return onceFrom(this.session._eventSource(this.id, () => this.lastEventSeen), type, options);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /**
   * The next `count` events of this socket (of `types`, passing `filter`), in order. On timeout
   * the TimeoutError's `received` holds those that came.
   */
  collect(count: number, options?: CollectOptions): Promise<WskBridgeEvent[]> {
    try {
      return collectFrom(this.session._eventSource(this.id, () => this.lastEventSeen), `socket ${formatSocketId(this.id)}.collect()`, count, options);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /**
   * Ends a connection as Node's `socket.end()` does: a graceful WskDisconnect (a FIN after the
   * data already sent), then waits up to `lingerMs` (default 2000) for the peer's FIN, discarding
   * what it still sends, then WskCloseSocket, which resets the connection only if the peer did
   * not finish in time (WSK's close is abortive unless both directions are disconnected). Other kinds of socket are just closed. The close
   * happens even when the disconnect fails; the disconnect's error is then thrown.
   */
  async end(options: { lingerMs?: number } = {}): Promise<void> {
    checkOptions('options', options, ['lingerMs']);
    const lingerMs = options.lingerMs ?? PEER_FIN_LINGER_MS;
    checkInteger('options.lingerMs', lingerMs, 0, 2 ** 31 - 1);
    if (this.kind !== 'connection' || this.isClosed) return this.close();
    try {
      await this.disconnect();
      await this._awaitPeerFin(lingerMs);
    } finally {
      await this.close();
    }
  }

  /**
   * After our graceful WskDisconnect: waits for the peer's FIN (a WskReceive completing with 0
   * bytes), discarding what the peer still sends, for at most `ms`. WSK closes a connection that
   * is not disconnected both ways abortively (docs/wsk-facts.md 3.10), so a close right after our
   * FIN would reset the connection and the peer could lose our FIN to the reset. Resolves true
   * when the peer finished in time. @internal
   */
  async _awaitPeerFin(ms: number): Promise<boolean> {
    const deadline = Date.now() + ms;
    for (;;) {
      const left = deadline - Date.now();
      if (left <= 0) return false;
      const receiving = this.receive(65536);
      // A receive still pending at the deadline is cancelled by the close that follows.
      receiving.catch(() => undefined);
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<null>((resolve) => (timer = setTimeout(() => resolve(null), left)));
      try {
        const data = await Promise.race([receiving, timedOut]);
        if (data === null) return false;
        if (data.byteLength === 0) return true;
      } catch {
        return false; // reset or aborted: nothing left to wait for
      } finally {
        clearTimeout(timer);
      }
    }
  }

  /**
   * WskCloseSocket. Idempotent; pending requests on the socket complete (cancelled) first.
   * On a connection that was not disconnected this **resets** it (WSK's close is abortive: the
   * peer sees ECONNRESET); use `end()` for a graceful close.
   */
  close(): Promise<void> {
    // A closing session's cleanup closes every socket of the handle in the driver.
    if (this.sessionGone || (this.session.isClosed && !this.closing)) return Promise.resolve();
    if (!this.closing) {
      this.session._forget(this.id);
      this.closing = this.ioctl('close', WSKB_IOCTL_CLOSE, encodeSocketId(this.id), 0).then(() => undefined);
    }
    return this.closing;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    if (this.session.isClosed) return;
    await this.close();
  }

  /** @internal its socketClosed event was dispatched. */
  _closedSeen(): void {
    this.lastEventSeen = true;
  }

  /** @internal the session's handle closed: the driver closed this socket in its cleanup. */
  _sessionClosed(): void {
    this.sessionGone = true;
  }

  toString(): string {
    return `WskSocket(${this.kind}, ${this.family}, id ${formatSocketId(this.id)})`;
  }

  /** `WskSocket { id: 0x10001, kind: 'connection', family: 'ipv4', open }`: no session internals. */
  [inspect.custom](_depth: number, options: { stylize(text: string, style: string): string }): string {
    return `WskSocket { id: ${options.stylize(formatSocketId(this.id), 'number')}, kind: ${options.stylize(`'${this.kind}'`, 'string')}, family: ${options.stylize(`'${this.family}'`, 'string')}, ${this.isClosed ? 'closed' : 'open'} }`;
  }
}

// SPDX-License-Identifier: MIT
//
// A WSK socket inside the driver, addressed by its opaque 64-bit id. Each method is one IOCTL
// (send is chunked at MaxIoBytes); an error NTSTATUS from the driver or WSK rejects with
// WskError. The driver validates ids and socket kinds itself, so this class does not duplicate
// those checks: what an experiment sees is what the driver and WSK answer.

import { WskError } from './errors.js';
import type { EventsOptions, WskBridgeEvent } from './events.js';
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

function checkLength(value: unknown, max: number, what: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > max) {
    throw new RangeError(`${what} must be an integer in [0, ${max}], got ${String(value)}`);
  }
  return value;
}

function checkFlags(value: unknown): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 0xffffffff) {
    throw new RangeError(`flags must be an unsigned 32-bit integer, got ${String(value)}`);
  }
  return value;
}

function bytesOf(data: unknown, what: string): Uint8Array {
  if (typeof data === 'string') return Buffer.from(data);
  if (data instanceof Uint8Array) return data;
  throw new TypeError(`${what} must be a Buffer, Uint8Array or string`);
}

export class WskSocket {
  /** Addresses known when the socket was accepted (WskAcceptEvent or accept()). */
  readonly acceptedAddresses: { localAddress: WskAddress | null; remoteAddress: WskAddress | null } | undefined;
  private closing: Promise<void> | undefined;
  private sessionGone = false;
  private lastEventSeen = false;

  /** @internal created by WskSession.socket(), accept() and accept events. */
  constructor(
    readonly session: WskSession,
    /** The driver's opaque id: (generation << 32) | (session tag << 16) | slot; an id of another session names nothing here. */
    readonly id: bigint,
    readonly kind: SocketKind,
    readonly family: AddressFamily,
    accepted?: { localAddress: WskAddress | null; remoteAddress: WskAddress | null },
  ) {
    this.acceptedAddresses = accepted;
  }

  /** True once close() was called or the session closed. */
  get isClosed(): boolean {
    return this.closing !== undefined || this.sessionGone;
  }

  private ioctl(operation: string, code: number, input: Uint8Array, outputLength: number) {
    return this.session._ioctl(operation, code, input, outputLength);
  }

  /** WskBind. */
  async bind(address: WskAddress, options: { flags?: number } = {}): Promise<void> {
    await this.ioctl('bind', WSKB_IOCTL_BIND, encodeAddressIn(this.id, address, checkFlags(options.flags ?? 0)), 0);
  }

  /** WskConnect (connection sockets; the socket must be bound first, as WSK requires). */
  async connect(address: WskAddress, options: { flags?: number } = {}): Promise<void> {
    await this.ioctl('connect', WSKB_IOCTL_CONNECT, encodeAddressIn(this.id, address, checkFlags(options.flags ?? 0)), 0);
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
    if (isError(result.irpStatus)) throw new WskError('setConditionalAccept', result.irpStatus);
    if (isError(result.callStatus)) throw new WskError('setConditionalAccept', result.callStatus);
    return { callStatus: result.callStatus, irpStatus: result.irpStatus };
  }

  /** WskAccept, IRP style: resolves with the next connection on this listening socket. */
  async accept(options: { flags?: number } = {}): Promise<AcceptResult> {
    const result = await this.ioctl('accept', WSKB_IOCTL_ACCEPT, encodeAcceptIn(this.id, checkFlags(options.flags ?? 0)), layouts.WSKB_ACCEPT_OUT.size);
    const out = decodeAcceptOut(result.output);
    const family = out.localAddress?.family ?? this.family;
    const socket = new WskSocket(this.session, out.acceptedSocketId, 'connection', family, {
      localAddress: out.localAddress,
      remoteAddress: out.remoteAddress,
    });
    this.session._register(socket);
    return { socket, localAddress: out.localAddress, remoteAddress: out.remoteAddress };
  }

  /** WskSend, in chunks of at most the driver's MaxIoBytes, one after another. Resolves with the bytes sent. */
  async send(data: Uint8Array | string, options: { flags?: number } = {}): Promise<number> {
    const bytes = bytesOf(data, 'data');
    const flags = checkFlags(options.flags ?? 0);
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
   * WskReceive, IRP style: resolves with up to maxLength bytes. An empty Buffer means the peer
   * closed gracefully (a WskReceive completing with 0 bytes).
   */
  async receive(maxLength = 65536, options: { flags?: number } = {}): Promise<Buffer> {
    checkLength(maxLength, this.session.maxIoBytes, 'maxLength');
    const input = encodeDataIn(this.id, checkFlags(options.flags ?? 0), null, maxLength);
    const result = await this.ioctl('receive', WSKB_IOCTL_RECEIVE, input, maxLength);
    return result.output.subarray(0, result.information);
  }

  /** WskSendTo (datagram sockets). Resolves with the bytes sent. */
  async sendTo(data: Uint8Array | string, address: WskAddress, options: { flags?: number } = {}): Promise<number> {
    const bytes = bytesOf(data, 'data');
    if (bytes.byteLength > this.session.maxIoBytes) {
      throw new RangeError(`sendTo: a datagram of ${bytes.byteLength} bytes exceeds MaxIoBytes ${this.session.maxIoBytes}`);
    }
    const input = encodeSendToIn(this.id, address, checkFlags(options.flags ?? 0), bytes);
    const result = await this.ioctl('sendTo', WSKB_IOCTL_SEND_TO, input, layouts.WSKB_TRANSFER_OUT.size);
    return decodeTransferOut(result.output);
  }

  /** WskReceiveFrom, IRP style: the next datagram (truncated to maxLength) and its sender. */
  async receiveFrom(maxLength = 65536, options: { flags?: number } = {}): Promise<ReceiveFromResult> {
    checkLength(maxLength, this.session.maxIoBytes, 'maxLength');
    const input = encodeDataIn(this.id, checkFlags(options.flags ?? 0), null, maxLength);
    const result = await this.ioctl('receiveFrom', WSKB_IOCTL_RECEIVE_FROM, input, layouts.WSKB_RECEIVE_FROM_OUT.size + maxLength);
    if (result.status !== 0 && result.output.length < layouts.WSKB_RECEIVE_FROM_OUT.size) {
      // A warning (not an error) with nothing copied back: the datagram is gone, say why.
      throw new WskError('receiveFrom', result.status, 'the driver returned no WSKB_RECEIVE_FROM_OUT with this warning');
    }
    const out = decodeReceiveFromOut(result.output.subarray(0, result.information));
    const truncated = result.status === NTSTATUS.STATUS_BUFFER_OVERFLOW || (out.controlFlags & MSG_TRUNC) !== 0;
    return { data: out.data, remoteAddress: out.remoteAddress, controlFlags: out.controlFlags, truncated };
  }

  /** WskDisconnect: graceful (FIN, after optional final data) or abortive (RST). */
  async disconnect(options: { abortive?: boolean; data?: Uint8Array | string } = {}): Promise<void> {
    const data = options.data === undefined ? null : bytesOf(options.data, 'data');
    const flags = options.abortive ? WskFlag.Abortive : 0;
    await this.ioctl('disconnect', WSKB_IOCTL_DISCONNECT, encodeDataIn(this.id, flags, data), 0);
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
    if (request === null || typeof request !== 'object') throw new TypeError('control(request): request must be an object');
    const outputLength = checkLength(request.outputLength ?? 0, WSKB_MAX_CONTROL_BYTES, 'outputLength');
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
    if (isError(result.callStatus)) throw new WskError('enableEvents', result.callStatus);
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
    if (isError(result.callStatus)) throw new WskError('disableEvent', result.callStatus);
    if (isError(result.irpStatus)) throw new WskError('disableEvent', result.irpStatus);
    return { callStatus: result.callStatus, irpStatus: result.irpStatus };
  }

  /**
   * This socket's events, in order; ends after its socketClosed event. Events that arrived
   * before any iterator asked (say between enableEvents() and this call) are delivered first.
   */
  events(options: EventsOptions = {}): AsyncIterableIterator<WskBridgeEvent> {
    // Once its last event went by, the iterator yields what was kept for it and ends.
    return this.session._socketEvents(this.id, options, this.lastEventSeen);
  }

  /** WskCloseSocket. Idempotent; pending requests on the socket complete (cancelled) first. */
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
    return `WskSocket(${this.kind}, ${this.family}, id 0x${this.id.toString(16)})`;
  }
}

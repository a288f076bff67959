// SPDX-License-Identifier: MIT
//
// A session is one open handle on the WskBridge device: in the driver, one file object with its
// own WSK client registration, socket table and event queue. open() picks the backend, runs the
// HELLO handshake and starts the event pump.

import { addon, type Backend, type NativeDevice } from './addon.js';
import { WskError } from './errors.js';
import { EventPump, type EventsOptions, type PumpOptions, type WskBridgeEvent } from './events.js';
import { isError, NTSTATUS, statusName } from './ntstatus.js';
import {
  decodeControlOut,
  decodeHelloOut,
  decodeSocketId,
  decodeStatsOut,
  encodeControlClientIn,
  encodeHelloIn,
  encodeInspectCompleteIn,
  encodeSocketCreateIn,
  ioctlNames,
  layouts,
  normalizeFamily,
  AF_INET,
  AF_INET6,
  WSKB_CONTROL_FLAG_USE_IRP,
  WSKB_EVENT_BUDGET_MAX,
  WSKB_EVENT_BUDGET_MIN,
  WSKB_IOCTL_CONTROL_CLIENT,
  WSKB_IOCTL_HELLO,
  WSKB_IOCTL_INSPECT_COMPLETE,
  WSKB_IOCTL_SOCKET_CREATE,
  WSKB_IOCTL_STATS,
  WSKB_MAGIC,
  WSKB_MAX_CONTROL_BYTES,
  WSKB_PROTOCOL_VERSION,
  WSKB_SOCKET_OPTION_NO_DISPATCH,
  type ControlOut,
  type SessionStats,
  type WskAddress,
} from './protocol.js';
import { WskSocket } from './socket.js';
import {
  IPPROTO_TCP,
  IPPROTO_UDP,
  SOCK_DGRAM,
  SOCK_STREAM,
  socketKindFlags,
  WskClientControl,
  WSK_EVENT_ALL,
  type SocketKind,
} from './wsk.js';

export type BackendChoice = 'auto' | 'kernel' | 'sim';
export type SimNetwork = 'host' | 'memory';

export interface OpenOptions {
  /**
   * 'kernel': the WskBridge driver (Windows); 'sim': the same driver on ksim, in-process;
   * 'auto' (default): the kernel when its device opens, else sim. When the choice is 'auto',
   * the environment variable WSKB_BACKEND (auto | kernel | sim) overrides it, for test runs.
   */
  backend?: BackendChoice;
  /**
   * The sim backend's network: 'host' (the host's sockets; the default) or 'memory' (ksim's
   * in-memory network: no host socket, reachable only through `addon().ksim.memoryNet` peers;
   * what the deterministic mode uses). Only with backend 'sim' (or 'auto', which then means sim).
   */
  network?: SimNetwork;
  /** Bytes of event records the driver may hold for this session (0 or absent: the driver's default). */
  eventBudget?: number;
  /** Tuning of the READ_EVENTS pump. */
  pump?: PumpOptions;
  /**
   * The sim backend's execution model (docs/ksim-fidelity.md, "Execution model"): 'host-loop'
   * (ksim's network on this thread's event loop; the default, unless WSKB_KSIM_SCHED says
   * otherwise) or 'thread' (ksim's own network thread). It is process-wide and fixed while any
   * sim session is open: asking for the other model then fails with STATUS_INVALID_DEVICE_STATE.
   * Ignored by the kernel backend.
   */
  simScheduler?: SimScheduler;
}

export type SimScheduler = 'host-loop' | 'thread';
const SIM_SCHEDULERS: readonly SimScheduler[] = ['host-loop', 'thread'];

/** Puts ksim in the requested execution model before a sim device opens. */
function selectSimScheduler(requested: SimScheduler | undefined): void {
  if (requested === undefined) return;
  if (!SIM_SCHEDULERS.includes(requested)) {
    throw new TypeError(`simScheduler must be 'host-loop' or 'thread', got ${JSON.stringify(requested)}`);
  }
  const { ksim } = addon();
  const status = ksim.selectScheduler(requested);
  if (status === NTSTATUS.STATUS_INVALID_DEVICE_STATE && ksim.scheduler() !== requested) {
    throw new WskError('open', status,
      `simScheduler '${requested}' requested, but ksim runs the driver with '${ksim.scheduler()}' while sim sessions are open; close them (and balance ksim.load()) first`);
  }
}

/** What an ioctl completed with, whatever the status. */
export interface RawIoctlResult {
  status: number;
  statusName: string;
  information: number;
  output: Buffer;
}

export interface SocketOptions {
  /** 'ipv4' (default) or 'ipv6'; a number is passed to WSK unchanged (AF_* Windows values). */
  family?: 'ipv4' | 'ipv6' | number;
  /** 'tcp' or 'udp' (default by kind); a number is passed unchanged. */
  protocol?: 'tcp' | 'udp' | number;
  /** SOCK_STREAM / SOCK_DGRAM; by default from the kind. */
  socketType?: number;
  /** false: create the socket with a NULL client dispatch table (no event callbacks possible). */
  dispatch?: boolean;
}

export interface ControlClientOptions {
  /** Pass an IRP to WskControlClient (default false: NULL IRP, as WSK_SET_STATIC_EVENT_CALLBACKS requires). */
  irp?: boolean;
  /** Output buffer size (default 0). */
  outputLength?: number;
}

const VALID_BACKENDS: readonly BackendChoice[] = ['auto', 'kernel', 'sim'];

function chooseBackend(requested: BackendChoice | undefined): { choice: BackendChoice; why: string } {
  const choice = requested ?? 'auto';
  if (!VALID_BACKENDS.includes(choice)) {
    throw new TypeError(`backend must be 'auto', 'kernel' or 'sim', got ${JSON.stringify(requested)}`);
  }
  const env = process.env.WSKB_BACKEND;
  if (choice === 'auto' && env !== undefined && env !== '') {
    if (!VALID_BACKENDS.includes(env as BackendChoice)) {
      throw new TypeError(`WSKB_BACKEND must be 'auto', 'kernel' or 'sim', got ${JSON.stringify(env)}`);
    }
    return { choice: env as BackendChoice, why: `WSKB_BACKEND=${env}` };
  }
  return { choice, why: requested === undefined ? 'default' : `backend: '${choice}' requested` };
}

function openDevice(requested: BackendChoice | undefined, network?: SimNetwork, scheduler?: SimScheduler): { device: NativeDevice; reason: string } {
  const { choice, why } = chooseBackend(requested);
  const { Device } = addon();
  if (network !== undefined) {
    if (network !== 'host' && network !== 'memory') {
      throw new TypeError(`network must be 'host' or 'memory', got ${JSON.stringify(network)}`);
    }
    if (choice === 'kernel') throw new TypeError(`network: '${network}' needs the sim backend (the kernel's network is the machine's)`);
    selectSimScheduler(scheduler);
    return { device: Device.open('sim', network), reason: `${why}; network: '${network}' requested (sim)` };
  }
  if (choice === 'auto') {
    try {
      return { device: Device.open('kernel'), reason: `auto (${why}): the WskBridge kernel device opened` };
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      selectSimScheduler(scheduler);
      return { device: Device.open('sim'), reason: `auto (${why}): using sim, the driver on ksim in-process, because the kernel device did not open: ${message}` };
    }
  }
  if (choice === 'sim') selectSimScheduler(scheduler);
  return { device: Device.open(choice), reason: `${why}` };
}

/** Opens a session: picks the backend, checks the protocol version, starts the event pump. */
export async function open(options: OpenOptions = {}): Promise<WskSession> {
  if (options === null || typeof options !== 'object') throw new TypeError('open(options): options must be an object');
  const budget = options.eventBudget ?? 0;
  if (budget !== 0 && (!Number.isInteger(budget) || budget < WSKB_EVENT_BUDGET_MIN || budget > WSKB_EVENT_BUDGET_MAX)) {
    throw new RangeError(`eventBudget must be an integer in [${WSKB_EVENT_BUDGET_MIN}, ${WSKB_EVENT_BUDGET_MAX}] bytes, got ${budget}`);
  }
  const { device, reason } = openDevice(options.backend, options.network, options.simScheduler);
  try {
    const session = new WskSession(device, reason, options.pump);
    await session._hello(budget);
    session._startPump();
    return session;
  } catch (error) {
    device.close();
    throw error;
  }
}

export class WskSession {
  /** 'kernel' or 'sim': where the driver runs. */
  readonly backend: Backend;
  /** Why this backend: the request, WSKB_BACKEND, or why the kernel could not be opened. */
  readonly backendReason: string;
  /** From HELLO. */
  driverVersion = 0;
  maxIoBytes = 0;
  eventBudgetBytes = 0;
  wskVersion = { highest: 0, lowest: 0 };

  private readonly device: NativeDevice;
  private readonly sockets = new Map<bigint, WskSocket>();
  private readonly closedByUser = new Set<bigint>();
  private readonly pump: EventPump;
  private closing: Promise<void> | undefined;
  private closed = false;

  /** @internal use open(). */
  constructor(device: NativeDevice, backendReason: string, pumpOptions?: PumpOptions) {
    this.device = device;
    this.backend = device.backend as Backend;
    this.backendReason = backendReason;
    this.pump = new EventPump(
      device,
      {
        adoptAcceptedSocket: (id, localAddress, remoteAddress) => this.adopt(id, localAddress, remoteAddress),
        inspectComplete: (listenerId, token, action) => this.inspectComplete(listenerId, token, action),
        isClosedByUser: (id) => this.closedByUser.has(id),
        socketClosedSeen: (id) => {
          this.sockets.get(id)?._closedSeen();
          this.sockets.delete(id);
          this.closedByUser.delete(id);
        },
      },
      pumpOptions,
    );
  }

  get isClosed(): boolean {
    return this.closed || this.closing !== undefined;
  }

  /** @internal */
  async _hello(budget: number): Promise<void> {
    const result = await this.rawIoctl(WSKB_IOCTL_HELLO, encodeHelloIn(budget), layouts.WSKB_HELLO_OUT.size);
    if (result.status === NTSTATUS.STATUS_REVISION_MISMATCH) {
      // No output comes back on an error status; the driver puts its version in Information,
      // which reaches user mode on sim but not from a synchronously failed IRP on Windows.
      const driverVersion = result.information ? `version ${result.information}` : 'another version';
      throw new WskError(
        'hello',
        result.status,
        `protocol version mismatch: this library speaks version ${WSKB_PROTOCOL_VERSION}, the ${this.backend} driver ${driverVersion}; install the driver and library of one release`,
      );
    }
    if (isError(result.status)) throw new WskError('hello', result.status);
    const hello = decodeHelloOut(result.output);
    if (hello.magic !== WSKB_MAGIC) {
      throw new Error(`hello: the device answered with magic 0x${hello.magic.toString(16)}, not 'WSKB': not a WskBridge driver`);
    }
    if (hello.driverVersion !== WSKB_PROTOCOL_VERSION) {
      throw new Error(
        `protocol version mismatch: the driver speaks version ${hello.driverVersion}, this library speaks version ${WSKB_PROTOCOL_VERSION}; install matching versions`,
      );
    }
    this.driverVersion = hello.driverVersion;
    this.maxIoBytes = hello.maxIoBytes;
    this.eventBudgetBytes = hello.eventBudgetBytes;
    this.wskVersion = { highest: hello.wskHighestVersion, lowest: hello.wskLowestVersion };
  }

  /** @internal */
  _startPump(): void {
    this.pump.start();
  }

  /**
   * Sends one IOCTL and resolves with whatever it completed with, error statuses included. For
   * experiments and for tests of the driver's input validation (malformed, truncated buffers).
   */
  rawIoctl(code: number, input: Uint8Array | null, outputLength: number, weak = false): Promise<RawIoctlResult> {
    if (this.closed) return Promise.reject(new Error('the session is closed'));
    return new Promise((resolve, reject) => {
      try {
        this.device.ioctl(
          code,
          input,
          outputLength,
          (status, information, output) => resolve({ status, statusName: statusName(status), information, output }),
          weak,
        );
      } catch (error) {
        reject(error);
      }
    });
  }

  /** @internal Sends an IOCTL; an error NTSTATUS rejects with WskError naming `operation`. */
  async _ioctl(operation: string, code: number, input: Uint8Array | null, outputLength: number): Promise<RawIoctlResult> {
    if (this.isClosed) throw new Error(`${operation}: the session is closed`);
    const result = await this.rawIoctl(code, input, outputLength);
    if (isError(result.status)) throw new WskError(operation, result.status);
    return result;
  }

  /**
   * WSK_SET_STATIC_EVENT_CALLBACKS: enables `mask` on every socket this session creates from
   * now on (each socket takes the subset that fits its kind). Only before the first socket;
   * static events can never be disabled.
   */
  async setStaticEventCallbacks(mask: number): Promise<ControlOut> {
    if (!Number.isInteger(mask) || mask === 0 || (mask >>> 0 & ~WSK_EVENT_ALL) !== 0) {
      throw new TypeError(
        `setStaticEventCallbacks(mask): mask must be a non-empty OR of WskEvent flags without WskEvent.Disable, got 0x${(mask >>> 0).toString(16)} (controlClient() sends any mask)`,
      );
    }
    const input = Buffer.alloc(4);
    input.writeUInt32LE(mask >>> 0);
    const result = await this.controlClient(WskClientControl.SetStaticEventCallbacks, input);
    if (isError(result.callStatus)) throw new WskError('setStaticEventCallbacks', result.callStatus);
    return result;
  }

  /**
   * WskControlClient, raw: the code and input go to WSK unchanged; both statuses come back.
   *
   * Only the codes of the driver's allowlist pass (CONTROL_ALLOWLIST in lib/controls.ts,
   * docs/controls.md), all without an IRP (Learn: "Irp must be NULL"):
   * WSK_TRANSPORT_LIST_QUERY (no input, outputLength up to 4096; 0 probes the size),
   * WSK_SET_STATIC_EVENT_CALLBACKS (a 4-byte mask) and WSK_TDI_BEHAVIOR (4-byte flags). Other
   * codes reject with STATUS_NOT_SUPPORTED (WSK_TRANSPORT_LIST_CHANGE, whose IRP only
   * WskDeregister cancels, and the pointer-carrying WSK_CACHE_SD, WSK_RELEASE_SD,
   * WSK_TDI_DEVICENAME_MAPPING among them), a size outside the entry with
   * STATUS_INVALID_BUFFER_SIZE, `irp: true` with STATUS_INVALID_PARAMETER_MIX.
   */
  async controlClient(code: number, input: Uint8Array | null = null, options: ControlClientOptions = {}): Promise<ControlOut> {
    const outputLength = options.outputLength ?? 0;
    if (!Number.isInteger(outputLength) || outputLength < 0 || outputLength > WSKB_MAX_CONTROL_BYTES) {
      throw new RangeError(`outputLength must be an integer in [0, ${WSKB_MAX_CONTROL_BYTES}]`);
    }
    const request = encodeControlClientIn(code, input, outputLength, options.irp ? WSKB_CONTROL_FLAG_USE_IRP : 0);
    const result = await this._ioctl('controlClient', WSKB_IOCTL_CONTROL_CLIENT, request, layouts.WSKB_CONTROL_OUT.size + outputLength);
    return decodeControlOut(result.output);
  }

  /** WskSocket: a new socket of this session. */
  async socket(kind: SocketKind, options: SocketOptions = {}): Promise<WskSocket> {
    if (!Object.prototype.hasOwnProperty.call(socketKindFlags, kind)) {
      throw new TypeError(`socket kind must be 'basic', 'listen', 'connection' or 'datagram', got ${JSON.stringify(kind)}`);
    }
    const family =
      typeof options.family === 'number' ? options.family : normalizeFamily(options.family ?? 'ipv4') === 'ipv4' ? AF_INET : AF_INET6;
    const protocol =
      typeof options.protocol === 'number'
        ? options.protocol
        : (options.protocol ?? (kind === 'datagram' ? 'udp' : 'tcp')) === 'udp'
          ? IPPROTO_UDP
          : IPPROTO_TCP;
    if (typeof options.protocol === 'string' && options.protocol !== 'tcp' && options.protocol !== 'udp') {
      throw new TypeError(`protocol must be 'tcp', 'udp' or a number, got ${JSON.stringify(options.protocol)}`);
    }
    const socketType = options.socketType ?? (kind === 'datagram' ? SOCK_DGRAM : SOCK_STREAM);
    const input = encodeSocketCreateIn({
      family,
      socketType,
      protocol,
      wskFlags: socketKindFlags[kind],
      options: options.dispatch === false ? WSKB_SOCKET_OPTION_NO_DISPATCH : 0,
    });
    const result = await this._ioctl('socket', WSKB_IOCTL_SOCKET_CREATE, input, layouts.WSKB_SOCKET_ID.size);
    const id = decodeSocketId(result.output);
    const socket = new WskSocket(this, id, kind, family === AF_INET6 ? 'ipv6' : 'ipv4');
    this.sockets.set(id, socket);
    return socket;
  }

  /** The driver's counters for this session. */
  async stats(): Promise<SessionStats> {
    const result = await this._ioctl('stats', WSKB_IOCTL_STATS, null, layouts.WSKB_STATS_OUT.size);
    return decodeStatsOut(result.output);
  }

  /**
   * Every event of every socket of this session, in sequence order, as an async iterator in
   * the style of Node's events.on(): `break`/`return()` releases it, an AbortSignal rejects a
   * waiting next() with an AbortError. Past `highWaterMark` buffered events the pump stops
   * reading, the driver's budget fills and it pauses receive indications: nothing is dropped.
   * Events no iterator takes are kept for a later iterator (up to the pump's unclaimedLimit,
   * 4096 by default; past that reading pauses as well), except those of sockets the caller
   * closed.
   */
  events(options: EventsOptions = {}): AsyncIterableIterator<WskBridgeEvent> {
    if (this.isClosed) throw new Error('events(): the session is closed');
    return this.pump.subscribe(undefined, options);
  }

  /** @internal */
  _socketEvents(id: bigint, options: EventsOptions, ended: boolean): AsyncIterableIterator<WskBridgeEvent> {
    return this.pump.subscribe(id, options, ended);
  }

  /** @internal a socket made outside socket() (accept()). */
  _register(socket: WskSocket): void {
    this.sockets.set(socket.id, socket);
  }

  /** @internal the user called the socket's close(). It stays known until its socketClosed event. */
  _forget(id: bigint): void {
    this.closedByUser.add(id);
  }

  /** Sockets of this session that user code has not closed (accepted ones included). */
  get openSockets(): WskSocket[] {
    return [...this.sockets.values()].filter((socket) => !socket.isClosed);
  }

  /** The pump's own counters (reads completed, events decoded, pauses). */
  get pumpCounters(): Readonly<{ readsCompleted: number; eventsDecoded: number; pauses: number }> {
    return { ...this.pump.counters };
  }

  private adopt(id: bigint, localAddress: WskAddress | null, remoteAddress: WskAddress | null): WskSocket {
    const existing = this.sockets.get(id);
    if (existing) return existing;
    const family = localAddress?.family ?? remoteAddress?.family ?? 'ipv4';
    const socket = new WskSocket(this, id, 'connection', family, { localAddress, remoteAddress });
    this.sockets.set(id, socket);
    return socket;
  }

  private async inspectComplete(listenerId: bigint, token: bigint, action: number): Promise<void> {
    await this._ioctl(
      action === 1 ? 'inspect accept' : 'inspect reject',
      WSKB_IOCTL_INSPECT_COMPLETE,
      encodeInspectCompleteIn(listenerId, token, action),
      0,
    );
  }

  /**
   * Closes the handle. The driver's cleanup closes every socket of the session and cancels
   * pending requests (they reject); iterators end after the events they hold.
   */
  close(): Promise<void> {
    if (!this.closing) {
      this.closing = (async () => {
        this.pump.stop();
        // Blocks until the driver has completed every request of this handle.
        this.device.close();
        this.closed = true;
        for (const socket of this.sockets.values()) socket._sessionClosed();
        this.sockets.clear();
        // The completions are queued for this thread; let them run before saying we are done.
        const deadline = Date.now() + 10_000;
        while (this.device.pending > 0 && Date.now() < deadline) {
          await new Promise((resolve) => setImmediate(resolve));
        }
      })();
    }
    return this.closing;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

/** Human name of an IOCTL code, for messages. */
export function ioctlName(code: number): string {
  return ioctlNames.get(code >>> 0) ?? `0x${(code >>> 0).toString(16)}`;
}


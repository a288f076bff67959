// SPDX-License-Identifier: MIT
//
// A session is one open handle on the WskBridge device: in the driver, one file object with its
// own WSK client registration, socket table and event queue. open() picks the backend, runs the
// HELLO handshake and starts the event pump.

import { inspect } from 'node:util';
import { addon, type Backend, type NativeDevice } from './addon.js';
import { familyOf, toWskAddress, type AddressLike } from './address.js';
import { AbortError, checkInteger, checkOptions, formatSocketId, invalidArgType, invalidArgValue, SessionClosedError, WskError, wskbError, type WskErrorContext } from './errors.js';
import { EventPump, type EventsOptions, type PumpCounters, type PumpOptions, type WskBridgeEvent, type WskBridgeEventOf, type WskBridgeEventType } from './events.js';
import { createTracer, tracedDevice, tracerFromEnvironment, type Tracer } from './trace.js';
import { checkEventsOptions, collectFrom, onceFrom, type CollectOptions, type EventSource, type OnceOptions } from './waiting.js';
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
  encodeSocketConnectIn,
  ioctlNames,
  layouts,
  AF_INET,
  AF_INET6,
  WSKB_CONTROL_FLAG_USE_IRP,
  WSKB_EVENT_BUDGET_MAX,
  WSKB_EVENT_BUDGET_MIN,
  WSKB_IOCTL_CONTROL_CLIENT,
  WSKB_IOCTL_HELLO,
  WSKB_IOCTL_INSPECT_COMPLETE,
  WSKB_IOCTL_SOCKET_CREATE,
  WSKB_IOCTL_SOCKET_CONNECT,
  WSKB_IOCTL_STATS,
  WSKB_MAGIC,
  WSKB_MAX_CONTROL_BYTES,
  WSKB_DRIVER_POOL_BUDGET,
  WSKB_PROTOCOL_VERSION,
  WSKB_READ_EVENTS_MIN_OUTPUT,
  WSKB_SOCKET_OPTION_NO_DISPATCH,
  type ControlOut,
  type SessionStats,
  type WskAddress,
} from './protocol.js';
import { PEER_FIN_LINGER_MS, WskSocket } from './socket.js';
import type { FamilyLike } from './address.js';
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
  /**
   * Print every IOCTL and event as a table: true writes to stderr, a function gets each line.
   * Default: on when WSKB_TRACE=1 or NODE_DEBUG=wsk-bridge.
   */
  trace?: boolean | ((line: string) => void);
  /**
   * Closes the session when it aborts, as `server.listen({ signal })` closes a Node server:
   * every iterator, once() and collect() of the session ends. Pass node:test's `t.signal` and a
   * test that times out can never keep the runner alive. Already aborted: open() rejects with
   * an AbortError.
   */
  signal?: AbortSignal;
}

/** Options of close(). */
export interface CloseOptions {
  /**
   * true: first end every open connection gracefully (WskDisconnect, a FIN after the data
   * already sent), then close. false (default): the driver's cleanup closes every socket,
   * which resets connections (WskCloseSocket without WskDisconnect is abortive).
   */
  graceful?: boolean;
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
  /**
   * 'ipv4' (default) or 'ipv6', spelt as Node does anywhere (4, 6, 'ipv4', 'IPv4', 'ipv6',
   * 'IPv6'); any other number is passed to WSK unchanged (AF_* Windows values: AF_INET 2,
   * AF_INET6 23).
   */
  family?: FamilyLike | number;
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

/** The largest pump depth: more pending READ_EVENTS than this only holds memory. */
const PUMP_DEPTH_MAX = 64;
/** The largest READ_EVENTS output the pump asks for (16 MiB). */
const PUMP_READ_BYTES_MAX = 16 * 1024 * 1024;

function checkOpenOptions(options: OpenOptions): void {
  checkOptions('options', options, ['backend', 'eventBudget', 'pump', 'trace', 'signal', 'simScheduler', 'network']);
  if (options.signal !== undefined && !(options.signal instanceof AbortSignal)) throw invalidArgType('options.signal', 'an AbortSignal', options.signal);
  const budget = options.eventBudget ?? 0;
  if (budget !== 0) checkInteger('options.eventBudget', budget, WSKB_EVENT_BUDGET_MIN, WSKB_EVENT_BUDGET_MAX);
  checkOptions('options.pump', options.pump, ['depth', 'readBytes', 'unclaimedLimit', 'unclaimedBytes']);
  const pump = options.pump ?? {};
  if (pump.depth !== undefined) checkInteger('options.pump.depth', pump.depth, 1, PUMP_DEPTH_MAX);
  if (pump.readBytes !== undefined) checkInteger('options.pump.readBytes', pump.readBytes, WSKB_READ_EVENTS_MIN_OUTPUT, PUMP_READ_BYTES_MAX);
  if (pump.unclaimedLimit !== undefined) checkInteger('options.pump.unclaimedLimit', pump.unclaimedLimit, 1, 2 ** 31 - 1);
  if (options.trace !== undefined && typeof options.trace !== 'boolean' && typeof options.trace !== 'function') {
    throw invalidArgValue('options.trace', options.trace, 'must be a boolean or a function taking a line');
  }
}

/**
 * Opens a session: picks the backend, checks the protocol version, starts the event pump.
 * Close it with `close()` or `await using session = await open()`; a session left open is
 * closed when it is garbage-collected, with a process warning (code WSKB_SESSION_NOT_CLOSED).
 */
export async function open(options: OpenOptions = {}): Promise<WskSession> {
  if (options === null || typeof options !== 'object') throw new TypeError('open(options): options must be an object');
  checkOpenOptions(options);
  if (options.signal?.aborted) throw new AbortError(undefined, { cause: options.signal.reason });
  const budget = options.eventBudget ?? 0;
  const opened = openDevice(options.backend, options.network, options.simScheduler);
  const tracer =
    options.trace === undefined || options.trace === false
      ? options.trace === false
        ? undefined
        : tracerFromEnvironment()
      : createTracer(typeof options.trace === 'function' ? options.trace : (line) => process.stderr.write(`wskb ${line}\n`));
  const device = tracer ? tracedDevice(opened.device, tracer) : opened.device;
  const reason = opened.reason;
  try {
    const session = new WskSession(device, reason, options.pump, tracer);
    await session._hello(budget);
    session._startPump();
    if (options.signal) session._closeOnAbort(options.signal);
    return session;
  } catch (error) {
    device.close();
    throw error;
  }
}

/** What the finalizer needs to close a session nobody closed (never the session itself). */
interface Unclosed {
  device: NativeDevice;
  backend: string;
}

const unclosedSessions = new FinalizationRegistry<Unclosed>((held) => {
  process.emitWarning(
    `A wsk-bridge session (${held.backend}) was garbage-collected without close(): closing it now. Close sessions with session.close() or 'await using'.`,
    { type: 'Warning', code: 'WSKB_SESSION_NOT_CLOSED' },
  );
  try {
    held.device.close();
  } catch {
    // Closing is all the finalizer can do; a failure here has no one to report to.
  }
});

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
  constructor(device: NativeDevice, backendReason: string, pumpOptions?: PumpOptions, tracer?: Tracer) {
    this.device = device;
    this.backend = device.backend as Backend;
    this.backendReason = backendReason;
    // The pump's pending reads hold the pump; it reaches the session only through this weak
    // reference, so that a session nobody closed can be collected (and closed by the finalizer).
    const self = new WeakRef<WskSession>(this);
    const session = (): WskSession => {
      const s = self.deref();
      if (!s) throw new SessionClosedError('event pump');
      return s;
    };
    this.pump = new EventPump(
      device,
      {
        adoptAcceptedSocket: (id, localAddress, remoteAddress) => session().adopt(id, localAddress, remoteAddress),
        inspectComplete: (listenerId, token, action) => session().inspectComplete(listenerId, token, action),
        isClosedByUser: (id) => self.deref()?.closedByUser.has(id) ?? true,
        socketClosedSeen: (id) => {
          const s = self.deref();
          if (!s) return;
          s.sockets.get(id)?._closedSeen();
          s.sockets.delete(id);
          s.closedByUser.delete(id);
        },
        ...(tracer ? { onEvent: (event: WskBridgeEvent) => tracer.event(event) } : {}),
      },
      pumpOptions,
    );
  }

  /** close({ graceful: true }) is ending connections: their disconnect and receive still pass. */
  private endingGracefully = false;

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
    if (result.status === NTSTATUS.STATUS_QUOTA_EXCEEDED) {
      throw new WskError(
        'hello',
        result.status,
        `an event budget of ${budget} bytes would pass the driver's bound on NonPaged pool for all handles together (WSKB_DRIVER_POOL_BUDGET, ${WSKB_DRIVER_POOL_BUDGET >> 20} MiB, protocol.h): close other sessions or ask for a smaller eventBudget`,
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

  /** @internal for the signal option of open(). The listener holds the session weakly: a signal that outlives it does not keep it. */
  _closeOnAbort(signal: AbortSignal): void {
    const self = new WeakRef<WskSession>(this);
    const onAbort = () => void self.deref()?.close();
    signal.addEventListener('abort', onAbort, { once: true });
    this.releaseSignal = () => signal.removeEventListener('abort', onAbort);
    if (signal.aborted) onAbort();
  }

  private releaseSignal: (() => void) | undefined;

  /** @internal */
  _startPump(): void {
    // From here on the session is the caller's to close (open() closes it when HELLO fails).
    unclosedSessions.register(this, { device: this.device, backend: this.backend }, this);
    this.pump.start();
  }

  /**
   * Sends one IOCTL and resolves with whatever it completed with, error statuses included. For
   * experiments and for tests of the driver's input validation (malformed, truncated buffers).
   */
  rawIoctl(code: number, input: Uint8Array | null, outputLength: number, weak = false): Promise<RawIoctlResult> {
    if (this.closed) return Promise.reject(new SessionClosedError(`rawIoctl(${ioctlName(code)})`));
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

  /** @internal Sends an IOCTL; an error NTSTATUS rejects with WskError naming `operation` (and the socket, address). */
  async _ioctl(operation: string, code: number, input: Uint8Array | null, outputLength: number, context?: WskErrorContext): Promise<RawIoctlResult> {
    // While close({ graceful }) ends connections, only their own disconnect and receive pass.
    if (this.closed || (this.closing !== undefined && !this.endingGracefully)) throw new SessionClosedError(context?.socketId !== undefined ? `${operation} on socket ${formatSocketId(context.socketId)}` : operation);
    const result = await this.rawIoctl(code, input, outputLength);
    if (isError(result.status)) throw new WskError(operation, result.status, context);
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
    if (this.isClosed) throw new SessionClosedError('socket');
    if (!Object.prototype.hasOwnProperty.call(socketKindFlags, kind)) {
      throw invalidArgValue('kind', kind, "must be 'basic', 'listen', 'connection' or 'datagram'");
    }
    checkOptions('options', options, ['family', 'protocol', 'socketType', 'dispatch']);
    const named = familyOf(options.family ?? 'ipv4');
    if (named === undefined && typeof options.family !== 'number') {
      throw invalidArgValue('options.family', options.family, "must be 4, 6, 'ipv4', 'ipv6', 'IPv4', 'IPv6' or an AF_* number");
    }
    const family = named === 'ipv4' ? AF_INET : named === 'ipv6' ? AF_INET6 : (options.family as number);
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

  /**
   * WskSocketConnect: a connection socket created, bound and connected in one call (one
   * SOCKET_CONNECT IOCTL). Bound to `localAddress`, or to the wildcard address of the remote's
   * family, port 0. `remoteAddress` may be Node's AddressInfo (`server.address()`). A failure is
   * a WskError of operation 'socketConnect' naming the remote address; no socket is left.
   */
  async connect(remoteAddress: AddressLike, options: { localAddress?: AddressLike; dispatch?: boolean } = {}): Promise<WskSocket> {
    if (this.isClosed) throw new SessionClosedError('connect');
    checkOptions('options', options, ['localAddress', 'dispatch']);
    const remote = toWskAddress(remoteAddress, 'remoteAddress');
    const local =
      options.localAddress === undefined
        ? toWskAddress({ address: remote.family === 'ipv4' ? '0.0.0.0' : '::', port: 0 })
        : toWskAddress(options.localAddress, 'options.localAddress');
    if (local.family !== remote.family) {
      throw invalidArgValue('options.localAddress', options.localAddress, `is ${local.family} but the remote address is ${remote.family}`);
    }
    const input = encodeSocketConnectIn({
      socketType: SOCK_STREAM,
      protocol: IPPROTO_TCP,
      options: options.dispatch === false ? WSKB_SOCKET_OPTION_NO_DISPATCH : 0,
      localAddress: local,
      remoteAddress: remote,
    });
    const result = await this._ioctl('socketConnect', WSKB_IOCTL_SOCKET_CONNECT, input, layouts.WSKB_SOCKET_ID.size, { address: remote });
    const id = decodeSocketId(result.output);
    const socket = new WskSocket(this, id, 'connection', remote.family);
    this.sockets.set(id, socket);
    return socket;
  }

  /** The driver's counters for this session. */
  async stats(): Promise<SessionStats> {
    const result = await this._ioctl('stats', WSKB_IOCTL_STATS, null, layouts.WSKB_STATS_OUT.size);
    return {
      ...decodeStatsOut(result.output),
      socketsHeld: this.pump.socketsHeld,
      socketHolds: this.pump.counters.socketHolds,
      hostDatagramsDropped: this.backend === 'sim' ? addon().ksim.counters().hostDatagramsDropped : null,
    };
  }

  /**
   * Every event of every socket of this session, in sequence order, as an async iterator in
   * the style of Node's events.on(): `break`/`return()` releases it, an AbortSignal rejects a
   * waiting next() with an AbortError. `{ batch: true }` yields arrays of events instead.
   *
   * What is kept, what can be dropped, and how it is counted:
   * - Events an iterator did not take are never dropped by the library: events no iterator
   *   matched are kept per socket for a later iterator, receive() or receiveFrom(); an
   *   iterator released with events unread (break, return(), throw(), abort) hands them back,
   *   in sequence order, ahead of later ones. Only events of a socket the caller closed are
   *   discarded (at its socketClosed event), and everything at session close.
   * - Stream data is never dropped anywhere: when the driver's budget is spent, or the socket is
   *   held back (below), WSK keeps the bytes (`flowPaused`, later `flowResumed`).
   * - Datagrams can be dropped, always counted, per socket: by the driver when its event budget
   *   is spent or the socket is held back (a `datagramsDropped` event with the count, and
   *   `stats().datagramsDropped`); on sim also by the host socket below ksim when its receive
   *   buffer overflows (reported the same way where the host says so; see docs/reliability.md).
   * - Accept and inspect indications refused for want of budget, or on a held listening socket,
   *   are counted in `acceptsRefused` events (`stats().acceptsRefused` / `inspectsRejected`).
   * - Backpressure is per socket: past `pump.unclaimedLimit` kept events (default 4096) or
   *   `pump.unclaimedBytes` (4 MiB) for one socket nobody reads, or past its own iterator's
   *   highWaterMark, that socket alone is held back in the driver (a `socketPaused` event, then
   *   `socketResumed`; `stats().socketsHeld`; a process warning WSKB_SOCKET_BACKPRESSURE once per
   *   socket). A session-wide iterator past its highWaterMark stops reading for the whole
   *   session instead (it consumes every socket): the driver's budget fills and it pauses.
   */
  events(options: EventsOptions & { batch: true }): AsyncIterableIterator<WskBridgeEvent[]>;
  events(options?: EventsOptions): AsyncIterableIterator<WskBridgeEvent>;
  events(options: EventsOptions = {}): AsyncIterableIterator<WskBridgeEvent> | AsyncIterableIterator<WskBridgeEvent[]> {
    if (this.isClosed) throw new SessionClosedError('events()');
    return this.pump.subscribe(undefined, checkEventsOptions(options));
  }

  /**
   * The next event of `type` from any socket of this session, like Node's `events.once()`.
   * Rejects with AbortError (ABORT_ERR) when `signal` aborts, TimeoutError (ETIMEDOUT) after
   * `timeout` ms, SessionClosedError (ERR_WSKB_SESSION_CLOSED) when the session closes first.
   * Events of other types, and those `filter` refuses, stay for other iterators.
   */
  once<T extends WskBridgeEventType>(type: T, options?: OnceOptions<WskBridgeEventOf<T>>): Promise<WskBridgeEventOf<T>> {
    if (this.isClosed) return Promise.reject(new SessionClosedError(`once('${type}')`));
    return onceFrom(this.eventSource(undefined), type, options);
  }

  /**
   * The next `count` events (of `types`, passing `filter`) of any socket of this session, in
   * order. On timeout the TimeoutError's `received` holds those that came.
   */
  collect(count: number, options?: CollectOptions): Promise<WskBridgeEvent[]> {
    if (this.isClosed) return Promise.reject(new SessionClosedError('collect()'));
    return collectFrom(this.eventSource(undefined), 'session.collect()', count, options);
  }

  /** @internal */
  _eventSource(socketId: bigint, ended: () => boolean): EventSource {
    return this.eventSource(socketId, ended);
  }

  private eventSource(socketId: bigint | undefined, ended: () => boolean = () => false): EventSource {
    const what = socketId === undefined ? 'session' : `socket ${formatSocketId(socketId)}`;
    return {
      what,
      subscribe: (options, extra) => {
        if (this.isClosed) throw new SessionClosedError(what);
        return this.pump.subscribe(socketId, options, ended(), extra);
      },
      ended: (message) => (this.isClosed ? new SessionClosedError(message) : wskbError('ERR_WSKB_SOCKET_CLOSED', `${message}: the socket closed`)),
    };
  }

  /** @internal */
  _socketEvents(id: bigint, options: EventsOptions, ended: boolean): AsyncIterableIterator<WskBridgeEvent> | AsyncIterableIterator<WskBridgeEvent[]> {
    if (this.isClosed) throw new SessionClosedError(`events() of socket ${formatSocketId(id)}`);
    return this.pump.subscribe(id, checkEventsOptions(options), ended);
  }

  /** @internal receive()/receiveFrom(): data the driver already took from WSK for this socket, kept unclaimed. */
  _takeKept(id: bigint, kind: 'receive', maxLength: number): Buffer | undefined;
  _takeKept(id: bigint, kind: 'receiveFrom', maxLength: number): WskBridgeEventOf<'receiveFrom'> | undefined;
  _takeKept(id: bigint, kind: 'receive' | 'receiveFrom', maxLength: number): Buffer | WskBridgeEventOf<'receiveFrom'> | undefined {
    return kind === 'receive' ? this.pump.takeKept(id, kind, maxLength) : this.pump.takeKept(id, kind, maxLength);
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

  /** The pump's own counters (reads completed, events decoded, pauses, socket holds). */
  get pumpCounters(): Readonly<PumpCounters & { socketsHeld: number; unclaimed: number }> {
    return { ...this.pump.counters, socketsHeld: this.pump.socketsHeld, unclaimed: this.pump.unclaimedCount };
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
   * pending requests (they reject); iterators, once() and collect() end after the events they
   * hold. Without `graceful`, open connections are reset (WskCloseSocket without a WskDisconnect
   * is abortive); with `{ graceful: true }` each open connection is first ended with a
   * graceful WskDisconnect and given up to 2 s for its peer's FIN (see WskSocket.end()).
   */
  close(options: CloseOptions = {}): Promise<void> {
    checkOptions('options', options, ['graceful']);
    if (!this.closing) {
      const graceful = options.graceful === true;
      const connections = graceful ? this.openSockets.filter((socket) => socket.kind === 'connection') : [];
      this.endingGracefully = connections.length > 0;
      this.closing = (async () => {
        // A connection that is not connected refuses the disconnect: nothing to end gracefully.
        // Then each waits (bounded) for its peer's FIN, so that the close does not reset it.
        await Promise.allSettled(connections.map(async (socket) => {
          await socket.disconnect();
          await socket._awaitPeerFin(PEER_FIN_LINGER_MS);
        }));
        this.endingGracefully = false;
        unclosedSessions.unregister(this);
        this.releaseSignal?.();
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

  /** `WskSession { backend: 'sim', open: true, sockets: 2 }`: no pump internals. */
  [inspect.custom](depth: number, options: { stylize(text: string, style: string): string }): string {
    const state = this.isClosed ? 'closed' : 'open';
    return `WskSession { backend: ${options.stylize(`'${this.backend}'`, 'string')}, ${state}, sockets: ${options.stylize(String(this.openSockets.length), 'number')} }`;
  }
}

/** Human name of an IOCTL code, for messages. */
export function ioctlName(code: number): string {
  return ioctlNames.get(code >>> 0) ?? `0x${(code >>> 0).toString(16)}`;
}


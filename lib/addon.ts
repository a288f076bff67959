// SPDX-License-Identifier: MIT
//
// The addon's JavaScript surface (native/binding.cc, documented in native/README.md), typed.
// The addon is thin: it moves bytes and completions; everything else is in lib/.

import { createRequire } from 'node:module';

export type Backend = 'sim' | 'kernel';

export type IoctlCallback = (status: number, information: number, output: Buffer) => void;

export interface NativeDevice {
  readonly backend: string;
  /** Completions held by the driver, not yet delivered to their callback. */
  readonly pending: number;
  /** `output` a number: the backend allocates the output (a new Buffer for the callback). A
   * Uint8Array: the output lands in it (for METHOD_OUT_DIRECT the driver writes there itself),
   * it must not be touched until the callback, which gets it back (valid up to `information`). */
  ioctl(code: number, input: Uint8Array | null, output: number | Uint8Array, callback: IoctlCallback, weak?: boolean): void;
  cancelAll(): void;
  close(): void;
  ref(): void;
  unref(): void;
}

export interface KsimCounters {
  poolAllocations: number;
  poolBytes: number;
  poolAllocationsTotal: number;
  irps: number;
  mdls: number;
  hostSockets: number;
  wskSockets: number;
  verifierFailures: number;
  /** Datagrams host sockets below ksim's WSK provider dropped because their queue was full (Linux; 0 where the host keeps no count). */
  hostDatagramsDropped: number;
  [name: string]: number;
}

/** An address on ksim's in-memory network: family 4 or 6, the address's 4 or 16 bytes. */
export interface MemoryNetAddress {
  family: 4 | 6;
  port: number;
  address: Buffer;
}

/**
 * ksim.memoryNet: sockets on ksim's in-memory network, for tests' peers of sessions opened with
 * `network: 'memory'` (Node's net/dgram cannot reach it). Non-blocking: null means "would block";
 * failures throw an Error with an errno-style `code` (native/memory_net.cc).
 */
export interface MemoryNet {
  socket(family: 4 | 6, kind: 'tcp' | 'udp'): number;
  bind(handle: number, family: 4 | 6, port: number, address: Buffer): void;
  listen(handle: number, backlog?: number): void;
  accept(handle: number): (MemoryNetAddress & { handle: number }) | null;
  /** Starts the connect; connectResult() says how it ended once the socket is writable. */
  connect(handle: number, family: 4 | 6, port: number, address: Buffer): void;
  connectResult(handle: number): string;
  send(handle: number, data: Buffer): number;
  /** null: nothing yet; an empty Buffer: the peer's FIN. */
  receive(handle: number, maxBytes?: number): Buffer | null;
  sendTo(handle: number, data: Buffer, family: 4 | 6, port: number, address: Buffer): void;
  receiveFrom(handle: number): (MemoryNetAddress & { data: Buffer }) | null;
  shutdown(handle: number): void;
  setOption(handle: number, name: 'rcvbuf' | 'sndbuf', value: number): void;
  close(handle: number, abortive?: boolean): void;
  localAddress(handle: number): MemoryNetAddress;
  remoteAddress(handle: number): MemoryNetAddress;
  /** Bits: 1 readable, 2 writable, 4 peer's FIN, 8 hang-up, 16 error. */
  readiness(handle: number): number;
  datagramsDropped(): number;
}

export interface KsimControl {
  load(): number;
  unload(): void;
  counters(): KsimCounters;
  poolByTag(tag: string): number;
  failAllocationAfter(n: number): void;
  verifierLastFailure(): { count: number; message: string };
  setAbortOnFailure(on: boolean): void;
  memoryNet: MemoryNet;
  /** ksim's execution model in force: 'thread' | 'host-loop' (native/ksim/src/ksim_sched.h). */
  scheduler(): string;
  /** KsimSchedulerSelect: NTSTATUS (STATUS_INVALID_DEVICE_STATE while the driver is loaded). */
  selectScheduler(mode: string): number;
}

export interface Addon {
  Device: { open(backend: Backend, network?: 'host' | 'memory'): NativeDevice };
  protocolConstants(): Record<string, number>;
  ntstatusNames(): Array<[string, number]>;
  ksim: KsimControl;
}

let cached: Addon | undefined;

/** Loads build/Release/wskbridge.node (via `bindings`, which knows node-gyp's output paths). */
export function addon(): Addon {
  if (!cached) {
    const require = createRequire(__filename);
    const bindings = require('bindings') as (name: string) => Addon;
    cached = bindings('wskbridge');
  }
  return cached;
}

// SPDX-License-Identifier: MIT
//
// Peers on ksim's in-memory network, shaped like the part of Node's net.Socket / net.Server /
// dgram.Socket that the conformance suite uses, so that the same tests run when the sessions'
// sockets live on the in-memory network (WSKB_KSIM_NETWORK=memory), which Node cannot reach.
// Built on addon().ksim.memoryNet (non-blocking); one timer polls every live peer every
// millisecond and turns readiness into the events Node would emit ('connect', 'data', 'end',
// 'error' with an errno-style code, 'close' with hadError, 'message').

import { EventEmitter } from 'node:events';
import { isIP } from 'node:net';
import { addon, type MemoryNet } from '../../lib/addon.js';

const READABLE = 1;
const WRITABLE = 2;
const HANGUP = 8;
const ERROR = 16;

function net(): MemoryNet {
  return addon().ksim.memoryNet;
}

/** '127.0.0.1' / '::1' / '0.0.0.0' as the 4 or 16 bytes the in-memory network takes. */
export function addressBytes(host: string): { family: 4 | 6; bytes: Buffer } {
  const kind = isIP(host);
  if (kind === 4) return { family: 4, bytes: Buffer.from(host.split('.').map((part) => Number(part))) };
  if (kind === 6) {
    const [head, tail] = host.includes('::') ? host.split('::') : [host, ''];
    const left = head ? head.split(':') : [];
    const right = tail ? tail.split(':') : [];
    const groups = [...left, ...Array(8 - left.length - right.length).fill('0'), ...right];
    const bytes = Buffer.alloc(16);
    groups.forEach((group, i) => bytes.writeUInt16BE(parseInt(group || '0', 16), i * 2));
    return { family: 6, bytes };
  }
  throw new TypeError(`not an IP address: ${host}`);
}

function errnoError(code: string, syscall: string): NodeJS.ErrnoException {
  const error: NodeJS.ErrnoException = new Error(`${syscall} ${code} (ksim in-memory network)`);
  error.code = code;
  error.syscall = syscall;
  return error;
}

interface Polled {
  poll(): void;
}

const live = new Set<Polled>();
let timer: NodeJS.Timeout | undefined;

function track(peer: Polled): void {
  live.add(peer);
  if (!timer) {
    timer = setInterval(() => {
      for (const p of [...live]) p.poll();
      if (live.size === 0 && timer) {
        clearInterval(timer);
        timer = undefined;
      }
    }, 1);
  }
}

function untrack(peer: Polled): void {
  live.delete(peer);
}

/** A TCP endpoint on the in-memory network, with net.Socket's events (allowHalfOpen: true). */
export class MemorySocket extends EventEmitter implements Polled {
  connecting: boolean;
  destroyed = false;
  errored: NodeJS.ErrnoException | null = null;
  localPort: number | undefined;
  remotePort: number | undefined;
  private readonly handle: number;
  private pending: Buffer[] = [];
  private ending = false;
  private shut = false;
  private peerEnded = false;
  private retry: NodeJS.Immediate | undefined;

  constructor(handle: number, connecting: boolean) {
    super();
    this.handle = handle;
    this.connecting = connecting;
    // A host stack autotunes a loopback sender's buffer up to megabytes (Linux: tcp_wmem's 4 MiB):
    // so does this peer, so that a large write reaches the session as fast as it can take it.
    net().setOption(handle, 'sndbuf', 4 * 1024 * 1024);
    try {
      this.localPort = net().localAddress(handle).port;
    } catch {
      this.localPort = undefined;
    }
    try {
      this.remotePort = net().remoteAddress(handle).port; // an accepted socket's peer
    } catch {
      this.remotePort = undefined; // still connecting: set once connected
    }
    track(this);
  }

  /** A client connecting to host:port (not waited for, like net.connect). */
  static connect(port: number, host: string): MemorySocket {
    const { family, bytes } = addressBytes(host);
    const handle = net().socket(family, 'tcp');
    try {
      net().connect(handle, family, port, bytes);
    } catch (error) {
      net().close(handle);
      throw error;
    }
    return new MemorySocket(handle, true);
  }

  get writable(): boolean {
    return !this.destroyed && !this.ending;
  }

  write(data: string | Buffer, callback?: (error?: Error | null) => void): boolean {
    if (this.destroyed || this.ending) return false;
    this.pending.push(typeof data === 'string' ? Buffer.from(data) : data);
    this.flush();
    if (callback) process.nextTick(() => callback(this.errored));
    return true;
  }

  end(data?: string | Buffer): this {
    if (data !== undefined) this.write(data);
    this.ending = true;
    this.flush();
    return this;
  }

  /** Closes at once: a FIN (a reset if unread data is left, as the host's stacks do). */
  destroy(): this {
    this.finish(false, undefined);
    return this;
  }

  resetAndDestroy(): this {
    if (!this.destroyed) {
      untrack(this);
      this.destroyed = true;
      net().close(this.handle, true);
      process.nextTick(() => this.emit('close', false));
    }
    return this;
  }

  poll(): void {
    if (this.destroyed) return;
    let events: number;
    try {
      events = net().readiness(this.handle);
    } catch {
      this.finish(true, errnoError('EBADF', 'poll'));
      return;
    }
    if (this.connecting) {
      if (!(events & (WRITABLE | ERROR | HANGUP))) return;
      const result = net().connectResult(this.handle);
      if (result !== 'OK') {
        this.finish(true, errnoError(result, 'connect'));
        return;
      }
      this.connecting = false;
      this.localPort = net().localAddress(this.handle).port;
      this.remotePort = net().remoteAddress(this.handle).port;
      this.emit('connect');
    }
    this.flush();
    if (this.destroyed) return;
    while (!this.peerEnded && events & (READABLE | ERROR | HANGUP)) {
      let chunk: Buffer | null;
      try {
        chunk = net().receive(this.handle);
      } catch (error) {
        this.finish(true, error as NodeJS.ErrnoException);
        return;
      }
      if (chunk === null) break;
      if (chunk.length === 0) {
        this.peerEnded = true;
        this.emit('end');
        break;
      }
      this.emit('data', chunk);
    }
    if (this.peerEnded && this.shut) this.finish(false, undefined);
  }

  private flush(): void {
    if (this.connecting || this.destroyed) return;
    while (this.pending.length > 0) {
      let sent: number;
      try {
        sent = net().send(this.handle, this.pending[0]!);
      } catch (error) {
        this.finish(true, error as NodeJS.ErrnoException);
        return;
      }
      if (sent === 0) return this.soon();
      if (sent < this.pending[0]!.length) {
        this.pending[0] = this.pending[0]!.subarray(sent);
        return this.soon();
      }
      this.pending.shift();
    }
    if (this.ending && !this.shut) {
      this.shut = true;
      try {
        net().shutdown(this.handle);
      } catch (error) {
        this.finish(true, error as NodeJS.ErrnoException);
      }
    }
  }

  /** Bytes are waiting for window: try again as soon as the loop turns, as a Node writer would. */
  private soon(): void {
    if (this.retry) return;
    this.retry = setImmediate(() => {
      this.retry = undefined;
      this.poll();
    });
  }

  private finish(hadError: boolean, error: NodeJS.ErrnoException | undefined): void {
    if (this.destroyed) return;
    untrack(this);
    if (this.retry) clearImmediate(this.retry);
    this.destroyed = true;
    this.connecting = false;
    net().close(this.handle, false);
    if (error) this.errored = error;
    process.nextTick(() => {
      if (error) this.emit('error', error);
      this.emit('close', hadError);
    });
  }
}

/** The close of a listener or UDP socket: once, then the callback (as Node's do). */
function closeOnce(peer: Polled & { closedAlready: boolean; readonly handle: number }, callback?: () => void): void {
  if (!peer.closedAlready) {
    peer.closedAlready = true;
    untrack(peer);
    net().close(peer.handle);
  }
  if (callback) process.nextTick(callback);
}

/** A TCP listener on the in-memory network; 'connection' for each accepted socket. */
export class MemoryServer extends EventEmitter implements Polled {
  readonly port: number;
  readonly handle: number;
  closedAlready = false;

  constructor(host: string) {
    super();
    const { family, bytes } = addressBytes(host);
    this.handle = net().socket(family, 'tcp');
    net().bind(this.handle, family, 0, bytes);
    net().listen(this.handle, 64);
    this.port = net().localAddress(this.handle).port;
    track(this);
  }

  poll(): void {
    for (;;) {
      const accepted = net().accept(this.handle);
      if (!accepted) return;
      this.emit('connection', new MemorySocket(accepted.handle, false));
    }
  }

  close(callback?: () => void): void {
    closeOnce(this, callback);
  }
}

/** A UDP socket on the in-memory network; 'message' (data, { address, port }) per datagram. */
export class MemoryUdp extends EventEmitter implements Polled {
  readonly port: number;
  readonly handle: number;
  private readonly family: 4 | 6;
  closedAlready = false;

  constructor(host: string) {
    super();
    const { family, bytes } = addressBytes(host);
    this.family = family;
    this.handle = net().socket(family, 'udp');
    net().bind(this.handle, family, 0, bytes);
    this.port = net().localAddress(this.handle).port;
    track(this);
  }

  address(): { port: number } {
    return { port: this.port };
  }

  send(data: Buffer | string, port: number, host: string, callback?: (error: Error | null) => void): void {
    const { family, bytes } = addressBytes(host);
    let failure: Error | null = null;
    try {
      if (family !== this.family) throw errnoError('EAFNOSUPPORT', 'send');
      net().sendTo(this.handle, typeof data === 'string' ? Buffer.from(data) : data, family, port, bytes);
    } catch (error) {
      failure = error as Error;
    }
    if (callback) process.nextTick(() => callback(failure));
  }

  poll(): void {
    for (;;) {
      const datagram = net().receiveFrom(this.handle);
      if (!datagram) return;
      this.emit('message', datagram.data, { port: datagram.port });
    }
  }

  close(callback?: () => void): void {
    closeOnce(this, callback);
  }
}

// SPDX-License-Identifier: MIT
//
// The library's errors. Every error it throws has a Node-style `code`:
// - WskError (a driver or WSK operation failed): `code` is the NTSTATUS name,
//   'STATUS_CONNECTION_REFUSED' ('NTSTATUS_C0001234' for a value not in the table). The name is
//   what the WSK documentation and WinDbg print, it is unique per status, and it cannot be
//   confused with Node's errno codes ('ECONNREFUSED') of a Node peer in the same test.
// - Misuse of the library: Node's own codes where Node has one (ERR_INVALID_ARG_TYPE,
//   ERR_INVALID_ARG_VALUE, ERR_OUT_OF_RANGE, ABORT_ERR, ETIMEDOUT), else 'ERR_WSKB_*'
//   (ERR_WSKB_SESSION_CLOSED, ERR_WSKB_INSPECT_DECIDED).

import { hexStatus, statusName, toSigned } from './ntstatus.js';
import type { WskAddress } from './protocol.js';

/** What a WskError says about where it happened. */
export interface WskErrorContext {
  /** The socket the operation was on (undefined for session-wide operations). */
  socketId?: bigint;
  /** The address involved (bind, connect, sendTo), as given. */
  address?: WskAddress;
  /** More detail, appended to the message. */
  detail?: string;
}

/** `0x1a0001`: how socket ids are printed everywhere (messages, inspect, trace, demo). */
export function formatSocketId(id: bigint): string {
  return `0x${id.toString(16)}`;
}

/** `127.0.0.1:80`, `[::1]:80`, `-` for none. */
export function formatAddress(address: { address: string; port: number; family?: unknown } | null | undefined): string {
  if (!address) return '-';
  return address.address.includes(':') ? `[${address.address}]:${address.port}` : `${address.address}:${address.port}`;
}

/**
 * A driver or WSK operation that failed with an error NTSTATUS (severity 3). Informational and
 * warning statuses (STATUS_PENDING, STATUS_EVENT_PENDING, STATUS_BUFFER_OVERFLOW) never throw.
 * The message names the operation, the socket and the address:
 * `connect failed: STATUS_CONNECTION_REFUSED (0xc0000236) on socket 0x10001 to 127.0.0.1:9`.
 */
export class WskError extends Error {
  override name = 'WskError';
  /** The NTSTATUS name, as a Node-style code: `STATUS_CONNECTION_REFUSED`. */
  readonly code: string;
  /** The NTSTATUS, as a signed 32-bit integer (as in INT32 fields). */
  readonly status: number;
  /** `STATUS_ADDRESS_ALREADY_ASSOCIATED`, or `NTSTATUS_C0001234` for a value not in the table. */
  readonly statusName: string;
  /** What failed: `bind`, `connect`, `socket`, … */
  readonly operation: string;
  /** The socket the operation was on, if any. */
  readonly socketId: bigint | undefined;
  /** The address the operation was given, if any. */
  readonly address: WskAddress | undefined;

  constructor(operation: string, status: number, context?: string | WskErrorContext) {
    const ctx: WskErrorContext = typeof context === 'string' ? { detail: context } : (context ?? {});
    const name = statusName(status);
    const where = [
      ctx.socketId !== undefined ? ` on socket ${formatSocketId(ctx.socketId)}` : '',
      ctx.address !== undefined ? ` ${operation === 'bind' ? 'at' : 'to'} ${formatAddress(ctx.address)}` : '',
    ].join('');
    super(`${operation} failed: ${name} (${hexStatus(status)})${where}${ctx.detail ? `: ${ctx.detail}` : ''}`);
    this.status = toSigned(status);
    this.statusName = name;
    this.code = name;
    this.operation = operation;
    this.socketId = ctx.socketId;
    this.address = ctx.address;
  }
}

/** Thrown by an iterator whose AbortSignal fired, as Node core's iterators do. */
export class AbortError extends Error {
  override name = 'AbortError';
  readonly code = 'ABORT_ERR';
  constructor(message = 'The operation was aborted', options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** The session was closed (or is closing) when the call was made: `code` 'ERR_WSKB_SESSION_CLOSED'. */
export class SessionClosedError extends Error {
  override name = 'SessionClosedError';
  readonly code = 'ERR_WSKB_SESSION_CLOSED';
  constructor(operation: string) {
    super(`${operation}: the session is closed`);
  }
}

/**
 * `once()`/`collect()` ran out of its `timeout`: name 'TimeoutError' (the name of
 * `AbortSignal.timeout()`'s reason) and code 'ETIMEDOUT' (Node's errno code for a timeout), so
 * a test tells its own deadline from a cancellation (an AbortSignal gives AbortError, ABORT_ERR).
 * `received` holds the events taken before the deadline: none is lost.
 */
export class TimeoutError extends Error {
  override name = 'TimeoutError';
  readonly code = 'ETIMEDOUT';
  constructor(
    message: string,
    /** What was taken before the deadline (collect(): fewer than asked). */
    readonly received: readonly unknown[] = [],
  ) {
    super(message);
  }
}

type Coded<E extends Error> = E & { code: string };

function coded<E extends Error>(error: E, code: string): Coded<E> {
  Object.defineProperty(error, 'code', { value: code, enumerable: true, writable: true, configurable: true });
  return error as Coded<E>;
}

/** Node's ERR_INVALID_ARG_TYPE: a TypeError with that code. */
export function invalidArgType(name: string, expected: string, actual: unknown): Coded<TypeError> {
  return coded(new TypeError(`The "${name}" argument must be ${expected}, got ${describe(actual)}`), 'ERR_INVALID_ARG_TYPE');
}

/** Node's ERR_INVALID_ARG_VALUE: a TypeError with that code. */
export function invalidArgValue(name: string, value: unknown, reason: string): Coded<TypeError> {
  return coded(new TypeError(`The "${name}" argument ${reason}, got ${describe(value)}`), 'ERR_INVALID_ARG_VALUE');
}

/** Node's ERR_OUT_OF_RANGE: a RangeError with that code. */
export function outOfRange(name: string, range: string, value: unknown): Coded<RangeError> {
  return coded(new RangeError(`The value of "${name}" is out of range. It must be ${range}. Received ${describe(value)}`), 'ERR_OUT_OF_RANGE');
}

/** A library-specific misuse: an Error with an 'ERR_WSKB_*' code. */
export function wskbError(code: `ERR_WSKB_${string}`, message: string): Coded<Error> {
  return coded(new Error(message), code);
}

function describe(value: unknown): string {
  if (typeof value === 'bigint') return `${value}n`;
  if (typeof value === 'function') return 'a function';
  if (typeof value === 'object' && value !== null) return `an object`;
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

/** An integer in [min, max] (ERR_INVALID_ARG_TYPE when not a number, ERR_OUT_OF_RANGE otherwise). */
export function checkInteger(name: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number') throw invalidArgType(name, 'of type number', value);
  if (!Number.isInteger(value) || value < min || value > max) throw outOfRange(name, `an integer >= ${min} and <= ${max}`, value);
  return value;
}

/** Refuses keys an options object does not know (a misspelt option is otherwise silently ignored). */
export function checkOptions(name: string, options: unknown, known: readonly string[]): void {
  if (options === undefined) return;
  if (options === null || typeof options !== 'object') throw invalidArgType(name, 'an object', options);
  for (const key of Object.keys(options)) {
    if (!known.includes(key)) {
      throw invalidArgValue(`${name}.${key}`, (options as Record<string, unknown>)[key], `is not an option (known: ${known.join(', ')})`);
    }
  }
}

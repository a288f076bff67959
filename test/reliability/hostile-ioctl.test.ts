// SPDX-License-Identifier: MIT
//
// Hostile input, raw through the device: a table generated over every IOCTL of driver/protocol.h
// (short, long and misaligned input lengths; declared Length fields near 2^32; output buffers one
// byte short; unknown codes; ids that are zero, stale, of the wrong generation or out of range;
// calls after close; reserved fields and unknown flag bits set; malformed addresses; READ_EVENTS
// with a buffer too small; the raw-control allowlist: every refused code, every entry's size
// ranges and IRP rule, and each entry's own shape getting past the table), each row with the
// exact NTSTATUS of driver/ioctl.c's documented checking order, and no bytes returned. After the table the session still works and ksim is at
// its baseline (no pool, IRP, MDL or socket left behind by any refused request). Then: sessions
// cannot touch each other's sockets.
//
// test/errors.test.ts has a short hand-written table of the same kind; this one is exhaustive
// over codes and fields, generated, so a new IOCTL gets its rows by being listed below.

import assert from 'node:assert/strict';
import { addon, type NativeDevice } from '../../lib/addon.js';
import { CONTROL_ALLOWLIST, controlRequestType, open, type WskSession } from '../../lib/index.js';
import * as P from '../../lib/protocol.js';
import { eventually, leakCounters } from '../helpers/util.js';

const S = {
  INVALID_PARAMETER: 'STATUS_INVALID_PARAMETER',
  INVALID_BUFFER_SIZE: 'STATUS_INVALID_BUFFER_SIZE',
  BUFFER_TOO_SMALL: 'STATUS_BUFFER_TOO_SMALL',
  INVALID_HANDLE: 'STATUS_INVALID_HANDLE',
  INVALID_DEVICE_REQUEST: 'STATUS_INVALID_DEVICE_REQUEST',
  INVALID_DEVICE_STATE: 'STATUS_INVALID_DEVICE_STATE',
  NOT_SUPPORTED: 'STATUS_NOT_SUPPORTED',
  BUFFER_SIZE_WRONG: 'STATUS_INVALID_BUFFER_SIZE',
  PARAMETER_MIX: 'STATUS_INVALID_PARAMETER_MIX',
  REVISION_MISMATCH: 'STATUS_REVISION_MISMATCH',
} as const;

/** The ids the table's inputs refer to, made fresh for each row. */
interface Ids {
  connection: bigint;
  datagram: bigint;
  listen: bigint;
  /** A socket of this session, closed: its id must never work again. */
  stale: bigint;
}

interface Row {
  name: string;
  code: number;
  input: (ids: Ids) => Uint8Array | null;
  output: number;
  status: string;
}

const loop = { family: 'ipv4', address: '127.0.0.1', port: 9 } as const;
const u32 = (buf: Buffer, offset: number, value: number): Buffer => {
  buf.writeUInt32LE(value >>> 0, offset);
  return buf;
};
const u16 = (buf: Buffer, offset: number, value: number): Buffer => {
  buf.writeUInt16LE(value, offset);
  return buf;
};
/** The input cut or padded (with zeros) to `length` bytes. */
const resized = (buf: Uint8Array, length: number): Buffer => {
  const out = Buffer.alloc(length);
  out.set(buf.subarray(0, Math.min(length, buf.length)));
  return out;
};
const hex = (n: number) => `0x${(n >>> 0).toString(16)}`;

// Declared lengths a hostile caller picks: just over the limit, sign-bit set, and the ones
// whose sum with a header wraps a 32-bit (or fits a 64-bit) size_t computation.
const HUGE_LENGTHS = (header: number, limit: number) => [limit + 1, 0x7fffffff, 0x80000000, 0xffffffff - header + 1, 0xfffffff8, 0xffffffff];

// ---- fixed-size inputs: any other length is STATUS_INVALID_PARAMETER ----
const fixedInputs: Array<{ ioctl: string; code: number; size: number; output: number; make: (c: Ids) => Buffer }> = [
  { ioctl: 'HELLO', code: P.WSKB_IOCTL_HELLO, size: 16, output: 24, make: () => P.encodeHelloIn(0) },
  { ioctl: 'SOCKET_CREATE', code: P.WSKB_IOCTL_SOCKET_CREATE, size: 16, output: 8, make: () => P.encodeSocketCreateIn({ family: 2, socketType: 2, protocol: 17, wskFlags: 4, options: 0 }) },
  { ioctl: 'BIND', code: P.WSKB_IOCTL_BIND, size: 48, output: 0, make: (c) => P.encodeAddressIn(c.datagram, loop, 0) },
  { ioctl: 'CONNECT', code: P.WSKB_IOCTL_CONNECT, size: 48, output: 0, make: (c) => P.encodeAddressIn(c.connection, loop, 0) },
  { ioctl: 'ACCEPT', code: P.WSKB_IOCTL_ACCEPT, size: 16, output: 72, make: (c) => P.encodeAcceptIn(c.listen, 0) },
  { ioctl: 'RECEIVE', code: P.WSKB_IOCTL_RECEIVE, size: 16, output: 16, make: (c) => P.encodeDataIn(c.connection, 0, null, 16) },
  { ioctl: 'RECEIVE_FROM', code: P.WSKB_IOCTL_RECEIVE_FROM, size: 16, output: 56, make: (c) => P.encodeDataIn(c.datagram, 0, null, 16) },
  { ioctl: 'GET_ADDRESS', code: P.WSKB_IOCTL_GET_ADDRESS, size: 16, output: 32, make: (c) => P.encodeGetAddressIn(c.datagram, 0) },
  { ioctl: 'CLOSE', code: P.WSKB_IOCTL_CLOSE, size: 8, output: 0, make: (c) => P.encodeSocketId(c.datagram) },
  { ioctl: 'INSPECT_COMPLETE', code: P.WSKB_IOCTL_INSPECT_COMPLETE, size: 24, output: 0, make: (c) => P.encodeInspectCompleteIn(c.listen, 1n, 1) },
];

// ---- header + declared Length inputs ----
const variableInputs: Array<{ ioctl: string; code: number; header: number; lengthAt: number; limit: number; output: number; make: (c: Ids, data: Buffer) => Buffer }> = [
  { ioctl: 'SEND', code: P.WSKB_IOCTL_SEND, header: 16, lengthAt: 12, limit: P.WSKB_MAX_IO_BYTES, output: 8, make: (c, d) => P.encodeDataIn(c.connection, 0, d) },
  { ioctl: 'DISCONNECT', code: P.WSKB_IOCTL_DISCONNECT, header: 16, lengthAt: 12, limit: P.WSKB_MAX_IO_BYTES, output: 8, make: (c, d) => P.encodeDataIn(c.connection, 0, d) },
  { ioctl: 'SEND_TO', code: P.WSKB_IOCTL_SEND_TO, header: 48, lengthAt: 44, limit: P.WSKB_MAX_IO_BYTES, output: 8, make: (c, d) => P.encodeSendToIn(c.datagram, loop, 0, d) },
  { ioctl: 'CONTROL_CLIENT', code: P.WSKB_IOCTL_CONTROL_CLIENT, header: 16, lengthAt: 4, limit: P.WSKB_MAX_CONTROL_BYTES, output: 16, make: (_c, d) => P.encodeControlClientIn(1, d, 0, 0) },
  { ioctl: 'CONTROL_SOCKET', code: P.WSKB_IOCTL_CONTROL_SOCKET, header: 32, lengthAt: 20, limit: P.WSKB_MAX_CONTROL_BYTES, output: 16, make: (c, d) => P.encodeControlSocketIn({ socketId: c.datagram, requestType: 0, code: 0x4002, level: 0xffff, input: d, outputLength: 0, flags: 0 }) },
];

function lengthRows(): Row[] {
  const rows: Row[] = [];
  for (const f of fixedInputs) {
    const lengths = [...new Set([0, 1, f.size - 1, f.size + 1, f.size + 3, f.size + 8, 2 * f.size, 4096])].filter((n) => n >= 0 && n !== f.size);
    for (const length of lengths) {
      rows.push({ name: `${f.ioctl} with a ${length}-byte input (${f.size} expected)`, code: f.code, input: (c) => resized(f.make(c), length), output: f.output, status: S.INVALID_PARAMETER });
    }
  }
  for (const v of variableInputs) {
    const eight = Buffer.alloc(8, 0x41);
    for (const length of [0, 1, v.header - 1]) {
      rows.push({ name: `${v.ioctl} shorter than its ${v.header}-byte header (${length})`, code: v.code, input: (c) => resized(v.make(c, eight), length), output: v.output, status: S.INVALID_PARAMETER });
    }
    for (const delta of [-8, -1, +1, +3]) {
      rows.push({
        name: `${v.ioctl} whose declared Length is ${8 + delta} with 8 bytes following`,
        code: v.code,
        input: (c) => u32(v.make(c, eight), v.lengthAt, 8 + delta),
        output: v.output,
        status: S.INVALID_PARAMETER,
      });
    }
    for (const length of HUGE_LENGTHS(v.header, v.limit)) {
      rows.push({ name: `${v.ioctl} with a declared Length of ${hex(length)}`, code: v.code, input: (c) => u32(v.make(c, eight), v.lengthAt, length), output: v.output, status: S.INVALID_BUFFER_SIZE });
    }
  }
  // CONTROL_*: the OutputLength the caller wants from WSK is bounded as well.
  for (const v of variableInputs.filter((x) => x.ioctl.startsWith('CONTROL'))) {
    const outputAt = v.lengthAt + 4;
    for (const length of [P.WSKB_MAX_CONTROL_BYTES + 1, 0x80000000, 0xffffffff - 15, 0xffffffff]) {
      rows.push({ name: `${v.ioctl} asking for ${hex(length)} output bytes`, code: v.code, input: (c) => u32(v.make(c, Buffer.alloc(4)), outputAt, length), output: 16 + 4096, status: S.INVALID_BUFFER_SIZE });
    }
  }
  // RECEIVE / RECEIVE_FROM: the Length is the size of the read, checked before the output.
  for (const [ioctl, code, id] of [['RECEIVE', P.WSKB_IOCTL_RECEIVE, 'connection'], ['RECEIVE_FROM', P.WSKB_IOCTL_RECEIVE_FROM, 'datagram']] as const) {
    for (const length of HUGE_LENGTHS(40, P.WSKB_MAX_IO_BYTES)) {
      rows.push({ name: `${ioctl} of ${hex(length)} bytes`, code, input: (c) => P.encodeDataIn(c[id], 0, null, length), output: 65536, status: S.INVALID_BUFFER_SIZE });
    }
  }
  // No input at all for these.
  for (const [ioctl, code, output] of [['READ_EVENTS', P.WSKB_IOCTL_READ_EVENTS, P.WSKB_READ_EVENTS_MIN_OUTPUT], ['STATS', P.WSKB_IOCTL_STATS, 88]] as const) {
    for (const length of [1, 8, 4096]) rows.push({ name: `${ioctl} with ${length} input bytes`, code, input: () => Buffer.alloc(length), output, status: S.INVALID_PARAMETER });
  }
  return rows;
}

function outputRows(): Row[] {
  const rows: Row[] = [];
  const needs: Array<[string, number, number, (c: Ids) => Buffer | null]> = [
    ['HELLO', P.WSKB_IOCTL_HELLO, 24, () => P.encodeHelloIn(0)],
    ['SOCKET_CREATE', P.WSKB_IOCTL_SOCKET_CREATE, 8, () => P.encodeSocketCreateIn({ family: 2, socketType: 2, protocol: 17, wskFlags: 4, options: 0 })],
    ['ACCEPT', P.WSKB_IOCTL_ACCEPT, 72, (c) => P.encodeAcceptIn(c.listen, 0)],
    ['RECEIVE of 16 bytes', P.WSKB_IOCTL_RECEIVE, 16, (c) => P.encodeDataIn(c.connection, 0, null, 16)],
    ['RECEIVE_FROM of 16 bytes', P.WSKB_IOCTL_RECEIVE_FROM, 40 + 16, (c) => P.encodeDataIn(c.datagram, 0, null, 16)],
    ['RECEIVE_FROM of 0 bytes', P.WSKB_IOCTL_RECEIVE_FROM, 40, (c) => P.encodeDataIn(c.datagram, 0, null, 0)],
    ['GET_ADDRESS', P.WSKB_IOCTL_GET_ADDRESS, 32, (c) => P.encodeGetAddressIn(c.datagram, 0)],
    ['STATS', P.WSKB_IOCTL_STATS, 88, () => null],
    ['CONTROL_CLIENT (WSK_TRANSPORT_LIST_QUERY) wanting 8 output bytes', P.WSKB_IOCTL_CONTROL_CLIENT, 16 + 8, () => P.encodeControlClientIn(2, null, 8, 0)],
    ['CONTROL_SOCKET (SIO_WSK_QUERY_IDEAL_SEND_BACKLOG) wanting 8 output bytes', P.WSKB_IOCTL_CONTROL_SOCKET, 16 + 8, (c) => P.encodeControlSocketIn({ socketId: c.datagram, requestType: 2, code: 0x4f000003, level: 0, input: null, outputLength: 8, flags: P.WSKB_CONTROL_FLAG_USE_IRP })],
  ];
  for (const [what, code, needed, make] of needs) {
    for (const output of [0, 1, needed - 1]) {
      rows.push({ name: `${what} with a ${output}-byte output (${needed} needed)`, code, input: make, output, status: S.BUFFER_TOO_SMALL });
    }
  }
  for (const output of [0, 1, 4096, P.WSKB_READ_EVENTS_MIN_OUTPUT - 1]) {
    rows.push({ name: `READ_EVENTS with a ${output}-byte buffer (${P.WSKB_READ_EVENTS_MIN_OUTPUT} needed)`, code: P.WSKB_IOCTL_READ_EVENTS, input: () => null, output, status: S.BUFFER_TOO_SMALL });
  }
  return rows;
}

function unknownCodeRows(): Row[] {
  const T = P.WSKB_DEVICE_TYPE;
  const codes: Array<[string, number]> = [
    ['0', 0],
    ['0xffffffff', 0xffffffff],
    ['function 0x7ff', P.ctlCode(T, 0x7ff, 0, 3)],
    ['function 0x811 (one past STATS)', P.ctlCode(T, 0x811, 0, 3)],
    ['function 0xfff', P.ctlCode(T, 0xfff, 0, 3)],
    ['SEND with METHOD_NEITHER', P.ctlCode(T, 0x806, 3, 3)],
    ['SEND with METHOD_IN_DIRECT', P.ctlCode(T, 0x806, 1, 3)],
    ['SEND with FILE_ANY_ACCESS', P.ctlCode(T, 0x806, 0, 0)],
    ['HELLO of another device type', P.ctlCode(0x22, 0x800, 0, 3)],
    ['HELLO of device type 0x9a58', P.ctlCode(T + 1, 0x800, 0, 3)],
  ];
  return codes.map(([what, code]) => ({ name: `unknown code ${what} (${hex(code)})`, code, input: () => Buffer.alloc(64), output: 64, status: S.INVALID_DEVICE_REQUEST }));
}

function fieldRows(): Row[] {
  const rows: Row[] = [];
  const add = (name: string, code: number, output: number, status: string, input: (c: Ids) => Buffer | null) => rows.push({ name, code, input, output, status });
  // Reserved fields and unknown bits.
  add('BIND with WSKB_ADDRESS_IN.Reserved = 1', P.WSKB_IOCTL_BIND, 0, S.INVALID_PARAMETER, (c) => u32(P.encodeAddressIn(c.datagram, loop, 0), 44, 1));
  add('CONNECT with WSKB_ADDRESS_IN.Reserved = 0x80000000', P.WSKB_IOCTL_CONNECT, 0, S.INVALID_PARAMETER, (c) => u32(P.encodeAddressIn(c.connection, loop, 0), 44, 0x80000000));
  add('BIND with WSKB_SOCKADDR.Reserved = 1', P.WSKB_IOCTL_BIND, 0, S.INVALID_PARAMETER, (c) => u32(P.encodeAddressIn(c.datagram, loop, 0), 8 + 28, 1));
  add('SEND_TO with WSKB_SOCKADDR.Reserved = 1', P.WSKB_IOCTL_SEND_TO, 8, S.INVALID_PARAMETER, (c) => u32(P.encodeSendToIn(c.datagram, loop, 0, Buffer.alloc(1)), 8 + 28, 1));
  add('ACCEPT with Reserved = 1', P.WSKB_IOCTL_ACCEPT, 72, S.INVALID_PARAMETER, (c) => u32(P.encodeAcceptIn(c.listen, 0), 12, 1));
  add('ACCEPT with Reserved = 1 and a bad id (fields before ids)', P.WSKB_IOCTL_ACCEPT, 72, S.INVALID_PARAMETER, () => u32(P.encodeAcceptIn(0n, 0), 12, 1));
  add('GET_ADDRESS with Reserved = 1', P.WSKB_IOCTL_GET_ADDRESS, 32, S.INVALID_PARAMETER, (c) => u32(P.encodeGetAddressIn(c.datagram, 0), 12, 1));
  for (const which of [2, 0x80000000, 0xffffffff]) {
    add(`GET_ADDRESS with Which = ${hex(which)}`, P.WSKB_IOCTL_GET_ADDRESS, 32, S.INVALID_PARAMETER, (c) => P.encodeGetAddressIn(c.datagram, which));
  }
  add('INSPECT_COMPLETE with Reserved = 1', P.WSKB_IOCTL_INSPECT_COMPLETE, 0, S.INVALID_PARAMETER, (c) => u32(P.encodeInspectCompleteIn(c.listen, 1n, 1), 20, 1));
  for (const action of [2, 3, 0xffffffff]) {
    add(`INSPECT_COMPLETE with Action = ${hex(action)} (only Reject or Accept)`, P.WSKB_IOCTL_INSPECT_COMPLETE, 0, S.INVALID_PARAMETER, (c) => P.encodeInspectCompleteIn(c.listen, 1n, action));
  }
  for (const options of [0x2, 0x80000000, 0xffffffff]) {
    add(`SOCKET_CREATE with Options = ${hex(options)}`, P.WSKB_IOCTL_SOCKET_CREATE, 8, S.INVALID_PARAMETER, () => P.encodeSocketCreateIn({ family: 2, socketType: 2, protocol: 17, wskFlags: 4, options }));
  }
  for (const wskFlags of [0x3, 0x8, 0x10, 0xffffffff]) {
    add(`SOCKET_CREATE with WskFlags = ${hex(wskFlags)} (not a kind the driver drives; 0x8 is a stream socket)`, P.WSKB_IOCTL_SOCKET_CREATE, 8, S.INVALID_PARAMETER, () => P.encodeSocketCreateIn({ family: 2, socketType: 2, protocol: 17, wskFlags, options: 0 }));
  }
  for (const flags of [0x2, 0x80000000]) {
    add(`CONTROL_CLIENT with Flags = ${hex(flags)}`, P.WSKB_IOCTL_CONTROL_CLIENT, 16, S.INVALID_PARAMETER, () => P.encodeControlClientIn(1, Buffer.alloc(4), 0, flags));
    add(`CONTROL_SOCKET with Flags = ${hex(flags)}`, P.WSKB_IOCTL_CONTROL_SOCKET, 16, S.INVALID_PARAMETER, (c) => P.encodeControlSocketIn({ socketId: c.datagram, requestType: 0, code: 0x4002, level: 0xffff, input: Buffer.alloc(4), outputLength: 0, flags }));
  }
  for (const requestType of [3, 0xffffffff]) {
    add(`CONTROL_SOCKET with RequestType = ${hex(requestType)} (past WskControlMax)`, P.WSKB_IOCTL_CONTROL_SOCKET, 16, S.INVALID_PARAMETER, (c) => P.encodeControlSocketIn({ socketId: c.datagram, requestType, code: 0x4002, level: 0xffff, input: Buffer.alloc(4), outputLength: 0, flags: 0 }));
  }
  // Addresses: families other than AF_INET (2) and AF_INET6 (23), and IPv4 with IPv6-only fields.
  for (const family of [0, 1, 10, 99, 0xffff]) {
    add(`BIND with address family ${family}`, P.WSKB_IOCTL_BIND, 0, S.INVALID_PARAMETER, (c) => u16(P.encodeAddressIn(c.datagram, loop, 0), 8, family));
    add(`CONNECT with address family ${family}`, P.WSKB_IOCTL_CONNECT, 0, S.INVALID_PARAMETER, (c) => u16(P.encodeAddressIn(c.connection, loop, 0), 8, family));
    add(`SEND_TO with address family ${family}`, P.WSKB_IOCTL_SEND_TO, 8, S.INVALID_PARAMETER, (c) => u16(P.encodeSendToIn(c.datagram, loop, 0, Buffer.alloc(1)), 8, family));
  }
  add('BIND with AF_INET and a FlowInfo', P.WSKB_IOCTL_BIND, 0, S.INVALID_PARAMETER, (c) => u32(P.encodeAddressIn(c.datagram, loop, 0), 8 + 4, 7));
  add('BIND with AF_INET and a ScopeId', P.WSKB_IOCTL_BIND, 0, S.INVALID_PARAMETER, (c) => u32(P.encodeAddressIn(c.datagram, loop, 0), 8 + 24, 1));
  add('BIND with AF_INET and bytes past the 4 of an IPv4 address', P.WSKB_IOCTL_BIND, 0, S.INVALID_PARAMETER, (c) => u32(P.encodeAddressIn(c.datagram, loop, 0), 8 + 8 + 12, 1));
  add('BIND with a bad address and a bad id (address before id)', P.WSKB_IOCTL_BIND, 0, S.INVALID_PARAMETER, () => u16(P.encodeAddressIn(0n, loop, 0), 8, 99));
  return rows;
}

// ---- the raw-control allowlist (driver/controltable.c, lib/controls.ts, docs/controls.md) ----
// Refused: every code outside the table, whatever its bytes, on a live socket (so a code that
// got through would reach WSK and complete with STATUS_SUCCESS, failing its row). Each entry of
// the table: one byte under and over each size range (STATUS_INVALID_BUFFER_SIZE), the IRP rule
// broken both ways it can be (STATUS_INVALID_PARAMETER_MIX), and the entry's own shape getting
// past the table to the next check (id 0: STATUS_INVALID_HANDLE; for the client, an output
// buffer one byte short: STATUS_BUFFER_TOO_SMALL), which WSK would never answer.
const refusedClientCodes: Array<[string, number]> = [
  ['0', 0],
  ['1', 1],
  ['WSK_TRANSPORT_LIST_CHANGE (its IRP is cancelled only by WskDeregister)', 3],
  ['WSK_CACHE_SD (pointers)', 4],
  ['WSK_RELEASE_SD (pointers)', 5],
  ['WSK_TDI_DEVICENAME_MAPPING (pointers)', 6],
  ['9', 9],
  ['0x77', 0x77],
  ['0x80000000', 0x80000000],
  ['0xffffffff', 0xffffffff],
];
const refusedSocketCodes: Array<[string, number, number, number]> = [
  // name, request type, level, code
  ['SO_WSK_SECURITY set (a security descriptor pointer)', 0, 0xffff, 0x4001],
  ['SO_WSK_SECURITY get', 1, 0xffff, 0x4001],
  ['SO_WSK_EVENT_CALLBACK get', 1, 0xffff, 0x4002],
  ['SO_WSK_EVENT_CALLBACK as an ioctl', 2, 0xffff, 0x4002],
  ['SIO_WSK_REGISTER_EXTENSION (dispatch tables)', 2, 0, 0xcf000002],
  ['SIO_WSK_SET_RECEIVE_EX_CALLBACK (a callback)', 2, 0, 0x8f000008],
  ['SIO_WSK_QUERY_INSPECT_ID (a ULONG_PTR Key)', 2, 0, 0x4f000005],
  ['SIO_ADDRESS_LIST_QUERY (kernel pointers in its output)', 2, 0, 0x48000016],
  ['SIO_ADDRESS_LIST_CHANGE (not modelled)', 2, 0, 0x28000017],
  ['SIO_ADDRESS_LIST_SORT (pointers in its input)', 2, 0, 0xc8000019],
  ['an unknown ioctl', 2, 0, 0x4f0000ff],
  ['an unknown SOL_SOCKET option', 1, 0xffff, 0x7777],
  ['SO_TYPE set (read-only)', 0, 0xffff, 0x1008],
  ['SO_TYPE at IPPROTO_TCP', 1, 6, 0x1008],
  ['SO_RCVBUF at an unknown level', 1, 0x4242, 0x1002],
  ['SO_RCVBUF as an ioctl', 2, 0, 0x1002],
  ['SIO_WSK_QUERY_IDEAL_SEND_BACKLOG as an option', 1, 0xffff, 0x4f000003],
  ['TCP_NODELAY at SOL_SOCKET (SO_DEBUG)', 0, 0xffff, 1],
];

function allowlistRows(): Row[] {
  const rows: Row[] = [];
  const useIrp = P.WSKB_CONTROL_FLAG_USE_IRP;
  for (const [what, code] of refusedClientCodes) {
    for (const flags of [0, useIrp]) {
      rows.push({ name: `CONTROL_CLIENT ${what}, flags ${flags}`, code: P.WSKB_IOCTL_CONTROL_CLIENT, input: () => P.encodeControlClientIn(code, Buffer.alloc(16), 8, flags), output: 16 + 8, status: S.NOT_SUPPORTED });
    }
  }
  for (const [what, requestType, level, code] of refusedSocketCodes) {
    for (const flags of [0, useIrp]) {
      rows.push({
        name: `CONTROL_SOCKET ${what}, flags ${flags}`,
        code: P.WSKB_IOCTL_CONTROL_SOCKET,
        input: (c) => P.encodeControlSocketIn({ socketId: c.datagram, requestType, code, level, input: requestType === 1 ? null : Buffer.alloc(4), outputLength: requestType === 0 ? 0 : 8, flags }),
        output: 16 + 8,
        status: S.NOT_SUPPORTED,
      });
    }
  }
  for (const e of CONTROL_ALLOWLIST) {
    const client = e.kind === 'client';
    const goodFlags = e.irp === 'required' ? useIrp : 0;
    // SO_WSK_EVENT_CALLBACK and the static callbacks take a 4-byte mask: an enabling one.
    const enableMask = Buffer.from([0x00, 0x01, 0x00, 0x00]); // WSK_EVENT_RECEIVE_FROM
    const make = (inputLength: number, outputLength: number, flags: number, input?: Buffer) => (c: Ids) => {
      const data = input ?? (inputLength ? Buffer.alloc(inputLength) : null);
      return client
        ? P.encodeControlClientIn(e.code, data, outputLength, flags)
        : P.encodeControlSocketIn({ socketId: c.datagram, requestType: controlRequestType(e.kind as Exclude<typeof e.kind, 'client'>), code: e.code, level: e.kind === 'ioctl' ? 0 : e.level, input: data, outputLength, flags });
    };
    const name = `${client ? 'CONTROL_CLIENT' : 'CONTROL_SOCKET'} ${e.name} (${e.kind})`;
    const target = client ? P.WSKB_IOCTL_CONTROL_CLIENT : P.WSKB_IOCTL_CONTROL_SOCKET;
    const [inMin, inMax] = e.input;
    const [outMin, outMax] = e.output;
    const sizes: Array<[string, number, number]> = [];
    if (inMin > 0) sizes.push([`input ${inMin - 1} (min ${inMin})`, inMin - 1, outMin]);
    if (inMax < P.WSKB_MAX_CONTROL_BYTES) sizes.push([`input ${inMax + 1} (max ${inMax})`, inMax + 1, outMin]);
    if (outMin > 0) sizes.push([`output ${outMin - 1} (min ${outMin})`, inMin, outMin - 1]);
    if (outMax < P.WSKB_MAX_CONTROL_BYTES) sizes.push([`output ${outMax + 1} (max ${outMax})`, inMin, outMax + 1]);
    for (const [what, inputLength, outputLength] of sizes) {
      rows.push({ name: `${name} with ${what}`, code: target, input: make(inputLength, outputLength, goodFlags), output: 16 + P.WSKB_MAX_CONTROL_BYTES, status: S.BUFFER_SIZE_WRONG });
    }
    if (e.irp === 'required') {
      rows.push({ name: `${name} without the IRP it requires`, code: target, input: make(inMin, outMin, 0), output: 16 + outMin, status: S.PARAMETER_MIX });
    } else {
      rows.push({ name: `${name} with an IRP where the rule says NULL`, code: target, input: make(inMin, outMin, useIrp, e.irp === 'nullToEnable' ? enableMask : undefined), output: 16 + outMin, status: S.PARAMETER_MIX });
    }
    // The entry's own shape passes the table; the next check stops it before WSK.
    if (client) {
      rows.push({ name: `${name} in its shape, an output buffer one byte short: past the table`, code: target, input: make(inMin, outMin, goodFlags, e.code === 7 ? enableMask : undefined), output: 16 + outMin - 1, status: S.BUFFER_TOO_SMALL });
    } else {
      const shapes: Array<[string, number, Buffer | undefined]> = [['its shape', goodFlags, e.irp === 'nullToEnable' ? enableMask : undefined]];
      if (e.irp === 'nullToEnable') shapes.push(['a disabling mask with an IRP (optional then)', useIrp, Buffer.from([0x00, 0x01, 0x00, 0x80])]);
      if (e.kind === 'ioctl' && inMax > inMin) shapes.push([`input ${inMax} (max)`, goodFlags, Buffer.alloc(inMax)]);
      for (const [what, flags, input] of shapes) {
        rows.push({
          name: `${name} in ${what} on id 0: past the table`,
          code: target,
          input: (c) => {
            const buf = make(input?.length ?? inMin, outMin, flags, input)(c);
            buf.writeBigUInt64LE(0n, 0); // SocketId
            return buf;
          },
          output: 16 + outMin,
          status: S.INVALID_HANDLE,
        });
      }
      if (e.kind === 'ioctl') {
        rows.push({
          name: `${name} at level 0x1234 (IOCTLs ignore the level) on id 0: past the table`,
          code: target,
          input: (c) => {
            const buf = P.encodeControlSocketIn({ socketId: 0n, requestType: 2, code: e.code, level: 0x1234, input: inMin ? Buffer.alloc(inMin) : null, outputLength: outMin, flags: goodFlags });
            void c;
            return buf;
          },
          output: 16 + outMin,
          status: S.INVALID_HANDLE,
        });
      }
    }
  }
  return rows;
}

// ---- ids: every IOCTL that takes one, every way an id can be wrong ----
const idTaking: Array<{ ioctl: string; code: number; output: number; make: (id: bigint) => Buffer }> = [
  { ioctl: 'BIND', code: P.WSKB_IOCTL_BIND, output: 0, make: (id) => P.encodeAddressIn(id, loop, 0) },
  { ioctl: 'CONNECT', code: P.WSKB_IOCTL_CONNECT, output: 0, make: (id) => P.encodeAddressIn(id, loop, 0) },
  { ioctl: 'ACCEPT', code: P.WSKB_IOCTL_ACCEPT, output: 72, make: (id) => P.encodeAcceptIn(id, 0) },
  { ioctl: 'SEND', code: P.WSKB_IOCTL_SEND, output: 8, make: (id) => P.encodeDataIn(id, 0, Buffer.from('x')) },
  { ioctl: 'DISCONNECT', code: P.WSKB_IOCTL_DISCONNECT, output: 8, make: (id) => P.encodeDataIn(id, 0, null) },
  { ioctl: 'RECEIVE', code: P.WSKB_IOCTL_RECEIVE, output: 16, make: (id) => P.encodeDataIn(id, 0, null, 16) },
  { ioctl: 'RECEIVE_FROM', code: P.WSKB_IOCTL_RECEIVE_FROM, output: 56, make: (id) => P.encodeDataIn(id, 0, null, 16) },
  { ioctl: 'SEND_TO', code: P.WSKB_IOCTL_SEND_TO, output: 8, make: (id) => P.encodeSendToIn(id, loop, 0, Buffer.from('x')) },
  { ioctl: 'GET_ADDRESS', code: P.WSKB_IOCTL_GET_ADDRESS, output: 32, make: (id) => P.encodeGetAddressIn(id, 0) },
  { ioctl: 'CONTROL_SOCKET', code: P.WSKB_IOCTL_CONTROL_SOCKET, output: 16, make: (id) => P.encodeControlSocketIn({ socketId: id, requestType: 0, code: 0x4002, level: 0xffff, input: Buffer.alloc(4), outputLength: 0, flags: 0 }) },
  { ioctl: 'INSPECT_COMPLETE', code: P.WSKB_IOCTL_INSPECT_COMPLETE, output: 0, make: (id) => P.encodeInspectCompleteIn(id, 1n, 1) },
  { ioctl: 'CLOSE', code: P.WSKB_IOCTL_CLOSE, output: 0, make: (id) => P.encodeSocketId(id) },
];

const badIds: Array<[string, (c: Ids) => bigint]> = [
  ['id 0', () => 0n],
  ['slot 0 of generation 0', () => 0n << 32n],
  ['slot 5 of generation 0', () => 5n],
  ['the stale id of a closed socket', (c) => c.stale],
  ['a live slot with the next generation', (c) => c.datagram + (1n << 32n)],
  ['a live slot with generation 0xffffffff', (c) => (c.datagram & 0xffffffffn) | (0xffffffffn << 32n)],
  ['slot 0xffffffff', () => (1n << 32n) | 0xffffffffn],
  ['slot 0x7fffffff', () => (1n << 32n) | 0x7fffffffn],
  ['all ones', () => 0xffff_ffff_ffff_ffffn],
];

function idRows(): Row[] {
  const rows: Row[] = [];
  for (const t of idTaking) {
    for (const [what, id] of badIds) {
      rows.push({ name: `${t.ioctl} on ${what}`, code: t.code, input: (c) => t.make(id(c)), output: t.output, status: S.INVALID_HANDLE });
    }
  }
  return rows;
}

const allRows = [...lengthRows(), ...outputRows(), ...unknownCodeRows(), ...fieldRows(), ...allowlistRows(), ...idRows()];

/** One raw request on a native device, whatever it completes with. */
function rawOn(device: NativeDevice, code: number, input: Uint8Array | null, output: number): Promise<{ status: number; information: number; output: Buffer }> {
  return new Promise((resolve) => device.ioctl(code, input, output, (status, information, out) => resolve({ status, information, output: out })));
}

describe('reliability: hostile IOCTLs, raw through the device', function () {
  this.timeout(30_000);
  let baseline: Record<string, number>;
  let session: WskSession;
  let ids: Ids;

  before(async () => {
    baseline = leakCounters();
    session = await open({ backend: 'sim' });
    const stale = await session.socket('datagram');
    await stale.close();
    const connection = await session.socket('connection');
    const datagram = await session.socket('datagram');
    await datagram.bind({ family: 'ipv4', address: '127.0.0.1', port: 0 });
    const listen = await session.socket('listen');
    ids = { connection: connection.id, datagram: datagram.id, listen: listen.id, stale: stale.id };
  });

  after(async () => {
    await session?.close();
    await eventually(() => JSON.stringify(leakCounters()) === JSON.stringify(baseline), 'ksim counters back to baseline after the hostile table');
  });

  it(`covers every IOCTL of the protocol (${allRows.length} rows)`, () => {
    const covered = new Set(allRows.map((row) => row.code >>> 0));
    for (const [name, value] of Object.entries(P)) {
      if (name.startsWith('WSKB_IOCTL_') && typeof value === 'number') assert.ok(covered.has(value >>> 0), `${name} has rows`);
    }
  });

  for (const row of allRows) {
    it(`${row.name}: ${row.status}`, async () => {
      const result = await session.rawIoctl(row.code, row.input(ids), row.output);
      assert.equal(result.statusName, row.status);
      assert.equal(result.information, 0, 'a refused request returns no bytes');
      assert.equal(result.output.length, 0);
    });
  }

  it('after the whole table the session still works and holds exactly its own sockets', async () => {
    const stats = await session.stats();
    assert.equal(stats.socketsOpen, 3, 'connection, datagram and listen: nothing created or closed by a refused request');
    const socket = await session.socket('datagram');
    await socket.bind({ family: 'ipv4', address: '127.0.0.1', port: 0 });
    assert.equal((await socket.localAddress())?.address, '127.0.0.1');
    await socket.close();
  });

  it('a closed socket: every IOCTL on its id is STATUS_INVALID_HANDLE, a second CLOSE as well', async () => {
    const socket = await session.socket('connection');
    const id = socket.id;
    const closed = await session.rawIoctl(P.WSKB_IOCTL_CLOSE, P.encodeSocketId(id), 0);
    assert.equal(closed.statusName, 'STATUS_SUCCESS');
    for (const t of idTaking) {
      const result = await session.rawIoctl(t.code, t.make(id), t.output);
      assert.equal(result.statusName, S.INVALID_HANDLE, `${t.ioctl} after CLOSE`);
    }
  });

  it('a closed session: the library refuses, the device refuses, nothing reaches the driver', async () => {
    const other = await open({ backend: 'sim' });
    const socket = await other.socket('datagram');
    await other.close();
    await assert.rejects(other.rawIoctl(P.WSKB_IOCTL_STATS, null, 88), /the session is closed/);
    await assert.rejects(socket.localAddress(), /closed/);
    const device = addon().Device.open('sim');
    device.close();
    assert.throws(() => device.ioctl(P.WSKB_IOCTL_STATS, null, 88, () => assert.fail('a callback after close')), /device is closed/);
    assert.throws(() => device.cancelAll(), /device is closed/);
    device.close(); // idempotent
  });

  it('before HELLO: every IOCTL is STATUS_INVALID_DEVICE_STATE; bad HELLOs are refused and a good one still works', async () => {
    const device = addon().Device.open('sim');
    try {
      for (const t of idTaking) {
        const result = await rawOn(device, t.code, t.make(ids.datagram), t.output);
        assert.equal(result.status >>> 0, 0xc0000184, `${t.ioctl} before HELLO: STATUS_INVALID_DEVICE_STATE`);
      }
      for (const [code, output] of [[P.WSKB_IOCTL_STATS, 88], [P.WSKB_IOCTL_READ_EVENTS, P.WSKB_READ_EVENTS_MIN_OUTPUT], [P.WSKB_IOCTL_SOCKET_CREATE, 8], [P.WSKB_IOCTL_CONTROL_CLIENT, 16]] as const) {
        const result = await rawOn(device, code, code === P.WSKB_IOCTL_SOCKET_CREATE ? P.encodeSocketCreateIn({ family: 2, socketType: 2, protocol: 17, wskFlags: 4, options: 0 }) : null, output);
        assert.equal(result.status >>> 0, 0xc0000184, `${hex(code)} before HELLO`);
      }
      const unknown = await rawOn(device, P.ctlCode(P.WSKB_DEVICE_TYPE, 0x8ff, 0, 3), null, 0);
      assert.equal(unknown.status >>> 0, 0xc0000010, 'an unknown code is STATUS_INVALID_DEVICE_REQUEST even before HELLO');
      const hellos: Array<[string, Buffer, number, number]> = [
        ['wrong magic', P.encodeHelloIn(0, P.WSKB_PROTOCOL_VERSION, 0x12345678), 24, 0xc000000d],
        ['Reserved = 1', u32(P.encodeHelloIn(0), 12, 1), 24, 0xc000000d],
        ['version 0', P.encodeHelloIn(0, 0), 24, 0xc0000059],
        ['version 0xffffffff', P.encodeHelloIn(0, 0xffffffff), 24, 0xc0000059],
        ['a budget below the minimum', P.encodeHelloIn(P.WSKB_EVENT_BUDGET_MIN - 1), 24, 0xc000000d],
        ['a budget above the maximum', P.encodeHelloIn(P.WSKB_EVENT_BUDGET_MAX + 1), 24, 0xc000000d],
        ['a budget of 0xffffffff', P.encodeHelloIn(0xffffffff), 24, 0xc000000d],
        ['15 bytes', P.encodeHelloIn(0).subarray(0, 15), 24, 0xc000000d],
        ['a 23-byte output', P.encodeHelloIn(0), 23, 0xc0000023],
      ];
      for (const [what, input, output, status] of hellos) {
        const result = await rawOn(device, P.WSKB_IOCTL_HELLO, input, output);
        assert.equal(result.status >>> 0, status, `HELLO with ${what}`);
        // A version refusal names the driver's version in Information (protocol.h); nothing else does.
        assert.equal(result.information, status === 0xc0000059 ? P.WSKB_PROTOCOL_VERSION : 0, `HELLO with ${what}: Information`);
        assert.equal(result.output.length, 0, `HELLO with ${what}: no output on an error status`);
      }
      const good = await rawOn(device, P.WSKB_IOCTL_HELLO, P.encodeHelloIn(0), 24);
      assert.equal(good.status, 0, 'a refused HELLO does not spend the handshake');
      const again = await rawOn(device, P.WSKB_IOCTL_HELLO, P.encodeHelloIn(0), 24);
      assert.equal(again.status >>> 0, 0xc0000184, 'a second HELLO: STATUS_INVALID_DEVICE_STATE');
    } finally {
      device.close();
    }
  });

  it("sessions cannot touch each other's sockets", async () => {
    const a = await open({ backend: 'sim' });
    const b = await open({ backend: 'sim' });
    try {
      const mine = [await a.socket('datagram'), await a.socket('connection'), await a.socket('listen')];
      await mine[0]!.bind({ family: 'ipv4', address: '127.0.0.1', port: 0 });
      const aAddress = await mine[0]!.localAddress();
      // B has no socket: every one of A's ids names an empty slot of B's table.
      for (const socket of mine) {
        for (const t of idTaking) {
          const result = await b.rawIoctl(t.code, t.make(socket.id), t.output);
          assert.equal(result.statusName, S.INVALID_HANDLE, `${t.ioctl} from B on A's ${socket.kind} socket`);
        }
      }
      // Once B has sockets in the same slots with the same generations, A's ids still name
      // nothing in B: each session's ids carry its own tag (driver.h, WSKB_ID_MAKE).
      const theirs = [await b.socket('datagram'), await b.socket('datagram'), await b.socket('datagram')];
      const slotAndGeneration = (id: bigint): bigint => id & ~0xffff0000n;
      assert.deepEqual(theirs.map((s) => slotAndGeneration(s.id)), mine.map((s) => slotAndGeneration(s.id)), 'B uses the same slots and generations');
      for (const [i, socket] of mine.entries()) {
        assert.notEqual(theirs[i]!.id, socket.id, 'but not the same ids');
        for (const t of idTaking) {
          const result = await b.rawIoctl(t.code, t.make(socket.id), t.output);
          assert.equal(result.statusName, S.INVALID_HANDLE, `${t.ioctl} from B on A's ${socket.kind} socket, B's slot taken`);
        }
      }
      for (const socket of theirs) {
        const closed = await b.rawIoctl(P.WSKB_IOCTL_CLOSE, P.encodeSocketId(socket.id), 0);
        assert.equal(closed.statusName, 'STATUS_SUCCESS');
      }
      assert.equal((await b.stats()).socketsOpen, 0);
      assert.equal((await a.stats()).socketsOpen, 3, "B's calls left A's sockets open");
      assert.deepEqual(await mine[0]!.localAddress(), aAddress, "A's socket still works");
    } finally {
      await a.close();
      await b.close();
    }
  });
});

// SPDX-License-Identifier: MIT
//
// The TypeScript mirror of driver/protocol.h: every constant, IOCTL code, struct size and field
// offset under its C name, plus encoders and decoders for every request, reply and event record.
// test/protocol.test.ts checks each mirrored value against the values the addon prints from the
// header itself (protocolConstants()), so a drift on either side fails the suite.
//
// All records are little-endian with fixed-width fields; 64-bit fields are bigint.

import { isIPv4, isIPv6 } from 'node:net';

// ---- constants (names exactly as in protocol.h) ---------------------------------------------

const METHOD_BUFFERED = 0;
const METHOD_OUT_DIRECT = 2;
const FILE_READ_DATA = 0x0001;
const FILE_WRITE_DATA = 0x0002;

/** CTL_CODE of winioctl.h / wdm.h, as an unsigned 32-bit number. */
export function ctlCode(deviceType: number, fn: number, method: number, access: number): number {
  return ((deviceType << 16) | (access << 14) | (fn << 2) | method) >>> 0;
}

export const WSKB_DEVICE_TYPE = 0x9a57;
const wskbIoctl = (fn: number, method = METHOD_BUFFERED): number => ctlCode(WSKB_DEVICE_TYPE, fn, method, FILE_READ_DATA | FILE_WRITE_DATA);

export const WSKB_MAGIC = 0x424b5357;
export const WSKB_PROTOCOL_VERSION = 3;

export const WSKB_IOCTL_HELLO = wskbIoctl(0x800);
export const WSKB_IOCTL_CONTROL_CLIENT = wskbIoctl(0x801);
export const WSKB_IOCTL_SOCKET_CREATE = wskbIoctl(0x802);
export const WSKB_IOCTL_BIND = wskbIoctl(0x803);
export const WSKB_IOCTL_CONNECT = wskbIoctl(0x804);
export const WSKB_IOCTL_ACCEPT = wskbIoctl(0x805);
export const WSKB_IOCTL_SEND = wskbIoctl(0x806);
export const WSKB_IOCTL_RECEIVE = wskbIoctl(0x807);
export const WSKB_IOCTL_SEND_TO = wskbIoctl(0x808);
export const WSKB_IOCTL_RECEIVE_FROM = wskbIoctl(0x809);
export const WSKB_IOCTL_DISCONNECT = wskbIoctl(0x80a);
export const WSKB_IOCTL_GET_ADDRESS = wskbIoctl(0x80b);
export const WSKB_IOCTL_CONTROL_SOCKET = wskbIoctl(0x80c);
export const WSKB_IOCTL_CLOSE = wskbIoctl(0x80d);
/** METHOD_OUT_DIRECT: the driver writes records straight into the caller's buffer (protocol.h). */
export const WSKB_IOCTL_READ_EVENTS = wskbIoctl(0x80e, METHOD_OUT_DIRECT);
export const WSKB_IOCTL_INSPECT_COMPLETE = wskbIoctl(0x80f);
export const WSKB_IOCTL_STATS = wskbIoctl(0x810);
export const WSKB_IOCTL_SOCKET_FLOW = wskbIoctl(0x811);
export const WSKB_IOCTL_SOCKET_CONNECT = wskbIoctl(0x818);

export const WSKB_MAX_IO_BYTES = 1024 * 1024;
export const WSKB_MAX_CONTROL_BYTES = 4096;
export const WSKB_EVENT_BUDGET_DEFAULT = 4 * 1024 * 1024;
export const WSKB_EVENT_BUDGET_MIN = 64 * 1024;
export const WSKB_EVENT_BUDGET_MAX = 256 * 1024 * 1024;
export const WSKB_READ_EVENTS_MIN_OUTPUT = 64 * 1024 + 256;
export const WSKB_READ_EVENTS_BATCH_MAX = 256 * 1024;
export const WSKB_DRIVER_POOL_BUDGET = 640 * 1024 * 1024;

export const WSKB_CONTROL_FLAG_USE_IRP = 0x1;
export const WSKB_CONTROL_FLAGS_VALID = 0x1;
export const WSKB_SOCKET_OPTION_NO_DISPATCH = 0x1;
export const WSKB_SOCKET_OPTIONS_VALID = 0x1;
export const WSKB_ADDRESS_LOCAL = 0;
export const WSKB_ADDRESS_REMOTE = 1;

export const WSKB_EVENT_RECEIVE = 1;
export const WSKB_EVENT_RECEIVE_CLOSED = 2;
export const WSKB_EVENT_DISCONNECT = 3;
export const WSKB_EVENT_SEND_BACKLOG = 4;
export const WSKB_EVENT_ACCEPT = 5;
export const WSKB_EVENT_INSPECT = 6;
export const WSKB_EVENT_ABORT = 7;
export const WSKB_EVENT_RECEIVE_FROM = 8;
export const WSKB_EVENT_FLOW_PAUSED = 32;
export const WSKB_EVENT_FLOW_RESUMED = 33;
export const WSKB_EVENT_DATAGRAMS_DROPPED = 34;
export const WSKB_EVENT_ACCEPTS_REFUSED = 35;
export const WSKB_EVENT_SOCKET_CLOSED = 36;
export const WSKB_EVENT_SOCKET_PAUSED = 37;
export const WSKB_EVENT_SOCKET_RESUMED = 38;
export const WSKB_EVENT_PAD = 0xffff;

/** Windows address family values (ws2def.h), not the host's. */
export const AF_INET = 2;
export const AF_INET6 = 23;

/** Every numeric macro of protocol.h under its C name: what the shared test vectors cover. */
export const constants: Readonly<Record<string, number>> = Object.freeze({
  WSKB_MAGIC,
  WSKB_PROTOCOL_VERSION,
  WSKB_DEVICE_TYPE,
  WSKB_IOCTL_HELLO,
  WSKB_IOCTL_CONTROL_CLIENT,
  WSKB_IOCTL_SOCKET_CREATE,
  WSKB_IOCTL_BIND,
  WSKB_IOCTL_CONNECT,
  WSKB_IOCTL_ACCEPT,
  WSKB_IOCTL_SEND,
  WSKB_IOCTL_RECEIVE,
  WSKB_IOCTL_SEND_TO,
  WSKB_IOCTL_RECEIVE_FROM,
  WSKB_IOCTL_DISCONNECT,
  WSKB_IOCTL_GET_ADDRESS,
  WSKB_IOCTL_CONTROL_SOCKET,
  WSKB_IOCTL_CLOSE,
  WSKB_IOCTL_READ_EVENTS,
  WSKB_IOCTL_INSPECT_COMPLETE,
  WSKB_IOCTL_STATS,
  WSKB_IOCTL_SOCKET_FLOW,
  WSKB_IOCTL_SOCKET_CONNECT,
  WSKB_MAX_IO_BYTES,
  WSKB_MAX_CONTROL_BYTES,
  WSKB_EVENT_BUDGET_DEFAULT,
  WSKB_EVENT_BUDGET_MIN,
  WSKB_EVENT_BUDGET_MAX,
  WSKB_READ_EVENTS_MIN_OUTPUT,
  WSKB_READ_EVENTS_BATCH_MAX,
  WSKB_DRIVER_POOL_BUDGET,
  WSKB_CONTROL_FLAG_USE_IRP,
  WSKB_CONTROL_FLAGS_VALID,
  WSKB_SOCKET_OPTION_NO_DISPATCH,
  WSKB_SOCKET_OPTIONS_VALID,
  WSKB_ADDRESS_LOCAL,
  WSKB_ADDRESS_REMOTE,
  WSKB_EVENT_RECEIVE,
  WSKB_EVENT_RECEIVE_CLOSED,
  WSKB_EVENT_DISCONNECT,
  WSKB_EVENT_SEND_BACKLOG,
  WSKB_EVENT_ACCEPT,
  WSKB_EVENT_INSPECT,
  WSKB_EVENT_ABORT,
  WSKB_EVENT_RECEIVE_FROM,
  WSKB_EVENT_FLOW_PAUSED,
  WSKB_EVENT_FLOW_RESUMED,
  WSKB_EVENT_DATAGRAMS_DROPPED,
  WSKB_EVENT_ACCEPTS_REFUSED,
  WSKB_EVENT_SOCKET_CLOSED,
  WSKB_EVENT_SOCKET_PAUSED,
  WSKB_EVENT_SOCKET_RESUMED,
  WSKB_EVENT_PAD,
});

/** IOCTL codes by short name, for messages. */
export const ioctlNames: ReadonlyMap<number, string> = new Map(
  Object.entries(constants)
    .filter(([name]) => name.startsWith('WSKB_IOCTL_'))
    .map(([name, value]) => [value, name.slice('WSKB_IOCTL_'.length)]),
);

// ---- struct layouts ---------------------------------------------------------------------------

export interface Layout {
  readonly size: number;
  readonly offsets: Readonly<Record<string, number>>;
  readonly fieldSizes: Readonly<Record<string, number>>;
}

/** Size, field offsets and field sizes of every struct of protocol.h. Encoders below use only these offsets. */
export const layouts = {
  WSKB_SOCKADDR: {
    size: 32,
    offsets: { Family: 0, Port: 2, FlowInfo: 4, Address: 8, ScopeId: 24, Reserved: 28 },
    fieldSizes: { Family: 2, Port: 2, FlowInfo: 4, Address: 16, ScopeId: 4, Reserved: 4 },
  },
  WSKB_HELLO_IN: {
    size: 16,
    offsets: { Magic: 0, ClientVersion: 4, EventBudgetBytes: 8, Reserved: 12 },
    fieldSizes: { Magic: 4, ClientVersion: 4, EventBudgetBytes: 4, Reserved: 4 },
  },
  WSKB_HELLO_OUT: {
    size: 24,
    offsets: { Magic: 0, DriverVersion: 4, EventBudgetBytes: 8, MaxIoBytes: 12, WskHighestVersion: 16, WskLowestVersion: 18, Reserved: 20 },
    fieldSizes: { Magic: 4, DriverVersion: 4, EventBudgetBytes: 4, MaxIoBytes: 4, WskHighestVersion: 2, WskLowestVersion: 2, Reserved: 4 },
  },
  WSKB_CONTROL_CLIENT_IN: {
    size: 16,
    offsets: { ControlCode: 0, InputLength: 4, OutputLength: 8, Flags: 12 },
    fieldSizes: { ControlCode: 4, InputLength: 4, OutputLength: 4, Flags: 4 },
  },
  WSKB_CONTROL_SOCKET_IN: {
    size: 32,
    offsets: { SocketId: 0, RequestType: 8, ControlCode: 12, Level: 16, InputLength: 20, OutputLength: 24, Flags: 28 },
    fieldSizes: { SocketId: 8, RequestType: 4, ControlCode: 4, Level: 4, InputLength: 4, OutputLength: 4, Flags: 4 },
  },
  WSKB_CONTROL_OUT: {
    size: 16,
    offsets: { CallStatus: 0, IrpStatus: 4, OutputSizeReturned: 8 },
    fieldSizes: { CallStatus: 4, IrpStatus: 4, OutputSizeReturned: 8 },
  },
  WSKB_SOCKET_CREATE_IN: {
    size: 16,
    offsets: { Family: 0, SocketType: 2, Protocol: 4, WskFlags: 8, Options: 12 },
    fieldSizes: { Family: 2, SocketType: 2, Protocol: 4, WskFlags: 4, Options: 4 },
  },
  WSKB_SOCKET_CONNECT_IN: {
    size: 80,
    offsets: { SocketType: 0, Reserved: 2, Protocol: 4, Options: 8, Reserved2: 12, LocalAddress: 16, RemoteAddress: 48 },
    fieldSizes: { SocketType: 2, Reserved: 2, Protocol: 4, Options: 4, Reserved2: 4, LocalAddress: 32, RemoteAddress: 32 },
  },
  WSKB_SOCKET_ID: {
    size: 8,
    offsets: { SocketId: 0 },
    fieldSizes: { SocketId: 8 },
  },
  WSKB_ADDRESS_IN: {
    size: 48,
    offsets: { SocketId: 0, Address: 8, Flags: 40, Reserved: 44 },
    fieldSizes: { SocketId: 8, Address: 32, Flags: 4, Reserved: 4 },
  },
  WSKB_ACCEPT_IN: {
    size: 16,
    offsets: { SocketId: 0, Flags: 8, Reserved: 12 },
    fieldSizes: { SocketId: 8, Flags: 4, Reserved: 4 },
  },
  WSKB_ACCEPT_OUT: {
    size: 72,
    offsets: { AcceptedSocketId: 0, LocalAddress: 8, RemoteAddress: 40 },
    fieldSizes: { AcceptedSocketId: 8, LocalAddress: 32, RemoteAddress: 32 },
  },
  WSKB_DATA_IN: {
    size: 16,
    offsets: { SocketId: 0, Flags: 8, Length: 12 },
    fieldSizes: { SocketId: 8, Flags: 4, Length: 4 },
  },
  WSKB_TRANSFER_OUT: {
    size: 8,
    offsets: { BytesTransferred: 0 },
    fieldSizes: { BytesTransferred: 8 },
  },
  WSKB_SEND_TO_IN: {
    size: 48,
    offsets: { SocketId: 0, RemoteAddress: 8, Flags: 40, Length: 44 },
    fieldSizes: { SocketId: 8, RemoteAddress: 32, Flags: 4, Length: 4 },
  },
  WSKB_RECEIVE_FROM_OUT: {
    size: 40,
    offsets: { RemoteAddress: 0, ControlFlags: 32, Length: 36 },
    fieldSizes: { RemoteAddress: 32, ControlFlags: 4, Length: 4 },
  },
  WSKB_GET_ADDRESS_IN: {
    size: 16,
    offsets: { SocketId: 0, Which: 8, Reserved: 12 },
    fieldSizes: { SocketId: 8, Which: 4, Reserved: 4 },
  },
  WSKB_INSPECT_COMPLETE_IN: {
    size: 24,
    offsets: { SocketId: 0, InspectToken: 8, Action: 16, Reserved: 20 },
    fieldSizes: { SocketId: 8, InspectToken: 8, Action: 4, Reserved: 4 },
  },
  WSKB_SOCKET_FLOW_IN: {
    size: 16,
    offsets: { SocketId: 0, Pause: 8, Reserved: 12 },
    fieldSizes: { SocketId: 8, Pause: 4, Reserved: 4 },
  },
  WSKB_STATS_OUT: {
    size: 96,
    offsets: { EventsQueued: 0, EventsDelivered: 8, EventBytesQueued: 16, EventBytesHighWater: 24, DatagramsDropped: 32, AcceptsRefused: 40, InspectsRejected: 48, ReceivePauses: 56, ReceiveResumes: 64, ReadEventsCompleted: 72, SocketsOpen: 80, EventBudgetBytes: 84, EventsWrittenDirect: 88 },
    fieldSizes: { EventsQueued: 8, EventsDelivered: 8, EventBytesQueued: 8, EventBytesHighWater: 8, DatagramsDropped: 8, AcceptsRefused: 8, InspectsRejected: 8, ReceivePauses: 8, ReceiveResumes: 8, ReadEventsCompleted: 8, SocketsOpen: 4, EventBudgetBytes: 4, EventsWrittenDirect: 8 },
  },
  WSKB_EVENT_HEADER: {
    size: 48,
    offsets: { Size: 0, Type: 4, Sequence: 8, Timestamp: 16, SocketId: 24, WskFlags: 32, DataLength: 36, Param: 40 },
    fieldSizes: { Size: 4, Type: 4, Sequence: 8, Timestamp: 8, SocketId: 8, WskFlags: 4, DataLength: 4, Param: 8 },
  },
  WSKB_ADDRESS_PAIR: {
    size: 64,
    offsets: { LocalAddress: 0, RemoteAddress: 32 },
    fieldSizes: { LocalAddress: 32, RemoteAddress: 32 },
  },
  WSKB_INSPECT_BODY: {
    size: 80,
    offsets: { LocalAddress: 0, RemoteAddress: 32, Reserved0: 64, InspectSerialNumber: 72, Reserved: 76 },
    fieldSizes: { LocalAddress: 32, RemoteAddress: 32, Reserved0: 8, InspectSerialNumber: 4, Reserved: 4 },
  },
} as const satisfies Record<string, Layout>;

const L = layouts;

// ---- addresses --------------------------------------------------------------------------------

export type AddressFamily = 'ipv4' | 'ipv6';

/** A socket address as user code writes it. `port` is in host order. */
export interface WskAddress {
  family: AddressFamily;
  address: string;
  port: number;
  /** IPv6 only. */
  flowInfo?: number;
  /** IPv6 only. */
  scopeId?: number;
}

/** Accepts 'ipv4', 'IPv4', 4, 'ipv6', 'IPv6', 6 (Node spells families several ways). */
export function normalizeFamily(family: unknown): AddressFamily {
  if (family === 4 || family === 'ipv4' || family === 'IPv4') return 'ipv4';
  if (family === 6 || family === 'ipv6' || family === 'IPv6') return 'ipv6';
  throw new TypeError(`unknown address family ${JSON.stringify(family)}: expected 'ipv4' or 'ipv6'`);
}

function checkUint(value: unknown, bits: 16 | 32, what: string): number {
  const max = bits === 16 ? 0xffff : 0xffffffff;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > max) {
    throw new RangeError(`${what} must be an integer in [0, ${max}], got ${String(value)}`);
  }
  return value;
}

function parseIPv4(text: string, what: string): Uint8Array {
  if (!isIPv4(text)) throw new TypeError(`${what}: ${JSON.stringify(text)} is not an IPv4 address`);
  return Uint8Array.from(text.split('.').map((part) => Number(part)));
}

function parseIPv6(text: string, what: string): Uint8Array {
  if (!isIPv6(text) || text.includes('%')) {
    throw new TypeError(`${what}: ${JSON.stringify(text)} is not an IPv6 address (give a zone as scopeId)`);
  }
  let groups: number[];
  let body = text;
  // An embedded IPv4 tail ("::ffff:1.2.3.4") is rewritten as its two hex groups.
  const lastColon = body.lastIndexOf(':');
  if (body.slice(lastColon + 1).includes('.')) {
    const v4 = parseIPv4(body.slice(lastColon + 1), what);
    const hi = ((v4[0]! << 8) | v4[1]!).toString(16);
    const lo = ((v4[2]! << 8) | v4[3]!).toString(16);
    body = `${body.slice(0, lastColon + 1)}${hi}:${lo}`;
  }
  const halves = body.split('::');
  const parse = (s: string): number[] => (s === '' ? [] : s.split(':').map((g) => parseInt(g, 16)));
  if (halves.length === 2) {
    const head = parse(halves[0]!);
    const rest = parse(halves[1]!);
    const zeros = 8 - head.length - rest.length;
    if (zeros < 1) throw new TypeError(`${what}: ${JSON.stringify(text)} is not an IPv6 address`);
    groups = [...head, ...new Array<number>(zeros).fill(0), ...rest];
  } else {
    groups = parse(halves[0]!);
  }
  if (groups.length !== 8 || groups.some((g) => !Number.isInteger(g) || g < 0 || g > 0xffff)) {
    throw new TypeError(`${what}: ${JSON.stringify(text)} is not an IPv6 address`);
  }
  const bytes = new Uint8Array(16);
  groups.forEach((g, i) => {
    bytes[2 * i] = g >> 8;
    bytes[2 * i + 1] = g & 0xff;
  });
  return bytes;
}

/** RFC 5952 text form: lower case, longest run (2 or more) of zero groups as '::'. */
export function formatIPv6(bytes: Uint8Array): string {
  const groups: number[] = [];
  for (let i = 0; i < 8; i++) groups.push((bytes[2 * i]! << 8) | bytes[2 * i + 1]!);
  let bestStart = -1;
  let bestLength = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestLength < 2) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLength).join(':')}`;
}

/** Writes a WSKB_SOCKADDR at `offset`. Throws TypeError/RangeError on a malformed address. */
export function writeSockaddr(view: DataView, offset: number, addr: WskAddress, what = 'address'): void {
  if (addr === null || typeof addr !== 'object') throw new TypeError(`${what} must be an object { family, address, port }`);
  const family = normalizeFamily(addr.family);
  const o = L.WSKB_SOCKADDR.offsets;
  const port = checkUint(addr.port, 16, `${what}.port`);
  const bytes = family === 'ipv4' ? parseIPv4(String(addr.address), what) : parseIPv6(String(addr.address), what);
  if (family === 'ipv4' && (addr.flowInfo !== undefined || addr.scopeId !== undefined)) {
    throw new TypeError(`${what}: flowInfo and scopeId apply to IPv6 only`);
  }
  view.setUint16(offset + o.Family, family === 'ipv4' ? AF_INET : AF_INET6, true);
  view.setUint16(offset + o.Port, port, true);
  view.setUint32(offset + o.FlowInfo, checkUint(addr.flowInfo ?? 0, 32, `${what}.flowInfo`), true);
  new Uint8Array(view.buffer, view.byteOffset + offset + o.Address, 16).set(bytes);
  view.setUint32(offset + o.ScopeId, checkUint(addr.scopeId ?? 0, 32, `${what}.scopeId`), true);
  view.setUint32(offset + o.Reserved, 0, true);
}

/** Reads a WSKB_SOCKADDR; an all-zero family (AF_UNSPEC) reads as null. */
export function readSockaddr(view: DataView, offset: number): WskAddress | null {
  const o = L.WSKB_SOCKADDR.offsets;
  const family = view.getUint16(offset + o.Family, true);
  const port = view.getUint16(offset + o.Port, true);
  const raw = new Uint8Array(view.buffer, view.byteOffset + offset + o.Address, 16);
  if (family === 0) return null;
  if (family === AF_INET) return { family: 'ipv4', address: `${raw[0]}.${raw[1]}.${raw[2]}.${raw[3]}`, port };
  if (family === AF_INET6) {
    return {
      family: 'ipv6',
      address: formatIPv6(raw),
      port,
      flowInfo: view.getUint32(offset + o.FlowInfo, true),
      scopeId: view.getUint32(offset + o.ScopeId, true),
    };
  }
  throw new ProtocolError(`WSKB_SOCKADDR with unknown family ${family}`);
}

// ---- errors of the wire format itself -----------------------------------------------------------

/** The driver sent bytes that do not follow protocol.h: always a bug on one side. */
export class ProtocolError extends Error {
  override name = 'ProtocolError';
}

// ---- request encoders -------------------------------------------------------------------------

function alloc(size: number): { buf: Buffer; view: DataView } {
  const buf = Buffer.alloc(size);
  return { buf, view: new DataView(buf.buffer, buf.byteOffset, buf.byteLength) };
}

function viewOf(buf: Uint8Array): DataView {
  return new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
}

function checkId(id: bigint, what = 'socket id'): bigint {
  if (typeof id !== 'bigint' || id < 0n || id > 0xffffffffffffffffn) {
    throw new TypeError(`${what} must be a bigint in [0, 2^64)`);
  }
  return id;
}

export function encodeHelloIn(eventBudgetBytes: number, clientVersion = WSKB_PROTOCOL_VERSION, magic = WSKB_MAGIC): Buffer {
  const { buf, view } = alloc(L.WSKB_HELLO_IN.size);
  const o = L.WSKB_HELLO_IN.offsets;
  view.setUint32(o.Magic, magic, true);
  view.setUint32(o.ClientVersion, clientVersion, true);
  view.setUint32(o.EventBudgetBytes, checkUint(eventBudgetBytes, 32, 'eventBudget'), true);
  return buf;
}

export interface HelloOut {
  magic: number;
  driverVersion: number;
  eventBudgetBytes: number;
  maxIoBytes: number;
  wskHighestVersion: number;
  wskLowestVersion: number;
}

export function decodeHelloOut(buf: Uint8Array): HelloOut {
  need(buf, L.WSKB_HELLO_OUT.size, 'WSKB_HELLO_OUT');
  const v = viewOf(buf);
  const o = L.WSKB_HELLO_OUT.offsets;
  return {
    magic: v.getUint32(o.Magic, true),
    driverVersion: v.getUint32(o.DriverVersion, true),
    eventBudgetBytes: v.getUint32(o.EventBudgetBytes, true),
    maxIoBytes: v.getUint32(o.MaxIoBytes, true),
    wskHighestVersion: v.getUint16(o.WskHighestVersion, true),
    wskLowestVersion: v.getUint16(o.WskLowestVersion, true),
  };
}

function need(buf: Uint8Array, size: number, what: string): void {
  if (buf.byteLength < size) throw new ProtocolError(`${what}: ${buf.byteLength} bytes returned, ${size} expected`);
}

function inputBytes(input: Uint8Array | null | undefined, limit: number, what: string): Uint8Array {
  const bytes = input ?? new Uint8Array(0);
  if (!(bytes instanceof Uint8Array)) throw new TypeError(`${what} must be a Uint8Array or Buffer`);
  if (bytes.byteLength > limit) throw new RangeError(`${what} is ${bytes.byteLength} bytes; the limit is ${limit}`);
  return bytes;
}

export function encodeControlClientIn(code: number, input: Uint8Array | null, outputLength: number, flags: number): Buffer {
  const data = inputBytes(input, WSKB_MAX_CONTROL_BYTES, 'control input');
  const { buf, view } = alloc(L.WSKB_CONTROL_CLIENT_IN.size + data.byteLength);
  const o = L.WSKB_CONTROL_CLIENT_IN.offsets;
  view.setUint32(o.ControlCode, checkUint(code, 32, 'control code'), true);
  view.setUint32(o.InputLength, data.byteLength, true);
  view.setUint32(o.OutputLength, checkUint(outputLength, 32, 'outputLength'), true);
  view.setUint32(o.Flags, flags, true);
  buf.set(data, L.WSKB_CONTROL_CLIENT_IN.size);
  return buf;
}

export interface ControlSocketRequest {
  socketId: bigint;
  requestType: number;
  code: number;
  level: number;
  input: Uint8Array | null;
  outputLength: number;
  flags: number;
}

export function encodeControlSocketIn(r: ControlSocketRequest): Buffer {
  const data = inputBytes(r.input, WSKB_MAX_CONTROL_BYTES, 'control input');
  const { buf, view } = alloc(L.WSKB_CONTROL_SOCKET_IN.size + data.byteLength);
  const o = L.WSKB_CONTROL_SOCKET_IN.offsets;
  view.setBigUint64(o.SocketId, checkId(r.socketId), true);
  view.setUint32(o.RequestType, checkUint(r.requestType, 32, 'type'), true);
  view.setUint32(o.ControlCode, checkUint(r.code, 32, 'code'), true);
  view.setUint32(o.Level, checkUint(r.level, 32, 'level'), true);
  view.setUint32(o.InputLength, data.byteLength, true);
  view.setUint32(o.OutputLength, checkUint(r.outputLength, 32, 'outputLength'), true);
  view.setUint32(o.Flags, r.flags, true);
  buf.set(data, L.WSKB_CONTROL_SOCKET_IN.size);
  return buf;
}

export interface ControlOut {
  /** What the Wsk* call itself returned (e.g. STATUS_PENDING, STATUS_EVENT_PENDING). */
  callStatus: number;
  /** The IRP's final status when an IRP was used; otherwise equal to callStatus. */
  irpStatus: number;
  output: Buffer;
}

export function decodeControlOut(buf: Buffer): ControlOut {
  need(buf, L.WSKB_CONTROL_OUT.size, 'WSKB_CONTROL_OUT');
  const v = viewOf(buf);
  const o = L.WSKB_CONTROL_OUT.offsets;
  const returned = v.getBigUint64(o.OutputSizeReturned, true);
  const available = buf.byteLength - L.WSKB_CONTROL_OUT.size;
  if (returned > BigInt(available)) {
    throw new ProtocolError(`WSKB_CONTROL_OUT: OutputSizeReturned ${returned} exceeds the ${available} bytes returned`);
  }
  return {
    callStatus: v.getInt32(o.CallStatus, true),
    irpStatus: v.getInt32(o.IrpStatus, true),
    output: buf.subarray(L.WSKB_CONTROL_OUT.size, L.WSKB_CONTROL_OUT.size + Number(returned)),
  };
}

export interface SocketCreateRequest {
  family: number;
  socketType: number;
  protocol: number;
  wskFlags: number;
  options: number;
}

export function encodeSocketCreateIn(r: SocketCreateRequest): Buffer {
  const { buf, view } = alloc(L.WSKB_SOCKET_CREATE_IN.size);
  const o = L.WSKB_SOCKET_CREATE_IN.offsets;
  view.setUint16(o.Family, checkUint(r.family, 16, 'family'), true);
  view.setUint16(o.SocketType, checkUint(r.socketType, 16, 'socketType'), true);
  view.setUint32(o.Protocol, checkUint(r.protocol, 32, 'protocol'), true);
  view.setUint32(o.WskFlags, checkUint(r.wskFlags, 32, 'wskFlags'), true);
  view.setUint32(o.Options, checkUint(r.options, 32, 'options'), true);
  return buf;
}

/** SOCKET_CONNECT (WskSocketConnect): both addresses of one family. */
export function encodeSocketConnectIn(r: { socketType: number; protocol: number; options: number; localAddress: WskAddress; remoteAddress: WskAddress }): Buffer {
  const { buf, view } = alloc(L.WSKB_SOCKET_CONNECT_IN.size);
  const o = L.WSKB_SOCKET_CONNECT_IN.offsets;
  view.setUint16(o.SocketType, checkUint(r.socketType, 16, 'socketType'), true);
  view.setUint32(o.Protocol, checkUint(r.protocol, 32, 'protocol'), true);
  view.setUint32(o.Options, checkUint(r.options, 32, 'options'), true);
  writeSockaddr(view, o.LocalAddress, r.localAddress, 'localAddress');
  writeSockaddr(view, o.RemoteAddress, r.remoteAddress, 'remoteAddress');
  return buf;
}

export function encodeSocketId(id: bigint): Buffer {
  const { buf, view } = alloc(L.WSKB_SOCKET_ID.size);
  view.setBigUint64(L.WSKB_SOCKET_ID.offsets.SocketId, checkId(id), true);
  return buf;
}

export function decodeSocketId(buf: Uint8Array): bigint {
  need(buf, L.WSKB_SOCKET_ID.size, 'WSKB_SOCKET_ID');
  return viewOf(buf).getBigUint64(L.WSKB_SOCKET_ID.offsets.SocketId, true);
}

export function encodeAddressIn(id: bigint, address: WskAddress, flags: number): Buffer {
  const { buf, view } = alloc(L.WSKB_ADDRESS_IN.size);
  const o = L.WSKB_ADDRESS_IN.offsets;
  view.setBigUint64(o.SocketId, checkId(id), true);
  writeSockaddr(view, o.Address, address);
  view.setUint32(o.Flags, checkUint(flags, 32, 'flags'), true);
  return buf;
}

export function encodeAcceptIn(id: bigint, flags: number): Buffer {
  const { buf, view } = alloc(L.WSKB_ACCEPT_IN.size);
  const o = L.WSKB_ACCEPT_IN.offsets;
  view.setBigUint64(o.SocketId, checkId(id), true);
  view.setUint32(o.Flags, checkUint(flags, 32, 'flags'), true);
  return buf;
}

export interface AcceptOut {
  acceptedSocketId: bigint;
  localAddress: WskAddress | null;
  remoteAddress: WskAddress | null;
}

export function decodeAcceptOut(buf: Uint8Array): AcceptOut {
  need(buf, L.WSKB_ACCEPT_OUT.size, 'WSKB_ACCEPT_OUT');
  const v = viewOf(buf);
  const o = L.WSKB_ACCEPT_OUT.offsets;
  return {
    acceptedSocketId: v.getBigUint64(o.AcceptedSocketId, true),
    localAddress: readSockaddr(v, o.LocalAddress),
    remoteAddress: readSockaddr(v, o.RemoteAddress),
  };
}

/** SEND and DISCONNECT: header + data. RECEIVE / RECEIVE_FROM: header with Length = room. */
export function encodeDataIn(id: bigint, flags: number, data: Uint8Array | null, length = data?.byteLength ?? 0): Buffer {
  const bytes = inputBytes(data, WSKB_MAX_IO_BYTES, 'data');
  const { buf, view } = alloc(L.WSKB_DATA_IN.size + bytes.byteLength);
  const o = L.WSKB_DATA_IN.offsets;
  view.setBigUint64(o.SocketId, checkId(id), true);
  view.setUint32(o.Flags, checkUint(flags, 32, 'flags'), true);
  view.setUint32(o.Length, checkUint(length, 32, 'length'), true);
  buf.set(bytes, L.WSKB_DATA_IN.size);
  return buf;
}

/** SEND, SEND_TO, DISCONNECT output (when given 8 bytes of room or more): what WSK transferred. */
export function decodeTransferOut(buf: Uint8Array): number {
  need(buf, L.WSKB_TRANSFER_OUT.size, 'WSKB_TRANSFER_OUT');
  const bytes = viewOf(buf).getBigUint64(L.WSKB_TRANSFER_OUT.offsets.BytesTransferred, true);
  if (bytes > BigInt(WSKB_MAX_IO_BYTES)) throw new ProtocolError(`WSKB_TRANSFER_OUT: ${bytes} bytes exceeds WSKB_MAX_IO_BYTES`);
  return Number(bytes);
}

export function encodeSendToIn(id: bigint, remote: WskAddress, flags: number, data: Uint8Array): Buffer {
  const bytes = inputBytes(data, WSKB_MAX_IO_BYTES, 'data');
  const { buf, view } = alloc(L.WSKB_SEND_TO_IN.size + bytes.byteLength);
  const o = L.WSKB_SEND_TO_IN.offsets;
  view.setBigUint64(o.SocketId, checkId(id), true);
  writeSockaddr(view, o.RemoteAddress, remote, 'remote address');
  view.setUint32(o.Flags, checkUint(flags, 32, 'flags'), true);
  view.setUint32(o.Length, bytes.byteLength, true);
  buf.set(bytes, L.WSKB_SEND_TO_IN.size);
  return buf;
}

export interface ReceiveFromOut {
  remoteAddress: WskAddress | null;
  controlFlags: number;
  data: Buffer;
}

export function decodeReceiveFromOut(buf: Buffer): ReceiveFromOut {
  need(buf, L.WSKB_RECEIVE_FROM_OUT.size, 'WSKB_RECEIVE_FROM_OUT');
  const v = viewOf(buf);
  const o = L.WSKB_RECEIVE_FROM_OUT.offsets;
  const length = v.getUint32(o.Length, true);
  if (L.WSKB_RECEIVE_FROM_OUT.size + length > buf.byteLength) {
    throw new ProtocolError(`WSKB_RECEIVE_FROM_OUT: Length ${length} exceeds the ${buf.byteLength} bytes returned`);
  }
  return {
    remoteAddress: readSockaddr(v, o.RemoteAddress),
    controlFlags: v.getUint32(o.ControlFlags, true),
    data: buf.subarray(L.WSKB_RECEIVE_FROM_OUT.size, L.WSKB_RECEIVE_FROM_OUT.size + length),
  };
}

export function encodeGetAddressIn(id: bigint, which: number): Buffer {
  const { buf, view } = alloc(L.WSKB_GET_ADDRESS_IN.size);
  const o = L.WSKB_GET_ADDRESS_IN.offsets;
  view.setBigUint64(o.SocketId, checkId(id), true);
  view.setUint32(o.Which, which, true);
  return buf;
}

export function decodeSockaddr(buf: Uint8Array): WskAddress | null {
  need(buf, L.WSKB_SOCKADDR.size, 'WSKB_SOCKADDR');
  return readSockaddr(viewOf(buf), 0);
}

export function encodeInspectCompleteIn(listenerId: bigint, token: bigint, action: number): Buffer {
  const { buf, view } = alloc(L.WSKB_INSPECT_COMPLETE_IN.size);
  const o = L.WSKB_INSPECT_COMPLETE_IN.offsets;
  view.setBigUint64(o.SocketId, checkId(listenerId), true);
  view.setBigUint64(o.InspectToken, checkId(token, 'inspect token'), true);
  view.setUint32(o.Action, checkUint(action, 32, 'action'), true);
  return buf;
}

/** SOCKET_FLOW: hold back (pause) or let go one socket nobody reads. */
export function encodeSocketFlowIn(socketId: bigint, pause: boolean): Buffer {
  const { buf, view } = alloc(L.WSKB_SOCKET_FLOW_IN.size);
  const o = L.WSKB_SOCKET_FLOW_IN.offsets;
  view.setBigUint64(o.SocketId, checkId(socketId), true);
  view.setUint32(o.Pause, pause ? 1 : 0, true);
  return buf;
}

/** The driver's counters for one session (WSKB_STATS_OUT), from `session.stats()`; totals since open. */
export interface SessionStats {
  /** Event records the driver's callbacks put in the session's event queue. */
  eventsQueued: bigint;
  /** Event records handed to user mode in READ_EVENTS completions. */
  eventsDelivered: bigint;
  /** Bytes held in the event queue now (records not yet read). */
  eventBytesQueued: bigint;
  /** The most bytes the event queue ever held; compare with `eventBudgetBytes`. */
  eventBytesHighWater: bigint;
  /** WskReceiveFromEvent indications refused because the event budget was full (the datagrams are lost; a `datagramsDropped` event says so too). */
  datagramsDropped: bigint;
  /** WskAcceptEvent indications refused because the event budget was full (WSK resets those connections; an `acceptsRefused` event says so too). */
  acceptsRefused: bigint;
  /** WskInspectEvent indications answered WskInspectReject because the event budget was full. */
  inspectsRejected: bigint;
  /** Times a WskReceiveEvent was answered STATUS_DATA_NOT_ACCEPTED (or partly accepted) for want of budget: TCP receive paused, nothing lost (a `flowPaused` event). */
  receivePauses: bigint;
  /** Times a paused socket's zero-length WskReceive re-arm completed and indications resumed (a `flowResumed` event). */
  receiveResumes: bigint;
  /** READ_EVENTS requests completed (the pump's batches). */
  readEventsCompleted: bigint;
  /** Of `eventsDelivered`: records a WSK callback wrote straight into a waiting READ_EVENTS
   * buffer because the queue was empty, so they were never held in the driver (one copy fewer). */
  eventsWrittenDirect: bigint;
  /** Sockets of the session open in the driver now (accepted ones included). */
  socketsOpen: number;
  /** The event queue's budget in bytes (`open({ eventBudget })`, or the driver's default). */
  eventBudgetBytes: number;
  /** Sockets the library holds back in the driver right now because nobody reads their events
   * (kept by the library, not the driver; 0 from decodeStatsOut). */
  socketsHeld: number;
  /** Times a socket was held back so far (library side, as socketsHeld). */
  socketHolds: number;
  /**
   * sim only: datagrams the host sockets below ksim dropped because their receive queue was full
   * (all sim sessions of this process together; Linux, from SO_MEMINFO; 0 on a host that keeps
   * no such count). null on the kernel backend: WSK tells its clients nothing about losses in
   * the stack below it.
   */
  hostDatagramsDropped: number | null;
}

export function decodeStatsOut(buf: Uint8Array): SessionStats {
  need(buf, L.WSKB_STATS_OUT.size, 'WSKB_STATS_OUT');
  const v = viewOf(buf);
  const o = L.WSKB_STATS_OUT.offsets;
  const u64 = (off: number): bigint => v.getBigUint64(off, true);
  return {
    eventsQueued: u64(o.EventsQueued),
    eventsDelivered: u64(o.EventsDelivered),
    eventBytesQueued: u64(o.EventBytesQueued),
    eventBytesHighWater: u64(o.EventBytesHighWater),
    datagramsDropped: u64(o.DatagramsDropped),
    acceptsRefused: u64(o.AcceptsRefused),
    inspectsRejected: u64(o.InspectsRejected),
    receivePauses: u64(o.ReceivePauses),
    receiveResumes: u64(o.ReceiveResumes),
    readEventsCompleted: u64(o.ReadEventsCompleted),
    eventsWrittenDirect: u64(o.EventsWrittenDirect),
    socketsOpen: v.getUint32(o.SocketsOpen, true),
    eventBudgetBytes: v.getUint32(o.EventBudgetBytes, true),
    socketsHeld: 0,
    socketHolds: 0,
    hostDatagramsDropped: null,
  };
}

// ---- event records ----------------------------------------------------------------------------

/** The header fields of an event record, as encodeEventRecord takes them (decoding is
 * decodeBatch's, in events.ts). */
export interface EventRecordFields {
  type: number;
  sequence: bigint;
  timestamp: bigint;
  socketId: bigint;
  wskFlags: number;
  param: bigint;
}

/** The fixed body part that precedes the payload, per event type. */
export function fixedBodySize(type: number): number {
  switch (type) {
    case WSKB_EVENT_RECEIVE_FROM:
      return L.WSKB_SOCKADDR.size;
    case WSKB_EVENT_ACCEPT:
      return L.WSKB_ADDRESS_PAIR.size;
    case WSKB_EVENT_INSPECT:
    case WSKB_EVENT_ABORT:
      return L.WSKB_INSPECT_BODY.size;
    default:
      return 0;
  }
}

export interface InspectBody {
  localAddress: WskAddress | null;
  remoteAddress: WskAddress | null;
  inspectId: { serialNumber: number };
}

export function decodeInspectBody(view: DataView): InspectBody {
  const o = L.WSKB_INSPECT_BODY.offsets;
  return {
    localAddress: readSockaddr(view, o.LocalAddress),
    remoteAddress: readSockaddr(view, o.RemoteAddress),
    // Reserved0 (where WSK_INSPECT_ID.Key would be) is never read: the driver does not export
    // the Key, a kernel value.
    inspectId: { serialNumber: view.getUint32(o.InspectSerialNumber, true) },
  };
}

export function decodeAddressPair(view: DataView): { localAddress: WskAddress | null; remoteAddress: WskAddress | null } {
  const o = L.WSKB_ADDRESS_PAIR.offsets;
  return { localAddress: readSockaddr(view, o.LocalAddress), remoteAddress: readSockaddr(view, o.RemoteAddress) };
}

/** Builds an event record (used by tests of the decoder; the driver is the real producer). */
export function encodeEventRecord(r: EventRecordFields & { body: Uint8Array; dataLength?: number }): Buffer {
  const H = L.WSKB_EVENT_HEADER;
  const size = Math.ceil((H.size + r.body.byteLength) / 8) * 8;
  const { buf, view } = alloc(size);
  view.setUint32(H.offsets.Size, size, true);
  view.setUint32(H.offsets.Type, r.type, true);
  view.setBigUint64(H.offsets.Sequence, r.sequence, true);
  view.setBigUint64(H.offsets.Timestamp, r.timestamp, true);
  view.setBigUint64(H.offsets.SocketId, r.socketId, true);
  view.setUint32(H.offsets.WskFlags, r.wskFlags, true);
  view.setUint32(H.offsets.DataLength, r.dataLength ?? r.body.byteLength - fixedBodySize(r.type), true);
  view.setBigUint64(H.offsets.Param, r.param, true);
  buf.set(r.body, H.size);
  return buf;
}

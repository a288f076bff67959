// SPDX-License-Identifier: MIT
//
// The raw-control allowlist of the driver (driver/controltable.c), for user mode: which
// WskControlClient codes and which WskControlSocket (type, level, code) the driver hands to WSK,
// with the sizes and the IRP rule it enforces. Anything else is refused by the driver with
// STATUS_NOT_SUPPORTED before WSK sees it. docs/controls.md explains each entry and each refusal;
// test/reliability/hostile-ioctl.test.ts checks every entry against the driver, rule by rule.

import { IPPROTO_IP, IPPROTO_IPV6, IPPROTO_TCP, IPPROTO_UDP, SocketIoctl, SOL_SOCKET, WskClientControl, WskControlSocketType } from './wsk.js';

/** `client` is WskControlClient; the others are WskControlSocket's RequestType. */
export type ControlKind = 'client' | 'setOption' | 'getOption' | 'ioctl';

/**
 * The Irp rule Learn gives for the code: `required` (the driver refuses the call without
 * `irp: true`), `null` (refused with it), `nullToEnable` (SO_WSK_EVENT_CALLBACK: refused with
 * it unless the mask has WskEvent.Disable). A refusal is STATUS_INVALID_PARAMETER_MIX.
 */
export type IrpRule = 'required' | 'null' | 'nullToEnable';

export interface ControlEntry {
  readonly name: string;
  readonly kind: ControlKind;
  /** Options only: the level it must be sent at. IOCTLs ignore the level (any passes). */
  readonly level: number;
  readonly code: number;
  /** Bytes of input accepted, inclusive (for an event mask: the 4-byte mask). Else STATUS_INVALID_BUFFER_SIZE. */
  readonly input: readonly [min: number, max: number];
  /** outputLength accepted, inclusive. Else STATUS_INVALID_BUFFER_SIZE. */
  readonly output: readonly [min: number, max: number];
  readonly irp: IrpRule;
}

/** The refusal statuses of the allowlist, as WskError.statusName. */
export const CONTROL_REFUSAL = Object.freeze({
  /** The code (for options: level and code; for sockets: with its request type) is not in the table. */
  notInTable: 'STATUS_NOT_SUPPORTED',
  /** Input or output size outside the entry's range. */
  size: 'STATUS_INVALID_BUFFER_SIZE',
  /** An IRP where the rule says NULL, or none where it is required. */
  irp: 'STATUS_INVALID_PARAMETER_MIX',
} as const);

const ULONG = 4;
const SIZE_T = 8; // x64 and ARM64, the driver's targets
const SOCKADDR_STORAGE = 128;
const MAX_CONTROL_BYTES = 4096;

const scalar = (name: string, level: number, code: number): ControlEntry[] => [
  { name, kind: 'setOption', level, code, input: [ULONG, ULONG], output: [0, 0], irp: 'required' },
  { name, kind: 'getOption', level, code, input: [0, 0], output: [ULONG, ULONG], irp: 'required' },
];
const readOnly = (name: string, level: number, code: number): ControlEntry => ({ name, kind: 'getOption', level, code, input: [0, 0], output: [ULONG, ULONG], irp: 'required' });
const ioctl = (name: string, code: number, input: [number, number], output: [number, number]): ControlEntry => ({ name, kind: 'ioctl', level: 0, code, input, output, irp: 'required' });

/** Every call the driver lets through, in driver/controltable.c's order. */
export const CONTROL_ALLOWLIST: readonly ControlEntry[] = Object.freeze([
  { name: 'WSK_TRANSPORT_LIST_QUERY', kind: 'client', level: 0, code: WskClientControl.TransportListQuery, input: [0, 0], output: [0, MAX_CONTROL_BYTES], irp: 'null' },
  { name: 'WSK_SET_STATIC_EVENT_CALLBACKS', kind: 'client', level: 0, code: WskClientControl.SetStaticEventCallbacks, input: [ULONG, ULONG], output: [0, 0], irp: 'null' },
  { name: 'WSK_TDI_BEHAVIOR', kind: 'client', level: 0, code: WskClientControl.TdiBehavior, input: [ULONG, ULONG], output: [0, 0], irp: 'null' },
  { name: 'SO_WSK_EVENT_CALLBACK', kind: 'setOption', level: SOL_SOCKET, code: 0x4002, input: [ULONG, ULONG], output: [0, 0], irp: 'nullToEnable' },
  ...scalar('SO_BROADCAST', SOL_SOCKET, 0x0020),
  ...scalar('SO_CONDITIONAL_ACCEPT', SOL_SOCKET, 0x3002),
  ...scalar('SO_EXCLUSIVEADDRUSE', SOL_SOCKET, ~0x0004 >>> 0),
  ...scalar('SO_KEEPALIVE', SOL_SOCKET, 0x0008),
  ...scalar('SO_RCVBUF', SOL_SOCKET, 0x1002),
  ...scalar('SO_REUSEADDR', SOL_SOCKET, 0x0004),
  ...scalar('SO_SNDBUF', SOL_SOCKET, 0x1001),
  ...scalar('SO_OOBINLINE', SOL_SOCKET, 0x0100),
  ...scalar('SO_LINGER', SOL_SOCKET, 0x0080),
  readOnly('SO_TYPE', SOL_SOCKET, 0x1008),
  readOnly('SO_ERROR', SOL_SOCKET, 0x1007),
  ...scalar('IP_TOS', IPPROTO_IP, 3),
  ...scalar('IP_TTL', IPPROTO_IP, 4),
  ...scalar('IP_MULTICAST_TTL', IPPROTO_IP, 10),
  ...scalar('IP_MULTICAST_LOOP', IPPROTO_IP, 11),
  ...scalar('IP_DONTFRAGMENT', IPPROTO_IP, 14),
  ...scalar('IP_UNICAST_IF', IPPROTO_IP, 31),
  ...scalar('IPV6_UNICAST_HOPS', IPPROTO_IPV6, 4),
  ...scalar('IPV6_MULTICAST_HOPS', IPPROTO_IPV6, 10),
  ...scalar('IPV6_MULTICAST_LOOP', IPPROTO_IPV6, 11),
  ...scalar('IPV6_V6ONLY', IPPROTO_IPV6, 27),
  ...scalar('IPV6_UNICAST_IF', IPPROTO_IPV6, 31),
  ...scalar('TCP_NODELAY', IPPROTO_TCP, 1),
  ...scalar('TCP_KEEPALIVE', IPPROTO_TCP, 3),
  ...scalar('TCP_KEEPCNT', IPPROTO_TCP, 16),
  ...scalar('TCP_KEEPINTVL', IPPROTO_TCP, 17),
  ...scalar('UDP_NOCHECKSUM', IPPROTO_UDP, 1),
  ...scalar('UDP_CHECKSUM_COVERAGE', IPPROTO_UDP, 20),
  ioctl('SIO_WSK_QUERY_IDEAL_SEND_BACKLOG', SocketIoctl.SIO_WSK_QUERY_IDEAL_SEND_BACKLOG, [0, 0], [SIZE_T, SIZE_T]),
  ioctl('SIO_WSK_QUERY_RECEIVE_BACKLOG', SocketIoctl.SIO_WSK_QUERY_RECEIVE_BACKLOG, [0, 0], [SIZE_T, SIZE_T]),
  ioctl('SIO_WSK_SET_REMOTE_ADDRESS', SocketIoctl.SIO_WSK_SET_REMOTE_ADDRESS, [0, SOCKADDR_STORAGE], [0, 0]),
  ioctl('SIO_WSK_SET_SENDTO_ADDRESS', SocketIoctl.SIO_WSK_SET_SENDTO_ADDRESS, [0, SOCKADDR_STORAGE], [0, 0]),
  ioctl('SIO_WSK_SET_TCP_SILENT_MODE', SocketIoctl.SIO_WSK_SET_TCP_SILENT_MODE, [0, 0], [0, 0]),
] satisfies ControlEntry[]);

/** The WSK_CONTROL_SOCKET_TYPE value of a socket kind. */
export function controlRequestType(kind: Exclude<ControlKind, 'client'>): number {
  return kind === 'setOption' ? WskControlSocketType.SetOption : kind === 'getOption' ? WskControlSocketType.GetOption : WskControlSocketType.Ioctl;
}

/** The allowlist entry for a call, or undefined (the driver refuses it with STATUS_NOT_SUPPORTED). */
export function findControl(kind: ControlKind, code: number, level = 0): ControlEntry | undefined {
  const option = kind === 'setOption' || kind === 'getOption';
  return CONTROL_ALLOWLIST.find((e) => e.kind === kind && e.code === code >>> 0 && (!option || e.level === level >>> 0));
}

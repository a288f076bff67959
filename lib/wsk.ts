// SPDX-License-Identifier: MIT
//
// WSK constants with their wsk.h / ws2def.h values (docs/wsk-facts.md §1). Flag values overlap
// between contexts (0x1 is LISTEN_SOCKET, ABORTIVE and OOB), so each group is its own object and
// is only meaningful for the parameter it names.

/** WSK_EVENT_CALLBACK_CONTROL.EventMask flags (SO_WSK_EVENT_CALLBACK, WSK_SET_STATIC_EVENT_CALLBACKS). */
export const WskEvent = Object.freeze({
  SendBacklog: 0x00000010,
  Receive: 0x00000040,
  Disconnect: 0x00000080,
  ReceiveFrom: 0x00000100,
  Accept: 0x00000200,
  /** OR'ed with exactly one event flag to disable it. */
  Disable: 0x80000000,
} as const);
export type WskEventFlag = (typeof WskEvent)[keyof typeof WskEvent];

/** All event bits that enable a callback (everything but Disable). */
export const WSK_EVENT_ALL = WskEvent.SendBacklog | WskEvent.Receive | WskEvent.Disconnect | WskEvent.ReceiveFrom | WskEvent.Accept;

/** WskSocket Flags: the socket categories. */
export const WskSocketFlag = Object.freeze({
  Basic: 0x00000000,
  Listen: 0x00000001,
  Connection: 0x00000002,
  Datagram: 0x00000004,
  Stream: 0x00000008,
} as const);

export type SocketKind = 'basic' | 'listen' | 'connection' | 'datagram';

export const socketKindFlags: Readonly<Record<SocketKind, number>> = Object.freeze({
  basic: WskSocketFlag.Basic,
  listen: WskSocketFlag.Listen,
  connection: WskSocketFlag.Connection,
  datagram: WskSocketFlag.Datagram,
});

/**
 * The events SO_WSK_EVENT_CALLBACK may enable per socket category ([L:so-wsk-event-callback]):
 * a listening socket also takes the connection events, which accepted sockets inherit.
 */
export const validEventsByKind: Readonly<Record<SocketKind, number>> = Object.freeze({
  basic: 0,
  listen: WskEvent.Accept | WskEvent.Receive | WskEvent.Disconnect | WskEvent.SendBacklog,
  connection: WskEvent.Receive | WskEvent.Disconnect | WskEvent.SendBacklog,
  datagram: WskEvent.ReceiveFrom,
});

/** Flags of WskSend, WskReceive, WskDisconnect and of the event callbacks. */
export const WskFlag = Object.freeze({
  /** WskDisconnect in, WskDisconnectEvent out. */
  Abortive: 0x00000001,
  /** WskReceiveEvent in. */
  ReleaseAsap: 0x00000002,
  /** WskReceiveEvent in. */
  EntireMessage: 0x00000004,
  /** Accept/Receive/ReceiveFrom/Disconnect events in. */
  AtDispatchLevel: 0x00000008,
  /** WskSend. */
  Oob: 0x00000001,
  /** WskSend. */
  NoDelay: 0x00000002,
  /** WskReceive. */
  WaitAll: 0x00000002,
  /** WskReceive. */
  Drain: 0x00000004,
} as const);

/** WskControlClient control codes. */
export const WskClientControl = Object.freeze({
  TransportListQuery: 2,
  TransportListChange: 3,
  CacheSd: 4,
  ReleaseSd: 5,
  TdiDeviceNameMapping: 6,
  SetStaticEventCallbacks: 7,
  TdiBehavior: 8,
} as const);
export const WSK_TDI_BEHAVIOR_BYPASS_TDI = 0x00000001;

/** WSK_CONTROL_SOCKET_TYPE. */
export const WskControlSocketType = Object.freeze({
  SetOption: 0,
  GetOption: 1,
  Ioctl: 2,
} as const);
export type WskControlSocketTypeValue = (typeof WskControlSocketType)[keyof typeof WskControlSocketType];

/** WSK_INSPECT_ACTION. */
export const WskInspectAction = Object.freeze({
  Reject: 0,
  Accept: 1,
  Pend: 2,
} as const);

/** Socket option levels, options and IOCTLs (ws2def.h / wsk.h values). */
export const SOL_SOCKET = 0xffff;
export const IPPROTO_IP = 0;
export const IPPROTO_TCP = 6;
export const IPPROTO_UDP = 17;
export const IPPROTO_IPV6 = 41;
export const SOCK_STREAM = 1;
export const SOCK_DGRAM = 2;

export const SocketOption = Object.freeze({
  SO_REUSEADDR: 0x0004,
  SO_KEEPALIVE: 0x0008,
  SO_SNDBUF: 0x1001,
  SO_RCVBUF: 0x1002,
  SO_EXCLUSIVEADDRUSE: ~0x0004 >>> 0,
  SO_CONDITIONAL_ACCEPT: 0x3002,
  SO_WSK_SECURITY: 0x4001,
  SO_WSK_EVENT_CALLBACK: 0x4002,
  IPV6_V6ONLY: 27,
  TCP_NODELAY: 0x0001,
} as const);

export const SocketIoctl = Object.freeze({
  SIO_WSK_SET_REMOTE_ADDRESS: 0x8f000001,
  SIO_WSK_REGISTER_EXTENSION: 0xcf000002,
  SIO_WSK_QUERY_IDEAL_SEND_BACKLOG: 0x4f000003,
  SIO_WSK_QUERY_RECEIVE_BACKLOG: 0x4f000004,
  SIO_WSK_QUERY_INSPECT_ID: 0x4f000005,
  SIO_WSK_SET_SENDTO_ADDRESS: 0x8f000006,
  SIO_WSK_SET_TCP_SILENT_MODE: 0x2f000007,
  SIO_WSK_SET_RECEIVE_EX_CALLBACK: 0x8f000008,
} as const);

/** WskReceiveFromEvent flags (Windows values, not BSD's). */
export const MSG_BCAST = 0x0400;
export const MSG_MCAST = 0x0800;
/** WskReceiveFrom ControlFlags: the datagram did not fit (ws2def.h). */
export const MSG_TRUNC = 0x0100;

/** MAKE_WSK_VERSION. */
export function makeWskVersion(major: number, minor: number): number {
  return ((major << 8) | (minor & 0xff)) & 0xffff;
}

/** The names of the event bits set in a mask, for messages: `Receive|Disconnect`. */
export function eventMaskNames(mask: number): string {
  const names = Object.entries(WskEvent)
    .filter(([, bit]) => (mask & bit) >>> 0 === bit)
    .map(([name]) => name);
  const rest = (mask & ~(WSK_EVENT_ALL | WskEvent.Disable)) >>> 0;
  if (rest) names.push(`0x${rest.toString(16)}`);
  return names.length ? names.join('|') : '0';
}

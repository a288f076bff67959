// SPDX-License-Identifier: MIT
//
// wsk-bridge: drive Winsock Kernel sockets inside the WskBridge driver from Node.js, and watch
// WSK event callbacks arrive as async iterators. The same driver runs in the Windows kernel
// ('kernel') or on ksim, a user-mode kernel simulation inside the addon ('sim').

export { open, WskSession, ioctlName } from './session.js';
export type { BackendChoice, SimNetwork, OpenOptions, SimScheduler, SocketOptions, ControlClientOptions, RawIoctlResult, CloseOptions } from './session.js';
export { WskSocket } from './socket.js';
export type { AcceptResult, ReceiveFromResult, ControlRequest, EventControlResult } from './socket.js';
export type { WskBridgeEvent, WskBridgeEventType, WskBridgeEventOf, EventsOptions, EventBase, InspectId, PumpOptions } from './events.js';
export { WskError, AbortError, SessionClosedError, TimeoutError, formatSocketId, formatAddress } from './errors.js';
export type { WskErrorContext } from './errors.js';
export type { OnceOptions, CollectOptions } from './waiting.js';
export { formatEvent, formatEventDetails, formatEventRow, formatIoctlRow, TABLE_HEADER } from './format.js';
export type { RowOptions } from './format.js';
export { toWskAddress } from './address.js';
export type { AddressLike, FamilyLike } from './address.js';
export { NTSTATUS, statusName, statusValue, hexStatus, isError, ntSuccess } from './ntstatus.js';
export type { NtStatusName } from './ntstatus.js';
export {
  WskEvent,
  WSK_EVENT_ALL,
  WskSocketFlag,
  WskFlag,
  WskClientControl,
  WskControlSocketType,
  WskInspectAction,
  SocketOption,
  SocketIoctl,
  SOL_SOCKET,
  IPPROTO_IP,
  IPPROTO_TCP,
  IPPROTO_UDP,
  IPPROTO_IPV6,
  SOCK_STREAM,
  SOCK_DGRAM,
  MSG_BCAST,
  MSG_MCAST,
  MSG_TRUNC,
  makeWskVersion,
  eventMaskNames,
  validEventsByKind,
} from './wsk.js';
export type { SocketKind, WskEventFlag } from './wsk.js';
export type { WskAddress, AddressFamily, SessionStats, ControlOut } from './protocol.js';
export { ProtocolError } from './protocol.js';
export { CONTROL_ALLOWLIST, CONTROL_REFUSAL, findControl, controlRequestType } from './controls.js';
export type { ControlEntry, ControlKind, IrpRule } from './controls.js';
export * as protocol from './protocol.js';
export type { Backend } from './addon.js';

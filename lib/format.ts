// SPDX-License-Identifier: MIT
//
// One way to print events, IOCTLs and socket ids, shared by the demo, the trace
// (`wsk-bridge trace`, WSKB_TRACE=1, NODE_DEBUG=wsk-bridge) and util.inspect.

import { formatAddress, formatSocketId } from './errors.js';
import type { WskBridgeEvent } from './events.js';
import { WskFlag } from './wsk.js';

export { formatAddress, formatSocketId };

/** WskReceiveEvent's Flags by name: `RELEASE_ASAP|ENTIRE_MESSAGE`. */
export function receiveFlagNames(flags: number): string {
  const names: string[] = [];
  if (flags & WskFlag.ReleaseAsap) names.push('RELEASE_ASAP');
  if (flags & WskFlag.EntireMessage) names.push('ENTIRE_MESSAGE');
  if (flags & WskFlag.AtDispatchLevel) names.push('AT_DISPATCH_LEVEL');
  return names.join('|') || '0';
}

function preview(data: Buffer, max = 40): string {
  const text = data.subarray(0, max).toString('latin1');
  return JSON.stringify(text) + (data.length > max ? '…' : '');
}

/** What an event says, without its sequence, socket and type: `5 of 5 bytes indicated [0]: "hello"`. */
export function formatEventDetails(event: WskBridgeEvent): string {
  switch (event.type) {
    case 'accept':
      return event.socket
        ? `new socket ${formatSocketId(event.socket.id)}, ${formatAddress(event.remoteAddress)} -> ${formatAddress(event.localAddress)}`
        : 'AcceptSocket == NULL: the listener is dead';
    case 'receive':
      return `${event.data.length} of ${event.bytesIndicated} bytes indicated [${receiveFlagNames(event.flags)}]: ${preview(event.data)}`;
    case 'disconnect':
      return event.abortive ? 'abortive (reset)' : 'graceful (FIN)';
    case 'receiveFrom':
      return `${event.data.length} bytes from ${formatAddress(event.remoteAddress)}: ${preview(event.data)}`;
    case 'sendBacklog':
      return `ideal backlog ${event.idealBacklogSize} bytes`;
    case 'flowPaused':
      return `receive paused, ${event.bytesLeft} bytes left with WSK`;
    case 'flowResumed':
      return `receive re-armed (${event.statusName})`;
    case 'datagramsDropped':
    case 'acceptsRefused':
      return `${event.count}`;
    case 'inspect':
      return `${formatAddress(event.remoteAddress)} asks to connect (token ${event.token}, WSK_INSPECT_ID.SerialNumber ${event.inspectId.serialNumber})`;
    case 'abort':
      return `token ${event.token}, WSK_INSPECT_ID.SerialNumber ${event.inspectId.serialNumber}: the client gave up`;
    default:
      return '';
  }
}

/**
 * One line for an event: `#12 receive socket 0x10002: 5 of 5 bytes indicated [0]: "hello"`.
 * Events are plain data objects without a custom inspect (a shared prototype would make
 * `assert.deepStrictEqual` against a literal fail, and an object literal with `__proto__` was
 * measured 4 to 5 times slower to create on the receive path); print them with this.
 */
export function formatEvent(event: WskBridgeEvent): string {
  const details = formatEventDetails(event);
  return `#${event.sequence} ${event.type} socket ${formatSocketId(event.socketId)}${details ? `: ${details}` : ''}`;
}

export interface RowOptions {
  /** Milliseconds since the start of the run (the time column). */
  elapsedMs: number;
  /** A label for a socket id (the demo names its sockets); the id otherwise. */
  label?: (socketId: bigint) => string | undefined;
}

/** The header of the event/IOCTL table the demo and the trace print. */
export const TABLE_HEADER = `${'seq'.padStart(5)}  ${'time'.padStart(10)}  ${'socket'.padEnd(10)}  ${'what'.padEnd(15)}  details`;

function timeColumn(ms: number): string {
  return `${ms.toFixed(1).padStart(7)} ms`;
}

/** A table row for an event. */
export function formatEventRow(event: WskBridgeEvent, options: RowOptions): string {
  const socket = options.label?.(event.socketId) ?? formatSocketId(event.socketId);
  return `${String(event.sequence).padStart(5)}  ${timeColumn(options.elapsedMs)}  ${socket.padEnd(10)}  ${event.type.padEnd(15)}  ${formatEventDetails(event)}`;
}

/** A table row for a completed IOCTL: `ioctl BIND -> STATUS_SUCCESS`. */
export function formatIoctlRow(
  ioctl: { name: string; socketId?: bigint; statusName: string; status: number; information: number; durationMs: number },
  options: RowOptions,
): string {
  const socket = ioctl.socketId === undefined ? '-' : (options.label?.(ioctl.socketId) ?? formatSocketId(ioctl.socketId));
  return `${'ioctl'.padStart(5)}  ${timeColumn(options.elapsedMs)}  ${socket.padEnd(10)}  ${ioctl.name.padEnd(15)}  -> ${ioctl.statusName} (0x${(ioctl.status >>> 0).toString(16).padStart(8, '0')}), ${ioctl.information} bytes out, ${ioctl.durationMs.toFixed(2)} ms`;
}

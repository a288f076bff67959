// SPDX-License-Identifier: MIT
//
// The live trace: every IOCTL with its NTSTATUS name and every event, as a table on stderr.
// On with WSKB_TRACE=1 (what `wsk-bridge trace -- <command>` sets), or NODE_DEBUG=wsk-bridge
// (through util.debuglog, with Node's usual `WSK-BRIDGE <pid>:` prefix).

import { debuglog } from 'node:util';
import type { IoctlCallback, NativeDevice } from './addon.js';
import type { WskBridgeEvent } from './events.js';
import { formatEventRow, formatIoctlRow, TABLE_HEADER } from './format.js';
import { statusName } from './ntstatus.js';
import {
  ioctlNames,
  WSKB_IOCTL_CONTROL_CLIENT,
  WSKB_IOCTL_HELLO,
  WSKB_IOCTL_READ_EVENTS,
  WSKB_IOCTL_SOCKET_CONNECT,
  WSKB_IOCTL_SOCKET_CREATE,
  WSKB_IOCTL_STATS,
} from './protocol.js';

/** The IOCTLs of the session as a whole; every other one's input starts with a WSKB socket id. */
const SESSION_WIDE: ReadonlySet<number> = new Set(
  [WSKB_IOCTL_HELLO, WSKB_IOCTL_CONTROL_CLIENT, WSKB_IOCTL_SOCKET_CREATE, WSKB_IOCTL_SOCKET_CONNECT, WSKB_IOCTL_READ_EVENTS, WSKB_IOCTL_STATS].map((code) => code >>> 0),
);

export interface Tracer {
  ioctl(code: number, input: Uint8Array | null, status: number, information: number, durationMs: number): void;
  event(event: WskBridgeEvent): void;
}

const started = process.hrtime.bigint();
const elapsedMs = (): number => Number(process.hrtime.bigint() - started) / 1e6;

/** A tracer writing table rows to `write` (a header first). */
export function createTracer(write: (line: string) => void): Tracer {
  let headed = false;
  const line = (text: string) => {
    if (!headed) {
      headed = true;
      write(TABLE_HEADER);
    }
    write(text);
  };
  return {
    ioctl(code, input, status, information, durationMs) {
      const name = (ioctlNames.get(code >>> 0) ?? `0x${(code >>> 0).toString(16)}`).replace(/^WSKB_IOCTL_/, '');
      const socketId = ioctlNames.has(code >>> 0) && !SESSION_WIDE.has(code >>> 0) && input && input.byteLength >= 8 ? Buffer.from(input.buffer, input.byteOffset, 8).readBigUInt64LE(0) : undefined;
      line(formatIoctlRow({ name, socketId, status, statusName: statusName(status), information, durationMs }, { elapsedMs: elapsedMs() }));
    },
    event(event) {
      line(formatEventRow(event, { elapsedMs: elapsedMs() }));
    },
  };
}

let fromEnv: Tracer | null | undefined;

/** The tracer the environment asks for (WSKB_TRACE=1 or NODE_DEBUG=wsk-bridge), or undefined. */
export function tracerFromEnvironment(): Tracer | undefined {
  if (fromEnv === undefined) {
    const flag = process.env.WSKB_TRACE;
    if (flag !== undefined && flag !== '' && flag !== '0') {
      fromEnv = createTracer((text) => process.stderr.write(`wskb ${text}\n`));
    } else {
      const debug = debuglog('wsk-bridge');
      fromEnv = debug.enabled ? createTracer((text) => debug('%s', text)) : null;
    }
  }
  return fromEnv ?? undefined;
}

/** The device with every IOCTL completion reported to `tracer`. */
export function tracedDevice(device: NativeDevice, tracer: Tracer): NativeDevice {
  return {
    get backend() {
      return device.backend;
    },
    get pending() {
      return device.pending;
    },
    ioctl(code: number, input: Uint8Array | null, outputLength: number, callback: IoctlCallback, weak?: boolean) {
      const start = process.hrtime.bigint();
      device.ioctl(
        code,
        input,
        outputLength,
        (status, information, output) => {
          tracer.ioctl(code, input, status, information, Number(process.hrtime.bigint() - start) / 1e6);
          callback(status, information, output);
        },
        weak,
      );
    },
    cancelAll: () => device.cancelAll(),
    close: () => device.close(),
    ref: () => device.ref(),
    unref: () => device.unref(),
  };
}

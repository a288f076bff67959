// SPDX-License-Identifier: MIT
//
// What the seed examples share: opening a session (kernel when the driver is there, else sim;
// WSKB_BACKEND overrides), printing each call with its NTSTATUS, printing events as they arrive,
// and Node peers on loopback.

import type * as net from 'node:net';
import {
  eventMaskNames,
  formatEvent,
  hexStatus,
  open,
  statusName,
  WskError,
  type ControlOut,
  type WskBridgeEvent,
  type WskSession,
  type WskSocket,
} from 'wsk-bridge';
import { tcpServer } from 'wsk-bridge/testing';

export async function openSession(): Promise<WskSession> {
  const session = await open({ backend: 'auto' });
  console.log(`session: backend ${session.backend} (${session.backendReason})`);
  return session;
}

/** `name -> STATUS_X (0x...)`, for a call whose status is all there is. */
export function printStatus(call: string, status: number): void {
  console.log(`  ${call} -> ${statusName(status)} (${hexStatus(status)})`);
}

/** Both statuses of a WskControlSocket / WskControlClient call: what it returned, and its IRP's. */
export function printControl(call: string, result: ControlOut, irp: boolean): void {
  const irpPart = irp ? `; IRP completed with ${statusName(result.irpStatus)} (${hexStatus(result.irpStatus)})` : '';
  console.log(`  ${call} returned ${statusName(result.callStatus)} (${hexStatus(result.callStatus)})${irpPart}`);
}

/**
 * Runs one bridge call and prints its NTSTATUS: STATUS_SUCCESS when it resolved, the WskError's
 * status when it failed (then rethrown).
 */
export async function step<T>(call: string, promise: Promise<T>): Promise<T> {
  try {
    const value = await promise;
    printStatus(call, 0);
    return value;
  } catch (error) {
    if (error instanceof WskError) printStatus(call, error.status);
    throw error;
  }
}

/** The NTSTATUS a bridge call ended with: STATUS_SUCCESS when it resolved, the WskError's otherwise. */
export async function statusOf(promise: Promise<unknown>): Promise<number> {
  try {
    await promise;
    return 0;
  } catch (error) {
    if (error instanceof WskError) return error.status;
    throw error;
  }
}

export function maskName(mask: number): string {
  return eventMaskNames(mask >>> 0);
}

/**
 * Prints a socket's events as they arrive, in the background, until the socket closes or
 * `stop()` is called. `seen` holds them for the script's own checks.
 */
export function watch(socket: WskSocket, label: string): { seen: WskBridgeEvent[]; stop(): Promise<void>; waitFor(type: WskBridgeEvent['type'], ms?: number): Promise<WskBridgeEvent | undefined> } {
  const seen: WskBridgeEvent[] = [];
  const iterator = socket.events();
  const wakers = new Set<() => void>();
  const done = (async () => {
    for await (const event of iterator) {
      console.log(`  [${label}] event ${formatEvent(event)}`);
      seen.push(event);
      for (const wake of [...wakers]) wake();
    }
  })();
  return {
    seen,
    async stop() {
      await iterator.return?.();
      await done;
    },
    /** The first event of `type`, or undefined if none arrives within `ms`. */
    waitFor(type, ms = 2000) {
      const find = () => seen.find((e) => e.type === type);
      if (find()) return Promise.resolve(find());
      return new Promise((resolve) => {
        const timer = setTimeout(() => {
          wakers.delete(check);
          resolve(undefined);
        }, ms);
        const check = () => {
          const found = find();
          if (found) {
            clearTimeout(timer);
            wakers.delete(check);
            resolve(found);
          }
        };
        wakers.add(check);
      });
    },
  };
}

/** A bridge connection socket connected to a Node server, with the Node side. */
export async function connectToNode(session: WskSession): Promise<{ socket: WskSocket; peer: net.Socket; server: net.Server }> {
  // A Node server from wsk-bridge/testing: every connection has an 'error' handler.
  const { server, port, accepted } = await tcpServer();
  const peer = accepted();
  const socket = await step('WskSocket(AF_INET, SOCK_STREAM, IPPROTO_TCP, WSK_FLAG_CONNECTION_SOCKET)', session.socket('connection'));
  await step('WskBind(0.0.0.0:0)', socket.bind({ family: 'ipv4', address: '0.0.0.0', port: 0 }));
  await step(`WskConnect(127.0.0.1:${port}) to a Node server`, socket.connect({ family: 'ipv4', address: '127.0.0.1', port }));
  return { socket, peer: await peer, server };
}

/** Ends a connection gracefully (WskDisconnect, so that the close is not a reset), then closes it. */
export async function disconnectAndClose(socket: WskSocket): Promise<void> {
  await step('WskDisconnect(graceful)', socket.disconnect()).catch(() => undefined);
  await step('WskCloseSocket', socket.close());
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Runs an example; a failure prints and sets the exit code. */
export function run(main: () => Promise<void>): void {
  main().catch((error: unknown) => {
    console.error(error instanceof Error ? (error.stack ?? error.message) : String(error));
    process.exitCode = 1;
  });
}

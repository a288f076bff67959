// SPDX-License-Identifier: MIT
//
// What the seed examples share: opening a session (kernel when the driver is there, else sim;
// WSKB_BACKEND overrides), printing each call with its NTSTATUS, printing events as they arrive,
// and Node peers on loopback.

import { once } from 'node:events';
import * as net from 'node:net';
import {
  eventMaskNames,
  hexStatus,
  open,
  statusName,
  WskError,
  type ControlOut,
  type WskBridgeEvent,
  type WskSession,
  type WskSocket,
} from '../../lib/index.js';

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

export function describeEvent(event: WskBridgeEvent): string {
  const head = `#${event.sequence} ${event.type}`;
  switch (event.type) {
    case 'receive':
      return `${head}: ${event.data.length} bytes ${JSON.stringify(event.data.toString('latin1').slice(0, 40))} (flags 0x${event.flags.toString(16)})`;
    case 'disconnect':
      return `${head}: ${event.abortive ? 'abortive (WSK_FLAG_ABORTIVE)' : 'graceful'}`;
    case 'receiveFrom':
      return `${head}: ${event.data.length} bytes ${JSON.stringify(event.data.toString())} from ${event.remoteAddress?.address}:${event.remoteAddress?.port}`;
    case 'accept':
      return `${head}: ${event.socket ? `socket 0x${event.socket.id.toString(16)}` : 'NULL AcceptSocket'} from ${event.remoteAddress?.address}:${event.remoteAddress?.port}`;
    case 'inspect':
      return `${head}: ${event.remoteAddress?.address}:${event.remoteAddress?.port} (token ${event.token}, WSK_INSPECT_ID.SerialNumber ${event.inspectId.serialNumber})`;
    case 'abort':
      return `${head}: token ${event.token}, WSK_INSPECT_ID.SerialNumber ${event.inspectId.serialNumber}`;
    case 'sendBacklog':
      return `${head}: ideal backlog ${event.idealBacklogSize} bytes`;
    case 'flowPaused':
      return `${head}: ${event.bytesLeft} bytes left with WSK`;
    case 'flowResumed':
      return `${head}: ${event.statusName}`;
    case 'datagramsDropped':
    case 'acceptsRefused':
      return `${head}: ${event.count}`;
    default:
      return head;
  }
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
      console.log(`  [${label}] event ${describeEvent(event)}`);
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

/** A Node TCP server on 127.0.0.1:0; `peer` resolves with its first connection. */
export async function nodeServer(): Promise<{ server: net.Server; port: number; peer: Promise<net.Socket> }> {
  let resolvePeer!: (s: net.Socket) => void;
  const peer = new Promise<net.Socket>((resolve) => (resolvePeer = resolve));
  const server = net.createServer({ allowHalfOpen: true }, (socket) => {
    socket.on('error', (error) => console.log(`  [node peer] ${error.message}`));
    resolvePeer(socket);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { server, port: (server.address() as net.AddressInfo).port, peer };
}

/** A bridge connection socket connected to a Node server, with the Node side. */
export async function connectToNode(session: WskSession): Promise<{ socket: WskSocket; peer: net.Socket; server: net.Server }> {
  const { server, port, peer } = await nodeServer();
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

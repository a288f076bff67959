// SPDX-License-Identifier: MIT
//
// Shared helpers for the suites: sessions on sim, Node peers, hashing, leak baselines.

import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import * as net from 'node:net';
import { addon, type KsimCounters } from '../../lib/addon.js';
import { open, WskError, type WskSession } from '../../lib/index.js';

/** Opens a session on the simulated kernel (these suites read ksim's counters). */
export function openSim(eventBudget?: number): Promise<WskSession> {
  return open({ backend: 'sim', ...(eventBudget ? { eventBudget } : {}) });
}

export function sha256(data: Uint8Array | Uint8Array[]): string {
  const hash = createHash('sha256');
  for (const part of Array.isArray(data) ? data : [data]) hash.update(part);
  return hash.digest('hex');
}

/** Deterministic-looking but incompressible payload. */
export function payload(bytes: number): Buffer {
  return randomBytes(bytes);
}

/** A Node TCP server on host:0; resolves once listening, with its port. */
export async function nodeServer(host: string, onConnection: (socket: net.Socket) => void): Promise<{ server: net.Server; port: number }> {
  const server = net.createServer((socket) => {
    // The kernel side may reset connections on purpose (abortive disconnect, session close);
    // a test that cares listens for 'error' itself.
    socket.on('error', () => {});
    onConnection(socket);
  });
  server.listen(0, host);
  await once(server, 'listening');
  return { server, port: (server.address() as net.AddressInfo).port };
}

export async function closeServer(server: net.Server): Promise<void> {
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

/** Reads a Node socket to its end. */
export async function readAll(socket: net.Socket): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of socket) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** Asserts that `promise` rejects with a WskError of this NTSTATUS name (and operation, if given). */
export async function rejectsWith(promise: Promise<unknown>, statusName: string, operation?: string): Promise<WskError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof WskError, `expected a WskError (${statusName}), got ${String(error)}`);
    assert.equal(error.statusName, statusName, `expected ${statusName}, got: ${error.message}`);
    if (operation !== undefined) assert.equal(error.operation, operation);
    return error;
  }
  assert.fail(`expected a rejection with ${statusName}, but it resolved`);
}

export function counters(): KsimCounters {
  return addon().ksim.counters();
}

/** The counters that must return to their baseline once sessions are closed. */
export function leakCounters(c: KsimCounters = counters()): Record<string, number> {
  return { poolAllocations: c.poolAllocations, poolBytes: c.poolBytes, irps: c.irps, mdls: c.mdls, hostSockets: c.hostSockets, wskSockets: c.wskSockets };
}

/** Polls until `predicate` holds (host sockets may close a moment after a completion). */
export async function eventually(predicate: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
    }),
  ]);
}

/**
 * Skips the running test and says why, in the test output: a skipped test always names its
 * reason (mocha's own skip() takes none).
 */
export function skipBecause(context: Mocha.Context, reason: string): never {
  const title = context.test?.title ?? context.currentTest?.title ?? '';
  process.stdout.write(`      skipped "${title}": ${reason}\n`);
  return context.skip();
}

/** Set by scripts/test-wine.sh: the suite runs under Wine, whose Winsock differs from Windows'. */
export const UNDER_WINE = process.env.WSKB_HOST_IS_WINE === '1';

// SPDX-License-Identifier: MIT
//
// Bench options and the Node net receiver, shared by bench/run.ts and bench/profile.ts.

import * as net from 'node:net';

/** READ_EVENTS pump tuning from WSKB_BENCH_READ_BYTES / WSKB_BENCH_DEPTH (library defaults otherwise). */
export function pumpOptionsFromEnv(): { readBytes?: number; depth?: number } | undefined {
  const readBytes = process.env.WSKB_BENCH_READ_BYTES ? Number(process.env.WSKB_BENCH_READ_BYTES) : undefined;
  const depth = process.env.WSKB_BENCH_DEPTH ? Number(process.env.WSKB_BENCH_DEPTH) : undefined;
  if (readBytes === undefined && depth === undefined) return undefined;
  return { ...(readBytes !== undefined ? { readBytes } : {}), ...(depth !== undefined ? { depth } : {}) };
}

/** Receives `bytes` on a Node net server fed by `send(port)`: MiB/s from first to last byte. */
export async function receiveWithNet(bytes: number, send: (port: number) => Promise<unknown>): Promise<number> {
  let received = 0;
  let first = 0n;
  let last = 0n;
  let done!: () => void;
  const finished = new Promise<void>((resolve) => (done = resolve));
  const server = net.createServer((socket) => {
    socket.on('data', (chunk: Buffer) => {
      if (received === 0) first = process.hrtime.bigint();
      received += chunk.length;
      last = process.hrtime.bigint();
    });
    socket.on('end', () => done());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const sending = send((server.address() as net.AddressInfo).port);
  await finished;
  await sending;
  server.close();
  if (received !== bytes) throw new Error(`node received ${received} of ${bytes} bytes`);
  return bytes / (Number(last - first) / 1e9) / (1 << 20);
}

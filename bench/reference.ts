// SPDX-License-Identifier: MIT
//
// The bench's C references, compiled with `cc` at run time into .cache/bench (bench/c/*.c):
//   tcp_recv      epoll + recv into one 256 KiB buffer: what a receiver on this machine can take
//   udp_recv      recvmmsg, 64 datagrams per call: the same for datagrams
//   udp_send      sendmmsg, 64 datagrams per call: one sender that outruns Node's dgram.send
//   copycount.so  LD_PRELOAD: bytes through memcpy/memmove (and memset) calls of >= 1 KiB
// and the "copies per received byte" measurement built on copycount.so.

import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

const ROOT = path.join(__dirname, '..', '..');
const SOURCES = path.join(ROOT, 'bench', 'c');
export const CACHE = path.join(ROOT, '.cache', 'bench');

/** Compiles what is missing or older than its source; returns the paths, or throws naming the compiler's complaint. */
export function buildReferences(): { tcpRecv: string; udpRecv: string; udpSend: string; copyCount: string } {
  fs.mkdirSync(CACHE, { recursive: true });
  const build = (name: string, output: string, extra: string[]): string => {
    const source = path.join(SOURCES, `${name}.c`);
    const target = path.join(CACHE, output);
    if (!fs.existsSync(target) || fs.statSync(target).mtimeMs < fs.statSync(source).mtimeMs) {
      execFileSync(process.env.CC ?? 'cc', ['-O2', '-Wall', '-o', target, source, ...extra], { stdio: ['ignore', 'inherit', 'inherit'] });
    }
    return target;
  };
  return {
    tcpRecv: build('tcp_recv', 'tcp_recv', []),
    udpRecv: build('udp_recv', 'udp_recv', []),
    udpSend: build('udp_send', 'udp_send', []),
    copyCount: build('copycount', 'copycount.so', ['-shared', '-fPIC', '-ldl']),
  };
}

/** Runs a reference receiver: resolves its port (first stdout line), then its result line. */
function receiver(binary: string): { port: Promise<number>; result: Promise<number[]>; child: ChildProcess } {
  const child = spawn(binary, [], { stdio: ['ignore', 'pipe', 'inherit'] });
  let text = '';
  let resolvePort!: (port: number) => void;
  const port = new Promise<number>((resolve) => (resolvePort = resolve));
  const result = new Promise<number[]>((resolve, reject) => {
    child.stdout!.on('data', (chunk: Buffer) => {
      text += chunk.toString();
      const lines = text.split('\n');
      if (lines.length > 1) resolvePort(Number(lines[0]));
      if (lines.length > 2) resolve(lines[1]!.trim().split(/\s+/).map(Number));
    });
    child.once('exit', (code) => (code === 0 ? setImmediate(() => reject(new Error(`${path.basename(binary)}: no result`))) : reject(new Error(`${path.basename(binary)} exited with ${code}`))));
    child.once('error', reject);
  });
  return { port, result, child };
}

/** TCP: MiB/s of the epoll + recv receiver, fed by `send(port)` (the same sender as the others). */
export async function tcpLimit(binary: string, bytes: number, send: (port: number) => Promise<unknown>): Promise<number> {
  const r = receiver(binary);
  const sending = send(await r.port);
  const [received, seconds] = await r.result;
  await sending;
  if (received !== bytes) throw new Error(`tcp_recv received ${received} of ${bytes} bytes`);
  return bytes / seconds! / (1 << 20);
}

/** The sendmmsg sender: resolves the number of datagrams it handed to the kernel. */
export function udpSend(binary: string, port: number, seconds: number, size: number): Promise<number> {
  const child = spawn(binary, [String(port), String(seconds), String(size)], { stdio: ['ignore', 'pipe', 'inherit'] });
  let text = '';
  child.stdout!.on('data', (chunk: Buffer) => (text += chunk.toString()));
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => (code === 0 ? resolve(Number(text.trim())) : reject(new Error(`udp_send exited with ${code}`))));
    child.once('error', reject);
  });
}

/** Datagrams/s of the recvmmsg receiver under the sendmmsg sender. */
export async function udpLimit(recvBinary: string, sendBinary: string, seconds: number, size: number): Promise<{ rate: number; received: number; sent: number }> {
  const r = receiver(recvBinary);
  const sent = await udpSend(sendBinary, await r.port, seconds, size);
  const [received, span] = await r.result;
  return { rate: received! / span!, received: received!, sent };
}

/**
 * Copies per received byte: runs `node dist/bench/profile.js <scenario> <mib>` with copycount.so
 * preloaded in the receiving process alone (the sender is started without it), twice, for mib
 * and 3 x mib, and divides the difference in bytes that went through large memcpy/memmove calls
 * by the difference in bytes received: what each further byte costs, without the start-up
 * copies (a few MiB: the addon, V8's snapshot). The same for Node's own `net` receiver
 * (scenario tcp-node) as the reference.
 */
export function copiesPerByte(copyCount: string, scenario: 'tcp' | 'tcp-node', mib: number): { copies: number; fills: number } {
  const small = countCopies(copyCount, scenario, mib);
  const large = countCopies(copyCount, scenario, 3 * mib);
  const bytes = 2 * mib * (1 << 20);
  return { copies: (large.copied - small.copied) / bytes, fills: (large.filled - small.filled) / bytes };
}

function countCopies(copyCount: string, scenario: 'tcp' | 'tcp-node', mib: number): { copied: number; filled: number } {
  const file = path.join(CACHE, `copycount-${process.pid}-${scenario}.txt`);
  fs.rmSync(file, { force: true });
  execFileSync(process.execPath, [path.join(__dirname, 'profile.js'), scenario, String(mib)], {
    env: { ...process.env, LD_PRELOAD: copyCount, WSKB_COPY_COUNT_FILE: file, WSKB_BENCH_STRIP_PRELOAD: '1' },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const lines = fs.readFileSync(file, 'utf8').trim().split('\n');
  fs.rmSync(file, { force: true });
  if (lines.length !== 1) throw new Error(`copy count: expected one process's report, got ${lines.length} (${lines.join('; ')})`);
  const [, copied, filled] = lines[0]!.split(' ').map(Number);
  return { copied: copied!, filled: filled! };
}

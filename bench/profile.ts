// SPDX-License-Identifier: MIT
//
// One bridge scenario alone, for profilers (`node --cpu-prof`, `perf record`), with the same
// traffic as bench/run.ts:
//
//   node dist/bench/profile.js tcp   [MiB]      receive MiB over TCP through receive events
//   node dist/bench/profile.js tcp-node [MiB]   the same into Node's net (copy-count reference)
//   node dist/bench/profile.js drain [events]  64 B datagrams queued in the driver first, then
//                                              drained through for await (delivery capacity)
//   node dist/bench/profile.js echo  [rounds]  64 B ping-pong, the bridge echoing from events
//   node dist/bench/profile.js pipeline [batches]  the JavaScript half alone: 1800-event batches
//                                              of 64 B receive-from records completed by a scripted
//                                              device (no driver) through decodeBatch, ordering,
//                                              dispatch and the iterator; warm rounds, both forms
//
// Pump tuning from the environment, to measure its effect: WSKB_BENCH_READ_BYTES,
// WSKB_BENCH_DEPTH; WSKB_BENCH_BATCH=1 drains with events({ batch: true }). WSKB_BENCH_CPUPROF=file.cpuprofile profiles the measured phase alone (the
// drain loop, without the sending that fills the queue). Prints one JSON line.

import { fork } from 'node:child_process';
import * as dgram from 'node:dgram';
import * as fs from 'node:fs';
import { Session as InspectorSession } from 'node:inspector';
import * as net from 'node:net';
import assert from 'node:assert/strict';
import type { IoctlCallback, NativeDevice } from '../lib/addon.js';
import { EventPump, type EventHost } from '../lib/events.js';
import { open, WskEvent, type WskSession, type WskSocket } from '../lib/index.js';
import { encodeEventRecord, layouts, WSKB_EVENT_RECEIVE_FROM, writeSockaddr } from '../lib/protocol.js';
import { pumpOptionsFromEnv, receiveWithNet } from './options.js';

/** Starts the V8 CPU profiler if WSKB_BENCH_CPUPROF names a file; the returned function stops it and writes the profile. */
async function profileIfAsked(): Promise<() => Promise<void>> {
  const file = process.env.WSKB_BENCH_CPUPROF;
  if (!file) return async () => {};
  const inspector = new InspectorSession();
  inspector.connect();
  const post = (method: string, params?: object): Promise<unknown> =>
    new Promise((resolve, reject) => inspector.post(method, params ?? {}, (error, result) => (error ? reject(error) : resolve(result))));
  await post('Profiler.enable');
  await post('Profiler.setSamplingInterval', { interval: 100 });
  await post('Profiler.start');
  return async () => {
    const { profile } = (await post('Profiler.stop')) as { profile: object };
    fs.writeFileSync(file, JSON.stringify(profile));
    inspector.disconnect();
  };
}

function tcpSender(port: number, bytes: number): Promise<void> {
  // Under bench/reference.ts's copy count the instrument is for the receiving process only.
  const env = { ...process.env };
  if (env.WSKB_BENCH_STRIP_PRELOAD) delete env.LD_PRELOAD;
  const child = fork(__filename, ['--tcp-sender', String(port), String(bytes)], { stdio: 'inherit', env });
  return new Promise((resolve, reject) => child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`sender exited ${code}`)))));
}

/** CPU seconds (user + system, every thread of this process, no child) since `from`. */
function cpuSince(from: NodeJS.CpuUsage): number {
  const used = process.cpuUsage(from);
  return (used.user + used.system) / 1e6;
}

async function tcp(session: WskSession, mib: number): Promise<object> {
  const bytes = mib << 20;
  const cpu = process.cpuUsage();
  const listener = await session.socket('listen');
  await listener.bind({ family: 'ipv4', address: '127.0.0.1', port: 0 });
  await listener.enableEvents(WskEvent.Accept | WskEvent.Receive | WskEvent.Disconnect);
  const sending = tcpSender((await listener.localAddress())!.port, bytes);
  let received = 0;
  let events = 0;
  let first = 0n;
  let last = 0n;
  for await (const event of session.events({ highWaterMark: 4096 })) {
    if (event.type === 'receive') {
      if (received === 0) first = process.hrtime.bigint();
      received += event.data.length;
      events++;
      last = process.hrtime.bigint();
    } else if ((event.type === 'disconnect' || event.type === 'receiveClosed') && received >= bytes) break;
  }
  await sending;
  const stats = await session.stats();
  return {
    scenario: 'tcp',
    mib,
    mibPerSecond: bytes / (Number(last - first) / 1e9) / (1 << 20),
    cpuSecondsPerGiB: cpuSince(cpu) / (mib / 1024),
    receiveEvents: events,
    bytesPerEvent: received / events,
    readEventsCompleted: Number(stats.readEventsCompleted),
    bytesPerRead: received / Number(stats.readEventsCompleted),
    directShare: Number(stats.eventsWrittenDirect) / Number(stats.eventsDelivered),
    pauses: Number(stats.receivePauses),
  };
}

/** The same transfer into Node's own net receiver: the reference for copies per byte. */
async function tcpNode(mib: number): Promise<object> {
  const bytes = mib << 20;
  const cpu = process.cpuUsage();
  const mibPerSecond = await receiveWithNet(bytes, (port) => tcpSender(port, bytes));
  return { scenario: 'tcp-node', mib, mibPerSecond, cpuSecondsPerGiB: cpuSince(cpu) / (mib / 1024) };
}

async function drain(session: WskSession, count: number): Promise<object> {
  // Held in the driver (budget) until the iterator starts: a session-wide iterator nobody reads
  // stops the pump meanwhile (an unread socket alone would be held back and its datagrams dropped).
  const gate = session.events({ highWaterMark: 1 });
  const socket = await session.socket('datagram');
  await socket.bind({ family: 'ipv4', address: '127.0.0.1', port: 0 });
  const port = (await socket.localAddress())!.port;
  await socket.enableEvents(WskEvent.ReceiveFrom);
  const peer = dgram.createSocket('udp4');
  const payload = Buffer.alloc(64, 0x42);
  for (let sent = 0; sent < count; sent += 32) {
    await new Promise<void>((resolve) => {
      let left = 32;
      for (let i = 0; i < 32; i++) peer.send(payload, port, '127.0.0.1', () => --left === 0 && resolve());
    });
    // Paced so the host never drops: the point is delivery from the driver, not UDP loss.
    if (sent % 1024 === 0) await new Promise((resolve) => setImmediate(resolve));
  }
  peer.close();
  await new Promise((resolve) => setTimeout(resolve, 300));
  const queued = await session.stats();
  let got = 0;
  const stopProfile = await profileIfAsked();
  const start = process.hrtime.bigint();
  const target = Number(queued.eventsQueued); // everything queued so far
  await gate.return!();
  if (process.env.WSKB_BENCH_BATCH === '1') {
    for await (const events of socket.events({ highWaterMark: 1 << 20, batch: true })) {
      for (const event of events) if (event.type === 'receiveFrom') got++;
      if (got >= target) break;
    }
  } else {
    for await (const event of socket.events({ highWaterMark: 1 << 20 })) {
      if (event.type === 'receiveFrom' && ++got >= target) break;
    }
  }
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  await stopProfile();
  const after = await session.stats();
  return {
    scenario: 'drain',
    queuedBeforeIterating: Number(queued.eventsQueued),
    dropped: Number(after.datagramsDropped),
    eventsPerSecond: got / seconds,
    eventsPerRead: Number(after.eventsDelivered) / Number(after.readEventsCompleted),
  };
}

async function echo(session: WskSession, rounds: number): Promise<object> {
  const listener = await session.socket('listen');
  await listener.bind({ family: 'ipv4', address: '127.0.0.1', port: 0 });
  await listener.enableEvents(WskEvent.Accept | WskEvent.Receive | WskEvent.Disconnect);
  const port = (await listener.localAddress())!.port;
  const sockets = new Map<bigint, WskSocket>();
  const serving = (async () => {
    for await (const event of session.events()) {
      if (event.type === 'accept' && event.socket) sockets.set(event.socket.id, event.socket);
      else if (event.type === 'receive') void sockets.get(event.socketId)!.send(event.data);
      else if (event.type === 'disconnect' || event.type === 'receiveClosed') break;
    }
  })();
  const socket = net.connect(port, '127.0.0.1');
  socket.on('error', () => {}); // reset when the session closes
  socket.setNoDelay(true);
  await new Promise<void>((resolve) => socket.once('connect', resolve));
  const samples: number[] = [];
  const payload = Buffer.alloc(64, 0x33);
  let resolveRound: (() => void) | undefined;
  let got = 0;
  socket.on('data', (chunk: Buffer) => {
    got += chunk.length;
    if (got >= 64 && resolveRound) {
      got = 0;
      resolveRound();
    }
  });
  for (let i = 0; i < rounds; i++) {
    const start = process.hrtime.bigint();
    await new Promise<void>((resolve) => {
      resolveRound = resolve;
      socket.write(payload);
    });
    samples.push(Number(process.hrtime.bigint() - start) / 1000);
  }
  socket.end();
  await serving;
  samples.sort((a, b) => a - b);
  const stats = await session.stats();
  return {
    scenario: 'echo',
    rounds,
    p50: samples[Math.floor(rounds / 2)],
    p99: samples[Math.floor(rounds * 0.99)],
    directShare: Number(stats.eventsWrittenDirect) / Number(stats.eventsDelivered),
  };
}

/** The pump and iterators against a device that completes READ_EVENTS with prepared batches. */
async function pipeline(batches: number): Promise<object> {
  const perBatch = 1800;
  const body = Buffer.alloc(layouts.WSKB_SOCKADDR.size + 64);
  writeSockaddr(new DataView(body.buffer, body.byteOffset, layouts.WSKB_SOCKADDR.size), 0, { family: 'ipv4', address: '127.0.0.1', port: 9 });
  const record = encodeEventRecord({ type: WSKB_EVENT_RECEIVE_FROM, sequence: 1n, timestamp: 1n, socketId: 0x1_0001_0000n, wskFlags: 0, param: 0n, body });
  const prepared = Array.from({ length: batches }, (_, b) => {
    const out = Buffer.alloc(record.length * perBatch);
    for (let i = 0; i < perBatch; i++) {
      record.copy(out, i * record.length);
      out.writeBigUInt64LE(BigInt(1 + b * perBatch + i), i * record.length + layouts.WSKB_EVENT_HEADER.offsets.Sequence);
    }
    return out;
  });
  const host: EventHost = { adoptAcceptedSocket: () => assert.fail('no accept here'), inspectComplete: async () => {}, isClosedByUser: () => false };
  const rates: Record<string, number[]> = { single: [], batch: [] };
  for (let round = 0; round < 6; round++) {
    for (const form of ['single', 'batch'] as const) {
      const reads: Array<[IoctlCallback, Buffer]> = [];
      const device: NativeDevice = {
        backend: 'sim',
        pending: 0,
        // READ_EVENTS is METHOD_OUT_DIRECT: the batch is written into the pump's own buffer.
        ioctl: (_code, _input, output, callback) => void reads.push([callback, output as Buffer]),
        cancelAll: () => {},
        close: () => {},
        ref: () => {},
        unref: () => {},
      };
      const pump = new EventPump(device, host, { depth: 1 });
      pump.start();
      let next = 0;
      const feed = () => {
        const read = reads.shift();
        if (read && next < batches) {
          const [callback, output] = read;
          const batch = prepared[next++]!;
          batch.copy(output);
          callback(0, batch.length, output);
        }
      };
      const total = batches * perBatch;
      let seen = 0;
      const start = process.hrtime.bigint();
      feed();
      if (form === 'batch') {
        for await (const events of pump.subscribe(0x1_0001_0000n, { highWaterMark: 1 << 22, batch: true })) {
          for (const event of events) if (event.type === 'receiveFrom') seen++;
          if (seen >= total) break;
          feed();
        }
      } else {
        for await (const event of pump.subscribe(0x1_0001_0000n, { highWaterMark: 1 << 22 })) {
          if (event.type === 'receiveFrom') seen++;
          if (seen >= total) break;
          if (seen % perBatch === 0) feed();
        }
      }
      // The first round of each form warms V8 up and is not counted.
      if (round > 0) rates[form]!.push(seen / (Number(process.hrtime.bigint() - start) / 1e9));
    }
  }
  const median = (values: number[]) => [...values].sort((a, b) => a - b)[values.length >> 1]!;
  return { scenario: 'pipeline', eventsPerBatch: perBatch, batches, singleEventsPerSecond: median(rates.single!), batchEventsPerSecond: median(rates.batch!), runs: rates };
}

async function main(): Promise<void> {
  const [scenario = 'tcp', arg] = process.argv.slice(2);
  if (scenario === 'pipeline') {
    console.log(JSON.stringify(await pipeline(Number(arg ?? 60))));
    return;
  }
  if (scenario === 'tcp-node') {
    console.log(JSON.stringify(await tcpNode(Number(arg ?? 512))));
    return;
  }
  const pump = pumpOptionsFromEnv();
  const session = await open({ backend: 'sim', eventBudget: 32 << 20, ...(pump ? { pump } : {}) });
  try {
    let result: object;
    if (scenario === 'tcp') result = await tcp(session, Number(arg ?? 512));
    else if (scenario === 'drain') result = await drain(session, Number(arg ?? 200_000));
    else if (scenario === 'echo') result = await echo(session, Number(arg ?? 20_000));
    else throw new TypeError(`scenario must be tcp, drain or echo, got ${JSON.stringify(scenario)}`);
    console.log(JSON.stringify({ ...result, pump: pump ?? 'defaults' }));
  } finally {
    await session.close();
  }
}

if (process.argv[2] === '--tcp-sender') {
  const socket = net.connect(Number(process.argv[3]), '127.0.0.1');
  socket.on('error', () => process.exit(0)); // the bridge may reset once it has everything
  const bytes = Number(process.argv[4]);
  const chunk = Buffer.alloc(256 * 1024, 0x5a);
  let sent = 0;
  const more = (): void => {
    while (sent < bytes) {
      const n = Math.min(chunk.length, bytes - sent);
      sent += n;
      if (!socket.write(n === chunk.length ? chunk : chunk.subarray(0, n))) return;
    }
    // Everything is with the kernel once 'finish' fires; exiting then still sends it all.
    socket.end(() => process.exit(0));
  };
  socket.on('connect', more).on('drain', more);
} else {
  main().catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
}

// SPDX-License-Identifier: MIT
//
// Soak: a slow consumer receives 1 GiB over TCP from a Node peer (a child process) through
// WskReceiveEvent events and one session-wide `for await`, with a 1 MiB event budget.
//
// What must hold:
// - every byte arrives, in order: SHA-256 of the deterministic stream on both sides;
// - nothing is dropped: the driver paused receive indications instead (flowPaused /
//   flowResumed events and the stats agree), no datagramsDropped, sequence numbers never skip;
// - memory is bounded by the budget, not by the transfer: peak RSS over a post-warm-up
//   baseline stays under a bound computed below from the budget, the pump's reads and the
//   iterator's highWaterMark, plus a fixed allowance for V8 and the allocator.
//
// The consumer runs in a child process so that the peak RSS measured is its own; the figures
// are printed (and are quoted in docs/performance.md).

import assert from 'node:assert/strict';
import { fork, type ChildProcess } from 'node:child_process';
import * as path from 'node:path';
import type { ConnectionReport, FinalReport, StartCommand } from './fixtures/slow-consumer.js';
import type { SendCommand, SendResult } from './fixtures/stream-sender.js';

const GiB = 1 << 30;
const MiB = 1 << 20;
const TOTAL = Number(process.env.WSKB_SOAK_BYTES ?? GiB);
const WARMUP = 32 * MiB;
const BUDGET = 1 * MiB;
const HIGH_WATER_MARK = 16; // events; receive records carry at most 64 KiB each
const fixtures = path.join(__dirname, 'fixtures');

/** Messages from a child, as an ordered queue with a timeout per wait. */
class Inbox {
  private readonly queue: unknown[] = [];
  private waiter: (() => void) | undefined;
  private exited: string | undefined;
  constructor(child: ChildProcess, name: string) {
    child.on('message', (m) => {
      this.queue.push(m);
      this.waiter?.();
    });
    child.on('exit', (code, signal) => {
      this.exited = `${name} exited (code ${code}, signal ${signal})`;
      this.waiter?.();
    });
  }
  async next<T>(kind: string, ms: number): Promise<T> {
    const deadline = Date.now() + ms;
    for (;;) {
      const m = this.queue.shift() as { kind?: string; message?: string } | undefined;
      if (m) {
        if (m.kind === 'error') throw new Error(`child failed: ${m.message}`);
        if (m.kind !== kind) throw new Error(`expected a '${kind}' message, got ${JSON.stringify(m).slice(0, 300)}`);
        return m as T;
      }
      if (this.exited) throw new Error(`${this.exited} while waiting for '${kind}'`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out after ${ms} ms waiting for '${kind}'`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiter = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.waiter = undefined;
    }
  }
}

function send(command: SendCommand): { child: ChildProcess; result: Promise<SendResult> } {
  const child = fork(path.join(fixtures, 'stream-sender.js'), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const result = new Promise<SendResult>((resolve, reject) => {
    child.once('message', (m) => resolve(m as SendResult));
    child.once('exit', (code) => reject(new Error(`sender exited with ${code} before reporting`)));
  });
  child.send(command);
  return { child, result };
}

const mib = (bytes: number): string => `${(bytes / MiB).toFixed(1)} MiB`;

describe('soak: slow consumer, 1 GiB over TCP', function () {
  this.timeout(240_000);
  const children: ChildProcess[] = [];

  after(() => {
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });

  it('receives every byte in order, drops nothing, pauses the kernel, and stays within a memory bound', async () => {
    const consumer = fork(path.join(fixtures, 'slow-consumer.js'), [], {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      execArgv: ['--expose-gc'],
      env: { ...process.env, WSKB_BACKEND: 'sim' },
    });
    children.push(consumer);
    const inbox = new Inbox(consumer, 'the consumer');
    const start: StartCommand = { kind: 'start', budget: BUDGET, highWaterMark: HIGH_WATER_MARK, stallEveryBytes: 64 * MiB, stallMs: 100, checkpointBytes: TOTAL / 4,
      ...(process.env.WSKB_SOAK_GC_EVERY ? { gcEveryBytes: Number(process.env.WSKB_SOAK_GC_EVERY) } : {}),
      ...(process.env.WSKB_SOAK_READ_BYTES ? { pump: { readBytes: Number(process.env.WSKB_SOAK_READ_BYTES) } } : {}) };
    consumer.send(start);
    const { port } = await inbox.next<{ port: number }>('listening', 20_000);

    // Warm-up connection: every path has run once before the baseline is taken.
    const warm = send({ port, bytes: WARMUP, seed: 'warm-up' });
    children.push(warm.child);
    const warmSent = await warm.result;
    const warmGot = await inbox.next<ConnectionReport>('connection', 60_000);
    assert.equal(warmSent.error, undefined, `warm-up sender: ${warmSent.error}`);
    assert.equal(warmGot.bytes, WARMUP);
    assert.equal(warmGot.sha256, warmSent.sha256);
    await inbox.next('ready', 5000);

    const started = Date.now();
    const main = send({ port, bytes: TOTAL, seed: 'main' });
    children.push(main.child);
    const got = await inbox.next<ConnectionReport>('connection', 220_000);
    const sent = await main.result;
    const seconds = (Date.now() - started) / 1000;
    consumer.send({ kind: 'finish' });
    const report = await inbox.next<FinalReport & { ksimAfterClose: Record<string, number> }>('report', 20_000);

    // The bound. What may legitimately be resident beyond the baseline while data flows:
    //   the driver's event ring: budget + the 64 KiB control reserve (on sim, in-process);
    //   READ_EVENTS output buffers: 4 pending x 256 KiB, plus as many completed batches still
    //     referenced by buffered events (an event's data is a view into its batch);
    //   the iterator's buffer: it can overshoot highWaterMark by what the reads in flight
    //     deliver after it was crossed, i.e. another 4 x 256 KiB;
    //   ksim's provider: one receive buffer per socket (<= 1 MiB, WSKB_MAX_IO_BYTES);
    // that is ~5 MiB ("structural"). On top of it, garbage: every READ_EVENTS completion is a
    // new 256 KiB native Buffer, freed only when V8 collects it, and V8 lets such external
    // memory grow by its soft limit (64 MiB) before it forces a GC for it; glibc then keeps
    // the freed chunks in per-thread arenas (the batches are allocated on ksim's threads) and
    // reuses them, so RSS carries up to about that much again (48-80 MiB of RSS measured
    // still held after a full GC). Measured peaks on this 2-core machine under load: 77-140
    // MiB of growth (Node's own net module, same pattern: 16-33 MiB); with a forced GC every
    // 4 MiB (WSKB_SOAK_GC_EVERY=4194304) 25 MiB; with MALLOC_MMAP_THRESHOLD_=131072 RSS falls
    // back to +6 MiB after a GC (details in docs/performance.md). So the bound is
    // structural + 64 MiB (V8's trigger) + 96 MiB (arena retention, young generation, JIT).
    // That is not small, and it is what this code does today. A generous peak bound alone
    // would miss a slow leak, hence two sharper checks. First, the peak at the end of the
    // gigabyte may not exceed the peak after its first quarter by more than 64 MiB: the peaks
    // themselves scatter by about that much (they depend on when V8 collects, and its trigger
    // is 64 MiB), so this catches growth proportional to the transfer from ~8% of it (a
    // 32 MiB margin failed once in ten runs with 32.2 MiB and no leak). Second, exact: after the
    // gigabyte and a full GC, live memory (V8 heap + external memory) and ksim's pool are back
    // at the baseline. A native leak outside V8 and the pool smaller than ~8% of the transfer
    // is not caught here; the C tests' leak checks and ASan runs are the tools for that.
    const structural = BUDGET + 64 * 1024 + 3 * 4 * 256 * 1024 + 1 * MiB;
    const allowance = 64 * MiB + 96 * MiB;
    const bound = structural + allowance;
    const retainedBound = 4 * MiB;
    const retained = report.afterGc.heapUsed + report.afterGc.external - (report.baseline.heapUsed + report.baseline.external);
    const retainedRss = report.afterGc.rss - report.baseline.rss;
    const lateGrowth = report.peakRssSampled - report.peakRssAtCheckpoint;
    const growthSampled = report.peakRssSampled - report.baseline.rss;
    const growthMax = report.maxRss - report.baseline.rss;

    const figures = {
      transfer: mib(TOTAL),
      seconds: seconds.toFixed(1),
      throughput: `${(TOTAL / MiB / seconds).toFixed(0)} MiB/s (with ${Math.floor(TOTAL / (64 * MiB))} stalls of 100 ms)`,
      budget: mib(report.budget),
      baselineRss: mib(report.baseline.rss),
      peakRssSampled: `${mib(report.peakRssSampled)} (${report.samples} samples)`,
      peakRssKernel: mib(report.maxRss),
      growthOverBaseline: `${mib(Math.max(growthSampled, growthMax))} (bound ${mib(bound)})`,
      peakAfterFirstQuarter: `${mib(report.peakRssAtCheckpoint)}; the last three quarters added ${mib(lateGrowth)} (bound 64 MiB)`,
      retainedAfterGc: `heap+external ${mib(retained)} (bound ${mib(retainedBound)}), RSS ${mib(retainedRss)} (glibc keeps freed chunks)`,
      ksimPool: `baseline ${report.poolAtBaseline.allocations} allocations / ${report.poolAtBaseline.bytes} B, after ${report.poolAfter.allocations} / ${report.poolAfter.bytes} B`,
      atPeak: `heap ${mib(report.peakSample.heapUsed)}, external ${mib(report.peakSample.external)}, arrayBuffers ${mib(report.peakSample.arrayBuffers)}`,
      events: report.events,
      receiveEvents: got.receiveEvents,
      largestReceiveEvent: got.largestEvent,
      flowPaused: report.flowPaused,
      flowResumed: report.flowResumed,
      stats: report.stats,
      pump: report.pumpCounters,
    };
    console.log(`      ${JSON.stringify(figures, null, 2).replace(/\n/g, '\n      ')}`);

    assert.equal(report.verifier.count, 0, `ksim verifier in the consumer: ${report.verifier.message}`);

    // Every byte, in order.
    assert.equal(sent.error, undefined, `sender: ${sent.error}`);
    assert.equal(sent.sent, TOTAL);
    assert.equal(got.bytes, TOTAL, `received ${got.bytes} of ${TOTAL} bytes`);
    assert.equal(got.sha256, sent.sha256, 'SHA-256 of what arrived differs from what was sent');

    // Nothing dropped, nothing skipped.
    assert.deepEqual(report.sequenceErrors, [], 'event sequence numbers skipped');
    assert.equal(report.firstSequence, '1', 'the session iterator saw the session from its first event');
    assert.equal(BigInt(report.lastSequence), BigInt(report.events), 'one event per sequence number');
    assert.equal(report.stats.datagramsDropped, '0');
    assert.equal(report.datagramsDroppedEvents, 0);
    assert.equal(BigInt(report.stats.eventsQueued as string), BigInt(report.stats.eventsDelivered as string), 'every queued event was delivered');

    // The kernel was slowed instead: pauses happened, each one was resumed, and the events say so.
    assert.ok(report.flowPaused > 0, 'the slow consumer never made the driver pause receive indications');
    assert.equal(report.flowPaused, Number(report.stats.receivePauses), 'one flowPaused event per pause counted by the driver');
    assert.equal(report.flowResumed, Number(report.stats.receiveResumes), 'one flowResumed event per resume counted by the driver');
    assert.equal(report.flowResumed, report.flowPaused, 'every pause was resumed');
    assert.deepEqual(report.flowResumedStatuses, ['STATUS_SUCCESS'], 'every re-arm succeeded');
    assert.ok(
      BigInt(report.stats.eventBytesHighWater as string) <= BigInt(report.budget + 64 * 1024),
      `the driver held ${report.stats.eventBytesHighWater} bytes of events, beyond budget + control reserve`,
    );

    // Memory bounded by the budget, not by the gigabyte.
    assert.ok(growthSampled <= bound, `sampled RSS grew by ${mib(growthSampled)} over the baseline, bound ${mib(bound)}`);
    assert.ok(growthMax <= bound, `peak RSS (getrusage) grew by ${mib(growthMax)} over the baseline, bound ${mib(bound)}`);

    assert.ok(report.peakRssAtCheckpoint > 0, 'the first-quarter checkpoint was recorded');
    assert.ok(lateGrowth <= 64 * MiB, `the peak RSS grew by ${mib(lateGrowth)} over the last three quarters: growth with the transfer`);
    assert.ok(retained <= retainedBound, `after the transfer and a full GC, V8 heap + external memory stayed ${mib(retained)} over the baseline, bound ${mib(retainedBound)}`);
    assert.deepEqual(report.poolAfter, report.poolAtBaseline, 'ksim pool after the gigabyte (connection closed) differs from the baseline');

    // And the driver unloaded clean when the session closed.
    assert.equal(report.ksimAfterClose.poolAllocations, 0, 'pool allocations left after the last session closed');
    assert.equal(report.ksimAfterClose.hostSockets, 0, 'host sockets left after the last session closed');
  });
});

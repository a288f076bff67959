// SPDX-License-Identifier: MIT
//
// Low-level tests of the N-API binding (native/binding.cc) on the sim backend: delivery of
// completions (batched, after close, on cancel), keep-alive rules, worker threads, argument
// errors, and protocolConstants() against driver/protocol.h itself. lib/ is not involved.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

type IoctlCallback = (status: number, information: number, output: Buffer) => void;
interface NativeDevice {
  readonly backend: string;
  readonly pending: number;
  ioctl(code: number, input: Uint8Array | null, outputLength: number, callback: IoctlCallback, weak?: boolean): void;
  cancelAll(): void;
  close(): void;
  ref(): void;
  unref(): void;
}
interface Native {
  Device: { open(backend: string): NativeDevice; new (...args: unknown[]): NativeDevice };
  protocolConstants(): Record<string, number>;
  ntstatusNames(): Array<[string, number]>;
  ksim: {
    load(): number;
    unload(): void;
    counters(): Record<string, number>;
    poolByTag(tag: string): number;
    failAllocationAfter(n: number): void;
    verifierLastFailure(): { count: number; message: string };
    setAbortOnFailure(on: boolean): void;
  };
}

const root = path.join(__dirname, '..', '..');
const fixtures = path.join(root, 'test', 'fixtures');
const requireHere = createRequire(__filename);
const native = (requireHere('bindings') as (opts: object) => Native)({ bindings: 'wskbridge', module_root: root });
const C = native.protocolConstants();

const STATUS_SUCCESS = 0;
const STATUS_CANCELLED = 0xc0000120 | 0;
const STATUS_INVALID_DEVICE_STATE = 0xc0000184 | 0;

interface Done {
  status: number;
  information: number;
  output: Buffer;
}

function ioctl(device: NativeDevice, code: number, input: Uint8Array | null, outputLength: number, weak = false) {
  return new Promise<Done>((resolve) =>
    device.ioctl(code, input, outputLength, (status, information, output) => resolve({ status, information, output }), weak),
  );
}

function helloInput(): Buffer {
  const input = Buffer.alloc(C['sizeof.WSKB_HELLO_IN']);
  input.writeUInt32LE(C.WSKB_MAGIC, C['offsetof.WSKB_HELLO_IN.Magic']);
  input.writeUInt32LE(C.WSKB_PROTOCOL_VERSION, C['offsetof.WSKB_HELLO_IN.ClientVersion']);
  return input;
}

async function openSession(): Promise<NativeDevice> {
  const device = native.Device.open('sim');
  const done = await ioctl(device, C.WSKB_IOCTL_HELLO, helloInput(), C['sizeof.WSKB_HELLO_OUT']);
  assert.equal(done.status, STATUS_SUCCESS, `HELLO: 0x${(done.status >>> 0).toString(16)}`);
  assert.equal(done.output.readUInt32LE(C['offsetof.WSKB_HELLO_OUT.Magic']), C.WSKB_MAGIC);
  return device;
}

interface ChildLine {
  what: string;
  t: number;
  [key: string]: unknown;
}

function runFixture(file: string, args: string[], nodeOptions: string[] = [], timeout = 15000) {
  const started = Date.now();
  const result = spawnSync(process.execPath, [...nodeOptions, path.join(fixtures, file), ...args], {
    encoding: 'utf8',
    timeout,
  });
  const elapsed = Date.now() - started;
  const detail = `exit ${result.status} signal ${result.signal} after ${elapsed} ms\nstdout:\n${result.stdout}\nstderr:\n${result.stderr}`;
  assert.equal(result.error, undefined, `${file} ${args.join(' ')}: ${result.error}\n${detail}`);
  assert.equal(result.status, 0, `${file} ${args.join(' ')}: ${detail}`);
  return { stdout: result.stdout, stderr: result.stderr, elapsed, detail };
}

function lines(stdout: string): ChildLine[] {
  return stdout.trim().split('\n').filter(Boolean).map((line) => JSON.parse(line) as ChildLine);
}

describe('addon: protocolConstants() against driver/protocol.h', () => {
  const header = readFileSync(path.join(root, 'driver', 'protocol.h'), 'utf8');

  it('has every size that protocol.h static_asserts', () => {
    const asserted = [...header.matchAll(/WSKB_STATIC_ASSERT\(sizeof\((\w+)\) == (\d+)/g)];
    assert.ok(asserted.length >= 20, `only ${asserted.length} static_asserts found`);
    for (const [, type, size] of asserted) {
      assert.equal(C[`sizeof.${type}`], Number(size), `sizeof.${type}`);
    }
  });

  it('has every numeric #define of protocol.h, with the IOCTL codes CTL_CODE gives', () => {
    const defines = [...header.matchAll(/^#define (WSKB_\w+)[ \t]+(?!L")(\S.*)$/gm)]
      .map((m) => m[1])
      .filter((name) => !/^WSKB_(STATIC_ASSERT|IOCTL|IOCTL_OUT_DIRECT)$/.test(name) && !name.endsWith('_H'));
    assert.ok(defines.length >= 40, `only ${defines.length} defines found`);
    for (const name of defines) {
      assert.equal(typeof C[name], 'number', `protocolConstants() lacks ${name}`);
    }
    const ioctls = [...header.matchAll(/^#define (WSKB_IOCTL_\w+) WSKB_IOCTL(_OUT_DIRECT)?\((0x[0-9A-Fa-f]+)\)/gm)];
    assert.equal(ioctls.length, 19); // 0x800-0x811, and SOCKET_CONNECT (0x818)
    for (const [, name, direct, fn] of ioctls) {
      // CTL_CODE(0x9A57, fn, method, FILE_READ_DATA | FILE_WRITE_DATA), computed by hand. Every
      // IOCTL is METHOD_BUFFERED (0) except READ_EVENTS, METHOD_OUT_DIRECT (2) since protocol
      // version 2: the driver writes records straight into the caller's reusable buffer.
      const method = name === 'WSKB_IOCTL_READ_EVENTS' ? 2 : 0;
      assert.equal(direct !== undefined, method === 2, `${name}: the macro names its method`);
      assert.equal(C[name], ((0x9a57 << 16) | (3 << 14) | (Number(fn) << 2) | method) >>> 0, name);
    }
    assert.equal(C.WSKB_MAGIC, 0x424b5357);
    assert.equal(C.WSKB_EVENT_SOCKET_CLOSED, 36);
  });

  it('has an offset and a width for every field of every struct, laid out without holes', () => {
    const structs = [...header.matchAll(/typedef struct _(\w+) \{([^}]*)\} (\w+);/g)];
    assert.ok(structs.length >= 20, `only ${structs.length} structs found`);
    for (const [, tag, body, type] of structs) {
      assert.equal(tag, type);
      const fields = [...body.matchAll(/^\s*\w+\s+(\w+)(?:\[\d+\])?;/gm)].map((m) => m[1]);
      assert.ok(fields.length > 0, `${type}: no fields parsed`);
      let expected = 0;
      for (const field of fields) {
        const offset = C[`offsetof.${type}.${field}`];
        const width = C[`sizeof.${type}.${field}`];
        assert.equal(typeof offset, 'number', `protocolConstants() lacks offsetof.${type}.${field}`);
        // protocol.h pads by hand: each field starts where the previous one ended.
        assert.equal(offset, expected, `offsetof.${type}.${field}`);
        expected = offset + width;
      }
      assert.equal(expected, C[`sizeof.${type}`], `${type}: fields do not add up to its size`);
    }
    assert.equal(C['offsetof.WSKB_EVENT_HEADER.Sequence'], 8);
    assert.equal(C['sizeof.WSKB_SOCKADDR.Address'], 16);
  });
});

describe('addon: ntstatusNames()', () => {
  it('lists ksim NTSTATUS names with signed values', () => {
    const names = native.ntstatusNames();
    const table = new Map(names);
    assert.equal(table.size, names.length, 'duplicate names');
    assert.equal(table.get('STATUS_SUCCESS'), 0);
    assert.equal(table.get('STATUS_CANCELLED'), STATUS_CANCELLED);
    assert.equal(table.get('STATUS_PENDING'), 0x103);
    for (const [name, value] of names) {
      assert.match(name, /^STATUS_[A-Z0-9_]+$/);
      assert.ok(Number.isInteger(value) && value >= -0x80000000 && value <= 0x7fffffff, `${name} = ${value}`);
    }
  });
});

describe('addon: Device', () => {
  it('opens only through Device.open with a known backend', () => {
    assert.throws(() => native.Device.open('bogus'), { name: 'TypeError', message: /'sim' or 'kernel'/ });
    assert.throws(() => (native.Device.open as (b?: unknown) => NativeDevice)(7), { name: 'TypeError' });
    assert.throws(() => new native.Device(), { name: 'TypeError', message: /Device\.open/ });
    if (process.platform !== 'win32') {
      assert.throws(() => native.Device.open('kernel'), { name: 'Error', message: /kernel backend needs Windows/ });
    }
  });

  it('delivers a HELLO reply as a Buffer of the bytes copied back', async () => {
    const device = native.Device.open('sim');
    try {
      assert.equal(device.backend, 'sim');
      assert.equal(device.pending, 0);
      const reply = ioctl(device, C.WSKB_IOCTL_HELLO, helloInput(), C['sizeof.WSKB_HELLO_OUT'] + 100);
      assert.equal(device.pending, 1, 'the callback must not run before ioctl() returns');
      const done = await reply;
      assert.equal(done.status, STATUS_SUCCESS);
      assert.equal(done.information, C['sizeof.WSKB_HELLO_OUT']);
      assert.ok(Buffer.isBuffer(done.output));
      assert.equal(done.output.length, C['sizeof.WSKB_HELLO_OUT']);
      assert.equal(done.output.readUInt32LE(C['offsetof.WSKB_HELLO_OUT.DriverVersion']), C.WSKB_PROTOCOL_VERSION);
      assert.equal(device.pending, 0);
    } finally {
      device.close();
    }
  });

  it('delivers a burst of completions in one batch', async () => {
    const device = await openSession();
    try {
      const count = 64;
      const order: string[] = [];
      const all = new Promise<void>((resolve) => {
        let seen = 0;
        for (let i = 0; i < count; i++) {
          device.ioctl(C.WSKB_IOCTL_STATS, null, C['sizeof.WSKB_STATS_OUT'], (status, information, output) => {
            assert.equal(status, STATUS_SUCCESS);
            assert.equal(information, C['sizeof.WSKB_STATS_OUT']);
            assert.equal(output.length, C['sizeof.WSKB_STATS_OUT']);
            order.push(`callback ${i}`);
            // Runs when the current callback scope closes: after the whole batch if batched.
            queueMicrotask(() => order.push(`microtask ${i}`));
            if (++seen === count) setImmediate(resolve);
          });
        }
        assert.equal(device.pending, count);
      });
      await all;
      const expected = [
        ...Array.from({ length: count }, (_, i) => `callback ${i}`),
        ...Array.from({ length: count }, (_, i) => `microtask ${i}`),
      ];
      assert.deepEqual(order, expected);
      assert.equal(device.pending, 0);
    } finally {
      device.close();
    }
  });

  it('completes a pending read with STATUS_CANCELLED on cancelAll()', async () => {
    const device = await openSession();
    try {
      const read = ioctl(device, C.WSKB_IOCTL_READ_EVENTS, null, C.WSKB_READ_EVENTS_MIN_OUTPUT, true);
      await new Promise((resolve) => setTimeout(resolve, 20));
      assert.equal(device.pending, 1, 'an idle session must keep the read pending');
      device.cancelAll();
      const done = await read;
      assert.equal(done.status, STATUS_CANCELLED);
      assert.equal(done.information, 0);
      assert.equal(done.output.length, 0);
      assert.equal(device.pending, 0);
    } finally {
      device.close();
    }
  });

  it('delivers the callbacks of pending requests after close(), which is idempotent', async () => {
    const device = await openSession();
    const weakRead = ioctl(device, C.WSKB_IOCTL_READ_EVENTS, null, C.WSKB_READ_EVENTS_MIN_OUTPUT, true);
    const strongRead = ioctl(device, C.WSKB_IOCTL_READ_EVENTS, null, C.WSKB_READ_EVENTS_MIN_OUTPUT, false);
    device.close();
    device.close();
    assert.equal(device.pending, 2, 'close() must not call back synchronously');
    const [weak, strong] = await Promise.all([weakRead, strongRead]);
    assert.equal(weak.status, STATUS_CANCELLED);
    assert.equal(strong.status, STATUS_CANCELLED);
    assert.equal(device.pending, 0);
    device.close();
  });

  it('lets a callback issue new requests and close the device while its batch is delivered', async () => {
    const device = await openSession();
    const order: string[] = [];
    await new Promise<void>((resolve) => {
      device.ioctl(C.WSKB_IOCTL_STATS, null, C['sizeof.WSKB_STATS_OUT'], (status) => {
        order.push(`first ${status}`);
        device.ioctl(C.WSKB_IOCTL_STATS, null, C['sizeof.WSKB_STATS_OUT'], (second) => {
          order.push(`second ${second}`);
          device.ioctl(C.WSKB_IOCTL_READ_EVENTS, null, C.WSKB_READ_EVENTS_MIN_OUTPUT, (third) => {
            order.push(`read ${third}`);
            resolve();
          }, true);
          device.close();
          order.push(`closed ${device.pending}`);
        });
      });
      device.ioctl(C.WSKB_IOCTL_STATS, null, C['sizeof.WSKB_STATS_OUT'], (status) => order.push(`sibling ${status}`));
    });
    assert.deepEqual(order, ['first 0', 'sibling 0', 'second 0', 'closed 1', `read ${STATUS_CANCELLED}`]);
    assert.equal(device.pending, 0);
  });

  it('throws "device is closed" for ioctl() and cancelAll() after close()', () => {
    const device = native.Device.open('sim');
    device.close();
    let called = false;
    assert.throws(() => device.ioctl(C.WSKB_IOCTL_HELLO, helloInput(), 24, () => (called = true)), {
      message: 'device is closed',
    });
    assert.throws(() => device.cancelAll(), { message: 'device is closed' });
    assert.equal(called, false);
    assert.equal(device.pending, 0);
    device.ref();
    device.unref();
  });

  it('rejects malformed ioctl() arguments with TypeError or RangeError', () => {
    const device = native.Device.open('sim');
    try {
      const noop = () => {};
      const call = device.ioctl.bind(device) as (...args: unknown[]) => void;
      assert.throws(() => call('1', null, 0, noop), { name: 'TypeError', message: /code must be a number/ });
      assert.throws(() => call(-1, null, 0, noop), { name: 'RangeError', message: /code/ });
      assert.throws(() => call(2 ** 32, null, 0, noop), { name: 'RangeError', message: /code/ });
      assert.throws(() => call(1.5, null, 0, noop), { name: 'RangeError', message: /code/ });
      assert.throws(() => call(1, 'abc', 0, noop), { name: 'TypeError', message: /Uint8Array/ });
      assert.throws(() => call(1, new Uint16Array(2), 0, noop), { name: 'TypeError', message: /Uint8Array/ });
      assert.throws(() => call(1, null, -5, noop), { name: 'RangeError', message: /outputLength/ });
      assert.throws(() => call(1, null, NaN, noop), { name: 'RangeError', message: /outputLength/ });
      assert.throws(() => call(1, null, 0, 'nope'), { name: 'TypeError', message: /callback/ });
      assert.throws(() => call(1, null, 0, noop, 'yes'), { name: 'TypeError', message: /weak/ });
      assert.throws(() => call(1, null), { name: 'TypeError', message: /too few/ });
      assert.equal(device.pending, 0, 'a rejected call must not leave a request behind');
    } finally {
      device.close();
    }
  });

  it('passes the driver’s own status through (READ_EVENTS before HELLO)', async () => {
    const device = native.Device.open('sim');
    try {
      const done = await ioctl(device, C.WSKB_IOCTL_READ_EVENTS, new Uint8Array(0), C.WSKB_READ_EVENTS_MIN_OUTPUT);
      assert.equal(done.status, STATUS_INVALID_DEVICE_STATE);
      assert.equal(done.output.length, 0);
    } finally {
      device.close();
    }
  });
});

describe('addon: keep-alive (child processes)', function () {
  this.timeout(30000);

  it('exits at once when idle with a session open and a weak read pending', () => {
    const run = runFixture('addon-idle.js', ['weak']);
    const events = lines(run.stdout);
    const ready = events.find((e) => e.what === 'ready');
    const exit = events.find((e) => e.what === 'exit');
    assert.ok(ready && exit, run.detail);
    assert.equal(ready.pending, 1);
    // Kept alive, it would stay until spawnSync's timeout; the bound only absorbs a loaded CI.
    assert.ok(exit.t - ready.t < 2000, `lingered ${exit.t - ready.t} ms after going idle\n${run.detail}`);
    assert.ok(!events.some((e) => e.what === 'read-callback'), 'a callback ran after exit began');
    assert.ok(run.elapsed < 10000, `took ${run.elapsed} ms in all (teardown hung?)\n${run.detail}`);
  });

  it('stays alive while ref() outnumbers unref()', () => {
    const run = runFixture('addon-idle.js', ['ref']);
    const events = lines(run.stdout);
    const unref = events.find((e) => e.what === 'unref');
    const exit = events.find((e) => e.what === 'exit');
    assert.ok(unref, `ref() did not keep the process alive\n${run.detail}`);
    assert.ok(exit && exit.t >= 400, run.detail);
  });

  it('stays alive while a strong request is pending, and delivers it when cancelled', () => {
    const run = runFixture('addon-idle.js', ['strong']);
    const events = lines(run.stdout);
    const callback = events.find((e) => e.what === 'read-callback');
    assert.ok(events.some((e) => e.what === 'cancel'), `a strong read did not keep the process alive\n${run.detail}`);
    assert.ok(callback, run.detail);
    assert.equal(callback.status, STATUS_CANCELLED);
  });

  it('delivers a weak read cancelled by close() before exiting', () => {
    const run = runFixture('addon-idle.js', ['closing']);
    const events = lines(run.stdout);
    const closed = events.find((e) => e.what === 'closed');
    const callback = events.find((e) => e.what === 'read-callback');
    assert.ok(closed && callback, run.detail);
    assert.equal(closed.pending, 1);
    assert.equal(callback.status, STATUS_CANCELLED);
    assert.equal(callback.pending, 0);
  });

  it('opens a session in each of several workers, which all exit cleanly and unload the driver', () => {
    const run = runFixture('addon-workers.js', []);
    const result = JSON.parse(run.stdout.trim().split('\n').pop() as string) as {
      exits: Array<{ kind: string; code: number }>;
      messages: Array<{ kind: string; error?: string; status?: number; information?: number }>;
      counters: Record<string, number>;
      lastFailure: { count: number; message: string };
    };
    assert.deepEqual(
      result.exits.map((e) => `${e.kind}:${e.code}`).sort(),
      ['natural:0', 'natural:0', 'natural:0', 'natural:0', 'terminated:1'],
      run.detail,
    );
    assert.deepEqual(result.messages.filter((m) => m.error), [], run.detail);
    const natural = result.messages.filter((m) => m.kind === 'natural');
    assert.equal(natural.length, 4, run.detail);
    for (const m of natural) {
      assert.equal(m.status, STATUS_SUCCESS);
      assert.equal(m.information, C['sizeof.WSKB_STATS_OUT']);
    }
    assert.equal(result.counters.verifierFailures, 0, `${result.lastFailure.message}\n${run.detail}`);
    assert.equal(result.counters.poolAllocations, 0, run.detail);
    assert.equal(result.counters.irps, 0, run.detail);
    assert.equal(result.counters.wskSockets, 0, run.detail);
  });
});

describe('addon: garbage collection (child process)', function () {
  this.timeout(30000);

  it('closes devices dropped without close() once nothing is pending', () => {
    const run = runFixture('addon-gc.js', [], ['--expose-gc']);
    const result = JSON.parse(run.stdout.trim()) as { before: number; after: number; counters: Record<string, number> };
    assert.ok(result.before >= 3, `expected 3 sessions' event queues before GC\n${run.detail}`);
    assert.equal(result.after, 0, `sessions left open after GC\n${run.detail}`);
    assert.equal(result.counters.verifierFailures, 0, run.detail);
  });
});

describe('addon: ksim controls', () => {
  it('balances load() and unload() per environment', () => {
    assert.throws(() => native.ksim.unload(), /without a successful ksim\.load\(\)/);
    assert.equal(native.ksim.load(), STATUS_SUCCESS);
    native.ksim.unload();
    assert.throws(() => native.ksim.unload(), /without a successful ksim\.load\(\)/);
  });

  it('counts pool by the tag as the driver writes it', async () => {
    const tagDefine = readFileSync(path.join(root, 'driver', 'driver.h'), 'utf8').match(
      /#define WSKB_TAG_EVENTS '(.{4})'/,
    );
    assert.ok(tagDefine, 'driver/driver.h: WSKB_TAG_EVENTS not found');
    const tag = tagDefine[1];
    const reversed = [...tag].reverse().join('');
    const before = native.ksim.poolByTag(tag);
    const device = await openSession();
    try {
      // HELLO allocates the session's event queue under this tag.
      assert.ok(native.ksim.poolByTag(tag) > before, `no '${tag}' block after HELLO`);
      assert.equal(native.ksim.poolByTag(reversed), 0, `'${reversed}' must not match '${tag}'`);
    } finally {
      device.close();
    }
    assert.equal(native.ksim.poolByTag(tag), before);
    assert.throws(() => native.ksim.poolByTag('abc'), { name: 'RangeError' });
    assert.throws(() => native.ksim.poolByTag('abcde'), { name: 'RangeError' });
    assert.throws(() => native.ksim.poolByTag('ab\u00e9d'), { name: 'RangeError' });
    assert.throws(() => (native.ksim.poolByTag as (t: unknown) => number)(1234), { name: 'TypeError' });
  });

  it('reports counters as numbers and validates its knobs', () => {
    const counters = native.ksim.counters();
    for (const name of ['poolAllocations', 'poolBytes', 'poolAllocationsTotal', 'irps', 'mdls', 'hostSockets',
      'wskSockets', 'verifierFailures']) {
      assert.equal(typeof counters[name], 'number', name);
    }
    const failure = native.ksim.verifierLastFailure();
    assert.equal(typeof failure.count, 'number');
    assert.equal(typeof failure.message, 'string');
    assert.throws(() => native.ksim.failAllocationAfter(-1), { name: 'RangeError' });
    assert.throws(() => native.ksim.failAllocationAfter(0.5), { name: 'RangeError' });
    assert.throws(() => (native.ksim.setAbortOnFailure as (on: unknown) => void)(1), { name: 'TypeError' });
    native.ksim.failAllocationAfter(0);
  });
});

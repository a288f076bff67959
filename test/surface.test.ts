// SPDX-License-Identifier: MIT
//
// Issue 9, items 5-12: once/collect/events({ types }), iterators that end with their session,
// end() and close({ graceful }), addresses as Node spells them, coded errors, trace and
// inspect. On sim, with the public testing kit's Node peers (wsk-bridge/testing).

import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import * as path from 'node:path';
import { inspect } from 'node:util';
import { formatEvent, open, WskError, WskEvent, type WskBridgeEvent, type WskSession, type WskSocket } from '../lib/index.js';
import { assertNoLeaks, leakBaseline, tcpServer, udpPeer, expectEvents, type UdpPeer } from '../lib/testing/index.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A kernel datagram socket with ReceiveFrom events, and a Node UDP peer. */
async function datagramPair(session: WskSession): Promise<{ socket: WskSocket; peer: UdpPeer }> {
  const socket = await session.socket('datagram');
  await socket.bind({ address: '127.0.0.1', port: 0 }); // no family: inferred from the text
  await socket.enableEvents(WskEvent.ReceiveFrom);
  return { socket, peer: await udpPeer() };
}

describe('issue 9: primitives for tests (sim)', () => {
  let session: WskSession;
  const peers: { close(): Promise<void> }[] = [];
  beforeEach(async () => {
    session = await open({ backend: 'sim' });
  });
  afterEach(async () => {
    await session.close();
    for (const peer of peers.splice(0)) await peer.close();
  });

  describe('once() and collect()', () => {
    it('socket.once() resolves with the next event of the type; other types stay for events()', async () => {
      const { socket, peer } = await datagramPair(session);
      peers.push(peer);
      const local = (await socket.localAddress())!;
      await peer.send('one', local);
      const event = await socket.once('receiveFrom', { timeout: 5000 });
      assert.equal(event.type, 'receiveFrom');
      assert.equal(event.data.toString(), 'one');
      assert.equal(event.remoteAddress?.port, peer.port);
    });

    it('a filter takes only what it accepts; the events it refused stay, in order', async () => {
      const { socket, peer } = await datagramPair(session);
      peers.push(peer);
      const local = (await socket.localAddress())!;
      for (const text of ['a', 'b', 'c']) await peer.send(text, local);
      const b = await socket.once('receiveFrom', { timeout: 5000, filter: (e) => e.data.toString() === 'b' });
      assert.equal(b.data.toString(), 'b');
      const rest = await socket.collect(2, { timeout: 5000 });
      assert.deepEqual(rest.map((e) => (e.type === 'receiveFrom' ? e.data.toString() : e.type)), ['a', 'c']);
    });

    it('a filter that throws rejects its once() and leaves the pump and the event alone', async () => {
      const { socket, peer } = await datagramPair(session);
      peers.push(peer);
      const failing = socket.once('receiveFrom', {
        timeout: 5000,
        filter: () => {
          throw new Error('filter bug');
        },
      });
      await peer.send('survives', (await socket.localAddress())!);
      await assert.rejects(failing, { message: 'filter bug' });
      assert.equal((await socket.once('receiveFrom', { timeout: 5000 })).data.toString(), 'survives');
    });

    it('a timeout rejects with ETIMEDOUT and swallows no event: the next once() gets it', async () => {
      const { socket, peer } = await datagramPair(session);
      peers.push(peer);
      await assert.rejects(socket.once('receiveFrom', { timeout: 30 }), { name: 'TimeoutError', code: 'ETIMEDOUT', message: /0 of 1 event/ });
      await peer.send('late', (await socket.localAddress())!);
      const late = await socket.once('receiveFrom', { timeout: 5000 });
      assert.equal(late.data.toString(), 'late');
    });

    it('an abort rejects with AbortError (ABORT_ERR, the reason as cause) and swallows no event', async () => {
      const { socket, peer } = await datagramPair(session);
      peers.push(peer);
      const controller = new AbortController();
      const waiting = socket.once('receiveFrom', { signal: controller.signal });
      controller.abort(new Error('test over'));
      await assert.rejects(waiting, (error: Error & { code?: string; cause?: Error }) => {
        assert.equal(error.name, 'AbortError');
        assert.equal(error.code, 'ABORT_ERR');
        assert.equal(error.cause?.message, 'test over');
        return true;
      });
      await peer.send('after', (await socket.localAddress())!);
      assert.equal((await socket.once('receiveFrom', { timeout: 5000 })).data.toString(), 'after');
    });

    it('racing next() against a timer, then return(), swallows no event', async () => {
      const { socket, peer } = await datagramPair(session);
      peers.push(peer);
      const iterator = socket.events();
      const raced = await Promise.race([iterator.next(), sleep(30).then(() => 'timer' as const)]);
      assert.equal(raced, 'timer');
      await iterator.return!();
      await peer.send('kept', (await socket.localAddress())!);
      const event = await socket.once('receiveFrom', { timeout: 5000 });
      assert.equal(event.data.toString(), 'kept');
    });

    it('collect() returns a sequence in order; on timeout the error holds what came', async () => {
      const { socket, peer } = await datagramPair(session);
      peers.push(peer);
      const local = (await socket.localAddress())!;
      for (const text of ['1', '2', '3']) await peer.send(text, local);
      const three = await socket.collect(3, { timeout: 5000, types: ['receiveFrom'] });
      assert.deepEqual(three.map((e) => (e as { data: Buffer }).data.toString()), ['1', '2', '3']);
      await peer.send('4', local);
      await assert.rejects(socket.collect(2, { timeout: 200 }), (error: Error & { code?: string; received?: WskBridgeEvent[] }) => {
        assert.equal(error.code, 'ETIMEDOUT');
        assert.equal(error.received?.length, 1);
        assert.equal((error.received![0] as { data: Buffer }).data.toString(), '4');
        return true;
      });
    });

    it('session.events({ types }) takes accepts only; the receive events stay for the socket', async () => {
      const listener = await session.socket('listen');
      await listener.bind({ address: '127.0.0.1', port: 0 });
      await listener.enableEvents(WskEvent.Accept | WskEvent.Receive);
      const local = (await listener.localAddress())!;
      const accepts = session.events({ types: ['accept'] });
      const { tcpClient } = await import('../lib/testing/index.js');
      const client = await tcpClient(local);
      client.write('hello');
      const first = await accepts.next();
      await accepts.return!();
      assert.equal(first.value?.type, 'accept');
      const accepted = (first.value as { socket: WskSocket }).socket;
      const receive = await accepted.once('receive', { timeout: 5000 });
      assert.equal(receive.data.toString(), 'hello');
      client.destroy();
    });

    it('session.once() and expectEvents() (wsk-bridge/testing) check an ordered sequence', async () => {
      const server = await tcpServer();
      peers.push(server);
      const socket = await session.connect(server.address); // AddressInfo, as server.address() gives it
      await socket.enableEvents(WskEvent.Receive | WskEvent.Disconnect);
      const peer = await server.accepted();
      peer.end('bye');
      const events = await expectEvents(socket, [{ type: 'receive', data: 'bye' }, { type: 'disconnect', abortive: false }]);
      assert.equal(events.length, 2);
      // A wrong expectation fails with the sequence that came.
      const other = await session.connect(server.address);
      await other.enableEvents(WskEvent.Receive | WskEvent.Disconnect);
      (await server.accepted()).end('x');
      await assert.rejects(expectEvents(other, [{ type: 'receive', data: 'y' }]), { name: 'AssertionError', message: /data "x", expected "y"/ });
    });

    it('once() validates its arguments with Node codes', async () => {
      const socket = await session.socket('datagram');
      assert.throws(() => socket.events({ typo: 1 } as never), { code: 'ERR_INVALID_ARG_VALUE' });
      assert.throws(() => socket.events({ types: ['recieve'] } as never), { code: 'ERR_INVALID_ARG_VALUE' });
      await assert.rejects(socket.once('nope' as never), { code: 'ERR_INVALID_ARG_VALUE' });
      await assert.rejects(socket.once('receiveFrom', { timeout: -1 }), { code: 'ERR_OUT_OF_RANGE' });
      await assert.rejects(socket.collect(0), { code: 'ERR_OUT_OF_RANGE' });
    });
  });

  describe('iterators end with their session', () => {
    it('a pending next(), once() and collect() end when the session closes (no hang)', async () => {
      const socket = await session.socket('datagram');
      await socket.bind({ address: '127.0.0.1', port: 0 });
      const iterator = session.events();
      const next = iterator.next();
      const settled = (promise: Promise<unknown>) => promise.then((value) => ({ value }), (error: unknown) => ({ error }));
      const waiting = settled(socket.once('receiveFrom'));
      const collecting = settled(session.collect(5));
      await sleep(10);
      await session.close();
      assert.deepEqual(await next, { value: undefined, done: true });
      assert.equal(((await waiting) as { error?: { code?: string } }).error?.code, 'ERR_WSKB_SESSION_CLOSED');
      assert.equal(((await collecting) as { error?: { code?: string } }).error?.code, 'ERR_WSKB_SESSION_CLOSED');
    });

    it('open({ signal }) closes the session when the signal aborts, ending its waits', async () => {
      const controller = new AbortController();
      const scoped = await open({ backend: 'sim', signal: controller.signal });
      const socket = await scoped.socket('datagram');
      await socket.bind({ address: '127.0.0.1', port: 0 });
      const waiting = socket.once('receiveFrom').then(
        () => 'resolved',
        (error: { code?: string }) => error.code,
      );
      controller.abort();
      assert.equal(await waiting, 'ERR_WSKB_SESSION_CLOSED');
      assert.ok(scoped.isClosed);
      await assert.rejects(open({ backend: 'sim', signal: AbortSignal.abort() }), { code: 'ABORT_ERR' });
      await assert.rejects(open({ backend: 'sim', signal: {} as never }), { code: 'ERR_INVALID_ARG_TYPE' });
    });

    it('use after close throws ERR_WSKB_SESSION_CLOSED', async () => {
      const socket = await session.socket('datagram');
      await session.close();
      await assert.rejects(session.socket('datagram'), { code: 'ERR_WSKB_SESSION_CLOSED', name: 'SessionClosedError' });
      await assert.rejects(socket.sendTo('x', { address: '127.0.0.1', port: 9 }), { code: 'ERR_WSKB_SESSION_CLOSED' });
      await assert.rejects(session.stats(), { code: 'ERR_WSKB_SESSION_CLOSED' });
      assert.throws(() => session.events(), { code: 'ERR_WSKB_SESSION_CLOSED' });
      await assert.rejects(session.once('accept'), { code: 'ERR_WSKB_SESSION_CLOSED' });
    });
  });

  describe('end() and close({ graceful })', () => {
    it('end() sends a FIN (the Node peer sees end, not a reset); close() resets', async () => {
      const server = await tcpServer();
      peers.push(server);
      const graceful = await session.connect(server.address);
      const gracefulPeer = await server.accepted();
      const ended = once(gracefulPeer, 'end');
      await graceful.end();
      await ended;
      assert.ok(graceful.isClosed);

      const abrupt = await session.connect(server.address);
      const abruptPeer = await server.accepted();
      // events.once() would reject on the reset's 'error': wait for 'close' alone.
      const reset = new Promise((resolve) => abruptPeer.once('close', resolve));
      await abrupt.close();
      await reset;
      assert.ok(server.errors.some((e) => (e as NodeJS.ErrnoException).code === 'ECONNRESET'), `errors: ${server.errors.map((e) => e.message).join(', ')}`);
    });

    it('session.close({ graceful: true }) ends open connections with a FIN', async () => {
      const server = await tcpServer();
      peers.push(server);
      await session.connect(server.address);
      const peer = await server.accepted();
      const ended = once(peer, 'end');
      await session.close({ graceful: true });
      await ended;
      assert.deepEqual(server.errors, []);
    });
  });

  describe('addresses', () => {
    it('families are inferred from the text and spelt as Node spells them', async () => {
      const v6 = await session.socket('datagram', { family: 6 });
      assert.equal(v6.family, 'ipv6');
      await v6.bind({ address: '::1', port: 0 });
      assert.equal((await v6.localAddress())?.family, 'ipv6');
      const v4 = await session.socket('datagram', { family: 'IPv4' });
      await v4.bind({ family: 4, address: '127.0.0.1', port: 0 } as never);
      const peer = await udpPeer();
      peers.push(peer);
      await v4.sendTo('to node', peer.socket.address()); // Node's AddressInfo as it is
      assert.equal((await peer.next()).data.toString(), 'to node');
    });

    it('a family that contradicts the address, or a host name, is refused with ERR_INVALID_ARG_VALUE', async () => {
      const socket = await session.socket('datagram');
      await assert.rejects(socket.bind({ family: 'ipv6', address: '127.0.0.1', port: 0 }), { code: 'ERR_INVALID_ARG_VALUE', message: /contradicts/ });
      await assert.rejects(socket.bind({ address: 'localhost', port: 0 }), { code: 'ERR_INVALID_ARG_VALUE' });
      await assert.rejects(session.socket('datagram', { family: 'inet' as never }), { code: 'ERR_INVALID_ARG_VALUE' });
    });

    it('connect before bind names the operation, socket, address, NTSTATUS, and says why', async () => {
      const socket = await session.socket('connection');
      const error = await socket.connect({ address: '127.0.0.1', port: 9 }).then(
        () => assert.fail('connected without a bind'),
        (e: unknown) => e as WskError,
      );
      assert.ok(error instanceof WskError);
      assert.equal(error.code, 'STATUS_INVALID_DEVICE_STATE');
      assert.equal(error.operation, 'connect');
      assert.equal(error.socketId, socket.id);
      assert.deepEqual(error.address, { family: 'ipv4', address: '127.0.0.1', port: 9 });
      assert.match(error.message, /^connect failed: STATUS_INVALID_DEVICE_STATE \(0xC0000184\) on socket 0x[0-9a-f]+ to 127\.0\.0\.1:9: the socket was never bound/);
    });

    it('errors of event control name the socket and the mask (a socket without a client dispatch table)', async () => {
      const socket = await session.socket('connection', { dispatch: false });
      await assert.rejects(socket.enableEvents(WskEvent.Receive), (error: WskError) => {
        assert.ok(error instanceof WskError);
        assert.equal(error.socketId, socket.id);
        assert.equal(error.code, error.statusName);
        assert.match(error.message, new RegExp(`^enableEvents failed: STATUS_\\w+ \\(0x[0-9A-F]+\\) on socket 0x${socket.id.toString(16)}: SO_WSK_EVENT_CALLBACK Receive$`));
        return true;
      });
    });

    it('session.connect() is WskSocketConnect: one SOCKET_CONNECT IOCTL, a connected socket', async () => {
      const server = await tcpServer();
      peers.push(server);
      const lines: string[] = [];
      const traced = await open({ backend: 'sim', trace: (line) => lines.push(line) });
      try {
        const socket = await traced.connect(server.address, { localAddress: { address: '127.0.0.1', port: 0 } });
        const peer = await server.accepted();
        assert.equal((await socket.remoteAddress())?.port, server.port);
        assert.equal((await socket.localAddress())?.port, peer.remotePort);
        assert.deepEqual(lines.filter((l) => / ioctl /.test(` ${l}`) && !/READ_EVENTS|HELLO/.test(l)).map((l) => l.split(/\s+/)[4]), ['SOCKET_CONNECT', 'GET_ADDRESS', 'GET_ADDRESS']);
        const received = new Promise<string>((resolve) => peer.once('data', (chunk: Buffer) => resolve(chunk.toString())));
        await socket.send('over WskSocketConnect');
        assert.equal(await received, 'over WskSocketConnect');
        await socket.end();
      } finally {
        await traced.close();
      }
    });

    it('a refused WskSocketConnect names the operation and address, and leaves no socket', async () => {
      const server = await tcpServer();
      const refusedPort = server.port;
      await server.close();
      const baseline = leakBaseline();
      await assert.rejects(session.connect({ address: '127.0.0.1', port: refusedPort }), (error: WskError) => {
        assert.equal(error.operation, 'socketConnect');
        assert.equal(error.code, 'STATUS_CONNECTION_REFUSED');
        assert.match(error.message, new RegExp(`to 127\\.0\\.0\\.1:${refusedPort}`));
        return true;
      });
      assert.equal(session.openSockets.length, 0);
      assert.equal((await session.stats()).socketsOpen, 0);
      await assertNoLeaks(baseline);
      await assert.rejects(session.connect({ address: '::1', port: 1 }, { localAddress: { address: '0.0.0.0', port: 0 } }), { code: 'ERR_INVALID_ARG_VALUE' });
    });
  });

  describe('validation', () => {
    it('open() refuses unknown keys and pump depths 0 and 1e9 with Node codes', async () => {
      await assert.rejects(open({ backend: 'sim', budget: 1 } as never), { code: 'ERR_INVALID_ARG_VALUE', message: /"options.budget"/ });
      await assert.rejects(open({ backend: 'sim', pump: { depth: 0 } }), { code: 'ERR_OUT_OF_RANGE', message: /options.pump.depth/ });
      await assert.rejects(open({ backend: 'sim', pump: { depth: 1e9 } }), { code: 'ERR_OUT_OF_RANGE' });
      await assert.rejects(open({ backend: 'sim', pump: { deepth: 2 } as never }), { code: 'ERR_INVALID_ARG_VALUE' });
    });

    it('lengths must be integers; receive(0) is refused (its empty answer would read as a FIN)', async () => {
      const socket = await session.socket('connection');
      await assert.rejects(socket.receive(1.5), { code: 'ERR_OUT_OF_RANGE' });
      await assert.rejects(socket.receive(0), { code: 'ERR_OUT_OF_RANGE', message: /FIN/ });
      await assert.rejects(socket.receive(10, { flag: 1 } as never), { code: 'ERR_INVALID_ARG_VALUE' });
      await assert.rejects(socket.send('x', { flags: -1 }), { code: 'ERR_OUT_OF_RANGE' });
      await assert.rejects(socket.send(42 as never), { code: 'ERR_INVALID_ARG_TYPE' });
    });
  });

  describe('seeing what happens', () => {
    it('util.inspect shows sessions, sockets and events without pump internals; ids print one way', async () => {
      const socket = await session.socket('datagram');
      const shown = inspect(session);
      assert.match(shown, /^WskSession \{ backend: 'sim', open, sockets: 1 \}$/);
      const id = `0x${socket.id.toString(16)}`;
      assert.equal(inspect(socket), `WskSocket { id: ${id}, kind: 'datagram', family: 'ipv4', open }`);
      assert.equal(String(socket), `WskSocket(datagram, ipv4, id ${id})`);
      assert.doesNotMatch(inspect({ socket }, { depth: 5 }), /pump|subscriptions|unclaimed/);
    });

    it('formatEvent() prints an event on one line with its socket id', async () => {
      const { socket, peer } = await datagramPair(session);
      peers.push(peer);
      await peer.send('hi', (await socket.localAddress())!);
      const event = await socket.once('receiveFrom', { timeout: 5000 });
      assert.equal(formatEvent(event), `#${event.sequence} receiveFrom socket 0x${socket.id.toString(16)}: 2 bytes from 127.0.0.1:${peer.port}: "hi"`);
    });

    it('open({ trace }) gets a table row per IOCTL (NTSTATUS name) and per event', async () => {
      const lines: string[] = [];
      const traced = await open({ backend: 'sim', trace: (line) => lines.push(line) });
      try {
        const socket = await traced.socket('datagram');
        await socket.bind({ address: '127.0.0.1', port: 0 });
        await socket.connect({ address: '127.0.0.1', port: 9 }).catch(() => undefined);
        await socket.enableEvents(WskEvent.ReceiveFrom);
        const peer = await udpPeer();
        peers.push(peer);
        await peer.send('x', (await socket.localAddress())!);
        await socket.once('receiveFrom', { timeout: 5000 });
        const id = `0x${socket.id.toString(16)}`;
        assert.match(lines[0]!, /seq\s+time\s+socket\s+what\s+details/);
        assert.ok(lines.some((l) => /ioctl .* -\s+HELLO\s+-> STATUS_SUCCESS/.test(l)), lines.join('\n'));
        assert.ok(lines.some((l) => new RegExp(`ioctl .* ${id}\\s+BIND\\s+-> STATUS_SUCCESS`).test(l)), lines.join('\n'));
        assert.ok(lines.some((l) => new RegExp(`ioctl .* ${id}\\s+CONNECT\\s+-> STATUS_`).test(l)), lines.join('\n'));
        assert.ok(lines.some((l) => new RegExp(`^\\s+\\d+ .* ${id}\\s+receiveFrom\\s+1 bytes from 127.0.0.1`).test(l)), lines.join('\n'));
      } finally {
        await traced.close();
      }
    });
  });
});

describe('issue 9: processes (sim)', () => {
  const root = path.resolve(__dirname, '..', '..');

  it('a session never closed is closed when collected, with a WSKB_SESSION_NOT_CLOSED warning', function () {
    this.timeout(30000);
    const result = spawnSync(process.execPath, ['--expose-gc', path.join(root, 'test', 'fixtures', 'unclosed-session.js')], {
      encoding: 'utf8',
      timeout: 25000,
      env: { ...process.env, WSKB_BACKEND: 'sim' },
    });
    assert.equal(result.status, 0, `stdout: ${result.stdout}\nstderr: ${result.stderr}`);
    assert.match(result.stderr, /\[WSKB_SESSION_NOT_CLOSED\] Warning: A wsk-bridge session \(sim\) was garbage-collected without close\(\)/);
    assert.match(result.stdout, /leak check passed/);
  });

  it('a node:test test that times out ends its waits through open({ signal: t.signal }): the process exits', async function () {
    this.timeout(40000);
    const fixture = path.join(root, 'test', 'fixtures', 'timeout-test.js');
    const run = (env: NodeJS.ProcessEnv, timeout: number) =>
      new Promise<{ code: number | null; killed: boolean; stdout: string; ms: number }>((resolve) => {
        const started = Date.now();
        execFile(process.execPath, [fixture], { cwd: root, timeout, env: { ...process.env, ...env } }, (error, stdout) =>
          resolve({ code: error ? ((error as { code?: number }).code ?? null) : 0, killed: error?.killed ?? false, stdout, ms: Date.now() - started }),
        );
      });
    const withSignal = await run({}, 30000);
    assert.equal(withSignal.killed, false, `the runner hung with t.signal passed (${withSignal.ms} ms)`);
    assert.equal(withSignal.code, 1); // the test failed: it timed out
    assert.match(withSignal.stdout, /test timed out after 300ms/);
    // The control: without the signal the same wait keeps the process alive until killed.
    const withoutSignal = await run({ WSKB_FIXTURE_NO_SIGNAL: '1' }, 3000);
    assert.equal(withoutSignal.killed, true, 'without a signal the pending wait should hold the process (is the control still meaningful?)');
  });

  it('`wsk-bridge trace -- node script` prints the table; --version prints the version', function () {
    this.timeout(30000);
    const cli = path.join(root, 'dist', 'scripts', 'cli.js');
    const version = spawnSync(process.execPath, [cli, '--version'], { encoding: 'utf8' });
    assert.equal(version.stdout.trim(), (require(path.join(root, 'package.json')) as { version: string }).version);
    const script = "const { open } = require('wsk-bridge'); (async () => { const s = await open({ backend: 'sim' }); const d = await s.socket('datagram'); await d.bind({ address: '127.0.0.1', port: 0 }); await s.close(); })();";
    const result = spawnSync(process.execPath, [cli, 'trace', '--', process.execPath, '-e', script], { encoding: 'utf8', timeout: 25000, cwd: root });
    assert.equal(result.status, 0, result.stderr);
    assert.match(result.stderr, /SOCKET_CREATE\s+-> STATUS_SUCCESS/);
    assert.match(result.stderr, /BIND\s+-> STATUS_SUCCESS/);
    const unknown = spawnSync(process.execPath, [cli, 'trace'], { encoding: 'utf8' });
    assert.equal(unknown.status, 2);
    assert.match(unknown.stderr, /trace -- <command>/);
  });

  it('NODE_DEBUG=wsk-bridge traces through util.debuglog', function () {
    this.timeout(30000);
    const script = "const { open } = require('wsk-bridge'); (async () => { const s = await open({ backend: 'sim' }); await s.close(); })();";
    const result = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 25000, cwd: root, env: { ...process.env, NODE_DEBUG: 'wsk-bridge', WSKB_TRACE: '' } });
    assert.equal(result.status, 0, result.stderr);
    assert.match(result.stderr, /WSK-BRIDGE \d+: ioctl .* HELLO\s+-> STATUS_SUCCESS/);
  });
});

describe('issue 9: assertNoLeaks (wsk-bridge/testing, sim)', () => {
  it('passes once sessions are closed, and names what stayed while one is open', async () => {
    const baseline = leakBaseline();
    const session = await open({ backend: 'sim' });
    const socket = await session.socket('datagram');
    await socket.bind({ address: '127.0.0.1', port: 0 });
    await assert.rejects(assertNoLeaks(baseline, { timeout: 50 }), { name: 'AssertionError', message: /hostSockets 0 -> 1|wskSockets/ });
    await session.close();
    await assertNoLeaks(baseline);
  });
});

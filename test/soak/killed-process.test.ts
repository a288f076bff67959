// SPDX-License-Identifier: MIT
//
// Soak: a process killed with SIGKILL in the middle of a stream, while it holds a session
// with a listening socket, an accepted connection receiving data through events, and an
// outbound connection. Its peers must see their connections end (reset or closed), and the
// listening port must be free again for a surviving process.
//
// What this proves depends on the backend the child runs:
// - sim (here): the kernel is ksim inside the killed process, so it dies with it and no
//   driver code runs at all; the host OS closes the host sockets ksim held. The test proves
//   the bridge adds nothing that outlives its process: no helper process, no socket passed
//   elsewhere, no port still bound. It cannot prove the driver's cleanup path; that path is
//   exercised on sim by the session-close tests (the handle is closed, EvtFileCleanup runs).
// - kernel (WSKB_BACKEND=kernel on Windows): killing the process makes the I/O manager close
//   the handle: IRP_MJ_CLEANUP → EvtFileCleanup must close every WSK socket of the session
//   and complete its pended READ_EVENTS. Then the same checks prove the driver's cleanup
//   from outside: the peers see the kernel sockets go, and a surviving process can bind the
//   listening port again, which WSK refuses while the killed session's listener exists.

import assert from 'node:assert/strict';
import { fork } from 'node:child_process';
import * as net from 'node:net';
import * as path from 'node:path';
import { open } from '../../lib/index.js';
import { withTimeout } from '../helpers/util.js';
import { DeterministicStream } from './fixtures/stream.js';

/** Resolves with how a Node socket ended: 'reset', 'epipe', 'end' (FIN) or 'close'. */
function ending(socket: net.Socket): Promise<{ how: string; at: number }> {
  return new Promise((resolve) => {
    let how = 'close';
    socket.on('error', (e: NodeJS.ErrnoException) => (how = e.code === 'ECONNRESET' ? 'reset' : e.code === 'EPIPE' ? 'epipe' : (e.code ?? e.message)));
    socket.on('end', () => {
      if (how === 'close') how = 'end';
      socket.end();
    });
    socket.on('close', () => resolve({ how, at: Date.now() }));
    socket.resume();
  });
}

describe('soak: a process killed mid-stream', function () {
  this.timeout(60_000);

  it('leaves no socket behind: peers see the connections end, the port can be bound again', async () => {
    // The outbound connection's peer: a Node server here.
    let outboundPeer: Promise<{ how: string; at: number }> | undefined;
    const server = net.createServer((socket) => {
      outboundPeer = ending(socket);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const serverPort = (server.address() as net.AddressInfo).port;

    const child = fork(path.join(__dirname, 'fixtures', 'session-holder.js'), [], {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      env: { ...process.env, WSKB_BACKEND: process.env.WSKB_BACKEND ?? 'sim' },
    });
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
      child.once('exit', (code, signal) => resolve({ code, signal })),
    );
    const messages: Array<{ kind: string; [k: string]: unknown }> = [];
    let wake: () => void = () => {};
    child.on('message', (m) => {
      messages.push(m as { kind: string });
      wake();
    });
    const waitFor = async (predicate: (m: { kind: string; [k: string]: unknown }) => boolean, what: string): Promise<{ [k: string]: unknown }> => {
      const deadline = Date.now() + 20_000;
      for (;;) {
        const error = messages.find((m) => m.kind === 'error');
        if (error) throw new Error(`child failed: ${String(error.message)}`);
        const found = messages.find(predicate);
        if (found) return found;
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
        await new Promise<void>((resolve) => {
          wake = resolve;
          setTimeout(resolve, 100);
        });
      }
    };

    let client: net.Socket | undefined;
    try {
      child.send({ serverPort });
      const { port, backend } = (await waitFor((m) => m.kind === 'listening', 'the child to listen')) as { port: number; backend: string };
      assert.ok(outboundPeer, 'the child connected to the server');

      // Stream into the child's accepted connection until it is killed.
      client = net.connect(port, '127.0.0.1');
      const clientEnd = ending(client);
      const stream = new DeterministicStream('kill');
      let writing = true;
      const pump = async (): Promise<void> => {
        while (writing && !client!.destroyed) {
          if (!client!.write(stream.next())) {
            await new Promise<void>((resolve) => {
              client!.once('drain', resolve);
              client!.once('close', resolve);
            });
          }
        }
      };
      await new Promise<void>((resolve, reject) => client!.once('connect', resolve).once('error', reject));
      void pump();

      const progress = await waitFor((m) => m.kind === 'progress' && (m.received as number) >= 4 << 20, '4 MiB to reach the child');
      assert.equal(progress.verifierFailures, 0, 'ksim verifier failures in the child before the kill');

      // The control: while the child lives, a surviving process cannot bind its port.
      const survivorBackend = (process.env.WSKB_BACKEND as 'sim' | 'kernel' | undefined) ?? 'sim';
      const survivor = await open({ backend: survivorBackend });
      try {
        const early = await survivor.socket('listen');
        await assert.rejects(early.bind({ family: 'ipv4', address: '127.0.0.1', port }), /STATUS_ADDRESS_ALREADY_EXISTS/, 'the port is held while the child lives');
        await early.close();
      } catch (error) {
        await survivor.close();
        throw error;
      }

      const killedAt = Date.now();
      child.kill('SIGKILL');
      const { signal } = await withTimeout(exited, 5000, 'the child to die');
      assert.equal(signal, 'SIGKILL');

      // The peers' view: both connections end, promptly.
      const inbound = await withTimeout(clientEnd, 5000, 'the streaming client to see its connection end');
      const outbound = await withTimeout(outboundPeer!, 5000, 'the server to see the outbound connection end');
      writing = false;
      console.log(
        `      backend ${backend}: streaming client saw '${inbound.how}' after ${inbound.at - killedAt} ms; ` +
          `outbound connection's server saw '${outbound.how}' after ${outbound.at - killedAt} ms`,
      );
      // Unread data was in flight, so the streaming connection must be reset (or its next
      // write fail), not closed gracefully.
      assert.ok(['reset', 'epipe'].includes(inbound.how), `the streaming client saw '${inbound.how}', not a reset`);
      assert.ok(['reset', 'end', 'close'].includes(outbound.how), `the server saw '${outbound.how}'`);

      // The surviving process: the listening port is free again.
      try {
        const listener = await survivor.socket('listen');
        await listener.bind({ family: 'ipv4', address: '127.0.0.1', port });
        assert.equal((await listener.localAddress())!.port, port);
        await listener.close();
      } finally {
        await survivor.close();
      }
    } finally {
      client?.destroy();
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});

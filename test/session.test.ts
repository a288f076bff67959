// SPDX-License-Identifier: MIT
//
// Sessions: backend choice, the HELLO handshake, stats, and teardown. Closing a session with
// live sockets, pending requests and events must leave ksim exactly at its baseline: no pool
// block, IRP, MDL, WSK socket or host socket left behind.

import assert from 'node:assert/strict';
import * as net from 'node:net';
import { open, statusName, WskClientControl, WskError, WskEvent, WskSession } from '../lib/index.js';
import { WSKB_EVENT_BUDGET_MIN } from '../lib/protocol.js';
import { closeServer, counters, eventually, leakCounters, nodeServer, openSim, skipBecause, withTimeout } from './helpers/util.js';

describe('session', () => {
  it('opens on sim, says why, and reports what HELLO negotiated', async () => {
    const session = await open({ backend: 'sim' });
    try {
      assert.ok(session instanceof WskSession);
      assert.equal(session.backend, 'sim');
      assert.match(session.backendReason, /sim/);
      assert.equal(session.driverVersion, 1);
      assert.ok(session.maxIoBytes >= 64 * 1024, `maxIoBytes ${session.maxIoBytes}`);
      assert.ok(session.eventBudgetBytes > 0);
      assert.ok(session.wskVersion.highest >= 0x0100, 'the provider speaks WSK 1.0 or later');
    } finally {
      await session.close();
    }
  });

  it("'auto' falls back to sim where the kernel device cannot open, and explains", async function () {
    if (process.platform === 'win32' || process.env.WSKB_BACKEND) {
      skipBecause(this, "needs a machine where the kernel device cannot open and no WSKB_BACKEND override (on Windows the driver may be installed)");
    }
    const session = await open({ backend: 'auto' });
    try {
      assert.equal(session.backend, 'sim');
      assert.match(session.backendReason, /using sim, the driver on ksim in-process, because the kernel device did not open: .+/);
    } finally {
      await session.close();
    }
  });

  it('WSKB_BACKEND overrides auto', async () => {
    const saved = process.env.WSKB_BACKEND;
    process.env.WSKB_BACKEND = 'sim';
    try {
      const session = await open();
      assert.equal(session.backend, 'sim');
      assert.match(session.backendReason, /WSKB_BACKEND=sim/);
      await session.close();
      process.env.WSKB_BACKEND = 'bogus';
      await assert.rejects(open(), /WSKB_BACKEND must be/);
    } finally {
      if (saved === undefined) delete process.env.WSKB_BACKEND;
      else process.env.WSKB_BACKEND = saved;
    }
  });

  it('rejects bad options with clear errors before touching the driver', async () => {
    await assert.rejects(open({ backend: 'vm' as never }), /backend must be 'auto', 'kernel' or 'sim'/);
    await assert.rejects(open({ backend: 'sim', eventBudget: 100 }), /eventBudget must be an integer in/);
  });

  it('the kernel backend on a machine without the driver fails with a sentence, not a crash', async function () {
    if (process.platform === 'win32') skipBecause(this, 'on Windows the kernel backend may really open (the driver may be installed)');
    await assert.rejects(open({ backend: 'kernel' }), /Windows/);
  });

  it('honours the event budget asked for at open', async () => {
    const session = await open({ backend: 'sim', eventBudget: WSKB_EVENT_BUDGET_MIN });
    try {
      assert.equal(session.eventBudgetBytes, WSKB_EVENT_BUDGET_MIN);
      assert.equal((await session.stats()).eventBudgetBytes, WSKB_EVENT_BUDGET_MIN);
    } finally {
      await session.close();
    }
  });

  it('stats count open sockets', async () => {
    const session = await openSim();
    try {
      assert.equal((await session.stats()).socketsOpen, 0);
      const a = await session.socket('connection');
      await session.socket('datagram');
      assert.equal((await session.stats()).socketsOpen, 2);
      await a.close();
      assert.equal((await session.stats()).socketsOpen, 1);
    } finally {
      await session.close();
    }
  });

  it('await using closes the session', async () => {
    let captured: WskSession | undefined;
    {
      await using session = await openSim();
      captured = session;
      await using socket = await session.socket('datagram');
      await socket.bind({ family: 'ipv4', address: '127.0.0.1', port: 0 });
    }
    assert.equal(captured.isClosed, true);
    await assert.rejects(captured.socket('listen'), /session is closed/);
  });

  it('closing a session with live sockets, pending requests and events leaves ksim at baseline', async () => {
    const before = leakCounters();
    const { server, port } = await nodeServer('127.0.0.1', (peer) => peer.write('x'.repeat(1000)));
    const clients: net.Socket[] = [];
    try {
      const session = await openSim();
      // A listener with a pending accept, a connected socket with receive events enabled and
      // data queued, a datagram socket with a pending receiveFrom, and a socket never bound.
      const listener = await session.socket('listen');
      await listener.bind({ family: 'ipv4', address: '127.0.0.1', port: 0 });
      // Outcomes captured now: these reject during close(), before the asserts below look.
      const pendingAccept = listener.accept().then(() => 'resolved', (e: unknown) => e);
      const connected = await session.socket('connection');
      await connected.bind({ family: 'ipv4', address: '0.0.0.0', port: 0 });
      await connected.connect({ family: 'ipv4', address: '127.0.0.1', port });
      await connected.enableEvents(WskEvent.Receive | WskEvent.Disconnect);
      const datagram = await session.socket('datagram');
      await datagram.bind({ family: 'ipv4', address: '127.0.0.1', port: 0 });
      const pendingReceive = datagram.receiveFrom(100).then(() => 'resolved', (e: unknown) => e);
      await session.socket('basic');
      const events = session.events();
      const first = await withTimeout(events.next(), 5000, 'a receive event');
      assert.equal(first.value?.type, 'receive');
      assert.ok(counters().hostSockets > before.hostSockets);

      await session.close();

      // Pending requests were completed by the driver's cleanup, not left hanging.
      const accepted = await pendingAccept;
      const received = await pendingReceive;
      assert.ok(accepted instanceof WskError && accepted.statusName === 'STATUS_CANCELLED', `accept: ${String(accepted)}`);
      assert.ok(received instanceof WskError && received.statusName === 'STATUS_CANCELLED', `receiveFrom: ${String(received)}`);
      // The iterator ends instead of waiting forever.
      for (;;) {
        const next = await withTimeout(events.next(), 5000, 'the iterator to end');
        if (next.done) break;
      }
      await eventually(() => JSON.stringify(leakCounters()) === JSON.stringify(before), 'ksim counters back at baseline');
      assert.deepEqual(leakCounters(), before);
    } finally {
      for (const c of clients) c.destroy();
      await closeServer(server);
    }
  });

  it('many sessions opened and closed leave nothing behind', async () => {
    const before = leakCounters();
    for (let i = 0; i < 20; i++) {
      const session = await openSim();
      const s = await session.socket('datagram');
      await s.bind({ family: 'ipv4', address: '127.0.0.1', port: 0 });
      if (i % 2) await s.close();
      await session.close();
    }
    await eventually(() => JSON.stringify(leakCounters()) === JSON.stringify(before), 'ksim counters back at baseline');
  });

  it('controlClient is raw: WSK statuses come back, errors included, without throwing; the driver\'s allowlist refusals reject', async () => {
    const session = await openSim();
    try {
      // Not in the driver's allowlist (lib/controls.ts): refused before WSK.
      await assert.rejects(session.controlClient(0x12345), (e: Error & { statusName?: string }) => e.statusName === 'STATUS_NOT_SUPPORTED');
      // WSK_SET_STATIC_EVENT_CALLBACKS requires a NULL IRP: the driver refuses one.
      await assert.rejects(
        session.controlClient(WskClientControl.SetStaticEventCallbacks, Buffer.from([0x40, 0, 0, 0]), { irp: true }),
        (e: Error & { statusName?: string }) => e.statusName === 'STATUS_INVALID_PARAMETER_MIX',
      );
      // A WSK error comes back as a status: a mask with an unknown bit.
      const unknownBit = await session.controlClient(WskClientControl.SetStaticEventCallbacks, Buffer.from([0x01, 0, 0, 0]));
      assert.equal(statusName(unknownBit.callStatus), 'STATUS_INVALID_PARAMETER');
      // WSK_TRANSPORT_LIST_QUERY fills WSK_TRANSPORT entries (28 bytes: 2+2+4+2, padding, a GUID).
      const transports = await session.controlClient(WskClientControl.TransportListQuery, null, { outputLength: 256 });
      assert.equal(transports.callStatus, 0);
      assert.ok(transports.output.length > 0 && transports.output.length % 28 === 0, `${transports.output.length} bytes`);
    } finally {
      await session.close();
    }
  });

  it('two sessions are independent: a socket id of one is unknown to the other', async () => {
    const a = await openSim();
    const b = await openSim();
    try {
      const socket = await a.socket('datagram');
      const { encodeGetAddressIn, WSKB_IOCTL_GET_ADDRESS } = await import('../lib/protocol.js');
      const result = await b.rawIoctl(WSKB_IOCTL_GET_ADDRESS, encodeGetAddressIn(socket.id, 0), 32);
      assert.equal(result.statusName, 'STATUS_INVALID_HANDLE');
    } finally {
      await a.close();
      await b.close();
    }
  });
});

// SPDX-License-Identifier: MIT
//
// Issue 8, the raw-control path (findings 1, 3, 4 and 8), one regression test each, on ksim with
// the WSK rules it now enforces (native/ksim/src/wsk_util.c): an IRP or an OutputSizeReturned
// where Learn's rule for the code says NULL is a verifier failure (test/helpers/hooks.ts fails
// the test on any), and in strict mode (KSIM_WSK_STRICT=1) ksim ignores such an IRP, and the
// IRP of a code Learn gives no rule for, as the worst conforming netio may: a driver that
// waits for that IRP hangs. Waits here are bounded, so such a hang fails the test.
//
// The allowlist itself, code by code and size by size, is in hostile-ioctl.test.ts.

import assert from 'node:assert/strict';
import { open, SocketOption, SOL_SOCKET, WskControlSocketType, WskEvent, type WskSession } from '../../lib/index.js';
import * as P from '../../lib/protocol.js';
import { withTimeout } from '../helpers/util.js';

const SIO_ADDRESS_LIST_QUERY = 0x48000016; // _WSAIOR(IOC_WS2, 22), ws2def.h
const WSK_TRANSPORT_LIST_CHANGE = 3;
const SO_TYPE = 0x1008;
const GIVE_UP_MS = 5000;

/** Runs `body` with ksim's strict WSK on (read by ksim at each control call). */
async function strict<T>(body: () => Promise<T>): Promise<T> {
  process.env.KSIM_WSK_STRICT = '1';
  try {
    return await body();
  } finally {
    delete process.env.KSIM_WSK_STRICT;
  }
}

describe('raw control: allowlist and IRP rules (issue 8: findings 1, 3, 4, 8)', function () {
  this.timeout(30_000);
  let session: WskSession | undefined;

  afterEach(async () => {
    // Bounded: a close that waits for an IRP WSK never completes is finding 3's hang.
    if (session) await withTimeout(session.close(), GIVE_UP_MS, 'session close (EvtFileCleanup)');
    session = undefined;
  });

  it('finding 1: SIO_ADDRESS_LIST_QUERY (kernel pointers in its output) never reaches WSK: STATUS_NOT_SUPPORTED, no bytes', async () => {
    session = await open({ backend: 'sim' });
    const socket = await session.socket('datagram');
    const input = P.encodeControlSocketIn({ socketId: socket.id, requestType: WskControlSocketType.Ioctl, code: SIO_ADDRESS_LIST_QUERY, level: 0, input: null, outputLength: 256, flags: 0 });
    const result = await session.rawIoctl(P.WSKB_IOCTL_CONTROL_SOCKET, input, 16 + 256);
    assert.equal(result.statusName, 'STATUS_NOT_SUPPORTED');
    assert.equal(result.information, 0);
  });

  it('finding 1: a code outside the table (an unknown option) is the driver\'s STATUS_NOT_SUPPORTED, not a WSK status', async () => {
    session = await open({ backend: 'sim' });
    const socket = await session.socket('datagram');
    await assert.rejects(socket.control({ type: WskControlSocketType.GetOption, code: 0x7777, level: SOL_SOCKET, outputLength: 4, irp: true }), (error: Error & { statusName?: string }) => error.statusName === 'STATUS_NOT_SUPPORTED');
  });

  it('finding 3: an IRP to enable events (Learn: none) is refused with STATUS_INVALID_PARAMETER_MIX, and never hangs the close under strict WSK', async () => {
    await strict(async () => {
      session = await open({ backend: 'sim' });
      const socket = await session.socket('datagram');
      await socket.bind({ family: 'ipv4', address: '127.0.0.1', port: 0 });
      const request = socket.setEventCallbackRaw(WskEvent.ReceiveFrom, { irp: true });
      await assert.rejects(withTimeout(request, GIVE_UP_MS, 'SO_WSK_EVENT_CALLBACK with an IRP'), (error: Error & { statusName?: string }) => error.statusName === 'STATUS_INVALID_PARAMETER_MIX');
      // Without the IRP the same call is made and succeeds.
      const plain = await socket.setEventCallbackRaw(WskEvent.ReceiveFrom);
      assert.equal(plain.callStatus, 0);
    });
  });

  it('finding 3: a WSK call that returns without completing its IRP (strict WSK ignores the IRP of SO_TYPE, for which Learn has no rule) completes the request with the call\'s status', async () => {
    await strict(async () => {
      session = await open({ backend: 'sim' });
      const socket = await session.socket('datagram');
      const result = await withTimeout(socket.control({ type: WskControlSocketType.GetOption, code: SO_TYPE, level: SOL_SOCKET, outputLength: 4, irp: true }), GIVE_UP_MS, 'SO_TYPE with an ignored IRP');
      assert.equal(result.callStatus, 0, 'STATUS_SUCCESS, returned inline');
      assert.equal(result.irpStatus, 0, 'the IRP never taken: its status is the call\'s');
      assert.equal(result.output.length, 0, 'no IRP reported a size: no output travels back');
    });
  });

  // Under strict WSK, ksim's WSK_TRANSPORT_LIST_CHANGE IRP is cancelled only by WskDeregister (all
  // Learn promises), which EvtFileCleanup reaches after waiting for that IRP: a driver that
  // forwards the code hangs at close.
  it('finding 4: WSK_TRANSPORT_LIST_CHANGE (cancelled only by WskDeregister, after cleanup waits for it) is refused: STATUS_NOT_SUPPORTED, and the close does not hang', async () => {
    await strict(async () => {
      const opened = await open({ backend: 'sim' });
      session = opened;
      for (const flags of [P.WSKB_CONTROL_FLAG_USE_IRP, 0]) {
        const request = opened.rawIoctl(P.WSKB_IOCTL_CONTROL_CLIENT, P.encodeControlClientIn(WSK_TRANSPORT_LIST_CHANGE, null, 0, flags), 16);
        const result = await withTimeout(request, GIVE_UP_MS, `WSK_TRANSPORT_LIST_CHANGE, flags ${flags}`);
        assert.equal(result.statusName, 'STATUS_NOT_SUPPORTED', `flags ${flags}`);
      }
    });
  });

  it('finding 8: enabling, disabling and static events pass no OutputSizeReturned (no verifier failure)', async () => {
    session = await open({ backend: 'sim' });
    await session.setStaticEventCallbacks(WskEvent.Receive);
    const socket = await session.socket('datagram');
    await socket.bind({ family: 'ipv4', address: '127.0.0.1', port: 0 });
    assert.equal((await socket.setEventCallbackRaw(WskEvent.ReceiveFrom)).callStatus, 0);
    assert.equal((await socket.setEventCallbackRaw(WskEvent.ReceiveFrom | WskEvent.Disable)).callStatus, 0);
    assert.equal((await socket.setEventCallbackRaw(WskEvent.ReceiveFrom | WskEvent.Disable, { irp: true })).irpStatus, 0);
    const rcvbuf = await socket.control({ type: WskControlSocketType.GetOption, code: SocketOption.SO_RCVBUF, level: SOL_SOCKET, outputLength: 4, irp: true });
    assert.equal(rcvbuf.irpStatus, 0);
    assert.equal(rcvbuf.output.length, 4);
    // The hooks (test/helpers/hooks.ts) fail this test on any verifier failure.
  });
});

// SPDX-License-Identifier: MIT
//
// ksim's verifier, seen from the suite. ksim has no switch for its checks: IRQL per thread,
// pool by tag with leak reports at every driver unload (the last session's close), IRP and MDL
// ownership, WDF request ownership (double completion, completing a queued request, requests
// never completed), and calls on a WSK socket after WskCloseSocket are always on, in every
// process that loads the addon. What the suite controls is what happens on a failure: the root
// hook (test/helpers/hooks.ts) keeps ksim in recording mode and fails the test during which the
// failure count moved, unless that test declared it with expectVerifierFailures().
//
// That each check fires is proven in C, where a deliberately broken driver can be written:
// native/ksim/test/ksim_test.c provokes 28 failures with EXPECT_VERIFIER (toy driver: double
// completion, completing a queued request, returning at DISPATCH_LEVEL, a request never
// completed, IRP/MDL misuse, pool tag mismatch, double free, overrun, IRQL rules, spin lock
// misuse, list corruption, and a pool leak at driver unload), and native/ksim/test/wsk_test.c
// (TestCloseCancelsAndVerifier) provokes a WSK_BUF longer than its MDL and a WskSend after
// WskCloseSocket. The driver offers no debug path to leak on purpose (and gets none for this),
// so from JavaScript the proof is the chain below: the hook fails a test whose count moved, and
// the count it reads is the verifier's own.

import assert from 'node:assert/strict';
import { addon } from '../../lib/addon.js';
import { open } from '../../lib/index.js';
import { expectVerifierFailures, mochaHooks } from '../helpers/hooks.js';
import { leakCounters } from '../helpers/util.js';

describe('reliability: the ksim verifier is on and the suite fails on it', () => {
  const ksim = () => addon().ksim;

  it('the hook reads the verifier: counters().verifierFailures and verifierLastFailure() agree', () => {
    const counters = ksim().counters();
    const last = ksim().verifierLastFailure();
    assert.equal(typeof last.count, 'number');
    assert.equal(counters.verifierFailures, last.count);
    if (last.count === 0) assert.equal(last.message, '', 'no failure, no message');
  });

  it('a session that leaves nothing behind passes the unload leak check without a report', async () => {
    const before = ksim().verifierLastFailure().count;
    const baseline = leakCounters();
    const session = await open({ backend: 'sim' });
    const socket = await session.socket('datagram');
    await socket.bind({ family: 'ipv4', address: '127.0.0.1', port: 0 });
    await session.close();
    // The last session's close unloads the driver, which runs the pool/IRP/MDL/socket checks.
    assert.equal(ksim().verifierLastFailure().count, before);
    assert.deepEqual(leakCounters(), baseline, 'pool, IRPs, MDLs and sockets back where they were');
  });

  describe('the root hook (test/helpers/hooks.ts)', () => {
    // The hook is driven here with a stand-in for the addon's verifierLastFailure(), since no
    // JavaScript path can make the driver break a rule. The real function is put back and the
    // hook re-baselined before the real after-each hook runs for these tests.
    let real: () => { count: number; message: string };
    let fake: { count: number; message: string };
    const context = {} as Mocha.Context;

    beforeEach(() => {
      real = ksim().verifierLastFailure;
      fake = real();
      ksim().verifierLastFailure = () => fake;
      mochaHooks.beforeEach();
    });
    afterEach(() => {
      ksim().verifierLastFailure = real;
      mochaHooks.beforeEach();
    });

    const leak = "pool leak at driver unload: tag 'sBkW': 1 block(s), 96 bytes (first at 0x1, allocation #7)";

    it('fails the test during which a verifier failure was recorded, quoting it', () => {
      fake = { count: fake.count + 1, message: leak };
      assert.throws(() => mochaHooks.afterEach.call(context), (e: unknown) => {
        assert.ok(e instanceof Error);
        assert.match(e.message, /^ksim verifier: 1 new failure\(s\) during this test \(expected 0\); last: pool leak at driver unload/);
        return true;
      });
    });

    it('passes a test that declared exactly the failures it caused, and fails one that caused more or fewer', () => {
      expectVerifierFailures(1);
      fake = { count: fake.count + 1, message: leak };
      assert.doesNotThrow(() => mochaHooks.afterEach.call(context));

      mochaHooks.beforeEach();
      expectVerifierFailures(1);
      fake = { count: fake.count + 2, message: leak };
      assert.throws(() => mochaHooks.afterEach.call(context), /2 new failure\(s\) during this test \(expected 1\)/);

      mochaHooks.beforeEach();
      expectVerifierFailures(1);
      assert.throws(() => mochaHooks.afterEach.call(context), /0 new failure\(s\) during this test \(expected 1\)/);
    });

    it('counts per test: failures of an earlier test are not held against the next one', () => {
      fake = { count: fake.count + 3, message: leak };
      assert.throws(() => mochaHooks.afterEach.call(context));
      mochaHooks.beforeEach();
      assert.doesNotThrow(() => mochaHooks.afterEach.call(context));
    });
  });
});

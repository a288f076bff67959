// SPDX-License-Identifier: MIT
//
// Mocha root hooks (loaded by .mocharc.json's `require`): ksim's verifier must stay at zero
// failures through every test. A rule violation in the driver (double completion, a request
// completed from a queue, a PASSIVE-only call at DISPATCH_LEVEL, a leak at unload) fails the
// `"after each" hook for "<the test>"`, with the verifier's message. Mocha stops the run at a
// failing root hook, which is deliberate: this is ksim's bugcheck, and after one the simulated
// kernel's state proves nothing.

import { addon } from '../../lib/addon.js';

// ksim's pool checks every byte of every freed block in the tests (and in the child processes
// they start); the default samples large blocks (native/ksim/src/pool.c). Read when ksim
// initializes, i.e. on the first call into the addon, after this line.
process.env.KSIM_POOL_CHECK ??= 'full';

let baseline = 0;
let expected = 0;

/**
 * For negative tests of the verifier itself: the current test is expected to cause exactly
 * `count` verifier failures (fewer or more still fail it).
 */
export function expectVerifierFailures(count: number): void {
  expected += count;
}

function failures(): { count: number; message: string } {
  return addon().ksim.verifierLastFailure();
}

export const mochaHooks = {
  beforeAll(): void {
    // Keep failures recorded (not aborting) so the test that caused one can report it.
    addon().ksim.setAbortOnFailure(false);
    baseline = failures().count;
  },
  beforeEach(): void {
    baseline = failures().count;
    expected = 0;
  },
  afterEach(this: Mocha.Context): void {
    const now = failures();
    const extra = now.count - baseline;
    const wanted = expected;
    baseline = now.count;
    expected = 0;
    if (extra !== wanted) {
      // Thrown from the hook, mocha reports it against the test that just ran.
      throw new Error(
        `ksim verifier: ${extra} new failure(s) during this test (expected ${wanted})${extra ? `; last: ${now.message}` : ''}`,
      );
    }
  },
};

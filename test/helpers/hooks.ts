// SPDX-License-Identifier: MIT
//
// Mocha root hooks (loaded by .mocharc.json's `require`): ksim's verifier must stay at zero
// failures through every test. A rule violation in the driver (double completion, a request
// completed from a queue, a PASSIVE-only call at DISPATCH_LEVEL, a leak at unload) fails the
// test during which it happened, with the verifier's message.

import { addon } from '../../lib/addon.js';

let baseline = 0;

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
  },
  afterEach(this: Mocha.Context): void {
    const now = failures();
    if (now.count !== baseline) {
      const extra = now.count - baseline;
      baseline = now.count;
      const error = new Error(`ksim verifier: ${extra} new failure(s) during this test; last: ${now.message}`);
      // Fails the current test (mocha attributes an afterEach error to the hook's test).
      throw error;
    }
  },
};

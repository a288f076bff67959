// SPDX-License-Identifier: MIT
//
// The driver-wide bound on NonPaged pool (driver/poolbudget.c, issue 8 finding 10): every
// handle's event ring and socket table count against WSKB_DRIVER_POOL_BUDGET; a HELLO past it
// fails with STATUS_QUOTA_EXCEEDED and a message naming the bound, and a closed handle gives
// its share back. Before the bound, each handle could take 256 MiB of NonPaged pool, without
// limit across handles. Run in a child process with ksim's sampled pool checks, so that the
// two 256 MiB rings are not filled byte by byte (KSIM_POOL_CHECK, native/ksim/src/pool.c).

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { WSKB_DRIVER_POOL_BUDGET, WSKB_EVENT_BUDGET_MAX } from '../lib/protocol.js';

const script = `
const { open } = require(${JSON.stringify(path.join(__dirname, '..', 'lib', 'index.js'))});
(async () => {
  const out = {};
  const max = ${WSKB_EVENT_BUDGET_MAX};
  const a = await open({ backend: 'sim', eventBudget: max });
  const b = await open({ backend: 'sim', eventBudget: max });
  try {
    await open({ backend: 'sim', eventBudget: max });
    out.third = 'opened';
  } catch (error) {
    out.third = { name: error.statusName, message: error.message };
  }
  await a.close();
  const c = await open({ backend: 'sim', eventBudget: max });
  out.afterClose = c.eventBudgetBytes;
  await b.close();
  await c.close();
  console.log(JSON.stringify(out));
})().catch((error) => { console.error(error); process.exit(1); });
`;

describe('driver-wide NonPaged pool bound', () => {
  it('HELLO past WSKB_DRIVER_POOL_BUDGET fails with STATUS_QUOTA_EXCEEDED; a closed handle gives its share back', function () {
    this.timeout(60_000);
    // Two sessions of the largest budget fit (ring: budget + 128 KiB; table: 128 KiB); a third does not.
    assert.ok(2 * (WSKB_EVENT_BUDGET_MAX + (256 << 10)) < WSKB_DRIVER_POOL_BUDGET);
    assert.ok(3 * WSKB_EVENT_BUDGET_MAX > WSKB_DRIVER_POOL_BUDGET);
    const child = spawnSync(process.execPath, ['-e', script], {
      env: { ...process.env, KSIM_POOL_CHECK: 'sampled' },
      encoding: 'utf8',
      timeout: 50_000,
    });
    assert.equal(child.status, 0, child.stderr);
    const out = JSON.parse(child.stdout.trim().split('\n').pop()!);
    assert.equal(out.third.name, 'STATUS_QUOTA_EXCEEDED', JSON.stringify(out));
    assert.match(out.third.message, /WSKB_DRIVER_POOL_BUDGET, 640 MiB/);
    assert.equal(out.afterClose, WSKB_EVENT_BUDGET_MAX);
  });
});

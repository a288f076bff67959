// SPDX-License-Identifier: MIT

import assert from 'node:assert/strict';
import { addon } from '../lib/addon.js';
import { WskError } from '../lib/errors.js';
import { hexStatus, isError, NTSTATUS, statusName, statusValue } from '../lib/ntstatus.js';

describe('NTSTATUS table (lib/ntstatus.ts vs ksim ntddk.h)', () => {
  const native = addon().ntstatusNames();

  it('every status ksim defines is in the table with the same value', () => {
    const wrong = native.filter(([name, value]) => statusValue(name) !== value).map(([name, value]) => `${name}=${hexStatus(value)} (lib: ${statusValue(name) === undefined ? 'missing' : hexStatus(statusValue(name)!)})`);
    assert.deepEqual(wrong, []);
  });

  it('every status of the table is defined by ksim with the same value', () => {
    const theirs = new Map(native);
    const wrong = Object.entries(NTSTATUS).filter(([name, value]) => theirs.get(name) !== value).map(([name]) => name);
    assert.deepEqual(wrong, []);
  });

  it('values map back to names', () => {
    assert.equal(statusName(0xc0000008), 'STATUS_INVALID_HANDLE');
    assert.equal(statusName(0xc0000008 | 0), 'STATUS_INVALID_HANDLE');
    assert.equal(statusName(0x103), 'STATUS_PENDING');
    assert.equal(statusName(0xc0ffee01), 'NTSTATUS_C0FFEE01');
  });

  it('only severity-3 statuses are errors', () => {
    assert.equal(isError(NTSTATUS.STATUS_SUCCESS), false);
    assert.equal(isError(NTSTATUS.STATUS_PENDING), false);
    assert.equal(isError(NTSTATUS.STATUS_EVENT_PENDING), false);
    assert.equal(isError(NTSTATUS.STATUS_BUFFER_OVERFLOW), false);
    assert.equal(isError(NTSTATUS.STATUS_CANCELLED), true);
    assert.equal(isError(0xc0000238), true);
  });

  it('WskError names the operation, the status and its value', () => {
    const error = new WskError('bind', 0xc0000238);
    assert.equal(error.message, 'bind failed: STATUS_ADDRESS_ALREADY_ASSOCIATED (0xC0000238)');
    assert.equal(error.status, 0xc0000238 | 0);
    assert.equal(error.statusName, 'STATUS_ADDRESS_ALREADY_ASSOCIATED');
    assert.equal(error.operation, 'bind');
    assert.ok(error instanceof Error);
  });
});

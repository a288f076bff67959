// SPDX-License-Identifier: MIT

import { hexStatus, statusName, toSigned } from './ntstatus.js';

/**
 * A driver or WSK operation that failed with an error NTSTATUS (severity 3). Informational and
 * warning statuses (STATUS_PENDING, STATUS_EVENT_PENDING, STATUS_BUFFER_OVERFLOW) never throw.
 */
export class WskError extends Error {
  override name = 'WskError';
  /** The NTSTATUS, as a signed 32-bit integer (as in INT32 fields). */
  readonly status: number;
  /** `STATUS_ADDRESS_ALREADY_ASSOCIATED`, or `NTSTATUS_C0001234` for a value not in the table. */
  readonly statusName: string;
  /** What failed: `bind`, `connect`, `socket`, … */
  readonly operation: string;

  constructor(operation: string, status: number, detail?: string) {
    const name = statusName(status);
    super(`${operation} failed: ${name} (${hexStatus(status)})${detail ? `: ${detail}` : ''}`);
    this.status = toSigned(status);
    this.statusName = name;
    this.operation = operation;
  }
}

/** Thrown by an iterator whose AbortSignal fired, as Node core's iterators do. */
export class AbortError extends Error {
  override name = 'AbortError';
  readonly code = 'ABORT_ERR';
  constructor(message = 'The operation was aborted', options?: { cause?: unknown }) {
    super(message, options);
  }
}

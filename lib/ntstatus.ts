// SPDX-License-Identifier: MIT
//
// NTSTATUS values the driver, KMDF or WSK can produce (native/ksim/SUBSET.md's list), with their
// Windows values. test/ntstatus.test.ts checks this table against the one ksim's ntddk.h defines
// (ntstatusNames()), both ways.

/** Name → value, values as signed 32-bit integers (how NTSTATUS travels in INT32 fields). */
export const NTSTATUS = Object.freeze({
  STATUS_SUCCESS: 0x00000000,
  STATUS_TIMEOUT: 0x00000102,
  STATUS_PENDING: 0x00000103,
  STATUS_EVENT_PENDING: 0x40000013,
  STATUS_BUFFER_OVERFLOW: 0x80000005 | 0,
  STATUS_NO_MORE_ENTRIES: 0x8000001a | 0,
  STATUS_UNSUCCESSFUL: 0xc0000001 | 0,
  STATUS_NOT_IMPLEMENTED: 0xc0000002 | 0,
  STATUS_INVALID_HANDLE: 0xc0000008 | 0,
  STATUS_INVALID_PARAMETER: 0xc000000d | 0,
  STATUS_INVALID_DEVICE_REQUEST: 0xc0000010 | 0,
  STATUS_MORE_PROCESSING_REQUIRED: 0xc0000016 | 0,
  STATUS_ACCESS_DENIED: 0xc0000022 | 0,
  STATUS_BUFFER_TOO_SMALL: 0xc0000023 | 0,
  STATUS_INVALID_PARAMETER_MIX: 0xc0000030 | 0,
  STATUS_OBJECT_NAME_NOT_FOUND: 0xc0000034 | 0,
  STATUS_OBJECT_NAME_COLLISION: 0xc0000035 | 0,
  STATUS_DELETE_PENDING: 0xc0000056 | 0,
  STATUS_REVISION_MISMATCH: 0xc0000059 | 0,
  STATUS_INTEGER_OVERFLOW: 0xc0000095 | 0,
  STATUS_INSUFFICIENT_RESOURCES: 0xc000009a | 0,
  STATUS_DEVICE_NOT_READY: 0xc00000a3 | 0,
  STATUS_IO_TIMEOUT: 0xc00000b5 | 0,
  STATUS_FILE_FORCED_CLOSED: 0xc00000b6 | 0,
  STATUS_NOT_SUPPORTED: 0xc00000bb | 0,
  STATUS_REQUEST_NOT_ACCEPTED: 0xc00000d0 | 0,
  STATUS_CANCELLED: 0xc0000120 | 0,
  STATUS_INVALID_CONNECTION: 0xc0000140 | 0,
  STATUS_INVALID_ADDRESS: 0xc0000141 | 0,
  STATUS_INVALID_DEVICE_STATE: 0xc0000184 | 0,
  STATUS_INVALID_BUFFER_SIZE: 0xc0000206 | 0,
  STATUS_INVALID_ADDRESS_COMPONENT: 0xc0000207 | 0,
  STATUS_TOO_MANY_ADDRESSES: 0xc0000209 | 0,
  STATUS_ADDRESS_ALREADY_EXISTS: 0xc000020a | 0,
  STATUS_CONNECTION_DISCONNECTED: 0xc000020c | 0,
  STATUS_CONNECTION_RESET: 0xc000020d | 0,
  STATUS_DATA_NOT_ACCEPTED: 0xc000021b | 0,
  STATUS_NOT_FOUND: 0xc0000225 | 0,
  STATUS_CONNECTION_REFUSED: 0xc0000236 | 0,
  STATUS_GRACEFUL_DISCONNECT: 0xc0000237 | 0,
  STATUS_ADDRESS_ALREADY_ASSOCIATED: 0xc0000238 | 0,
  STATUS_ADDRESS_NOT_ASSOCIATED: 0xc0000239 | 0,
  STATUS_CONNECTION_INVALID: 0xc000023a | 0,
  STATUS_CONNECTION_ACTIVE: 0xc000023b | 0,
  STATUS_NETWORK_UNREACHABLE: 0xc000023c | 0,
  STATUS_HOST_UNREACHABLE: 0xc000023d | 0,
  STATUS_PROTOCOL_UNREACHABLE: 0xc000023e | 0,
  STATUS_PORT_UNREACHABLE: 0xc000023f | 0,
  STATUS_REQUEST_ABORTED: 0xc0000240 | 0,
  STATUS_CONNECTION_ABORTED: 0xc0000241 | 0,
  STATUS_NOINTERFACE: 0xc00002b9 | 0,
} as const);

export type NtStatusName = keyof typeof NTSTATUS;

const byValue = new Map<number, NtStatusName>(
  (Object.entries(NTSTATUS) as Array<[NtStatusName, number]>).map(([name, value]) => [value, name]),
);

/** Normalizes a status given as signed or unsigned 32-bit to the signed form. */
export function toSigned(status: number): number {
  return status | 0;
}

/** `STATUS_INVALID_HANDLE` for 0xC0000008; an unknown value reads as its hex form. */
export function statusName(status: number): string {
  return byValue.get(toSigned(status)) ?? `NTSTATUS_${hexStatus(status).slice(2)}`;
}

/** The value of a known name, or undefined. */
export function statusValue(name: string): number | undefined {
  return Object.prototype.hasOwnProperty.call(NTSTATUS, name) ? NTSTATUS[name as NtStatusName] : undefined;
}

/** `0xC0000008`: eight upper-case hex digits. */
export function hexStatus(status: number): string {
  return `0x${(status >>> 0).toString(16).toUpperCase().padStart(8, '0')}`;
}

/** Severity 3 (0xC…): the only statuses that are errors. Success, informational
 * (STATUS_PENDING, STATUS_EVENT_PENDING) and warnings (STATUS_BUFFER_OVERFLOW) are not. */
export function isError(status: number): boolean {
  return status >>> 30 === 3;
}

/** NT_SUCCESS: severity 0 or 1. */
export function ntSuccess(status: number): boolean {
  return toSigned(status) >= 0;
}

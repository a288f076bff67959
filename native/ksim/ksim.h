/* SPDX-License-Identifier: MIT
 *
 * ksim host-facing API: what the addon (and C test programs, and the fuzzer) call to act as
 * the Windows I/O manager towards the driver. Only user-mode types appear here, so this file
 * can be included next to Node's headers; the simulated kernel headers (include/) are never
 * included by the addon.
 */
#ifndef KSIM_H
#define KSIM_H

#include <stdint.h>
#include <wchar.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct _KSIM_FILE KSIM_FILE;

/* Called exactly once per KsimDeviceIoControl, from any thread (inline from the caller's
 * thread when the driver completes at once, else from the thread that completed the request).
 * Output points at the request's system buffer and is valid only during the call; OutputLength
 * is what the I/O manager copied back (Information, clamped to the output length, 0 on error). */
typedef void KSIM_COMPLETION_CALLBACK(void *Context, int32_t Status, uint64_t Information,
                                      const void *Output, uint32_t OutputLength);

/* Loads the driver on first call (runs DriverEntry); reference counted. Returns NTSTATUS. */
int32_t KsimDriverLoad(void);
/* Drops a reference; the last one runs EvtDriverUnload and the framework teardown, then the
 * verifier checks that no pool allocation, IRP, MDL or host socket is left. */
void KsimDriverUnload(void);

/* CreateFile on a device path such as L"\\\\.\\WskBridge": EvtDeviceFileCreate. NTSTATUS. */
int32_t KsimOpen(const wchar_t *Path, KSIM_FILE **File);
/* DeviceIoControl, the output in a buffer ksim allocates (the system buffer under
 * METHOD_BUFFERED; a stand-in for the caller's buffer under METHOD_xx_DIRECT), handed to the
 * callback. */
void KsimDeviceIoControl(KSIM_FILE *File, uint32_t IoControlCode, const void *Input, uint32_t InputLength,
                         uint32_t OutputLength, KSIM_COMPLETION_CALLBACK *Callback, void *Context);
/* DeviceIoControl into the caller's Output (OutputLength bytes), as the Win32 call does it:
 * METHOD_BUFFERED output is copied back from the system buffer when the request completes;
 * METHOD_OUT_DIRECT output is written by the driver straight into Output through the MDL the
 * I/O manager locks over it (Irp->MdlAddress). Output must stay valid, and must not be read as
 * a result, until the callback, whose Output argument is this buffer. */
void KsimDeviceIoControlEx(KSIM_FILE *File, uint32_t IoControlCode, const void *Input, uint32_t InputLength,
                           void *Output, uint32_t OutputLength, KSIM_COMPLETION_CALLBACK *Callback, void *Context);
/* CancelIoEx(File, NULL): cancels every request of this file still pending. */
void KsimCancelIo(KSIM_FILE *File);
/* CloseHandle: EvtFileCleanup, the framework's flush of queued requests, EvtFileClose.
 * Blocks; when it returns every completion callback of this file has been made. */
void KsimClose(KSIM_FILE *File);

/* ---- verifier ---- */
typedef struct _KSIM_COUNTERS {
    uint64_t PoolAllocations;      /* outstanding pool blocks (all tags) */
    uint64_t PoolBytes;            /* outstanding pool bytes */
    uint64_t PoolAllocationsTotal; /* allocations ever made (fault-injection points are numbered on this) */
    uint64_t Irps;                 /* outstanding IRPs */
    uint64_t Mdls;                 /* outstanding MDLs */
    uint64_t HostSockets;          /* host sockets open under the WSK provider */
    uint64_t WskSockets;           /* WSK sockets not yet closed */
    uint64_t VerifierFailures;     /* rule violations detected so far */
} KSIM_COUNTERS;
void KsimGetCounters(KSIM_COUNTERS *Counters);
/* Outstanding pool blocks carrying Tag (4 chars, as in ExAllocatePool2). */
uint64_t KsimPoolOutstandingByTag(uint32_t Tag);
/* Fail the Nth pool allocation from now (1 = the next one); 0 disables. */
void KsimFailAllocationAfter(uint64_t Nth);
/* Verifier failures: by default each one is recorded (and printed to stderr); in abort mode
 * the process aborts at once with the message (what a bugcheck is to the kernel). */
void KsimVerifierSetAbortOnFailure(int Abort);
/* Copies the most recent failure message (empty if none); returns the failure count. */
uint64_t KsimVerifierLastFailure(char *Buffer, uint32_t BufferLength);

/* The NTSTATUS names ksim's ntddk.h defines, with their values, for the user-mode name
 * table's consistency test. */
typedef struct _KSIM_NAMED_STATUS {
    const char *Name;
    int32_t Value;
} KSIM_NAMED_STATUS;
const KSIM_NAMED_STATUS *KsimNtStatusNames(uint32_t *Count);

#ifdef __cplusplus
}
#endif

#endif /* KSIM_H */

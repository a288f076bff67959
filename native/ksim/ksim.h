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
/* DeviceIoControl (METHOD_BUFFERED semantics). */
void KsimDeviceIoControl(KSIM_FILE *File, uint32_t IoControlCode, const void *Input, uint32_t InputLength,
                         uint32_t OutputLength, KSIM_COMPLETION_CALLBACK *Callback, void *Context);
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
/* Strict WSK: WskControlSocket / WskControlClient ignore an IRP passed where Learn's rule for
 * the code says NULL (never complete it), as the worst conforming netio may; the call is a
 * verifier failure either way. Strict mode also ignores the IRP of a code Learn gives no rule
 * for (e.g. SO_TYPE), which a conforming netio may do (no failure: the caller cannot know).
 * 1 on, 0 off; until called, the environment variable KSIM_WSK_STRICT=1 (read at each call)
 * decides. */
void KsimSetStrictWsk(int Strict);

/* ---- test hooks (C tests only; the addon never sets one) ----
 * A test holds a race window open at a named point inside the simulated kernel: the hook runs
 * on the thread that reached the point, at that thread's IRQL, and may block (bounded) while
 * other threads act. That is a schedule a real multiprocessor produces whenever the thread is
 * preempted or interrupted there, so every interleaving a hook forces is one Windows can take;
 * the hook only makes it certain instead of rare. Object names what the point concerns. */
typedef enum _KSIM_HOOK_POINT {
    KsimHookAllocationFails = 1, /* an injected failure (KsimFailAllocationAfter) is about to be
                                    returned to the driver; Object: the routine's name (char *) */
    KsimHookCancelIrp = 2,       /* IoCancelIrp was called, before it touches the IRP; Object: the IRP */
} KSIM_HOOK_POINT;
typedef void KSIM_TEST_HOOK(void *Context, KSIM_HOOK_POINT Point, const void *Object);
/* One hook per process; NULL removes it. Returns once no call of the previous hook is
 * running (so do not call it from inside a hook). */
void KsimSetTestHook(KSIM_TEST_HOOK *Hook, void *Context);

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

/* SPDX-License-Identifier: MIT
 *
 * ksim internals shared by the core (pool, IRQL, IRPs, MDLs, KMDF, I/O manager, verifier)
 * and the WSK provider (wsk_*.c). Driver sources never include this file.
 *
 * Rules for code inside ksim:
 *  - ksim's own structures come from KsimHostAlloc, never from ExAllocatePool2, so that the
 *    pool counters and fault injection see the driver's allocations only.
 *  - A rule the driver breaks is reported with KsimVerifierFail (recorded, printed, or an
 *    abort under KSIM_VERIFIER_ABORT=1), never by crashing.
 */
#ifndef KSIM_INTERNAL_H
#define KSIM_INTERNAL_H

#include <ntddk.h>
#include <wdf.h>
#include "ksim.h"
#include "../host/host_sync.h"
#include "ksim_sched.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- the driver under test ---- */

/* Provided by driver/ (or by a test's toy driver). */
DRIVER_INITIALIZE DriverEntry;

/* ---- verifier ---- */

/* Records a rule violation (what a bugcheck or a Driver Verifier break is on Windows): counted,
 * kept as the last failure, printed to stderr; aborts in abort mode. Returns normally
 * otherwise, so the caller must leave things in a safe state. */
void KsimVerifierFail(_Printf_format_string_ const char *Format, ...) __attribute__((format(printf, 1, 2)));

/* A verifier failure naming Routine when the current IRQL is above MaxIrql. Returns TRUE
 * when the IRQL is acceptable. */
BOOLEAN KsimCheckIrql(_In_z_ const char *Routine, _In_ KIRQL MaxIrql);

/* For callers that invoke driver code (the I/O manager, the WSK provider): call after the
 * driver's callback returns. A verifier failure if the thread is not back at ExpectedIrql or
 * still holds spin locks; the thread's IRQL is then restored so the failure does not cascade. */
void KsimCheckCallbackReturn(_In_z_ const char *Callback, _In_ KIRQL ExpectedIrql);

/* Prints when KSIM_DEBUG=1. */
void KsimDebugPrint(_Printf_format_string_ const char *Format, ...) __attribute__((format(printf, 1, 2)));

/* Implemented by the WSK provider (wsk_*.c). */
void KsimWskGetCounters(uint64_t *HostSockets, uint64_t *WskSockets);
uint64_t KsimWskHostDatagramsDropped(void);

/* ---- fault injection ---- */

/* Every allocation the driver can see fail calls this once: ExAllocatePool2, IoAllocateIrp,
 * IoAllocateMdl and the KMDF object creations the driver requests. Returns TRUE when this
 * allocation must fail (KsimFailAllocationAfter). What names the routine, for the log. */
BOOLEAN KsimFaultInjectShouldFail(_In_z_ const char *What);

/* Runs the test's hook (KsimSetTestHook), if any, at Point. */
void KsimTestHook(KSIM_HOOK_POINT Point, const void *Object);

/* ---- IRPs, as seen by a provider ---- */

/* What a provider does when a Wsk* routine receives an IRP: move to the stack location the
 * client prepared with IoSetCompletionRoutine (as IoCallDriver does) and mark it pending.
 * From here until IoCompleteRequest the provider holds the IRP: freeing or reusing it is a
 * verifier failure. */
VOID KsimIrpProviderAccept(_Inout_ PIRP Irp);

/* ---- core-private (not for the WSK provider) ---- */

typedef struct _KSIM_THREAD {
    KIRQL Irql;
    LONG SpinLocksHeld;
    /* The I/O manager is dispatching a user request on this thread: the scheduler's
     * AfterDispatch follows on it (ksim_sched.h). */
    UCHAR DispatchDepth;
    /* Scheduler plug-ins' per-thread flag: a kick this thread will act on itself. */
    BOOLEAN KickDeferred;
    BOOLEAN IsSystemThread;
    struct _KSIM_SYSTEM_THREAD *SystemThread;
    /* KsimOpenOnNetwork: the network the WSK client registered by this open gets
     * (KSIM_OPEN_NETWORK_*; 0 = the default). */
    int OpenNetwork;
    /* ksim's own host mutexes held (the framework's, the global one): the deterministic
     * scheduler never switches fibers then, since another fiber on the same host thread
     * taking the same mutex would deadlock the process. */
    LONG HostLocksHeld;
} KSIM_THREAD;

#define KSIM_OPEN_NETWORK_HOST 1
#define KSIM_OPEN_NETWORK_MEMORY 2

KSIM_THREAD *KsimCurrentThread(void);
const char *KsimIrqlName(KIRQL Irql);

/* Process-wide initialization, once (every public entry point calls it). */
void KsimEnsureInitialized(void);
void KsimCoreInitialize(void);
int KsimFormat(char *Buffer, size_t Size, const char *Format, ...) __attribute__((format(printf, 3, 4)));
uint64_t KsimVerifierFailureCount(void);
const char *KsimTagText(ULONG Tag, char Text[5]);
/* KsimHostFree, delayed: the block stays readable (with its poisoned magic) for a while. */
void KsimDeferredFree(void *Block);

/* An MDL for ksim's own buffers (the WSK provider's receive indications): counted as
 * outstanding like any MDL, never a fault-injection point, already built for nonpaged pool. */
PMDL KsimMdlAllocateInternal(_In_opt_ PVOID VirtualAddress, _In_ ULONG Length);
/* The I/O manager's MDL over a caller's buffer for METHOD_IN_DIRECT / METHOD_OUT_DIRECT: what
 * IoAllocateMdl + MmProbeAndLockPages build (MDL_PAGES_LOCKED, MDL_WRITE_OPERATION when the
 * device writes), mapped on the first MmGetSystemAddressForMdlSafe. Freed (MmUnlockPages +
 * IoFreeMdl) by the I/O manager when the request completes. Not a fault-injection point. */
PMDL KsimMdlProbeAndLockUser(_In_ PVOID VirtualAddress, _In_ ULONG Length, _In_ BOOLEAN DeviceWrites);
VOID KsimMdlUnlockAndFree(_In_ PMDL Mdl);

/* One process-wide lock for the slow paths of ksim's own bookkeeping (lists of IRPs, MDLs,
 * system threads, symbolic links, devices). Never held while calling driver code. */
void KsimGlobalLock(void);
void KsimGlobalUnlock(void);

/* Wait machinery (KsimWaitOn, KsimWakeAddress), the clock (KsimNowNs) and the switch points
 * go through the scheduler seam: ksim_sched.h. */

/* Pool, IRP, MDL and system-thread accounting for the verifier. */
void KsimPoolCounters(uint64_t *Allocations, uint64_t *Bytes, uint64_t *Total);
/* KSIM_POOL_CHECK=full (every byte of a freed block poisoned and checked) or sampled (pool.c). */
int KsimPoolCheckIsFull(void);
void KsimPoolSetCheckFull(int Full);
void KsimPoolFlushQuarantine(void);
/* Lookaside lists initialized and never deleted: a verifier failure each (at unload). */
uint64_t KsimLookasideReportLeaks(const char *When);
/* Reports every outstanding pool block once (by tag); returns the number of blocks. */
uint64_t KsimPoolReportLeaks(_In_z_ const char *When);
uint64_t KsimIrpOutstanding(void);
uint64_t KsimMdlOutstanding(void);
uint64_t KsimIrpReportLeaks(_In_z_ const char *When);
uint64_t KsimMdlReportLeaks(_In_z_ const char *When);
uint64_t KsimSystemThreadsRunning(void);
/* IoSetCompletionRoutineEx contexts whose routine has not returned yet (each holds the
 * driver's image), and a wait until there are none (the end of a driver's unload). */
uint64_t KsimCompletionExOutstanding(void);
void KsimWaitCompletionExDrained(void);
uint64_t KsimFaultInjectionPoints(void);

/* KMDF side used by the I/O manager (wdf_*.c). */
typedef struct _KSIM_WDF_DEVICE KSIM_WDF_DEVICE;
typedef struct _KSIM_WDF_FILE KSIM_WDF_FILE;
BOOLEAN KsimWdfDriverCreated(void);
uint64_t KsimWdfDeviceCount(void);

/* Names "\\.\Name" -> the device, via \DosDevices\Name; NULL if none. Takes a reference on
 * the device (KsimWdfDeviceRelease). */
KSIM_WDF_DEVICE *KsimWdfLookupDevice(_In_z_ const wchar_t *Path);
void KsimWdfDeviceRelease(KSIM_WDF_DEVICE *Device);

#ifdef __cplusplus
}
#endif

#endif /* KSIM_INTERNAL_H */

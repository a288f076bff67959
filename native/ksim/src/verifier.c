/* SPDX-License-Identifier: MIT
 *
 * ksim verifier: failure recording (the simulated bugcheck), counters, fault injection,
 * debug output, ASSERT and list-corruption reports.
 */
#include "ksim_internal.h"

#define KSIM_FAILURE_TEXT 2048

static KSIM_HOST_MUTEX *VerifierLock;
static char LastFailure[KSIM_FAILURE_TEXT];
static volatile uint64_t FailureCount;
static volatile int AbortOnFailure;
static volatile int DebugOutput;
static volatile uint64_t FaultCountdown;
static volatile uint64_t FaultPoints;
static volatile int InitState;

/* Runs once per process, before any other ksim state is touched. A tiny once-gate on
 * atomics: the host layer has no static initializers for its mutexes. */
void KsimCoreInitialize(void);

static void VerifierInitializeOnce(void)
{
    int Expected = 0;
    if (__atomic_load_n(&InitState, __ATOMIC_ACQUIRE) == 2)
        return;
    if (__atomic_compare_exchange_n(&InitState, &Expected, 1, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
        const char *Abort = KsimHostGetEnv("KSIM_VERIFIER_ABORT");
        const char *Debug = KsimHostGetEnv("KSIM_DEBUG");
        VerifierLock = KsimHostMutexCreate();
        AbortOnFailure = Abort && Abort[0] == '1';
        DebugOutput = Debug && Debug[0] == '1';
        KsimCoreInitialize();
        __atomic_store_n(&InitState, 2, __ATOMIC_RELEASE);
        return;
    }
    while (__atomic_load_n(&InitState, __ATOMIC_ACQUIRE) != 2)
        KsimHostYield();
}

void KsimEnsureInitialized(void)
{
    VerifierInitializeOnce();
}

int KsimFormat(char *Buffer, size_t Size, const char *Format, ...)
{
    va_list Arguments;
    int Result;
    va_start(Arguments, Format);
    Result = KsimHostFormatV(Buffer, Size, Format, Arguments);
    va_end(Arguments);
    return Result;
}

static void VerifierFailV(const char *Format, va_list Arguments)
{
    char Message[KSIM_FAILURE_TEXT];
    char Line[KSIM_FAILURE_TEXT + 64];
    uint64_t Count;

    VerifierInitializeOnce();
    KsimHostFormatV(Message, sizeof(Message), Format, Arguments);
    KsimHostMutexLock(VerifierLock);
    Count = __atomic_add_fetch(&FailureCount, 1, __ATOMIC_SEQ_CST);
    __builtin_memcpy(LastFailure, Message, sizeof(LastFailure));
    LastFailure[sizeof(LastFailure) - 1] = '\0';
    KsimHostMutexUnlock(VerifierLock);

    KsimFormat(Line, sizeof(Line), "ksim verifier failure #%llu: %s\n", (unsigned long long)Count, Message);
    KsimHostWriteStderr(Line);
    if (__atomic_load_n(&AbortOnFailure, __ATOMIC_ACQUIRE)) {
        KsimHostWriteStderr("ksim: KSIM_VERIFIER_ABORT is set: aborting (the simulated bugcheck)\n");
        KsimHostAbort();
    }
}

void KsimVerifierFail(const char *Format, ...)
{
    va_list Arguments;
    va_start(Arguments, Format);
    VerifierFailV(Format, Arguments);
    va_end(Arguments);
}

void KsimVerifierSetAbortOnFailure(int Abort)
{
    VerifierInitializeOnce();
    __atomic_store_n(&AbortOnFailure, Abort ? 1 : 0, __ATOMIC_RELEASE);
}

uint64_t KsimVerifierLastFailure(char *Buffer, uint32_t BufferLength)
{
    uint64_t Count;
    VerifierInitializeOnce();
    KsimHostMutexLock(VerifierLock);
    Count = __atomic_load_n(&FailureCount, __ATOMIC_SEQ_CST);
    if (Buffer && BufferLength) {
        size_t Length = __builtin_strlen(LastFailure);
        if (Length >= BufferLength)
            Length = BufferLength - 1;
        __builtin_memcpy(Buffer, LastFailure, Length);
        Buffer[Length] = '\0';
    }
    KsimHostMutexUnlock(VerifierLock);
    return Count;
}

uint64_t KsimVerifierFailureCount(void)
{
    return __atomic_load_n(&FailureCount, __ATOMIC_SEQ_CST);
}

void KsimDebugPrint(const char *Format, ...)
{
    char Message[1024];
    va_list Arguments;
    VerifierInitializeOnce();
    if (!DebugOutput)
        return;
    va_start(Arguments, Format);
    KsimHostFormatV(Message, sizeof(Message), Format, Arguments);
    va_end(Arguments);
    KsimHostWriteStderr(Message);
}

ULONG
DbgPrintEx(ULONG ComponentId, ULONG Level, PCSTR Format, ...)
{
    char Message[1024];
    va_list Arguments;
    UNREFERENCED_PARAMETER(ComponentId);
    UNREFERENCED_PARAMETER(Level);
    VerifierInitializeOnce();
    if (!DebugOutput)
        return 0; /* STATUS_SUCCESS */
    va_start(Arguments, Format);
    KsimHostFormatV(Message, sizeof(Message), Format, Arguments);
    va_end(Arguments);
    KsimHostWriteStderr(Message);
    return 0;
}

ULONG
DbgPrint(PCSTR Format, ...)
{
    char Message[1024];
    va_list Arguments;
    VerifierInitializeOnce();
    if (!DebugOutput)
        return 0;
    va_start(Arguments, Format);
    KsimHostFormatV(Message, sizeof(Message), Format, Arguments);
    va_end(Arguments);
    KsimHostWriteStderr(Message);
    return 0;
}

VOID
KsimAssertFailed(PCSTR Expression, PCSTR File, ULONG Line)
{
    KsimVerifierFail("ASSERT(%s) failed at %s:%u", Expression, File, (unsigned)Line);
}

VOID
KsimListCorrupted(PLIST_ENTRY Entry)
{
    /* Windows raises FAST_FAIL_CORRUPT_LIST_ENTRY (bugcheck 0x139); the list is left as is. */
    KsimVerifierFail("corrupted LIST_ENTRY at %p (Flink/Blink do not point back): the list was not modified",
                     (void *)Entry);
}

/* ---- deferred frees ----
 * IRPs and MDLs are kept a while after they are freed, with a poisoned magic, so that a
 * second free or a late use is recognized instead of reading memory the host reused. */

#define KSIM_DEFERRED_FREES 2048
static void *DeferredFrees[KSIM_DEFERRED_FREES];
static unsigned DeferredNext;

void KsimDeferredFree(void *Block)
{
    void *Evicted;
    VerifierInitializeOnce();
    KsimHostMutexLock(VerifierLock);
    Evicted = DeferredFrees[DeferredNext];
    DeferredFrees[DeferredNext] = Block;
    DeferredNext = (DeferredNext + 1) % KSIM_DEFERRED_FREES;
    KsimHostMutexUnlock(VerifierLock);
    KsimHostFree(Evicted);
}

/* ---- fault injection ---- */

void KsimFailAllocationAfter(uint64_t Nth)
{
    VerifierInitializeOnce();
    __atomic_store_n(&FaultCountdown, Nth, __ATOMIC_SEQ_CST);
}

BOOLEAN KsimFaultInjectShouldFail(const char *What)
{
    uint64_t Remaining;
    VerifierInitializeOnce();
    __atomic_add_fetch(&FaultPoints, 1, __ATOMIC_SEQ_CST);
    Remaining = __atomic_load_n(&FaultCountdown, __ATOMIC_SEQ_CST);
    while (Remaining != 0) {
        if (__atomic_compare_exchange_n(&FaultCountdown, &Remaining, Remaining - 1, 0, __ATOMIC_SEQ_CST,
                                        __ATOMIC_SEQ_CST)) {
            if (Remaining == 1) {
                KsimDebugPrint("ksim: fault injection: %s fails\n", What);
                KsimTestHook(KsimHookAllocationFails, What);
                return TRUE;
            }
            return FALSE;
        }
    }
    return FALSE;
}

/* ---- test hooks ---- */

typedef struct _KSIM_HOOK_SLOT {
    KSIM_TEST_HOOK *Hook;
    void *Context;
} KSIM_HOOK_SLOT;
static KSIM_HOOK_SLOT *volatile TestHookSlot;
static volatile LONG TestHookCalls; /* calls in flight */

void KsimSetTestHook(KSIM_TEST_HOOK *Hook, void *Context)
{
    KSIM_HOOK_SLOT *Slot = NULL, *Old;
    VerifierInitializeOnce();
    if (Hook) {
        Slot = (KSIM_HOOK_SLOT *)KsimHostAllocZero(sizeof(*Slot));
        if (!Slot) {
            KsimHostWriteStderr("ksim: out of host memory\n");
            KsimHostAbort();
        }
        Slot->Hook = Hook;
        Slot->Context = Context;
    }
    Old = __atomic_exchange_n(&TestHookSlot, Slot, __ATOMIC_SEQ_CST);
    /* Returns once no call of the previous hook runs any more, so the caller may free what
     * that hook's context points to. */
    while (__atomic_load_n(&TestHookCalls, __ATOMIC_SEQ_CST) != 0)
        KsimHostYield();
    KsimHostFree(Old);
}

void KsimTestHook(KSIM_HOOK_POINT Point, const void *Object)
{
    KSIM_HOOK_SLOT *Slot;
    __atomic_add_fetch(&TestHookCalls, 1, __ATOMIC_SEQ_CST);
    Slot = __atomic_load_n(&TestHookSlot, __ATOMIC_SEQ_CST);
    if (Slot)
        Slot->Hook(Slot->Context, Point, Object);
    __atomic_sub_fetch(&TestHookCalls, 1, __ATOMIC_SEQ_CST);
}

uint64_t KsimFaultInjectionPoints(void)
{
    return __atomic_load_n(&FaultPoints, __ATOMIC_SEQ_CST);
}

/* ---- counters ---- */

void KsimGetCounters(KSIM_COUNTERS *Counters)
{
    uint64_t Allocations, Bytes, Total, HostSockets = 0, WskSockets = 0;
    VerifierInitializeOnce();
    KsimPoolCounters(&Allocations, &Bytes, &Total);
    KsimWskGetCounters(&HostSockets, &WskSockets);
    Counters->PoolAllocations = Allocations;
    Counters->PoolBytes = Bytes;
    Counters->PoolAllocationsTotal = KsimFaultInjectionPoints();
    Counters->Irps = KsimIrpOutstanding();
    Counters->Mdls = KsimMdlOutstanding();
    Counters->HostSockets = HostSockets;
    Counters->WskSockets = WskSockets;
    Counters->VerifierFailures = KsimVerifierFailureCount();
    (void)Total;
}

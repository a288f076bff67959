/* SPDX-License-Identifier: MIT
 *
 * ksim kernel core: per-thread IRQL, spin locks, dispatcher waits (events, threads),
 * rundown protection, time, system threads and the thread-object handles they return.
 *
 * IRQL is a per-thread number: nothing is masked, but every routine checks the level the
 * WDK documents for it, and code that returns to ksim at a raised level is reported.
 */
#include "ksim_internal.h"

/* ---- per-thread state ---- */

KSIM_THREAD *KsimCurrentThread(void)
{
    KSIM_THREAD *Thread = KsimHostTlsGet();
    if (!Thread) {
        KsimEnsureInitialized();
        Thread = KsimHostAllocZero(sizeof(*Thread));
        if (!Thread) {
            KsimHostWriteStderr("ksim: out of host memory for thread state\n");
            KsimHostAbort();
        }
        Thread->Irql = PASSIVE_LEVEL;
        KsimHostTlsSet(Thread);
    }
    return Thread;
}

static const char *IrqlName(KIRQL Irql)
{
    switch (Irql) {
    case PASSIVE_LEVEL:
        return "PASSIVE_LEVEL";
    case APC_LEVEL:
        return "APC_LEVEL";
    case DISPATCH_LEVEL:
        return "DISPATCH_LEVEL";
    default:
        return "a device IRQL";
    }
}

const char *KsimIrqlName(KIRQL Irql)
{
    return IrqlName(Irql);
}

BOOLEAN KsimCheckIrql(const char *Routine, KIRQL MaxIrql)
{
    KIRQL Irql = KsimCurrentThread()->Irql;
    if (Irql <= MaxIrql)
        return TRUE;
    KsimVerifierFail("%s called at %s (%u); it requires IRQL <= %s", Routine, IrqlName(Irql), Irql, IrqlName(MaxIrql));
    return FALSE;
}

void KsimCheckCallbackReturn(const char *Callback, KIRQL ExpectedIrql)
{
    KSIM_THREAD *Thread = KsimCurrentThread();
    if (Thread->SpinLocksHeld > 0)
        KsimVerifierFail("%s returned holding %d spin lock(s)", Callback, (int)Thread->SpinLocksHeld);
    if (Thread->Irql != ExpectedIrql) {
        KsimVerifierFail("%s returned at %s (%u), it was called at %s (%u)", Callback, IrqlName(Thread->Irql),
                         Thread->Irql, IrqlName(ExpectedIrql), ExpectedIrql);
        Thread->Irql = ExpectedIrql;
    }
}

VOID
KsimPagedCodeCheck(PCSTR Function)
{
    KIRQL Irql = KsimCurrentThread()->Irql;
    if (Irql > APC_LEVEL)
        KsimVerifierFail("PAGED_CODE() in %s reached at %s (%u): pageable code must run at IRQL <= APC_LEVEL",
                         Function, IrqlName(Irql), Irql);
}

KIRQL
KeGetCurrentIrql(VOID)
{
    return KsimCurrentThread()->Irql;
}

KIRQL
KfRaiseIrql(KIRQL NewIrql)
{
    KSIM_THREAD *Thread = KsimCurrentThread();
    KIRQL Old = Thread->Irql;
    if (NewIrql < Old) {
        /* IRQL_NOT_GREATER_OR_EQUAL on Windows. */
        KsimVerifierFail("KeRaiseIrql to %s (%u) from the higher %s (%u)", IrqlName(NewIrql), NewIrql, IrqlName(Old), Old);
        return Old;
    }
    Thread->Irql = NewIrql;
    return Old;
}

VOID
KeLowerIrql(KIRQL NewIrql)
{
    KSIM_THREAD *Thread = KsimCurrentThread();
    if (NewIrql > Thread->Irql) {
        /* IRQL_NOT_LESS_OR_EQUAL on Windows. */
        KsimVerifierFail("KeLowerIrql to %s (%u) from the lower %s (%u)", IrqlName(NewIrql), NewIrql,
                         IrqlName(Thread->Irql), Thread->Irql);
        return;
    }
    Thread->Irql = NewIrql;
    KsimSwitchPoint(KsimSwitchIrqlLower);
}

KIRQL
KeRaiseIrqlToDpcLevel(VOID)
{
    return KfRaiseIrql(DISPATCH_LEVEL);
}

/* ---- spin locks ----
 * A KSPIN_LOCK stays a ULONG_PTR as in the WDK (WSK_REGISTRATION embeds one): it holds 0 or
 * the owning thread's state pointer. Owning a lock is what lets ksim report a recursive
 * acquisition (a deadlock on Windows) instead of hanging. */

static void SpinLockAcquire(PKSPIN_LOCK SpinLock, const char *Routine)
{
    KSIM_THREAD *Thread = KsimCurrentThread();
    ULONG_PTR Self = (ULONG_PTR)Thread;
    unsigned Spins = 0;

    if (__atomic_load_n(SpinLock, __ATOMIC_RELAXED) == Self) {
        KsimVerifierFail("%s: spin lock %p is already held by this thread (a deadlock on Windows)", Routine,
                         (void *)SpinLock);
        return;
    }
    for (;;) {
        ULONG_PTR Expected = 0;
        if (__atomic_compare_exchange_n(SpinLock, &Expected, Self, 0, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
            break;
        if (++Spins >= 64) {
            KsimHostYield();
            Spins = 0;
        }
    }
    Thread->SpinLocksHeld++;
}

static void SpinLockRelease(PKSPIN_LOCK SpinLock, const char *Routine)
{
    KSIM_THREAD *Thread = KsimCurrentThread();
    ULONG_PTR Owner = __atomic_load_n(SpinLock, __ATOMIC_RELAXED);
    if (Owner != (ULONG_PTR)Thread) {
        KsimVerifierFail("%s: spin lock %p is %s", Routine, (void *)SpinLock,
                         Owner ? "held by another thread" : "not held");
        return;
    }
    __atomic_store_n(SpinLock, 0, __ATOMIC_RELEASE);
    Thread->SpinLocksHeld--;
    KsimSwitchPoint(KsimSwitchLockRelease);
}

VOID
KeInitializeSpinLock(PKSPIN_LOCK SpinLock)
{
    *SpinLock = 0;
}

KIRQL
KeAcquireSpinLockRaiseToDpc(PKSPIN_LOCK SpinLock)
{
    KIRQL Old;
    KsimCheckIrql("KeAcquireSpinLock", DISPATCH_LEVEL);
    Old = KfRaiseIrql(DISPATCH_LEVEL);
    SpinLockAcquire(SpinLock, "KeAcquireSpinLock");
    return Old;
}

VOID
KeReleaseSpinLock(PKSPIN_LOCK SpinLock, KIRQL NewIrql)
{
    if (KsimCurrentThread()->Irql != DISPATCH_LEVEL)
        KsimVerifierFail("KeReleaseSpinLock called at %s; it requires DISPATCH_LEVEL",
                         IrqlName(KsimCurrentThread()->Irql));
    SpinLockRelease(SpinLock, "KeReleaseSpinLock");
    KeLowerIrql(NewIrql);
}

VOID
KeAcquireSpinLockAtDpcLevel(PKSPIN_LOCK SpinLock)
{
    if (KsimCurrentThread()->Irql < DISPATCH_LEVEL)
        KsimVerifierFail("KeAcquireSpinLockAtDpcLevel called at %s; it requires DISPATCH_LEVEL",
                         IrqlName(KsimCurrentThread()->Irql));
    SpinLockAcquire(SpinLock, "KeAcquireSpinLockAtDpcLevel");
}

VOID
KeReleaseSpinLockFromDpcLevel(PKSPIN_LOCK SpinLock)
{
    if (KsimCurrentThread()->Irql < DISPATCH_LEVEL)
        KsimVerifierFail("KeReleaseSpinLockFromDpcLevel called at %s; it requires DISPATCH_LEVEL",
                         IrqlName(KsimCurrentThread()->Irql));
    SpinLockRelease(SpinLock, "KeReleaseSpinLockFromDpcLevel");
}

VOID
KeAcquireInStackQueuedSpinLock(PKSPIN_LOCK SpinLock, PKLOCK_QUEUE_HANDLE LockHandle)
{
    KsimCheckIrql("KeAcquireInStackQueuedSpinLock", DISPATCH_LEVEL);
    LockHandle->LockQueue.Next = NULL;
    LockHandle->LockQueue.Lock = SpinLock;
    LockHandle->OldIrql = KfRaiseIrql(DISPATCH_LEVEL);
    SpinLockAcquire(SpinLock, "KeAcquireInStackQueuedSpinLock");
}

VOID
KeReleaseInStackQueuedSpinLock(PKLOCK_QUEUE_HANDLE LockHandle)
{
    if (KsimCurrentThread()->Irql != DISPATCH_LEVEL)
        KsimVerifierFail("KeReleaseInStackQueuedSpinLock called at %s; it requires DISPATCH_LEVEL",
                         IrqlName(KsimCurrentThread()->Irql));
    SpinLockRelease(LockHandle->LockQueue.Lock, "KeReleaseInStackQueuedSpinLock");
    KeLowerIrql(LockHandle->OldIrql);
}

VOID
KeAcquireInStackQueuedSpinLockAtDpcLevel(PKSPIN_LOCK SpinLock, PKLOCK_QUEUE_HANDLE LockHandle)
{
    if (KsimCurrentThread()->Irql < DISPATCH_LEVEL)
        KsimVerifierFail("KeAcquireInStackQueuedSpinLockAtDpcLevel called at %s; it requires DISPATCH_LEVEL",
                         IrqlName(KsimCurrentThread()->Irql));
    LockHandle->LockQueue.Next = NULL;
    LockHandle->LockQueue.Lock = SpinLock;
    LockHandle->OldIrql = DISPATCH_LEVEL;
    SpinLockAcquire(SpinLock, "KeAcquireInStackQueuedSpinLockAtDpcLevel");
}

VOID
KeReleaseInStackQueuedSpinLockFromDpcLevel(PKLOCK_QUEUE_HANDLE LockHandle)
{
    if (KsimCurrentThread()->Irql < DISPATCH_LEVEL)
        KsimVerifierFail("KeReleaseInStackQueuedSpinLockFromDpcLevel called at %s; it requires DISPATCH_LEVEL",
                         IrqlName(KsimCurrentThread()->Irql));
    SpinLockRelease(LockHandle->LockQueue.Lock, "KeReleaseInStackQueuedSpinLockFromDpcLevel");
}

/* ---- wait buckets ----
 * Waitable state lives in the objects themselves (a KEVENT is 24 bytes, as in the WDK, and
 * needs no teardown); waiters sleep on one of a fixed set of host condition variables chosen
 * by the object's address. */

#define KSIM_WAIT_BUCKETS 64

typedef struct _KSIM_WAIT_BUCKET {
    KSIM_HOST_MUTEX *Mutex;
    KSIM_HOST_COND *Cond;
} KSIM_WAIT_BUCKET;

static KSIM_WAIT_BUCKET WaitBuckets[KSIM_WAIT_BUCKETS];
static KSIM_HOST_MUTEX *GlobalMutex;
static uint64_t BootNs;

static KSIM_WAIT_BUCKET *BucketOf(const volatile void *Address)
{
    uintptr_t Value = (uintptr_t)Address;
    Value ^= Value >> 17;
    Value *= 0x9E3779B97F4A7C15ull;
    return &WaitBuckets[(Value >> 40) % KSIM_WAIT_BUCKETS];
}

BOOLEAN KsimHostWaitOn(const volatile void *Address, KSIM_WAIT_PREDICATE *Predicate, void *Context, uint64_t DeadlineNs)
{
    KSIM_WAIT_BUCKET *Bucket = BucketOf(Address);
    BOOLEAN Satisfied;
    KsimHostMutexLock(Bucket->Mutex);
    for (;;) {
        Satisfied = Predicate(Context);
        if (Satisfied)
            break;
        if (KsimHostCondWaitUntil(Bucket->Cond, Bucket->Mutex, DeadlineNs)) {
            Satisfied = Predicate(Context);
            break;
        }
    }
    KsimHostMutexUnlock(Bucket->Mutex);
    return Satisfied;
}

void KsimHostWakeAddress(const volatile void *Address, KSIM_WAIT_UPDATE *Update, void *Context)
{
    KSIM_WAIT_BUCKET *Bucket = BucketOf(Address);
    KsimHostMutexLock(Bucket->Mutex);
    if (Update)
        Update(Context);
    KsimHostCondBroadcast(Bucket->Cond);
    KsimHostMutexUnlock(Bucket->Mutex);
}

void KsimGlobalLock(void)
{
    KsimEnsureInitialized();
    KsimHostMutexLock(GlobalMutex);
    KsimCurrentThread()->HostLocksHeld++;
}

void KsimGlobalUnlock(void)
{
    KsimCurrentThread()->HostLocksHeld--;
    KsimHostMutexUnlock(GlobalMutex);
}

void KsimKeInitialize(void)
{
    for (int i = 0; i < KSIM_WAIT_BUCKETS; ++i) {
        WaitBuckets[i].Mutex = KsimHostMutexCreate();
        WaitBuckets[i].Cond = KsimHostCondCreate();
    }
    GlobalMutex = KsimHostMutexCreate();
    BootNs = KsimNowNs();
}

void KsimKeClockReset(void)
{
    BootNs = KsimNowNs();
}

/* ---- events ---- */

#define KSIM_OBJECT_NOTIFICATION_EVENT 0
#define KSIM_OBJECT_SYNCHRONIZATION_EVENT 1
#define KSIM_OBJECT_THREAD 6
#define KSIM_EVENT_SIZE_UNITS ((UCHAR)(sizeof(KEVENT) / sizeof(LONG)))

VOID
KeInitializeEvent(PRKEVENT Event, EVENT_TYPE Type, BOOLEAN State)
{
    if (Type != NotificationEvent && Type != SynchronizationEvent)
        KsimVerifierFail("KeInitializeEvent(%p): invalid EVENT_TYPE %d", (void *)Event, (int)Type);
    Event->Header.Type = (UCHAR)Type;
    Event->Header.Signalling = 0;
    Event->Header.Size = KSIM_EVENT_SIZE_UNITS;
    Event->Header.Reserved1 = 0;
    __atomic_store_n(&Event->Header.SignalState, State ? 1 : 0, __ATOMIC_SEQ_CST);
    InitializeListHead(&Event->Header.WaitListHead);
}

static BOOLEAN EventIsValid(PRKEVENT Event, const char *Routine)
{
    if (Event == NULL || Event->Header.Size != KSIM_EVENT_SIZE_UNITS ||
        (Event->Header.Type != KSIM_OBJECT_NOTIFICATION_EVENT && Event->Header.Type != KSIM_OBJECT_SYNCHRONIZATION_EVENT)) {
        KsimVerifierFail("%s(%p): not an initialized KEVENT", Routine, (void *)Event);
        return FALSE;
    }
    return TRUE;
}

typedef struct _EVENT_SET {
    PRKEVENT Event;
    LONG Previous;
    LONG NewState;
} EVENT_SET;

static void EventSetState(void *Context)
{
    EVENT_SET *Set = Context;
    Set->Previous = __atomic_exchange_n(&Set->Event->Header.SignalState, Set->NewState, __ATOMIC_SEQ_CST);
}

LONG
KeSetEvent(PRKEVENT Event, KPRIORITY Increment, BOOLEAN Wait)
{
    EVENT_SET Set = { Event, 0, 1 };
    UNREFERENCED_PARAMETER(Increment);
    UNREFERENCED_PARAMETER(Wait);
    KsimCheckIrql("KeSetEvent", DISPATCH_LEVEL);
    if (!EventIsValid(Event, "KeSetEvent"))
        return 0;
    KsimWakeAddress(Event, EventSetState, &Set);
    return Set.Previous;
}

LONG
KeResetEvent(PRKEVENT Event)
{
    EVENT_SET Set = { Event, 0, 0 };
    KsimCheckIrql("KeResetEvent", DISPATCH_LEVEL);
    if (!EventIsValid(Event, "KeResetEvent"))
        return 0;
    KsimWakeAddress(Event, EventSetState, &Set);
    return Set.Previous;
}

VOID
KeClearEvent(PRKEVENT Event)
{
    KsimCheckIrql("KeClearEvent", DISPATCH_LEVEL);
    if (!EventIsValid(Event, "KeClearEvent"))
        return;
    __atomic_store_n(&Event->Header.SignalState, 0, __ATOMIC_SEQ_CST);
}

LONG
KeReadStateEvent(PRKEVENT Event)
{
    if (!EventIsValid(Event, "KeReadStateEvent"))
        return 0;
    return __atomic_load_n(&Event->Header.SignalState, __ATOMIC_SEQ_CST);
}

/* Consumes the signal of a synchronization event (under the bucket lock). */
static BOOLEAN DispatcherHeaderSatisfied(void *Context)
{
    DISPATCHER_HEADER *Header = Context;
    if (Header->Type == KSIM_OBJECT_SYNCHRONIZATION_EVENT) {
        LONG Expected = 1;
        return __atomic_compare_exchange_n(&Header->SignalState, &Expected, 0, 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
    }
    return __atomic_load_n(&Header->SignalState, __ATOMIC_SEQ_CST) != 0;
}

/* Converts a KeWaitForSingleObject-style timeout to a monotonic deadline. */
static BOOLEAN TimeoutToDeadline(const char *Routine, PLARGE_INTEGER Timeout, uint64_t *DeadlineNs)
{
    if (Timeout == NULL) {
        *DeadlineNs = UINT64_MAX;
        return TRUE;
    }
    if (Timeout->QuadPart > 0) {
        KsimVerifierFail("%s: absolute timeouts are not supported by ksim (SUBSET.md: NULL or relative)", Routine);
        return FALSE;
    }
    *DeadlineNs = KsimNowNs() + (uint64_t)(-(Timeout->QuadPart)) * 100u;
    return TRUE;
}

NTSTATUS
KeWaitForSingleObject(PVOID Object, KWAIT_REASON WaitReason, KPROCESSOR_MODE WaitMode, BOOLEAN Alertable,
                      PLARGE_INTEGER Timeout)
{
    DISPATCHER_HEADER *Header = Object;
    uint64_t Deadline;
    UNREFERENCED_PARAMETER(WaitReason);
    UNREFERENCED_PARAMETER(WaitMode);
    UNREFERENCED_PARAMETER(Alertable);

    /* A zero timeout only tests the state and is legal at DISPATCH_LEVEL; any real wait
     * requires IRQL <= APC_LEVEL. */
    if (Timeout != NULL && Timeout->QuadPart == 0)
        KsimCheckIrql("KeWaitForSingleObject (zero timeout)", DISPATCH_LEVEL);
    else
        KsimCheckIrql("KeWaitForSingleObject", APC_LEVEL);
    if (Header == NULL ||
        !(((Header->Type == KSIM_OBJECT_NOTIFICATION_EVENT || Header->Type == KSIM_OBJECT_SYNCHRONIZATION_EVENT) &&
           Header->Size == KSIM_EVENT_SIZE_UNITS) ||
          Header->Type == KSIM_OBJECT_THREAD)) {
        KsimVerifierFail("KeWaitForSingleObject(%p): not an initialized event or thread object", Object);
        return STATUS_INVALID_PARAMETER;
    }
    if (!TimeoutToDeadline("KeWaitForSingleObject", Timeout, &Deadline))
        return STATUS_INVALID_PARAMETER;
    return KsimWaitOn(Header, DispatcherHeaderSatisfied, Header, Deadline) ? STATUS_SUCCESS : STATUS_TIMEOUT;
}

static BOOLEAN NeverSatisfied(void *Context)
{
    UNREFERENCED_PARAMETER(Context);
    return FALSE;
}

NTSTATUS
KeDelayExecutionThread(KPROCESSOR_MODE WaitMode, BOOLEAN Alertable, PLARGE_INTEGER Interval)
{
    uint64_t Deadline;
    static const char Sleeper = 0;
    UNREFERENCED_PARAMETER(WaitMode);
    UNREFERENCED_PARAMETER(Alertable);
    KsimCheckIrql("KeDelayExecutionThread", APC_LEVEL);
    if (Interval == NULL) {
        KsimVerifierFail("KeDelayExecutionThread: Interval is NULL");
        return STATUS_INVALID_PARAMETER;
    }
    if (!TimeoutToDeadline("KeDelayExecutionThread", Interval, &Deadline))
        return STATUS_INVALID_PARAMETER;
    KsimWaitOn(&Sleeper, NeverSatisfied, NULL, Deadline);
    return STATUS_SUCCESS;
}

/* ---- rundown protection (the WDK encoding: references in units of 2, bit 0 = run down) ---- */

#define KSIM_RUNDOWN_ACTIVE ((ULONG_PTR)1)
#define KSIM_RUNDOWN_UNIT ((ULONG_PTR)2)

VOID
ExInitializeRundownProtection(PEX_RUNDOWN_REF RunRef)
{
    __atomic_store_n(&RunRef->Count, 0, __ATOMIC_SEQ_CST);
}

VOID
ExReInitializeRundownProtection(PEX_RUNDOWN_REF RunRef)
{
    ULONG_PTR Value = __atomic_load_n(&RunRef->Count, __ATOMIC_SEQ_CST);
    if (Value != KSIM_RUNDOWN_ACTIVE)
        KsimVerifierFail("ExReInitializeRundownProtection(%p) on a reference that was not run down (0x%llx)",
                         (void *)RunRef, (unsigned long long)Value);
    __atomic_store_n(&RunRef->Count, 0, __ATOMIC_SEQ_CST);
}

VOID
ExRundownCompleted(PEX_RUNDOWN_REF RunRef)
{
    __atomic_store_n(&RunRef->Count, KSIM_RUNDOWN_ACTIVE, __ATOMIC_SEQ_CST);
}

BOOLEAN
ExAcquireRundownProtection(PEX_RUNDOWN_REF RunRef)
{
    ULONG_PTR Value = __atomic_load_n(&RunRef->Count, __ATOMIC_SEQ_CST);
    for (;;) {
        if (Value & KSIM_RUNDOWN_ACTIVE)
            return FALSE;
        if (__atomic_compare_exchange_n(&RunRef->Count, &Value, Value + KSIM_RUNDOWN_UNIT, 0, __ATOMIC_SEQ_CST,
                                        __ATOMIC_SEQ_CST))
            return TRUE;
    }
}

VOID
ExReleaseRundownProtection(PEX_RUNDOWN_REF RunRef)
{
    ULONG_PTR Value = __atomic_load_n(&RunRef->Count, __ATOMIC_SEQ_CST);
    for (;;) {
        if (Value < KSIM_RUNDOWN_UNIT) {
            KsimVerifierFail("ExReleaseRundownProtection(%p) without a matching acquire", (void *)RunRef);
            return;
        }
        if (__atomic_compare_exchange_n(&RunRef->Count, &Value, Value - KSIM_RUNDOWN_UNIT, 0, __ATOMIC_SEQ_CST,
                                        __ATOMIC_SEQ_CST))
            break;
    }
    if (Value - KSIM_RUNDOWN_UNIT == KSIM_RUNDOWN_ACTIVE)
        KsimWakeAddress(RunRef, NULL, NULL);
}

static BOOLEAN RundownDrained(void *Context)
{
    PEX_RUNDOWN_REF RunRef = Context;
    return __atomic_load_n(&RunRef->Count, __ATOMIC_SEQ_CST) == KSIM_RUNDOWN_ACTIVE;
}

VOID
ExWaitForRundownProtectionRelease(PEX_RUNDOWN_REF RunRef)
{
    KsimCheckIrql("ExWaitForRundownProtectionRelease", APC_LEVEL);
    __atomic_fetch_or(&RunRef->Count, KSIM_RUNDOWN_ACTIVE, __ATOMIC_SEQ_CST);
    KsimWaitOn(RunRef, RundownDrained, RunRef, UINT64_MAX);
}

/* ---- time ---- */

ULONGLONG
KeQueryInterruptTime(VOID)
{
    KsimEnsureInitialized();
    return (KsimNowNs() - BootNs) / 100u;
}

ULONG64
KeQueryInterruptTimePrecise(PULONG64 QpcTimeStamp)
{
    ULONG64 Now = KeQueryInterruptTime();
    /* The performance counter runs at 10 MHz, the same unit as the interrupt time. */
    if (QpcTimeStamp)
        *QpcTimeStamp = Now;
    return Now;
}

LARGE_INTEGER
KeQueryPerformanceCounter(PLARGE_INTEGER PerformanceFrequency)
{
    LARGE_INTEGER Counter;
    if (PerformanceFrequency)
        PerformanceFrequency->QuadPart = 10000000;
    Counter.QuadPart = (LONGLONG)KeQueryInterruptTime();
    return Counter;
}

/* ---- system threads ---- */

#define KSIM_THREAD_OBJECT_MAGIC 0x6B546872u /* 'kThr' */

typedef struct _KSIM_SYSTEM_THREAD {
    DISPATCHER_HEADER Header; /* first: the object is waitable */
    ULONG Magic;
    volatile LONG References; /* handle + object references + the running thread */
    BOOLEAN HandleOpen;
    BOOLEAN Running;
    PKSTART_ROUTINE StartRoutine;
    PVOID StartContext;
    NTSTATUS ExitStatus;
    LIST_ENTRY Link;
} KSIM_SYSTEM_THREAD;

static LIST_ENTRY SystemThreads = { &SystemThreads, &SystemThreads };
static uint64_t SystemThreadsRunning;

POBJECT_TYPE *PsThreadType = (POBJECT_TYPE *)&PsThreadType;

static void SystemThreadRelease(KSIM_SYSTEM_THREAD *Thread)
{
    if (__atomic_sub_fetch(&Thread->References, 1, __ATOMIC_SEQ_CST) != 0)
        return;
    KsimGlobalLock();
    RemoveEntryList(&Thread->Link);
    KsimGlobalUnlock();
    Thread->Magic = 0;
    KsimHostFree(Thread);
}

static void SignalThreadObject(void *Context)
{
    KSIM_SYSTEM_THREAD *Thread = Context;
    __atomic_store_n(&Thread->Header.SignalState, 1, __ATOMIC_SEQ_CST);
}

static void SystemThreadExit(KSIM_SYSTEM_THREAD *Thread, const char *How)
{
    KsimCheckCallbackReturn(How, PASSIVE_LEVEL);
    KsimGlobalLock();
    Thread->Running = FALSE;
    SystemThreadsRunning--;
    KsimGlobalUnlock();
    KsimWakeAddress(&Thread->Header, SignalThreadObject, Thread);
    SystemThreadRelease(Thread);
}

static void SystemThreadStart(void *Context)
{
    KSIM_SYSTEM_THREAD *Thread = Context;
    KSIM_THREAD *State = KsimCurrentThread();
    State->IsSystemThread = TRUE;
    State->SystemThread = Thread;
    Thread->StartRoutine(Thread->StartContext);
    SystemThreadExit(Thread, "a system thread's start routine");
}

NTSTATUS
PsCreateSystemThread(PHANDLE ThreadHandle, ULONG DesiredAccess, POBJECT_ATTRIBUTES ObjectAttributes,
                     HANDLE ProcessHandle, PCLIENT_ID ClientId, PKSTART_ROUTINE StartRoutine, PVOID StartContext)
{
    KSIM_SYSTEM_THREAD *Thread;
    KSIM_HOST_THREAD *Host;
    UNREFERENCED_PARAMETER(DesiredAccess);

    if (!KsimCheckIrql("PsCreateSystemThread", PASSIVE_LEVEL))
        return STATUS_INVALID_DEVICE_STATE;
    if (ThreadHandle == NULL || StartRoutine == NULL) {
        KsimVerifierFail("PsCreateSystemThread: ThreadHandle and StartRoutine are required");
        return STATUS_INVALID_PARAMETER;
    }
    if (ProcessHandle != NULL) {
        KsimVerifierFail("PsCreateSystemThread: ksim creates threads in the system process only (ProcessHandle must be NULL)");
        return STATUS_NOT_SUPPORTED;
    }
    if (ObjectAttributes != NULL && !(ObjectAttributes->Attributes & OBJ_KERNEL_HANDLE))
        KsimVerifierFail("PsCreateSystemThread: a driver must ask for OBJ_KERNEL_HANDLE (the handle would be in the caller's process)");
    if (KsimFaultInjectShouldFail("PsCreateSystemThread"))
        return STATUS_INSUFFICIENT_RESOURCES;
    Thread = KsimHostAllocZero(sizeof(*Thread));
    if (!Thread)
        return STATUS_INSUFFICIENT_RESOURCES;
    Thread->Header.Type = KSIM_OBJECT_THREAD;
    Thread->Header.Size = (UCHAR)(sizeof(DISPATCHER_HEADER) / sizeof(LONG));
    InitializeListHead(&Thread->Header.WaitListHead);
    Thread->Magic = KSIM_THREAD_OBJECT_MAGIC;
    Thread->References = 2; /* the handle and the running thread */
    Thread->HandleOpen = TRUE;
    Thread->Running = TRUE;
    Thread->StartRoutine = StartRoutine;
    Thread->StartContext = StartContext;
    KsimGlobalLock();
    InsertTailList(&SystemThreads, &Thread->Link);
    SystemThreadsRunning++;
    KsimGlobalUnlock();
    if (KsimHostThreadCreate(SystemThreadStart, Thread, &Host) != 0) {
        KsimGlobalLock();
        RemoveEntryList(&Thread->Link);
        SystemThreadsRunning--;
        KsimGlobalUnlock();
        KsimHostFree(Thread);
        return STATUS_INSUFFICIENT_RESOURCES;
    }
    KsimHostThreadDetach(Host);
    *ThreadHandle = (HANDLE)Thread;
    if (ClientId) {
        ClientId->UniqueProcess = (HANDLE)(ULONG_PTR)4;
        ClientId->UniqueThread = (HANDLE)Thread;
    }
    return STATUS_SUCCESS;
}

NTSTATUS
PsTerminateSystemThread(NTSTATUS ExitStatus)
{
    KSIM_THREAD *State = KsimCurrentThread();
    if (!State->IsSystemThread) {
        KsimVerifierFail("PsTerminateSystemThread called from a thread that PsCreateSystemThread did not create");
        KsimHostAbort();
    }
    State->SystemThread->ExitStatus = ExitStatus;
    SystemThreadExit(State->SystemThread, "PsTerminateSystemThread");
    KsimHostThreadExit();
}

static KSIM_SYSTEM_THREAD *LookupThread(PVOID Pointer)
{
    PLIST_ENTRY Entry;
    for (Entry = SystemThreads.Flink; Entry != &SystemThreads; Entry = Entry->Flink) {
        KSIM_SYSTEM_THREAD *Thread = CONTAINING_RECORD(Entry, KSIM_SYSTEM_THREAD, Link);
        if ((PVOID)Thread == Pointer)
            return Thread;
    }
    return NULL;
}

NTSTATUS
ZwClose(HANDLE Handle)
{
    KSIM_SYSTEM_THREAD *Thread;
    KsimCheckIrql("ZwClose", PASSIVE_LEVEL);
    KsimGlobalLock();
    Thread = LookupThread(Handle);
    if (Thread && !Thread->HandleOpen)
        Thread = NULL;
    if (Thread)
        Thread->HandleOpen = FALSE;
    KsimGlobalUnlock();
    if (!Thread) {
        /* INVALID_KERNEL_HANDLE (0x93) on Windows. */
        KsimVerifierFail("ZwClose(%p): not an open kernel handle", Handle);
        return STATUS_INVALID_HANDLE;
    }
    SystemThreadRelease(Thread);
    return STATUS_SUCCESS;
}

NTSTATUS
ObReferenceObjectByHandle(HANDLE Handle, ACCESS_MASK DesiredAccess, POBJECT_TYPE ObjectType,
                          KPROCESSOR_MODE AccessMode, PVOID *Object, POBJECT_HANDLE_INFORMATION HandleInformation)
{
    KSIM_SYSTEM_THREAD *Thread;
    UNREFERENCED_PARAMETER(AccessMode);
    KsimCheckIrql("ObReferenceObjectByHandle", APC_LEVEL);
    if (ObjectType != NULL && ObjectType != *PsThreadType) {
        KsimVerifierFail("ObReferenceObjectByHandle: ksim has thread objects only (ObjectType must be *PsThreadType or NULL)");
        return STATUS_NOT_SUPPORTED;
    }
    KsimGlobalLock();
    Thread = LookupThread(Handle);
    if (Thread && !Thread->HandleOpen)
        Thread = NULL;
    if (Thread)
        __atomic_add_fetch(&Thread->References, 1, __ATOMIC_SEQ_CST);
    KsimGlobalUnlock();
    if (!Thread)
        return STATUS_INVALID_HANDLE;
    *Object = Thread;
    if (HandleInformation) {
        HandleInformation->HandleAttributes = OBJ_KERNEL_HANDLE;
        HandleInformation->GrantedAccess = DesiredAccess;
    }
    return STATUS_SUCCESS;
}

LONG_PTR
ObfDereferenceObject(PVOID Object)
{
    KSIM_SYSTEM_THREAD *Thread = Object;
    KsimCheckIrql("ObDereferenceObject", DISPATCH_LEVEL);
    if (Thread == NULL || Thread->Magic != KSIM_THREAD_OBJECT_MAGIC) {
        KsimVerifierFail("ObDereferenceObject(%p): not a referenced object", Object);
        return 0;
    }
    SystemThreadRelease(Thread);
    return 0;
}

PETHREAD
PsGetCurrentThread(VOID)
{
    return (PETHREAD)KsimCurrentThread();
}

uint64_t KsimSystemThreadsRunning(void)
{
    uint64_t Running;
    KsimGlobalLock();
    Running = SystemThreadsRunning;
    KsimGlobalUnlock();
    return Running;
}

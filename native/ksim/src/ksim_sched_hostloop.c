/* SPDX-License-Identifier: MIT
 *
 * The "host-loop" scheduler plug-in (ksim_sched.h): the WSK provider's network runs on the host
 * event loop of the thread that drives ksim (the addon's libuv loop), so that a completion
 * made for that thread reaches it without a thread hop.
 *
 *  - The loop watches the network: on Linux it polls the provider's epoll descriptor
 *    (KsimHostLoopAttach returns it), elsewhere the watchdog calls the loop's Notify (a
 *    uv_async) when the network has work. Either way the loop then calls KsimHostLoopRun,
 *    which runs ready turns on its thread, a bounded number at a time.
 *  - Work a request queues runs before the request returns to user mode: a kick made while
 *    the I/O manager dispatches on this thread is deferred to AfterDispatch, which runs the
 *    ready turns there, as Windows runs the DPCs a system call queued on its processor before
 *    returning (a completion made there is what FILE_SKIP_COMPLETION_PORT_ON_SUCCESS lets
 *    Windows report synchronously).
 *  - A watchdog system thread watches the network too. When work is ready and no turn has run
 *    for KSIM_HOST_LOOP_GRACE_NS (about a millisecond: the loop is busy in JavaScript, or
 *    blocked), it runs the turns itself, so the simulated kernel never stalls behind user code;
 *    while a user thread is blocked in a ksim wait (KsimClose waiting for the requests of the
 *    handle, say) it runs them at once. A real kernel runs DPCs and work items on any processor
 *    whatever the application does; the watchdog is that other processor. While the loop keeps
 *    turning, the watchdog checks on it once per grace period instead of waking at every
 *    readiness of the descriptor (a stall is then caught within two grace periods).
 * Turns never overlap: one owner at a time (TurnOwner), whichever thread it is. Waits and time
 * are the host's.
 */
#include "ksim_internal.h"

#define KSIM_HOST_LOOP_GRACE_NS 1000000u
/* Turns run per call before giving the caller back (the loop's other handles must run too);
 * work left over keeps the descriptor readable / the watchdog notified. */
#define KSIM_HOST_LOOP_TURNS 16

struct _KSIM_HOST_LOOP {
    KSIM_HOST_LOOP_NOTIFY *Notify;
    void *Context;
    struct _KSIM_HOST_LOOP *Next;
};

static const KSIM_NETWORK *LoopNetwork;
static KSIM_SCHED_THREAD LoopWatchdogThread;
static volatile LONG LoopStop;
/* The KSIM_THREAD running turns now, or NULL. */
static KSIM_THREAD *volatile TurnOwner;
static volatile uint64_t TurnCount;
/* A thread found the turn taken: the owner runs another one before it lets go. */
static volatile LONG TurnRequested;
/* User threads (not system threads) blocked in a ksim wait. */
static volatile LONG BlockedUsers;
/* The watchdog's grace sleep, and what ends it early. */
static KSIM_HOST_MUTEX *LoopMutex;
static KSIM_HOST_COND *LoopCond;
static volatile LONG WatchdogInGrace;
static KSIM_HOST_LOOP *LoopAttached; /* under LoopMutex */

static BOOLEAN
LoopTurnEnter(KSIM_THREAD *Self)
{
    KSIM_THREAD *Expected = NULL;
    return __atomic_compare_exchange_n(&TurnOwner, &Expected, Self, 0, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED);
}

/* Runs up to KSIM_HOST_LOOP_TURNS ready turns unless another thread is running them; then
 * that thread runs one more for this one (TurnRequested). TRUE when work is left (the network
 * has then been interrupted, so that the loop or the watchdog sees it again). */
static BOOLEAN
LoopRunTurns(KSIM_THREAD *Self, int TimeoutMs)
{
    const KSIM_NETWORK *Network;
    BOOLEAN More;
    int Turns;

    __atomic_store_n(&TurnRequested, 1, __ATOMIC_SEQ_CST);
    for (;;) {
        if (!LoopTurnEnter(Self))
            return FALSE;
        /* Owning the turn keeps NetworkStop out: the network cannot go while it is used. */
        Network = __atomic_load_n(&LoopNetwork, __ATOMIC_ACQUIRE);
        More = Network != NULL && __atomic_exchange_n(&TurnRequested, 0, __ATOMIC_SEQ_CST);
        for (Turns = 0; More && Turns < KSIM_HOST_LOOP_TURNS; ++Turns) {
            Self->KickDeferred = FALSE;
            /* Only the first turn looks at the host: reports left over keep the descriptor
             * readable, and the turns after it step what the first one found. */
            More = Network->Turn(Turns == 0 ? TimeoutMs : KSIM_NETWORK_NO_POLL);
            __atomic_add_fetch(&TurnCount, 1, __ATOMIC_RELEASE);
            More = More || Self->KickDeferred || __atomic_exchange_n(&TurnRequested, 0, __ATOMIC_SEQ_CST);
        }
        Self->KickDeferred = FALSE;
        if (More)
            Network->Interrupt();
        __atomic_store_n(&TurnOwner, NULL, __ATOMIC_RELEASE);
        /* Asked for while this thread was releasing: run it, unless another thread took it. */
        if (More || !__atomic_load_n(&TurnRequested, __ATOMIC_SEQ_CST))
            return More;
    }
}

static void
LoopNotifyAttached(void)
{
    KSIM_HOST_LOOP *Loop;
    KsimHostMutexLock(LoopMutex);
    for (Loop = LoopAttached; Loop; Loop = Loop->Next)
        if (Loop->Notify)
            Loop->Notify(Loop->Context);
    KsimHostMutexUnlock(LoopMutex);
}

/* Sleeps until the grace period after Since passed, a user thread blocks, or stop. */
static void
LoopWatchdogGrace(uint64_t Since)
{
    uint64_t Deadline = Since + KSIM_HOST_LOOP_GRACE_NS;
    KsimHostMutexLock(LoopMutex);
    __atomic_store_n(&WatchdogInGrace, 1, __ATOMIC_SEQ_CST);
    while (!__atomic_load_n(&BlockedUsers, __ATOMIC_SEQ_CST) && !ReadNoFence(&LoopStop)) {
        if (KsimHostCondWaitUntil(LoopCond, LoopMutex, Deadline))
            break;
    }
    __atomic_store_n(&WatchdogInGrace, 0, __ATOMIC_SEQ_CST);
    KsimHostMutexUnlock(LoopMutex);
}

static KSTART_ROUTINE LoopWatchdogMain;

static VOID
LoopWatchdogMain(_In_ PVOID StartContext)
{
    const KSIM_NETWORK *Network = StartContext;
    KSIM_THREAD *Self = KsimCurrentThread();
    BOOLEAN LoopActive = FALSE;

    while (!ReadNoFence(&LoopStop)) {
        uint64_t Seen, Since;
        /* While the loop keeps taking the network's work (LoopActive), look again after each
         * grace period instead of at every readiness: waking this thread for each packet would
         * cost a wake-up on the other processor per packet (the host kernel wakes every waiter
         * of the descriptor) for nothing. A stall is still caught within two grace periods. */
        if (!LoopActive) {
            if (!Network->WaitReady(-1))
                continue;
            if (ReadNoFence(&LoopStop))
                break;
        }
        Seen = __atomic_load_n(&TurnCount, __ATOMIC_ACQUIRE);
        Since = KsimHostMonotonicNs();
        /* Without a descriptor the watchdog is how the loop learns of work, at every readiness
         * (and LoopActive never holds). */
        if (Network->PollDescriptor < 0)
            LoopNotifyAttached();
        LoopWatchdogGrace(Since);
        if (ReadNoFence(&LoopStop))
            break;
        /* The loop took the work in time: from now on only check on it. */
        if (__atomic_load_n(&TurnCount, __ATOMIC_ACQUIRE) != Seen && !__atomic_load_n(&BlockedUsers, __ATOMIC_SEQ_CST)) {
            LoopActive = Network->PollDescriptor >= 0;
            continue;
        }
        if (LoopActive) {
            LoopActive = FALSE;
            /* No turn for a whole grace period: idle (wait for readiness again), or stalled. */
            if (!__atomic_load_n(&BlockedUsers, __ATOMIC_SEQ_CST) && !Network->WaitReady(0))
                continue;
        }
        LoopRunTurns(Self, 0);
    }
}

static void
LoopWatchdogAbort(void)
{
    InterlockedExchange(&LoopStop, 1);
    __atomic_load_n(&LoopNetwork, __ATOMIC_ACQUIRE)->Interrupt();
    KsimHostMutexLock(LoopMutex);
    KsimHostCondBroadcast(LoopCond);
    KsimHostMutexUnlock(LoopMutex);
}

static NTSTATUS
LoopSelect(uint64_t Seed)
{
    UNREFERENCED_PARAMETER(Seed);
    /* Once per process; kept for its lifetime like ksim's other host objects. */
    if (!LoopMutex) {
        LoopMutex = KsimHostMutexCreate();
        LoopCond = KsimHostCondCreate();
    }
    return STATUS_SUCCESS;
}

static NTSTATUS
LoopNetworkStart(const KSIM_NETWORK *Network)
{
    NTSTATUS Status;

    if (!Network->WaitReady)
        return STATUS_NOT_SUPPORTED; /* the watchdog must be able to watch the network */
    InterlockedExchange(&LoopStop, 0);
    __atomic_store_n(&LoopNetwork, Network, __ATOMIC_RELEASE);
    Status = KsimSchedThreadStart(&LoopWatchdogThread, LoopWatchdogMain, (PVOID)Network, LoopWatchdogAbort);
    if (!NT_SUCCESS(Status))
        __atomic_store_n(&LoopNetwork, NULL, __ATOMIC_RELEASE);
    return Status;
}

static BOOLEAN
LoopTurnIdle(void *Context)
{
    UNREFERENCED_PARAMETER(Context);
    return __atomic_load_n(&TurnOwner, __ATOMIC_ACQUIRE) == NULL;
}

static void
LoopNetworkStop(void)
{
    static const char TurnWait = 0;
    KSIM_THREAD *Self = KsimCurrentThread();

    LoopWatchdogAbort();
    KsimSchedThreadJoin(&LoopWatchdogThread);
    /* A loop may be in a turn right now: no turn may run after this returns. Taking the turn
     * ownership for good (until the next start) keeps every later one out. */
    while (!LoopTurnEnter(Self))
        KsimHostWaitOn(&TurnWait, LoopTurnIdle, NULL, KsimHostMonotonicNs() + 100000u);
    __atomic_store_n(&LoopNetwork, NULL, __ATOMIC_RELEASE);
    __atomic_store_n(&TurnOwner, NULL, __ATOMIC_RELEASE);
}

static void
LoopNetworkKick(void)
{
    const KSIM_NETWORK *Network = __atomic_load_n(&LoopNetwork, __ATOMIC_ACQUIRE);
    KSIM_THREAD *Self;

    if (!Network)
        return;
    /* This thread will run the turns itself (AfterDispatch, or the turn loop it is in). */
    Self = KsimCurrentThread();
    if (Self->DispatchDepth || __atomic_load_n(&TurnOwner, __ATOMIC_RELAXED) == Self) {
        Self->KickDeferred = TRUE;
        return;
    }
    Network->Interrupt();
}

static void
LoopAfterDispatch(void)
{
    const KSIM_NETWORK *Network = __atomic_load_n(&LoopNetwork, __ATOMIC_ACQUIRE);
    KSIM_THREAD *Self = KsimCurrentThread();

    if (!Self->KickDeferred || Self->DispatchDepth)
        return;
    Self->KickDeferred = FALSE;
    /* The loop (or the watchdog) takes the host's reports; here only what the request queued. */
    if (Network)
        LoopRunTurns(Self, KSIM_NETWORK_NO_POLL);
}

static BOOLEAN
LoopWait(const volatile void *Address, KSIM_WAIT_PREDICATE *Predicate, void *Context, uint64_t DeadlineNs)
{
    KSIM_THREAD *Self = KsimCurrentThread();
    const KSIM_NETWORK *Network = __atomic_load_n(&LoopNetwork, __ATOMIC_ACQUIRE);
    BOOLEAN Satisfied, User = !Self->IsSystemThread;

    /* A deferred kick cannot wait for AfterDispatch behind a blocked thread. */
    if (Self->KickDeferred) {
        Self->KickDeferred = FALSE;
        if (Network)
            Network->Interrupt();
    }
    if (User) {
        __atomic_add_fetch(&BlockedUsers, 1, __ATOMIC_SEQ_CST);
        if (__atomic_load_n(&WatchdogInGrace, __ATOMIC_SEQ_CST)) {
            KsimHostMutexLock(LoopMutex);
            KsimHostCondBroadcast(LoopCond);
            KsimHostMutexUnlock(LoopMutex);
        }
    }
    Satisfied = KsimHostWaitOn(Address, Predicate, Context, DeadlineNs);
    if (User)
        __atomic_sub_fetch(&BlockedUsers, 1, __ATOMIC_SEQ_CST);
    return Satisfied;
}

/* ---- the loop's side (ksim.h) ---- */

int32_t KsimHostLoopAttach(KSIM_HOST_LOOP_NOTIFY *Notify, void *Context, KSIM_HOST_LOOP **Loop, int64_t *Descriptor)
{
    const KSIM_NETWORK *Network;
    KSIM_HOST_LOOP *New;

    KsimEnsureInitialized();
    *Loop = NULL;
    *Descriptor = -1;
    if (KsimScheduler != &KsimSchedulerHostLoop)
        return STATUS_INVALID_DEVICE_STATE;
    Network = __atomic_load_n(&LoopNetwork, __ATOMIC_ACQUIRE);
    if (!Network)
        return STATUS_INVALID_DEVICE_STATE;
    New = KsimHostAllocZero(sizeof(*New));
    if (!New)
        return STATUS_INSUFFICIENT_RESOURCES;
    New->Notify = Notify;
    New->Context = Context;
    KsimHostMutexLock(LoopMutex);
    New->Next = LoopAttached;
    LoopAttached = New;
    KsimHostMutexUnlock(LoopMutex);
    *Loop = New;
    *Descriptor = Network->PollDescriptor;
    return STATUS_SUCCESS;
}

void KsimHostLoopDetach(KSIM_HOST_LOOP *Loop)
{
    KSIM_HOST_LOOP **Link;
    if (!Loop)
        return;
    KsimHostMutexLock(LoopMutex);
    for (Link = &LoopAttached; *Link; Link = &(*Link)->Next) {
        if (*Link == Loop) {
            *Link = Loop->Next;
            break;
        }
    }
    KsimHostMutexUnlock(LoopMutex);
    KsimHostFree(Loop);
}

int KsimHostLoopRun(void)
{
    const KSIM_NETWORK *Network = __atomic_load_n(&LoopNetwork, __ATOMIC_ACQUIRE);
    KSIM_THREAD *Self = KsimCurrentThread();

    if (!Network)
        return 0;
    /* The loop plays a user thread between system calls. */
    if (Self->Irql != PASSIVE_LEVEL || Self->DispatchDepth || __atomic_load_n(&TurnOwner, __ATOMIC_RELAXED) == Self) {
        KsimVerifierFail("KsimHostLoopRun called at IRQL %u or from inside ksim (a completion callback?)",
                         Self->Irql);
        return 0;
    }
    return LoopRunTurns(Self, 0) ? 1 : 0;
}

const KSIM_SCHEDULER KsimSchedulerHostLoop = {
    "host-loop",
    LoopSelect,
    LoopNetworkStart,
    LoopNetworkStop,
    LoopNetworkKick,
    LoopAfterDispatch,
    NULL,
    LoopWait,
    KsimHostWakeAddress,
    KsimHostNowNs,
};

/* SPDX-License-Identifier: MIT
 *
 * The "deterministic" scheduler plug-in (ksim_sched.h): every simulated thread is a fiber on
 * one host thread, and a seeded generator alone decides which one runs at each switch point.
 *
 *  - Fibers: the host thread that selected the plug-in (the program's main: a test, the
 *    fuzzer), the threads it spawns with KsimDetermSpawn (simulated user threads that issue
 *    requests, cancel, close), and the WSK provider's network (its turns, hence every WSK
 *    event callback, completion and cancel routine that runs there).
 *  - At every switch point (spin-lock release, IRQL lowering, callback return, IRP completion,
 *    request dispatch, after a dispatch, waits) the running fiber gives way with a probability
 *    drawn from the seed, and the next fiber is drawn from the runnable ones. A fiber holding
 *    a spin lock or one of ksim's host mutexes never gives way (on a real multiprocessor the
 *    other processors would spin, or the lock is ksim's own and models no kernel lock).
 *  - Waits block the fiber; wakes make the waiters runnable (they re-check). Time is virtual:
 *    it moves on by a fixed step per decision, and jumps to the earliest deadline when every
 *    fiber waits. Every fiber waiting with no deadline is a deadlock: reported with the seed.
 *  - The network runs only when kicked, so a run with the in-memory network (the only network
 *    this mode has: wsk_net.c) touches no host socket and no host clock.
 * Each decision is folded into a trace hash (KsimDetermTrace): one seed, one program, one
 * trace. What it cannot do: preempt code between two switch points (a data race with no lock
 * between two threads is not explored), run two fibers at once (no real parallelism), or run
 * the addon's JavaScript (only one host thread may drive ksim in this mode).
 */
#include "ksim_internal.h"
#include "host/host_fiber.h"

#define DETERM_STACK_BYTES (256u * 1024u)
#define DETERM_MAX_FIBERS 64u
/* Virtual nanoseconds per scheduling decision, so that time moves while fibers run. */
#define DETERM_STEP_NS 1000u

typedef enum {
    DetermFree = 0,
    DetermRunnable,
    DetermWaiting,      /* in Wait: Address, Predicate, Deadline */
    DetermIdle,         /* the network fiber, waiting for a kick */
    DetermDone
} DETERM_STATE;

typedef struct _DETERM_FIBER {
    KSIM_HOST_FIBER *Host;
    KSIM_THREAD *Thread;        /* its ksim thread state (the host TLS slot while it runs) */
    DETERM_STATE State;
    const volatile void *Address;
    uint64_t Deadline;
    KSIM_FIBER_ROUTINE *Routine;
    void *Context;
    BOOLEAN Spawned;            /* counted in DetermLive until it returns */
    unsigned Index;
    int64_t Priority;           /* the priority strategy's: the highest runnable runs */
} DETERM_FIBER;

/* Where a WSK network turn starts reading the in-memory network's readiness (wsk_provider.c
 * reads it; defined here so that a ksim built without the provider links too). */
uint64_t (*KsimWskTurnRotate)(void);
static uint64_t DetermTurnRotate(void);
static BOOLEAN DetermWait(const volatile void *Address, KSIM_WAIT_PREDICATE *Predicate, void *Context,
                          uint64_t DeadlineNs);
static void DetermWake(const volatile void *Address, KSIM_WAIT_UPDATE *Update, void *Context);

static DETERM_FIBER DetermFibers[DETERM_MAX_FIBERS];
static unsigned DetermInUse = 1;            /* slots [0, DetermInUse) may be in use */
static DETERM_FIBER *DetermCurrent;
static DETERM_FIBER *DetermNetworkFiber;
static const KSIM_NETWORK *DetermNetwork;
static BOOLEAN DetermKicked;
static BOOLEAN DetermStopping;
static uint64_t DetermOwnerThread;
static unsigned DetermLive;                 /* spawned fibers not yet returned */
static KSIM_HOST_FIBER *DetermZombie;       /* a finished fiber's stack, freed by the next one to run */
/* KsimDetermRunUntilIdle's fiber: woken, instead of a deadlock report, when nothing else can run. */
static DETERM_FIBER *DetermIdleWaiter;
static BOOLEAN DetermStuck;

static uint64_t DetermSeed;
static uint64_t DetermRandom;
static uint64_t DetermNow;
static uint64_t DetermTraceHash;
static uint64_t DetermDecisions;
/* Per run, from the seed: how eagerly a switch point gives way (1 in 2^Shift), and how the
 * next fiber is chosen: uniformly among the runnable ones (a random walk), or by priority
 * (PCT-style: random priorities, and a fiber that gives way drops to the lowest, so the others
 * run until they block: the long stretches a narrow race window needs). */
static unsigned DetermYieldShift;
static BOOLEAN DetermByPriority;
static int64_t DetermLowest;

/* SplitMix64: small, fast, and the same on every platform. */
static uint64_t DetermNext(void)
{
    uint64_t Z = (DetermRandom += 0x9E3779B97F4A7C15ull);
    Z = (Z ^ (Z >> 30)) * 0xBF58476D1CE4E5B9ull;
    Z = (Z ^ (Z >> 27)) * 0x94D049BB133111EBull;
    return Z ^ (Z >> 31);
}

static void DetermMix(uint64_t Value)
{
    DetermTraceHash ^= Value + 0x9E3779B97F4A7C15ull + (DetermTraceHash << 6) + (DetermTraceHash >> 2);
}

static void DetermFatal(const char *What)
{
    char Message[512];
    KsimFormat(Message, sizeof(Message),
               "ksim deterministic scheduler: %s (seed %llu, after %llu decisions); replay with KSIM_SCHED=deterministic "
               "KSIM_SCHED_SEED=%llu\n",
               What, (unsigned long long)DetermSeed, (unsigned long long)DetermDecisions,
               (unsigned long long)DetermSeed);
    KsimHostWriteStderr(Message);
    KsimHostAbort();
}

static void DetermReset(uint64_t Seed)
{
    DetermSeed = Seed;
    DetermRandom = Seed ^ 0x6A09E667F3BCC908ull;
    DetermNow = 1000000000ull; /* a fixed, non-zero origin */
    DetermTraceHash = 0xCBF29CE484222325ull ^ Seed;
    DetermDecisions = 0;
    DetermYieldShift = 1 + (unsigned)(DetermNext() % 4); /* give way at 1/2 .. 1/16 of the points */
    DetermByPriority = (DetermNext() & 1) != 0;
    DetermLowest = 0;
    DetermFibers[0].Priority = (int64_t)(DetermNext() % 1000);
}

/* The running fiber's record; the first call makes the calling host thread fiber 0. */
static DETERM_FIBER *DetermSelf(void)
{
    if (!DetermCurrent) {
        DETERM_FIBER *Main = &DetermFibers[0];
        Main->Host = KsimHostFiberFromThread();
        if (!Main->Host)
            DetermFatal("out of host memory for the main fiber");
        Main->State = DetermRunnable;
        Main->Index = 0;
        Main->Thread = KsimHostTlsGet();
        DetermCurrent = Main;
        DetermOwnerThread = KsimHostThreadId();
    }
    return DetermCurrent;
}

/* A finished fiber's stack, freed by whichever fiber runs next (on its own stack). */
static void DetermReap(void)
{
    if (DetermZombie) {
        KsimHostFiberDelete(DetermZombie);
        DetermZombie = NULL;
    }
}

static void DetermSwitchTo(DETERM_FIBER *Next, BOOLEAN Exiting)
{
    DETERM_FIBER *Self = DetermCurrent;
    DetermDecisions++;
    DetermNow += DETERM_STEP_NS;
    DetermMix(((uint64_t)Self->Index << 8) | Next->Index);
    if (Next == Self)
        return;
    Self->Thread = KsimHostTlsGet();
    DetermCurrent = Next;
    KsimHostTlsSet(Next->Thread);
    if (Exiting)
        KsimHostFiberExit(Self->Host, Next->Host);
    else
        KsimHostFiberSwitch(Self->Host, Next->Host);
    /* Back on Self. */
    DetermReap();
}

/* Picks the next fiber to run (maybe the caller, if it is runnable) and runs it. */
static void DetermSchedule(BOOLEAN Exiting)
{
    DETERM_FIBER *Runnable[DETERM_MAX_FIBERS];
    unsigned Count, i;

    for (;;) {
        uint64_t Earliest = UINT64_MAX;
        Count = 0;
        for (i = 0; i < DetermInUse; i++) {
            DETERM_FIBER *F = &DetermFibers[i];
            if (F->State == DetermRunnable)
                Runnable[Count++] = F;
            else if (F->State == DetermWaiting && F->Deadline < Earliest)
                Earliest = F->Deadline;
        }
        if (Count)
            break;
        if (Earliest == UINT64_MAX && DetermIdleWaiter && DetermIdleWaiter->State == DetermWaiting) {
            /* Everyone else waits for something only the idle waiter can bring (a close). */
            DetermStuck = TRUE;
            DetermIdleWaiter->State = DetermRunnable;
            continue;
        }
        if (Earliest == UINT64_MAX)
            DetermFatal("deadlock: every thread waits with no deadline (a request that never completes?)");
        /* Nobody can run: time passes until the first deadline. */
        if (Earliest > DetermNow)
            DetermNow = Earliest;
        for (i = 0; i < DetermInUse; i++)
            if (DetermFibers[i].State == DetermWaiting && DetermFibers[i].Deadline <= DetermNow)
                DetermFibers[i].State = DetermRunnable;
    }
    if (Count == 1) {
        DetermSwitchTo(Runnable[0], Exiting);
    } else if (DetermByPriority) {
        DETERM_FIBER *Best = Runnable[0];
        for (i = 1; i < Count; i++)
            if (Runnable[i]->Priority > Best->Priority)
                Best = Runnable[i];
        DetermSwitchTo(Best, Exiting);
    } else {
        DetermSwitchTo(Runnable[DetermNext() % Count], Exiting);
    }
}

/* ---- the plug-in's operations ---- */

static NTSTATUS DetermSelect(uint64_t Seed)
{
    DetermReset(Seed);
    return STATUS_SUCCESS;
}

static void DetermNetworkMain(void *Unused)
{
    DETERM_FIBER *Self = DetermCurrent;
    (void)Unused;
    DetermReap();
    while (!DetermStopping) {
        if (!DetermKicked) {
            /* Idle: whoever waits for the network to run dry (KsimDetermJoin) may go on. */
            DetermWake(&DetermKicked, NULL, NULL);
            Self->State = DetermIdle;
            DetermSchedule(FALSE);
            continue;
        }
        DetermKicked = FALSE;
        if (DetermNetwork->Turn(0))
            DetermKicked = TRUE;
    }
    Self->State = DetermDone;
    DetermWake(&DetermNetworkFiber, NULL, NULL);
    DetermSchedule(TRUE);
}

static void DetermFiberMain(void *Argument)
{
    DETERM_FIBER *Self = Argument;
    DetermReap();
    Self->Routine(Self->Context);
    /* The fiber's ksim thread state goes with it (the host TLS slot never owned it). */
    KsimHostFree(KsimHostTlsGet());
    KsimHostTlsSet(NULL);
    Self->Thread = NULL;
    Self->State = DetermDone;
    if (Self->Spawned && --DetermLive == 0)
        KsimWakeAddress(&DetermLive, NULL, NULL);
    /* Its stack is freed by the next fiber to run; the slot is free from now on (Host stays
     * set only for the last switch away). */
    DetermZombie = Self->Host;
    Self->State = DetermFree;
    DetermSchedule(TRUE);
}

static DETERM_FIBER *DetermCreate(void (*Entry)(void *), void *Argument, DETERM_FIBER **Out)
{
    unsigned i;
    (void)DetermSelf();
    for (i = 1; i < DETERM_MAX_FIBERS; i++) {
        DETERM_FIBER *F = &DetermFibers[i];
        if (F->State != DetermFree)
            continue;
        __builtin_memset(F, 0, sizeof(*F));
        F->Index = i;
        F->Host = KsimHostFiberCreate(DETERM_STACK_BYTES, Entry, Argument ? Argument : F);
        if (!F->Host)
            return NULL;
        F->State = DetermRunnable;
        F->Priority = (int64_t)(DetermNext() % 1000);
        if (i >= DetermInUse)
            DetermInUse = i + 1;
        *Out = F;
        return F;
    }
    return NULL;
}

static NTSTATUS DetermNetworkStart(const KSIM_NETWORK *Network)
{
    DETERM_FIBER *Fiber;
    DetermNetwork = Network;
    DetermStopping = FALSE;
    KsimWskTurnRotate = DetermTurnRotate;
    DetermKicked = TRUE;
    if (!DetermCreate(DetermNetworkMain, NULL, &Fiber))
        return STATUS_INSUFFICIENT_RESOURCES;
    DetermNetworkFiber = Fiber;
    return STATUS_SUCCESS;
}

static BOOLEAN DetermNetworkGone(void *Unused)
{
    (void)Unused;
    return DetermNetworkFiber == NULL || DetermNetworkFiber->State == DetermDone;
}

static void DetermNetworkStop(void)
{
    DETERM_FIBER *Network = DetermNetworkFiber;
    DetermStopping = TRUE;
    if (Network && Network->State == DetermIdle)
        Network->State = DetermRunnable;
    /* The caller waits until the network's fiber has finished its last turn. */
    (void)DetermWait(&DetermNetworkFiber, DetermNetworkGone, NULL, UINT64_MAX);
    if (Network) {
        /* Finished, so not running: its stack and thread state can go. */
        KsimHostFiberDelete(Network->Host);
        KsimHostFree(Network->Thread);
        Network->Host = NULL;
        Network->Thread = NULL;
        Network->State = DetermFree;
    }
    DetermNetworkFiber = NULL;
    DetermNetwork = NULL;
    KsimWskTurnRotate = NULL;
}

static void DetermNetworkKick(void)
{
    DetermKicked = TRUE;
    if (DetermNetworkFiber && DetermNetworkFiber->State == DetermIdle)
        DetermNetworkFiber->State = DetermRunnable;
}

static void DetermSwitchPoint(KSIM_SWITCH_POINT Point)
{
    KSIM_THREAD *Thread;
    DETERM_FIBER *Self;
    unsigned i;
    /* Only the driving thread, the network idle: nothing to decide (the common case, e.g. a
     * session's cleanup sweeping its table; a deterministic condition, so the trace stays one
     * per seed). */
    if (DetermLive == 0 && (!DetermNetworkFiber || DetermNetworkFiber->State != DetermRunnable) &&
        DetermCurrent == &DetermFibers[0])
        return;
    Self = DetermSelf();
    /* Nobody else can run now: nothing to decide either. */
    for (i = 0; i < DetermInUse; i++)
        if (&DetermFibers[i] != Self && DetermFibers[i].State == DetermRunnable)
            break;
    if (i == DetermInUse)
        return;
    if (DetermNext() & ((1u << DetermYieldShift) - 1))
        return;
    Thread = KsimCurrentThread();
    if (Thread->SpinLocksHeld > 0 || Thread->HostLocksHeld > 0)
        return;
    DetermMix(0x100u + (unsigned)Point);
    Self->State = DetermRunnable;
    if (DetermByPriority)
        Self->Priority = --DetermLowest; /* the others run until they block */
    DetermSchedule(FALSE);
}

static void DetermAfterDispatch(void)
{
    DetermSwitchPoint(KsimSwitchRequestDispatch);
}

static BOOLEAN DetermWait(const volatile void *Address, KSIM_WAIT_PREDICATE *Predicate, void *Context,
                          uint64_t DeadlineNs)
{
    DETERM_FIBER *Self = DetermSelf();
    for (;;) {
        if (Predicate(Context))
            return TRUE;
        if (DetermNow >= DeadlineNs)
            return FALSE;
        Self->State = DetermWaiting;
        Self->Address = Address;
        Self->Deadline = DeadlineNs;
        DetermSchedule(FALSE);
        Self->Address = NULL;
    }
}

static void DetermWake(const volatile void *Address, KSIM_WAIT_UPDATE *Update, void *Context)
{
    unsigned i;
    if (Update)
        Update(Context);
    for (i = 0; i < DetermInUse; i++)
        if (DetermFibers[i].State == DetermWaiting && DetermFibers[i].Address == Address)
            DetermFibers[i].State = DetermRunnable;
}

static uint64_t DetermNowNs(void)
{
    return DetermNow;
}

/* Where each network turn starts reading the in-memory network's readiness: also the seed's. */
static uint64_t DetermTurnRotate(void)
{
    uint64_t Value = DetermNext();
    DetermMix(0x200u + (Value & 0xff));
    return Value;
}

const KSIM_SCHEDULER KsimSchedulerDeterministic = {
    "deterministic",
    DetermSelect,
    DetermNetworkStart,
    DetermNetworkStop,
    DetermNetworkKick,
    DetermAfterDispatch,
    DetermSwitchPoint,
    DetermWait,
    DetermWake,
    DetermNowNs,
};

/* ---- ksim.h: the deterministic mode's own calls ---- */

static BOOLEAN DetermIsOn(const char *Routine)
{
    KsimEnsureInitialized();
    if (KsimScheduler == &KsimSchedulerDeterministic) {
        (void)DetermSelf();
        if (KsimHostThreadId() != DetermOwnerThread)
            DetermFatal("a second host thread called into ksim (this mode runs every thread as a fiber of one)");
        return TRUE;
    }
    KsimVerifierFail("%s: the scheduler is \"%s\", not \"deterministic\" (KsimSchedulerSelect)", Routine,
                     KsimScheduler->Name);
    return FALSE;
}

int32_t KsimDetermSpawn(KSIM_FIBER_ROUTINE *Routine, void *Context)
{
    DETERM_FIBER *Fiber;
    if (!DetermIsOn("KsimDetermSpawn"))
        return STATUS_INVALID_DEVICE_STATE;
    if (!DetermCreate(DetermFiberMain, NULL, &Fiber))
        return STATUS_INSUFFICIENT_RESOURCES;
    Fiber->Routine = Routine;
    Fiber->Context = Context;
    Fiber->Spawned = TRUE;
    DetermLive++;
    return STATUS_SUCCESS;
}

static BOOLEAN DetermAllReturned(void *Unused)
{
    (void)Unused;
    return DetermLive == 0;
}

static BOOLEAN DetermQuietNow(void *Unused)
{
    (void)Unused;
    return !DetermNetworkFiber || (!DetermKicked && DetermNetworkFiber->State == DetermIdle);
}

static BOOLEAN DetermReturnedOrStuck(void *Unused)
{
    (void)Unused;
    return DetermLive == 0 || DetermStuck;
}

unsigned KsimDetermRunUntilIdle(void)
{
    if (!DetermIsOn("KsimDetermRunUntilIdle"))
        return 0;
    DetermStuck = FALSE;
    DetermIdleWaiter = DetermSelf();
    KsimWaitOn(&DetermLive, DetermReturnedOrStuck, NULL, UINT64_MAX);
    DetermIdleWaiter = NULL;
    DetermStuck = FALSE;
    return DetermLive;
}

void KsimDetermJoin(void)
{
    if (!DetermIsOn("KsimDetermJoin"))
        return;
    KsimWaitOn(&DetermLive, DetermAllReturned, NULL, UINT64_MAX);
    /* Then let the network run dry: what the threads queued is completed before this returns. */
    (void)DetermWait(&DetermKicked, DetermQuietNow, NULL, UINT64_MAX);
}

int32_t KsimDetermReseed(uint64_t Seed)
{
    if (!DetermIsOn("KsimDetermReseed"))
        return STATUS_INVALID_DEVICE_STATE;
    if (DetermLive)
        return STATUS_INVALID_DEVICE_STATE;
    DetermReset(Seed);
    return STATUS_SUCCESS;
}

uint64_t KsimDetermTrace(void)
{
    return DetermTraceHash;
}

void KsimDetermTraceMix(uint64_t Value)
{
    DetermMix(Value);
}

uint64_t KsimDetermDecisions(void)
{
    return DetermDecisions;
}

typedef struct _DETERM_WAIT_FOR {
    int (*Done)(void *Context);
    void *Context;
} DETERM_WAIT_FOR;

static BOOLEAN DetermWaitForDone(void *Argument)
{
    DETERM_WAIT_FOR *Wait = Argument;
    return Wait->Done(Wait->Context) != 0;
}

void KsimDetermWaitFor(int (*Done)(void *Context), void *Context)
{
    DETERM_WAIT_FOR Wait = { Done, Context };
    if (!DetermIsOn("KsimDetermWaitFor"))
        return;
    KsimWaitOn(Context, DetermWaitForDone, &Wait, UINT64_MAX);
}

void KsimDetermWakeFor(void *Context)
{
    KsimWakeAddress(Context, NULL, NULL);
}

/* SPDX-License-Identifier: MIT
 *
 * ksim's execution model: ONE scheduler seam.
 *
 * Who runs the simulated kernel's asynchronous work, and what "now" and "wait" mean, is decided
 * by one table of operations, KSIM_SCHEDULER. ksim's core and its WSK provider call the table
 * (through the small inline helpers at the end of this file) and nothing else; the plug-ins are
 * the only code that knows how the work is really run:
 *  - "thread" (ksim_sched_thread.c): the WSK provider's network runs on a system thread of its
 *    own, blocking in the host poller between turns (ksim's original model);
 *  - "host-loop" (ksim_sched_hostloop.c): the network runs on the host event loop of the thread
 *    that drives ksim (the addon's libuv loop), work queued by a request runs before the request
 *    returns to user mode (as a DPC would), and a watchdog thread runs the network when the loop
 *    has not taken ready work for about a millisecond;
 *  - "deterministic" (ksim_sched_determ.c, a separate plug-in): every step chosen by a seeded
 *    scheduler at the switch points below.
 * Every plug-in must produce a schedule that a real kernel could produce: work a real kernel
 * runs in a DPC or on a worker thread may run on any thread here, at DISPATCH_LEVEL, but never
 * inside a caller's critical section and never before the event that made it runnable.
 *
 * Selection: KsimSchedulerSelect (ksim.h) while the driver is not loaded; the default is
 * "thread", or the mode named by the environment variable KSIM_SCHED (seed: KSIM_SCHED_SEED)
 * when ksim initialises. The table is fixed from KsimDriverLoad to the last KsimDriverUnload.
 *
 * Adding a plug-in: define a `const KSIM_SCHEDULER` with a unique Name and add one line to the
 * table in ksim_sched.c (KsimSchedulerDeterministic is declared here for that purpose).
 */
#ifndef KSIM_SCHED_H
#define KSIM_SCHED_H

#include <ntddk.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The points where a real kernel may switch the processor to another thread (or run a DPC on
 * it). ksim's core reports each one; only a deterministic plug-in acts on them. */
typedef enum _KSIM_SWITCH_POINT {
    KsimSwitchLockRelease,     /* a spin lock was released (the thread still runs at its IRQL) */
    KsimSwitchIrqlLower,       /* KeLowerIrql: pending DPCs may run, the thread may be preempted */
    KsimSwitchCallbackReturn,  /* a driver callback returned to its caller (WSK event, I/O) */
    KsimSwitchIrpComplete,     /* IoCompleteRequest is about to complete an IRP */
    KsimSwitchRequestDispatch, /* the I/O manager is about to dispatch a user request */
    KsimSwitchWait             /* a thread is about to block in a dispatcher wait */
} KSIM_SWITCH_POINT;

/* Wait machinery shared by events, rundown refs, threads and the I/O manager: Address
 * identifies what is waited on; Predicate is re-evaluated under the wait's lock; Update changes
 * the state under the same lock, and the waiters of Address are then woken. */
typedef BOOLEAN KSIM_WAIT_PREDICATE(void *Context);
typedef void KSIM_WAIT_UPDATE(void *Context);

/* One network turn of the WSK provider (wsk_provider.c): take the poller's reports, waiting at
 * most TimeoutMs for them (0: do not wait; -1: until a report or an Interrupt; never when work
 * is already queued; KSIM_NETWORK_NO_POLL: do not look at the poller at all), then complete the
 * IRPs whose result is known and step the sockets marked dirty. Returns TRUE when more work is
 * ready now (another turn with TimeoutMs 0 would do something). Runs driver code
 * (completion routines, WSK event callbacks) at DISPATCH_LEVEL; call it at PASSIVE_LEVEL with
 * no spin lock held. Never on two threads at once: the plug-in guarantees it. */
typedef BOOLEAN KSIM_NETWORK_TURN(int TimeoutMs);
#define KSIM_NETWORK_NO_POLL (-2)

/* What the provider hands to NetworkStart. Valid until NetworkStop returns. */
typedef struct _KSIM_NETWORK {
    KSIM_NETWORK_TURN *Turn;
    /* Makes a Turn blocked in its poller wait return at once, or the next one not wait.
     * Any thread, any IRQL, the provider lock may be held. */
    void (*Interrupt)(void);
    /* Blocks until the network has work (a poll report or an Interrupt) or TimeoutMs passed,
     * without taking the work: the next Turn still sees it. TRUE when work is ready. NULL when
     * the network cannot be watched this way (an in-memory network). */
    BOOLEAN (*WaitReady)(int TimeoutMs);
    /* A host descriptor that is readable while the network has work (Linux: the poller's epoll
     * descriptor), for a host event loop to watch; -1 when there is none (Windows: the poller
     * is WSAPoll over a set, which no loop can watch). */
    int64_t PollDescriptor;
} KSIM_NETWORK;

typedef struct _KSIM_SCHEDULER {
    const char *Name; /* "thread" | "host-loop" | "deterministic" */

    /* KsimSchedulerSelect picked this plug-in (the driver is not loaded). Seed is for the
     * deterministic plug-in; the others ignore it. NULL: nothing to do. */
    NTSTATUS (*Select)(uint64_t Seed);

    /* The first WSK client registered (PASSIVE_LEVEL, no lock held): from now on
     * Network->Turn must run whenever the network has work. */
    NTSTATUS (*NetworkStart)(const KSIM_NETWORK *Network);
    /* The last client deregistered (PASSIVE_LEVEL, no lock held). No turn runs after this
     * returns; the provider then completes what is left itself. */
    void (*NetworkStop)(void);
    /* Work was queued (an IRP to complete, a socket to step): a turn must run soon. Any
     * thread, any IRQL, the provider lock may be held: never run the turn inline here. */
    void (*NetworkKick)(void);

    /* The I/O manager finished dispatching one user request (or a cancel) on the caller's
     * thread, which is back at PASSIVE_LEVEL with no lock held: a point where Windows would
     * run the DPCs the request queued before returning to user mode. */
    void (*AfterDispatch)(void);

    /* A point where a real kernel may switch threads (see KSIM_SWITCH_POINT). NULL: no-op
     * (the core then pays one predictable branch per point). */
    void (*SwitchPoint)(KSIM_SWITCH_POINT Point);

    /* Blocks until Predicate(Context) holds (TRUE) or the clock passes DeadlineNs (FALSE;
     * UINT64_MAX = no deadline). Called at IRQL <= APC_LEVEL. */
    BOOLEAN (*Wait)(const volatile void *Address, KSIM_WAIT_PREDICATE *Predicate, void *Context,
                    uint64_t DeadlineNs);
    /* Runs Update(Context) (may be NULL) under the wait's lock and wakes Address's waiters. */
    void (*Wake)(const volatile void *Address, KSIM_WAIT_UPDATE *Update, void *Context);

    /* The monotonic clock in nanoseconds (virtual in deterministic mode). */
    uint64_t (*NowNs)(void);
} KSIM_SCHEDULER;

/* The plug-in in force. Never NULL. */
extern const KSIM_SCHEDULER *KsimScheduler;
/* KsimScheduler->SwitchPoint, cached so that the core's check is one load and one branch. */
extern void (*KsimSwitchHook)(KSIM_SWITCH_POINT Point);

extern const KSIM_SCHEDULER KsimSchedulerThread;
extern const KSIM_SCHEDULER KsimSchedulerHostLoop;
extern const KSIM_SCHEDULER KsimSchedulerDeterministic;

/* ---- pieces the plug-ins share (ke.c, ksim_sched.c) ---- */

/* The host implementation of Wait/Wake: condition variables in buckets by address, deadlines
 * on the host's monotonic clock. */
BOOLEAN KsimHostWaitOn(const volatile void *Address, KSIM_WAIT_PREDICATE *Predicate, void *Context,
                       uint64_t DeadlineNs);
void KsimHostWakeAddress(const volatile void *Address, KSIM_WAIT_UPDATE *Update, void *Context);
uint64_t KsimHostNowNs(void);

/* A system thread a plug-in runs the network on (ksim_sched.c). Start creates it and takes a
 * reference on its object; Join waits for it to return and drops both. If the object cannot
 * be referenced, Abort (which must make Routine return soon) is called before the failure. */
typedef struct _KSIM_SCHED_THREAD {
    HANDLE Handle;
    PVOID Object;
} KSIM_SCHED_THREAD;
NTSTATUS KsimSchedThreadStart(_Out_ KSIM_SCHED_THREAD *Thread, _In_ PKSTART_ROUTINE Routine, _In_opt_ PVOID Context,
                              _In_ void (*Abort)(void));
void KsimSchedThreadJoin(_Inout_ KSIM_SCHED_THREAD *Thread);

/* Changes the plug-in (ksim_sched.c). The caller (KsimSchedulerSelect in io_manager.c)
 * guarantees the driver is not loaded. STATUS_INVALID_PARAMETER for an unknown Mode. */
NTSTATUS KsimSchedulerSet(_In_z_ const char *Mode, _In_ uint64_t Seed);
/* The plug-in of this name, or NULL. */
const KSIM_SCHEDULER *KsimSchedulerFind(_In_opt_z_ const char *Mode);
/* ke.c: restarts the interrupt-time origin on the new plug-in's clock (driver not loaded). */
void KsimKeClockReset(void);
/* Applies KSIM_SCHED / KSIM_SCHED_SEED; once, from ksim's initialisation. */
void KsimSchedulerInitialize(void);

/* ---- what the core and the provider call ---- */

static inline void KsimSwitchPoint(KSIM_SWITCH_POINT Point)
{
    void (*Hook)(KSIM_SWITCH_POINT) = KsimSwitchHook;
    if (__builtin_expect(Hook != NULL, 0))
        Hook(Point);
}

static inline uint64_t KsimNowNs(void)
{
    return KsimScheduler->NowNs();
}

/* Returns TRUE when the predicate held, FALSE at the deadline (UINT64_MAX = no deadline). */
static inline BOOLEAN KsimWaitOn(const volatile void *Address, KSIM_WAIT_PREDICATE *Predicate, void *Context,
                                 uint64_t DeadlineNs)
{
    KsimSwitchPoint(KsimSwitchWait);
    return KsimScheduler->Wait(Address, Predicate, Context, DeadlineNs);
}

/* Changes state under the wait's lock (Update may be NULL) and wakes waiters. */
static inline void KsimWakeAddress(const volatile void *Address, KSIM_WAIT_UPDATE *Update, void *Context)
{
    KsimScheduler->Wake(Address, Update, Context);
}

#ifdef __cplusplus
}
#endif

#endif /* KSIM_SCHED_H */

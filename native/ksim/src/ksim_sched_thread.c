/* SPDX-License-Identifier: MIT
 *
 * The "thread" scheduler plug-in (ksim_sched.h): the WSK provider's network runs on a system
 * thread of its own, which blocks in the host poller between turns. A request's queued work is
 * taken by that thread, as on a multiprocessor where the DPC runs on another processor. Waits
 * and time are the host's.
 */
#include "ksim_internal.h"

static const KSIM_NETWORK *ThreadNetwork;
static KSIM_SCHED_THREAD ThreadNetworkThread;
static volatile LONG ThreadStop;

static KSTART_ROUTINE ThreadNetworkMain;

static VOID
ThreadNetworkMain(_In_ PVOID StartContext)
{
    const KSIM_NETWORK *Network = StartContext;
    while (!ReadNoFence(&ThreadStop))
        Network->Turn(-1);
}

static void
ThreadNetworkAbort(void)
{
    InterlockedExchange(&ThreadStop, 1);
    __atomic_load_n(&ThreadNetwork, __ATOMIC_ACQUIRE)->Interrupt();
}

static NTSTATUS
ThreadNetworkStart(const KSIM_NETWORK *Network)
{
    NTSTATUS Status;

    InterlockedExchange(&ThreadStop, 0);
    __atomic_store_n(&ThreadNetwork, Network, __ATOMIC_RELEASE);
    Status = KsimSchedThreadStart(&ThreadNetworkThread, ThreadNetworkMain, (PVOID)Network, ThreadNetworkAbort);
    if (!NT_SUCCESS(Status))
        __atomic_store_n(&ThreadNetwork, NULL, __ATOMIC_RELEASE);
    return Status;
}

static void
ThreadNetworkStop(void)
{
    ThreadNetworkAbort();
    KsimSchedThreadJoin(&ThreadNetworkThread);
    __atomic_store_n(&ThreadNetwork, NULL, __ATOMIC_RELEASE);
}

static void
ThreadNetworkKick(void)
{
    const KSIM_NETWORK *Network = __atomic_load_n(&ThreadNetwork, __ATOMIC_ACQUIRE);
    if (Network)
        Network->Interrupt();
}

static void
ThreadAfterDispatch(void)
{
    /* The network thread takes the queued work on its own. */
}

const KSIM_SCHEDULER KsimSchedulerThread = {
    "thread",
    NULL,
    ThreadNetworkStart,
    ThreadNetworkStop,
    ThreadNetworkKick,
    ThreadAfterDispatch,
    NULL,
    KsimHostWaitOn,
    KsimHostWakeAddress,
    KsimHostNowNs,
};

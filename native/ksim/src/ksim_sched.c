/* SPDX-License-Identifier: MIT
 *
 * The scheduler seam's table and selection (ksim_sched.h). The plug-ins live in
 * ksim_sched_<name>.c; this file only knows their names.
 */
#include "ksim_internal.h"

/* The plug-ins ksim ships: one line each (ksim_sched_<name>.c defines the table it names). The
 * deterministic plug-in (ksim_sched_determ.c) adds `&KsimSchedulerDeterministic,` here. */
static const KSIM_SCHEDULER *const KsimSchedulers[] = {
    &KsimSchedulerThread,
    &KsimSchedulerHostLoop,
    &KsimSchedulerDeterministic,
};

const KSIM_SCHEDULER *KsimScheduler = &KsimSchedulerThread;
void (*KsimSwitchHook)(KSIM_SWITCH_POINT Point);

uint64_t KsimHostNowNs(void)
{
    return KsimHostMonotonicNs();
}

NTSTATUS KsimSchedThreadStart(KSIM_SCHED_THREAD *Thread, PKSTART_ROUTINE Routine, PVOID Context, void (*Abort)(void))
{
    NTSTATUS Status;

    Thread->Handle = NULL;
    Thread->Object = NULL;
    Status = PsCreateSystemThread(&Thread->Handle, THREAD_ALL_ACCESS, NULL, NULL, NULL, Routine, Context);
    if (!NT_SUCCESS(Status))
        return Status;
    Status = ObReferenceObjectByHandle(Thread->Handle, SYNCHRONIZE, *PsThreadType, KernelMode, &Thread->Object, NULL);
    if (!NT_SUCCESS(Status)) {
        /* The thread runs already: stop it through its handle-less path. */
        Abort();
        ZwClose(Thread->Handle);
        Thread->Handle = NULL;
        KsimVerifierFail("ksim scheduler: cannot reference the network thread (0x%08x)", (unsigned)Status);
    }
    return Status;
}

void KsimSchedThreadJoin(KSIM_SCHED_THREAD *Thread)
{
    KeWaitForSingleObject(Thread->Object, Executive, KernelMode, FALSE, NULL);
    ObDereferenceObject(Thread->Object);
    ZwClose(Thread->Handle);
    Thread->Object = NULL;
    Thread->Handle = NULL;
}

const KSIM_SCHEDULER *KsimSchedulerFind(const char *Mode)
{
    size_t i;
    if (!Mode)
        return NULL;
    for (i = 0; i < sizeof(KsimSchedulers) / sizeof(KsimSchedulers[0]); ++i) {
        const char *A = KsimSchedulers[i]->Name, *B = Mode;
        while (*A && *A == *B)
            ++A, ++B;
        if (*A == 0 && *B == 0)
            return KsimSchedulers[i];
    }
    return NULL;
}

NTSTATUS KsimSchedulerSet(const char *Mode, uint64_t Seed)
{
    const KSIM_SCHEDULER *Chosen = KsimSchedulerFind(Mode);
    NTSTATUS Status = STATUS_SUCCESS;

    if (!Chosen)
        return STATUS_INVALID_PARAMETER;
    if (Chosen->Select)
        Status = Chosen->Select(Seed);
    if (!NT_SUCCESS(Status))
        return Status;
    __atomic_store_n(&KsimSwitchHook, NULL, __ATOMIC_SEQ_CST);
    __atomic_store_n(&KsimScheduler, Chosen, __ATOMIC_SEQ_CST);
    __atomic_store_n(&KsimSwitchHook, Chosen->SwitchPoint, __ATOMIC_SEQ_CST);
    KsimKeClockReset();
    return STATUS_SUCCESS;
}

void KsimSchedulerInitialize(void)
{
    const char *Mode = KsimHostGetEnv("KSIM_SCHED");
    const char *SeedText = KsimHostGetEnv("KSIM_SCHED_SEED");
    uint64_t Seed = 0;
    NTSTATUS Status;

    if (!Mode || !*Mode)
        return;
    for (; SeedText && *SeedText >= '0' && *SeedText <= '9'; ++SeedText)
        Seed = Seed * 10 + (uint64_t)(*SeedText - '0');
    Status = KsimSchedulerSet(Mode, Seed);
    if (!NT_SUCCESS(Status)) {
        char Message[256];
        KsimFormat(Message, sizeof(Message),
                   "ksim: KSIM_SCHED=%s is not a scheduler of this build (0x%08x); using \"%s\"\n", Mode,
                   (unsigned)Status, KsimScheduler->Name);
        KsimHostWriteStderr(Message);
    }
}

const char *KsimSchedulerName(void)
{
    KsimEnsureInitialized();
    return KsimScheduler->Name;
}

/* SPDX-License-Identifier: MIT
 *
 * The ksim host services' contract (native/ksim/host/host_sync.h), checked against both
 * implementations: host_sync_posix.c natively and host_sync_win.c under Wine (see
 * scripts/test-wine.sh). Prints "N passed, N failed"; exits non-zero on failure.
 */
#include "host_sync.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int Passed, Failed;

static void
Check(int Ok, const char *What, long long Detail)
{
    printf("%s %s (%lld)\n", Ok ? "ok  " : "FAIL", What, Detail);
    fflush(stdout);
    if (Ok)
        Passed++;
    else
        Failed++;
}

#define CHECK(Condition, What, Detail)           \
    do {                                         \
        int Ok_ = (Condition);                   \
        Check(Ok_, (What), (long long)(Detail)); \
    } while (0)

typedef struct _SHARED {
    KSIM_HOST_MUTEX *Mutex;
    KSIM_HOST_COND *Cond;
    int Counter;
    int Started;
    void *TlsSeen;
    uint64_t ThreadId;
} SHARED;

static void
Worker(void *Context)
{
    SHARED *S = Context;
    int i;
    S->TlsSeen = KsimHostTlsGet(); /* a new thread starts with an empty slot */
    /* The slot owns its value (freed at thread exit): it must come from KsimHostAlloc. */
    KsimHostTlsSet(KsimHostAlloc(32));
    S->ThreadId = KsimHostThreadId();
    for (i = 0; i < 100000; i++) {
        KsimHostMutexLock(S->Mutex);
        S->Counter++;
        KsimHostMutexUnlock(S->Mutex);
    }
    KsimHostMutexLock(S->Mutex);
    S->Started++;
    KsimHostCondBroadcast(S->Cond);
    KsimHostMutexUnlock(S->Mutex);
}

static void
Exiter(void *Context)
{
    SHARED *S = Context;
    KsimHostMutexLock(S->Mutex);
    S->Started++;
    KsimHostCondBroadcast(S->Cond);
    KsimHostMutexUnlock(S->Mutex);
    KsimHostThreadExit();
    S->Counter = -1; /* never reached */
}

static int
Format(char *Buffer, size_t Size, const char *Format, ...)
{
    va_list Arguments;
    int Result;
    va_start(Arguments, Format);
    Result = KsimHostFormatV(Buffer, Size, Format, Arguments);
    va_end(Arguments);
    return Result;
}

int
main(void)
{
    SHARED S;
    KSIM_HOST_THREAD *A = NULL, *B = NULL, *C = NULL;
    uint64_t T0, T1;
    char Text[64];
    int Result;
    void *Mark = KsimHostAlloc(16);

    memset(&S, 0, sizeof(S));
    S.Mutex = KsimHostMutexCreate();
    S.Cond = KsimHostCondCreate();
    KsimHostTlsSet(Mark);

    CHECK(KsimHostThreadCreate(Worker, &S, &A) == 0, "thread A", 0);
    CHECK(KsimHostThreadCreate(Worker, &S, &B) == 0, "thread B", 0);
    KsimHostThreadJoin(A);
    KsimHostThreadJoin(B);
    CHECK(S.Counter == 200000, "the mutex excludes", S.Counter);
    CHECK(S.TlsSeen == NULL && KsimHostTlsGet() == Mark, "thread-local slot is per thread", 0);
    CHECK(S.ThreadId != 0 && S.ThreadId != KsimHostThreadId(), "thread ids differ", 0);

    S.Started = 0;
    CHECK(KsimHostThreadCreate(Exiter, &S, &C) == 0, "thread that exits early", 0);
    KsimHostThreadJoin(C);
    CHECK(S.Started == 1 && S.Counter == 200000, "KsimHostThreadExit ends the thread there", S.Counter);

    S.Started = 0;
    CHECK(KsimHostThreadCreate(Worker, &S, &A) == 0, "detached thread", 0);
    KsimHostThreadDetach(A);
    KsimHostMutexLock(S.Mutex);
    while (S.Started == 0)
        KsimHostCondWait(S.Cond, S.Mutex);
    KsimHostMutexUnlock(S.Mutex);
    CHECK(S.Started == 1, "condition variable wakes the waiter", S.Started);

    KsimHostMutexLock(S.Mutex);
    T0 = KsimHostMonotonicNs();
    do
        Result = KsimHostCondWaitUntil(S.Cond, S.Mutex, T0 + 50000000u);
    while (Result == 0);
    T1 = KsimHostMonotonicNs();
    KsimHostMutexUnlock(S.Mutex);
    CHECK(T1 - T0 >= 50000000u && T1 - T0 < 1000000000u, "timed wait returns 1 at its deadline, not before (ns)", T1 - T0);

    T0 = KsimHostMonotonicNs();
    KsimHostSleepNs(2000000u);
    T1 = KsimHostMonotonicNs();
    CHECK(T1 - T0 >= 2000000u && T1 - T0 < 500000000u, "2 ms sleep (ns)", T1 - T0);
    CHECK(KsimHostMonotonicNs() >= T1, "monotonic clock", 0);

    Format(Text, sizeof(Text), "%zu %llu %d", (size_t)12345, (unsigned long long)18446744073709551615ull, -7);
    CHECK(strcmp(Text, "12345 18446744073709551615 -7") == 0, Text, 0);

    CHECK(KsimHostGetEnv("KSIM_HOST_SYNC_TEST_UNSET") == NULL, "unset variable is NULL", 0);
    CHECK(KsimHostGetEnv("PATH") != NULL, "PATH is set", 0);

    {
        void *Block = KsimHostAllocZero(64);
        int Zero = 1, i;
        for (i = 0; i < 64; i++)
            Zero = Zero && ((unsigned char *)Block)[i] == 0;
        CHECK(Block != NULL && Zero, "zeroed allocation", 0);
        KsimHostFree(Block);
    }

    KsimHostCondDestroy(S.Cond);
    KsimHostMutexDestroy(S.Mutex);
    printf("%d passed, %d failed\n", Passed, Failed);
    return Failed ? 1 : 0;
}

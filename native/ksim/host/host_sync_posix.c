/* SPDX-License-Identifier: MIT
 *
 * ksim host layer on POSIX (Linux, macOS): pthreads, CLOCK_MONOTONIC, malloc, stderr.
 * The only ksim file that includes OS headers.
 */
#define _GNU_SOURCE
#include "host_sync.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

struct _KSIM_HOST_MUTEX {
    pthread_mutex_t Mutex;
};

struct _KSIM_HOST_COND {
    pthread_cond_t Cond;
};

struct _KSIM_HOST_THREAD {
    pthread_t Thread;
};

/* Owned by the new thread (the handle may be detached and freed before it runs). */
typedef struct _KSIM_HOST_THREAD_START {
    KSIM_HOST_THREAD_ROUTINE *Routine;
    void *Context;
} KSIM_HOST_THREAD_START;

static void HostDie(const char *What, int Error)
{
    fprintf(stderr, "ksim host: %s failed: %s\n", What, strerror(Error));
    abort();
}

KSIM_HOST_MUTEX *KsimHostMutexCreate(void)
{
    KSIM_HOST_MUTEX *Mutex = malloc(sizeof(*Mutex));
    int Error;
    if (!Mutex)
        HostDie("malloc(mutex)", ENOMEM);
    Error = pthread_mutex_init(&Mutex->Mutex, NULL);
    if (Error)
        HostDie("pthread_mutex_init", Error);
    return Mutex;
}

void KsimHostMutexDestroy(KSIM_HOST_MUTEX *Mutex)
{
    if (!Mutex)
        return;
    pthread_mutex_destroy(&Mutex->Mutex);
    free(Mutex);
}

void KsimHostMutexLock(KSIM_HOST_MUTEX *Mutex)
{
    int Error = pthread_mutex_lock(&Mutex->Mutex);
    if (Error)
        HostDie("pthread_mutex_lock", Error);
}

void KsimHostMutexUnlock(KSIM_HOST_MUTEX *Mutex)
{
    int Error = pthread_mutex_unlock(&Mutex->Mutex);
    if (Error)
        HostDie("pthread_mutex_unlock", Error);
}

KSIM_HOST_COND *KsimHostCondCreate(void)
{
    KSIM_HOST_COND *Cond = malloc(sizeof(*Cond));
    pthread_condattr_t Attributes;
    int Error;
    if (!Cond)
        HostDie("malloc(cond)", ENOMEM);
    pthread_condattr_init(&Attributes);
#if !defined(__APPLE__)
    /* Deadlines are on the monotonic clock, so that wall-clock steps never stretch a wait. */
    pthread_condattr_setclock(&Attributes, CLOCK_MONOTONIC);
#endif
    Error = pthread_cond_init(&Cond->Cond, &Attributes);
    pthread_condattr_destroy(&Attributes);
    if (Error)
        HostDie("pthread_cond_init", Error);
    return Cond;
}

void KsimHostCondDestroy(KSIM_HOST_COND *Cond)
{
    if (!Cond)
        return;
    pthread_cond_destroy(&Cond->Cond);
    free(Cond);
}

void KsimHostCondWait(KSIM_HOST_COND *Cond, KSIM_HOST_MUTEX *Mutex)
{
    int Error = pthread_cond_wait(&Cond->Cond, &Mutex->Mutex);
    if (Error)
        HostDie("pthread_cond_wait", Error);
}

int KsimHostCondWaitUntil(KSIM_HOST_COND *Cond, KSIM_HOST_MUTEX *Mutex, uint64_t DeadlineNs)
{
    struct timespec Deadline;
    int Error;
    if (DeadlineNs == UINT64_MAX) {
        KsimHostCondWait(Cond, Mutex);
        return 0;
    }
    if (KsimHostMonotonicNs() >= DeadlineNs)
        return 1;
#if defined(__APPLE__)
    {
        uint64_t Now = KsimHostMonotonicNs();
        uint64_t Relative = DeadlineNs > Now ? DeadlineNs - Now : 0;
        Deadline.tv_sec = (time_t)(Relative / 1000000000u);
        Deadline.tv_nsec = (long)(Relative % 1000000000u);
        Error = pthread_cond_timedwait_relative_np(&Cond->Cond, &Mutex->Mutex, &Deadline);
    }
#else
    Deadline.tv_sec = (time_t)(DeadlineNs / 1000000000u);
    Deadline.tv_nsec = (long)(DeadlineNs % 1000000000u);
    Error = pthread_cond_timedwait(&Cond->Cond, &Mutex->Mutex, &Deadline);
#endif
    if (Error == ETIMEDOUT)
        return 1;
    if (Error)
        HostDie("pthread_cond_timedwait", Error);
    return 0;
}

void KsimHostCondBroadcast(KSIM_HOST_COND *Cond)
{
    int Error = pthread_cond_broadcast(&Cond->Cond);
    if (Error)
        HostDie("pthread_cond_broadcast", Error);
}

static void *HostThreadStart(void *Argument)
{
    KSIM_HOST_THREAD_START Start = *(KSIM_HOST_THREAD_START *)Argument;
    free(Argument);
    Start.Routine(Start.Context);
    return NULL;
}

int KsimHostThreadCreate(KSIM_HOST_THREAD_ROUTINE *Routine, void *Context, KSIM_HOST_THREAD **OutThread)
{
    KSIM_HOST_THREAD *Thread = malloc(sizeof(*Thread));
    KSIM_HOST_THREAD_START *Start = malloc(sizeof(*Start));
    int Error;
    if (!Thread || !Start) {
        free(Thread);
        free(Start);
        return ENOMEM;
    }
    Start->Routine = Routine;
    Start->Context = Context;
    Error = pthread_create(&Thread->Thread, NULL, HostThreadStart, Start);
    if (Error) {
        free(Start);
        free(Thread);
        return Error;
    }
    *OutThread = Thread;
    return 0;
}

void KsimHostThreadJoin(KSIM_HOST_THREAD *Thread)
{
    pthread_join(Thread->Thread, NULL);
    free(Thread);
}

void KsimHostThreadDetach(KSIM_HOST_THREAD *Thread)
{
    pthread_detach(Thread->Thread);
    free(Thread);
}

void KsimHostThreadExit(void)
{
    pthread_exit(NULL);
}

uint64_t KsimHostThreadId(void)
{
    return (uint64_t)(uintptr_t)pthread_self();
}

void KsimHostYield(void)
{
    sched_yield();
}

void KsimHostSleepNs(uint64_t Nanoseconds)
{
    struct timespec Interval = { (time_t)(Nanoseconds / 1000000000u), (long)(Nanoseconds % 1000000000u) };
    while (nanosleep(&Interval, &Interval) == -1 && errno == EINTR)
        ;
}

static pthread_key_t HostTlsKey;
static pthread_once_t HostTlsOnce = PTHREAD_ONCE_INIT;

static void HostTlsInit(void)
{
    /* The slot's value is ksim's per-thread state, allocated with KsimHostAlloc. */
    int Error = pthread_key_create(&HostTlsKey, free);
    if (Error)
        HostDie("pthread_key_create", Error);
}

/* The value is also cached in a plain thread-local variable: every ksim call reads it (the
 * deterministic scheduler several times per switch), and the key is only needed for its
 * destructor when the thread ends. */
static __thread void *HostTlsCached;

void *KsimHostTlsGet(void)
{
    return HostTlsCached;
}

void KsimHostTlsSet(void *Value)
{
    pthread_once(&HostTlsOnce, HostTlsInit);
    pthread_setspecific(HostTlsKey, Value);
    HostTlsCached = Value;
}

uint64_t KsimHostMonotonicNs(void)
{
    struct timespec Now;
    clock_gettime(CLOCK_MONOTONIC, &Now);
    return (uint64_t)Now.tv_sec * 1000000000u + (uint64_t)Now.tv_nsec;
}

void *KsimHostAlloc(size_t Size)
{
    return malloc(Size ? Size : 1);
}

void *KsimHostAllocZero(size_t Size)
{
    return calloc(1, Size ? Size : 1);
}

void KsimHostFree(void *Block)
{
    free(Block);
}

/* Freed regions kept inaccessible for the next block of the same size class: the fuzzer and the
 * data path allocate and free MB-sized buffers per request, and faulting their pages in afresh
 * each time (a page fault costs microseconds in a VM) was most of a request's time. */
#define HOST_PAGES_CACHE 8
#define HOST_PAGES_CACHE_BYTES ((size_t)64u << 20)
static pthread_mutex_t HostPagesLock = PTHREAD_MUTEX_INITIALIZER;
static struct {
    char *Base;
    size_t Span;
} HostPagesCache[HOST_PAGES_CACHE];
static unsigned HostPagesCached;
static size_t HostPagesCachedBytes;

size_t KsimHostPageBytes(void)
{
    static size_t Page;
    if (!Page)
        Page = (size_t)sysconf(_SC_PAGESIZE);
    return Page;
}

/* The region of a block: a guard page, the block's pages, a guard page, rounded up to a power
 * of two so that blocks of nearby sizes share a class. The block starts after the first page;
 * the region's last page is the second guard (the slack between block and guard stays
 * accessible while the block is live). */
static size_t HostPagesSpan(size_t Size)
{
    size_t Page = KsimHostPageBytes();
    size_t Need = ((Size + Page - 1) & ~(Page - 1)) + 2 * Page;
    size_t Span = Page;
    while (Span < Need)
        Span <<= 1;
    return Span;
}

void *KsimHostPagesAlloc(size_t Size, int Zero)
{
    size_t Page = KsimHostPageBytes();
    size_t Span = HostPagesSpan(Size);
    char *Base = NULL;
    unsigned i;

    pthread_mutex_lock(&HostPagesLock);
    for (i = 0; i < HostPagesCached; i++) {
        if (HostPagesCache[i].Span == Span) {
            Base = HostPagesCache[i].Base;
            HostPagesCache[i] = HostPagesCache[--HostPagesCached];
            HostPagesCachedBytes -= Span;
            break;
        }
    }
    pthread_mutex_unlock(&HostPagesLock);
    if (Base) {
        if (mprotect(Base + Page, Span - 2 * Page, PROT_READ | PROT_WRITE) != 0) {
            munmap(Base, Span);
            return NULL;
        }
        if (Zero)
            memset(Base + Page, 0, Size);
        return Base + Page;
    }
    Base = mmap(NULL, Span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (Base == MAP_FAILED)
        return NULL;
    if (mprotect(Base, Page, PROT_NONE) != 0 || mprotect(Base + Span - Page, Page, PROT_NONE) != 0) {
        munmap(Base, Span);
        return NULL;
    }
    return Base + Page; /* fresh pages are zero */
}

void KsimHostPagesFree(void *Block, size_t Size)
{
    size_t Page = KsimHostPageBytes();
    size_t Span = HostPagesSpan(Size);
    char *Base = (char *)Block - Page;
    int Kept = 0;

    if (!Block)
        return;
    if (mprotect(Block, Span - 2 * Page, PROT_NONE) == 0) {
        pthread_mutex_lock(&HostPagesLock);
        if (HostPagesCached < HOST_PAGES_CACHE && HostPagesCachedBytes + Span <= HOST_PAGES_CACHE_BYTES) {
            HostPagesCache[HostPagesCached].Base = Base;
            HostPagesCache[HostPagesCached].Span = Span;
            HostPagesCached++;
            HostPagesCachedBytes += Span;
            Kept = 1;
        }
        pthread_mutex_unlock(&HostPagesLock);
    }
    if (!Kept)
        munmap(Base, Span);
}

int KsimHostFormatV(char *Buffer, size_t Size, const char *Format, va_list Arguments)
{
    return vsnprintf(Buffer, Size, Format, Arguments);
}

void KsimHostWriteStderr(const char *Text)
{
    fputs(Text, stderr);
    fflush(stderr);
}

const char *KsimHostGetEnv(const char *Name)
{
    return getenv(Name);
}

void KsimHostAbort(void)
{
    fflush(stderr);
    abort();
}

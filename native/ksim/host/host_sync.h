/* SPDX-License-Identifier: MIT
 *
 * ksim host layer: the only services ksim takes from the host OS (threads, locks, condition
 * variables, thread-local storage, a monotonic clock, heap, formatting and stderr). Plain C
 * types only, so that it can sit next to the simulated kernel headers; the implementation
 * (host_sync_posix.c, later host_sync_win.c) is the only file that includes OS headers.
 */
#ifndef KSIM_HOST_SYNC_H
#define KSIM_HOST_SYNC_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct _KSIM_HOST_MUTEX KSIM_HOST_MUTEX;
typedef struct _KSIM_HOST_COND KSIM_HOST_COND;
typedef struct _KSIM_HOST_THREAD KSIM_HOST_THREAD;

/* Mutexes and condition variables; creation aborts the process on failure (host out of
 * memory is not a condition the simulated kernel models). */
KSIM_HOST_MUTEX *KsimHostMutexCreate(void);
void KsimHostMutexDestroy(KSIM_HOST_MUTEX *Mutex);
void KsimHostMutexLock(KSIM_HOST_MUTEX *Mutex);
void KsimHostMutexUnlock(KSIM_HOST_MUTEX *Mutex);

KSIM_HOST_COND *KsimHostCondCreate(void);
void KsimHostCondDestroy(KSIM_HOST_COND *Cond);
void KsimHostCondWait(KSIM_HOST_COND *Cond, KSIM_HOST_MUTEX *Mutex);
/* Waits until signaled or until the monotonic clock passes DeadlineNs. Returns 0 when woken
 * (possibly spuriously), 1 at the deadline. */
int KsimHostCondWaitUntil(KSIM_HOST_COND *Cond, KSIM_HOST_MUTEX *Mutex, uint64_t DeadlineNs);
void KsimHostCondBroadcast(KSIM_HOST_COND *Cond);

/* Threads. Routine runs on a new host thread; returns 0 or an errno-style code. */
typedef void KSIM_HOST_THREAD_ROUTINE(void *Context);
int KsimHostThreadCreate(KSIM_HOST_THREAD_ROUTINE *Routine, void *Context, KSIM_HOST_THREAD **Thread);
void KsimHostThreadJoin(KSIM_HOST_THREAD *Thread);
void KsimHostThreadDetach(KSIM_HOST_THREAD *Thread);
/* Ends the calling thread (created by KsimHostThreadCreate) at once. */
__attribute__((noreturn)) void KsimHostThreadExit(void);
uint64_t KsimHostThreadId(void);
void KsimHostYield(void);
void KsimHostSleepNs(uint64_t Nanoseconds);

/* One thread-local slot, for ksim's per-thread state; a non-NULL value must come from
 * KsimHostAlloc and is freed with KsimHostFree when the thread ends. */
void *KsimHostTlsGet(void);
void KsimHostTlsSet(void *Value);

/* Monotonic clock in nanoseconds. */
uint64_t KsimHostMonotonicNs(void);

/* Heap for ksim's own structures (never the simulated pool). Alloc returns NULL on failure. */
void *KsimHostAlloc(size_t Size);
void *KsimHostAllocZero(size_t Size);
void KsimHostFree(void *Block);
/* Large blocks straight from the OS's pages (mmap / VirtualAlloc), for ksim's pool and the I/O
 * manager's buffers from KSIM_HOST_PAGES_MIN bytes and for fiber stacks: pages are committed
 * only when touched (a 4 MiB event ring whose driver writes a few pages costs a few pages), an
 * inaccessible page lies before and after the block (an underflow, an overflow or a fiber's
 * stack overflow faults), and a freed block is made inaccessible at once (POSIX: kept so, for
 * the next block of its size class, whose pages are then already there; else unmapped), so
 * that a use after free faults. Zeroed when Zero is non-zero; freed with the size allocated. */
#define KSIM_HOST_PAGES_MIN ((size_t)256u * 1024u)
/* The host's page size. */
size_t KsimHostPageBytes(void);
void *KsimHostPagesAlloc(size_t Size, int Zero);
void KsimHostPagesFree(void *Block, size_t Size);

/* A block of Size bytes from the heap, or from the OS's pages from KSIM_HOST_PAGES_MIN: the one
 * rule ksim's pool and I/O manager follow. Freed with the size allocated. */
static inline int KsimHostBlockFromPages(size_t Size)
{
    return Size >= KSIM_HOST_PAGES_MIN;
}

static inline void *KsimHostBlockAlloc(size_t Size, int Zero)
{
    if (KsimHostBlockFromPages(Size))
        return KsimHostPagesAlloc(Size, Zero);
    return Zero ? KsimHostAllocZero(Size) : KsimHostAlloc(Size);
}

static inline void KsimHostBlockFree(void *Block, size_t Size)
{
    if (KsimHostBlockFromPages(Size))
        KsimHostPagesFree(Block, Size);
    else
        KsimHostFree(Block);
}

/* vsnprintf, stderr, environment, abort. */
int KsimHostFormatV(char *Buffer, size_t Size, const char *Format, va_list Arguments);
void KsimHostWriteStderr(const char *Text);
const char *KsimHostGetEnv(const char *Name);
__attribute__((noreturn)) void KsimHostAbort(void);

#ifdef __cplusplus
}
#endif

#endif /* KSIM_HOST_SYNC_H */

/* SPDX-License-Identifier: MIT
 *
 * ksim host fibers on POSIX ucontext (host_fiber.h), annotated for AddressSanitizer so that it
 * follows the stack switches (__sanitizer_start_switch_fiber / __sanitizer_finish_switch_fiber).
 */
#define _GNU_SOURCE
#include "host_fiber.h"
#include "host_sync.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <ucontext.h>

#if defined(__SANITIZE_ADDRESS__)
#define KSIM_FIBER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define KSIM_FIBER_ASAN 1
#endif
#endif

#ifdef KSIM_FIBER_ASAN
void __sanitizer_start_switch_fiber(void **fake_stack_save, const void *bottom, size_t size);
void __sanitizer_finish_switch_fiber(void *fake_stack_save, const void **bottom_old, size_t *size_old);
void __asan_unpoison_memory_region(void const volatile *addr, size_t size);
#endif

/* Fiber stacks come from the OS's pages (KsimHostPagesAlloc): the inaccessible page below a
 * stack makes an overflow fault at once instead of writing over a neighbouring block, and a
 * finished fiber's stack is kept for the next one (the deterministic scheduler creates and ends
 * a fiber per simulated thread, thousands per second under the fuzzer). */
static void *StackAcquire(size_t Bytes)
{
    return KsimHostPagesAlloc(Bytes, 0);
}

static void StackRelease(void *Stack, size_t Bytes)
{
    if (!Stack)
        return;
#ifdef KSIM_FIBER_ASAN
    /* Frames of a fiber that never returned leave their redzones poisoned; the region may next
     * serve as a pool block, which ASan must not see as poisoned. */
    __asan_unpoison_memory_region(Stack, Bytes);
#endif
    KsimHostPagesFree(Stack, Bytes);
}

struct _KSIM_HOST_FIBER {
    ucontext_t Context;
    void *Stack;          /* NULL for a thread's own context */
    size_t StackBytes;
    const void *ThreadStack; /* a thread's own stack, as ASan reported it when we left it */
    size_t ThreadStackBytes;
    void (*Routine)(void *);
    void *Argument;
};

KSIM_HOST_FIBER *KsimHostFiberFromThread(void)
{
    return calloc(1, sizeof(KSIM_HOST_FIBER));
}

#ifdef KSIM_FIBER_ASAN
/* The fiber being left: after the switch, ASan tells its stack bounds, which a thread's own
 * context needs when it is switched back to (LeakSanitizer scans that stack). */
static __thread KSIM_HOST_FIBER *FiberLeaving;

static void FiberArrived(void *FakeStack)
{
    const void *Bottom = NULL;
    size_t Size = 0;
    __sanitizer_finish_switch_fiber(FakeStack, &Bottom, &Size);
    if (FiberLeaving && !FiberLeaving->Stack && !FiberLeaving->ThreadStack) {
        FiberLeaving->ThreadStack = Bottom;
        FiberLeaving->ThreadStackBytes = Size;
    }
    FiberLeaving = NULL;
}
#endif

static void FiberEntry(unsigned High, unsigned Low)
{
    KSIM_HOST_FIBER *Self = (KSIM_HOST_FIBER *)(((uintptr_t)High << 32) | (uintptr_t)Low);
#ifdef KSIM_FIBER_ASAN
    FiberArrived(NULL);
#endif
    Self->Routine(Self->Argument);
    fputs("ksim: a fiber's routine returned (it must switch away for the last time)\n", stderr);
    abort();
}

/* getcontext returns twice in principle (as setjmp), so it runs in a frame of its own. */
static __attribute__((noinline)) int FiberGetContext(ucontext_t *Context)
{
    return getcontext(Context);
}

KSIM_HOST_FIBER *KsimHostFiberCreate(size_t StackBytes, void (*Routine)(void *), void *Context)
{
    KSIM_HOST_FIBER *Fiber = calloc(1, sizeof(*Fiber));
    uintptr_t Self = (uintptr_t)Fiber;
    if (!Fiber)
        return NULL;
    Fiber->Stack = StackAcquire(StackBytes);
    if (!Fiber->Stack || FiberGetContext(&Fiber->Context) != 0) {
        StackRelease(Fiber->Stack, StackBytes);
        free(Fiber);
        return NULL;
    }
    Fiber->StackBytes = StackBytes;
    Fiber->Routine = Routine;
    Fiber->Argument = Context;
    Fiber->Context.uc_stack.ss_sp = Fiber->Stack;
    Fiber->Context.uc_stack.ss_size = StackBytes;
    Fiber->Context.uc_link = NULL;
    makecontext(&Fiber->Context, (void (*)(void))FiberEntry, 2, (unsigned)(Self >> 32), (unsigned)(Self & 0xffffffffu));
    return Fiber;
}

static void FiberSwap(KSIM_HOST_FIBER *From, KSIM_HOST_FIBER *To, int Exiting)
{
#ifdef KSIM_FIBER_ASAN
    void *FakeStack = NULL;
    FiberLeaving = From;
    __sanitizer_start_switch_fiber(Exiting ? NULL : &FakeStack, To->Stack ? To->Stack : To->ThreadStack,
                                   To->Stack ? To->StackBytes : To->ThreadStackBytes);
    swapcontext(&From->Context, &To->Context);
    FiberArrived(FakeStack);
#else
    (void)Exiting;
    swapcontext(&From->Context, &To->Context);
#endif
}

void KsimHostFiberSwitch(KSIM_HOST_FIBER *From, KSIM_HOST_FIBER *To)
{
    FiberSwap(From, To, 0);
}

void KsimHostFiberExit(KSIM_HOST_FIBER *From, KSIM_HOST_FIBER *To)
{
    FiberSwap(From, To, 1);
    fputs("ksim: a finished fiber was switched to\n", stderr);
    abort();
}

void KsimHostFiberDelete(KSIM_HOST_FIBER *Fiber)
{
    if (!Fiber)
        return;
    StackRelease(Fiber->Stack, Fiber->StackBytes);
    free(Fiber);
}

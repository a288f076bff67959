/* SPDX-License-Identifier: MIT
 *
 * ksim host fibers on Win32 fibers (host_fiber.h).
 */
#include "host_fiber.h"

#include <stdio.h>
#include <stdlib.h>
#include <windows.h>

struct _KSIM_HOST_FIBER {
    LPVOID Fiber;
    BOOL Converted; /* the thread's own context, made a fiber by ConvertThreadToFiber */
    void (*Routine)(void *);
    void *Argument;
};

KSIM_HOST_FIBER *KsimHostFiberFromThread(void)
{
    KSIM_HOST_FIBER *Fiber = calloc(1, sizeof(*Fiber));
    if (!Fiber)
        return NULL;
    Fiber->Fiber = IsThreadAFiber() ? GetCurrentFiber() : ConvertThreadToFiber(NULL);
    Fiber->Converted = TRUE;
    if (!Fiber->Fiber) {
        free(Fiber);
        return NULL;
    }
    return Fiber;
}

static VOID CALLBACK FiberEntry(LPVOID Parameter)
{
    KSIM_HOST_FIBER *Self = Parameter;
    Self->Routine(Self->Argument);
    fputs("ksim: a fiber's routine returned (it must switch away for the last time)\n", stderr);
    abort();
}

KSIM_HOST_FIBER *KsimHostFiberCreate(size_t StackBytes, void (*Routine)(void *), void *Context)
{
    KSIM_HOST_FIBER *Fiber = calloc(1, sizeof(*Fiber));
    if (!Fiber)
        return NULL;
    Fiber->Routine = Routine;
    Fiber->Argument = Context;
    Fiber->Fiber = CreateFiber(StackBytes, FiberEntry, Fiber);
    if (!Fiber->Fiber) {
        free(Fiber);
        return NULL;
    }
    return Fiber;
}

void KsimHostFiberSwitch(KSIM_HOST_FIBER *From, KSIM_HOST_FIBER *To)
{
    (void)From;
    SwitchToFiber(To->Fiber);
}

void KsimHostFiberExit(KSIM_HOST_FIBER *From, KSIM_HOST_FIBER *To)
{
    (void)From;
    SwitchToFiber(To->Fiber);
    fputs("ksim: a finished fiber was switched to\n", stderr);
    abort();
}

void KsimHostFiberDelete(KSIM_HOST_FIBER *Fiber)
{
    if (!Fiber)
        return;
    if (!Fiber->Converted)
        DeleteFiber(Fiber->Fiber);
    free(Fiber);
}

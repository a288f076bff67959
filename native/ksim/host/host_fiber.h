/* SPDX-License-Identifier: MIT
 *
 * ksim host layer: cooperative fibers (user-mode contexts switched by hand on one host thread),
 * for the deterministic scheduler, which runs every simulated thread as a fiber so that it
 * alone decides who runs at each switch point. Plain C types only (see host_sync.h). POSIX:
 * ucontext, with AddressSanitizer's fiber annotations when ASan is on; Windows: fibers.
 */
#ifndef KSIM_HOST_FIBER_H
#define KSIM_HOST_FIBER_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct _KSIM_HOST_FIBER KSIM_HOST_FIBER;

/* The calling thread's own context as a fiber (it can be switched away from and back to).
 * NULL when out of memory. Free with KsimHostFiberDelete once no longer switched to. */
KSIM_HOST_FIBER *KsimHostFiberFromThread(void);
/* A new fiber that runs Routine(Context) when first switched to. Routine must never return:
 * it ends by switching to another fiber for the last time (KsimHostFiberExit). NULL when out
 * of memory. */
KSIM_HOST_FIBER *KsimHostFiberCreate(size_t StackBytes, void (*Routine)(void *), void *Context);
/* Suspends From (the running fiber) and runs To. Returns when something switches back to From. */
void KsimHostFiberSwitch(KSIM_HOST_FIBER *From, KSIM_HOST_FIBER *To);
/* Like KsimHostFiberSwitch for a fiber that will never run again (its stack may then be freed). */
void KsimHostFiberExit(KSIM_HOST_FIBER *From, KSIM_HOST_FIBER *To);
/* Frees a fiber that is not running (a finished one, or the thread's own wrapper). */
void KsimHostFiberDelete(KSIM_HOST_FIBER *Fiber);

#ifdef __cplusplus
}
#endif

#endif /* KSIM_HOST_FIBER_H */

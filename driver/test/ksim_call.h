/* SPDX-License-Identifier: MIT
 *
 * DeviceIoControl over ksim for the driver's C tests (user-mode code: host headers and ksim.h
 * only): a CALL is one request, waited for or not, with its output copied in its completion
 * callback; a LATCH is a one-shot flag another thread waits for with a deadline. Header-only,
 * every function static: each test program includes it once.
 */
#ifndef KSIM_CALL_H
#define KSIM_CALL_H

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ksim.h"

/* ---- a one-shot flag with a bounded wait ---- */

typedef struct {
    pthread_mutex_t Mutex;
    pthread_cond_t Cond;
    int Set;
} LATCH;

static void
LatchInit(LATCH *Latch)
{
    pthread_mutex_init(&Latch->Mutex, NULL);
    pthread_cond_init(&Latch->Cond, NULL);
    Latch->Set = 0;
}

static void
LatchDestroy(LATCH *Latch)
{
    pthread_mutex_destroy(&Latch->Mutex);
    pthread_cond_destroy(&Latch->Cond);
}

static void
LatchSet(LATCH *Latch)
{
    pthread_mutex_lock(&Latch->Mutex);
    Latch->Set = 1;
    pthread_cond_broadcast(&Latch->Cond);
    pthread_mutex_unlock(&Latch->Mutex);
}

/* Waits up to Ms milliseconds; returns whether the latch is set. */
static int
LatchWait(LATCH *Latch, int Ms)
{
    struct timespec Deadline;
    int Set;

    clock_gettime(CLOCK_REALTIME, &Deadline);
    Deadline.tv_sec += Ms / 1000;
    Deadline.tv_nsec += (long)(Ms % 1000) * 1000000L;
    if (Deadline.tv_nsec >= 1000000000L) {
        Deadline.tv_sec++;
        Deadline.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&Latch->Mutex);
    while (!Latch->Set && pthread_cond_timedwait(&Latch->Cond, &Latch->Mutex, &Deadline) != ETIMEDOUT)
        ;
    Set = Latch->Set;
    pthread_mutex_unlock(&Latch->Mutex);
    return Set;
}

/* ---- one DeviceIoControl ---- */

typedef struct {
    LATCH Done;
    int32_t Status;
    uint64_t Information;
    uint8_t *Output;
    uint32_t OutputLength;
} CALL;

static void
CallDone(void *Context, int32_t Status, uint64_t Information, const void *Output, uint32_t OutputLength)
{
    CALL *Call = Context;

    Call->Status = Status;
    Call->Information = Information;
    Call->Output = malloc(OutputLength ? OutputLength : 1);
    if (OutputLength)
        memcpy(Call->Output, Output, OutputLength);
    Call->OutputLength = OutputLength;
    LatchSet(&Call->Done);
}

static CALL *
CallStart(KSIM_FILE *File, uint32_t Code, const void *Input, uint32_t InputLength, uint32_t OutputLength)
{
    CALL *Call = calloc(1, sizeof(*Call));

    LatchInit(&Call->Done);
    KsimDeviceIoControl(File, Code, Input, InputLength, OutputLength, CallDone, Call);
    return Call;
}

/* Waits up to Ms milliseconds; returns whether the call completed. */
static int
CallWait(CALL *Call, int Ms)
{
    return LatchWait(&Call->Done, Ms);
}

static void
CallFree(CALL *Call)
{
    free(Call->Output);
    LatchDestroy(&Call->Done);
    free(Call);
}

/* Synchronous; a request that does not complete in 10 s ends the test program (the driver
 * still references the call). Copies up to OutputLength bytes to Output. */
static int32_t
Ioctl(KSIM_FILE *File, uint32_t Code, const void *Input, uint32_t InputLength, void *Output, uint32_t OutputLength,
      uint32_t *Returned)
{
    CALL *Call = CallStart(File, Code, Input, InputLength, OutputLength);
    int32_t Status;

    if (!CallWait(Call, 10000)) {
        fprintf(stderr, "FAIL: IOCTL 0x%08X did not complete in 10 s\n", (unsigned)Code);
        abort();
    }
    Status = Call->Status;
    if (Output)
        memcpy(Output, Call->Output, Call->OutputLength < OutputLength ? Call->OutputLength : OutputLength);
    if (Returned)
        *Returned = Call->OutputLength;
    CallFree(Call);
    return Status;
}

#endif /* KSIM_CALL_H */

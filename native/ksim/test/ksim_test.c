/* SPDX-License-Identifier: MIT
 *
 * ksim core tests: the I/O manager and KMDF subset through the toy driver (toy_*.c), the
 * kernel routines directly, and one negative test per verifier rule. Exits non-zero on any
 * failed expectation or any verifier failure that no test expected.
 */
#include "ksim_internal.h"
#include "toy.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifndef _WIN32
#include <sys/wait.h>
#include <unistd.h>
#endif

static void SetEnvironment(const char *Name, const char *Value)
{
#ifdef _WIN32
    char Text[256];
    snprintf(Text, sizeof(Text), "%s=%s", Name, Value ? Value : "");
    _putenv(Text);
#else
    if (Value)
        setenv(Name, Value, 1);
    else
        unsetenv(Name);
#endif
}

static int Failures;
static uint64_t ExpectedVerifierFailures;

#define EXPECT(cond)                                                                 \
    do {                                                                             \
        if (!(cond)) {                                                               \
            fprintf(stderr, "FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond);          \
            Failures++;                                                              \
        }                                                                            \
    } while (0)

#define EXPECT_STATUS(expr, expected)                                                                  \
    do {                                                                                               \
        int32_t Actual_ = (int32_t)(expr);                                                             \
        if (Actual_ != (int32_t)(expected)) {                                                          \
            fprintf(stderr, "FAIL %s:%d: %s = 0x%08x, expected %s (0x%08x)\n", __FILE__, __LINE__, #expr, \
                    (unsigned)Actual_, #expected, (unsigned)(expected));                               \
            Failures++;                                                                                \
        }                                                                                              \
    } while (0)

/* Runs Statement and expects exactly one new verifier failure whose text contains Needle. */
#define EXPECT_VERIFIER(Needle, Statement)                                                             \
    do {                                                                                               \
        char Text_[2048];                                                                              \
        uint64_t Before_ = KsimVerifierLastFailure(NULL, 0);                                           \
        Statement;                                                                                     \
        uint64_t After_ = KsimVerifierLastFailure(Text_, sizeof(Text_));                               \
        ExpectedVerifierFailures += After_ - Before_;                                                  \
        if (After_ != Before_ + 1 || strstr(Text_, Needle) == NULL) {                                  \
            fprintf(stderr, "FAIL %s:%d: expected one verifier failure containing \"%s\", got %llu (last: %s)\n", \
                    __FILE__, __LINE__, Needle, (unsigned long long)(After_ - Before_), Text_);       \
            Failures++;                                                                                \
        }                                                                                              \
    } while (0)

/* ---- completion capture ---- */

typedef struct _CALL {
    volatile int Done;
    int32_t Status;
    uint64_t Information;
    uint32_t OutputLength;
    unsigned char Output[256];
    const void *OutputPointer;
    int Calls;
} CALL;

static void OnComplete(void *Context, int32_t Status, uint64_t Information, const void *Output, uint32_t OutputLength)
{
    CALL *Call = Context;
    Call->Status = Status;
    Call->Information = Information;
    Call->OutputLength = OutputLength;
    Call->OutputPointer = Output;
    if (Output && OutputLength <= sizeof(Call->Output))
        memcpy(Call->Output, Output, OutputLength);
    Call->Calls++;
    __atomic_store_n(&Call->Done, 1, __ATOMIC_SEQ_CST);
}

static void Ioctl(KSIM_FILE *File, uint32_t Code, const void *In, uint32_t InLength, uint32_t OutLength, CALL *Call)
{
    memset(Call, 0, sizeof(*Call));
    KsimDeviceIoControl(File, Code, In, InLength, OutLength, OnComplete, Call);
}

static KSIM_FILE *OpenToy(void)
{
    KSIM_FILE *File = NULL;
    EXPECT_STATUS(KsimOpen(TOY_USER_PATH, &File), STATUS_SUCCESS);
    return File;
}

/* ---- tests through the toy driver ---- */

/* KsimDeviceIoControlEx: the output lands in the caller's buffer, copied back from the system
 * buffer under METHOD_BUFFERED, written by the driver through the I/O manager's locked MDL under
 * METHOD_OUT_DIRECT (nothing past Information touched, the MDL gone when the caller hears). */
static void TestCallerOutputBuffer(void)
{
    KSIM_FILE *File = OpenToy();
    CALL Call;
    const char Message[] = "straight into user memory";
    unsigned char Caller[64];

    if (!File)
        return;
    memset(Caller, 0xEE, sizeof(Caller));
    memset(&Call, 0, sizeof(Call));
    KsimDeviceIoControlEx(File, IOCTL_TOY_ECHO, Message, sizeof(Message), Caller, sizeof(Caller), OnComplete, &Call);
    EXPECT_STATUS(Call.Status, STATUS_SUCCESS);
    EXPECT(Call.OutputPointer == Caller && Call.OutputLength == sizeof(Message));
    EXPECT(memcmp(Caller, Message, sizeof(Message)) == 0);

    memset(Caller, 0xEE, sizeof(Caller));
    memset(&Call, 0, sizeof(Call));
    ToyState.DirectOutput = ToyState.DirectMdlMapping = NULL;
    KsimDeviceIoControlEx(File, IOCTL_TOY_ECHO_DIRECT, Message, sizeof(Message), Caller, sizeof(Caller), OnComplete,
                          &Call);
    EXPECT_STATUS(Call.Status, STATUS_SUCCESS);
    EXPECT(ToyState.DirectOutput == Caller && ToyState.DirectMdlMapping == Caller);
    EXPECT((ToyState.DirectMdlFlags & (MDL_PAGES_LOCKED | MDL_WRITE_OPERATION | MDL_MAPPED_TO_SYSTEM_VA)) ==
           (MDL_PAGES_LOCKED | MDL_WRITE_OPERATION | MDL_MAPPED_TO_SYSTEM_VA));
    EXPECT(Call.OutputPointer == Caller && Call.Information == sizeof(Message));
    EXPECT(memcmp(Caller, Message, sizeof(Message)) == 0 && Caller[sizeof(Message)] == 0xEE &&
           Caller[sizeof(Caller) - 1] == 0xEE);
    EXPECT(KsimMdlOutstanding() == 0);

    /* Without a caller buffer ksim stands in for one; a too-short output fails in the driver. */
    Ioctl(File, IOCTL_TOY_ECHO_DIRECT, Message, sizeof(Message), 8, &Call);
    EXPECT_STATUS(Call.Status, STATUS_BUFFER_TOO_SMALL);
    Ioctl(File, IOCTL_TOY_ECHO_DIRECT, Message, sizeof(Message), 0, &Call);
    EXPECT_STATUS(Call.Status, STATUS_BUFFER_TOO_SMALL); /* no MDL at all: Irp->MdlAddress NULL */
    Ioctl(File, IOCTL_TOY_ECHO_DIRECT, Message, sizeof(Message), 64, &Call);
    EXPECT_STATUS(Call.Status, STATUS_SUCCESS);
    EXPECT(Call.OutputLength == sizeof(Message) && memcmp(Call.Output, Message, sizeof(Message)) == 0);
    EXPECT(KsimMdlOutstanding() == 0);
    memset(&Call, 0, sizeof(Call));
    KsimDeviceIoControlEx(File, IOCTL_TOY_ECHO_DIRECT, Message, sizeof(Message), NULL, 16, OnComplete, &Call);
    EXPECT_STATUS(Call.Status, STATUS_INVALID_PARAMETER);
    KsimClose(File);
}

static void TestOpenIoctlClose(void)
{
    KSIM_FILE *File;
    CALL Call;
    const char Message[] = "hello, kernel";
    LONG SequenceBefore;
    KSIM_COUNTERS Counters;

    File = OpenToy();
    EXPECT(File != NULL);
    EXPECT(KsimPoolOutstandingByTag(TOY_TAG_FILE) == 1);
    Ioctl(File, IOCTL_TOY_ECHO, Message, sizeof(Message), 64, &Call);
    EXPECT(Call.Done && Call.Calls == 1);
    EXPECT_STATUS(Call.Status, STATUS_SUCCESS);
    EXPECT(Call.Information == sizeof(Message) && Call.OutputLength == sizeof(Message));
    EXPECT(memcmp(Call.Output, Message, sizeof(Message)) == 0);

    /* Output shorter than Information is clamped; a short output buffer is the driver's
     * STATUS_BUFFER_TOO_SMALL (and NT_ERROR copies nothing back). */
    Ioctl(File, IOCTL_TOY_ECHO, Message, sizeof(Message), 4, &Call);
    EXPECT_STATUS(Call.Status, STATUS_BUFFER_TOO_SMALL);
    EXPECT(Call.OutputLength == 0);
    Ioctl(File, IOCTL_TOY_ECHO, NULL, 0, 4, &Call);
    EXPECT_STATUS(Call.Status, STATUS_BUFFER_TOO_SMALL); /* zero-length input */
    Ioctl(File, TOY_IOCTL(99), NULL, 0, 0, &Call);
    EXPECT_STATUS(Call.Status, STATUS_INVALID_DEVICE_REQUEST);

    Ioctl(File, IOCTL_TOY_IRQL, NULL, 0, sizeof(ULONG), &Call);
    EXPECT_STATUS(Call.Status, STATUS_SUCCESS);
    EXPECT(Call.OutputLength == sizeof(ULONG) && *(ULONG *)Call.Output == PASSIVE_LEVEL);

    Ioctl(File, IOCTL_TOY_THREAD, NULL, 0, sizeof(ULONG), &Call);
    EXPECT_STATUS(Call.Status, STATUS_SUCCESS);
    EXPECT(*(ULONG *)Call.Output == 0x5A5A);

    Ioctl(File, IOCTL_TOY_REFERENCE, NULL, 0, 0, &Call);
    EXPECT_STATUS(Call.Status, STATUS_TIMEOUT);
    EXPECT_STATUS(ToyState.StatusAfterCompletion, STATUS_TIMEOUT);

    SequenceBefore = ToyState.Sequence;
    KsimClose(File);
    EXPECT(ToyState.CleanupSeen > SequenceBefore);
    EXPECT(ToyState.CloseSeen > ToyState.CleanupSeen);
    EXPECT(ToyState.FileContextCleanupSeen > ToyState.CloseSeen);
    EXPECT(KsimPoolOutstandingByTag(TOY_TAG_FILE) == 0);
    KsimGetCounters(&Counters);
    EXPECT(Counters.PoolAllocations == 0 && Counters.Irps == 0 && Counters.Mdls == 0);

    EXPECT_STATUS(KsimOpen(L"\\\\.\\NoSuchDevice", &File), STATUS_OBJECT_NAME_NOT_FOUND);
    EXPECT_STATUS(KsimOpen(L"\\\\.\\ksimtoy", &File), STATUS_SUCCESS); /* names are case-insensitive */
    KsimClose(File);

    ToyState.FailCreate = TRUE;
    SequenceBefore = ToyState.Sequence;
    EXPECT_STATUS(KsimOpen(TOY_USER_PATH, &File), STATUS_ACCESS_DENIED);
    EXPECT(File == NULL);
    EXPECT(ToyState.FileContextCleanupSeen > SequenceBefore); /* the context went with the file object */
    EXPECT(ToyState.CleanupSeen < SequenceBefore);             /* no cleanup/close for a failed create */
    EXPECT(KsimPoolOutstandingByTag(TOY_TAG_FILE) == 0);
    ToyState.FailCreate = FALSE;
}

static void TestInvertedCall(void)
{
    KSIM_FILE *File = OpenToy(), *Other = OpenToy();
    CALL Pend, PendOther, Fire;
    ULONG Value = 0xC0FFEE;

    Ioctl(File, IOCTL_TOY_PEND, NULL, 0, sizeof(ULONG), &Pend);
    Ioctl(Other, IOCTL_TOY_PEND, NULL, 0, sizeof(ULONG), &PendOther);
    EXPECT(!Pend.Done && !PendOther.Done);
    Ioctl(File, IOCTL_TOY_FIRE, &Value, sizeof(Value), 0, &Fire);
    EXPECT_STATUS(Fire.Status, STATUS_SUCCESS);
    EXPECT(Pend.Done && !PendOther.Done); /* retrieved by file object */
    EXPECT_STATUS(Pend.Status, STATUS_SUCCESS);
    EXPECT(Pend.OutputLength == sizeof(ULONG) && *(ULONG *)Pend.Output == 0xC0FFEE);
    Ioctl(File, IOCTL_TOY_FIRE, &Value, sizeof(Value), 0, &Fire);
    EXPECT_STATUS(Fire.Status, STATUS_NO_MORE_ENTRIES);

    /* Close flushes the other file's queued request with STATUS_CANCELLED before returning. */
    KsimClose(Other);
    EXPECT(PendOther.Done && PendOther.Calls == 1);
    EXPECT_STATUS(PendOther.Status, STATUS_CANCELLED);
    KsimClose(File);
}

/* WdfRequestRequeue gives a retrieved request back to the head of its manual queue, where the
 * framework owns it again (and cancels it); a request from a parallel queue is refused. */
static void TestRequeue(void)
{
    KSIM_FILE *File = OpenToy();
    CALL First, Second, Requeue, Fire, Own;
    ULONG Value = 0xBEEF;

    Ioctl(File, IOCTL_TOY_PEND, NULL, 0, sizeof(ULONG), &First);
    Ioctl(File, IOCTL_TOY_PEND, NULL, 0, sizeof(ULONG), &Second);
    Ioctl(File, IOCTL_TOY_REQUEUE, NULL, 0, 0, &Requeue);
    EXPECT_STATUS(Requeue.Status, STATUS_SUCCESS);
    EXPECT(!First.Done && !Second.Done);
    /* At the head: the oldest is still retrieved first (at the tail, FIRE would take Second). */
    Ioctl(File, IOCTL_TOY_FIRE, &Value, sizeof(Value), 0, &Fire);
    EXPECT(First.Done && !Second.Done);
    EXPECT(First.OutputLength == sizeof(ULONG) && *(ULONG *)First.Output == 0xBEEF);

    Ioctl(File, IOCTL_TOY_REQUEUE, NULL, 0, 0, &Requeue);
    EXPECT_STATUS(Requeue.Status, STATUS_SUCCESS);
    KsimCancelIo(File);
    EXPECT(Second.Done);
    EXPECT_STATUS(Second.Status, STATUS_CANCELLED);

    EXPECT_VERIFIER("not delivered from a manual queue", Ioctl(File, IOCTL_TOY_REQUEUE_OWN, NULL, 0, 0, &Own));
    EXPECT_STATUS(Own.Status, STATUS_INVALID_DEVICE_REQUEST);
    KsimClose(File);
}

static void TestCancel(void)
{
    KSIM_FILE *File = OpenToy();
    CALL Queued, Notify, Held, Release, Poll;

    /* Queued without EvtIoCanceledOnQueue: the framework completes it. */
    Ioctl(File, IOCTL_TOY_PEND, NULL, 0, sizeof(ULONG), &Queued);
    /* Queued with EvtIoCanceledOnQueue: the driver completes it, at <= DISPATCH_LEVEL. */
    Ioctl(File, IOCTL_TOY_PEND_NOTIFY, NULL, 0, sizeof(ULONG), &Notify);
    /* Held by the driver and marked cancelable: EvtRequestCancel completes it. */
    Ioctl(File, IOCTL_TOY_HOLD, NULL, 0, 0, &Held);
    EXPECT(!Queued.Done && !Notify.Done && !Held.Done);
    ToyState.CanceledOnQueueCount = ToyState.CancelRoutineCount = 0;
    KsimCancelIo(File);
    EXPECT(Queued.Done && Notify.Done && Held.Done);
    EXPECT_STATUS(Queued.Status, STATUS_CANCELLED);
    EXPECT_STATUS(Notify.Status, STATUS_CANCELLED);
    EXPECT_STATUS(Held.Status, STATUS_CANCELLED);
    EXPECT(ToyState.CanceledOnQueueCount == 1 && ToyState.CanceledOnQueueIrql <= DISPATCH_LEVEL);
    EXPECT(ToyState.CancelRoutineCount == 1 && ToyState.CancelRoutineIrql == DISPATCH_LEVEL);

    /* A cancelable request completed normally: unmark succeeds, no cancel routine. */
    Ioctl(File, IOCTL_TOY_HOLD, NULL, 0, 0, &Held);
    Ioctl(File, IOCTL_TOY_RELEASE, NULL, 0, 0, &Release);
    EXPECT_STATUS(Release.Status, STATUS_SUCCESS);
    EXPECT_STATUS(Held.Status, STATUS_SUCCESS);
    EXPECT(ToyState.CancelRoutineCount == 1);

    /* Not cancelable: CancelIo only flags it; the driver sees WdfRequestIsCanceled. */
    Ioctl(File, IOCTL_TOY_HOLD_POLL, NULL, 0, 0, &Poll);
    KsimCancelIo(File);
    EXPECT(!Poll.Done);
    Ioctl(File, IOCTL_TOY_RELEASE, NULL, 0, 0, &Release);
    EXPECT_STATUS(Poll.Status, STATUS_CANCELLED);

    /* A request held at close is the driver's to complete in EvtFileCleanup. */
    Ioctl(File, IOCTL_TOY_HOLD, NULL, 0, 0, &Held);
    KsimClose(File);
    EXPECT(Held.Done);
    EXPECT_STATUS(Held.Status, STATUS_FILE_FORCED_CLOSED);
}

typedef struct _WORKER {
    int Index;
    int Errors;
} WORKER;

static void WorkerThread(void *Context)
{
    WORKER *Worker = Context;
    KSIM_FILE *File = NULL;
    CALL Call;
    char Buffer[32];
    if (KsimOpen(TOY_USER_PATH, &File) != STATUS_SUCCESS) {
        Worker->Errors++;
        return;
    }
    for (int i = 0; i < 500; ++i) {
        int Length = snprintf(Buffer, sizeof(Buffer), "w%d-%d", Worker->Index, i) + 1;
        Ioctl(File, IOCTL_TOY_ECHO, Buffer, (uint32_t)Length, sizeof(Buffer), &Call);
        if (!Call.Done || Call.Status != STATUS_SUCCESS || memcmp(Call.Output, Buffer, (size_t)Length) != 0)
            Worker->Errors++;
        Ioctl(File, IOCTL_TOY_ALLOC, NULL, 0, 0, &Call);
        if (Call.Status != STATUS_SUCCESS)
            Worker->Errors++;
    }
    KsimClose(File);
}

static void TestThreads(void)
{
    KSIM_HOST_THREAD *Threads[4];
    WORKER Workers[4];
    for (int i = 0; i < 4; ++i) {
        Workers[i].Index = i;
        Workers[i].Errors = 0;
        EXPECT(KsimHostThreadCreate(WorkerThread, &Workers[i], &Threads[i]) == 0);
    }
    for (int i = 0; i < 4; ++i) {
        KsimHostThreadJoin(Threads[i]);
        EXPECT(Workers[i].Errors == 0);
    }
}

/* Completion racing cancellation: every held request is completed exactly once, by the
 * driver (STATUS_SUCCESS) or by its cancel routine (STATUS_CANCELLED). */
typedef struct _RACE {
    KSIM_FILE *File;
    volatile int Stop;
} RACE;

static void CancelLoop(void *Context)
{
    RACE *Race = Context;
    while (!__atomic_load_n(&Race->Stop, __ATOMIC_SEQ_CST))
        KsimCancelIo(Race->File);
}

static void TestCancelRace(void)
{
    RACE Race = { OpenToy(), 0 };
    KSIM_HOST_THREAD *Canceler;
    int Succeeded = 0, Canceled = 0, Other = 0;
    EXPECT(KsimHostThreadCreate(CancelLoop, &Race, &Canceler) == 0);
    for (int i = 0; i < 2000; ++i) {
        CALL Held, Release;
        Ioctl(Race.File, IOCTL_TOY_HOLD, NULL, 0, 0, &Held);
        Ioctl(Race.File, IOCTL_TOY_RELEASE, NULL, 0, 0, &Release);
        for (int Spin = 0; Spin < 5000 && !__atomic_load_n(&Held.Done, __ATOMIC_SEQ_CST); ++Spin)
            KsimHostSleepNs(100000);
        if (Held.Calls != 1)
            Other++;
        else if (Held.Status == STATUS_SUCCESS)
            Succeeded++;
        else if (Held.Status == STATUS_CANCELLED)
            Canceled++;
        else
            Other++;
    }
    __atomic_store_n(&Race.Stop, 1, __ATOMIC_SEQ_CST);
    KsimHostThreadJoin(Canceler);
    KsimClose(Race.File);
    EXPECT(Other == 0);
    EXPECT(Succeeded + Canceled == 2000);
    printf("cancel race: %d completed by the driver, %d canceled\n", Succeeded, Canceled);
}

static void TestFaultInjection(void)
{
    KSIM_FILE *File = OpenToy();
    CALL Call;
    KSIM_COUNTERS Before, After;
    KsimGetCounters(&Before);
    KsimFailAllocationAfter(1);
    Ioctl(File, IOCTL_TOY_ALLOC, NULL, 0, 0, &Call);
    EXPECT_STATUS(Call.Status, STATUS_INSUFFICIENT_RESOURCES);
    Ioctl(File, IOCTL_TOY_ALLOC, NULL, 0, 0, &Call);
    EXPECT_STATUS(Call.Status, STATUS_SUCCESS); /* one-shot */
    KsimGetCounters(&After);
    EXPECT(After.PoolAllocationsTotal == Before.PoolAllocationsTotal + 2);
    KsimClose(File);

    /* The file object's own pool allocation (in EvtDeviceFileCreate) fails: the open fails. */
    KsimFailAllocationAfter(1);
    EXPECT_STATUS(KsimOpen(TOY_USER_PATH, &File), STATUS_INSUFFICIENT_RESOURCES);
    KsimFailAllocationAfter(0);
}

/* ---- negative tests through the toy driver ---- */

static void TestDriverMistakes(void)
{
    KSIM_FILE *File = OpenToy();
    CALL Call, Cleanup;

    EXPECT_VERIFIER("was already completed (completed twice", Ioctl(File, IOCTL_TOY_DOUBLE_COMPLETE, NULL, 0, 0, &Call));
    EXPECT(Call.Calls == 1);

    EXPECT_VERIFIER("sits in a queue", Ioctl(File, IOCTL_TOY_COMPLETE_QUEUED, NULL, 0, 0, &Call));
    EXPECT(!Call.Done);
    KsimCancelIo(File); /* the queued request is still the framework's: cancel it */
    EXPECT(Call.Done);
    EXPECT_STATUS(Call.Status, STATUS_CANCELLED);

    EXPECT_VERIFIER("EvtIoDeviceControl returned at DISPATCH_LEVEL",
                    Ioctl(File, IOCTL_TOY_RETURN_RAISED, NULL, 0, 0, &Call));
    EXPECT(KeGetCurrentIrql() == PASSIVE_LEVEL);

    SetEnvironment("KSIM_CLOSE_TIMEOUT_MS", "200");
    Ioctl(File, IOCTL_TOY_NEVER, NULL, 0, 0, &Call);
    EXPECT_VERIFIER("was not completed by the driver", KsimClose(File));
    EXPECT(Call.Done);
    EXPECT_STATUS(Call.Status, STATUS_CANCELLED);
    SetEnvironment("KSIM_CLOSE_TIMEOUT_MS", NULL);
    (void)Cleanup;
}

static void TestDeferredInitialization(void)
{
    KSIM_FILE *File = NULL;
    ToyState.DeferFinishInitializing = TRUE;
    EXPECT_STATUS(KsimDriverLoad(), STATUS_SUCCESS);
    EXPECT_STATUS(KsimOpen(TOY_USER_PATH, &File), STATUS_DEVICE_NOT_READY);
    WdfControlFinishInitializing(ToyState.Device);
    EXPECT_STATUS(KsimOpen(TOY_USER_PATH, &File), STATUS_SUCCESS);
    KsimClose(File);
    KsimDriverUnload();
    ToyState.DeferFinishInitializing = FALSE;
}

/* ---- kernel routines ---- */

typedef struct _COMPLETION_LOG {
    int Order[4];
    int Count;
    BOOLEAN PendingReturned[4];
    NTSTATUS Return[4];
} COMPLETION_LOG;

static COMPLETION_LOG Log;

static NTSTATUS CompletionA(PDEVICE_OBJECT DeviceObject, PIRP Irp, PVOID Context)
{
    UNREFERENCED_PARAMETER(DeviceObject);
    Log.PendingReturned[Log.Count] = Irp->PendingReturned;
    Log.Order[Log.Count++] = (int)(ULONG_PTR)Context;
    /* The WDK boilerplate for an intermediate driver; the IRP's owner (top) has no location. */
    if (Irp->PendingReturned && Irp->CurrentLocation <= Irp->StackCount)
        IoMarkIrpPending(Irp);
    return Log.Return[(int)(ULONG_PTR)Context];
}

static void TestIrpCompletion(void)
{
    PIRP Irp = IoAllocateIrp(2, FALSE);
    PIO_STACK_LOCATION Lower;
    EXPECT(Irp != NULL);
    if (!Irp)
        return;
    memset(&Log, 0, sizeof(Log));
    Log.Return[1] = STATUS_SUCCESS;                 /* the middle driver lets completion go on */
    Log.Return[2] = STATUS_MORE_PROCESSING_REQUIRED; /* the owner takes the IRP back */
    IoSetCompletionRoutine(Irp, CompletionA, (PVOID)2, TRUE, TRUE, TRUE);
    IoSetNextIrpStackLocation(Irp); /* the middle driver takes it */
    IoSetCompletionRoutine(Irp, CompletionA, (PVOID)1, TRUE, FALSE, FALSE);
    KsimIrpProviderAccept(Irp); /* the lowest driver takes it and pends it */
    Lower = IoGetCurrentIrpStackLocation(Irp);
    EXPECT(Lower->Control & SL_PENDING_RETURNED);
    Irp->IoStatus.Status = STATUS_SUCCESS;
    Irp->IoStatus.Information = 42;
    IoCompleteRequest(Irp, IO_NO_INCREMENT);
    EXPECT(Log.Count == 2 && Log.Order[0] == 1 && Log.Order[1] == 2);
    EXPECT(Log.PendingReturned[0]);
    EXPECT(Log.PendingReturned[1]); /* propagated up by the I/O manager */

    /* Error-only routine skipped on success; the owner's routine still runs. */
    IoReuseIrp(Irp, STATUS_UNSUCCESSFUL);
    memset(&Log, 0, sizeof(Log));
    Log.Return[1] = STATUS_SUCCESS;
    Log.Return[2] = STATUS_MORE_PROCESSING_REQUIRED;
    IoSetCompletionRoutine(Irp, CompletionA, (PVOID)2, TRUE, TRUE, TRUE);
    IoSetNextIrpStackLocation(Irp);
    IoSetCompletionRoutine(Irp, CompletionA, (PVOID)1, FALSE, TRUE, FALSE);
    IoSetNextIrpStackLocation(Irp);
    Irp->IoStatus.Status = STATUS_SUCCESS;
    IoCompleteRequest(Irp, IO_NO_INCREMENT);
    EXPECT(Log.Count == 1 && Log.Order[0] == 2);
    EXPECT(!Log.PendingReturned[0]);
    IoFreeIrp(Irp);
}

static BOOLEAN CancelSawLockHeld;

static VOID CancelRoutine(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    UNREFERENCED_PARAMETER(DeviceObject);
    CancelSawLockHeld = KeGetCurrentIrql() == DISPATCH_LEVEL;
    IoReleaseCancelSpinLock(Irp->CancelIrql);
    Irp->IoStatus.Status = STATUS_CANCELLED;
    Irp->IoStatus.Information = 0;
    IoCompleteRequest(Irp, IO_NO_INCREMENT);
}

static void TestIrpCancel(void)
{
    PIRP Irp = IoAllocateIrp(1, FALSE);
    KIRQL Irql;
    EXPECT(Irp != NULL);
    if (!Irp)
        return;
    memset(&Log, 0, sizeof(Log));
    Log.Return[3] = STATUS_MORE_PROCESSING_REQUIRED;
    IoSetCompletionRoutine(Irp, CompletionA, (PVOID)3, FALSE, FALSE, TRUE); /* on cancel only */
    EXPECT(!IoCancelIrp(Irp)); /* no cancel routine: nothing to call */
    EXPECT(Irp->Cancel);
    IoReuseIrp(Irp, STATUS_SUCCESS);
    IoSetCompletionRoutine(Irp, CompletionA, (PVOID)3, FALSE, FALSE, TRUE);
    KsimIrpProviderAccept(Irp);
    IoAcquireCancelSpinLock(&Irql);
    IoSetCancelRoutine(Irp, CancelRoutine);
    IoReleaseCancelSpinLock(Irql);
    EXPECT(IoCancelIrp(Irp));
    EXPECT(CancelSawLockHeld);
    EXPECT(Irp->Cancel);
    EXPECT(Log.Count == 1 && Log.Order[0] == 3);
    EXPECT(KeGetCurrentIrql() == PASSIVE_LEVEL);
    EXPECT(!IoCancelIrp(Irp)); /* no cancel routine any more */
    IoFreeIrp(Irp);
}

static NTSTATUS ReturnMoreProcessing(PDEVICE_OBJECT DeviceObject, PIRP Irp, PVOID Context)
{
    UNREFERENCED_PARAMETER(DeviceObject);
    UNREFERENCED_PARAMETER(Irp);
    UNREFERENCED_PARAMETER(Context);
    return STATUS_MORE_PROCESSING_REQUIRED;
}

static NTSTATUS ReturnSuccess(PDEVICE_OBJECT DeviceObject, PIRP Irp, PVOID Context)
{
    UNREFERENCED_PARAMETER(DeviceObject);
    UNREFERENCED_PARAMETER(Irp);
    UNREFERENCED_PARAMETER(Context);
    return STATUS_SUCCESS;
}

static void TestIrpMistakes(void)
{
    PIRP Irp = IoAllocateIrp(1, FALSE);
    if (!Irp)
        return;
    IoSetCompletionRoutine(Irp, ReturnMoreProcessing, NULL, TRUE, TRUE, TRUE);
    KsimIrpProviderAccept(Irp);
    EXPECT_VERIFIER("still pending", IoFreeIrp(Irp));
    EXPECT_VERIFIER("still pending", IoReuseIrp(Irp, STATUS_SUCCESS));
    EXPECT_VERIFIER("still pending in an earlier call", KsimIrpProviderAccept(Irp));
    Irp->IoStatus.Status = STATUS_SUCCESS;
    IoCompleteRequest(Irp, IO_NO_INCREMENT);
    EXPECT_VERIFIER("already completed", IoCompleteRequest(Irp, IO_NO_INCREMENT));
    EXPECT_VERIFIER("without IoReuseIrp", KsimIrpProviderAccept(Irp));

    IoReuseIrp(Irp, STATUS_SUCCESS);
    IoSetCompletionRoutine(Irp, ReturnSuccess, NULL, TRUE, TRUE, TRUE);
    KsimIrpProviderAccept(Irp);
    Irp->IoStatus.Status = STATUS_PENDING;
    EXPECT_VERIFIER("STATUS_PENDING", IoCompleteRequest(Irp, IO_NO_INCREMENT));
    Irp->IoStatus.Status = STATUS_SUCCESS;
    EXPECT_VERIFIER("must return STATUS_MORE_PROCESSING_REQUIRED", IoCompleteRequest(Irp, IO_NO_INCREMENT));
    IoReuseIrp(Irp, STATUS_SUCCESS);
    EXPECT_VERIFIER("no driver took the IRP", IoCompleteRequest(Irp, IO_NO_INCREMENT));
    IoFreeIrp(Irp);
    EXPECT_VERIFIER("freed with IoFreeIrp", IoFreeIrp(Irp));
    EXPECT(KsimIrpOutstanding() == 0);
}

static void TestMdl(void)
{
    PUCHAR Buffer = ExAllocatePool2(POOL_FLAG_NON_PAGED, 10000, 'tldM');
    PIRP Irp = IoAllocateIrp(1, FALSE);
    PMDL First, Second;
    EXPECT(Buffer && Irp);
    if (!Buffer || !Irp)
        return;
    First = IoAllocateMdl(Buffer + 100, 5000, FALSE, FALSE, Irp);
    Second = IoAllocateMdl(Buffer + 6000, 3000, TRUE, FALSE, Irp);
    EXPECT(First && Second && Irp->MdlAddress == First && First->Next == Second);
    EXPECT(MmGetMdlByteCount(First) == 5000);
    EXPECT(MmGetMdlVirtualAddress(First) == Buffer + 100);
    EXPECT_VERIFIER("MmBuildMdlForNonPagedPool was not called", MmGetSystemAddressForMdlSafe(First, NormalPagePriority));
    MmBuildMdlForNonPagedPool(First);
    EXPECT(MmGetSystemAddressForMdlSafe(First, NormalPagePriority | MdlMappingNoExecute) == Buffer + 100);
    EXPECT(KsimMdlOutstanding() == 2);
    IoFreeMdl(Second);
    IoFreeMdl(First);
    EXPECT_VERIFIER("freed with IoFreeMdl", IoFreeMdl(First));
    Irp->MdlAddress = NULL;
    IoFreeIrp(Irp);
    ExFreePoolWithTag(Buffer, 'tldM');
    EXPECT(KsimMdlOutstanding() == 0);
}

static void TestPool(void)
{
    PUCHAR Block = ExAllocatePool2(POOL_FLAG_NON_PAGED, 24, 'tsTp');
    PUCHAR Raw = ExAllocatePool2(POOL_FLAG_NON_PAGED | POOL_FLAG_UNINITIALIZED, 16, 'tsTp');
    int Zeroed = 1;
    EXPECT(Block && Raw);
    if (!Block || !Raw)
        return;
    for (int i = 0; i < 24; ++i)
        Zeroed &= Block[i] == 0;
    EXPECT(Zeroed);
    EXPECT(((ULONG_PTR)Block & 15) == 0);
    EXPECT(KsimPoolOutstandingByTag('tsTp') == 2);
    EXPECT_VERIFIER("freed with tag", ExFreePoolWithTag(Block, 'gnrW'));
    ExFreePoolWithTag(Block, 'tsTp');
    EXPECT_VERIFIER("double free", ExFreePoolWithTag(Block, 'tsTp'));
    Raw[16] = 0; /* one byte past the end */
    EXPECT_VERIFIER("written past its end", ExFreePoolWithTag(Raw, 'tsTp'));
    EXPECT(KsimPoolOutstandingByTag('tsTp') == 0);
    {
        static uint64_t NotPool[16] __attribute__((aligned(16)));
        memset(NotPool, 0x5A, sizeof(NotPool));
        EXPECT_VERIFIER("not a pool block", ExFreePoolWithTag(&NotPool[8], 'tsTp'));
    }
    EXPECT_VERIFIER("Tag must be non-zero", ExAllocatePool2(POOL_FLAG_NON_PAGED, 8, 0));
    EXPECT_VERIFIER("exactly one of", ExAllocatePool2(POOL_FLAG_NON_PAGED | POOL_FLAG_PAGED, 8, 'tsTp'));
}

/* Large blocks (from KSIM_HOST_PAGES_MIN bytes) come from the OS's pages and their regions are
 * reused per size class: a reused block is zero again, a write past its end is still caught at
 * free, and a block too large for the quarantine is inaccessible as soon as it is freed (a use
 * after free faults, as in special pool). */
static void TestPoolLargeBlocks(void)
{
    const SIZE_T Size = 1024 * 1024;
    PUCHAR Block = ExAllocatePool2(POOL_FLAG_NON_PAGED, Size, 'gLsT');
    int Zeroed = 1;
    SIZE_T i;

    EXPECT(Block != NULL);
    if (!Block)
        return;
    for (i = 0; i < Size; ++i)
        Zeroed &= Block[i] == 0;
    EXPECT(Zeroed);
    memset(Block, 0x5A, Size);
    ExFreePoolWithTag(Block, 'gLsT');
    KsimPoolFlushQuarantine(); /* its region goes back to the page cache */
    Block = ExAllocatePool2(POOL_FLAG_NON_PAGED, Size - 4096, 'gLsT'); /* same size class */
    EXPECT(Block != NULL);
    if (!Block)
        return;
    Zeroed = 1;
    for (i = 0; i < Size - 4096; ++i)
        Zeroed &= Block[i] == 0;
    EXPECT(Zeroed);
    Block[Size - 4096] = 1; /* one byte past the end */
    EXPECT_VERIFIER("written past its end", ExFreePoolWithTag(Block, 'gLsT'));
    KsimPoolFlushQuarantine();
#ifndef _WIN32
    {
        int Status = 0;
        pid_t Child;
        Block = ExAllocatePool2(POOL_FLAG_NON_PAGED | POOL_FLAG_UNINITIALIZED, 5 * Size, 'gLsT');
        EXPECT(Block != NULL);
        if (!Block)
            return;
        Block[100] = 1;
        ExFreePoolWithTag(Block, 'gLsT'); /* over 4 MiB: not quarantined */
        Child = fork();
        if (Child == 0) {
            freopen("/dev/null", "w", stderr);
            Block[100] = 2; /* the stale pointer's write */
            _exit(0);       /* not reached: the write faults */
        }
        EXPECT(Child > 0 && waitpid(Child, &Status, 0) == Child);
        /* Killed by SIGSEGV, or (under ASan, whose handler reports the fault) exited non-zero. */
        EXPECT((WIFSIGNALED(Status) && WTERMSIG(Status) == SIGSEGV) || (WIFEXITED(Status) && WEXITSTATUS(Status) != 0));
    }
#endif
    EXPECT(KsimPoolOutstandingByTag('gLsT') == 0);
}

/* Frees Block (Size bytes), writes one byte at Offset of it, and flushes the quarantine:
 * returns how many verifier failures that caused (the message names the offset). */
static uint64_t WriteAfterFree(SIZE_T Size, SIZE_T Offset)
{
    PUCHAR Block = ExAllocatePool2(POOL_FLAG_NON_PAGED, Size, 'fAwW');
    uint64_t Before;
    if (!Block)
        return 0;
    ExFreePoolWithTag(Block, 'fAwW');
    Before = KsimVerifierLastFailure(NULL, 0);
    Block[Offset] = 0x11; /* the stale pointer's write; the block sits in the quarantine */
    KsimPoolFlushQuarantine();
    return KsimVerifierLastFailure(NULL, 0) - Before;
}

static void TestPoolWriteAfterFree(void)
{
    int WasFull = KsimPoolCheckIsFull();
    char Text[2048];
    uint64_t Caught;

    KsimPoolFlushQuarantine();
    /* Full mode (the test suites' KSIM_POOL_CHECK=full): every byte of every block. */
    KsimPoolSetCheckFull(1);
    EXPECT_VERIFIER("was written after it was freed (offset 13)", (void)WriteAfterFree(24, 13));
    Caught = WriteAfterFree(64 * 1024, 30000);
    EXPECT(Caught == 1);
    ExpectedVerifierFailures += Caught;
    KsimVerifierLastFailure(Text, sizeof(Text));
    EXPECT(strstr(Text, "offset 30000") != NULL);

    /* Sampled mode (the default): small blocks still whole; large blocks at both edges... */
    KsimPoolSetCheckFull(0);
    Caught = WriteAfterFree(4096, 2049);
    EXPECT(Caught == 1);
    ExpectedVerifierFailures += Caught;
    Caught = WriteAfterFree(64 * 1024, 8);
    EXPECT(Caught == 1);
    ExpectedVerifierFailures += Caught;
    Caught = WriteAfterFree(64 * 1024, 64 * 1024 - 1);
    EXPECT(Caught == 1);
    ExpectedVerifierFailures += Caught;
    /* ...and in between one 64-byte line per page, at an offset each block draws: a write at
     * every offset of one interior page, each into a fresh block, is caught about once in 64
     * (about 64 times in all; never zero, never all: the mode really samples). */
    {
        uint64_t Sweep = 0;
        for (SIZE_T Offset = 8192; Offset < 8192 + 4096; ++Offset)
            Sweep += WriteAfterFree(64 * 1024, Offset);
        EXPECT(Sweep >= 8 && Sweep < 512);
        ExpectedVerifierFailures += Sweep;
    }
    KsimPoolSetCheckFull(WasFull);
}

/* Lookaside lists: entries come from the pool (fault injection, per-tag counts, 0xCD fill),
 * go back to it checked, and the list's misuses are verifier failures. */
static void TestLookaside(void)
{
    LOOKASIDE_LIST_EX List, Other;
    PUCHAR First, Second;
    int Filled = 1;

    memset(&List, 0, sizeof(List));
    memset(&Other, 0, sizeof(Other));
    EXPECT_STATUS(ExInitializeLookasideListEx(&List, NULL, NULL, NonPagedPoolNx, 0, 40, 'kLsT', 0), STATUS_SUCCESS);
    EXPECT_STATUS(ExInitializeLookasideListEx(&Other, NULL, NULL, NonPagedPoolNx, 0, 40, 'kLtO', 0), STATUS_SUCCESS);
    First = ExAllocateFromLookasideListEx(&List);
    Second = ExAllocateFromLookasideListEx(&List);
    EXPECT(First && Second && First != Second);
    if (!First || !Second)
        return;
    for (int i = 0; i < 40; ++i)
        Filled &= First[i] == 0xCD; /* not zeroed: a recycled entry on Windows holds old data */
    EXPECT(Filled);
    EXPECT(KsimPoolOutstandingByTag('kLsT') == 2);
    KsimFailAllocationAfter(1);
    EXPECT(ExAllocateFromLookasideListEx(&List) == NULL); /* each allocation is a fault-injection point */
    {
        /* An entry freed to the wrong list: that list never gave it out, and its tag is not the
         * list's (the pool refuses the free; the entry stays allocated). */
        char Text[2048];
        uint64_t Before = KsimVerifierLastFailure(NULL, 0), After;
        ExFreeToLookasideListEx(&Other, First);
        After = KsimVerifierLastFailure(Text, sizeof(Text));
        ExpectedVerifierFailures += After - Before;
        EXPECT(After - Before == 2 && strstr(Text, "freed with tag 'OtLk' but allocated with tag 'TsLk'") != NULL);
    }
    ExFreeToLookasideListEx(&List, First);
    EXPECT(KsimPoolOutstandingByTag('kLsT') == 1);
    EXPECT_VERIFIER("lookaside list leak in the test: 2 list(s)", KsimLookasideReportLeaks("in the test"));
    /* Deleting with an entry out is a leak of that entry. */
    EXPECT_VERIFIER("1 entry of tag 'TsLk' allocated from the list was never freed", ExDeleteLookasideListEx(&List));
    EXPECT_VERIFIER("the lookaside list was deleted", ExAllocateFromLookasideListEx(&List));
    ExFreePoolWithTag(Second, 'kLsT');
    ExDeleteLookasideListEx(&Other);
    EXPECT(KsimPoolOutstandingByTag('kLsT') == 0);
    {
        LOOKASIDE_LIST_EX Never;
        memset(&Never, 0, sizeof(Never));
        EXPECT_VERIFIER("not a lookaside list initialized", ExAllocateFromLookasideListEx(&Never));
    }
}

static void TestIrqlAndSync(void)
{
    KIRQL Irql;
    KSPIN_LOCK Lock;
    KLOCK_QUEUE_HANDLE Handle;
    KEVENT Event;
    LARGE_INTEGER Timeout;
    EX_RUNDOWN_REF Rundown;
    ULONGLONG Start;

    KeInitializeSpinLock(&Lock);
    KeAcquireSpinLock(&Lock, &Irql);
    EXPECT(Irql == PASSIVE_LEVEL && KeGetCurrentIrql() == DISPATCH_LEVEL);
    EXPECT_VERIFIER("already held by this thread", KeAcquireSpinLockAtDpcLevel(&Lock));
    Timeout.QuadPart = -10000;
    KeInitializeEvent(&Event, NotificationEvent, FALSE);
    EXPECT_VERIFIER("KeWaitForSingleObject called at DISPATCH_LEVEL",
                    KeWaitForSingleObject(&Event, Executive, KernelMode, FALSE, &Timeout));
    EXPECT_VERIFIER("PAGED_CODE() in TestIrqlAndSync", PAGED_CODE());
    EXPECT_VERIFIER("KeLowerIrql to DISPATCH_LEVEL (2) from the lower", {
        KeReleaseSpinLock(&Lock, PASSIVE_LEVEL);
        KeLowerIrql(DISPATCH_LEVEL);
    });
    KeAcquireInStackQueuedSpinLock(&Lock, &Handle);
    KeReleaseInStackQueuedSpinLock(&Handle);
    EXPECT(KeGetCurrentIrql() == PASSIVE_LEVEL && Lock == 0);

    /* Zero timeout at DISPATCH_LEVEL is a poll and allowed. */
    KeRaiseIrql(DISPATCH_LEVEL, &Irql);
    Timeout.QuadPart = 0;
    EXPECT_STATUS(KeWaitForSingleObject(&Event, Executive, KernelMode, FALSE, &Timeout), STATUS_TIMEOUT);
    KeLowerIrql(Irql);

    Start = KeQueryInterruptTime();
    Timeout.QuadPart = -20 * 10000; /* 20 ms */
    EXPECT_STATUS(KeWaitForSingleObject(&Event, Executive, KernelMode, FALSE, &Timeout), STATUS_TIMEOUT);
    EXPECT(KeQueryInterruptTime() - Start >= 20 * 10000);
    EXPECT(KeSetEvent(&Event, IO_NO_INCREMENT, FALSE) == 0);
    EXPECT_STATUS(KeWaitForSingleObject(&Event, Executive, KernelMode, FALSE, NULL), STATUS_SUCCESS);
    EXPECT(KeReadStateEvent(&Event) == 1); /* notification events stay signaled */
    KeInitializeEvent(&Event, SynchronizationEvent, TRUE);
    EXPECT_STATUS(KeWaitForSingleObject(&Event, Executive, KernelMode, FALSE, NULL), STATUS_SUCCESS);
    EXPECT(KeReadStateEvent(&Event) == 0); /* synchronization events reset on a satisfied wait */

    ExInitializeRundownProtection(&Rundown);
    EXPECT(ExAcquireRundownProtection(&Rundown));
    ExReleaseRundownProtection(&Rundown);
    ExWaitForRundownProtectionRelease(&Rundown);
    EXPECT(!ExAcquireRundownProtection(&Rundown));
    ExReInitializeRundownProtection(&Rundown);
    EXPECT(ExAcquireRundownProtection(&Rundown));
    EXPECT_VERIFIER("without a matching acquire", {
        ExReleaseRundownProtection(&Rundown);
        ExReleaseRundownProtection(&Rundown);
    });

    {
        LIST_ENTRY Head, A, B;
        InitializeListHead(&Head);
        InsertTailList(&Head, &A);
        InsertTailList(&Head, &B);
        EXPECT(RemoveHeadList(&Head) == &A);
        Head.Blink = &A; /* corrupt: the list head no longer points back at B */
        EXPECT_VERIFIER("corrupted LIST_ENTRY", RemoveEntryList(&B));
    }
}

static void TestNtStatusNames(void)
{
    uint32_t Count = 0;
    const KSIM_NAMED_STATUS *Names = KsimNtStatusNames(&Count);
    FILE *Header = fopen(KSIM_INCLUDE_DIR "/ntddk.h", "r");
    char Line[512];
    uint32_t Defined = 0;
    EXPECT(Header != NULL);
    if (!Header)
        return;
    /* Every "#define STATUS_" in the header must be in the table with the same value. */
    while (fgets(Line, sizeof(Line), Header)) {
        char Name[128];
        unsigned Value;
        int Found = 0;
        if (sscanf(Line, "#define %127s ((NTSTATUS)0x%xL)", Name, &Value) != 2 || strncmp(Name, "STATUS_", 7) != 0)
            continue;
        Defined++;
        for (uint32_t i = 0; i < Count; ++i)
            Found |= strcmp(Names[i].Name, Name) == 0 && (uint32_t)Names[i].Value == Value;
        if (!Found)
            fprintf(stderr, "FAIL: %s missing from KSIM_NTSTATUS_LIST\n", Name);
        EXPECT(Found);
    }
    fclose(Header);
    EXPECT(Defined == Count && Count > 40);
}

/* KSIM_VERIFIER_ABORT=1 (or KsimVerifierSetAbortOnFailure) turns a failure into an abort. */
static void TestAbortMode(void)
{
#ifdef _WIN32
    /* No fork(): the abort path is exercised by the POSIX build. */
#else
    int Status = 0;
    pid_t Child = fork();
    if (Child == 0) {
        KsimVerifierSetAbortOnFailure(1);
        freopen("/dev/null", "w", stderr);
        ExFreePoolWithTag(NULL, 'tsTp');
        _exit(0); /* not reached in abort mode */
    }
    EXPECT(Child > 0 && waitpid(Child, &Status, 0) == Child);
    EXPECT(WIFSIGNALED(Status) && WTERMSIG(Status) == SIGABRT);
#endif
}

static void TestLeakAtUnload(void)
{
    KSIM_FILE *File;
    CALL Call;
    EXPECT_STATUS(KsimDriverLoad(), STATUS_SUCCESS);
    File = OpenToy();
    Ioctl(File, IOCTL_TOY_LEAK, NULL, 0, 0, &Call);
    EXPECT_STATUS(Call.Status, STATUS_SUCCESS);
    EXPECT(KsimPoolOutstandingByTag(TOY_TAG_LEAK) == 1);
    KsimClose(File);
    EXPECT_VERIFIER("pool leak at driver unload: tag 'Leak': 1 block(s), 100 bytes", KsimDriverUnload());
}

/* The scheduler seam's selection (ksim_sched.h): by name, only while the driver is unloaded. */
static void TestSchedulerSelect(void)
{
    char Name[32];
    snprintf(Name, sizeof(Name), "%s", KsimSchedulerName());
    EXPECT_STATUS(KsimSchedulerSelect("no-such-model", 0), STATUS_INVALID_PARAMETER);
    EXPECT_STATUS(KsimSchedulerSelect(NULL, 0), STATUS_INVALID_PARAMETER);
    EXPECT(strcmp(KsimSchedulerName(), Name) == 0);
    EXPECT_STATUS(KsimSchedulerSelect("host-loop", 0), STATUS_SUCCESS);
    EXPECT(strcmp(KsimSchedulerName(), "host-loop") == 0);
    EXPECT_STATUS(KsimSchedulerSelect("thread", 0), STATUS_SUCCESS);
    EXPECT(strcmp(KsimSchedulerName(), "thread") == 0);
    EXPECT_STATUS(KsimDriverLoad(), STATUS_SUCCESS);
    EXPECT_STATUS(KsimSchedulerSelect("host-loop", 0), STATUS_INVALID_DEVICE_STATE);
    EXPECT(strcmp(KsimSchedulerName(), "thread") == 0);
    KsimDriverUnload();
    /* Back to what the run asked for (KSIM_SCHED). */
    EXPECT_STATUS(KsimSchedulerSelect(Name, 0), STATUS_SUCCESS);
}

/* ---- lifetimes: IoSetCompletionRoutineEx, unload ---- */

static volatile LONG ExRoutineRuns;
static volatile LONG UnloadReturned;

static NTSTATUS ExRoutine(PDEVICE_OBJECT DeviceObject, PIRP Irp, PVOID Context)
{
    UNREFERENCED_PARAMETER(DeviceObject);
    EXPECT(Context == (PVOID)7);
    /* The driver's image is held while its routine runs: the unload waits. */
    EXPECT(KsimCompletionExOutstanding() == 1);
    EXPECT(!__atomic_load_n(&UnloadReturned, __ATOMIC_SEQ_CST));
    InterlockedIncrement(&ExRoutineRuns);
    IoFreeIrp(Irp);
    return STATUS_MORE_PROCESSING_REQUIRED;
}

static void UnloadThread(void *Context)
{
    UNREFERENCED_PARAMETER(Context);
    KsimDriverUnload();
    __atomic_store_n(&UnloadReturned, 1, __ATOMIC_SEQ_CST);
}

/* With the toy driver loaded (non-PnP, as every KMDF driver ksim runs): IoSetCompletionRoutine
 * is SDV's rule IoSetCompletionRoutineNonPnpDriver; IoSetCompletionRoutineEx can fail, leaks
 * its context when the routine never runs, and keeps an unload that was requested meanwhile
 * from finishing until the routine has returned. Ends with the driver unloaded. */
static void TestCompletionRoutineEx(void)
{
    PDEVICE_OBJECT DeviceObject = WdfDeviceWdmGetDeviceObject(ToyState.Device);
    PIRP Irp = IoAllocateIrp(1, FALSE);
    KSIM_HOST_THREAD *Thread = NULL;
    LONG Before = ToyState.Sequence;
    int Waited;

    EXPECT_VERIFIER("IoSetCompletionRoutineNonPnpDriver",
                    IoSetCompletionRoutine(Irp, ExRoutine, (PVOID)7, TRUE, TRUE, TRUE));
    IoReuseIrp(Irp, STATUS_UNSUCCESSFUL);
    /* The kernel's context is an allocation like any other. */
    KsimFailAllocationAfter(1);
    EXPECT_STATUS(IoSetCompletionRoutineEx(DeviceObject, Irp, ExRoutine, (PVOID)7, TRUE, TRUE, TRUE),
                  STATUS_INSUFFICIENT_RESOURCES);
    KsimFailAllocationAfter(0);
    EXPECT(KsimCompletionExOutstanding() == 0);
    /* Registered, then the IRP never passed on: the kernel would leak the context. */
    EXPECT_STATUS(IoSetCompletionRoutineEx(DeviceObject, Irp, ExRoutine, (PVOID)7, TRUE, TRUE, TRUE), STATUS_SUCCESS);
    EXPECT(KsimCompletionExOutstanding() == 1);
    EXPECT_VERIFIER("whose routine never ran", IoReuseIrp(Irp, STATUS_UNSUCCESSFUL));
    EXPECT(KsimCompletionExOutstanding() == 0);
    /* Not invoked for the outcome (InvokeOnSuccess FALSE, completed with success): leaked too,
     * and the completion then reaches the I/O manager (a second failure). */
    EXPECT_STATUS(IoSetCompletionRoutineEx(DeviceObject, Irp, ExRoutine, (PVOID)7, FALSE, TRUE, TRUE), STATUS_SUCCESS);
    KsimIrpProviderAccept(Irp);
    Irp->IoStatus.Status = STATUS_SUCCESS;
    {
        uint64_t Count = KsimVerifierLastFailure(NULL, 0);
        IoCompleteRequest(Irp, IO_NO_INCREMENT);
        EXPECT(KsimVerifierLastFailure(NULL, 0) == Count + 2);
        ExpectedVerifierFailures += KsimVerifierLastFailure(NULL, 0) - Count;
    }
    EXPECT(KsimCompletionExOutstanding() == 0 && ExRoutineRuns == 0);
    IoReuseIrp(Irp, STATUS_UNSUCCESSFUL);

    /* Passed on to a "provider"; the unload requested now runs EvtDriverUnload and the
     * framework's teardown, then waits for the routine. */
    EXPECT_STATUS(IoSetCompletionRoutineEx(DeviceObject, Irp, ExRoutine, (PVOID)7, TRUE, TRUE, TRUE), STATUS_SUCCESS);
    KsimIrpProviderAccept(Irp);
    EXPECT(KsimHostThreadCreate(UnloadThread, NULL, &Thread) == 0);
    for (Waited = 0; ToyState.UnloadSeen <= Before && Waited < 5000; ++Waited)
        KsimHostSleepNs(1000000u);
    EXPECT(ToyState.UnloadSeen > Before);
    KsimHostSleepNs(20000000u);
    EXPECT(!__atomic_load_n(&UnloadReturned, __ATOMIC_SEQ_CST));
    Irp->IoStatus.Status = STATUS_SUCCESS;
    IoCompleteRequest(Irp, IO_NO_INCREMENT);
    KsimHostThreadJoin(Thread);
    EXPECT(ExRoutineRuns == 1 && UnloadReturned == 1);
    EXPECT(KsimCompletionExOutstanding() == 0);
}

/* A non-PnP driver with an open handle is marked for unload, not unloaded: new opens and loads
 * are refused, and the last close runs the unload. */
static void TestDeferredUnload(void)
{
    KSIM_FILE *File, *Second = NULL;
    CALL Call;
    LONG Before;

    EXPECT_STATUS(KsimDriverLoad(), STATUS_SUCCESS);
    File = OpenToy();
    Before = ToyState.Sequence;
    KsimDriverUnload();
    EXPECT(ToyState.UnloadSeen <= Before);
    Ioctl(File, IOCTL_TOY_ALLOC, NULL, 0, 0, &Call);
    EXPECT_STATUS(Call.Status, STATUS_SUCCESS);
    EXPECT_STATUS(KsimOpen(TOY_USER_PATH, &Second), STATUS_DELETE_PENDING);
    EXPECT_STATUS(KsimDriverLoad(), STATUS_DELETE_PENDING);
    KsimClose(File);
    EXPECT(ToyState.UnloadSeen > Before);
    EXPECT_STATUS(KsimOpen(TOY_USER_PATH, &Second), STATUS_OBJECT_NAME_NOT_FOUND);
}

int main(void)
{
    KSIM_COUNTERS Counters;
    uint64_t Total;
    char Last[2048];

    KsimVerifierSetAbortOnFailure(0);
    TestPool();
    TestPoolWriteAfterFree();
    TestPoolLargeBlocks();
    TestLookaside();
    TestIrqlAndSync();
    TestIrpCompletion();
    TestIrpCancel();
    TestIrpMistakes();
    TestMdl();
    TestNtStatusNames();
    TestAbortMode();
    TestSchedulerSelect();

    EXPECT_STATUS(KsimDriverLoad(), STATUS_SUCCESS);
    EXPECT_STATUS(KsimDriverLoad(), STATUS_SUCCESS); /* reference counted */
    KsimDriverUnload();
    TestOpenIoctlClose();
    TestCallerOutputBuffer();
    TestInvertedCall();
    TestCancel();
    TestRequeue();
    TestThreads();
    TestCancelRace();
    TestFaultInjection();
    TestDriverMistakes();
    {
        LONG Before = ToyState.Sequence;
        KsimDriverUnload();
        EXPECT(ToyState.UnloadSeen > Before && ToyState.DriverCleanupSeen > ToyState.UnloadSeen);
        /* The device (a child of the driver) is cleaned up and destroyed before the driver. */
        EXPECT(ToyState.DeviceCleanupSeen > ToyState.UnloadSeen && ToyState.DeviceDestroySeen > ToyState.DeviceCleanupSeen);
        EXPECT(ToyState.DriverCleanupSeen > ToyState.DeviceDestroySeen);
    }
    KsimGetCounters(&Counters);
    EXPECT(Counters.PoolAllocations == 0 && Counters.Irps == 0 && Counters.Mdls == 0);
    TestDeferredInitialization();
    TestLeakAtUnload();
    EXPECT_STATUS(KsimDriverLoad(), STATUS_SUCCESS);
    TestCompletionRoutineEx();
    TestDeferredUnload();

    Total = KsimVerifierLastFailure(Last, sizeof(Last));
    if (Total != ExpectedVerifierFailures) {
        fprintf(stderr, "FAIL: %llu verifier failures, %llu expected by the tests (last: %s)\n",
                (unsigned long long)Total, (unsigned long long)ExpectedVerifierFailures, Last);
        Failures++;
    }
    if (Failures) {
        fprintf(stderr, "ksim_test: %d failure(s)\n", Failures);
        return 1;
    }
    printf("ksim_test: all passed (%llu verifier failures provoked on purpose)\n",
           (unsigned long long)ExpectedVerifierFailures);
    return 0;
}

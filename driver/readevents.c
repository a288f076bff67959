/* SPDX-License-Identifier: MIT
 *
 * The inverted call: user mode keeps READ_EVENTS requests pending in the device's manual queue
 * (Session->EventReadQueue); whenever records are committed, a waiting request of this
 * session's file object is retrieved and completed with as many whole records as fit.
 *
 * One thread at a time delivers (Queue->Delivering): a second thread that brings a new request
 * just sets DeliverAgain and leaves, and the delivering thread loops. Batches are therefore taken and
 * completed in the same order, so user mode sees sequence numbers rise from one completion to
 * the next, and a record committed while a request was being forwarded is never stranded.
 * Requests are never completed under Session->Lock: completion may run user-mode-facing code
 * (in ksim, the host callback) that comes straight back into the driver.
 *
 * READ_EVENTS is METHOD_OUT_DIRECT: WdfRequestRetrieveOutputBuffer returns the system address
 * of the MDL the I/O manager locked over the caller's buffer (KMDF maps it with
 * MmGetSystemAddressForMdlSafe(NormalPagePriority | MdlMappingNoExecute)), so the records are
 * written once, straight into user memory, which the driver never reads back. They are copied
 * out of the ring without holding Session->Lock (events.h, the single-consumer protocol), at
 * most WSKB_READ_EVENTS_BATCH_MAX bytes per completion, so a WSK callback that ends up
 * delivering (at DISPATCH_LEVEL) holds the lock only for bookkeeping.
 */
#include "driver.h"

/* Serves one retrieved READ_EVENTS from the ring: plans, copies (without the lock) and retires
 * as many whole records as fit, and completes the request. Called and returns with
 * Session->Lock held, by the delivering thread, with at least one committed record waiting. */
_IRQL_requires_(DISPATCH_LEVEL)
static VOID
WskbEventsServeFromRingLocked(_Inout_ WSKB_SESSION *Session, _In_ WDFREQUEST Request, _In_ PUCHAR Buffer,
                              _In_ ULONG Length, _Inout_ KIRQL *OldIrql)
{
    WSKB_EVENT_QUEUE *Queue = &Session->Events;
    WSKB_EVENT_BATCH Batch;
    ULONG Written;

    /* Only the delivering thread takes records out, so what HasDeliverable saw is still
     * there and at least one whole record fits the minimum output. */
    (VOID)WskbEventQueuePlanBatchLocked(Session, Length, &Batch);
    if (Batch.Written != 0) {
        KeReleaseSpinLock(&Session->Lock, *OldIrql);
        WskbEventQueueCopyPlanned(Session, &Batch, Buffer);
        KeAcquireSpinLock(&Session->Lock, OldIrql);
    }
    Written = WskbEventQueueRetirePlannedLocked(Session, &Batch, Buffer, Length);
    NT_ASSERT(Written > 0);
    ++Queue->Stats.ReadEventsCompleted;
    /* Room came back: report what was refused meanwhile, behind what was just taken. */
    WskbEventQueueFlushReportsLocked(Session, NULL);
    KeReleaseSpinLock(&Session->Lock, *OldIrql);

    WdfRequestCompleteWithInformation(Request, STATUS_SUCCESS, Written);

    KeAcquireSpinLock(&Session->Lock, OldIrql);
}

/* The oldest waiting READ_EVENTS of this session's file object, with its output (at most
 * WSKB_READ_EVENTS_BATCH_MAX bytes of it). A request whose output cannot be had is completed
 * with that status and the next one is taken. STATUS_NO_MORE_ENTRIES when no reader waits.
 * By the delivering thread, without Session->Lock. */
_IRQL_requires_max_(DISPATCH_LEVEL)
static NTSTATUS
WskbEventsTakeReader(_In_ WSKB_SESSION *Session, _Out_ WDFREQUEST *Request, _Out_ PUCHAR *Buffer,
                     _Out_ ULONG *Length)
{
    *Buffer = NULL;
    *Length = 0;
    for (;;) {
        PVOID Output;
        size_t OutputLength;
        NTSTATUS Status;

        Status = WdfIoQueueRetrieveRequestByFileObject(Session->EventReadQueue, Session->FileObject, Request);
        if (!NT_SUCCESS(Status))
            return Status;
        /* WskbEventsReadRequest forwarded only requests with at least the minimum output. */
        Status = WdfRequestRetrieveOutputBuffer(*Request, WSKB_READ_EVENTS_MIN_OUTPUT, &Output, &OutputLength);
        if (NT_SUCCESS(Status)) {
            *Buffer = Output;
            *Length = OutputLength > WSKB_READ_EVENTS_BATCH_MAX ? WSKB_READ_EVENTS_BATCH_MAX : (ULONG)OutputLength;
            return STATUS_SUCCESS;
        }
        WdfRequestComplete(*Request, Status);
    }
}

/* The delivering thread's loop. Called with Session->Lock held and Queue->Delivering set by
 * this thread; returns with the role given up and the lock released. */
_IRQL_requires_(DISPATCH_LEVEL)
static VOID
WskbEventsDeliverLoopLocked(_Inout_ WSKB_SESSION *Session, _In_ KIRQL OldIrql)
{
    WSKB_EVENT_QUEUE *Queue = &Session->Events;

    NT_ASSERT(Queue->Delivering);
    for (;;) {
        WDFREQUEST Request;
        PUCHAR Buffer;
        ULONG Length;

        Queue->DeliverAgain = FALSE;
        if (!WskbEventQueueHasDeliverableLocked(Session))
            break;
        KeReleaseSpinLock(&Session->Lock, OldIrql);

        if (!NT_SUCCESS(WskbEventsTakeReader(Session, &Request, &Buffer, &Length))) {
            /* No reader waiting (STATUS_NO_MORE_ENTRIES): the records wait in the ring. A reader
             * that arrived meanwhile set DeliverAgain and is served by the next turn. */
            KeAcquireSpinLock(&Session->Lock, &OldIrql);
            if (Queue->DeliverAgain)
                continue;
            Queue->ReaderMayWait = FALSE;
            break;
        }

        KeAcquireSpinLock(&Session->Lock, &OldIrql);
        WskbEventsServeFromRingLocked(Session, Request, Buffer, Length, &OldIrql);
    }

    Queue->Delivering = FALSE;
    KeReleaseSpinLock(&Session->Lock, OldIrql);
}

/* NewRequest: the caller just forwarded a READ_EVENTS to the manual queue. Only that needs the
 * delivering thread to look again after finding the queue empty; new records need not, since
 * the deliverer checks for records after every request it completes, and records that find no
 * request wait in the ring for the next one. */
_IRQL_requires_max_(DISPATCH_LEVEL)
static VOID
WskbEventsDeliverInternal(_Inout_ WSKB_SESSION *Session, _In_ BOOLEAN NewRequest)
{
    WSKB_EVENT_QUEUE *Queue = &Session->Events;
    KIRQL OldIrql;

    KeAcquireSpinLock(&Session->Lock, &OldIrql);
    if (NewRequest)
        Queue->ReaderMayWait = TRUE;
    if (Queue->Delivering) {
        if (NewRequest)
            Queue->DeliverAgain = TRUE;
        KeReleaseSpinLock(&Session->Lock, OldIrql);
        return;
    }
    Queue->Delivering = TRUE;
    WskbEventsDeliverLoopLocked(Session, OldIrql);
}

_IRQL_requires_max_(DISPATCH_LEVEL)
VOID
WskbEventsDeliver(_Inout_ WSKB_SESSION *Session)
{
    WskbEventsDeliverInternal(Session, FALSE);
}

_IRQL_requires_max_(DISPATCH_LEVEL)
_Must_inspect_result_
BOOLEAN
WskbEventsDirectBegin(_Inout_ WSKB_SESSION *Session, _Out_ WSKB_DIRECT_READ *Direct)
{
    WSKB_EVENT_QUEUE *Queue = &Session->Events;
    KIRQL OldIrql;

    RtlZeroMemory(Direct, sizeof(*Direct));
    KeAcquireSpinLock(&Session->Lock, &OldIrql);
    /* Only an empty queue: anything waiting is older and leaves first, through the ring. */
    if (!Queue->Ring || Queue->Delivering || !Queue->ReaderMayWait || Queue->Used != 0 ||
        !IsListEmpty(&Queue->Overflow)) {
        KeReleaseSpinLock(&Session->Lock, OldIrql);
        return FALSE;
    }
    Queue->Delivering = TRUE;
    KeReleaseSpinLock(&Session->Lock, OldIrql);

    if (NT_SUCCESS(WskbEventsTakeReader(Session, &Direct->Request, &Direct->Buffer, &Direct->Length)))
        return TRUE;

    /* No reader after all (canceled since it was forwarded): give the role up as the loop
     * does, serving whatever was queued meanwhile. */
    Direct->Request = NULL;
    KeAcquireSpinLock(&Session->Lock, &OldIrql);
    if (!Queue->DeliverAgain)
        Queue->ReaderMayWait = FALSE;
    WskbEventsDeliverLoopLocked(Session, OldIrql);
    return FALSE;
}

_IRQL_requires_max_(DISPATCH_LEVEL)
VOID
WskbEventsDirectEnd(_Inout_ WSKB_SESSION *Session, _Inout_ WSKB_DIRECT_READ *Direct)
{
    WSKB_EVENT_QUEUE *Queue = &Session->Events;
    KIRQL OldIrql;
    NTSTATUS Status;

    NT_ASSERT(Direct->Request);
    KeAcquireSpinLock(&Session->Lock, &OldIrql);
    NT_ASSERT(Queue->Delivering);
    if (Direct->Written != 0) {
        Queue->Stats.EventsDelivered += Direct->Records;
        Queue->Stats.EventsWrittenDirect += Direct->Records;
        ++Queue->Stats.ReadEventsCompleted;
        KeReleaseSpinLock(&Session->Lock, OldIrql);
        WdfRequestCompleteWithInformation(Direct->Request, STATUS_SUCCESS, Direct->Written);
        KeAcquireSpinLock(&Session->Lock, &OldIrql);
    } else if (WskbEventQueueHasDeliverableLocked(Session)) {
        /* Another producer's record got into the ring first: it is the oldest, serve it. */
        WskbEventsServeFromRingLocked(Session, Direct->Request, Direct->Buffer, Direct->Length, &OldIrql);
    } else {
        /* Nothing for it yet (a reservation not yet committed, or a socket held back): back to
         * the head of the queue, ahead of any reader that arrived since. */
        KeReleaseSpinLock(&Session->Lock, OldIrql);
        Status = WdfRequestRequeue(Direct->Request);
        if (!NT_SUCCESS(Status)) {
            /* The queue is being purged (cleanup): the request ends as the purge would end it. */
            WdfRequestComplete(Direct->Request, STATUS_CANCELLED);
        }
        KeAcquireSpinLock(&Session->Lock, &OldIrql);
    }
    Direct->Request = NULL;
    WskbEventsDeliverLoopLocked(Session, OldIrql);
}

_IRQL_requires_max_(PASSIVE_LEVEL)
VOID
WskbEventsReadRequest(_In_ WSKB_SESSION *Session, _In_ WDFREQUEST Request, _In_ size_t OutputLength)
{
    NTSTATUS Status;

    if (!Session->Events.Ring) {
        /* The queue is created at HELLO; before it there is nothing to read. */
        WdfRequestComplete(Request, STATUS_INVALID_DEVICE_STATE);
        return;
    }
    /* The largest record must always fit, or a reader could stall on it forever. */
    if (OutputLength < WSKB_READ_EVENTS_MIN_OUTPUT) {
        WdfRequestComplete(Request, STATUS_BUFFER_TOO_SMALL);
        return;
    }

    /* Always through the manual queue, even when records are waiting: the delivering thread
     * then completes requests in arrival order, and the framework owns (and cancels, on
     * CancelIoEx or cleanup) every request not being completed this instant. */
    Status = WdfRequestForwardToIoQueue(Request, Session->EventReadQueue);
    if (!NT_SUCCESS(Status)) {
        WdfRequestComplete(Request, Status);
        return;
    }
    WskbEventsDeliverInternal(Session, TRUE);

    /* User mode is reading: if that brought the data budget below half, paused sockets may
     * receive again. Done here, at PASSIVE_LEVEL in the reader's thread, rather than in the
     * callback that happened to complete a read. */
    WskbFlowRearm(Session);
}

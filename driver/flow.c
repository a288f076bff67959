/* SPDX-License-Identifier: MIT
 *
 * Receive flow control, and the event half's part of each socket's lifetime.
 *
 * Stream data is never dropped. When the data budget cannot take what WskReceiveEvent
 * indicates, the callback accepts what fits (or nothing: STATUS_DATA_NOT_ACCEPTED) and the
 * socket is paused: WSK keeps the rest and indicates nothing more until a WskReceive has been
 * posted and completed. Once user mode has drained the queue below half the budget, each
 * paused socket gets a zero-length WskReceive on its own preallocated IRP; WSK completes it,
 * which re-arms indications, and indicates the data it kept first. Both steps are events
 * (FLOW_PAUSED, FLOW_RESUMED), so user mode sees the back-pressure it caused.
 */
#include "driver.h"

static IO_COMPLETION_ROUTINE WskbFlowRearmComplete;

_IRQL_requires_max_(DISPATCH_LEVEL)
_Must_inspect_result_
NTSTATUS
WskbEventsSocketInitialize(_Inout_ WSKB_SOCKET *Socket)
{
    WSKB_SOCKET_EVENTS *Events = &Socket->Events;

    RtlZeroMemory(Events, sizeof(*Events));
    InitializeListHead(&Events->PausedLink);
    InitializeListHead(&Events->PendingInspects);
    InitializeListHead(&Events->RearmLink);
    InitializeListHead(&Events->ReportLink);
    /* Allocated now, while failing is still just a failed SOCKET_CREATE: a socket that pauses
     * must always be able to resume, and a callback has no way to report a failed allocation. */
    Events->RearmIrp = IoAllocateIrp(1, FALSE);
    if (!Events->RearmIrp)
        return STATUS_INSUFFICIENT_RESOURCES;
    Events->Initialized = TRUE;
    return STATUS_SUCCESS;
}

_IRQL_requires_max_(DISPATCH_LEVEL)
VOID
WskbEventsSocketUninitialize(_Inout_ WSKB_SOCKET *Socket)
{
    WSKB_SOCKET_EVENTS *Events = &Socket->Events;

    /* The re-arm holds a socket reference until its completion, so no IRP can be in flight. */
    NT_ASSERT(!Events->RearmInFlight);
    if (Events->RearmIrp) {
        IoFreeIrp(Events->RearmIrp);
        Events->RearmIrp = NULL;
    }
    Events->Initialized = FALSE;
}

_IRQL_requires_max_(DISPATCH_LEVEL)
VOID
WskbEventsSocketClosed(_Inout_ WSKB_SOCKET *Socket)
{
    WSKB_SESSION *Session = Socket->Session;
    WSKB_SOCKET_EVENTS *Events = &Socket->Events;
    PIRP Irp;
    KIRQL OldIrql;

    if (!Events->Initialized)
        return;

    /* The close IRP has completed: WSK runs no callback and holds no IRP of this socket any
     * more. Pended inspections can no longer be completed, so they are forgotten. */
    WskbInspectDropAll(Socket);

    KeAcquireSpinLock(&Session->Lock, &OldIrql);
    if (Events->Paused) {
        RemoveEntryList(&Events->PausedLink);
        InitializeListHead(&Events->PausedLink);
        Events->Paused = FALSE;
        Events->PausedAgain = FALSE;
    }
    /* Counts owed by this socket leave before its last event. */
    WskbEventQueueFlushReportsLocked(Session, Socket);
    if (Events->ReportQueued) {
        /* Only if even the report was lost to pool exhaustion (a gap in the sequence). */
        RemoveEntryList(&Events->ReportLink);
        Events->ReportQueued = FALSE;
        Session->Events.DatagramsDroppedPending -= Events->DatagramsDroppedPending;
        Session->Events.AcceptsRefusedPending -= Events->AcceptsRefusedPending;
        Events->SendBacklogPending = FALSE;
    }
    WskbEventQueueControlLocked(Session, WSKB_EVENT_SOCKET_CLOSED, Socket, 0, 0);
    Events->Closed = TRUE;
    Events->Initialized = FALSE;
    /* A re-arm completion may still be unwinding on another processor (WSK completed its IRP
     * before the close IRP, but the routine may not have returned yet): then it frees the IRP
     * itself, as the last thing it touches. */
    Irp = Events->RearmInFlight ? NULL : Events->RearmIrp;
    if (Irp)
        Events->RearmIrp = NULL;
    KeReleaseSpinLock(&Session->Lock, OldIrql);

    if (Irp)
        IoFreeIrp(Irp);
    WskbEventsDeliver(Session);
}

_IRQL_requires_(DISPATCH_LEVEL)
VOID
WskbFlowPauseLocked(_Inout_ WSKB_SESSION *Session, _Inout_ WSKB_SOCKET *Socket, _In_ UINT64 BytesLeft)
{
    WSKB_SOCKET_EVENTS *Events = &Socket->Events;

    /* WSK may indicate again before the completion of a re-arm has run here; that completion
     * must then not mark the socket running. */
    if (Events->RearmInFlight)
        Events->PausedAgain = TRUE;
    if (!Events->Paused) {
        Events->Paused = TRUE;
        InsertTailList(&Session->Events.PausedSockets, &Events->PausedLink);
    }
    ++Session->Events.Stats.ReceivePauses;
    WskbEventQueueControlLocked(Session, WSKB_EVENT_FLOW_PAUSED, Socket, 0, BytesLeft);
}

_IRQL_requires_max_(DISPATCH_LEVEL)
VOID
WskbFlowRearm(_Inout_ WSKB_SESSION *Session)
{
    WSKB_EVENT_QUEUE *Queue = &Session->Events;
    LIST_ENTRY Rearm;
    PLIST_ENTRY Link;
    KIRQL OldIrql;

    InitializeListHead(&Rearm);
    KeAcquireSpinLock(&Session->Lock, &OldIrql);
    /* Below half, not merely below full: resuming at the first free byte would pause again at
     * once and turn every READ_EVENTS into a pause/resume pair. */
    if (!Queue->Ring || IsListEmpty(&Queue->PausedSockets) || Queue->DataUsed > Queue->Budget / 2) {
        KeReleaseSpinLock(&Session->Lock, OldIrql);
        return;
    }
    for (Link = Queue->PausedSockets.Flink; Link != &Queue->PausedSockets; Link = Link->Flink) {
        WSKB_SOCKET *Socket = CONTAINING_RECORD(Link, WSKB_SOCKET, Events.PausedLink);

        if (Socket->Events.RearmInFlight || !Socket->Events.RearmIrp || Socket->State != WskbSocketOpen)
            continue;
        Socket->Events.RearmInFlight = TRUE;
        Socket->Events.PausedAgain = FALSE;
        /* Keeps the socket object alive until the re-arm IRP completes. */
        WskbSocketReference(Socket);
        InsertTailList(&Rearm, &Socket->Events.RearmLink);
    }
    KeReleaseSpinLock(&Session->Lock, OldIrql);

    while (!IsListEmpty(&Rearm)) {
        WSKB_SOCKET *Socket = CONTAINING_RECORD(RemoveHeadList(&Rearm), WSKB_SOCKET, Events.RearmLink);
        PIRP Irp = Socket->Events.RearmIrp;
        WSK_BUF Empty;

        InitializeListHead(&Socket->Events.RearmLink);
        if (!WskbSocketCallBegin(Socket)) {
            /* Closing: WskCloseSocket will end the socket; nothing to re-arm. If the close has
             * already completed, WskbEventsSocketClosed saw the re-arm in flight and left the
             * IRP to us. */
            PIRP Orphan = NULL;
            KeAcquireSpinLock(&Session->Lock, &OldIrql);
            Socket->Events.RearmInFlight = FALSE;
            if (Socket->Events.Closed) {
                Orphan = Socket->Events.RearmIrp;
                Socket->Events.RearmIrp = NULL;
            }
            KeReleaseSpinLock(&Session->Lock, OldIrql);
            if (Orphan)
                IoFreeIrp(Orphan);
            WskbSocketDereference(Socket);
            continue;
        }
        /* A zero-length receive takes no data; its completion is what re-arms WskReceiveEvent. */
        Empty.Mdl = NULL;
        Empty.Offset = 0;
        Empty.Length = 0;
        IoReuseIrp(Irp, STATUS_UNSUCCESSFUL);
        if (!NT_SUCCESS(WskbIrpSetCompletion(Session, Irp, WskbFlowRearmComplete, Socket))) {
            /* No completion context: the socket stays paused and the next drain (the next
             * READ_EVENTS) tries again. The call rundown held here keeps the close, and so
             * WskbEventsSocketClosed, away until CallEnd. */
            KeAcquireSpinLock(&Session->Lock, &OldIrql);
            Socket->Events.RearmInFlight = FALSE;
            KeReleaseSpinLock(&Session->Lock, OldIrql);
            WskbSocketCallEnd(Socket);
            WskbSocketDereference(Socket);
            continue;
        }
        /* WSK completes the IRP whatever it returns; the completion routine takes it from there. */
        (VOID)WskbSocketDispatch(Socket, WSK_PROVIDER_CONNECTION_DISPATCH)->WskReceive(Socket->WskSocket, &Empty, 0, Irp);
        WskbSocketCallEnd(Socket);
    }
}

_Use_decl_annotations_
static NTSTATUS
WskbFlowRearmComplete(PDEVICE_OBJECT DeviceObject, PIRP Irp, PVOID Context)
{
    WSKB_SOCKET *Socket = Context;
    WSKB_SESSION *Session = Socket->Session;
    WSKB_SOCKET_EVENTS *Events = &Socket->Events;
    NTSTATUS Status = Irp->IoStatus.Status;
    BOOLEAN FreeIrp;
    KIRQL OldIrql;

    UNREFERENCED_PARAMETER(DeviceObject);

    KeAcquireSpinLock(&Session->Lock, &OldIrql);
    Events->RearmInFlight = FALSE;
    ++Session->Events.Stats.ReceiveResumes;
    FreeIrp = Events->Closed;
    if (FreeIrp) {
        /* SOCKET_CLOSED was the socket's last event; the IRP is ours to free. */
        Events->RearmIrp = NULL;
    } else {
        /* Param: the NTSTATUS, as its 32 bits zero-extended. */
        WskbEventQueueControlLocked(Session, WSKB_EVENT_FLOW_RESUMED, Socket, 0, (UINT64)(UINT32)Status);
    }
    if (FreeIrp) {
        /* Nothing left to do for a closed socket. */
    } else if (Events->PausedAgain) {
        /* Refused again meanwhile: stays on the paused list for the next drain. */
        Events->PausedAgain = FALSE;
    } else if (Events->Paused) {
        /* Also on failure (reset, close): a dead connection must not be re-armed forever;
         * the status in FLOW_RESUMED tells user mode what happened. */
        RemoveEntryList(&Events->PausedLink);
        InitializeListHead(&Events->PausedLink);
        Events->Paused = FALSE;
    }
    KeReleaseSpinLock(&Session->Lock, OldIrql);

    if (FreeIrp)
        IoFreeIrp(Irp);
    WskbEventsDeliver(Session);
    WskbSocketDereference(Socket);
    /* The IRP is the socket's, reused for the next re-arm and freed at close; the I/O manager
     * must not touch it again. */
    return STATUS_MORE_PROCESSING_REQUIRED;
}

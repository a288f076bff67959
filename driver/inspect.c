/* SPDX-License-Identifier: MIT
 *
 * Conditional accept: pended inspections and WskInspectComplete.
 *
 * WskInspectEvent runs before the handshake and must decide at once, but the decision belongs
 * to user mode. So the callback returns WskInspectPend, keeps a copy of the WSK_INSPECT_ID (WSK
 * identifies the request by its contents, not its address) under a 64-bit token, and queues an
 * INSPECT event carrying the token. INSPECT_COMPLETE brings the token back with the action,
 * and the driver calls WskInspectComplete with an IRP. WskAbortEvent, which WSK may raise
 * while the decision is pending, is matched by the id's contents and forgets the inspection.
 * The id's Key stays in the kernel (it may be an object address): user mode sees the token and
 * the SerialNumber only.
 *
 * The INSPECT record is delivered inside the callback (a waiting READ_EVENTS completes there),
 * so user mode may answer before the callback has returned WskInspectPend, while WSK does not
 * yet consider the inspection pended: WskInspectComplete then would be a call outside its
 * contract (ksim refuses it). So the pending inspection is Delivering until the callback's last
 * act under the session lock. An INSPECT_COMPLETE that finds it Delivering calls nothing: it
 * leaves the decision on it and succeeds, and the callback returns that decision to WSK itself
 * (WskInspectAccept or WskInspectReject, the same outcome WskInspectComplete would give).
 * Otherwise the callback marks it Pended and returns WskInspectPend; from then on
 * INSPECT_COMPLETE calls WskInspectComplete. Only the callback's epilogue remains after it
 * releases the lock, as for WskAcceptEvent (issue 8, finding 9): a thread woken by that release
 * may reach WskInspectComplete before WSK has seen the return, which no client can order
 * otherwise (ksim gives such a callback a grace period to return, docs/ksim-fidelity.md).
 */
#include "driver.h"

static IO_COMPLETION_ROUTINE WskbInspectCompleteDone;

static BOOLEAN
WskbInspectIdEqual(_In_ CONST WSK_INSPECT_ID *A, _In_ CONST WSK_INSPECT_ID *B)
{
    /* Field by field: the structure has tail padding on 64-bit, with no defined contents. */
    return A->Key == B->Key && A->SerialNumber == B->SerialNumber;
}

_Use_decl_annotations_
VOID
WskbInspectBodyFill(WSKB_INSPECT_BODY *Body, PSOCKADDR LocalAddress, PSOCKADDR RemoteAddress,
                    CONST WSK_INSPECT_ID *InspectId)
{
    RtlZeroMemory(Body, sizeof(*Body));
    WskbSockaddrToWire(LocalAddress, &Body->LocalAddress);
    WskbSockaddrToWire(RemoteAddress, &Body->RemoteAddress);
    /* Never the Key: a ULONG_PTR that netio may fill with an object address (issue 8,
     * finding 5). Reserved0 stays zero; user mode names the inspection by the token. */
    if (InspectId)
        Body->InspectSerialNumber = InspectId->SerialNumber;
}

_IRQL_requires_max_(DISPATCH_LEVEL)
WSK_INSPECT_ACTION
WskbInspectPend(_Inout_ WSKB_SOCKET *Socket, _In_opt_ PSOCKADDR LocalAddress, _In_opt_ PSOCKADDR RemoteAddress,
                _In_ CONST WSK_INSPECT_ID *InspectId)
{
    WSKB_SESSION *Session = Socket->Session;
    WSKB_PENDING_INSPECT *Pending;
    WSKB_EVENT_HEADER *Header = NULL;
    WSK_INSPECT_ACTION Action;
    KIRQL OldIrql;

    /* Allocated before the lock: an inspection is one per incoming connection attempt, not
     * the receive hot path, and its lifetime is user mode's to decide. */
    Pending = ExAllocatePool2(POOL_FLAG_NON_PAGED, sizeof(*Pending), WSKB_TAG_INSPECT);

    KeAcquireSpinLock(&Session->Lock, &OldIrql);
    if (Pending)
        Header = WskbEventQueueReserveLocked(Session, WskbEventClassData, WSKB_EVENT_INSPECT, Socket,
                                             sizeof(WSKB_INSPECT_BODY));
    if (!Header) {
        /* Rejected now, before any handshake: the peer sees a refused connection, user mode
         * an ACCEPTS_REFUSED count and InspectsRejected. */
        WskbEventQueueCountRefusalLocked(Session, Socket, WSKB_EVENT_INSPECT);
        KeReleaseSpinLock(&Session->Lock, OldIrql);
        if (Pending)
            ExFreePoolWithTag(Pending, WSKB_TAG_INSPECT);
        return WskInspectReject;
    }
    Pending->Token = Session->Events.NextInspectToken++;
    Pending->InspectId.Key = InspectId->Key;
    Pending->InspectId.SerialNumber = InspectId->SerialNumber;
    Pending->Socket = Socket;
    Pending->State = WskbInspectDelivering;
    Pending->Decided = FALSE;
    Pending->Decision = WskInspectReject;
    Pending->Request = NULL;
    Pending->Irp = NULL;
    InsertTailList(&Socket->Events.PendingInspects, &Pending->Link);

    WskbInspectBodyFill((WSKB_INSPECT_BODY *)(Header + 1), LocalAddress, RemoteAddress, InspectId);
    Header->Param = Pending->Token;
    WskbEventQueueCommitLocked(Session, Header, WskbEventClassData);
    KeReleaseSpinLock(&Session->Lock, OldIrql);

    /* The INSPECT record may reach user mode right here, and its answer with it. Nothing but
     * this callback frees a Delivering inspection: INSPECT_COMPLETE only leaves its decision,
     * WskAbortEvent cannot name a request whose inspection has not returned, and the listener's
     * close drops the list only after WskCloseSocket, which waits for this callback. */
    WskbEventsDeliver(Session);

    /* The last act: the answer that arrived meanwhile is returned to WSK directly (no
     * WskInspectComplete at all); otherwise the inspection is pended from now on. */
    KeAcquireSpinLock(&Session->Lock, &OldIrql);
    if (Pending->Decided) {
        RemoveEntryList(&Pending->Link);
        Action = Pending->Decision;
    } else {
        Pending->State = WskbInspectPended;
        Action = WskInspectPend;
        Pending = NULL;
    }
    KeReleaseSpinLock(&Session->Lock, OldIrql);
    if (Pending)
        ExFreePoolWithTag(Pending, WSKB_TAG_INSPECT);
    return Action;
}

_IRQL_requires_max_(DISPATCH_LEVEL)
VOID
WskbInspectAbort(_Inout_ WSKB_SOCKET *Socket, _In_ CONST WSK_INSPECT_ID *InspectId)
{
    WSKB_SESSION *Session = Socket->Session;
    WSKB_PENDING_INSPECT *Found = NULL;
    WSKB_EVENT_HEADER *Header;
    PLIST_ENTRY Link;
    KIRQL OldIrql;

    KeAcquireSpinLock(&Session->Lock, &OldIrql);
    for (Link = Socket->Events.PendingInspects.Flink; Link != &Socket->Events.PendingInspects; Link = Link->Flink) {
        WSKB_PENDING_INSPECT *Pending = CONTAINING_RECORD(Link, WSKB_PENDING_INSPECT, Link);
        /* Only a Pended one: WSK aborts a request only after its inspection returned, and a
         * Delivering one belongs to the callback still running. */
        if (Pending->State == WskbInspectPended && WskbInspectIdEqual(&Pending->InspectId, InspectId)) {
            RemoveEntryList(&Pending->Link);
            Found = Pending;
            break;
        }
    }
    /* Param is the token while the inspection was still pending here, else 0 (user mode
     * already completed it, or it was accepted by WSK's own rules); the body carries the
     * SerialNumber (never the Key), so user mode can match either way on this listener. */
    Header = WskbEventQueueReserveLocked(Session, WskbEventClassControl, WSKB_EVENT_ABORT, Socket,
                                         sizeof(WSKB_INSPECT_BODY));
    if (Header) {
        WskbInspectBodyFill((WSKB_INSPECT_BODY *)(Header + 1), NULL, NULL, InspectId);
        Header->Param = Found ? Found->Token : 0;
        WskbEventQueueCommitLocked(Session, Header, WskbEventClassControl);
    }
    KeReleaseSpinLock(&Session->Lock, OldIrql);

    if (Found)
        ExFreePoolWithTag(Found, WSKB_TAG_INSPECT);
    WskbEventsDeliver(Session);
}

_IRQL_requires_max_(DISPATCH_LEVEL)
VOID
WskbInspectDropAll(_Inout_ WSKB_SOCKET *Socket)
{
    WSKB_SESSION *Session = Socket->Session;
    LIST_ENTRY Dropped;
    KIRQL OldIrql;

    InitializeListHead(&Dropped);
    KeAcquireSpinLock(&Session->Lock, &OldIrql);
    while (!IsListEmpty(&Socket->Events.PendingInspects))
        InsertTailList(&Dropped, RemoveHeadList(&Socket->Events.PendingInspects));
    KeReleaseSpinLock(&Session->Lock, OldIrql);

    while (!IsListEmpty(&Dropped)) {
        WSKB_PENDING_INSPECT *Pending = CONTAINING_RECORD(RemoveHeadList(&Dropped), WSKB_PENDING_INSPECT, Link);
        /* WskCloseSocket has completed: no WskInspectEvent is still delivering. */
        NT_ASSERT(Pending->State == WskbInspectPended);
        ExFreePoolWithTag(Pending, WSKB_TAG_INSPECT);
    }
}

_IRQL_requires_max_(PASSIVE_LEVEL)
VOID
WskbEventsInspectComplete(_In_ WSKB_SESSION *Session, _In_ WSKB_SOCKET *Socket, _In_ WDFREQUEST Request,
                          _In_ CONST WSKB_INSPECT_COMPLETE_IN *In)
{
    WSKB_PENDING_INSPECT *Pending = NULL;
    BOOLEAN Decided = FALSE;
    PLIST_ENTRY Link;
    PIRP Irp;
    KIRQL OldIrql;

    KeAcquireSpinLock(&Session->Lock, &OldIrql);
    for (Link = Socket->Events.PendingInspects.Flink; Link != &Socket->Events.PendingInspects; Link = Link->Flink) {
        WSKB_PENDING_INSPECT *Candidate = CONTAINING_RECORD(Link, WSKB_PENDING_INSPECT, Link);
        if (Candidate->Token != In->InspectToken)
            continue;
        if (Candidate->State == WskbInspectDelivering) {
            /* WskInspectEvent has not returned yet, so WSK does not consider the inspection
             * pended and WskInspectComplete must not be called. The callback returns this
             * decision itself, as its last act, and frees the inspection. A second answer
             * finds it decided: the token is spent, as after a completion. */
            if (!Candidate->Decided) {
                Candidate->Decided = TRUE;
                Candidate->Decision = (WSK_INSPECT_ACTION)In->Action;
                Decided = TRUE;
            }
            break;
        }
        RemoveEntryList(&Candidate->Link);
        Pending = Candidate;
        break;
    }
    KeReleaseSpinLock(&Session->Lock, OldIrql);

    if (Decided) {
        /* What WskInspectComplete reports for a request that is still there to decide. */
        WdfRequestComplete(Request, STATUS_SUCCESS);
        return;
    }
    if (!Pending) {
        /* The driver's own check, not WSK's: the token is unknown on this socket (never
         * issued, already completed or decided, or aborted by WSK). WSK is not called. */
        WdfRequestComplete(Request, STATUS_INVALID_PARAMETER);
        return;
    }

    Irp = IoAllocateIrp(1, FALSE);
    if (!Irp)
        goto cleanupPending;

    if (!WskbSocketCallBegin(Socket)) {
        /* Closing: WSK drops the request with the listening socket. */
        IoFreeIrp(Irp);
        ExFreePoolWithTag(Pending, WSKB_TAG_INSPECT);
        WdfRequestComplete(Request, STATUS_INVALID_HANDLE);
        return;
    }
    /* Right before WSK takes the IRP: the registration's context is freed by the completion. */
    if (!NT_SUCCESS(WskbIrpSetCompletion(Session, Irp, WskbInspectCompleteDone, Pending))) {
        WskbSocketCallEnd(Socket);
        IoFreeIrp(Irp);
        goto cleanupPending;
    }
    Pending->Request = Request;
    Pending->Irp = Irp;
    /* Our own reference: the IRP may complete after the caller has dropped its one. */
    WskbSocketReference(Socket);
    /* The action (Accept or Reject, ioctl.c) goes to WSK as given; its status is the
     * request's. */
    (VOID)WskbSocketDispatch(Socket, WSK_PROVIDER_LISTEN_DISPATCH)
        ->WskInspectComplete(Socket->WskSocket, &Pending->InspectId, (WSK_INSPECT_ACTION)In->Action, Irp);
    WskbSocketCallEnd(Socket);
    return;

cleanupPending:
    /* Out of resources: the inspection stays pending, so user mode may try again, unless the
     * socket started closing meanwhile: its close drops the pending inspections
     * (WskbInspectDropAll, after the state left Open under this lock), so one put back now
     * would never be freed (issue 8, finding 11). */
    KeAcquireSpinLock(&Session->Lock, &OldIrql);
    if (Socket->State == WskbSocketOpen) {
        InsertHeadList(&Socket->Events.PendingInspects, &Pending->Link);
        Pending = NULL;
    }
    KeReleaseSpinLock(&Session->Lock, OldIrql);
    if (Pending)
        ExFreePoolWithTag(Pending, WSKB_TAG_INSPECT);
    WdfRequestComplete(Request, STATUS_INSUFFICIENT_RESOURCES);
}

_Use_decl_annotations_
static NTSTATUS
WskbInspectCompleteDone(PDEVICE_OBJECT DeviceObject, PIRP Irp, PVOID Context)
{
    WSKB_PENDING_INSPECT *Pending = Context;
    NTSTATUS Status = Irp->IoStatus.Status;

    UNREFERENCED_PARAMETER(DeviceObject);
    IoFreeIrp(Irp);
    WdfRequestComplete(Pending->Request, Status);
    WskbSocketDereference(Pending->Socket);
    ExFreePoolWithTag(Pending, WSKB_TAG_INSPECT);
    /* The IRP is freed: the I/O manager must not touch it again. */
    return STATUS_MORE_PROCESSING_REQUIRED;
}

/* SPDX-License-Identifier: MIT
 *
 * The "one WDF request <-> one WSK IRP" helper; see irp.h for the lifetime rules.
 */
#include "irp.h"

static EVT_WDF_REQUEST_CANCEL WskbOperationEvtRequestCancel;
static IO_COMPLETION_ROUTINE WskbOperationIoCompletion;

_IRQL_requires_max_(DISPATCH_LEVEL)
static VOID
WskbOperationRelease(_Inout_ WSKB_OPERATION *Operation);

_Use_decl_annotations_
NTSTATUS
WskbOperationAllocate(WSKB_SESSION *Session, WSKB_SOCKET *Socket, WDFREQUEST Request, BOOLEAN WithIrp,
                      WSKB_OPERATION_FINISH *Finish, PVOID Output, size_t OutputLength, WSKB_OPERATION **Operation)
{
    NTSTATUS Status;
    WSKB_OPERATION *Op;

    *Operation = NULL;
    Op = ExAllocatePool2(POOL_FLAG_NON_PAGED, sizeof(*Op), WSKB_TAG_OPERATION);
    if (!Op)
        return STATUS_INSUFFICIENT_RESOURCES;
    if (WithIrp) {
        /* WSK needs one stack location of its own and sets it up itself. */
        Op->Irp = IoAllocateIrp(1, FALSE);
        if (!Op->Irp) {
            Status = STATUS_INSUFFICIENT_RESOURCES;
            goto cleanupOperation;
        }
    }
    if (!ExAcquireRundownProtection(&Session->Rundown)) {
        Status = STATUS_DELETE_PENDING;
        goto cleanupIrp;
    }
    Op->Session = Session;
    Op->Socket = Socket;
    Op->Request = Request;
    Op->Finish = Finish;
    Op->Output = Output;
    Op->OutputLength = OutputLength;
    Op->RefCount = 1; /* the submit path's */
    Op->FailStatus = STATUS_UNSUCCESSFUL;
    /* Not on Session->Operations yet (WskbOperationRun links it): until then nobody else can
     * reach the operation, so the caller may still fail its own allocations and free it. A
     * self-linked entry makes the unlink at the end harmless either way. */
    InitializeListHead(&Op->Link);
    if (Socket)
        WskbSocketReference(Socket);
    *Operation = Op;
    return STATUS_SUCCESS;

cleanupIrp:
    if (Op->Irp)
        IoFreeIrp(Op->Irp);
cleanupOperation:
    ExFreePoolWithTag(Op, WSKB_TAG_OPERATION);
    return Status;
}

_Use_decl_annotations_
NTSTATUS
WskbIrpSetCompletion(WSKB_SESSION *Session, PIRP Irp, PIO_COMPLETION_ROUTINE Routine, PVOID Context)
{
    return IoSetCompletionRoutineEx(Session->DeviceObject, Irp, Routine, Context, TRUE, TRUE, TRUE);
}

_Use_decl_annotations_
NTSTATUS
WskbOperationSetBuffer(WSKB_OPERATION *Operation, PVOID Data, ULONG Length)
{
    Operation->Buffer.Mdl = NULL;
    Operation->Buffer.Offset = 0;
    Operation->Buffer.Length = Length;
    if (Length == 0)
        return STATUS_SUCCESS;
    /* The request's system buffer is non-paged pool (METHOD_BUFFERED), so no probing or locking
     * is needed, only the page description. */
    Operation->Mdl = IoAllocateMdl(Data, Length, FALSE, FALSE, NULL);
    if (!Operation->Mdl)
        return STATUS_INSUFFICIENT_RESOURCES;
    MmBuildMdlForNonPagedPool(Operation->Mdl);
    Operation->Buffer.Mdl = Operation->Mdl;
    return STATUS_SUCCESS;
}

_IRQL_requires_max_(DISPATCH_LEVEL)
static VOID
WskbOperationUnlink(_Inout_ WSKB_OPERATION *Operation)
{
    WSKB_SESSION *Session = Operation->Session;
    KIRQL OldIrql;

    KeAcquireSpinLock(&Session->Lock, &OldIrql);
    RemoveEntryList(&Operation->Link);
    KeReleaseSpinLock(&Session->Lock, OldIrql);
}

/* Frees an unlinked operation. */
_IRQL_requires_max_(DISPATCH_LEVEL)
static VOID
WskbOperationDestroy(_In_ _Post_ptr_invalid_ WSKB_OPERATION *Operation)
{
    WSKB_SESSION *Session = Operation->Session;

    if (Operation->InputPool)
        ExFreePoolWithTag(Operation->InputPool, WSKB_TAG_OPERATION);
    if (Operation->OutputPool)
        ExFreePoolWithTag(Operation->OutputPool, WSKB_TAG_OPERATION);
    if (Operation->Mdl)
        IoFreeMdl(Operation->Mdl);
    if (Operation->Irp)
        IoFreeIrp(Operation->Irp);
    if (Operation->Socket)
        WskbSocketDereference(Operation->Socket);
    ExFreePoolWithTag(Operation, WSKB_TAG_OPERATION);
    ExReleaseRundownProtection(&Session->Rundown);
}

_Use_decl_annotations_
VOID
WskbOperationFree(WSKB_OPERATION *Operation)
{
    /* Never run, so never linked: no other thread holds it (issue 8, finding 2: it used to be
     * linked at allocation, and WskbOperationCancelAll could pin it while this freed it). */
    NT_ASSERT(IsListEmpty(&Operation->Link));
    WskbOperationDestroy(Operation);
}

/* Drops one reference; the last one finishes the request. */
_Use_decl_annotations_
static VOID
WskbOperationRelease(WSKB_OPERATION *Operation)
{
    NTSTATUS Status;
    ULONG_PTR Information;

    if (InterlockedDecrement(&Operation->RefCount) != 0)
        return;
    if (Operation->Called) {
        Status = Operation->IrpStatus;
        Information = Operation->IrpInformation;
    } else {
        Status = Operation->FailStatus;
        Information = 0;
    }
    if (Operation->Finish)
        Operation->Finish(Operation, &Status, &Information);
    /* METHOD_BUFFERED: the I/O manager copies Information bytes back, so it must never exceed
     * the caller's output buffer, whatever WSK reported. */
    if (Information > Operation->OutputLength)
        Information = Operation->OutputLength;
    /* Off the list before the request completes: once completed, its handle value may be
     * reused by a new request, whose cancel routine must never find this operation. */
    WskbOperationUnlink(Operation);
    WdfRequestCompleteWithInformation(Operation->Request, Status, Information);
    WskbOperationDestroy(Operation);
}

/* The IRP is back (or was never handed over): drops its reference, and the cancel routine's
 * unless that routine has run or will run. In the latter case it drops its own, and the
 * request must not be completed before then, which the reference count ensures. */
_IRQL_requires_max_(DISPATCH_LEVEL)
static VOID
WskbOperationIrpReturned(_Inout_ WSKB_OPERATION *Operation)
{
    if (WdfRequestUnmarkCancelable(Operation->Request) != STATUS_CANCELLED)
        WskbOperationRelease(Operation);
    WskbOperationRelease(Operation);
}

_Use_decl_annotations_
VOID
WskbOperationRun(WSKB_OPERATION *Operation, WSKB_OPERATION_CALL *Call)
{
    NTSTATUS Status;
    PIRP Irp = Operation->Irp;
    WSKB_SESSION *Session = Operation->Session;
    KIRQL OldIrql;

    /* Linked only now that everything the operation needs is allocated: once on the list,
     * WskbOperationCancelAll may pin it at any moment, so from here it goes only through its
     * last reference. Linked under the lock that EvtFileCleanup sets CleaningUp with, so an
     * operation is either seen by the sweep or refused here, never missed. */
    KeAcquireSpinLock(&Session->Lock, &OldIrql);
    if (Session->CleaningUp) {
        KeReleaseSpinLock(&Session->Lock, OldIrql);
        Operation->FailStatus = STATUS_DELETE_PENDING;
        goto cleanupSubmit;
    }
    InsertTailList(&Session->Operations, &Operation->Link);
    KeReleaseSpinLock(&Session->Lock, OldIrql);

    /* The socket may have started closing since it was looked up; WskCloseSocket must not race
     * this call, so the rundown decides. */
    if (Operation->Socket && !WskbSocketCallBegin(Operation->Socket)) {
        Operation->FailStatus = STATUS_INVALID_HANDLE;
        goto cleanupSubmit;
    }

    if (!Irp) {
        Operation->Called = TRUE;
        Operation->CallStatus = Call(Operation, NULL);
        Operation->IrpStatus = Operation->CallStatus;
        goto cleanupCall;
    }

    /* One reference for the IRP, one for the cancel routine; set before the request becomes
     * cancelable because the cancel routine may run at once on another thread. */
    InterlockedIncrement(&Operation->RefCount);
    InterlockedIncrement(&Operation->RefCount);
    Operation->Cancelable = TRUE;
    Status = WdfRequestMarkCancelableEx(Operation->Request, WskbOperationEvtRequestCancel);
    if (!NT_SUCCESS(Status)) {
        /* Already cancelled: never hand the IRP to WSK. Neither the completion nor the cancel
         * routine will run, so both of their references go here. */
        Operation->Cancelable = FALSE;
        InterlockedDecrement(&Operation->RefCount);
        InterlockedDecrement(&Operation->RefCount);
        Operation->FailStatus = Status;
        goto cleanupCall;
    }
    if (Irp->Cancel) {
        /* Cancelled (by the request's cancel routine or the cleanup sweep) before WSK saw the
         * IRP: a provider is not obliged to look at Irp->Cancel, so the call is not made and
         * the IRP's references go as if it had come back. */
        Operation->FailStatus = STATUS_CANCELLED;
        WskbOperationIrpReturned(Operation);
        goto cleanupCall;
    }
    /* Registered last, right before WSK takes the IRP: the kernel's context is freed only by
     * the completion. Without it the call is not made, as for a cancel. */
    Status = WskbIrpSetCompletion(Session, Irp, WskbOperationIoCompletion, Operation);
    if (!NT_SUCCESS(Status)) {
        Operation->FailStatus = Status;
        WskbOperationIrpReturned(Operation);
        goto cleanupCall;
    }
    /* From here WSK owns the IRP: it completes it, even when it fails at once, unless it
     * ignores it (below). */
    Operation->Called = TRUE;
    Operation->CallStatus = Call(Operation, Irp);
    /* A Wsk* routine that returns anything but STATUS_PENDING has completed its IRP by then, or
     * has ignored it: wsk.h on WskControlSocket, "a required parameter or ignored (and must be
     * NULL), or optional based on the ControlCode". An ignored IRP is never completed, so its
     * completion routine would never drop its references and the request, and EvtFileCleanup
     * behind it, would wait forever. The IRP is treated as never taken: the status is the
     * call's, no output, and the references go here. (A completion, when there is one, runs
     * inside IoCompleteRequest before the non-pending return, so it has set IrpBack by now.) */
    if (Operation->CallStatus != STATUS_PENDING && InterlockedCompareExchange(&Operation->IrpBack, 1, 0) == 0) {
        Operation->IrpStatus = Operation->CallStatus;
        Operation->IrpInformation = 0;
        WskbOperationIrpReturned(Operation);
    }

cleanupCall:
    if (Operation->Socket)
        WskbSocketCallEnd(Operation->Socket);
cleanupSubmit:
    WskbOperationRelease(Operation);
}

_Use_decl_annotations_
static NTSTATUS
WskbOperationIoCompletion(PDEVICE_OBJECT DeviceObject, PIRP Irp, PVOID Context)
{
    WSKB_OPERATION *Operation = Context;

    UNREFERENCED_PARAMETER(DeviceObject);
    /* Already taken back by WskbOperationRun (a non-pending return without completion): not
     * WSK's to complete any more. */
    if (InterlockedCompareExchange(&Operation->IrpBack, 1, 0) != 0)
        return STATUS_MORE_PROCESSING_REQUIRED;
    Operation->IrpStatus = Irp->IoStatus.Status;
    Operation->IrpInformation = Irp->IoStatus.Information;
    WskbOperationIrpReturned(Operation);
    /* The IRP is ours (IoAllocateIrp); it is freed with the operation. */
    return STATUS_MORE_PROCESSING_REQUIRED;
}

_Use_decl_annotations_
static VOID
WskbOperationEvtRequestCancel(WDFREQUEST Request)
{
    WSKB_SESSION *Session = WskbSessionGetContext(WdfRequestGetFileObject(Request));
    WSKB_OPERATION *Operation = NULL;
    PLIST_ENTRY Entry;
    KIRQL OldIrql;

    /* The operation cannot go away while this routine's reference is outstanding, so finding
     * it by its request under the lock is enough. */
    KeAcquireSpinLock(&Session->Lock, &OldIrql);
    for (Entry = Session->Operations.Flink; Entry != &Session->Operations; Entry = Entry->Flink) {
        WSKB_OPERATION *Candidate = CONTAINING_RECORD(Entry, WSKB_OPERATION, Link);
        if (Candidate->Request == Request && Candidate->Cancelable) {
            Operation = Candidate;
            break;
        }
    }
    KeReleaseSpinLock(&Session->Lock, OldIrql);
    NT_ASSERT(Operation);
    if (!Operation)
        return;
    /* IoCancelIrp on an IRP WSK already completed only sets Irp->Cancel: the IRP stays ours
     * until the last reference drops. */
    IoCancelIrp(Operation->Irp);
    WskbOperationRelease(Operation);
}

_Use_decl_annotations_
VOID
WskbOperationCancelAll(WSKB_SESSION *Session)
{
    KIRQL OldIrql;
    PLIST_ENTRY Entry;
    WSKB_OPERATION *Operation;

    /* IoCancelIrp may complete the IRP inline and the completion takes the session lock, so
     * each operation is pinned under the lock and cancelled outside it; the walk restarts
     * after each one because its neighbours may be gone by then. New operations are refused
     * once CleaningUp is set, so this terminates. An operation whose last reference is
     * already gone is being freed and needs nothing. */
    for (;;) {
        Operation = NULL;
        KeAcquireSpinLock(&Session->Lock, &OldIrql);
        for (Entry = Session->Operations.Flink; Entry != &Session->Operations; Entry = Entry->Flink) {
            WSKB_OPERATION *Candidate = CONTAINING_RECORD(Entry, WSKB_OPERATION, Link);
            LONG Refs;
            if (!Candidate->Irp || Candidate->CancelSwept)
                continue;
            Candidate->CancelSwept = TRUE;
            for (Refs = Candidate->RefCount; Refs != 0; Refs = Candidate->RefCount) {
                if (InterlockedCompareExchange(&Candidate->RefCount, Refs + 1, Refs) == Refs) {
                    Operation = Candidate;
                    break;
                }
            }
            if (Operation)
                break;
        }
        KeReleaseSpinLock(&Session->Lock, OldIrql);
        if (!Operation)
            break;
        IoCancelIrp(Operation->Irp);
        WskbOperationRelease(Operation);
    }
}

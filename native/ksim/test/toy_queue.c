/* SPDX-License-Identifier: MIT
 *
 * Toy KMDF driver for ksim's tests: the IOCTL handlers (a second translation unit using the
 * contexts declared in toy.h).
 */
#include "toy.h"

static EVT_WDF_REQUEST_CANCEL ToyEvtRequestCancel;
static KSTART_ROUTINE ToyThread;

VOID
ToyEvtIoCanceledOnQueue(_In_ WDFQUEUE Queue, _In_ WDFREQUEST Request)
{
    UNREFERENCED_PARAMETER(Queue);
    ToyState.CanceledOnQueueIrql = KeGetCurrentIrql();
    InterlockedIncrement(&ToyState.CanceledOnQueueCount);
    WdfRequestComplete(Request, STATUS_CANCELLED);
}

static VOID
ToyEvtRequestCancel(_In_ WDFREQUEST Request)
{
    TOY_DEVICE_CONTEXT *Context = ToyDeviceGetContext(ToyState.Device);
    KIRQL Irql;
    ToyState.CancelRoutineIrql = KeGetCurrentIrql();
    InterlockedIncrement(&ToyState.CancelRoutineCount);
    KeAcquireSpinLock(&Context->Lock, &Irql);
    if (Context->Held == Request)
        Context->Held = NULL;
    KeReleaseSpinLock(&Context->Lock, Irql);
    WdfRequestComplete(Request, STATUS_CANCELLED);
}

typedef struct _TOY_THREAD_WORK {
    volatile LONG Value;
    KEVENT Started;
} TOY_THREAD_WORK;

static VOID
ToyThread(_In_ PVOID StartContext)
{
    TOY_THREAD_WORK *Work = StartContext;
    LARGE_INTEGER Delay;
    PAGED_CODE();
    Delay.QuadPart = -10 * 1000; /* 1 ms */
    KeSetEvent(&Work->Started, IO_NO_INCREMENT, FALSE);
    KeDelayExecutionThread(KernelMode, FALSE, &Delay);
    InterlockedExchange(&Work->Value, (LONG)(KeGetCurrentIrql() == PASSIVE_LEVEL ? 0x5A5A : 1));
    PsTerminateSystemThread(STATUS_SUCCESS);
}

static NTSTATUS
ToyRunThread(_Out_ ULONG *Result)
{
    TOY_THREAD_WORK *Work;
    OBJECT_ATTRIBUTES Attributes;
    HANDLE Handle;
    PVOID Thread;
    NTSTATUS Status;

    Work = ExAllocatePool2(POOL_FLAG_NON_PAGED, sizeof(*Work), TOY_TAG_ALLOC);
    if (!Work)
        return STATUS_INSUFFICIENT_RESOURCES;
    KeInitializeEvent(&Work->Started, NotificationEvent, FALSE);
    InitializeObjectAttributes(&Attributes, NULL, OBJ_KERNEL_HANDLE, NULL, NULL);
    Status = PsCreateSystemThread(&Handle, THREAD_ALL_ACCESS, &Attributes, NULL, NULL, ToyThread, Work);
    if (!NT_SUCCESS(Status))
        goto cleanupWork;
    Status = ObReferenceObjectByHandle(Handle, SYNCHRONIZE, *PsThreadType, KernelMode, &Thread, NULL);
    ZwClose(Handle);
    if (!NT_SUCCESS(Status))
        goto cleanupWork; /* cannot happen for a handle just created */
    KeWaitForSingleObject(&Work->Started, Executive, KernelMode, FALSE, NULL);
    KeWaitForSingleObject(Thread, Executive, KernelMode, FALSE, NULL);
    ObDereferenceObject(Thread);
    *Result = (ULONG)Work->Value;
cleanupWork:
    ExFreePoolWithTag(Work, TOY_TAG_ALLOC);
    return Status;
}

VOID
ToyEvtIoDeviceControl(_In_ WDFQUEUE Queue, _In_ WDFREQUEST Request, _In_ size_t OutputBufferLength,
                      _In_ size_t InputBufferLength, _In_ ULONG IoControlCode)
{
    TOY_DEVICE_CONTEXT *Context = ToyDeviceGetContext(WdfIoQueueGetDevice(Queue));
    PVOID In, Out;
    size_t InLength, OutLength;
    NTSTATUS Status;
    KIRQL Irql;
    WDFREQUEST Other;
    UNREFERENCED_PARAMETER(OutputBufferLength);
    UNREFERENCED_PARAMETER(InputBufferLength);

    switch (IoControlCode) {
    case IOCTL_TOY_ECHO:
    case IOCTL_TOY_ECHO_DIRECT:
        Status = WdfRequestRetrieveInputBuffer(Request, 1, &In, &InLength);
        if (!NT_SUCCESS(Status))
            break;
        Status = WdfRequestRetrieveOutputBuffer(Request, InLength, &Out, &OutLength);
        if (!NT_SUCCESS(Status))
            break;
        if (IoControlCode == IOCTL_TOY_ECHO_DIRECT) {
            PMDL Mdl = NULL;
            Status = WdfRequestRetrieveOutputWdmMdl(Request, &Mdl);
            if (!NT_SUCCESS(Status))
                break;
            ToyState.DirectOutput = Out;
            ToyState.DirectMdlFlags = Mdl->MdlFlags;
            ToyState.DirectMdlMapping = MmGetSystemAddressForMdlSafe(Mdl, NormalPagePriority | MdlMappingNoExecute);
        }
        RtlMoveMemory(Out, In, InLength);
        WdfRequestCompleteWithInformation(Request, STATUS_SUCCESS, InLength);
        return;

    case IOCTL_TOY_PEND:
    case IOCTL_TOY_PEND_NOTIFY:
        Status = WdfRequestRetrieveOutputBuffer(Request, sizeof(ULONG), &Out, NULL);
        if (!NT_SUCCESS(Status))
            break;
        Status = WdfRequestForwardToIoQueue(Request, IoControlCode == IOCTL_TOY_PEND ? Context->PendQueue
                                                                                      : Context->NotifyQueue);
        if (!NT_SUCCESS(Status))
            break;
        return;

    case IOCTL_TOY_FIRE:
        Status = WdfRequestRetrieveInputBuffer(Request, sizeof(ULONG), &In, NULL);
        if (!NT_SUCCESS(Status))
            break;
        Status = WdfIoQueueRetrieveRequestByFileObject(Context->PendQueue, WdfRequestGetFileObject(Request), &Other);
        if (!NT_SUCCESS(Status))
            break;
        Status = WdfRequestRetrieveOutputBuffer(Other, sizeof(ULONG), &Out, NULL);
        if (NT_SUCCESS(Status))
            *(ULONG *)Out = *(ULONG *)In;
        WdfRequestCompleteWithInformation(Other, Status, NT_SUCCESS(Status) ? sizeof(ULONG) : 0);
        break;

    case IOCTL_TOY_REQUEUE:
        Status = WdfIoQueueRetrieveRequestByFileObject(Context->PendQueue, WdfRequestGetFileObject(Request), &Other);
        if (!NT_SUCCESS(Status))
            break;
        Status = WdfRequestRequeue(Other);
        if (!NT_SUCCESS(Status))
            WdfRequestComplete(Other, Status);
        break;

    case IOCTL_TOY_REQUEUE_OWN:
        Status = WdfRequestRequeue(Request);
        break;

    case IOCTL_TOY_HOLD:
    case IOCTL_TOY_HOLD_POLL:
        KeAcquireSpinLock(&Context->Lock, &Irql);
        if (Context->Held) {
            KeReleaseSpinLock(&Context->Lock, Irql);
            Status = STATUS_INVALID_DEVICE_STATE;
            break;
        }
        Status = IoControlCode == IOCTL_TOY_HOLD ? WdfRequestMarkCancelableEx(Request, ToyEvtRequestCancel)
                                                 : STATUS_SUCCESS;
        if (NT_SUCCESS(Status)) {
            Context->Held = Request;
            Context->HeldCancelable = IoControlCode == IOCTL_TOY_HOLD;
        }
        KeReleaseSpinLock(&Context->Lock, Irql);
        if (!NT_SUCCESS(Status))
            break; /* canceled already: complete with STATUS_CANCELLED */
        return;

    case IOCTL_TOY_RELEASE:
        KeAcquireSpinLock(&Context->Lock, &Irql);
        Other = Context->Held;
        Context->Held = NULL;
        if (Other && Context->HeldCancelable && WdfRequestUnmarkCancelable(Other) == STATUS_CANCELLED)
            Other = NULL; /* EvtRequestCancel owns it */
        KeReleaseSpinLock(&Context->Lock, Irql);
        if (Other)
            WdfRequestComplete(Other, WdfRequestIsCanceled(Other) ? STATUS_CANCELLED : STATUS_SUCCESS);
        Status = Other ? STATUS_SUCCESS : STATUS_NOT_FOUND;
        break;

    case IOCTL_TOY_DOUBLE_COMPLETE:
        WdfRequestComplete(Request, STATUS_SUCCESS);
        Status = STATUS_SUCCESS;
        break; /* the second completion */

    case IOCTL_TOY_COMPLETE_QUEUED:
        Status = WdfRequestForwardToIoQueue(Request, Context->PendQueue);
        if (NT_SUCCESS(Status))
            WdfRequestComplete(Request, STATUS_SUCCESS); /* wrong: the queue owns it */
        return;

    case IOCTL_TOY_RETURN_RAISED:
        KeRaiseIrql(DISPATCH_LEVEL, &Irql);
        WdfRequestComplete(Request, STATUS_SUCCESS);
        return; /* wrong: still at DISPATCH_LEVEL */

    case IOCTL_TOY_NEVER:
        return; /* wrong: never completed */

    case IOCTL_TOY_ALLOC:
        In = ExAllocatePool2(POOL_FLAG_NON_PAGED, 128, TOY_TAG_ALLOC);
        if (!In) {
            Status = STATUS_INSUFFICIENT_RESOURCES;
            break;
        }
        ExFreePoolWithTag(In, TOY_TAG_ALLOC);
        Status = STATUS_SUCCESS;
        break;

    case IOCTL_TOY_LEAK:
        Status = ExAllocatePool2(POOL_FLAG_NON_PAGED, 100, TOY_TAG_LEAK) ? STATUS_SUCCESS : STATUS_INSUFFICIENT_RESOURCES;
        break;

    case IOCTL_TOY_IRQL:
        Status = WdfRequestRetrieveOutputBuffer(Request, sizeof(ULONG), &Out, NULL);
        if (!NT_SUCCESS(Status))
            break;
        *(ULONG *)Out = KeGetCurrentIrql();
        WdfRequestCompleteWithInformation(Request, STATUS_SUCCESS, sizeof(ULONG));
        return;

    case IOCTL_TOY_THREAD: {
        ULONG Result = 0;
        Status = WdfRequestRetrieveOutputBuffer(Request, sizeof(ULONG), &Out, NULL);
        if (!NT_SUCCESS(Status))
            break;
        Status = ToyRunThread(&Result);
        if (!NT_SUCCESS(Status))
            break;
        *(ULONG *)Out = Result;
        WdfRequestCompleteWithInformation(Request, STATUS_SUCCESS, sizeof(ULONG));
        return;
    }

    case IOCTL_TOY_REFERENCE:
        /* A driver reference keeps the object (not the request's ownership) past completion. */
        WdfObjectReference(Request);
        WdfRequestComplete(Request, STATUS_TIMEOUT); /* any status the test can recognize */
        ToyState.StatusAfterCompletion = WdfRequestGetStatus(Request);
        WdfObjectDereference(Request);
        return;

    default:
        Status = STATUS_INVALID_DEVICE_REQUEST;
        break;
    }
    WdfRequestComplete(Request, Status);
}

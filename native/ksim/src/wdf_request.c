/* SPDX-License-Identifier: MIT
 *
 * ksim KMDF: I/O queues (parallel and manual) and requests: presentation, forwarding,
 * retrieval, buffers, completion, cancellation (EvtIoCanceledOnQueue or STATUS_CANCELLED for
 * queued requests, EvtRequestCancel for cancelable ones), with KMDF verifier's ownership
 * checks: a request is completed once, never while it sits in a queue, and never while it
 * is still marked cancelable.
 */
#include "wdf_internal.h"

/* ---- queues ---- */

static void QueueCleanup(KSIM_WDF_OBJECT *Object)
{
    KSIM_WDF_QUEUE *Queue = (KSIM_WDF_QUEUE *)Object;
    /* A deleted queue cancels what it still holds (KMDF purges it). */
    for (;;) {
        KSIM_WDF_REQUEST *Request;
        KsimFxLock();
        if (IsListEmpty(&Queue->Requests)) {
            KsimFxUnlock();
            break;
        }
        Request = CONTAINING_RECORD(Queue->Requests.Flink, KSIM_WDF_REQUEST, QueueLink);
        KsimWdfObjectReference(&Request->Header);
        KsimFxUnlock();
        KsimWdfRequestCancel(Request);
        KsimWdfObjectDereference(&Request->Header);
    }
    KsimFxLock();
    RemoveEntryList(&Queue->DeviceLink);
    InitializeListHead(&Queue->DeviceLink);
    if (Queue->Device->DefaultQueue == Queue)
        Queue->Device->DefaultQueue = NULL;
    KsimFxUnlock();
}

NTSTATUS
WdfIoQueueCreate(WDFDEVICE Device, PWDF_IO_QUEUE_CONFIG Config, PWDF_OBJECT_ATTRIBUTES QueueAttributes, WDFQUEUE *Queue)
{
    KSIM_WDF_DEVICE *DeviceObject;
    KSIM_WDF_OBJECT *Object;
    KSIM_WDF_QUEUE *NewQueue;
    NTSTATUS Status;

    if (Queue)
        *Queue = NULL;
    if (!KsimCheckIrql("WdfIoQueueCreate", DISPATCH_LEVEL))
        return STATUS_INVALID_DEVICE_STATE;
    DeviceObject = (KSIM_WDF_DEVICE *)KsimWdfObjectFromHandle(Device, KsimWdfTypeDevice, "WdfIoQueueCreate");
    if (!DeviceObject)
        return STATUS_INVALID_PARAMETER;
    if (Config == NULL || Config->Size != sizeof(WDF_IO_QUEUE_CONFIG)) {
        KsimVerifierFail("WdfIoQueueCreate: invalid WDF_IO_QUEUE_CONFIG (use WDF_IO_QUEUE_CONFIG_INIT)");
        return STATUS_INVALID_PARAMETER;
    }
    if (Config->DispatchType != WdfIoQueueDispatchParallel && Config->DispatchType != WdfIoQueueDispatchManual) {
        KsimVerifierFail("WdfIoQueueCreate: DispatchType %d is not implemented by ksim (parallel and manual queues)",
                         (int)Config->DispatchType);
        return STATUS_NOT_SUPPORTED;
    }
    if (Config->PowerManaged == WdfTrue) {
        /* A control device is not in a power stack; KMDF refuses power-managed queues there. */
        KsimVerifierFail("WdfIoQueueCreate: a control device's queue cannot be power-managed (PowerManaged = WdfFalse)");
        return STATUS_INVALID_PARAMETER;
    }
    if (Config->DispatchType == WdfIoQueueDispatchParallel && Config->EvtIoDefault == NULL &&
        Config->EvtIoDeviceControl == NULL && Config->EvtIoRead == NULL && Config->EvtIoWrite == NULL &&
        Config->EvtIoInternalDeviceControl == NULL) {
        KsimVerifierFail("WdfIoQueueCreate: a parallel queue needs at least one request handler");
        return STATUS_INVALID_PARAMETER;
    }
    if (Config->DispatchType == WdfIoQueueDispatchManual &&
        (Config->EvtIoDefault || Config->EvtIoDeviceControl || Config->EvtIoRead || Config->EvtIoWrite)) {
        KsimVerifierFail("WdfIoQueueCreate: a manual queue has no request handlers");
        return STATUS_INVALID_PARAMETER;
    }
    if (Config->DefaultQueue && DeviceObject->DefaultQueue) {
        KsimVerifierFail("WdfIoQueueCreate: the device already has a default queue");
        return STATUS_INVALID_DEVICE_STATE;
    }
    if (KsimFaultInjectShouldFail("WdfIoQueueCreate"))
        return STATUS_INSUFFICIENT_RESOURCES;
    Status = KsimWdfObjectCreate(KsimWdfTypeQueue, sizeof(KSIM_WDF_QUEUE), QueueAttributes, &DeviceObject->Header,
                                 "WdfIoQueueCreate", &Object);
    if (!NT_SUCCESS(Status))
        return Status;
    NewQueue = (KSIM_WDF_QUEUE *)Object;
    Object->DriverMayDelete = TRUE;
    Object->FrameworkCleanup = QueueCleanup;
    NewQueue->Device = DeviceObject;
    NewQueue->Config = *Config;
    InitializeListHead(&NewQueue->Requests);
    KsimFxLock();
    InsertTailList(&DeviceObject->Queues, &NewQueue->DeviceLink);
    if (Config->DefaultQueue)
        DeviceObject->DefaultQueue = NewQueue;
    KsimFxUnlock();
    if (Queue)
        *Queue = (WDFQUEUE)Object;
    return STATUS_SUCCESS;
}

WDFDEVICE
WdfIoQueueGetDevice(WDFQUEUE Queue)
{
    KSIM_WDF_QUEUE *Object = (KSIM_WDF_QUEUE *)KsimWdfObjectFromHandle(Queue, KsimWdfTypeQueue, "WdfIoQueueGetDevice");
    return Object ? (WDFDEVICE)&Object->Device->Header : NULL;
}

/* Removes the first queued request matching File (any if NULL). FxLock held. */
static KSIM_WDF_REQUEST *QueueRemove(KSIM_WDF_QUEUE *Queue, KSIM_WDF_FILE *File)
{
    PLIST_ENTRY Entry;
    for (Entry = Queue->Requests.Flink; Entry != &Queue->Requests; Entry = Entry->Flink) {
        KSIM_WDF_REQUEST *Request = CONTAINING_RECORD(Entry, KSIM_WDF_REQUEST, QueueLink);
        if (File == NULL || Request->File == File) {
            RemoveEntryList(&Request->QueueLink);
            InitializeListHead(&Request->QueueLink);
            Queue->Queued--;
            Request->State = KsimRequestDriverOwned;
            return Request;
        }
    }
    return NULL;
}

static NTSTATUS QueueRetrieve(WDFQUEUE Queue, WDFFILEOBJECT FileObject, WDFREQUEST *OutRequest, const char *Routine)
{
    KSIM_WDF_QUEUE *Object;
    KSIM_WDF_FILE *File = NULL;
    KSIM_WDF_REQUEST *Request;

    if (OutRequest)
        *OutRequest = NULL;
    if (!KsimCheckIrql(Routine, DISPATCH_LEVEL))
        return STATUS_INVALID_DEVICE_STATE;
    Object = (KSIM_WDF_QUEUE *)KsimWdfObjectFromHandle(Queue, KsimWdfTypeQueue, Routine);
    if (!Object || !OutRequest)
        return STATUS_INVALID_PARAMETER;
    if (FileObject) {
        File = (KSIM_WDF_FILE *)KsimWdfObjectFromHandle(FileObject, KsimWdfTypeFile, Routine);
        if (!File)
            return STATUS_INVALID_PARAMETER;
    }
    if (Object->Config.DispatchType != WdfIoQueueDispatchManual) {
        KsimVerifierFail("%s: requests are retrieved from manual queues only", Routine);
        return STATUS_INVALID_DEVICE_REQUEST;
    }
    KsimFxLock();
    Request = QueueRemove(Object, File);
    KsimFxUnlock();
    if (!Request)
        return STATUS_NO_MORE_ENTRIES;
    *OutRequest = (WDFREQUEST)Request;
    return STATUS_SUCCESS;
}

NTSTATUS
WdfIoQueueRetrieveNextRequest(WDFQUEUE Queue, WDFREQUEST *OutRequest)
{
    return QueueRetrieve(Queue, NULL, OutRequest, "WdfIoQueueRetrieveNextRequest");
}

NTSTATUS
WdfIoQueueRetrieveRequestByFileObject(WDFQUEUE Queue, WDFFILEOBJECT FileObject, WDFREQUEST *OutRequest)
{
    if (FileObject == NULL) {
        KsimVerifierFail("WdfIoQueueRetrieveRequestByFileObject: NULL file object");
        if (OutRequest)
            *OutRequest = NULL;
        return STATUS_INVALID_PARAMETER;
    }
    return QueueRetrieve(Queue, FileObject, OutRequest, "WdfIoQueueRetrieveRequestByFileObject");
}

/* ---- requests ---- */

static volatile uint64_t RequestsLive; /* created and not yet completed (or orphaned) */

uint64_t KsimWdfRequestsLive(void)
{
    return __atomic_load_n(&RequestsLive, __ATOMIC_SEQ_CST);
}

void KsimWdfRequestOrphan(KSIM_WDF_REQUEST *Request)
{
    /* FxLock held. Reported once, by KsimClose: no longer counted as live. */
    Request->Orphaned = TRUE;
    __atomic_sub_fetch(&RequestsLive, 1, __ATOMIC_SEQ_CST);
}

static void RequestDestroy(KSIM_WDF_OBJECT *Object)
{
    KSIM_WDF_REQUEST *Request = (KSIM_WDF_REQUEST *)Object;
    if (Request->OutputMdl)
        KsimMdlUnlockAndFree(Request->OutputMdl);
    if (Request->SystemBufferMdl)
        IoFreeMdl(Request->SystemBufferMdl);
    if (Request->OutputOwned)
        KsimHostBlockFree(Request->OutputBuffer, Request->OutputLength ? Request->OutputLength : 1);
    KsimHostBlockFree(Request->InputBuffer, Request->InputBufferBytes);
    if (Request->File)
        KsimWdfObjectDereference(&Request->File->Header);
}

KSIM_WDF_REQUEST *KsimWdfRequestCreate(KSIM_WDF_DEVICE *Device, KSIM_WDF_FILE *File, WDF_REQUEST_TYPE Type)
{
    KSIM_WDF_OBJECT *Object;
    KSIM_WDF_REQUEST *Request;
    if (!NT_SUCCESS(KsimWdfObjectCreate(KsimWdfTypeRequest, sizeof(KSIM_WDF_REQUEST), NULL, NULL, "request", &Object)))
        return NULL;
    Request = (KSIM_WDF_REQUEST *)Object;
    Object->FrameworkDestroy = RequestDestroy;
    Request->Device = Device;
    Request->File = File;
    Request->Type = Type;
    Request->State = KsimRequestDriverOwned;
    InitializeListHead(&Request->QueueLink);
    InitializeListHead(&Request->FileLink);
    __atomic_add_fetch(&RequestsLive, 1, __ATOMIC_SEQ_CST);
    if (File) {
        KsimWdfObjectReference(&File->Header);
        KsimFxLock();
        InsertTailList(&File->Requests, &Request->FileLink);
        /* KsimClose waits for these; a create request is waited for by KsimOpen itself. */
        if (Type != WdfRequestTypeCreate)
            __atomic_add_fetch(&File->Outstanding, 1, __ATOMIC_SEQ_CST);
        KsimFxUnlock();
    }
    return Request;
}

static KSIM_WDF_REQUEST *RequestFromHandle(WDFREQUEST Handle, const char *Routine)
{
    return (KSIM_WDF_REQUEST *)KsimWdfObjectFromHandle(Handle, KsimWdfTypeRequest, Routine);
}

/* The driver's calls on a request it must own (not queued, not completed). */
static KSIM_WDF_REQUEST *OwnedRequest(WDFREQUEST Handle, const char *Routine)
{
    KSIM_WDF_REQUEST *Request = RequestFromHandle(Handle, Routine);
    KSIM_REQUEST_STATE State;
    if (!Request)
        return NULL;
    KsimFxLock();
    State = Request->State;
    KsimFxUnlock();
    if (State == KsimRequestQueued) {
        KsimVerifierFail("%s: request %p sits in a queue: the framework owns it until it is retrieved", Routine,
                         (void *)Handle);
        return NULL;
    }
    if (State == KsimRequestCompleted) {
        KsimVerifierFail("%s: request %p was already completed", Routine, (void *)Handle);
        return NULL;
    }
    return Request;
}

static void CreateSignal(void *Context)
{
    __atomic_store_n(&((KSIM_WDF_REQUEST *)Context)->CreateDone, 1, __ATOMIC_SEQ_CST);
}

static void RequestDeliver(KSIM_WDF_REQUEST *Request, BOOLEAN Orphaned)
{
    KSIM_WDF_FILE *File = Request->File;
    if (Request->Type == WdfRequestTypeCreate) {
        /* KsimOpen waits for this and holds a reference on the request. */
        KsimWakeAddress(&Request->CreateDone, CreateSignal, Request);
    } else if (!Orphaned && Request->Callback) {
        size_t Copied = 0;
        PUCHAR Output = Request->OutputBuffer;
        if (Request->OutputMdl) {
            /* IopCompleteRequest unlocks the caller's pages before the caller hears of it. */
            KsimMdlUnlockAndFree(Request->OutputMdl);
            Request->OutputMdl = NULL;
        }
        if (!NT_ERROR(Request->Status)) {
            Copied = Request->Information;
            if (Copied > Request->OutputLength)
                Copied = Request->OutputLength;
        }
        if (Request->CallerOutput) {
            /* METHOD_BUFFERED: the I/O manager copies the system buffer back. */
            if (Copied)
                __builtin_memcpy(Request->CallerOutput, Request->OutputBuffer, Copied);
            Output = Request->CallerOutput;
        }
        /* METHOD_xx_DIRECT: the driver wrote into the caller's buffer; Information is reported
         * as the driver set it, and the callback gets the caller's buffer (Copied bytes valid). */
        Request->Callback(Request->CallbackContext, Request->Status, (uint64_t)Request->Information,
                          Copied ? Output : NULL, (uint32_t)Copied);
    }
    /* An orphaned request was already answered and uncounted by KsimClose. */
    if (File && Request->Type != WdfRequestTypeCreate && !Orphaned) {
        __atomic_sub_fetch(&File->Outstanding, 1, __ATOMIC_SEQ_CST);
        KsimWakeAddress(&File->Outstanding, NULL, NULL);
    }
}

static void RequestComplete(KSIM_WDF_REQUEST *Request, NTSTATUS Status, ULONG_PTR Information, BOOLEAN ByDriver,
                            const char *Routine)
{
    BOOLEAN Orphaned;
    KsimFxLock();
    if (ByDriver) {
        if (Request->State == KsimRequestQueued) {
            KsimFxUnlock();
            KsimVerifierFail("%s: request %p sits in a queue and cannot be completed by the driver "
                             "(retrieve it from the queue first)",
                             Routine, (void *)Request);
            return;
        }
        if (Request->State == KsimRequestCompleted) {
            KsimFxUnlock();
            KsimVerifierFail("%s: request %p completed twice", Routine, (void *)Request);
            return;
        }
        if (Request->CancelRoutine) {
            KsimVerifierFail("%s: request %p is still marked cancelable (WdfRequestUnmarkCancelable first)", Routine,
                             (void *)Request);
            Request->CancelRoutine = NULL;
        }
        if (Status == STATUS_PENDING) {
            KsimFxUnlock();
            KsimVerifierFail("%s: request %p completed with STATUS_PENDING", Routine, (void *)Request);
            return;
        }
    }
    if (Request->Type == WdfRequestTypeDeviceControl && !NT_ERROR(Status) && Information > Request->OutputLength) {
        KsimVerifierFail("%s: request %p: Information %llu exceeds the output buffer length %llu", Routine,
                         (void *)Request, (unsigned long long)Information, (unsigned long long)Request->OutputLength);
    }
    Request->State = KsimRequestCompleted;
    if (!Request->Orphaned)
        __atomic_sub_fetch(&RequestsLive, 1, __ATOMIC_SEQ_CST);
    Request->Status = Status;
    Request->Information = Information;
    Orphaned = Request->Orphaned;
    if (!IsListEmpty(&Request->FileLink)) {
        RemoveEntryList(&Request->FileLink);
        InitializeListHead(&Request->FileLink);
    }
    KsimFxUnlock();
    RequestDeliver(Request, Orphaned);
    /* The framework's reference: the handle is invalid from here unless the driver holds one. */
    KsimWdfObjectDelete(&Request->Header);
}

void KsimWdfRequestCompleteByFramework(KSIM_WDF_REQUEST *Request, NTSTATUS Status)
{
    RequestComplete(Request, Status, 0, FALSE, "framework completion");
}

VOID
WdfRequestCompleteWithInformation(WDFREQUEST Request, NTSTATUS Status, ULONG_PTR Information)
{
    KSIM_WDF_REQUEST *Object;
    KsimCheckIrql("WdfRequestComplete", DISPATCH_LEVEL);
    Object = RequestFromHandle(Request, "WdfRequestComplete");
    if (Object)
        RequestComplete(Object, Status, Information, TRUE, "WdfRequestComplete");
}

VOID
WdfRequestComplete(WDFREQUEST Request, NTSTATUS Status)
{
    KSIM_WDF_REQUEST *Object;
    KsimCheckIrql("WdfRequestComplete", DISPATCH_LEVEL);
    Object = RequestFromHandle(Request, "WdfRequestComplete");
    if (Object)
        RequestComplete(Object, Status, Object->Information, TRUE, "WdfRequestComplete");
}

VOID
WdfRequestSetInformation(WDFREQUEST Request, ULONG_PTR Information)
{
    KSIM_WDF_REQUEST *Object = OwnedRequest(Request, "WdfRequestSetInformation");
    if (Object)
        Object->Information = Information;
}

ULONG_PTR
WdfRequestGetInformation(WDFREQUEST Request)
{
    KSIM_WDF_REQUEST *Object = RequestFromHandle(Request, "WdfRequestGetInformation");
    return Object ? Object->Information : 0;
}

NTSTATUS
WdfRequestGetStatus(WDFREQUEST Request)
{
    KSIM_WDF_REQUEST *Object = RequestFromHandle(Request, "WdfRequestGetStatus");
    if (!Object)
        return STATUS_INVALID_PARAMETER;
    return Object->State == KsimRequestCompleted ? Object->Status : STATUS_PENDING;
}

static NTSTATUS RetrieveBuffer(WDFREQUEST Request, size_t MinimumRequiredSize, PVOID *Buffer, size_t *Length,
                               BOOLEAN Output, const char *Routine)
{
    KSIM_WDF_REQUEST *Object;
    size_t Available;
    if (Buffer)
        *Buffer = NULL;
    if (Length)
        *Length = 0;
    KsimCheckIrql(Routine, DISPATCH_LEVEL);
    Object = OwnedRequest(Request, Routine);
    if (!Object)
        return STATUS_INVALID_DEVICE_REQUEST;
    if (Buffer == NULL) {
        KsimVerifierFail("%s: Buffer is required", Routine);
        return STATUS_INVALID_PARAMETER;
    }
    if (Object->Type != WdfRequestTypeDeviceControl)
        return STATUS_INVALID_DEVICE_REQUEST;
    if (METHOD_FROM_CTL_CODE(Object->IoControlCode) == METHOD_NEITHER)
        return STATUS_INVALID_DEVICE_REQUEST;
    Available = Output ? Object->OutputLength : Object->InputLength;
    if (Available == 0 || Available < MinimumRequiredSize)
        return STATUS_BUFFER_TOO_SMALL;
    if (Output && METHOD_FROM_CTL_CODE(Object->IoControlCode) != METHOD_BUFFERED) {
        /* As KMDF does (FxRequest::GetDeviceControlOutputMemoryObject): the system address of
         * Irp->MdlAddress, mapped NormalPagePriority | MdlMappingNoExecute. */
        PVOID Mapped = MmGetSystemAddressForMdlSafe(Object->OutputMdl, NormalPagePriority | MdlMappingNoExecute);
        if (!Mapped)
            return STATUS_INSUFFICIENT_RESOURCES;
        *Buffer = Mapped;
        if (Length)
            *Length = Available;
        return STATUS_SUCCESS;
    }
    *Buffer = Output ? Object->OutputBuffer : Object->InputBuffer;
    if (Length)
        *Length = Available;
    return STATUS_SUCCESS;
}

NTSTATUS
WdfRequestRetrieveInputBuffer(WDFREQUEST Request, size_t MinimumRequiredSize, PVOID *Buffer, size_t *Length)
{
    return RetrieveBuffer(Request, MinimumRequiredSize, Buffer, Length, FALSE, "WdfRequestRetrieveInputBuffer");
}

NTSTATUS
WdfRequestRetrieveOutputBuffer(WDFREQUEST Request, size_t MinimumRequiredSize, PVOID *Buffer, size_t *Length)
{
    return RetrieveBuffer(Request, MinimumRequiredSize, Buffer, Length, TRUE, "WdfRequestRetrieveOutputBuffer");
}

NTSTATUS
WdfRequestRetrieveOutputWdmMdl(WDFREQUEST Request, PMDL *Mdl)
{
    KSIM_WDF_REQUEST *Object;
    const char *Routine = "WdfRequestRetrieveOutputWdmMdl";
    if (Mdl == NULL) {
        KsimVerifierFail("%s: Mdl is required", Routine);
        return STATUS_INVALID_PARAMETER;
    }
    *Mdl = NULL;
    KsimCheckIrql(Routine, DISPATCH_LEVEL);
    Object = OwnedRequest(Request, Routine);
    if (!Object)
        return STATUS_INVALID_DEVICE_REQUEST;
    if (Object->Type != WdfRequestTypeDeviceControl || METHOD_FROM_CTL_CODE(Object->IoControlCode) == METHOD_NEITHER)
        return STATUS_INVALID_DEVICE_REQUEST;
    if (Object->OutputLength == 0)
        return STATUS_BUFFER_TOO_SMALL;
    if (METHOD_FROM_CTL_CODE(Object->IoControlCode) != METHOD_BUFFERED) {
        *Mdl = Object->OutputMdl;
        return STATUS_SUCCESS;
    }
    /* METHOD_BUFFERED: the framework builds an MDL over the system buffer, freed with the request. */
    if (!Object->SystemBufferMdl) {
        Object->SystemBufferMdl = KsimMdlAllocateInternal(Object->OutputBuffer, (ULONG)Object->OutputLength);
        if (!Object->SystemBufferMdl)
            return STATUS_INSUFFICIENT_RESOURCES;
    }
    *Mdl = Object->SystemBufferMdl;
    return STATUS_SUCCESS;
}

WDFFILEOBJECT
WdfRequestGetFileObject(WDFREQUEST Request)
{
    KSIM_WDF_REQUEST *Object = RequestFromHandle(Request, "WdfRequestGetFileObject");
    return Object && Object->File ? (WDFFILEOBJECT)&Object->File->Header : NULL;
}

VOID
WdfRequestGetParameters(WDFREQUEST Request, PWDF_REQUEST_PARAMETERS Parameters)
{
    KSIM_WDF_REQUEST *Object = RequestFromHandle(Request, "WdfRequestGetParameters");
    if (!Object || !Parameters)
        return;
    if (Parameters->Size != sizeof(WDF_REQUEST_PARAMETERS)) {
        KsimVerifierFail("WdfRequestGetParameters: WDF_REQUEST_PARAMETERS.Size is %u (use WDF_REQUEST_PARAMETERS_INIT)",
                         (unsigned)Parameters->Size);
        return;
    }
    RtlZeroMemory(&Parameters->Parameters, sizeof(Parameters->Parameters));
    Parameters->MinorFunction = 0;
    Parameters->Type = Object->Type;
    if (Object->Type == WdfRequestTypeDeviceControl) {
        Parameters->Parameters.DeviceIoControl.OutputBufferLength = Object->OutputLength;
        Parameters->Parameters.DeviceIoControl.InputBufferLength = Object->InputLength;
        Parameters->Parameters.DeviceIoControl.IoControlCode = Object->IoControlCode;
    }
}

/* What forwarding and requeuing both require of a request the driver hands to Queue. */
static NTSTATUS QueueMayTake(KSIM_WDF_QUEUE *Queue, KSIM_WDF_REQUEST *Object, const char *Routine)
{
    if (Object->CancelRoutine) {
        KsimVerifierFail("%s: request %p is marked cancelable (unmark it first)", Routine, (void *)&Object->Header);
        return STATUS_INVALID_DEVICE_REQUEST;
    }
    if (Queue->Header.Deleting)
        return STATUS_INVALID_DEVICE_STATE;
    return STATUS_SUCCESS;
}

/* Into a manual queue, at its tail (a new request) or head (requeued); a request canceled
 * while the driver held it is canceled as soon as it is queued. */
static void QueueInsertManual(KSIM_WDF_QUEUE *Queue, KSIM_WDF_REQUEST *Request, BOOLEAN AtHead)
{
    BOOLEAN Canceled;

    KsimFxLock();
    Request->Queue = Queue;
    if (AtHead)
        InsertHeadList(&Queue->Requests, &Request->QueueLink);
    else
        InsertTailList(&Queue->Requests, &Request->QueueLink);
    Queue->Queued++;
    Request->State = KsimRequestQueued;
    Canceled = Request->Canceled;
    KsimFxUnlock();
    if (Canceled)
        KsimWdfRequestCancel(Request);
}

NTSTATUS
WdfRequestForwardToIoQueue(WDFREQUEST Request, WDFQUEUE DestinationQueue)
{
    KSIM_WDF_REQUEST *Object;
    KSIM_WDF_QUEUE *Queue;
    NTSTATUS Status;
    KsimCheckIrql("WdfRequestForwardToIoQueue", DISPATCH_LEVEL);
    Object = OwnedRequest(Request, "WdfRequestForwardToIoQueue");
    if (!Object)
        return STATUS_INVALID_DEVICE_REQUEST;
    Queue = (KSIM_WDF_QUEUE *)KsimWdfObjectFromHandle(DestinationQueue, KsimWdfTypeQueue, "WdfRequestForwardToIoQueue");
    if (!Queue)
        return STATUS_INVALID_PARAMETER;
    if (Queue->Device != Object->Device) {
        KsimVerifierFail("WdfRequestForwardToIoQueue: the queue belongs to another device");
        return STATUS_INVALID_DEVICE_REQUEST;
    }
    Status = QueueMayTake(Queue, Object, "WdfRequestForwardToIoQueue");
    if (!NT_SUCCESS(Status))
        return Status;
    KsimWdfQueueDispatch(Queue, Object);
    return STATUS_SUCCESS;
}

NTSTATUS
WdfRequestRequeue(WDFREQUEST Request)
{
    KSIM_WDF_REQUEST *Object;
    KSIM_WDF_QUEUE *Queue;
    NTSTATUS Status;

    KsimCheckIrql("WdfRequestRequeue", DISPATCH_LEVEL);
    Object = OwnedRequest(Request, "WdfRequestRequeue");
    if (!Object)
        return STATUS_INVALID_DEVICE_REQUEST;
    Queue = Object->Queue;
    if (!Queue || Queue->Config.DispatchType != WdfIoQueueDispatchManual) {
        KsimVerifierFail("WdfRequestRequeue: request %p was not delivered from a manual queue", (void *)Request);
        return STATUS_INVALID_DEVICE_REQUEST;
    }
    Status = QueueMayTake(Queue, Object, "WdfRequestRequeue");
    if (!NT_SUCCESS(Status))
        return Status;
    /* The head, not the tail: the request keeps its place ahead of any that arrived since. */
    QueueInsertManual(Queue, Object, TRUE);
    return STATUS_SUCCESS;
}

void KsimWdfQueueDispatch(KSIM_WDF_QUEUE *Queue, KSIM_WDF_REQUEST *Request)
{
    WDFQUEUE QueueHandle = (WDFQUEUE)&Queue->Header;
    WDFREQUEST RequestHandle = (WDFREQUEST)&Request->Header;
    KIRQL Irql = KeGetCurrentIrql();

    if (Queue->Config.DispatchType == WdfIoQueueDispatchManual) {
        QueueInsertManual(Queue, Request, FALSE);
        return;
    }
    KsimFxLock();
    Request->Queue = Queue;
    Request->State = KsimRequestDriverOwned;
    KsimFxUnlock();
    if (Request->Type == WdfRequestTypeDeviceControl && Queue->Config.EvtIoDeviceControl) {
        Queue->Config.EvtIoDeviceControl(QueueHandle, RequestHandle, Request->OutputLength, Request->InputLength,
                                         Request->IoControlCode);
        KsimCheckCallbackReturn("EvtIoDeviceControl", Irql);
    } else if (Queue->Config.EvtIoDefault) {
        Queue->Config.EvtIoDefault(QueueHandle, RequestHandle);
        KsimCheckCallbackReturn("EvtIoDefault", Irql);
    } else {
        RequestComplete(Request, STATUS_INVALID_DEVICE_REQUEST, 0, FALSE, "framework");
    }
}

/* ---- cancellation ---- */

NTSTATUS
WdfRequestMarkCancelableEx(WDFREQUEST Request, PFN_WDF_REQUEST_CANCEL EvtRequestCancel)
{
    KSIM_WDF_REQUEST *Object;
    NTSTATUS Status = STATUS_SUCCESS;
    KsimCheckIrql("WdfRequestMarkCancelableEx", DISPATCH_LEVEL);
    Object = OwnedRequest(Request, "WdfRequestMarkCancelableEx");
    if (!Object)
        return STATUS_INVALID_DEVICE_REQUEST;
    if (EvtRequestCancel == NULL) {
        KsimVerifierFail("WdfRequestMarkCancelableEx: EvtRequestCancel is required");
        return STATUS_INVALID_PARAMETER;
    }
    KsimFxLock();
    if (Object->CancelRoutine) {
        KsimFxUnlock();
        KsimVerifierFail("WdfRequestMarkCancelableEx: request %p is already marked cancelable", (void *)Request);
        return STATUS_INVALID_DEVICE_REQUEST;
    }
    if (Object->Canceled)
        Status = STATUS_CANCELLED; /* not marked: the driver completes it */
    else
        Object->CancelRoutine = EvtRequestCancel;
    KsimFxUnlock();
    return Status;
}

NTSTATUS
WdfRequestUnmarkCancelable(WDFREQUEST Request)
{
    KSIM_WDF_REQUEST *Object;
    NTSTATUS Status;
    KsimCheckIrql("WdfRequestUnmarkCancelable", DISPATCH_LEVEL);
    Object = OwnedRequest(Request, "WdfRequestUnmarkCancelable");
    if (!Object)
        return STATUS_INVALID_DEVICE_REQUEST;
    KsimFxLock();
    if (Object->CancelRoutine) {
        Object->CancelRoutine = NULL;
        Status = STATUS_SUCCESS;
    } else if (Object->CancelRoutineCalled) {
        Status = STATUS_CANCELLED; /* EvtRequestCancel has run or runs now: it completes the request */
    } else {
        KsimFxUnlock();
        KsimVerifierFail("WdfRequestUnmarkCancelable: request %p is not marked cancelable", (void *)Request);
        return STATUS_INVALID_DEVICE_REQUEST;
    }
    KsimFxUnlock();
    return Status;
}

BOOLEAN
WdfRequestIsCanceled(WDFREQUEST Request)
{
    KSIM_WDF_REQUEST *Object = RequestFromHandle(Request, "WdfRequestIsCanceled");
    BOOLEAN Canceled;
    if (!Object)
        return FALSE;
    KsimFxLock();
    Canceled = Object->Canceled;
    KsimFxUnlock();
    return Canceled;
}

void KsimWdfRequestCancel(KSIM_WDF_REQUEST *Request)
{
    KSIM_WDF_QUEUE *Queue;
    PFN_WDF_REQUEST_CANCEL Routine;
    KIRQL Irql;

    KsimFxLock();
    if (Request->State == KsimRequestCompleted) {
        KsimFxUnlock();
        return;
    }
    Request->Canceled = TRUE;
    if (Request->State == KsimRequestQueued) {
        Queue = Request->Queue;
        RemoveEntryList(&Request->QueueLink);
        InitializeListHead(&Request->QueueLink);
        Queue->Queued--;
        Request->State = KsimRequestDriverOwned;
        KsimFxUnlock();
        if (Queue->Config.EvtIoCanceledOnQueue) {
            /* The driver owns the request again and completes it. ksim calls the callback at
             * DISPATCH_LEVEL, the highest level KMDF documents for it. */
            KeRaiseIrql(DISPATCH_LEVEL, &Irql);
            Queue->Config.EvtIoCanceledOnQueue((WDFQUEUE)&Queue->Header, (WDFREQUEST)&Request->Header);
            KsimCheckCallbackReturn("EvtIoCanceledOnQueue", DISPATCH_LEVEL);
            KeLowerIrql(Irql);
        } else {
            RequestComplete(Request, STATUS_CANCELLED, 0, FALSE, "framework cancellation");
        }
        return;
    }
    Routine = Request->CancelRoutine;
    if (Routine == NULL) {
        KsimFxUnlock(); /* the driver polls WdfRequestIsCanceled */
        return;
    }
    Request->CancelRoutine = NULL;
    Request->CancelRoutineCalled = TRUE;
    KsimFxUnlock();
    /* IoCancelIrp runs the cancel routine at DISPATCH_LEVEL (cancel spin lock held); KMDF
     * calls EvtRequestCancel from there. */
    KeRaiseIrql(DISPATCH_LEVEL, &Irql);
    Routine((WDFREQUEST)&Request->Header);
    KsimCheckCallbackReturn("EvtRequestCancel", DISPATCH_LEVEL);
    KeLowerIrql(Irql);
}

void KsimWdfFlushQueuesForFile(KSIM_WDF_FILE *File)
{
    KSIM_WDF_DEVICE *Device = File->Device;
    for (;;) {
        KSIM_WDF_REQUEST *Found = NULL;
        PLIST_ENTRY QueueEntry, Entry;
        KsimFxLock();
        for (QueueEntry = Device->Queues.Flink; QueueEntry != &Device->Queues && !Found; QueueEntry = QueueEntry->Flink) {
            KSIM_WDF_QUEUE *Queue = CONTAINING_RECORD(QueueEntry, KSIM_WDF_QUEUE, DeviceLink);
            for (Entry = Queue->Requests.Flink; Entry != &Queue->Requests; Entry = Entry->Flink) {
                KSIM_WDF_REQUEST *Request = CONTAINING_RECORD(Entry, KSIM_WDF_REQUEST, QueueLink);
                if (Request->File == File) {
                    Found = Request;
                    break;
                }
            }
        }
        if (Found)
            KsimWdfObjectReference(&Found->Header);
        KsimFxUnlock();
        if (!Found)
            break;
        KsimWdfRequestCancel(Found);
        KsimWdfObjectDereference(&Found->Header);
    }
}

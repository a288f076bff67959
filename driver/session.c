/* SPDX-License-Identifier: MIT
 *
 * Sessions: one per file handle, each its own WSK client (WskRegister with its own
 * registration block), so that client-wide state such as WSK_SET_STATIC_EVENT_CALLBACKS is
 * scoped to one user-mode handle.
 *
 * EvtDeviceFileCreate: table, WskRegister, WskCaptureProviderNPI (bounded wait).
 * HELLO:               version check, event queue with the chosen budget.
 * EvtFileCleanup:      refuse new work, cancel pended WSK IRPs, close every socket, wait until
 *                      every IOCTL, operation and socket object is gone, release the NPI,
 *                      WskDeregister (which itself waits for anything WSK still holds).
 * EvtFileClose:        free the event queue and the table.
 */
#include "irp.h"

/* How long opening a handle may wait for the WSK provider (it is normally attached long before
 * any user-mode program runs; the wait only matters very early in boot). */
#define WSKB_CAPTURE_TIMEOUT_MS 5000u

/* Source of each session's id tag (WSKB_ID_MAKE); wraps harmlessly. */
static volatile LONG WskbNextSessionTag;

/* No WskClientEvent: none is defined for WSK 1.0, and a NULL routine is what the
 * documentation asks for then. */
static CONST WSK_CLIENT_DISPATCH WskbClientDispatch = { MAKE_WSK_VERSION(1, 0), 0, NULL };

_Use_decl_annotations_
VOID
WskbEvtDeviceFileCreate(WDFDEVICE Device, WDFREQUEST Request, WDFFILEOBJECT FileObject)
{
    NTSTATUS Status;
    WSKB_SESSION *Session = WskbSessionGetContext(FileObject);
    WSK_CLIENT_NPI ClientNpi;

    PAGED_CODE();
    RtlZeroMemory(Session, sizeof(*Session));
    Session->FileObject = FileObject;
    Session->DeviceObject = WdfDeviceWdmGetDeviceObject(Device);
    Session->EventReadQueue = WskbDeviceGetContext(Device)->EventReadQueue;
    KeInitializeSpinLock(&Session->Lock);
    ExInitializeRundownProtection(&Session->Rundown);
    InitializeListHead(&Session->Operations);
    KeInitializeEvent(&Session->CreatingDone, NotificationEvent, FALSE);

    Status = WskbSocketTableInitialize(Session);
    if (!NT_SUCCESS(Status))
        goto cleanup;
    Session->IdTag = (USHORT)InterlockedIncrement(&WskbNextSessionTag);

    ClientNpi.ClientContext = Session;
    ClientNpi.Dispatch = &WskbClientDispatch;
    Status = WskRegister(&ClientNpi, &Session->Registration);
    if (!NT_SUCCESS(Status))
        goto cleanupTable;
    Session->Registered = TRUE;

    Status = WskCaptureProviderNPI(&Session->Registration, WSKB_CAPTURE_TIMEOUT_MS, &Session->Provider);
    if (!NT_SUCCESS(Status))
        goto cleanupRegistration;
    Session->NpiCaptured = TRUE;

    WdfRequestComplete(Request, STATUS_SUCCESS);
    return;

cleanupRegistration:
    WskDeregister(&Session->Registration);
    Session->Registered = FALSE;
cleanupTable:
    WskbSocketTableUninitialize(Session);
cleanup:
    /* A failed create gets neither EvtFileCleanup nor EvtFileClose: nothing may remain. */
    WdfRequestComplete(Request, Status);
}

_Use_decl_annotations_
NTSTATUS
WskbSessionHello(WSKB_SESSION *Session, CONST WSKB_HELLO_IN *In, WSKB_HELLO_OUT *Out)
{
    NTSTATUS Status;
    ULONG Budget;
    WSK_PROVIDER_CHARACTERISTICS Characteristics;
    KIRQL OldIrql;

    PAGED_CODE();
    RtlZeroMemory(Out, sizeof(*Out));
    if (In->Magic != WSKB_MAGIC || In->Reserved)
        return STATUS_INVALID_PARAMETER;
    if (In->ClientVersion != WSKB_PROTOCOL_VERSION)
        return STATUS_REVISION_MISMATCH;
    Budget = In->EventBudgetBytes ? In->EventBudgetBytes : WSKB_EVENT_BUDGET_DEFAULT;
    if (Budget < WSKB_EVENT_BUDGET_MIN || Budget > WSKB_EVENT_BUDGET_MAX)
        return STATUS_INVALID_PARAMETER;

    /* Exactly one HELLO may proceed; a second one, concurrent or later, is a protocol error. */
    KeAcquireSpinLock(&Session->Lock, &OldIrql);
    if (Session->HelloStarted) {
        KeReleaseSpinLock(&Session->Lock, OldIrql);
        return STATUS_INVALID_DEVICE_STATE;
    }
    Session->HelloStarted = TRUE;
    KeReleaseSpinLock(&Session->Lock, OldIrql);

    Status = WskQueryProviderCharacteristics(&Session->Registration, &Characteristics);
    if (!NT_SUCCESS(Status))
        goto cleanupStarted;
    Status = WskbEventsInitialize(Session, Budget);
    if (!NT_SUCCESS(Status))
        goto cleanupStarted;

    KeAcquireSpinLock(&Session->Lock, &OldIrql);
    Session->EventsInitialized = TRUE;
    Session->HelloDone = TRUE;
    KeReleaseSpinLock(&Session->Lock, OldIrql);

    Out->Magic = WSKB_MAGIC;
    Out->DriverVersion = WSKB_PROTOCOL_VERSION;
    Out->EventBudgetBytes = Budget;
    Out->MaxIoBytes = WSKB_MAX_IO_BYTES;
    Out->WskHighestVersion = Characteristics.HighestVersion;
    Out->WskLowestVersion = Characteristics.LowestVersion;
    return STATUS_SUCCESS;

cleanupStarted:
    /* Let the caller retry (e.g. after a transient allocation failure). */
    KeAcquireSpinLock(&Session->Lock, &OldIrql);
    Session->HelloStarted = FALSE;
    KeReleaseSpinLock(&Session->Lock, OldIrql);
    return Status;
}

_Use_decl_annotations_
VOID
WskbEvtFileCleanup(WDFFILEOBJECT FileObject)
{
    WSKB_SESSION *Session = WskbSessionGetContext(FileObject);

    PAGED_CODE();
    /* Sets CleaningUp, cancels pended IRPs, closes every socket (their close IRPs complete on
     * their own). */
    WskbSocketCloseAll(Session);
    /* Every IOCTL still being dispatched, every operation and every socket object holds the
     * rundown: once it drains, no WSK call of this session is in flight or can start. */
    ExWaitForRundownProtectionRelease(&Session->Rundown);
    if (Session->NpiCaptured) {
        WskReleaseProviderNPI(&Session->Registration);
        Session->NpiCaptured = FALSE;
    }
    if (Session->Registered) {
        WskDeregister(&Session->Registration);
        Session->Registered = FALSE;
    }
}

_Use_decl_annotations_
VOID
WskbEvtFileClose(WDFFILEOBJECT FileObject)
{
    WSKB_SESSION *Session = WskbSessionGetContext(FileObject);

    PAGED_CODE();
    /* The framework has cancelled the session's READ_EVENTS still in the manual queue after
     * EvtFileCleanup; nothing of the session runs any more. */
    if (Session->EventsInitialized) {
        WskbEventsUninitialize(Session);
        Session->EventsInitialized = FALSE;
    }
    WskbSocketTableUninitialize(Session);
}

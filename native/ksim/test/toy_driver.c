/* SPDX-License-Identifier: MIT
 *
 * Toy KMDF driver for ksim's tests: DriverEntry, the control device, file callbacks.
 */
#include "toy.h"

TOY_STATE ToyState;

DRIVER_INITIALIZE DriverEntry;
static EVT_WDF_DRIVER_UNLOAD ToyEvtDriverUnload;
static EVT_WDF_OBJECT_CONTEXT_CLEANUP ToyEvtDriverCleanup;
static EVT_WDF_DEVICE_FILE_CREATE ToyEvtDeviceFileCreate;
static EVT_WDF_FILE_CLEANUP ToyEvtFileCleanup;
static EVT_WDF_FILE_CLOSE ToyEvtFileClose;
static EVT_WDF_OBJECT_CONTEXT_CLEANUP ToyEvtFileContextCleanup;
static EVT_WDF_OBJECT_CONTEXT_CLEANUP ToyEvtDeviceCleanup;
static EVT_WDF_OBJECT_CONTEXT_DESTROY ToyEvtDeviceDestroy;

static VOID
ToyEvtDriverUnload(_In_ WDFDRIVER Driver)
{
    UNREFERENCED_PARAMETER(Driver);
    PAGED_CODE();
    ToyState.UnloadSeen = InterlockedIncrement(&ToyState.Sequence);
}

static VOID
ToyEvtDriverCleanup(_In_ WDFOBJECT Object)
{
    UNREFERENCED_PARAMETER(Object);
    ToyState.DriverCleanupSeen = InterlockedIncrement(&ToyState.Sequence);
}

static VOID
ToyEvtDeviceFileCreate(_In_ WDFDEVICE Device, _In_ WDFREQUEST Request, _In_ WDFFILEOBJECT FileObject)
{
    TOY_FILE_CONTEXT *File = ToyFileGetContext(FileObject);
    WDF_REQUEST_PARAMETERS Parameters;
    UNREFERENCED_PARAMETER(Device);
    PAGED_CODE();

    ToyState.CreateSeen = InterlockedIncrement(&ToyState.Sequence);
    WDF_REQUEST_PARAMETERS_INIT(&Parameters);
    WdfRequestGetParameters(Request, &Parameters);
    if (Parameters.Type != WdfRequestTypeCreate || WdfRequestGetFileObject(Request) != FileObject) {
        WdfRequestComplete(Request, STATUS_INVALID_DEVICE_REQUEST);
        return;
    }
    File->Buffer = ExAllocatePool2(POOL_FLAG_NON_PAGED, 64, TOY_TAG_FILE);
    if (!File->Buffer) {
        WdfRequestComplete(Request, STATUS_INSUFFICIENT_RESOURCES);
        return;
    }
    File->Magic = TOY_FILE_MAGIC;
    WdfRequestComplete(Request, ToyState.FailCreate ? STATUS_ACCESS_DENIED : STATUS_SUCCESS);
}

static VOID
ToyEvtFileCleanup(_In_ WDFFILEOBJECT FileObject)
{
    TOY_DEVICE_CONTEXT *Context = ToyDeviceGetContext(WdfFileObjectGetDevice(FileObject));
    WDFREQUEST Held = NULL;
    KIRQL Irql;
    PAGED_CODE();
    ToyState.CleanupSeen = InterlockedIncrement(&ToyState.Sequence);

    /* Requests the driver holds are its own to complete at cleanup (the framework only
     * flushes its queues). */
    KeAcquireSpinLock(&Context->Lock, &Irql);
    if (Context->Held && WdfRequestGetFileObject(Context->Held) == FileObject) {
        if (!Context->HeldCancelable || NT_SUCCESS(WdfRequestUnmarkCancelable(Context->Held)))
            Held = Context->Held;
        Context->Held = NULL;
    }
    KeReleaseSpinLock(&Context->Lock, Irql);
    if (Held)
        WdfRequestComplete(Held, STATUS_FILE_FORCED_CLOSED);
}

static VOID
ToyEvtFileClose(_In_ WDFFILEOBJECT FileObject)
{
    TOY_FILE_CONTEXT *File = ToyFileGetContext(FileObject);
    PAGED_CODE();
    if (File->Magic == TOY_FILE_MAGIC)
        ToyState.CloseSeen = InterlockedIncrement(&ToyState.Sequence);
}

static VOID
ToyEvtFileContextCleanup(_In_ WDFOBJECT Object)
{
    TOY_FILE_CONTEXT *File = ToyFileGetContext(Object);
    ToyState.FileContextCleanupSeen = InterlockedIncrement(&ToyState.Sequence);
    if (File->Buffer) {
        ExFreePoolWithTag(File->Buffer, TOY_TAG_FILE);
        File->Buffer = NULL;
    }
}

static VOID
ToyEvtDeviceCleanup(_In_ WDFOBJECT Object)
{
    /* The context is still there during cleanup and destroy. */
    if (ToyDeviceGetContext(Object)->Held == NULL)
        ToyState.DeviceCleanupSeen = InterlockedIncrement(&ToyState.Sequence);
}

static VOID
ToyEvtDeviceDestroy(_In_ WDFOBJECT Object)
{
    UNREFERENCED_PARAMETER(Object);
    ToyState.DeviceDestroySeen = InterlockedIncrement(&ToyState.Sequence);
}

NTSTATUS
DriverEntry(_In_ PDRIVER_OBJECT DriverObject, _In_ PUNICODE_STRING RegistryPath)
{
    DECLARE_CONST_UNICODE_STRING(DeviceName, TOY_DEVICE_NAME);
    DECLARE_CONST_UNICODE_STRING(LinkName, TOY_LINK_NAME);
    WDF_DRIVER_CONFIG Config;
    WDF_OBJECT_ATTRIBUTES Attributes;
    WDF_FILEOBJECT_CONFIG FileConfig;
    WDF_IO_QUEUE_CONFIG QueueConfig;
    PWDFDEVICE_INIT Init = NULL;
    WDFDRIVER Driver;
    WDFDEVICE Device;
    TOY_DEVICE_CONTEXT *Context;
    NTSTATUS Status;

    WDF_DRIVER_CONFIG_INIT(&Config, WDF_NO_EVENT_CALLBACK);
    Config.DriverInitFlags |= WdfDriverInitNonPnpDriver;
    Config.EvtDriverUnload = ToyEvtDriverUnload;
    WDF_OBJECT_ATTRIBUTES_INIT(&Attributes);
    Attributes.EvtCleanupCallback = ToyEvtDriverCleanup;
    Status = WdfDriverCreate(DriverObject, RegistryPath, &Attributes, &Config, &Driver);
    if (!NT_SUCCESS(Status))
        return Status;

    Init = WdfControlDeviceInitAllocate(Driver, &SDDL_DEVOBJ_SYS_ALL_ADM_ALL);
    if (!Init)
        return STATUS_INSUFFICIENT_RESOURCES;
    Status = WdfDeviceInitAssignName(Init, &DeviceName);
    if (!NT_SUCCESS(Status))
        goto cleanupInit;
    WdfDeviceInitSetIoType(Init, WdfDeviceIoBuffered);
    WdfDeviceInitSetCharacteristics(Init, FILE_DEVICE_SECURE_OPEN, FALSE);
    WDF_FILEOBJECT_CONFIG_INIT(&FileConfig, ToyEvtDeviceFileCreate, ToyEvtFileClose, ToyEvtFileCleanup);
    WDF_OBJECT_ATTRIBUTES_INIT_CONTEXT_TYPE(&Attributes, TOY_FILE_CONTEXT);
    Attributes.EvtCleanupCallback = ToyEvtFileContextCleanup;
    WdfDeviceInitSetFileObjectConfig(Init, &FileConfig, &Attributes);
    WDF_OBJECT_ATTRIBUTES_INIT_CONTEXT_TYPE(&Attributes, TOY_DEVICE_CONTEXT);
    Attributes.EvtCleanupCallback = ToyEvtDeviceCleanup;
    Attributes.EvtDestroyCallback = ToyEvtDeviceDestroy;
    Status = WdfDeviceCreate(&Init, &Attributes, &Device);
    if (!NT_SUCCESS(Status))
        goto cleanupInit;
    Context = ToyDeviceGetContext(Device);
    KeInitializeSpinLock(&Context->Lock);

    WDF_IO_QUEUE_CONFIG_INIT_DEFAULT_QUEUE(&QueueConfig, WdfIoQueueDispatchParallel);
    QueueConfig.PowerManaged = WdfFalse;
    QueueConfig.EvtIoDeviceControl = ToyEvtIoDeviceControl;
    Status = WdfIoQueueCreate(Device, &QueueConfig, WDF_NO_OBJECT_ATTRIBUTES, WDF_NO_HANDLE);
    if (!NT_SUCCESS(Status))
        return Status; /* the framework deletes the device with the driver */
    WDF_IO_QUEUE_CONFIG_INIT(&QueueConfig, WdfIoQueueDispatchManual);
    QueueConfig.PowerManaged = WdfFalse;
    Status = WdfIoQueueCreate(Device, &QueueConfig, WDF_NO_OBJECT_ATTRIBUTES, &Context->PendQueue);
    if (!NT_SUCCESS(Status))
        return Status;
    QueueConfig.EvtIoCanceledOnQueue = ToyEvtIoCanceledOnQueue;
    Status = WdfIoQueueCreate(Device, &QueueConfig, WDF_NO_OBJECT_ATTRIBUTES, &Context->NotifyQueue);
    if (!NT_SUCCESS(Status))
        return Status;
    Status = WdfDeviceCreateSymbolicLink(Device, &LinkName);
    if (!NT_SUCCESS(Status))
        return Status;
    ToyState.Device = Device;
    if (!ToyState.DeferFinishInitializing)
        WdfControlFinishInitializing(Device);
    return STATUS_SUCCESS;

cleanupInit:
    WdfDeviceInitFree(Init);
    return Status;
}

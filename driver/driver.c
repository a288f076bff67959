/* SPDX-License-Identifier: MIT
 *
 * DriverEntry and unload: a non-PnP KMDF driver with one control device, \Device\WskBridge,
 * reachable as \\.\WskBridge by SYSTEM and Administrators only.
 *
 * Queues: the default parallel queue takes every DEVICE_CONTROL (EvtIoDeviceControl, at
 * PASSIVE_LEVEL because closing a socket waits); a manual queue holds pended READ_EVENTS for
 * the event half (inverted call). Neither is power managed: control devices have no power
 * states.
 */
#include "driver.h"
#include "irp.h"
#include <wdmsec.h>

DRIVER_INITIALIZE DriverEntry;
static EVT_WDF_DRIVER_UNLOAD WskbEvtDriverUnload;

_IRQL_requires_(PASSIVE_LEVEL)
_Must_inspect_result_
static NTSTATUS
WskbControlDeviceCreate(_In_ WDFDRIVER Driver)
{
    NTSTATUS Status;
    PWDFDEVICE_INIT DeviceInit;
    WDFDEVICE Device;
    WDF_OBJECT_ATTRIBUTES Attributes;
    WDF_FILEOBJECT_CONFIG FileConfig;
    WDF_IO_QUEUE_CONFIG QueueConfig;
    WSKB_DEVICE_CONTEXT *Context;
    DECLARE_CONST_UNICODE_STRING(DeviceName, WSKB_DEVICE_NAME);
    DECLARE_CONST_UNICODE_STRING(SymbolicName, WSKB_SYMBOLIC_NAME);

    PAGED_CODE();
    DeviceInit = WdfControlDeviceInitAllocate(Driver, &SDDL_DEVOBJ_SYS_ALL_ADM_ALL);
    if (!DeviceInit)
        return STATUS_INSUFFICIENT_RESOURCES;
    Status = WdfDeviceInitAssignName(DeviceInit, &DeviceName);
    if (!NT_SUCCESS(Status))
        goto cleanupInit;
    /* Opening \Device\WskBridge\anything must meet the same security check as the device. */
    WdfDeviceInitSetCharacteristics(DeviceInit, FILE_DEVICE_SECURE_OPEN, FALSE);
    WdfDeviceInitSetIoType(DeviceInit, WdfDeviceIoBuffered);

    WDF_FILEOBJECT_CONFIG_INIT(&FileConfig, WskbEvtDeviceFileCreate, WskbEvtFileClose, WskbEvtFileCleanup);
    WDF_OBJECT_ATTRIBUTES_INIT_CONTEXT_TYPE(&Attributes, WSKB_SESSION);
    WdfDeviceInitSetFileObjectConfig(DeviceInit, &FileConfig, &Attributes);

    WDF_OBJECT_ATTRIBUTES_INIT_CONTEXT_TYPE(&Attributes, WSKB_DEVICE_CONTEXT);
    /* Callbacks of this device and its queues run at PASSIVE_LEVEL: CLOSE waits for the
     * socket's call rundown and cleanup waits for the session to drain. */
    Attributes.ExecutionLevel = WdfExecutionLevelPassive;
    Status = WdfDeviceCreate(&DeviceInit, &Attributes, &Device);
    if (!NT_SUCCESS(Status))
        goto cleanupInit;
    /* WdfDeviceCreate consumed DeviceInit. */
    Context = WskbDeviceGetContext(Device);

    WDF_IO_QUEUE_CONFIG_INIT_DEFAULT_QUEUE(&QueueConfig, WdfIoQueueDispatchParallel);
    QueueConfig.PowerManaged = WdfFalse;
    QueueConfig.EvtIoDeviceControl = WskbEvtIoDeviceControl;
    Status = WdfIoQueueCreate(Device, &QueueConfig, WDF_NO_OBJECT_ATTRIBUTES, WDF_NO_HANDLE);
    if (!NT_SUCCESS(Status))
        goto cleanupDevice;

    WDF_IO_QUEUE_CONFIG_INIT(&QueueConfig, WdfIoQueueDispatchManual);
    QueueConfig.PowerManaged = WdfFalse;
    Status = WdfIoQueueCreate(Device, &QueueConfig, WDF_NO_OBJECT_ATTRIBUTES, &Context->EventReadQueue);
    if (!NT_SUCCESS(Status))
        goto cleanupDevice;

    Status = WdfDeviceCreateSymbolicLink(Device, &SymbolicName);
    if (!NT_SUCCESS(Status))
        goto cleanupDevice;

    /* Requests reach a control device only from here on. */
    WdfControlFinishInitializing(Device);
    return STATUS_SUCCESS;

cleanupDevice:
    WdfObjectDelete(Device);
    return Status;
cleanupInit:
    WdfDeviceInitFree(DeviceInit);
    return Status;
}

_Use_decl_annotations_
NTSTATUS
DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    NTSTATUS Status;
    WDF_DRIVER_CONFIG Config;
    WDFDRIVER Driver;

    WDF_DRIVER_CONFIG_INIT(&Config, WDF_NO_EVENT_CALLBACK);
    Config.DriverInitFlags |= WdfDriverInitNonPnpDriver;
    /* Without EvtDriverUnload a non-PnP KMDF driver cannot be unloaded. */
    Config.EvtDriverUnload = WskbEvtDriverUnload;
    Status = WskbLookasideInitialize();
    if (!NT_SUCCESS(Status))
        return Status;
    Status = WdfDriverCreate(DriverObject, RegistryPath, WDF_NO_OBJECT_ATTRIBUTES, &Config, &Driver);
    if (!NT_SUCCESS(Status))
        goto cleanupLookaside;
    Status = WskbControlDeviceCreate(Driver);
    if (!NT_SUCCESS(Status))
        goto cleanupLookaside;
    return STATUS_SUCCESS;

cleanupLookaside:
    /* EvtDriverUnload is not called after a failed DriverEntry. */
    WskbLookasideUninitialize();
    return Status;
}

_Use_decl_annotations_
static VOID
WskbEvtDriverUnload(WDFDRIVER Driver)
{
    UNREFERENCED_PARAMETER(Driver);
    PAGED_CODE();
    /* Every WSK registration, socket and pool block belongs to a session and is gone once its
     * handle closed (the I/O manager does not unload a driver with open handles), so every
     * operation has gone back to the lookaside list. The framework deletes the control device
     * after this returns. */
    WskbLookasideUninitialize();
}

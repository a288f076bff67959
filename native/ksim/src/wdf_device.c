/* SPDX-License-Identifier: MIT
 *
 * ksim KMDF: the driver object (non-PnP), control device initialization and creation,
 * symbolic links, and the device lookup the I/O manager does for KsimOpen.
 */
#include "wdf_internal.h"

#define KSIM_DEVICE_INIT_MAGIC 0x74696E4976654473ULL

struct WDFDEVICE_INIT {
    uint64_t Magic;
    KSIM_WDF_DRIVER *Driver;
    UNICODE_STRING Name;
    UNICODE_STRING Sddl;
    BOOLEAN Exclusive;
    WDF_DEVICE_IO_TYPE IoType;
    ULONG Characteristics;
    BOOLEAN HasFileConfig;
    BOOLEAN HasFileAttributes;
    WDF_FILEOBJECT_CONFIG FileConfig;
    WDF_OBJECT_ATTRIBUTES FileAttributes;
};

typedef struct _KSIM_SYMBOLIC_LINK {
    LIST_ENTRY Link;
    UNICODE_STRING Name;
    KSIM_WDF_DEVICE *Device;
} KSIM_SYMBOLIC_LINK;

static KSIM_WDF_DRIVER *CurrentDriver;
static LIST_ENTRY Devices = { &Devices, &Devices };
static LIST_ENTRY SymbolicLinks = { &SymbolicLinks, &SymbolicLinks };

KSIM_WDF_DRIVER *KsimWdfCurrentDriver(void)
{
    return CurrentDriver;
}

BOOLEAN KsimWdfDriverCreated(void)
{
    return CurrentDriver != NULL;
}

static NTSTATUS StringCopy(PUNICODE_STRING Destination, PCUNICODE_STRING Source)
{
    PWSTR Buffer;
    if (Source->Length % sizeof(WCHAR) || (Source->Length && Source->Buffer == NULL))
        return STATUS_INVALID_PARAMETER;
    Buffer = KsimHostAlloc((size_t)Source->Length + sizeof(WCHAR));
    if (!Buffer)
        return STATUS_INSUFFICIENT_RESOURCES;
    __builtin_memcpy(Buffer, Source->Buffer, Source->Length);
    Buffer[Source->Length / sizeof(WCHAR)] = L'\0';
    KsimHostFree(Destination->Buffer);
    Destination->Buffer = Buffer;
    Destination->Length = Source->Length;
    Destination->MaximumLength = (USHORT)(Source->Length + sizeof(WCHAR));
    return STATUS_SUCCESS;
}

static void StringFree(PUNICODE_STRING String)
{
    KsimHostFree(String->Buffer);
    String->Buffer = NULL;
    String->Length = String->MaximumLength = 0;
}

/* ---- driver ---- */

static void DriverDestroy(KSIM_WDF_OBJECT *Object)
{
    if (CurrentDriver == (KSIM_WDF_DRIVER *)Object)
        CurrentDriver = NULL;
}

NTSTATUS
WdfDriverCreate(PDRIVER_OBJECT DriverObject, PCUNICODE_STRING RegistryPath, PWDF_OBJECT_ATTRIBUTES DriverAttributes,
                PWDF_DRIVER_CONFIG DriverConfig, WDFDRIVER *Driver)
{
    KSIM_WDF_OBJECT *Object;
    NTSTATUS Status;
    UNREFERENCED_PARAMETER(RegistryPath);

    if (Driver)
        *Driver = NULL;
    if (!KsimCheckIrql("WdfDriverCreate", PASSIVE_LEVEL))
        return STATUS_INVALID_DEVICE_STATE;
    if (DriverObject == NULL || DriverConfig == NULL) {
        KsimVerifierFail("WdfDriverCreate: DriverObject and DriverConfig are required");
        return STATUS_INVALID_PARAMETER;
    }
    if (DriverConfig->Size != sizeof(WDF_DRIVER_CONFIG)) {
        KsimVerifierFail("WdfDriverCreate: WDF_DRIVER_CONFIG.Size is %u (use WDF_DRIVER_CONFIG_INIT)",
                         (unsigned)DriverConfig->Size);
        return STATUS_INVALID_PARAMETER;
    }
    if (CurrentDriver) {
        KsimVerifierFail("WdfDriverCreate called twice");
        return STATUS_INVALID_DEVICE_STATE;
    }
    if (!(DriverConfig->DriverInitFlags & WdfDriverInitNonPnpDriver)) {
        KsimVerifierFail("WdfDriverCreate: ksim runs non-PnP drivers only (set WdfDriverInitNonPnpDriver)");
        return STATUS_NOT_SUPPORTED;
    }
    if (DriverConfig->EvtDriverDeviceAdd != NULL) {
        /* KMDF rejects EvtDriverDeviceAdd for a non-PnP driver. */
        KsimVerifierFail("WdfDriverCreate: a non-PnP driver has no EvtDriverDeviceAdd");
        return STATUS_INVALID_PARAMETER;
    }
    if (KsimFaultInjectShouldFail("WdfDriverCreate"))
        return STATUS_INSUFFICIENT_RESOURCES;
    Status = KsimWdfObjectCreate(KsimWdfTypeDriver, sizeof(KSIM_WDF_DRIVER), DriverAttributes, NULL,
                                 "WdfDriverCreate", &Object);
    if (!NT_SUCCESS(Status))
        return Status;
    Object->FrameworkDestroy = DriverDestroy;
    ((KSIM_WDF_DRIVER *)Object)->WdmDriver = DriverObject;
    ((KSIM_WDF_DRIVER *)Object)->Config = *DriverConfig;
    CurrentDriver = (KSIM_WDF_DRIVER *)Object;
    if (Driver)
        *Driver = (WDFDRIVER)Object;
    return STATUS_SUCCESS;
}

WDFDRIVER
WdfGetDriver(VOID)
{
    return (WDFDRIVER)CurrentDriver;
}

PDRIVER_OBJECT
WdfDriverWdmGetDriverObject(WDFDRIVER Driver)
{
    KSIM_WDF_DRIVER *Object = (KSIM_WDF_DRIVER *)KsimWdfObjectFromHandle(Driver, KsimWdfTypeDriver,
                                                                          "WdfDriverWdmGetDriverObject");
    return Object ? Object->WdmDriver : NULL;
}

/* ---- device init ---- */

static PWDFDEVICE_INIT InitFromPointer(PWDFDEVICE_INIT DeviceInit, const char *Routine)
{
    if (DeviceInit == NULL || DeviceInit->Magic != KSIM_DEVICE_INIT_MAGIC) {
        KsimVerifierFail("%s: %p is not a PWDFDEVICE_INIT from WdfControlDeviceInitAllocate (or it was consumed by "
                         "WdfDeviceCreate)",
                         Routine, (void *)DeviceInit);
        return NULL;
    }
    return DeviceInit;
}

PWDFDEVICE_INIT
WdfControlDeviceInitAllocate(WDFDRIVER Driver, CONST UNICODE_STRING *SDDLString)
{
    KSIM_WDF_DRIVER *Object;
    PWDFDEVICE_INIT Init;
    if (!KsimCheckIrql("WdfControlDeviceInitAllocate", PASSIVE_LEVEL))
        return NULL;
    Object = (KSIM_WDF_DRIVER *)KsimWdfObjectFromHandle(Driver, KsimWdfTypeDriver, "WdfControlDeviceInitAllocate");
    if (!Object)
        return NULL;
    if (SDDLString == NULL || SDDLString->Length == 0) {
        KsimVerifierFail("WdfControlDeviceInitAllocate: an SDDL string is required for a control device");
        return NULL;
    }
    if (KsimFaultInjectShouldFail("WdfControlDeviceInitAllocate"))
        return NULL;
    Init = KsimHostAllocZero(sizeof(*Init));
    if (!Init)
        return NULL;
    Init->Magic = KSIM_DEVICE_INIT_MAGIC;
    Init->Driver = Object;
    Init->IoType = WdfDeviceIoBuffered;
    if (!NT_SUCCESS(StringCopy(&Init->Sddl, SDDLString))) {
        KsimHostFree(Init);
        return NULL;
    }
    return Init;
}

VOID
WdfDeviceInitFree(PWDFDEVICE_INIT DeviceInit)
{
    KsimCheckIrql("WdfDeviceInitFree", PASSIVE_LEVEL);
    if (!InitFromPointer(DeviceInit, "WdfDeviceInitFree"))
        return;
    StringFree(&DeviceInit->Name);
    StringFree(&DeviceInit->Sddl);
    DeviceInit->Magic = 0;
    KsimHostFree(DeviceInit);
}

NTSTATUS
WdfDeviceInitAssignName(PWDFDEVICE_INIT DeviceInit, PCUNICODE_STRING DeviceName)
{
    KsimCheckIrql("WdfDeviceInitAssignName", PASSIVE_LEVEL);
    if (!InitFromPointer(DeviceInit, "WdfDeviceInitAssignName"))
        return STATUS_INVALID_PARAMETER;
    if (DeviceName == NULL) {
        StringFree(&DeviceInit->Name);
        return STATUS_SUCCESS;
    }
    return StringCopy(&DeviceInit->Name, DeviceName);
}

NTSTATUS
WdfDeviceInitAssignSDDLString(PWDFDEVICE_INIT DeviceInit, PCUNICODE_STRING SDDLString)
{
    KsimCheckIrql("WdfDeviceInitAssignSDDLString", PASSIVE_LEVEL);
    if (!InitFromPointer(DeviceInit, "WdfDeviceInitAssignSDDLString"))
        return STATUS_INVALID_PARAMETER;
    if (DeviceInit->Name.Length == 0) {
        /* A descriptor needs a named device object. */
        KsimVerifierFail("WdfDeviceInitAssignSDDLString before WdfDeviceInitAssignName");
        return STATUS_INVALID_DEVICE_REQUEST;
    }
    if (SDDLString == NULL) {
        StringFree(&DeviceInit->Sddl);
        return STATUS_SUCCESS;
    }
    return StringCopy(&DeviceInit->Sddl, SDDLString);
}

VOID
WdfDeviceInitSetExclusive(PWDFDEVICE_INIT DeviceInit, BOOLEAN IsExclusive)
{
    KsimCheckIrql("WdfDeviceInitSetExclusive", PASSIVE_LEVEL);
    if (InitFromPointer(DeviceInit, "WdfDeviceInitSetExclusive"))
        DeviceInit->Exclusive = IsExclusive;
}

VOID
WdfDeviceInitSetIoType(PWDFDEVICE_INIT DeviceInit, WDF_DEVICE_IO_TYPE IoType)
{
    KsimCheckIrql("WdfDeviceInitSetIoType", PASSIVE_LEVEL);
    if (!InitFromPointer(DeviceInit, "WdfDeviceInitSetIoType"))
        return;
    if (IoType <= WdfDeviceIoUndefined || IoType >= WdfDeviceIoMaximum) {
        KsimVerifierFail("WdfDeviceInitSetIoType: invalid WDF_DEVICE_IO_TYPE %d", (int)IoType);
        return;
    }
    DeviceInit->IoType = IoType;
}

VOID
WdfDeviceInitSetCharacteristics(PWDFDEVICE_INIT DeviceInit, ULONG DeviceCharacteristics, BOOLEAN OrInValues)
{
    KsimCheckIrql("WdfDeviceInitSetCharacteristics", PASSIVE_LEVEL);
    if (!InitFromPointer(DeviceInit, "WdfDeviceInitSetCharacteristics"))
        return;
    DeviceInit->Characteristics = OrInValues ? (DeviceInit->Characteristics | DeviceCharacteristics)
                                             : DeviceCharacteristics;
}

VOID
WdfDeviceInitSetFileObjectConfig(PWDFDEVICE_INIT DeviceInit, PWDF_FILEOBJECT_CONFIG FileObjectConfig,
                                 PWDF_OBJECT_ATTRIBUTES FileObjectAttributes)
{
    KsimCheckIrql("WdfDeviceInitSetFileObjectConfig", PASSIVE_LEVEL);
    if (!InitFromPointer(DeviceInit, "WdfDeviceInitSetFileObjectConfig"))
        return;
    if (FileObjectConfig == NULL || FileObjectConfig->Size != sizeof(WDF_FILEOBJECT_CONFIG)) {
        KsimVerifierFail("WdfDeviceInitSetFileObjectConfig: invalid WDF_FILEOBJECT_CONFIG (use WDF_FILEOBJECT_CONFIG_INIT)");
        return;
    }
    if (FileObjectConfig->FileObjectClass != WdfFileObjectWdfCannotUseFsContexts &&
        FileObjectConfig->FileObjectClass != WdfFileObjectWdfCanUseFsContext &&
        FileObjectConfig->FileObjectClass != WdfFileObjectWdfCanUseFsContext2) {
        KsimVerifierFail("WdfDeviceInitSetFileObjectConfig: FileObjectClass %d is not implemented by ksim "
                         "(a control device always has framework file objects)",
                         (int)FileObjectConfig->FileObjectClass);
        return;
    }
    DeviceInit->FileConfig = *FileObjectConfig;
    DeviceInit->HasFileConfig = TRUE;
    if (FileObjectAttributes) {
        if (FileObjectAttributes->Size != sizeof(WDF_OBJECT_ATTRIBUTES)) {
            KsimVerifierFail("WdfDeviceInitSetFileObjectConfig: WDF_OBJECT_ATTRIBUTES.Size is %u",
                             (unsigned)FileObjectAttributes->Size);
            return;
        }
        DeviceInit->FileAttributes = *FileObjectAttributes;
        DeviceInit->HasFileAttributes = TRUE;
    }
}

/* ---- device ---- */

static void DeviceCleanup(KSIM_WDF_OBJECT *Object)
{
    KSIM_WDF_DEVICE *Device = (KSIM_WDF_DEVICE *)Object;
    PLIST_ENTRY Entry;
    KsimGlobalLock();
    for (Entry = SymbolicLinks.Flink; Entry != &SymbolicLinks;) {
        KSIM_SYMBOLIC_LINK *Link = CONTAINING_RECORD(Entry, KSIM_SYMBOLIC_LINK, Link);
        Entry = Entry->Flink;
        if (Link->Device == Device) {
            RemoveEntryList(&Link->Link);
            StringFree(&Link->Name);
            KsimHostFree(Link);
        }
    }
    RemoveEntryList(&Device->Link);
    InitializeListHead(&Device->Link);
    KsimGlobalUnlock();
}

static void DeviceDestroy(KSIM_WDF_OBJECT *Object)
{
    KSIM_WDF_DEVICE *Device = (KSIM_WDF_DEVICE *)Object;
    StringFree(&Device->Name);
    StringFree(&Device->Sddl);
}

NTSTATUS
WdfDeviceCreate(PWDFDEVICE_INIT *DeviceInit, PWDF_OBJECT_ATTRIBUTES DeviceAttributes, WDFDEVICE *Device)
{
    PWDFDEVICE_INIT Init;
    KSIM_WDF_OBJECT *Object;
    KSIM_WDF_DEVICE *NewDevice;
    PLIST_ENTRY Entry;
    NTSTATUS Status;

    if (Device)
        *Device = NULL;
    if (!KsimCheckIrql("WdfDeviceCreate", PASSIVE_LEVEL))
        return STATUS_INVALID_DEVICE_STATE;
    if (DeviceInit == NULL || Device == NULL) {
        KsimVerifierFail("WdfDeviceCreate: DeviceInit and Device are required");
        return STATUS_INVALID_PARAMETER;
    }
    Init = InitFromPointer(*DeviceInit, "WdfDeviceCreate");
    if (!Init)
        return STATUS_INVALID_PARAMETER;
    if (Init->Name.Length) {
        KsimGlobalLock();
        for (Entry = Devices.Flink; Entry != &Devices; Entry = Entry->Flink) {
            KSIM_WDF_DEVICE *Other = CONTAINING_RECORD(Entry, KSIM_WDF_DEVICE, Link);
            if (RtlEqualUnicodeString(&Other->Name, &Init->Name, TRUE)) {
                KsimGlobalUnlock();
                return STATUS_OBJECT_NAME_COLLISION;
            }
        }
        KsimGlobalUnlock();
    }
    if (KsimFaultInjectShouldFail("WdfDeviceCreate"))
        return STATUS_INSUFFICIENT_RESOURCES;
    Status = KsimWdfObjectCreate(KsimWdfTypeDevice, sizeof(KSIM_WDF_DEVICE), DeviceAttributes, &Init->Driver->Header,
                                 "WdfDeviceCreate", &Object);
    if (!NT_SUCCESS(Status))
        return Status;
    NewDevice = (KSIM_WDF_DEVICE *)Object;
    Object->DriverMayDelete = TRUE; /* a control device may be deleted by its driver */
    Object->FrameworkCleanup = DeviceCleanup;
    Object->FrameworkDestroy = DeviceDestroy;
    NewDevice->Name = Init->Name;
    NewDevice->Sddl = Init->Sddl;
    Init->Name.Buffer = Init->Sddl.Buffer = NULL;
    NewDevice->Exclusive = Init->Exclusive;
    NewDevice->IoType = Init->IoType;
    NewDevice->HasFileConfig = Init->HasFileConfig;
    NewDevice->FileConfig = Init->FileConfig;
    NewDevice->HasFileAttributes = Init->HasFileAttributes;
    NewDevice->FileAttributes = Init->FileAttributes;
    NewDevice->Wdm.Type = IO_TYPE_DEVICE;
    NewDevice->Wdm.Size = sizeof(DEVICE_OBJECT);
    NewDevice->Wdm.DriverObject = Init->Driver->WdmDriver;
    NewDevice->Wdm.Characteristics = Init->Characteristics;
    NewDevice->Wdm.DeviceType = FILE_DEVICE_UNKNOWN;
    NewDevice->Wdm.Flags = DO_DEVICE_INITIALIZING | (Init->Exclusive ? DO_EXCLUSIVE : 0) |
                           (Init->IoType == WdfDeviceIoBuffered ? DO_BUFFERED_IO : 0);
    NewDevice->Wdm.StackSize = 1;
    InitializeListHead(&NewDevice->Queues);
    KsimGlobalLock();
    InsertTailList(&Devices, &NewDevice->Link);
    KsimGlobalUnlock();
    Init->Magic = 0;
    KsimHostFree(Init);
    *DeviceInit = NULL;
    *Device = (WDFDEVICE)Object;
    return STATUS_SUCCESS;
}

NTSTATUS
WdfDeviceCreateSymbolicLink(WDFDEVICE Device, PCUNICODE_STRING SymbolicLinkName)
{
    KSIM_WDF_DEVICE *Object;
    KSIM_SYMBOLIC_LINK *Link;
    PLIST_ENTRY Entry;
    NTSTATUS Status;

    if (!KsimCheckIrql("WdfDeviceCreateSymbolicLink", PASSIVE_LEVEL))
        return STATUS_INVALID_DEVICE_STATE;
    Object = (KSIM_WDF_DEVICE *)KsimWdfObjectFromHandle(Device, KsimWdfTypeDevice, "WdfDeviceCreateSymbolicLink");
    if (!Object)
        return STATUS_INVALID_PARAMETER;
    if (SymbolicLinkName == NULL || SymbolicLinkName->Length == 0) {
        KsimVerifierFail("WdfDeviceCreateSymbolicLink: empty name");
        return STATUS_INVALID_PARAMETER;
    }
    if (Object->Name.Length == 0) {
        KsimVerifierFail("WdfDeviceCreateSymbolicLink: the device has no name (WdfDeviceInitAssignName)");
        return STATUS_INVALID_DEVICE_STATE;
    }
    if (KsimFaultInjectShouldFail("WdfDeviceCreateSymbolicLink"))
        return STATUS_INSUFFICIENT_RESOURCES;
    Link = KsimHostAllocZero(sizeof(*Link));
    if (!Link)
        return STATUS_INSUFFICIENT_RESOURCES;
    Status = StringCopy(&Link->Name, SymbolicLinkName);
    if (!NT_SUCCESS(Status)) {
        KsimHostFree(Link);
        return Status;
    }
    Link->Device = Object;
    KsimGlobalLock();
    for (Entry = SymbolicLinks.Flink; Entry != &SymbolicLinks; Entry = Entry->Flink) {
        KSIM_SYMBOLIC_LINK *Other = CONTAINING_RECORD(Entry, KSIM_SYMBOLIC_LINK, Link);
        if (RtlEqualUnicodeString(&Other->Name, &Link->Name, TRUE)) {
            KsimGlobalUnlock();
            StringFree(&Link->Name);
            KsimHostFree(Link);
            return STATUS_OBJECT_NAME_COLLISION;
        }
    }
    InsertTailList(&SymbolicLinks, &Link->Link);
    KsimGlobalUnlock();
    return STATUS_SUCCESS;
}

VOID
WdfControlFinishInitializing(WDFDEVICE Device)
{
    KSIM_WDF_DEVICE *Object;
    KsimCheckIrql("WdfControlFinishInitializing", DISPATCH_LEVEL);
    Object = (KSIM_WDF_DEVICE *)KsimWdfObjectFromHandle(Device, KsimWdfTypeDevice, "WdfControlFinishInitializing");
    if (!Object)
        return;
    KsimFxLock();
    Object->Wdm.Flags &= ~DO_DEVICE_INITIALIZING;
    Object->Initialized = TRUE;
    KsimFxUnlock();
}

WDFDEVICE
WdfFileObjectGetDevice(WDFFILEOBJECT FileObject)
{
    KSIM_WDF_FILE *File = (KSIM_WDF_FILE *)KsimWdfObjectFromHandle(FileObject, KsimWdfTypeFile, "WdfFileObjectGetDevice");
    return File ? (WDFDEVICE)&File->Device->Header : NULL;
}

PDEVICE_OBJECT
WdfDeviceWdmGetDeviceObject(WDFDEVICE Device)
{
    KSIM_WDF_DEVICE *Object = (KSIM_WDF_DEVICE *)KsimWdfObjectFromHandle(Device, KsimWdfTypeDevice,
                                                                          "WdfDeviceWdmGetDeviceObject");
    return Object ? &Object->Wdm : NULL;
}

WDFDRIVER
WdfDeviceGetDriver(WDFDEVICE Device)
{
    KSIM_WDF_DEVICE *Object = (KSIM_WDF_DEVICE *)KsimWdfObjectFromHandle(Device, KsimWdfTypeDevice, "WdfDeviceGetDriver");
    return Object ? (WDFDRIVER)Object->Header.Parent : NULL;
}

/* ---- name resolution for KsimOpen ---- */

static const wchar_t *SkipPrefix(const wchar_t *Text, const wchar_t *Prefix)
{
    while (*Prefix) {
        wchar_t a = *Text, b = *Prefix;
        if (a >= L'a' && a <= L'z')
            a = (wchar_t)(a - (L'a' - L'A'));
        if (b >= L'a' && b <= L'z')
            b = (wchar_t)(b - (L'a' - L'A'));
        if (a != b)
            return NULL;
        ++Text, ++Prefix;
    }
    return Text;
}

/* "\DosDevices\Name", "\??\Name" and "\GLOBAL??\Name" all name the same DOS device. */
static const wchar_t *DosDeviceName(const wchar_t *LinkName)
{
    const wchar_t *Rest;
    if ((Rest = SkipPrefix(LinkName, L"\\DosDevices\\")) || (Rest = SkipPrefix(LinkName, L"\\??\\")) ||
        (Rest = SkipPrefix(LinkName, L"\\GLOBAL??\\")))
        return Rest;
    return NULL;
}

static BOOLEAN SameName(const wchar_t *a, const wchar_t *b)
{
    return SkipPrefix(a, b) != NULL && *SkipPrefix(a, b) == L'\0';
}

KSIM_WDF_DEVICE *KsimWdfLookupDevice(const wchar_t *Path)
{
    const wchar_t *Name;
    PLIST_ENTRY Entry;
    KSIM_WDF_DEVICE *Found = NULL;

    if (Path == NULL)
        return NULL;
    if (!(Name = SkipPrefix(Path, L"\\\\.\\")) && !(Name = SkipPrefix(Path, L"\\\\?\\")) &&
        !(Name = SkipPrefix(Path, L"\\??\\")))
        return NULL;
    KsimGlobalLock();
    for (Entry = SymbolicLinks.Flink; Entry != &SymbolicLinks; Entry = Entry->Flink) {
        KSIM_SYMBOLIC_LINK *Link = CONTAINING_RECORD(Entry, KSIM_SYMBOLIC_LINK, Link);
        const wchar_t *LinkName = DosDeviceName(Link->Name.Buffer);
        if (LinkName && SameName(LinkName, Name)) {
            Found = Link->Device;
            KsimWdfObjectReference(&Found->Header);
            break;
        }
    }
    KsimGlobalUnlock();
    return Found;
}

void KsimWdfDeviceRelease(KSIM_WDF_DEVICE *Device)
{
    KsimWdfObjectDereference(&Device->Header);
}

uint64_t KsimWdfDeviceCount(void)
{
    uint64_t Count = 0;
    PLIST_ENTRY Entry;
    KsimGlobalLock();
    for (Entry = Devices.Flink; Entry != &Devices; Entry = Entry->Flink)
        Count++;
    KsimGlobalUnlock();
    return Count;
}

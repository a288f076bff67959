/* SPDX-License-Identifier: MIT
 *
 * ksim I/O manager: the host-facing API of ksim.h. It loads and unloads the driver (running
 * DriverEntry, EvtDriverUnload and the framework teardown, then the verifier's leak checks),
 * and turns CreateFile / DeviceIoControl / CancelIoEx / CloseHandle into the KMDF file-object
 * callbacks and requests on the control device's queues.
 */
#include "wdf_internal.h"

#define KSIM_DEFAULT_CLOSE_TIMEOUT_MS 10000u

void KsimKeInitialize(void);
void KsimPoolInitialize(void);
void KsimWdfInitialize(void);

static KSIM_HOST_MUTEX *LoadLock;
static LONG LoadReferences;
static BOOLEAN Loaded;
static DRIVER_OBJECT DriverObject;
static WCHAR RegistryPathBuffer[] = L"\\REGISTRY\\MACHINE\\SYSTEM\\CurrentControlSet\\Services\\WskBridge";
static UNICODE_STRING RegistryPath;
static LONG OpenFiles;
/* Unload was requested while handles were open: as on Windows, the driver is marked for
 * unload (new opens fail with STATUS_DELETE_PENDING) and the close of the last handle runs it. */
static BOOLEAN UnloadPending;

void KsimCoreInitialize(void)
{
    KsimKeInitialize();
    KsimPoolInitialize();
    KsimWdfInitialize();
    LoadLock = KsimHostMutexCreate();
    KsimSchedulerInitialize();
}

int32_t KsimSchedulerSelect(const char *Mode, uint64_t Seed)
{
    NTSTATUS Status;
    KsimEnsureInitialized();
    KsimHostMutexLock(LoadLock);
    /* The plug-in runs the network from the first session to the last, and owns the waits of
     * every thread inside ksim: it cannot change under a loaded driver. */
    if (!KsimSchedulerFind(Mode))
        Status = STATUS_INVALID_PARAMETER;
    else if (Loaded)
        Status = STATUS_INVALID_DEVICE_STATE;
    else
        Status = KsimSchedulerSet(Mode, Seed);
    KsimHostMutexUnlock(LoadLock);
    return Status;
}

static uint64_t CloseTimeoutNs(void)
{
    const char *Text = KsimHostGetEnv("KSIM_CLOSE_TIMEOUT_MS");
    uint64_t Milliseconds = 0;
    if (Text) {
        for (; *Text >= '0' && *Text <= '9'; ++Text)
            Milliseconds = Milliseconds * 10 + (uint64_t)(*Text - '0');
    }
    if (Milliseconds == 0)
        Milliseconds = KSIM_DEFAULT_CLOSE_TIMEOUT_MS;
    return Milliseconds * 1000000u;
}

/* The host thread calling into ksim plays a user thread entering the kernel: it must be at
 * PASSIVE_LEVEL (a driver callback that returned at a raised IRQL was reported already). */
static void EnterFromUser(const char *Routine)
{
    KSIM_THREAD *Thread = KsimCurrentThread();
    if (Thread->Irql != PASSIVE_LEVEL) {
        KsimVerifierFail("%s entered at IRQL %u: user-mode requests arrive at PASSIVE_LEVEL (called from a "
                         "completion callback that runs inside the driver?)",
                         Routine, Thread->Irql);
    }
}

/* ---- load / unload ---- */

static void VerifyNothingLeft(const char *When)
{
    uint64_t HostSockets = 0, WskSockets = 0, Threads, Requests;
    KsimLookasideReportLeaks(When);
    KsimPoolReportLeaks(When);
    Requests = KsimWdfRequestsLive();
    if (Requests)
        KsimVerifierFail("%s: %llu WDF request(s) were never completed by the driver", When,
                         (unsigned long long)Requests);
    KsimIrpReportLeaks(When);
    KsimMdlReportLeaks(When);
    Threads = KsimSystemThreadsRunning();
    if (Threads)
        KsimVerifierFail("%s: %llu system thread(s) still running in the driver's code", When,
                         (unsigned long long)Threads);
    KsimWskGetCounters(&HostSockets, &WskSockets);
    if (HostSockets || WskSockets)
        KsimVerifierFail("%s: %llu WSK socket(s) not closed, %llu host socket(s) open", When,
                         (unsigned long long)WskSockets, (unsigned long long)HostSockets);
}

/* The framework's part of unloading: its control devices (and their queues) go, then the
 * driver object, each with their cleanup and destroy callbacks. */
static void FrameworkTeardown(void)
{
    KSIM_WDF_DRIVER *Driver = KsimWdfCurrentDriver();
    if (Driver)
        KsimWdfObjectDelete(&Driver->Header);
}

int32_t KsimDriverLoad(void)
{
    NTSTATUS Status;
    KsimEnsureInitialized();
    EnterFromUser("KsimDriverLoad");
    KsimHostMutexLock(LoadLock);
    if (UnloadPending) {
        /* ksim's choice (docs/ksim-fidelity.md): a driver marked for unload is not started
         * again until the unload has run. */
        KsimHostMutexUnlock(LoadLock);
        return STATUS_DELETE_PENDING;
    }
    if (Loaded) {
        LoadReferences++;
        KsimHostMutexUnlock(LoadLock);
        return STATUS_SUCCESS;
    }
    __builtin_memset(&DriverObject, 0, sizeof(DriverObject));
    DriverObject.Type = IO_TYPE_DRIVER;
    DriverObject.Size = sizeof(DriverObject);
    DriverObject.DriverInit = DriverEntry;
    RtlInitUnicodeString(&RegistryPath, RegistryPathBuffer);
    Status = DriverEntry(&DriverObject, &RegistryPath);
    KsimCheckCallbackReturn("DriverEntry", PASSIVE_LEVEL);
    if (!NT_SUCCESS(Status)) {
        /* KMDF deletes what the failed DriverEntry created; EvtDriverUnload is not called. */
        FrameworkTeardown();
        VerifyNothingLeft("after DriverEntry failed");
        KsimHostMutexUnlock(LoadLock);
        return Status;
    }
    if (!KsimWdfDriverCreated())
        KsimVerifierFail("DriverEntry succeeded without WdfDriverCreate: ksim runs KMDF drivers only");
    Loaded = TRUE;
    LoadReferences = 1;
    KsimHostMutexUnlock(LoadLock);
    return Status;
}

/* With LoadLock held and no handle open: EvtDriverUnload and the framework's teardown; then,
 * once no IoSetCompletionRoutineEx context holds the driver's image (a routine still running
 * on another thread), the image is "unmapped": the leak checks run. */
static void UnloadLocked(void)
{
    KSIM_WDF_DRIVER *Driver = KsimWdfCurrentDriver();
    if (Driver && Driver->Config.EvtDriverUnload) {
        Driver->Config.EvtDriverUnload((WDFDRIVER)&Driver->Header);
        KsimCheckCallbackReturn("EvtDriverUnload", PASSIVE_LEVEL);
    } else if (Driver) {
        KsimVerifierFail("the driver has no EvtDriverUnload: a non-PnP KMDF driver without it cannot be unloaded "
                         "(ksim tears it down anyway)");
    }
    FrameworkTeardown();
    KsimWaitCompletionExDrained();
    VerifyNothingLeft("at driver unload");
    Loaded = FALSE;
    UnloadPending = FALSE;
}

void KsimDriverUnload(void)
{
    LONG Open;
    KsimEnsureInitialized();
    EnterFromUser("KsimDriverUnload");
    KsimHostMutexLock(LoadLock);
    if (!Loaded || LoadReferences == 0) {
        KsimHostMutexUnlock(LoadLock);
        KsimVerifierFail("KsimDriverUnload without a matching KsimDriverLoad");
        return;
    }
    if (--LoadReferences > 0) {
        KsimHostMutexUnlock(LoadLock);
        return;
    }
    Open = __atomic_load_n(&OpenFiles, __ATOMIC_SEQ_CST);
    if (Open > 0) {
        /* Windows does not unload a non-PnP driver whose devices have open handles: the
         * driver is marked for unload and unloaded when the last one closes (KsimClose). */
        UnloadPending = TRUE;
        KsimDebugPrint("ksim: unload deferred: %d handle(s) open\n", (int)Open);
        KsimHostMutexUnlock(LoadLock);
        return;
    }
    UnloadLocked();
    KsimHostMutexUnlock(LoadLock);
}

/* ---- files ---- */

static void FileDestroy(KSIM_WDF_OBJECT *Object)
{
    UNREFERENCED_PARAMETER(Object);
}

static BOOLEAN CreateCompleted(void *Context)
{
    return __atomic_load_n(&((KSIM_WDF_REQUEST *)Context)->CreateDone, __ATOMIC_SEQ_CST) != 0;
}

int32_t KsimOpenOnNetwork(const wchar_t *Path, const char *Network, KSIM_FILE **File)
{
    KSIM_THREAD *Thread;
    int32_t Status;
    int Chosen;

    KsimEnsureInitialized();
    if (!Network || !Network[0])
        return KsimOpen(Path, File);
    if (__builtin_strcmp(Network, "memory") == 0)
        Chosen = KSIM_OPEN_NETWORK_MEMORY;
    else if (__builtin_strcmp(Network, "host") == 0)
        Chosen = KSIM_OPEN_NETWORK_HOST;
    else
        return STATUS_INVALID_PARAMETER;
    /* The create runs on this thread: the session's WskRegister reads the choice here. */
    Thread = KsimCurrentThread();
    Thread->OpenNetwork = Chosen;
    Status = KsimOpen(Path, File);
    Thread->OpenNetwork = 0;
    return Status;
}

int32_t KsimOpen(const wchar_t *Path, KSIM_FILE **OutFile)
{
    KSIM_WDF_DEVICE *Device;
    KSIM_WDF_OBJECT *Object;
    KSIM_WDF_FILE *File;
    KSIM_WDF_REQUEST *Request;
    NTSTATUS Status;

    KsimEnsureInitialized();
    EnterFromUser("KsimOpen");
    if (OutFile == NULL)
        return STATUS_INVALID_PARAMETER;
    *OutFile = NULL;
    KsimHostMutexLock(LoadLock);
    Device = Loaded ? KsimWdfLookupDevice(Path) : NULL;
    if (!Device) {
        KsimHostMutexUnlock(LoadLock);
        return STATUS_OBJECT_NAME_NOT_FOUND;
    }
    if (UnloadPending) {
        /* The I/O manager refuses a create on a device whose driver is marked for unload. */
        KsimWdfDeviceRelease(Device);
        KsimHostMutexUnlock(LoadLock);
        return STATUS_DELETE_PENDING;
    }
    KsimFxLock();
    if (!Device->Initialized || Device->Header.Deleting) {
        KsimFxUnlock();
        KsimWdfDeviceRelease(Device);
        KsimHostMutexUnlock(LoadLock);
        return STATUS_DEVICE_NOT_READY;
    }
    if (Device->Exclusive && Device->OpenFiles > 0) {
        KsimFxUnlock();
        KsimWdfDeviceRelease(Device);
        KsimHostMutexUnlock(LoadLock);
        return STATUS_ACCESS_DENIED;
    }
    Device->OpenFiles++; /* counts the open in progress, so an exclusive device stays exclusive */
    KsimFxUnlock();

    /* The framework's file object: not a fault-injection point (KMDF's own allocation). */
    Status = KsimWdfObjectCreate(KsimWdfTypeFile, sizeof(KSIM_WDF_FILE),
                                 Device->HasFileAttributes ? &Device->FileAttributes : NULL, &Device->Header,
                                 "file object", &Object);
    if (!NT_SUCCESS(Status))
        goto cleanupOpenCount;
    File = (KSIM_WDF_FILE *)Object;
    Object->FrameworkDestroy = FileDestroy;
    File->Device = Device;
    File->Wdm.Type = IO_TYPE_FILE;
    File->Wdm.Size = sizeof(FILE_OBJECT);
    File->Wdm.DeviceObject = &Device->Wdm;
    InitializeListHead(&File->Requests);

    if (Device->HasFileConfig && Device->FileConfig.EvtDeviceFileCreate) {
        Request = KsimWdfRequestCreate(Device, File, WdfRequestTypeCreate);
        if (!Request) {
            Status = STATUS_INSUFFICIENT_RESOURCES;
            goto cleanupFile;
        }
        KsimWdfObjectReference(&Request->Header);
        Device->FileConfig.EvtDeviceFileCreate((WDFDEVICE)&Device->Header, (WDFREQUEST)&Request->Header,
                                               (WDFFILEOBJECT)&File->Header);
        KsimCheckCallbackReturn("EvtDeviceFileCreate", PASSIVE_LEVEL);
        if (!KsimWaitOn(&Request->CreateDone, CreateCompleted, Request, KsimNowNs() + CloseTimeoutNs())) {
            KsimVerifierFail("EvtDeviceFileCreate: the create request was not completed within the timeout; "
                             "KsimOpen waits on");
            KsimWaitOn(&Request->CreateDone, CreateCompleted, Request, UINT64_MAX);
        }
        Status = Request->Status;
        /* The create request also left File->Requests when it completed. */
        KsimWdfObjectDereference(&Request->Header);
        if (!NT_SUCCESS(Status))
            goto cleanupFile;
    } else {
        Status = STATUS_SUCCESS;
    }
    File->Open = TRUE;
    __atomic_add_fetch(&OpenFiles, 1, __ATOMIC_SEQ_CST);
    KsimWdfDeviceRelease(Device);
    KsimHostMutexUnlock(LoadLock);
    *OutFile = (KSIM_FILE *)File;
    return Status;

cleanupFile:
    /* A failed create gets neither EvtFileCleanup nor EvtFileClose; the file object and its
     * context go away. */
    KsimWdfObjectDelete(&File->Header);
cleanupOpenCount:
    KsimFxLock();
    Device->OpenFiles--;
    KsimFxUnlock();
    KsimWdfDeviceRelease(Device);
    KsimHostMutexUnlock(LoadLock);
    return Status;
}

static KSIM_WDF_FILE *FileFromHost(KSIM_FILE *Handle, const char *Routine)
{
    KSIM_WDF_FILE *File = (KSIM_WDF_FILE *)KsimWdfObjectFromHandle((WDFOBJECT)Handle, KsimWdfTypeFile, Routine);
    if (File && !File->Open) {
        KsimVerifierFail("%s: the handle was closed", Routine);
        return NULL;
    }
    return File;
}

static void DeviceIoControl(KSIM_FILE *Handle, uint32_t IoControlCode, const void *Input, uint32_t InputLength,
                            void *CallerOutput, uint32_t OutputLength, KSIM_COMPLETION_CALLBACK *Callback,
                            void *Context);

void KsimDeviceIoControl(KSIM_FILE *Handle, uint32_t IoControlCode, const void *Input, uint32_t InputLength,
                         uint32_t OutputLength, KSIM_COMPLETION_CALLBACK *Callback, void *Context)
{
    DeviceIoControl(Handle, IoControlCode, Input, InputLength, NULL, OutputLength, Callback, Context);
}

void KsimDeviceIoControlEx(KSIM_FILE *Handle, uint32_t IoControlCode, const void *Input, uint32_t InputLength,
                           void *Output, uint32_t OutputLength, KSIM_COMPLETION_CALLBACK *Callback, void *Context)
{
    if (OutputLength && Output == NULL) {
        KsimEnsureInitialized();
        Callback(Context, STATUS_INVALID_PARAMETER, 0, NULL, 0);
        return;
    }
    DeviceIoControl(Handle, IoControlCode, Input, InputLength, OutputLength ? Output : NULL, OutputLength, Callback,
                    Context);
}

static void DeviceIoControl(KSIM_FILE *Handle, uint32_t IoControlCode, const void *Input, uint32_t InputLength,
                            void *CallerOutput, uint32_t OutputLength, KSIM_COMPLETION_CALLBACK *Callback,
                            void *Context)
{
    KSIM_WDF_FILE *File;
    KSIM_WDF_REQUEST *Request;
    KSIM_WDF_QUEUE *Queue;
    KSIM_THREAD *Thread;
    size_t BufferLength;

    KsimEnsureInitialized();
    Thread = KsimCurrentThread();
    EnterFromUser("KsimDeviceIoControl");
    File = FileFromHost(Handle, "KsimDeviceIoControl");
    if (!File || File->Closing) {
        Callback(Context, STATUS_INVALID_HANDLE, 0, NULL, 0);
        return;
    }
    if (InputLength && Input == NULL) {
        Callback(Context, STATUS_INVALID_PARAMETER, 0, NULL, 0);
        return;
    }
    Request = KsimWdfRequestCreate(File->Device, File, WdfRequestTypeDeviceControl);
    if (!Request) {
        Callback(Context, STATUS_INSUFFICIENT_RESOURCES, 0, NULL, 0);
        return;
    }
    Request->IoControlCode = IoControlCode;
    Request->InputLength = InputLength;
    Request->OutputLength = OutputLength;
    Request->Callback = Callback;
    Request->CallbackContext = Context;
    if (METHOD_FROM_CTL_CODE(IoControlCode) == METHOD_BUFFERED) {
        /* One system buffer of max(in, out) bytes, as the I/O manager allocates it. */
        BufferLength = InputLength > OutputLength ? InputLength : OutputLength;
        Request->InputBufferBytes = BufferLength ? BufferLength : 1;
        Request->InputBuffer = KsimHostBlockAlloc(Request->InputBufferBytes, 1);
        Request->OutputBuffer = Request->InputBuffer;
        Request->CallerOutput = CallerOutput;
    } else {
        /* METHOD_IN_DIRECT / METHOD_OUT_DIRECT: the input in a system buffer, the output
         * described by an MDL over the caller's buffer, probed and locked for the request's
         * life (for writing under OUT_DIRECT; IN_DIRECT only lets the device read it). Without
         * a caller buffer (KsimDeviceIoControl), ksim plays one, zero-filled like fresh user
         * memory. No MDL for an empty output: Irp->MdlAddress is NULL then, as on Windows. */
        Request->InputBufferBytes = InputLength ? InputLength : 1;
        Request->InputBuffer = KsimHostBlockAlloc(Request->InputBufferBytes, 1);
        if (CallerOutput) {
            Request->OutputBuffer = CallerOutput;
        } else {
            Request->OutputBuffer = KsimHostBlockAlloc(OutputLength ? OutputLength : 1, 1);
            Request->OutputOwned = Request->OutputBuffer != NULL;
        }
        if (Request->OutputBuffer && OutputLength) {
            Request->OutputMdl = KsimMdlProbeAndLockUser(Request->OutputBuffer, OutputLength,
                                                         METHOD_FROM_CTL_CODE(IoControlCode) == METHOD_OUT_DIRECT);
            if (!Request->OutputMdl) {
                KsimWdfRequestCompleteByFramework(Request, STATUS_INSUFFICIENT_RESOURCES);
                return;
            }
        }
    }
    if (!Request->InputBuffer || !Request->OutputBuffer) {
        KsimWdfRequestCompleteByFramework(Request, STATUS_INSUFFICIENT_RESOURCES);
        return;
    }
    if (InputLength)
        __builtin_memcpy(Request->InputBuffer, Input, InputLength);
    KsimFxLock();
    Queue = File->Device->DefaultQueue;
    if (Queue)
        KsimWdfObjectReference(&Queue->Header);
    KsimFxUnlock();
    if (!Queue) {
        KsimWdfRequestCompleteByFramework(Request, STATUS_INVALID_DEVICE_REQUEST);
        return;
    }
    KsimSwitchPoint(KsimSwitchRequestDispatch);
    Thread->DispatchDepth++;
    KsimWdfQueueDispatch(Queue, Request);
    KsimWdfObjectDereference(&Queue->Header);
    Thread->DispatchDepth--;
    /* Back on the caller's thread at PASSIVE_LEVEL: where Windows runs the DPCs the request
     * queued before the system call returns. */
    KsimScheduler->AfterDispatch();
}

/* Runs Action on each request of File not yet completed, holding a reference on each. */
static void ForEachPendingRequest(KSIM_WDF_FILE *File, void (*Action)(KSIM_WDF_REQUEST *Request))
{
    KSIM_WDF_REQUEST **Snapshot;
    size_t Count = 0, Capacity = 0, i;
    PLIST_ENTRY Entry;

    KsimFxLock();
    for (Entry = File->Requests.Flink; Entry != &File->Requests; Entry = Entry->Flink)
        Capacity++;
    Snapshot = KsimHostAlloc(sizeof(*Snapshot) * (Capacity ? Capacity : 1));
    if (Snapshot) {
        for (Entry = File->Requests.Flink; Entry != &File->Requests; Entry = Entry->Flink) {
            KSIM_WDF_REQUEST *Request = CONTAINING_RECORD(Entry, KSIM_WDF_REQUEST, FileLink);
            KsimWdfObjectReference(&Request->Header);
            Snapshot[Count++] = Request;
        }
    }
    KsimFxUnlock();
    if (!Snapshot) {
        KsimHostWriteStderr("ksim: out of host memory\n");
        KsimHostAbort();
    }
    for (i = 0; i < Count; ++i) {
        Action(Snapshot[i]);
        KsimWdfObjectDereference(&Snapshot[i]->Header);
    }
    KsimHostFree(Snapshot);
}

void KsimCancelIo(KSIM_FILE *Handle)
{
    KSIM_WDF_FILE *File;
    KsimEnsureInitialized();
    EnterFromUser("KsimCancelIo");
    File = FileFromHost(Handle, "KsimCancelIo");
    if (File)
    {
        KSIM_THREAD *Thread = KsimCurrentThread();
        Thread->DispatchDepth++;
        ForEachPendingRequest(File, KsimWdfRequestCancel);
        Thread->DispatchDepth--;
        KsimScheduler->AfterDispatch();
    }
}

static BOOLEAN FileDrained(void *Context)
{
    return __atomic_load_n(&((KSIM_WDF_FILE *)Context)->Outstanding, __ATOMIC_SEQ_CST) == 0;
}

static void OrphanRequest(KSIM_WDF_REQUEST *Request)
{
    KSIM_COMPLETION_CALLBACK *Callback;
    void *Context;
    KSIM_WDF_FILE *File = Request->File;
    BOOLEAN Answer = FALSE;

    KsimFxLock();
    if (Request->State != KsimRequestCompleted && !Request->Orphaned) {
        KsimVerifierFail("KsimClose: request %p (IOCTL 0x%08x) was not completed by the driver after EvtFileCleanup "
                         "(%s); the caller gets STATUS_CANCELLED and the request is abandoned",
                         (void *)Request, (unsigned)Request->IoControlCode,
                         Request->State == KsimRequestQueued ? "still queued" : "held by the driver");
        KsimWdfRequestOrphan(Request);
        Answer = TRUE;
    }
    Callback = Request->Callback;
    Context = Request->CallbackContext;
    KsimFxUnlock();
    if (Answer) {
        if (Callback)
            Callback(Context, STATUS_CANCELLED, 0, NULL, 0);
        __atomic_sub_fetch(&File->Outstanding, 1, __ATOMIC_SEQ_CST);
    }
}

void KsimClose(KSIM_FILE *Handle)
{
    KSIM_WDF_FILE *File;
    KSIM_WDF_DEVICE *Device;
    WDFFILEOBJECT FileHandle;

    KsimEnsureInitialized();
    EnterFromUser("KsimClose");
    File = FileFromHost(Handle, "KsimClose");
    if (!File)
        return;
    KsimFxLock();
    if (File->Closing) {
        KsimFxUnlock();
        KsimVerifierFail("KsimClose: the handle is being closed already");
        return;
    }
    File->Closing = TRUE;
    KsimFxUnlock();
    Device = File->Device;
    FileHandle = (WDFFILEOBJECT)&File->Header;

    if (Device->HasFileConfig && Device->FileConfig.EvtFileCleanup) {
        Device->FileConfig.EvtFileCleanup(FileHandle);
        KsimCheckCallbackReturn("EvtFileCleanup", PASSIVE_LEVEL);
    }
    /* After cleanup, the framework cancels the file's requests still waiting in queues. */
    KsimWdfFlushQueuesForFile(File);
    if (!KsimWaitOn(&File->Outstanding, FileDrained, File, KsimNowNs() + CloseTimeoutNs())) {
        /* Windows would never send IRP_MJ_CLOSE (the handle close hangs in the app's rundown);
         * ksim reports each request and answers the host so that the caller is not stuck. */
        ForEachPendingRequest(File, OrphanRequest);
        KsimWaitOn(&File->Outstanding, FileDrained, File, UINT64_MAX);
    }
    if (Device->HasFileConfig && Device->FileConfig.EvtFileClose) {
        Device->FileConfig.EvtFileClose(FileHandle);
        KsimCheckCallbackReturn("EvtFileClose", PASSIVE_LEVEL);
    }
    KsimFxLock();
    File->Open = FALSE;
    Device->OpenFiles--;
    KsimFxUnlock();
    KsimWdfObjectDelete(&File->Header);
    /* Counted down under the load lock, so that a concurrent KsimDriverUnload either sees this
     * handle open (and defers) or sees it gone (and unloads now), never neither. */
    KsimHostMutexLock(LoadLock);
    if (__atomic_sub_fetch(&OpenFiles, 1, __ATOMIC_SEQ_CST) == 0 && UnloadPending)
        UnloadLocked();
    KsimHostMutexUnlock(LoadLock);
}

/* SPDX-License-Identifier: MIT
 *
 * ksim WSK provider: registration (WskRegister ... WskDeregister), the provider-level
 * dispatch (WskSocket, WskControlClient), IRP bookkeeping (pending, cancel, completion) and
 * the network turns (run by the scheduler plug-in, ksim_sched.h) that make every callback and
 * completion at DISPATCH_LEVEL.
 */
#include "wsk_internal.h"

/* {2227E803-8D8B-11D4-ABAD-009027719E09}: the value public WSK clients define for
 * themselves; Microsoft's headers only declare it (wsk-facts UNCONFIRMED 7). */
CONST NPIID NPI_WSK_INTERFACE_ID = { 0x2227E803, 0x8D8B, 0x11D4, { 0xAB, 0xAD, 0x00, 0x90, 0x27, 0x71, 0x9E, 0x09 } };

KSIM_WSK_PROVIDER KsimWskProvider;
static volatile LONG KsimWskInitState;

/* The registration block's state word, so that a stale or garbage block is recognised. */
#define KSIM_WSK_REG_LIVE 0x4b57534b00000001ULL
#define KSIM_WSK_REG_DEREGISTERING 0x4b57534b00000002ULL
#define KSIM_WSK_REG_DONE 0x4b57534b00000003ULL

static NTSTATUS WSKAPI KsimWskSocket(_In_ PWSK_CLIENT Client, _In_ ADDRESS_FAMILY AddressFamily,
                                     _In_ USHORT SocketType, _In_ ULONG Protocol, _In_ ULONG Flags,
                                     _In_opt_ PVOID SocketContext, _In_opt_ CONST VOID *Dispatch,
                                     _In_opt_ PEPROCESS OwningProcess, _In_opt_ PETHREAD OwningThread,
                                     _In_opt_ PSECURITY_DESCRIPTOR SecurityDescriptor, _Inout_ PIRP Irp);
static NTSTATUS WSKAPI KsimWskSocketConnect(_In_ PWSK_CLIENT Client, _In_ USHORT SocketType, _In_ ULONG Protocol,
                                            _In_ PSOCKADDR LocalAddress, _In_ PSOCKADDR RemoteAddress,
                                            _Reserved_ ULONG Flags, _In_opt_ PVOID SocketContext,
                                            _In_opt_ CONST WSK_CLIENT_CONNECTION_DISPATCH *Dispatch,
                                            _In_opt_ PEPROCESS OwningProcess, _In_opt_ PETHREAD OwningThread,
                                            _In_opt_ PSECURITY_DESCRIPTOR SecurityDescriptor, _Inout_ PIRP Irp);
static NTSTATUS WSKAPI KsimWskControlClient(_In_ PWSK_CLIENT Client, _In_ ULONG ControlCode, _In_ SIZE_T InputSize,
                                            _In_reads_bytes_opt_(InputSize) PVOID InputBuffer, _In_ SIZE_T OutputSize,
                                            _Out_writes_bytes_opt_(OutputSize) PVOID OutputBuffer,
                                            _Out_opt_ SIZE_T *OutputSizeReturned, _Inout_opt_ PIRP Irp);
static NTSTATUS WSKAPI KsimWskGetAddressInfo(_In_ PWSK_CLIENT Client, _In_opt_ PUNICODE_STRING NodeName,
                                             _In_opt_ PUNICODE_STRING ServiceName, _In_opt_ ULONG NameSpace,
                                             _In_opt_ GUID *Provider, _In_opt_ PADDRINFOEXW Hints,
                                             _Outptr_ PADDRINFOEXW *Result, _In_opt_ PEPROCESS OwningProcess,
                                             _In_opt_ PETHREAD OwningThread, _Inout_ PIRP Irp);
static VOID WSKAPI KsimWskFreeAddressInfo(_In_ PWSK_CLIENT Client, _In_ PADDRINFOEXW AddrInfo);
static NTSTATUS WSKAPI KsimWskGetNameInfo(_In_ PWSK_CLIENT Client, _In_ PSOCKADDR SockAddr, _In_ ULONG SockAddrLength,
                                          _Out_opt_ PUNICODE_STRING NodeName, _Out_opt_ PUNICODE_STRING ServiceName,
                                          _In_ ULONG Flags, _In_opt_ PEPROCESS OwningProcess,
                                          _In_opt_ PETHREAD OwningThread, _Inout_ PIRP Irp);

static CONST WSK_PROVIDER_DISPATCH KsimWskProviderDispatch = {
    KSIM_WSK_VERSION,       0, KsimWskSocket, KsimWskSocketConnect, KsimWskControlClient, KsimWskGetAddressInfo,
    KsimWskFreeAddressInfo, KsimWskGetNameInfo,
};

static VOID
KsimWskProviderInitialize(VOID)
{
    LONG State = InterlockedCompareExchange(&KsimWskInitState, 1, 0);
    if (State == 0) {
        KeInitializeSpinLock(&KsimWskProvider.Lock);
        KeInitializeEvent(&KsimWskProvider.Mutex, SynchronizationEvent, TRUE);
        InitializeListHead(&KsimWskProvider.Clients);
        InitializeListHead(&KsimWskProvider.Sockets);
        InitializeListHead(&KsimWskProvider.Requests);
        InitializeListHead(&KsimWskProvider.CancelOwned);
        InitializeListHead(&KsimWskProvider.Dirty);
        InitializeListHead(&KsimWskProvider.Completions);
        InterlockedExchange(&KsimWskInitState, 2);
        return;
    }
    /* Another thread is initialising; it takes microseconds. */
    while (ReadNoFence(&KsimWskInitState) != 2)
        KeMemoryBarrier();
}

/* ---- IRPs and requests ---- */

BOOLEAN
KsimWskIrpTake(_Inout_ PIRP Irp)
{
    /* WSK sets up the next stack location itself (as IoCallDriver would); the client must
     * leave one, i.e. allocate with IoAllocateIrp(1, FALSE) or more. */
    if (Irp->CurrentLocation <= 1) {
        KsimVerifierFail("WSK: IRP %p has no stack location left for the provider", (void *)Irp);
        return FALSE;
    }
    /* The core's provider-side take: moves to the client's stack location, marks the IRP
     * pending and checks that it is not still pending in an earlier call. */
    KsimIrpProviderAccept(Irp);
    return TRUE;
}

NTSTATUS
KsimWskIrpCompleteInline(_Inout_ PIRP Irp, _In_ NTSTATUS Status, _In_ ULONG_PTR Information)
{
    Irp->IoStatus.Status = Status;
    Irp->IoStatus.Information = Information;
    IoCompleteRequest(Irp, IO_NO_INCREMENT);
    return Status;
}

KSIM_WSK_REQUEST *
KsimWskRequestAllocate(_In_ PIRP Irp, _In_opt_ KSIM_WSK_SOCKET *Socket, _In_ ULONG Type)
{
    KSIM_WSK_REQUEST *Request =
        (KSIM_WSK_REQUEST *)ExAllocatePool2(POOL_FLAG_NON_PAGED, sizeof(*Request), KSIM_WSK_TAG_REQUEST);
    if (!Request)
        return NULL;
    InitializeListHead(&Request->AllLink);
    InitializeListHead(&Request->Link);
    Request->Irp = Irp;
    Request->Socket = Socket;
    Request->Type = Type;
    return Request;
}

VOID
KsimWskRequestFree(_In_ KSIM_WSK_REQUEST *Request)
{
    ExFreePoolWithTag(Request, KSIM_WSK_TAG_REQUEST);
}

static DRIVER_CANCEL KsimWskCancelRoutine;

VOID
KsimWskRequestQueue(_Inout_ KSIM_WSK_REQUEST *Request, _Inout_ PLIST_ENTRY Queue)
{
    IoMarkIrpPending(Request->Irp);
    InsertTailList(Queue, &Request->Link);
    InsertTailList(&KsimWskProvider.Requests, &Request->AllLink);
    Request->Cancelable = TRUE;
    IoSetCancelRoutine(Request->Irp, KsimWskCancelRoutine);
    /* Canceled before the routine was armed: IoCancelIrp found no routine to call. */
    if (Request->Irp->Cancel && IoSetCancelRoutine(Request->Irp, NULL) != NULL) {
        Request->Cancelable = FALSE;
        RemoveEntryList(&Request->AllLink);
        InitializeListHead(&Request->AllLink);
        KsimWskRequestFinish(Request, STATUS_CANCELLED, 0);
    }
}

BOOLEAN
KsimWskRequestClaim(_Inout_ KSIM_WSK_REQUEST *Request)
{
    if (!Request->Cancelable)
        return TRUE;
    Request->Cancelable = FALSE;
    RemoveEntryList(&Request->AllLink);
    InitializeListHead(&Request->AllLink);
    if (IoSetCancelRoutine(Request->Irp, NULL) != NULL)
        return TRUE;
    /* IoCancelIrp took the routine first: the cancel routine completes this IRP. Park the
     * request where it will look, detached from the socket. */
    RemoveEntryList(&Request->Link);
    InitializeListHead(&Request->Link);
    Request->Socket = NULL;
    InsertTailList(&KsimWskProvider.CancelOwned, &Request->AllLink);
    return FALSE;
}

VOID
KsimWskRequestRearm(_Inout_ KSIM_WSK_REQUEST *Request)
{
    if (Request->Cancelable)
        return;
    InsertTailList(&KsimWskProvider.Requests, &Request->AllLink);
    Request->Cancelable = TRUE;
    IoSetCancelRoutine(Request->Irp, KsimWskCancelRoutine);
    /* Canceled while it was claimed: IoCancelIrp found no routine to call, so it is ours. */
    if (Request->Irp->Cancel && IoSetCancelRoutine(Request->Irp, NULL) != NULL) {
        Request->Cancelable = FALSE;
        RemoveEntryList(&Request->AllLink);
        InitializeListHead(&Request->AllLink);
        KsimWskRequestFinish(Request, STATUS_CANCELLED, 0);
    }
}

VOID
KsimWskRequestFinish(_Inout_ KSIM_WSK_REQUEST *Request, _In_ NTSTATUS Status, _In_ ULONG_PTR Information)
{
    if (!KsimWskRequestClaim(Request))
        return;
    RemoveEntryList(&Request->Link);
    Request->Status = Status;
    Request->Information = Information;
    InsertTailList(&KsimWskProvider.Completions, &Request->Link);
}

NTSTATUS
KsimWskRequestCompleteLater(_Inout_ KSIM_WSK_REQUEST *Request, _In_ NTSTATUS Status, _In_ ULONG_PTR Information)
{
    KIRQL OldIrql;
    IoMarkIrpPending(Request->Irp);
    KsimWskLock(&OldIrql);
    Request->Status = Status;
    Request->Information = Information;
    InsertTailList(&KsimWskProvider.Completions, &Request->Link);
    KsimWskUnlock(OldIrql);
    KsimWskWake();
    return STATUS_PENDING;
}

static VOID
KsimWskCancelRoutine(_Inout_ PDEVICE_OBJECT DeviceObject, _Inout_ PIRP Irp)
{
    KIRQL OldIrql;
    PLIST_ENTRY Entry;
    KSIM_WSK_REQUEST *Found = NULL;

    UNREFERENCED_PARAMETER(DeviceObject);
    IoReleaseCancelSpinLock(Irp->CancelIrql);

    KsimWskLock(&OldIrql);
    for (Entry = KsimWskProvider.Requests.Flink; !Found && Entry != &KsimWskProvider.Requests; Entry = Entry->Flink) {
        KSIM_WSK_REQUEST *Request = CONTAINING_RECORD(Entry, KSIM_WSK_REQUEST, AllLink);
        if (Request->Irp == Irp)
            Found = Request;
    }
    for (Entry = KsimWskProvider.CancelOwned.Flink; !Found && Entry != &KsimWskProvider.CancelOwned;
         Entry = Entry->Flink) {
        KSIM_WSK_REQUEST *Request = CONTAINING_RECORD(Entry, KSIM_WSK_REQUEST, AllLink);
        if (Request->Irp == Irp)
            Found = Request;
    }
    if (!Found) {
        KsimWskUnlock(OldIrql);
        KsimVerifierFail("WSK: cancel routine called for IRP %p that the provider does not hold", (void *)Irp);
        return;
    }
    Found->Cancelable = FALSE;
    RemoveEntryList(&Found->AllLink);
    InitializeListHead(&Found->AllLink);
    RemoveEntryList(&Found->Link);
    if (Found->Socket)
        KsimWskMarkDirty(Found->Socket); /* its queues changed: poll interest may too */
    Found->Status = STATUS_CANCELLED;
    Found->Information = 0;
    InsertTailList(&KsimWskProvider.Completions, &Found->Link);
    KsimWskUnlock(OldIrql);
    KsimWskWake();
}

VOID
KsimWskMarkDirty(_Inout_ KSIM_WSK_SOCKET *Socket)
{
    if (Socket->Dirty || !Socket->Client)
        return;
    Socket->Dirty = TRUE;
    InsertTailList(&KsimWskProvider.Dirty, &Socket->DirtyLink);
}

VOID
KsimWskWake(VOID)
{
    if (KsimWskProvider.Poller || KsimWskProvider.MemoryPoller)
        KsimScheduler->NetworkKick();
}

/* ---- sockets ---- */

KSIM_WSK_SOCKET *
KsimWskSocketAllocate(_In_ KSIM_WSK_CLIENT *Client, _In_ ULONG Kind, _In_ USHORT Family, _In_ USHORT Type,
                      _In_ ULONG Protocol, _In_opt_ PVOID Context, _In_opt_ CONST VOID *Dispatch)
{
    KSIM_WSK_SOCKET *Socket =
        (KSIM_WSK_SOCKET *)ExAllocatePool2(POOL_FLAG_NON_PAGED, sizeof(*Socket), KSIM_WSK_TAG_SOCKET);
    ULONG Valid;

    if (!Socket)
        return NULL;
    /* Preallocated so that WskCloseSocket can never fail for want of memory (ECHO relies on
     * close never failing). */
    Socket->CloseRequest = KsimWskRequestAllocate(NULL, Socket, KsimWskRequestClose);
    if (!Socket->CloseRequest) {
        ExFreePoolWithTag(Socket, KSIM_WSK_TAG_SOCKET);
        return NULL;
    }
    Socket->Handle = (KSIM_WSK_HANDLE *)KsimHostAllocZero(sizeof(KSIM_WSK_HANDLE));
    if (!Socket->Handle) {
        KsimWskRequestFree(Socket->CloseRequest);
        ExFreePoolWithTag(Socket, KSIM_WSK_TAG_SOCKET);
        return NULL;
    }
    Socket->Handle->Magic = KSIM_WSK_HANDLE_MAGIC;
    Socket->Handle->Impl = Socket;
    Socket->Object.Type = KSIM_WSK_OBJECT_SOCKET;
    Socket->Magic = KSIM_WSK_SOCKET_MAGIC;
    Socket->Client = Client;
    Socket->Kind = Kind;
    Socket->Family = Family;
    Socket->Type = Type;
    Socket->Protocol = Protocol;
    Socket->Context = Context;
    Socket->Dispatch = Dispatch;
    Socket->Host = HOST_NET_INVALID_SOCKET;
    Socket->MayRead = TRUE; /* until a read finds the host socket drained */
    InitializeListHead(&Socket->DirtyLink);
    InitializeListHead(&Socket->DisableWaiters);
    InitializeListHead(&Socket->ConnectQueue);
    InitializeListHead(&Socket->AcceptQueue);
    InitializeListHead(&Socket->SendQueue);
    InitializeListHead(&Socket->ReceiveQueue);
    InitializeListHead(&Socket->HeldDatagrams);
    InitializeListHead(&Socket->Retained);
    InitializeListHead(&Socket->Incoming);
    switch (Kind) {
    case WSK_FLAG_LISTEN_SOCKET:
        Socket->Handle->Socket.Dispatch = &KsimWskListenDispatch;
        Valid = KSIM_WSK_LISTEN_EVENTS;
        break;
    case WSK_FLAG_CONNECTION_SOCKET:
        Socket->Handle->Socket.Dispatch = &KsimWskConnectionDispatch;
        Valid = KSIM_WSK_CONNECTION_EVENTS;
        break;
    case WSK_FLAG_DATAGRAM_SOCKET:
        Socket->Handle->Socket.Dispatch = &KsimWskDatagramDispatch;
        Valid = KSIM_WSK_DATAGRAM_EVENTS;
        break;
    default:
        Socket->Handle->Socket.Dispatch = &KsimWskBasicDispatch;
        Valid = 0;
        break;
    }
    /* Static events apply to every new socket by category (wsk-facts 3.2). On a listener the
     * connection events among them are the inherited set. */
    Socket->StaticEvents = Client->StaticEvents & Valid;
    if (Kind == WSK_FLAG_LISTEN_SOCKET) {
        Socket->InheritEvents = Socket->StaticEvents & KSIM_WSK_CONNECTION_EVENTS;
        Socket->Events = Socket->StaticEvents & WSK_EVENT_ACCEPT;
    } else {
        Socket->Events = Socket->StaticEvents;
    }
    Client->OpenSockets++;
    Client->AnySocket = TRUE;
    InsertTailList(&KsimWskProvider.Sockets, &Socket->Link);
    InterlockedIncrement64(&KsimWskProvider.WskSockets);
    return Socket;
}

VOID
KsimWskSocketFree(_In_ KSIM_WSK_SOCKET *Socket)
{
    KIRQL OldIrql;
    KSIM_WSK_CLIENT *Client;
    KSIM_WSK_HANDLE *Oldest = NULL;

    KsimWskLock(&OldIrql);
    RemoveEntryList(&Socket->Link);
    if (Socket->Dirty) {
        RemoveEntryList(&Socket->DirtyLink);
        Socket->Dirty = FALSE;
    }
    Client = Socket->Client;
    Socket->Client = NULL;
    Socket->Magic = KSIM_WSK_DEAD_MAGIC;
    /* The handle stays in quarantine, pointing nowhere. */
    Socket->Handle->Impl = NULL;
    if (KsimWskProvider.RetiredTail)
        KsimWskProvider.RetiredTail->NextRetired = Socket->Handle;
    else
        KsimWskProvider.RetiredHead = Socket->Handle;
    KsimWskProvider.RetiredTail = Socket->Handle;
    if (++KsimWskProvider.RetiredCount > KSIM_WSK_QUARANTINE) {
        Oldest = KsimWskProvider.RetiredHead;
        KsimWskProvider.RetiredHead = Oldest->NextRetired;
        KsimWskProvider.RetiredCount--;
    }
    if (Client) {
        Client->OpenSockets--;
        if (Client->Deregistering && !Client->OpenSockets && !Client->Captures)
            KeSetEvent(&Client->Idle, IO_NO_INCREMENT, FALSE);
    }
    if (Socket->AcceptStalled)
        KsimWskProvider.StalledListeners--;
    /* A descriptor came back: listeners that ran out may accept again. */
    if (KsimWskProvider.StalledListeners) {
        PLIST_ENTRY Entry;
        for (Entry = KsimWskProvider.Sockets.Flink; Entry != &KsimWskProvider.Sockets; Entry = Entry->Flink) {
            KSIM_WSK_SOCKET *Listener = CONTAINING_RECORD(Entry, KSIM_WSK_SOCKET, Link);
            if (Listener->AcceptStalled) {
                Listener->AcceptStalled = FALSE;
                KsimWskProvider.StalledListeners--;
                KsimWskMarkDirty(Listener);
            }
        }
        KsimWskWake();
    }
    KsimWskUnlock(OldIrql);
    InterlockedDecrement64(&KsimWskProvider.WskSockets);
    /* Still here only when the socket never reached WskCloseSocket (an accepted socket the
     * client refused, or one that failed to be handed over). */
    if (Socket->CloseRequest)
        KsimWskRequestFree(Socket->CloseRequest);
    ExFreePoolWithTag(Socket, KSIM_WSK_TAG_SOCKET);
    if (Oldest) {
        Oldest->Magic = KSIM_WSK_DEAD_MAGIC;
        KsimHostFree(Oldest);
    }
}

KSIM_WSK_SOCKET *
KsimWskSocketFromClient(_In_opt_ PWSK_SOCKET WskSocket, _In_z_ PCSTR Routine)
{
    KSIM_WSK_HANDLE *Handle = (KSIM_WSK_HANDLE *)WskSocket;
    KSIM_WSK_SOCKET *Socket;
    (VOID) KsimCheckIrql(Routine, DISPATCH_LEVEL);
    if (!Handle) {
        KsimVerifierFail("%s: the socket is NULL", Routine);
        return NULL;
    }
    if (Handle->Magic != KSIM_WSK_HANDLE_MAGIC) {
        KsimVerifierFail("%s: %p is not a WSK socket", Routine, (void *)WskSocket);
        return NULL;
    }
    Socket = (KSIM_WSK_SOCKET *)ReadNoFence(&Handle->Impl);
    if (!Socket) {
        KsimVerifierFail("%s: called on socket %p after WskCloseSocket (its close has completed)", Routine,
                         (void *)WskSocket);
        return NULL;
    }
    if (ReadNoFence(&Socket->State) & KSIM_WSK_S_CLOSING) {
        KsimVerifierFail("%s: called on socket %p after WskCloseSocket", Routine, (void *)WskSocket);
        return NULL;
    }
    return Socket;
}

/* ---- the network ---- */

static VOID
KsimWskDrainCompletions(VOID)
{
    LIST_ENTRY Local;
    KIRQL OldIrql;

    InitializeListHead(&Local);
    KsimWskLock(&OldIrql);
    while (!IsListEmpty(&KsimWskProvider.Completions))
        InsertTailList(&Local, RemoveHeadList(&KsimWskProvider.Completions));
    KsimWskUnlock(OldIrql);

    while (!IsListEmpty(&Local)) {
        KSIM_WSK_REQUEST *Request = CONTAINING_RECORD(RemoveHeadList(&Local), KSIM_WSK_REQUEST, Link);
        PIRP Irp = Request->Irp;
        ULONG Type = Request->Type;
        KSIM_WSK_SOCKET *Socket = Request->Socket;
        NTSTATUS Status = Request->Status;
        ULONG_PTR Information = Request->Information;

        KsimWskRequestFree(Request);
        /* A close request without an IRP only carries a socket the client never saw. */
        if (Irp) {
            Irp->IoStatus.Status = Status;
            Irp->IoStatus.Information = Information;
            KeRaiseIrql(DISPATCH_LEVEL, &OldIrql);
            IoCompleteRequest(Irp, IO_NETWORK_INCREMENT);
            KeLowerIrql(OldIrql);
        }
        /* ECHO's rule: once the close IRP has completed nothing is outstanding, so the socket
         * memory goes now. */
        if (Type == KsimWskRequestClose && Socket)
            KsimWskSocketFree(Socket);
    }
}

static BOOLEAN
KsimWskRunDirty(VOID)
{
    KIRQL OldIrql;
    ULONG Budget = 256;
    BOOLEAN More;

    KsimWskLock(&OldIrql);
    while (Budget-- && !IsListEmpty(&KsimWskProvider.Dirty)) {
        KSIM_WSK_SOCKET *Socket = CONTAINING_RECORD(RemoveHeadList(&KsimWskProvider.Dirty), KSIM_WSK_SOCKET, DirtyLink);
        InitializeListHead(&Socket->DirtyLink);
        Socket->Dirty = FALSE;
        KsimWskSocketStep(Socket, &OldIrql);
    }
    More = !IsListEmpty(&KsimWskProvider.Dirty) || !IsListEmpty(&KsimWskProvider.Completions);
    KsimWskUnlock(OldIrql);
    return More;
}

/* One turn of the network (KSIM_NETWORK_TURN, ksim_sched.h). The scheduler plug-in decides
 * which thread runs it and guarantees that no two turns overlap. The host's reports come first,
 * so that the sockets they concern are stepped in the same turn. */
static BOOLEAN
KsimWskNetworkTurn(_In_ int TimeoutMs)
{
    HOST_NET_POLL_EVENT Events[64];
    BOOLEAN More;
    int Count = 0, i;
    KIRQL OldIrql;

    if (TimeoutMs != KSIM_NETWORK_NO_POLL) {
        /* The in-memory network's readiness is computed, never waited for: its changes kick the
         * scheduler instead (KsimWskMemoryWake). */
        if (KsimWskProvider.MemoryPoller)
            Count = HostNetMemPollerCollect(KsimWskProvider.MemoryPoller, Events, 64,
                                            KsimWskTurnRotate ? KsimWskTurnRotate() : 0);
        if (KsimWskProvider.Poller) {
            int Host;
            KsimWskLock(&OldIrql);
            /* Work already queued (or ready in memory) does not wait behind the poller. */
            if (Count || !IsListEmpty(&KsimWskProvider.Dirty) || !IsListEmpty(&KsimWskProvider.Completions))
                TimeoutMs = 0;
            KsimWskUnlock(OldIrql);
            Host = HostNetPollerWait(KsimWskProvider.Poller, Events + Count, 64 - Count, TimeoutMs);
            if (Host > 0)
                Count += Host;
        }
        if (Count > 0) {
            KsimWskLock(&OldIrql);
            for (i = 0; i < Count; i++)
                KsimWskPollReport(Events[i].Context, Events[i].Events);
            KsimWskUnlock(OldIrql);
        }
    }
    KsimWskDrainCompletions();
    More = KsimWskRunDirty();
    KsimWskDrainCompletions();
    /* A full batch of reports: the pollers may hold more. */
    return More || Count == 64;
}

static VOID
KsimWskNetworkInterrupt(VOID)
{
    if (KsimWskProvider.Poller)
        HostNetPollerWake(KsimWskProvider.Poller);
}

static BOOLEAN
KsimWskNetworkWaitReady(_In_ int TimeoutMs)
{
    return HostNetPollerWaitReady(KsimWskProvider.Poller, TimeoutMs) > 0;
}

static KSIM_NETWORK KsimWskNetwork = { KsimWskNetworkTurn, KsimWskNetworkInterrupt, KsimWskNetworkWaitReady, -1 };

/* A socket of the in-memory network changed (any thread, its lock held): a turn is due. */
static void
KsimWskMemoryWake(void *Context)
{
    UNREFERENCED_PARAMETER(Context);
    KsimScheduler->NetworkKick();
}

_IRQL_requires_(PASSIVE_LEVEL)
static NTSTATUS
KsimWskNetworkStart(VOID)
{
    NTSTATUS Status;
    int Error;

    /* The deterministic scheduler has no host network at all: no descriptor, no clock. */
    if (!KsimSchedulerIsDeterministic()) {
        Error = HostNetPollerCreate(&KsimWskProvider.Poller);
        if (Error != HOST_NET_OK)
            return KsimWskStatusFromHost(Error);
        KsimWskNetwork.PollDescriptor = HostNetPollerDescriptor(KsimWskProvider.Poller);
        KsimWskNetwork.WaitReady = KsimWskNetworkWaitReady;
    } else {
        KsimWskNetwork.PollDescriptor = -1;
        KsimWskNetwork.WaitReady = NULL;
    }
    Error = HostNetMemPollerCreate(&KsimWskProvider.MemoryPoller, KsimWskMemoryWake, NULL);
    if (Error != HOST_NET_OK) {
        Status = KsimWskStatusFromHost(Error);
        goto cleanupPoller;
    }
    Status = KsimScheduler->NetworkStart(&KsimWskNetwork);
    if (!NT_SUCCESS(Status))
        goto cleanupMemoryPoller;
    KsimWskProvider.Running = TRUE;
    return STATUS_SUCCESS;

cleanupMemoryPoller:
    HostNetMemPollerDestroy(KsimWskProvider.MemoryPoller);
    KsimWskProvider.MemoryPoller = NULL;
cleanupPoller:
    if (KsimWskProvider.Poller)
        HostNetPollerDestroy(KsimWskProvider.Poller);
    KsimWskProvider.Poller = NULL;
    return Status;
}

_IRQL_requires_(PASSIVE_LEVEL)
static VOID
KsimWskNetworkStop(VOID)
{
    KsimScheduler->NetworkStop();
    /* No turn runs any more: what is left to complete is completed here. */
    KsimWskDrainCompletions();
    HostNetMemPollerDestroy(KsimWskProvider.MemoryPoller);
    KsimWskProvider.MemoryPoller = NULL;
    if (KsimWskProvider.Poller)
        HostNetPollerDestroy(KsimWskProvider.Poller);
    KsimWskProvider.Poller = NULL;
    KsimWskNetwork.PollDescriptor = -1;
    KsimWskProvider.Running = FALSE;
}

/* ---- registration ---- */

static KSIM_WSK_CLIENT *
KsimWskClientFromRegistration(_In_ PWSK_REGISTRATION Registration, _In_ ULONGLONG State)
{
    KSIM_WSK_CLIENT *Client;
    if (!Registration || Registration->ReservedRegistrationState != State)
        return NULL;
    Client = (KSIM_WSK_CLIENT *)Registration->ReservedRegistrationContext;
    if (!Client || Client->Magic != KSIM_WSK_CLIENT_MAGIC || Client->Registration != Registration)
        return NULL;
    return Client;
}

NTSTATUS
WskRegister(_In_ PWSK_CLIENT_NPI WskClientNpi, _Out_ PWSK_REGISTRATION WskRegistration)
{
    KSIM_WSK_CLIENT *Client;
    KIRQL OldIrql;
    NTSTATUS Status = STATUS_SUCCESS;
    PLIST_ENTRY Entry;

    if (KeGetCurrentIrql() != PASSIVE_LEVEL)
        KsimVerifierFail("WskRegister called at IRQL %u (PASSIVE_LEVEL required)", KeGetCurrentIrql());
    if (!WskClientNpi || !WskClientNpi->Dispatch || !WskRegistration)
        return STATUS_INVALID_PARAMETER;
    KsimWskProviderInitialize();

    Client = (KSIM_WSK_CLIENT *)ExAllocatePool2(POOL_FLAG_NON_PAGED, sizeof(*Client), KSIM_WSK_TAG_CLIENT);
    if (!Client)
        return STATUS_INSUFFICIENT_RESOURCES;
    Client->Magic = KSIM_WSK_CLIENT_MAGIC;
    Client->Npi = *WskClientNpi;
    Client->Registration = WskRegistration;
    Client->Memory = KsimNetClientWantsMemory();
    KeInitializeEvent(&Client->Idle, NotificationEvent, FALSE);
    InitializeListHead(&Client->TransportWaiters);

    KeWaitForSingleObject(&KsimWskProvider.Mutex, Executive, KernelMode, FALSE, NULL);
    KsimWskLock(&OldIrql);
    for (Entry = KsimWskProvider.Clients.Flink; Entry != &KsimWskProvider.Clients; Entry = Entry->Flink) {
        if (CONTAINING_RECORD(Entry, KSIM_WSK_CLIENT, Link)->Registration == WskRegistration) {
            Status = STATUS_INVALID_PARAMETER;
            break;
        }
    }
    KsimWskUnlock(OldIrql);
    if (!NT_SUCCESS(Status)) {
        KsimVerifierFail("WskRegister: registration block %p is already registered", (void *)WskRegistration);
        goto cleanupMutex;
    }
    if (!KsimWskProvider.Running) {
        Status = KsimWskNetworkStart();
        if (!NT_SUCCESS(Status))
            goto cleanupMutex;
    }
    KsimWskLock(&OldIrql);
    InsertTailList(&KsimWskProvider.Clients, &Client->Link);
    KsimWskProvider.ClientCount++;
    KsimWskUnlock(OldIrql);
    KeSetEvent(&KsimWskProvider.Mutex, IO_NO_INCREMENT, FALSE);

    WskRegistration->ReservedRegistrationContext = Client;
    KeInitializeSpinLock(&WskRegistration->ReservedRegistrationLock);
    WskRegistration->ReservedRegistrationState = KSIM_WSK_REG_LIVE;
    return STATUS_SUCCESS;

cleanupMutex:
    KeSetEvent(&KsimWskProvider.Mutex, IO_NO_INCREMENT, FALSE);
    ExFreePoolWithTag(Client, KSIM_WSK_TAG_CLIENT);
    return Status;
}

NTSTATUS
WskCaptureProviderNPI(_In_ PWSK_REGISTRATION WskRegistration, _In_ ULONG WaitTimeout,
                      _Out_ PWSK_PROVIDER_NPI WskProviderNpi)
{
    KSIM_WSK_CLIENT *Client;
    KIRQL OldIrql;
    USHORT Version;

    if (WaitTimeout != WSK_NO_WAIT && KeGetCurrentIrql() != PASSIVE_LEVEL)
        KsimVerifierFail("WskCaptureProviderNPI with a wait at IRQL %u (PASSIVE_LEVEL required)",
                         KeGetCurrentIrql());
    if (!WskProviderNpi)
        return STATUS_INVALID_PARAMETER;
    if (ReadNoFence(&KsimWskInitState) != 2)
        return STATUS_DEVICE_NOT_READY;
    /* The simulated provider is available from the first WskRegister, so a wait never
     * blocks; after WskDeregister every capture fails at once, as documented. */
    KsimWskLock(&OldIrql);
    Client = KsimWskClientFromRegistration(WskRegistration, KSIM_WSK_REG_LIVE);
    if (!Client || Client->Deregistering) {
        KsimWskUnlock(OldIrql);
        return STATUS_DEVICE_NOT_READY;
    }
    Version = Client->Npi.Dispatch->Version;
    if (Version < KSIM_WSK_VERSION || Version > KSIM_WSK_VERSION) {
        KsimWskUnlock(OldIrql);
        return STATUS_NOINTERFACE;
    }
    Client->Captures++;
    KsimWskUnlock(OldIrql);
    WskProviderNpi->Client = Client;
    WskProviderNpi->Dispatch = &KsimWskProviderDispatch;
    return STATUS_SUCCESS;
}

VOID
WskReleaseProviderNPI(_In_ PWSK_REGISTRATION WskRegistration)
{
    KSIM_WSK_CLIENT *Client;
    KIRQL OldIrql;

    if (ReadNoFence(&KsimWskInitState) != 2) {
        KsimVerifierFail("WskReleaseProviderNPI without a registration");
        return;
    }
    KsimWskLock(&OldIrql);
    Client = KsimWskClientFromRegistration(WskRegistration, KSIM_WSK_REG_LIVE);
    if (!Client)
        Client = KsimWskClientFromRegistration(WskRegistration, KSIM_WSK_REG_DEREGISTERING);
    if (!Client || Client->Captures <= 0) {
        KsimWskUnlock(OldIrql);
        KsimVerifierFail("WskReleaseProviderNPI(%p) without a matching successful capture", (void *)WskRegistration);
        return;
    }
    Client->Captures--;
    if (Client->Deregistering && !Client->OpenSockets && !Client->Captures)
        KeSetEvent(&Client->Idle, IO_NO_INCREMENT, FALSE);
    KsimWskUnlock(OldIrql);
}

NTSTATUS
WskQueryProviderCharacteristics(_In_ PWSK_REGISTRATION WskRegistration,
                                _Out_ PWSK_PROVIDER_CHARACTERISTICS WskProviderCharacteristics)
{
    KSIM_WSK_CLIENT *Client;
    KIRQL OldIrql;

    if (!WskProviderCharacteristics)
        return STATUS_INVALID_PARAMETER;
    if (ReadNoFence(&KsimWskInitState) != 2)
        return STATUS_DEVICE_NOT_READY;
    KsimWskLock(&OldIrql);
    Client = KsimWskClientFromRegistration(WskRegistration, KSIM_WSK_REG_LIVE);
    KsimWskUnlock(OldIrql);
    if (!Client)
        return STATUS_DEVICE_NOT_READY;
    WskProviderCharacteristics->HighestVersion = KSIM_WSK_VERSION;
    WskProviderCharacteristics->LowestVersion = KSIM_WSK_VERSION;
    return STATUS_SUCCESS;
}

VOID
WskDeregister(_In_ PWSK_REGISTRATION WskRegistration)
{
    KSIM_WSK_CLIENT *Client;
    KIRQL OldIrql;
    LARGE_INTEGER Timeout;
    BOOLEAN Last;

    if (KeGetCurrentIrql() != PASSIVE_LEVEL)
        KsimVerifierFail("WskDeregister called at IRQL %u (PASSIVE_LEVEL required)", KeGetCurrentIrql());
    if (ReadNoFence(&KsimWskInitState) != 2) {
        KsimVerifierFail("WskDeregister without WskRegister");
        return;
    }
    KsimWskLock(&OldIrql);
    Client = KsimWskClientFromRegistration(WskRegistration, KSIM_WSK_REG_LIVE);
    if (!Client) {
        KsimWskUnlock(OldIrql);
        KsimVerifierFail("WskDeregister(%p): not a registered block (twice, or never registered)",
                         (void *)WskRegistration);
        return;
    }
    WskRegistration->ReservedRegistrationState = KSIM_WSK_REG_DEREGISTERING;
    Client->Deregistering = TRUE;
    /* WSK_TRANSPORT_LIST_CHANGE: "The WSK subsystem will cancel any pending IRPs if the WSK
     * application calls WskDeregister" (Learn). A request the cancel routine already owns
     * leaves the list in KsimWskRequestFinish. */
    while (!IsListEmpty(&Client->TransportWaiters))
        KsimWskRequestFinish(CONTAINING_RECORD(Client->TransportWaiters.Flink, KSIM_WSK_REQUEST, Link), STATUS_CANCELLED,
                             0);
    if (!Client->OpenSockets && !Client->Captures)
        KeSetEvent(&Client->Idle, IO_NO_INCREMENT, FALSE);
    KsimWskUnlock(OldIrql);
    KsimWskWake();

    /* Windows waits for ever here; ksim also says why, every 10 seconds, as a verifier
     * failure: a driver that deregisters with sockets open or the NPI captured hangs unload. */
    Timeout.QuadPart = -10LL * 1000 * 1000 * 10;
    while (KeWaitForSingleObject(&Client->Idle, Executive, KernelMode, FALSE, &Timeout) == STATUS_TIMEOUT) {
        KsimVerifierFail("WskDeregister(%p) still waiting: %u socket(s) not closed, %d capture(s) not released",
                         (void *)WskRegistration, (unsigned)ReadNoFence(&Client->OpenSockets),
                         (int)ReadNoFence(&Client->Captures));
    }

    KeWaitForSingleObject(&KsimWskProvider.Mutex, Executive, KernelMode, FALSE, NULL);
    KsimWskLock(&OldIrql);
    RemoveEntryList(&Client->Link);
    Last = --KsimWskProvider.ClientCount == 0;
    KsimWskUnlock(OldIrql);
    if (Last && KsimWskProvider.Running)
        KsimWskNetworkStop();
    KeSetEvent(&KsimWskProvider.Mutex, IO_NO_INCREMENT, FALSE);

    WskRegistration->ReservedRegistrationContext = NULL;
    WskRegistration->ReservedRegistrationState = KSIM_WSK_REG_DONE;
    Client->Magic = KSIM_WSK_DEAD_MAGIC;
    ExFreePoolWithTag(Client, KSIM_WSK_TAG_CLIENT);
}

/* ---- provider-level dispatch ---- */

static KSIM_WSK_CLIENT *
KsimWskClientFromHandle(_In_opt_ PWSK_CLIENT Handle)
{
    KSIM_WSK_CLIENT *Client = (KSIM_WSK_CLIENT *)Handle;
    if (!Client || Client->Magic != KSIM_WSK_CLIENT_MAGIC)
        return NULL;
    return Client;
}

static ULONG
KsimWskHostFamily(_In_ USHORT Family)
{
    return Family == AF_INET ? HOST_NET_AF_INET : Family == AF_INET6 ? HOST_NET_AF_INET6 : 0;
}

static NTSTATUS WSKAPI
KsimWskSocket(_In_ PWSK_CLIENT ClientHandle, _In_ ADDRESS_FAMILY AddressFamily, _In_ USHORT SocketType,
              _In_ ULONG Protocol, _In_ ULONG Flags, _In_opt_ PVOID SocketContext, _In_opt_ CONST VOID *Dispatch,
              _In_opt_ PEPROCESS OwningProcess, _In_opt_ PETHREAD OwningThread,
              _In_opt_ PSECURITY_DESCRIPTOR SecurityDescriptor, _Inout_ PIRP Irp)
{
    KSIM_WSK_CLIENT *Client;
    KSIM_WSK_REQUEST *Request;
    KSIM_WSK_SOCKET *Socket;
    HOST_NET_SOCKET Host = HOST_NET_INVALID_SOCKET;
    KIRQL OldIrql;
    int HostType, Error;

    UNREFERENCED_PARAMETER(OwningProcess);
    UNREFERENCED_PARAMETER(OwningThread);
    UNREFERENCED_PARAMETER(SecurityDescriptor);

    /* Wine's test on Windows: no IRP -> STATUS_INVALID_PARAMETER, nothing else happens. */
    if (!Irp)
        return STATUS_INVALID_PARAMETER;
    if (!KsimWskIrpTake(Irp))
        return STATUS_INVALID_PARAMETER;
    Client = KsimWskClientFromHandle(ClientHandle);
    if (!Client)
        return KsimWskIrpCompleteInline(Irp, STATUS_INVALID_HANDLE, 0);
    if (Client->Deregistering)
        return KsimWskIrpCompleteInline(Irp, STATUS_DEVICE_NOT_READY, 0);
    if (Flags == WSK_FLAG_STREAM_SOCKET)
        return KsimWskIrpCompleteInline(Irp, STATUS_NOT_SUPPORTED, 0);
    if (Flags != WSK_FLAG_BASIC_SOCKET && Flags != WSK_FLAG_LISTEN_SOCKET && Flags != WSK_FLAG_CONNECTION_SOCKET &&
        Flags != WSK_FLAG_DATAGRAM_SOCKET)
        return KsimWskIrpCompleteInline(Irp, STATUS_INVALID_PARAMETER, 0);
    if (!KsimWskHostFamily(AddressFamily))
        return KsimWskIrpCompleteInline(Irp, STATUS_INVALID_PARAMETER, 0);
    if (SocketType == SOCK_STREAM && (Protocol == IPPROTO_TCP || Protocol == 0))
        HostType = HOST_NET_STREAM;
    else if (SocketType == SOCK_DGRAM && (Protocol == IPPROTO_UDP || Protocol == 0))
        HostType = HOST_NET_DGRAM;
    else
        return KsimWskIrpCompleteInline(Irp, STATUS_NOT_SUPPORTED, 0);

    Request = KsimWskRequestAllocate(Irp, NULL, KsimWskRequestComplete);
    if (!Request)
        return KsimWskIrpCompleteInline(Irp, STATUS_INSUFFICIENT_RESOURCES, 0);
    Error = KsimNetSocket(Client->Memory, KsimWskHostFamily(AddressFamily), HostType, &Host);
    if (Error != HOST_NET_OK)
        return KsimWskRequestCompleteLater(Request, KsimWskStatusFromHost(Error), 0);

    KsimWskLock(&OldIrql);
    Socket = KsimWskSocketAllocate(Client, Flags, AddressFamily, SocketType, Protocol ? Protocol
                                   : HostType == HOST_NET_STREAM ? IPPROTO_TCP : IPPROTO_UDP,
                                   SocketContext, Dispatch);
    if (Socket)
        Socket->Host = Host;
    KsimWskUnlock(OldIrql);
    if (!Socket) {
        KsimNetClose(Host);
        return KsimWskRequestCompleteLater(Request, STATUS_INSUFFICIENT_RESOURCES, 0);
    }
    return KsimWskRequestCompleteLater(Request, STATUS_SUCCESS, (ULONG_PTR)KsimWskPublic(Socket));
}

static NTSTATUS WSKAPI
KsimWskSocketConnect(_In_ PWSK_CLIENT ClientHandle, _In_ USHORT SocketType, _In_ ULONG Protocol,
                     _In_ PSOCKADDR LocalAddress, _In_ PSOCKADDR RemoteAddress, _Reserved_ ULONG Flags,
                     _In_opt_ PVOID SocketContext, _In_opt_ CONST WSK_CLIENT_CONNECTION_DISPATCH *Dispatch,
                     _In_opt_ PEPROCESS OwningProcess, _In_opt_ PETHREAD OwningThread,
                     _In_opt_ PSECURITY_DESCRIPTOR SecurityDescriptor, _Inout_ PIRP Irp)
{
    KSIM_WSK_CLIENT *Client;
    KSIM_WSK_REQUEST *Request;
    KSIM_WSK_SOCKET *Socket;
    HOST_NET_ADDRESS Local, Remote;
    HOST_NET_SOCKET Host;
    NTSTATUS Status;
    KIRQL OldIrql;
    int Error;

    UNREFERENCED_PARAMETER(Flags);
    UNREFERENCED_PARAMETER(OwningProcess);
    UNREFERENCED_PARAMETER(OwningThread);
    UNREFERENCED_PARAMETER(SecurityDescriptor);
    if (!Irp || !KsimWskIrpTake(Irp))
        return STATUS_INVALID_PARAMETER;
    Client = KsimWskClientFromHandle(ClientHandle);
    if (!Client)
        return KsimWskIrpCompleteInline(Irp, STATUS_INVALID_HANDLE, 0);
    if (Client->Deregistering)
        return KsimWskIrpCompleteInline(Irp, STATUS_DEVICE_NOT_READY, 0);
    if (SocketType != SOCK_STREAM || (Protocol != IPPROTO_TCP && Protocol != 0))
        return KsimWskIrpCompleteInline(Irp, STATUS_NOT_SUPPORTED, 0);
    if (!LocalAddress || !RemoteAddress || !KsimWskHostFamily(LocalAddress->sa_family))
        return KsimWskIrpCompleteInline(Irp, STATUS_INVALID_PARAMETER, 0);
    Status = KsimWskAddressToHost(LocalAddress, LocalAddress->sa_family, &Local);
    if (NT_SUCCESS(Status))
        Status = KsimWskAddressToHost(RemoteAddress, LocalAddress->sa_family, &Remote);
    if (!NT_SUCCESS(Status))
        return KsimWskIrpCompleteInline(Irp, Status, 0);
    Request = KsimWskRequestAllocate(Irp, NULL, KsimWskRequestConnect);
    if (!Request)
        return KsimWskIrpCompleteInline(Irp, STATUS_INSUFFICIENT_RESOURCES, 0);
    Error = KsimNetSocket(Client->Memory, KsimWskHostFamily(LocalAddress->sa_family), HOST_NET_STREAM, &Host);
    if (Error != HOST_NET_OK)
        return KsimWskRequestCompleteLater(Request, KsimWskStatusFromHost(Error), 0);

    /* WskSocket + WskBind + WskConnect in one, with the socket handed over only once the
     * connection is up; on any failure the client never sees it. */
    KsimWskLock(&OldIrql);
    Socket = KsimWskSocketAllocate(Client, WSK_FLAG_CONNECTION_SOCKET, LocalAddress->sa_family, SOCK_STREAM,
                                   IPPROTO_TCP, SocketContext, Dispatch);
    if (!Socket) {
        KsimWskUnlock(OldIrql);
        KsimNetClose(Host);
        return KsimWskRequestCompleteLater(Request, STATUS_INSUFFICIENT_RESOURCES, 0);
    }
    Socket->Host = Host;
    Socket->Implicit = TRUE;
    Request->Socket = Socket;
    Error = KsimNetBind(Host, &Local);
    if (Error == HOST_NET_OK) {
        Socket->State |= KSIM_WSK_S_BOUND;
        Error = KsimNetConnect(Host, &Remote);
    }
    if (Error == HOST_NET_OK || Error == HOST_NET_E_INPROGRESS) {
        Socket->State |= KSIM_WSK_S_CONNECTING;
        KsimWskRequestQueue(Request, &Socket->ConnectQueue);
        KsimWskMarkDirty(Socket);
        KsimWskUnlock(OldIrql);
        KsimWskWake();
        return STATUS_PENDING;
    }
    KsimWskSocketDiscard(Socket);
    KsimWskUnlock(OldIrql);
    Request->Socket = NULL;
    return KsimWskRequestCompleteLater(Request, KsimWskStatusFromHost(Error), 0);
}

/* The transports the simulated provider offers; ProviderId is the Winsock catalog id of
 * Microsoft's TCP/IP provider ("MSAFD Tcpip"), {E70F1AA0-AB8B-11CF-8CA3-00805F48A192}. */
static CONST WSK_TRANSPORT KsimWskTransports[] = {
    { MAKE_WSK_VERSION(1, 0), SOCK_STREAM, IPPROTO_TCP, AF_INET,
      { 0xE70F1AA0, 0xAB8B, 0x11CF, { 0x8C, 0xA3, 0x00, 0x80, 0x5F, 0x48, 0xA1, 0x92 } } },
    { MAKE_WSK_VERSION(1, 0), SOCK_DGRAM, IPPROTO_UDP, AF_INET,
      { 0xE70F1AA0, 0xAB8B, 0x11CF, { 0x8C, 0xA3, 0x00, 0x80, 0x5F, 0x48, 0xA1, 0x92 } } },
    { MAKE_WSK_VERSION(1, 0), SOCK_STREAM, IPPROTO_TCP, AF_INET6,
      { 0xE70F1AA0, 0xAB8B, 0x11CF, { 0x8C, 0xA3, 0x00, 0x80, 0x5F, 0x48, 0xA1, 0x92 } } },
    { MAKE_WSK_VERSION(1, 0), SOCK_DGRAM, IPPROTO_UDP, AF_INET6,
      { 0xE70F1AA0, 0xAB8B, 0x11CF, { 0x8C, 0xA3, 0x00, 0x80, 0x5F, 0x48, 0xA1, 0x92 } } },
};

static NTSTATUS
KsimWskFinishControl(_Inout_opt_ PIRP Irp, _In_ NTSTATUS Status, _In_ SIZE_T Returned,
                     _Out_opt_ SIZE_T *OutputSizeReturned)
{
    if (OutputSizeReturned)
        *OutputSizeReturned = Returned;
    if (Irp)
        return KsimWskIrpCompleteInline(Irp, Status, NT_SUCCESS(Status) ? Returned : 0);
    return Status;
}

static NTSTATUS WSKAPI
KsimWskControlClient(_In_ PWSK_CLIENT ClientHandle, _In_ ULONG ControlCode, _In_ SIZE_T InputSize,
                     _In_reads_bytes_opt_(InputSize) PVOID InputBuffer, _In_ SIZE_T OutputSize,
                     _Out_writes_bytes_opt_(OutputSize) PVOID OutputBuffer, _Out_opt_ SIZE_T *OutputSizeReturned,
                     _Inout_opt_ PIRP Irp)
{
    KSIM_WSK_CLIENT *Client = KsimWskClientFromHandle(ClientHandle);
    KIRQL OldIrql;

    /* Learn's per-code IRP and OutputSizeReturned rules (wsk_util.c). */
    if (!KsimWskControlRules("WskControlClient", KSIM_WSK_CONTROL_CLIENT, 0, ControlCode, InputSize, InputBuffer,
                                OutputSize, OutputSizeReturned, &Irp))
        return STATUS_INVALID_PARAMETER;
    if (Irp && !KsimWskIrpTake(Irp))
        return STATUS_INVALID_PARAMETER;
    if (!Client)
        return KsimWskFinishControl(Irp, STATUS_INVALID_HANDLE, 0, NULL);

    switch (ControlCode) {
    case WSK_SET_STATIC_EVENT_CALLBACKS: {
        PWSK_EVENT_CALLBACK_CONTROL Control = (PWSK_EVENT_CALLBACK_CONTROL)InputBuffer;
        NTSTATUS Status = STATUS_SUCCESS;
        /* The IRP must be NULL (wsk-facts 3.2). */
        if (Irp)
            return KsimWskFinishControl(Irp, STATUS_INVALID_PARAMETER, 0, NULL);
        if (!Control || InputSize < sizeof(*Control) || !Control->NpiId ||
            !RtlEqualMemory(Control->NpiId, &NPI_WSK_INTERFACE_ID, sizeof(NPIID)))
            return STATUS_INVALID_PARAMETER;
        if ((Control->EventMask & WSK_EVENT_DISABLE) || !Control->EventMask ||
            (Control->EventMask & ~KSIM_WSK_ALL_EVENTS))
            return STATUS_INVALID_PARAMETER;
        KsimWskLock(&OldIrql);
        if (Client->AnySocket)
            Status = STATUS_INVALID_DEVICE_STATE;
        else
            Client->StaticEvents |= Control->EventMask; /* never undone: a second call adds */
        KsimWskUnlock(OldIrql);
        return Status;
    }
    case WSK_TRANSPORT_LIST_QUERY: {
        /* The header: Irp must be NULL and OutputSizeReturned non-NULL. */
        if (Irp || !OutputSizeReturned)
            return KsimWskFinishControl(Irp, STATUS_INVALID_PARAMETER, 0, NULL);
        if (OutputSize < sizeof(KsimWskTransports) || !OutputBuffer) {
            *OutputSizeReturned = sizeof(KsimWskTransports);
            return STATUS_BUFFER_TOO_SMALL;
        }
        RtlCopyMemory(OutputBuffer, KsimWskTransports, sizeof(KsimWskTransports));
        *OutputSizeReturned = sizeof(KsimWskTransports);
        return STATUS_SUCCESS;
    }
    case WSK_TRANSPORT_LIST_CHANGE: {
        /* Learn: "An IRP is required" (KsimWskControlRules saw to it), "queued by the WSK
         * subsystem until the list of available network transports changes", and "The WSK
         * subsystem will cancel any pending IRPs if the WSK application calls WskDeregister".
         * ksim's transports never change, so the IRP waits for WskDeregister, or for IoCancelIrp;
         * strict mode arms no cancel routine, since Learn promises only WskDeregister. */
        KSIM_WSK_REQUEST *Request = KsimWskRequestAllocate(Irp, NULL, KsimWskRequestComplete);
        if (!Request)
            return KsimWskFinishControl(Irp, STATUS_INSUFFICIENT_RESOURCES, 0, NULL);
        KsimWskLock(&OldIrql);
        if (KsimWskStrict()) {
            IoMarkIrpPending(Irp);
            InsertTailList(&Client->TransportWaiters, &Request->Link);
        } else {
            KsimWskRequestQueue(Request, &Client->TransportWaiters);
        }
        KsimWskUnlock(OldIrql);
        KsimWskWake();
        return STATUS_PENDING;
    }
    default:
        /* WSK_CACHE_SD, WSK_RELEASE_SD, WSK_TDI_* and unknown codes. */
        return KsimWskFinishControl(Irp, STATUS_NOT_SUPPORTED, 0, OutputSizeReturned);
    }
}

static NTSTATUS WSKAPI
KsimWskGetAddressInfo(_In_ PWSK_CLIENT Client, _In_opt_ PUNICODE_STRING NodeName, _In_opt_ PUNICODE_STRING ServiceName,
                      _In_opt_ ULONG NameSpace, _In_opt_ GUID *Provider, _In_opt_ PADDRINFOEXW Hints,
                      _Outptr_ PADDRINFOEXW *Result, _In_opt_ PEPROCESS OwningProcess,
                      _In_opt_ PETHREAD OwningThread, _Inout_ PIRP Irp)
{
    UNREFERENCED_PARAMETER(Client);
    UNREFERENCED_PARAMETER(NodeName);
    UNREFERENCED_PARAMETER(ServiceName);
    UNREFERENCED_PARAMETER(NameSpace);
    UNREFERENCED_PARAMETER(Provider);
    UNREFERENCED_PARAMETER(Hints);
    UNREFERENCED_PARAMETER(OwningProcess);
    UNREFERENCED_PARAMETER(OwningThread);
    if (KeGetCurrentIrql() != PASSIVE_LEVEL)
        KsimVerifierFail("WskGetAddressInfo at IRQL %u (PASSIVE_LEVEL required)", KeGetCurrentIrql());
    /* Wine's test on Windows: a NULL IRP is STATUS_INVALID_PARAMETER. */
    if (!Irp || !Result)
        return STATUS_INVALID_PARAMETER;
    if (!KsimWskIrpTake(Irp))
        return STATUS_INVALID_PARAMETER;
    *Result = NULL;
    return KsimWskIrpCompleteInline(Irp, STATUS_NOT_SUPPORTED, 0);
}

static VOID WSKAPI
KsimWskFreeAddressInfo(_In_ PWSK_CLIENT Client, _In_ PADDRINFOEXW AddrInfo)
{
    UNREFERENCED_PARAMETER(Client);
    if (AddrInfo)
        KsimVerifierFail("WskFreeAddressInfo(%p): ksim's WskGetAddressInfo never returns a list", (void *)AddrInfo);
}

static NTSTATUS WSKAPI
KsimWskGetNameInfo(_In_ PWSK_CLIENT Client, _In_ PSOCKADDR SockAddr, _In_ ULONG SockAddrLength,
                   _Out_opt_ PUNICODE_STRING NodeName, _Out_opt_ PUNICODE_STRING ServiceName, _In_ ULONG Flags,
                   _In_opt_ PEPROCESS OwningProcess, _In_opt_ PETHREAD OwningThread, _Inout_ PIRP Irp)
{
    UNREFERENCED_PARAMETER(Client);
    UNREFERENCED_PARAMETER(SockAddr);
    UNREFERENCED_PARAMETER(SockAddrLength);
    UNREFERENCED_PARAMETER(NodeName);
    UNREFERENCED_PARAMETER(ServiceName);
    UNREFERENCED_PARAMETER(Flags);
    UNREFERENCED_PARAMETER(OwningProcess);
    UNREFERENCED_PARAMETER(OwningThread);
    if (!Irp || !KsimWskIrpTake(Irp))
        return STATUS_INVALID_PARAMETER;
    return KsimWskIrpCompleteInline(Irp, STATUS_NOT_SUPPORTED, 0);
}

uint64_t
KsimWskHostDatagramsDropped(void)
{
    return (uint64_t)ReadNoFence(&KsimWskProvider.HostDatagramsDropped);
}

void
KsimWskGetCounters(uint64_t *HostSockets, uint64_t *WskSockets)
{
    if (HostSockets)
        *HostSockets = KsimNetOpenSockets();
    if (WskSockets)
        *WskSockets = (uint64_t)ReadNoFence(&KsimWskProvider.WskSockets);
}

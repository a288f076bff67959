/* SPDX-License-Identifier: MIT
 *
 * Tests of ksim's WSK provider, driving it directly as a WSK client would: registration,
 * sockets, TCP both ways over loopback to host peers, UDP, IPv6, every event callback,
 * STATUS_DATA_NOT_ACCEPTED with the zero-length re-arm, conditional accept (reject, accept,
 * pend, abort), disabling an event while its callback runs, and close cancelling IRPs.
 * Every test ends with no WSK socket, host socket, IRP or WSK pool block outstanding.
 *
 * Run: make -f native/ksim/test/wsk.mk check   (from the repository root)
 */
#include <ntddk.h>
#include <wsk.h>
#include "ksim.h"
#include "wsk_test_peer.h"

#include <stdio.h>
#include <string.h>

static int Failures;
static int Checks;

#define CHECK(Cond)                                                                    \
    do {                                                                               \
        Checks++;                                                                      \
        if (!(Cond)) {                                                                 \
            Failures++;                                                                \
            fprintf(stderr, "  FAIL %s:%d: %s\n", __FILE__, __LINE__, #Cond);          \
        }                                                                              \
    } while (0)

#define CHECK_STATUS(Expr, Expected)                                                                       \
    do {                                                                                                   \
        NTSTATUS S_ = (Expr);                                                                              \
        Checks++;                                                                                          \
        if (S_ != (NTSTATUS)(Expected)) {                                                                  \
            Failures++;                                                                                    \
            fprintf(stderr, "  FAIL %s:%d: %s = 0x%08x, expected 0x%08x\n", __FILE__, __LINE__, #Expr,     \
                    (unsigned)S_, (unsigned)(Expected));                                                   \
        }                                                                                                  \
    } while (0)

/* ksim calls the driver's entry point only on KsimDriverLoad, which these tests never do. */
NTSTATUS
DriverEntry(_In_ PDRIVER_OBJECT DriverObject, _In_ PUNICODE_STRING RegistryPath)
{
    UNREFERENCED_PARAMETER(DriverObject);
    UNREFERENCED_PARAMETER(RegistryPath);
    return STATUS_SUCCESS;
}

/* ---- IRP helpers ---- */

typedef struct _OP {
    PIRP Irp;
    KEVENT Done;
    volatile LONG Completions;
} OP;

static IO_COMPLETION_ROUTINE OpCompletion;
static NTSTATUS
OpCompletion(_In_ PDEVICE_OBJECT DeviceObject, _In_ PIRP Irp, _In_opt_ PVOID Context)
{
    OP *Op = (OP *)Context;
    UNREFERENCED_PARAMETER(DeviceObject);
    UNREFERENCED_PARAMETER(Irp);
    InterlockedIncrement(&Op->Completions);
    KeSetEvent(&Op->Done, IO_NO_INCREMENT, FALSE);
    return STATUS_MORE_PROCESSING_REQUIRED;
}

static PIRP
OpStart(OP *Op)
{
    if (!Op->Irp) {
        Op->Irp = IoAllocateIrp(1, FALSE);
        KeInitializeEvent(&Op->Done, NotificationEvent, FALSE);
    } else {
        IoReuseIrp(Op->Irp, STATUS_UNSUCCESSFUL);
        KeClearEvent(&Op->Done);
    }
    Op->Completions = 0;
    IoSetCompletionRoutine(Op->Irp, OpCompletion, Op, TRUE, TRUE, TRUE);
    return Op->Irp;
}

/* Waits for the completion; returns its status (STATUS_TIMEOUT if it never came). */
static NTSTATUS
OpWait(OP *Op, int TimeoutMs)
{
    LARGE_INTEGER Timeout;
    Timeout.QuadPart = -10000LL * TimeoutMs;
    if (KeWaitForSingleObject(&Op->Done, Executive, KernelMode, FALSE, &Timeout) == STATUS_TIMEOUT)
        return STATUS_TIMEOUT;
    return Op->Irp->IoStatus.Status;
}

static BOOLEAN
OpCompleted(OP *Op)
{
    return KeReadStateEvent(&Op->Done) != 0;
}

static void
OpFree(OP *Op)
{
    if (Op->Irp)
        IoFreeIrp(Op->Irp);
    Op->Irp = NULL;
}

/* A locked buffer with its MDL. */
typedef struct _BUF {
    PUCHAR Data;
    SIZE_T Length;
    PMDL Mdl;
    WSK_BUF Wsk;
} BUF;

static void
BufInit(BUF *B, SIZE_T Length)
{
    B->Length = Length;
    B->Data = (PUCHAR)ExAllocatePool2(POOL_FLAG_NON_PAGED, Length ? Length : 1, 'tseT');
    B->Mdl = IoAllocateMdl(B->Data, (ULONG)(Length ? Length : 1), FALSE, FALSE, NULL);
    MmBuildMdlForNonPagedPool(B->Mdl);
    B->Wsk.Mdl = B->Mdl;
    B->Wsk.Offset = 0;
    B->Wsk.Length = Length;
}

static void
BufFree(BUF *B)
{
    IoFreeMdl(B->Mdl);
    ExFreePoolWithTag(B->Data, 'tseT');
}

static void
Pattern(PUCHAR Data, SIZE_T Length, ULONG Seed)
{
    SIZE_T i;
    for (i = 0; i < Length; i++)
        Data[i] = (UCHAR)((i * 131 + Seed * 7 + (i >> 9)) & 0xff);
}

static BOOLEAN
WaitFor(volatile LONG *Value, LONG AtLeast, int TimeoutMs)
{
    uint64_t Deadline = PeerNowMs() + (uint64_t)TimeoutMs;
    while (ReadNoFence(Value) < AtLeast) {
        if (PeerNowMs() > Deadline)
            return FALSE;
        PeerSleepMs(2);
    }
    return TRUE;
}

/* ---- client registration shared by the tests ---- */

static CONST WSK_CLIENT_DISPATCH ClientDispatch = { MAKE_WSK_VERSION(1, 0), 0, NULL };

typedef struct _CLIENT {
    WSK_REGISTRATION Registration;
    WSK_PROVIDER_NPI Npi;
} CLIENT;

static void
ClientOpen(CLIENT *C)
{
    WSK_CLIENT_NPI ClientNpi = { NULL, &ClientDispatch };
    CHECK_STATUS(WskRegister(&ClientNpi, &C->Registration), STATUS_SUCCESS);
    CHECK_STATUS(WskCaptureProviderNPI(&C->Registration, WSK_INFINITE_WAIT, &C->Npi), STATUS_SUCCESS);
}

static void
ClientClose(CLIENT *C)
{
    WskReleaseProviderNPI(&C->Registration);
    WskDeregister(&C->Registration);
}

static void
MakeAddress(SOCKADDR_STORAGE *Storage, USHORT Family, USHORT Port, BOOLEAN Any)
{
    RtlZeroMemory(Storage, sizeof(*Storage));
    if (Family == AF_INET6) {
        SOCKADDR_IN6 *In6 = (SOCKADDR_IN6 *)Storage;
        In6->sin6_family = AF_INET6;
        In6->sin6_port = RtlUshortByteSwap(Port);
        if (!Any)
            In6->sin6_addr.u.Byte[15] = 1;
    } else {
        SOCKADDR_IN *In = (SOCKADDR_IN *)Storage;
        In->sin_family = AF_INET;
        In->sin_port = RtlUshortByteSwap(Port);
        In->sin_addr.S_un.S_addr = Any ? 0 : RtlUlongByteSwap(INADDR_LOOPBACK);
    }
}

static USHORT
AddressPort(CONST SOCKADDR_STORAGE *Storage)
{
    return RtlUshortByteSwap(((CONST SOCKADDR_IN *)Storage)->sin_port);
}

/* Creates a socket; returns it (NULL on failure). */
static PWSK_SOCKET
SocketCreate(CLIENT *C, USHORT Family, USHORT Type, ULONG Protocol, ULONG Flags, PVOID Context, CONST VOID *Dispatch)
{
    OP Op = { 0 };
    PWSK_SOCKET Socket = NULL;
    NTSTATUS Status = C->Npi.Dispatch->WskSocket(C->Npi.Client, Family, Type, Protocol, Flags, Context, Dispatch, NULL,
                                                 NULL, NULL, OpStart(&Op));
    CHECK_STATUS(Status, STATUS_PENDING);
    CHECK_STATUS(OpWait(&Op, 5000), STATUS_SUCCESS);
    if (NT_SUCCESS(Op.Irp->IoStatus.Status))
        Socket = (PWSK_SOCKET)Op.Irp->IoStatus.Information;
    OpFree(&Op);
    return Socket;
}

static NTSTATUS
SocketBind(PWSK_SOCKET Socket, USHORT Family, USHORT Port, BOOLEAN Any)
{
    OP Op = { 0 };
    SOCKADDR_STORAGE Address;
    NTSTATUS Status;
    MakeAddress(&Address, Family, Port, Any);
    Status = ((CONST WSK_PROVIDER_CONNECTION_DISPATCH *)Socket->Dispatch)
                 ->WskBind(Socket, (PSOCKADDR)&Address, 0, OpStart(&Op));
    CHECK_STATUS(Status, STATUS_PENDING);
    Status = OpWait(&Op, 5000);
    OpFree(&Op);
    return Status;
}

static USHORT
SocketLocalPort(PWSK_SOCKET Socket, ULONG Kind)
{
    OP Op = { 0 };
    SOCKADDR_STORAGE Address;
    PFN_WSK_GET_LOCAL_ADDRESS Get;
    RtlZeroMemory(&Address, sizeof(Address));
    /* The routine sits at a different place in each provider table. */
    if (Kind == WSK_FLAG_DATAGRAM_SOCKET)
        Get = ((CONST WSK_PROVIDER_DATAGRAM_DISPATCH *)Socket->Dispatch)->WskGetLocalAddress;
    else if (Kind == WSK_FLAG_LISTEN_SOCKET)
        Get = ((CONST WSK_PROVIDER_LISTEN_DISPATCH *)Socket->Dispatch)->WskGetLocalAddress;
    else
        Get = ((CONST WSK_PROVIDER_CONNECTION_DISPATCH *)Socket->Dispatch)->WskGetLocalAddress;
    CHECK_STATUS(Get(Socket, (PSOCKADDR)&Address, OpStart(&Op)), STATUS_PENDING);
    CHECK_STATUS(OpWait(&Op, 5000), STATUS_SUCCESS);
    OpFree(&Op);
    return AddressPort(&Address);
}

static void
SocketClose(PWSK_SOCKET Socket)
{
    OP Op = { 0 };
    CHECK_STATUS(((CONST WSK_PROVIDER_BASIC_DISPATCH *)Socket->Dispatch)->WskCloseSocket(Socket, OpStart(&Op)),
                 STATUS_PENDING);
    CHECK_STATUS(OpWait(&Op, 5000), STATUS_SUCCESS);
    CHECK(Op.Irp->IoStatus.Information == 0);
    OpFree(&Op);
}

static NTSTATUS
SocketEvents(PWSK_SOCKET Socket, ULONG Mask, PIRP Irp)
{
    WSK_EVENT_CALLBACK_CONTROL Control;
    Control.NpiId = (PNPIID)&NPI_WSK_INTERFACE_ID;
    Control.EventMask = Mask;
    return ((CONST WSK_PROVIDER_BASIC_DISPATCH *)Socket->Dispatch)
        ->WskControlSocket(Socket, WskSetOption, SO_WSK_EVENT_CALLBACK, SOL_SOCKET, sizeof(Control), &Control, 0, NULL,
                           NULL, Irp);
}

/* A socket option through WskControlSocket with an IRP (Learn: every documented scalar option
 * takes one), waited for; returns the IRP's status and its Information in *Returned. */
static NTSTATUS
SocketOption(PWSK_SOCKET Socket, WSK_CONTROL_SOCKET_TYPE Type, ULONG Code, ULONG Level, ULONG *Value, SIZE_T *Returned)
{
    OP Op = { 0 };
    NTSTATUS Status;
    BOOLEAN Set = Type == WskSetOption;
    Status = ((CONST WSK_PROVIDER_BASIC_DISPATCH *)Socket->Dispatch)
                 ->WskControlSocket(Socket, Type, Code, Level, Set ? sizeof(*Value) : 0, Set ? Value : NULL,
                                    Set ? 0 : sizeof(*Value), Set ? NULL : Value, NULL, OpStart(&Op));
    if (Status == STATUS_PENDING)
        Status = OpWait(&Op, 3000);
    *Returned = Op.Irp->IoStatus.Information;
    OpFree(&Op);
    return Status;
}

/* Connects a new connection socket to a host listener on loopback; returns it. */
static PWSK_SOCKET
SocketConnectTo(CLIENT *C, USHORT Family, USHORT Port, PVOID Context, CONST VOID *Dispatch)
{
    OP Op = { 0 };
    SOCKADDR_STORAGE Remote;
    PWSK_SOCKET Socket = SocketCreate(C, Family, SOCK_STREAM, IPPROTO_TCP, WSK_FLAG_CONNECTION_SOCKET, Context, Dispatch);
    if (!Socket)
        return NULL;
    CHECK_STATUS(SocketBind(Socket, Family, 0, TRUE), STATUS_SUCCESS);
    MakeAddress(&Remote, Family, Port, FALSE);
    CHECK_STATUS(((CONST WSK_PROVIDER_CONNECTION_DISPATCH *)Socket->Dispatch)
                     ->WskConnect(Socket, (PSOCKADDR)&Remote, 0, OpStart(&Op)),
                 STATUS_PENDING);
    CHECK_STATUS(OpWait(&Op, 5000), STATUS_SUCCESS);
    OpFree(&Op);
    return Socket;
}

static CONST WSK_PROVIDER_CONNECTION_DISPATCH *
Conn(PWSK_SOCKET Socket)
{
    return (CONST WSK_PROVIDER_CONNECTION_DISPATCH *)Socket->Dispatch;
}

static CONST WSK_PROVIDER_LISTEN_DISPATCH *
Listen(PWSK_SOCKET Socket)
{
    return (CONST WSK_PROVIDER_LISTEN_DISPATCH *)Socket->Dispatch;
}

static CONST WSK_PROVIDER_DATAGRAM_DISPATCH *
Dgram(PWSK_SOCKET Socket)
{
    return (CONST WSK_PROVIDER_DATAGRAM_DISPATCH *)Socket->Dispatch;
}

/* Receives exactly Length bytes with WAITALL receives. */
static NTSTATUS
ReceiveExactly(PWSK_SOCKET Socket, PUCHAR Out, SIZE_T Length)
{
    BUF B;
    OP Op = { 0 };
    SIZE_T Done = 0;
    NTSTATUS Status = STATUS_SUCCESS;
    BufInit(&B, 65536);
    while (Done < Length) {
        SIZE_T Want = Length - Done < B.Length ? Length - Done : B.Length;
        B.Wsk.Length = Want;
        Status = Conn(Socket)->WskReceive(Socket, &B.Wsk, WSK_FLAG_WAITALL, OpStart(&Op));
        if (Status != STATUS_PENDING)
            break;
        Status = OpWait(&Op, 10000);
        if (!NT_SUCCESS(Status) || Op.Irp->IoStatus.Information != Want) {
            if (NT_SUCCESS(Status))
                Status = STATUS_UNSUCCESSFUL;
            break;
        }
        RtlCopyMemory(Out + Done, B.Data, Want);
        Done += Want;
    }
    OpFree(&Op);
    BufFree(&B);
    return Status;
}

static NTSTATUS
SendAll(PWSK_SOCKET Socket, PUCHAR Data, SIZE_T Length)
{
    BUF B;
    OP Op = { 0 };
    SIZE_T Done = 0;
    NTSTATUS Status = STATUS_SUCCESS;
    BufInit(&B, 100000);
    while (Done < Length) {
        SIZE_T Chunk = Length - Done < B.Length ? Length - Done : B.Length;
        RtlCopyMemory(B.Data, Data + Done, Chunk);
        B.Wsk.Length = Chunk;
        Status = Conn(Socket)->WskSend(Socket, &B.Wsk, 0, OpStart(&Op));
        if (Status != STATUS_PENDING)
            break;
        Status = OpWait(&Op, 10000);
        if (!NT_SUCCESS(Status) || Op.Irp->IoStatus.Information != Chunk) {
            if (NT_SUCCESS(Status))
                Status = STATUS_UNSUCCESSFUL;
            break;
        }
        Done += Chunk;
    }
    OpFree(&Op);
    BufFree(&B);
    return Status;
}

static void
CheckQuiescent(const char *Name)
{
    KSIM_COUNTERS Counters;
    uint64_t Host, Wsk;
    int Tries = 0;
    /* Socket memory goes right after the close IRP completes, on the provider thread. */
    do {
        KsimGetCounters(&Counters);
        Host = Counters.HostSockets;
        Wsk = Counters.WskSockets;
        if (!Wsk && !Host)
            break;
        PeerSleepMs(5);
    } while (++Tries < 200);
    KsimGetCounters(&Counters);
    if (Wsk || Host || KsimPoolOutstandingByTag('sKsW') || KsimPoolOutstandingByTag('rKsW') ||
        KsimPoolOutstandingByTag('bKsW') || KsimPoolOutstandingByTag('iKsW') || KsimPoolOutstandingByTag('cKsW') ||
        Counters.Irps || Counters.Mdls) {
        Failures++;
        fprintf(stderr,
                "  FAIL %s left: wsk sockets %llu, host sockets %llu, socket %llu request %llu block %llu "
                "incoming %llu client %llu pool blocks, %llu IRPs, %llu MDLs\n",
                Name, (unsigned long long)Wsk, (unsigned long long)Host,
                (unsigned long long)KsimPoolOutstandingByTag('sKsW'),
                (unsigned long long)KsimPoolOutstandingByTag('rKsW'),
                (unsigned long long)KsimPoolOutstandingByTag('bKsW'),
                (unsigned long long)KsimPoolOutstandingByTag('iKsW'),
                (unsigned long long)KsimPoolOutstandingByTag('cKsW'), (unsigned long long)Counters.Irps,
                (unsigned long long)Counters.Mdls);
    }
}

static uint64_t
VerifierCount(void)
{
    char Message[512];
    return KsimVerifierLastFailure(Message, sizeof(Message));
}


/* ---- event recorder ---- */

#define REC_CAPACITY (4u * 1024u * 1024u)

typedef struct _REC {
    volatile LONG Receives;
    volatile LONG NullReceives;
    volatile LONG Disconnects;
    volatile LONG Abortive;
    volatile LONG Backlogs;
    volatile LONG Accepts;
    volatile LONG Inspects;
    volatile LONG Aborts;
    volatile LONG ReceiveFroms;
    volatile LONG Datagrams;
    volatile LONG InCallback;
    volatile LONG Block;          /* the receive callback waits while set */
    volatile LONG Bytes;
    LONG NotAccept;               /* return DATA_NOT_ACCEPTED this many times */
    LONG RetainNext;              /* return STATUS_PENDING once */
    SIZE_T AcceptAtMost;          /* partial acceptance when non-zero */
    ULONG LastFlags;
    SIZE_T LastBacklog;
    BOOLEAN WrongIrql;
    PUCHAR Data;
    PWSK_DATA_INDICATION Retained;
    PWSK_DATAGRAM_INDICATION RetainedDatagrams;
    LONG RetainDatagrams;
    /* listener */
    NTSTATUS AcceptReturn;
    CONST WSK_CLIENT_CONNECTION_DISPATCH *AcceptDispatch;
    struct _REC *AcceptContext;
    PWSK_SOCKET AcceptedSockets[16];
    volatile LONG AcceptedCount;
    OP *CloseInAccept;                  /* WskCloseSocket the offered socket inside WskAcceptEvent */
    WSK_INSPECT_ACTION InspectAction;
    OP *CompleteInInspect;              /* WskInspectComplete the request inside its WskInspectEvent */
    PWSK_SOCKET Self;                   /* the listener, for CompleteInInspect */
    WSK_INSPECT_ID LastInspect;
    WSK_INSPECT_ID LastAbort;
    USHORT LastRemotePort;
} REC;

static void
RecInit(REC *R)
{
    RtlZeroMemory(R, sizeof(*R));
    R->Data = (PUCHAR)ExAllocatePool2(POOL_FLAG_NON_PAGED, REC_CAPACITY, 'ceRT');
    R->AcceptReturn = STATUS_SUCCESS;
    R->InspectAction = WskInspectAccept;
}

static void
RecFree(REC *R)
{
    ExFreePoolWithTag(R->Data, 'ceRT');
}

static SIZE_T
CopyFromBuf(CONST WSK_BUF *Buffer, PUCHAR Out, SIZE_T Max)
{
    PMDL Mdl = Buffer->Mdl;
    SIZE_T Skip = Buffer->Offset, Left = Buffer->Length, Done = 0;
    while (Mdl && Left) {
        PUCHAR Va = (PUCHAR)MmGetSystemAddressForMdlSafe(Mdl, NormalPagePriority);
        SIZE_T Bytes = MmGetMdlByteCount(Mdl);
        if (Skip >= Bytes) {
            Skip -= Bytes;
        } else {
            SIZE_T Take = Bytes - Skip < Left ? Bytes - Skip : Left;
            if (Done + Take <= Max)
                RtlCopyMemory(Out + Done, Va + Skip, Take);
            Done += Take;
            Left -= Take;
            Skip = 0;
        }
        Mdl = Mdl->Next;
    }
    return Done;
}

static NTSTATUS WSKAPI
RecReceive(PVOID Context, ULONG Flags, PWSK_DATA_INDICATION Indication, SIZE_T Indicated, SIZE_T *Accepted)
{
    REC *R = (REC *)Context;
    SIZE_T Take = Indicated;
    PWSK_DATA_INDICATION I;
    if (KeGetCurrentIrql() != DISPATCH_LEVEL)
        R->WrongIrql = TRUE;
    R->LastFlags = Flags;
    InterlockedIncrement(&R->InCallback);
    while (ReadNoFence(&R->Block))
        PeerSleepMs(1);
    if (!Indication) {
        InterlockedIncrement(&R->NullReceives);
        return STATUS_SUCCESS;
    }
    InterlockedIncrement(&R->Receives);
    if (R->NotAccept > 0) {
        R->NotAccept--;
        return STATUS_DATA_NOT_ACCEPTED;
    }
    if (R->AcceptAtMost && Take > R->AcceptAtMost)
        Take = R->AcceptAtMost;
    for (I = Indication; I; I = I->Next) {
        /* Copies the first Take bytes of the chain. */
        SIZE_T Used = (SIZE_T)R->Bytes;
        SIZE_T Room = Used < REC_CAPACITY ? (SIZE_T)REC_CAPACITY - Used : 0;
        SIZE_T Length = I->Buffer.Length < Take ? I->Buffer.Length : Take;
        WSK_BUF Part = I->Buffer;
        Part.Length = Length;
        if (Length <= Room)
            CopyFromBuf(&Part, R->Data + R->Bytes, Room);
        InterlockedAdd(&R->Bytes, (LONG)Length);
        Take -= Length;
    }
    if (R->RetainNext) {
        R->RetainNext = 0;
        R->Retained = Indication;
        return STATUS_PENDING;
    }
    if (R->AcceptAtMost && Indicated > R->AcceptAtMost)
        *Accepted = R->AcceptAtMost;
    return STATUS_SUCCESS;
}

static NTSTATUS WSKAPI
RecDisconnect(PVOID Context, ULONG Flags)
{
    REC *R = (REC *)Context;
    if (KeGetCurrentIrql() != DISPATCH_LEVEL)
        R->WrongIrql = TRUE;
    if (Flags & WSK_FLAG_ABORTIVE)
        InterlockedIncrement(&R->Abortive);
    else
        InterlockedIncrement(&R->Disconnects);
    return STATUS_SUCCESS;
}

static NTSTATUS WSKAPI
RecBacklog(PVOID Context, SIZE_T Ideal)
{
    REC *R = (REC *)Context;
    R->LastBacklog = Ideal;
    InterlockedIncrement(&R->Backlogs);
    return STATUS_SUCCESS;
}

static CONST WSK_CLIENT_CONNECTION_DISPATCH RecConnection = { RecReceive, RecDisconnect, RecBacklog };

static NTSTATUS WSKAPI
RecAccept(PVOID Context, ULONG Flags, PSOCKADDR Local, PSOCKADDR Remote, PWSK_SOCKET AcceptSocket,
          PVOID *AcceptSocketContext, CONST WSK_CLIENT_CONNECTION_DISPATCH **AcceptSocketDispatch)
{
    REC *R = (REC *)Context;
    UNREFERENCED_PARAMETER(Local);
    R->LastFlags = Flags;
    if (KeGetCurrentIrql() != DISPATCH_LEVEL)
        R->WrongIrql = TRUE;
    if (!AcceptSocket)
        return STATUS_REQUEST_NOT_ACCEPTED;
    R->LastRemotePort = AddressPort((SOCKADDR_STORAGE *)Remote);
    if (R->CloseInAccept) {
        /* The client's bug this provokes: closing before the callback has returned. */
        NTSTATUS Status = ((CONST WSK_PROVIDER_BASIC_DISPATCH *)AcceptSocket->Dispatch)
                              ->WskCloseSocket(AcceptSocket, OpStart(R->CloseInAccept));
        UNREFERENCED_PARAMETER(Status);
        R->CloseInAccept = NULL;
        *AcceptSocketContext = NULL;
        *AcceptSocketDispatch = NULL;
        InterlockedIncrement(&R->Accepts);
        return STATUS_SUCCESS;
    }
    if (R->AcceptReturn == STATUS_SUCCESS) {
        LONG i = ReadNoFence(&R->AcceptedCount);
        R->AcceptedSockets[i] = AcceptSocket;
        *AcceptSocketContext = R->AcceptContext;
        *AcceptSocketDispatch = R->AcceptDispatch;
        InterlockedIncrement(&R->AcceptedCount);
    }
    InterlockedIncrement(&R->Accepts);
    return R->AcceptReturn;
}

static WSK_INSPECT_ACTION WSKAPI
RecInspect(PVOID Context, PSOCKADDR Local, PSOCKADDR Remote, PWSK_INSPECT_ID InspectId)
{
    REC *R = (REC *)Context;
    UNREFERENCED_PARAMETER(Local);
    UNREFERENCED_PARAMETER(Remote);
    if (InspectId)
        R->LastInspect = *InspectId;
    if (R->CompleteInInspect && InspectId) {
        /* The client's bug this provokes: completing before the callback has returned Pend. */
        NTSTATUS Status = ((CONST WSK_PROVIDER_LISTEN_DISPATCH *)R->Self->Dispatch)
                              ->WskInspectComplete(R->Self, InspectId, WskInspectAccept, OpStart(R->CompleteInInspect));
        UNREFERENCED_PARAMETER(Status);
        R->CompleteInInspect = NULL;
    }
    InterlockedIncrement(&R->Inspects);
    return R->InspectAction;
}

static NTSTATUS WSKAPI
RecAbort(PVOID Context, PWSK_INSPECT_ID InspectId)
{
    REC *R = (REC *)Context;
    R->LastAbort = *InspectId;
    InterlockedIncrement(&R->Aborts);
    return STATUS_SUCCESS;
}

static CONST WSK_CLIENT_LISTEN_DISPATCH RecListen = { RecAccept, RecInspect, RecAbort };

static NTSTATUS WSKAPI
RecReceiveFrom(PVOID Context, ULONG Flags, PWSK_DATAGRAM_INDICATION Indication)
{
    REC *R = (REC *)Context;
    PWSK_DATAGRAM_INDICATION I;
    R->LastFlags = Flags;
    InterlockedIncrement(&R->ReceiveFroms);
    if (!Indication)
        return STATUS_SUCCESS;
    if (R->NotAccept > 0) {
        R->NotAccept--;
        return STATUS_DATA_NOT_ACCEPTED;
    }
    for (I = Indication; I; I = I->Next) {
        SIZE_T Used = (SIZE_T)R->Bytes;
        SIZE_T Room = Used < REC_CAPACITY ? (SIZE_T)REC_CAPACITY - Used : 0;
        SIZE_T Length = CopyFromBuf(&I->Buffer, R->Data + (Used < REC_CAPACITY ? Used : 0), Room);
        R->LastRemotePort = AddressPort((SOCKADDR_STORAGE *)I->RemoteAddress);
        InterlockedAdd(&R->Bytes, (LONG)Length);
        InterlockedIncrement(&R->Datagrams);
    }
    if (R->RetainDatagrams) {
        R->RetainDatagrams = 0;
        R->RetainedDatagrams = Indication;
        return STATUS_PENDING;
    }
    return STATUS_SUCCESS;
}

static CONST WSK_CLIENT_DATAGRAM_DISPATCH RecDatagram = { RecReceiveFrom };

/* ---- tests ---- */

static void
TestRegistration(void)
{
    WSK_CLIENT_NPI ClientNpi = { NULL, &ClientDispatch };
    WSK_CLIENT_DISPATCH Future = { MAKE_WSK_VERSION(2, 0), 0, NULL };
    WSK_CLIENT_NPI FutureNpi = { NULL, &Future };
    WSK_REGISTRATION A, B;
    WSK_PROVIDER_NPI Npi, Npi2;
    WSK_PROVIDER_CHARACTERISTICS Chars;
    OP Op = { 0 };

    CHECK_STATUS(WskRegister(&ClientNpi, &A), STATUS_SUCCESS);
    CHECK_STATUS(WskRegister(&FutureNpi, &B), STATUS_SUCCESS);
    CHECK_STATUS(WskQueryProviderCharacteristics(&A, &Chars), STATUS_SUCCESS);
    CHECK(Chars.HighestVersion == MAKE_WSK_VERSION(1, 0) && Chars.LowestVersion == MAKE_WSK_VERSION(1, 0));
    CHECK_STATUS(WskCaptureProviderNPI(&A, WSK_INFINITE_WAIT, &Npi), STATUS_SUCCESS);
    CHECK(Npi.Client != NULL && Npi.Dispatch->Version >= MAKE_WSK_VERSION(1, 0));
    CHECK_STATUS(WskCaptureProviderNPI(&A, WSK_NO_WAIT, &Npi2), STATUS_SUCCESS);
    CHECK_STATUS(WskCaptureProviderNPI(&B, WSK_NO_WAIT, &Npi2), STATUS_NOINTERFACE);
    /* Wine's test on Windows: WskSocket with no IRP, then with a NULL client. */
    CHECK_STATUS(Npi.Dispatch->WskSocket(NULL, AF_INET, SOCK_STREAM, IPPROTO_TCP, WSK_FLAG_LISTEN_SOCKET, NULL, NULL,
                                         NULL, NULL, NULL, NULL),
                 STATUS_INVALID_PARAMETER);
    CHECK_STATUS(Npi.Dispatch->WskSocket(NULL, AF_INET, SOCK_STREAM, IPPROTO_TCP, WSK_FLAG_LISTEN_SOCKET, NULL, NULL,
                                         NULL, NULL, NULL, OpStart(&Op)),
                 STATUS_INVALID_HANDLE);
    CHECK(Op.Completions == 1 && Op.Irp->IoStatus.Status == STATUS_INVALID_HANDLE);
    CHECK_STATUS(Npi.Dispatch->WskSocket(Npi.Client, AF_INET, SOCK_STREAM, IPPROTO_TCP, WSK_FLAG_STREAM_SOCKET, NULL,
                                         NULL, NULL, NULL, NULL, OpStart(&Op)),
                 STATUS_NOT_SUPPORTED);
    OpFree(&Op);
    WskReleaseProviderNPI(&A);
    WskReleaseProviderNPI(&A);
    WskDeregister(&A);
    WskDeregister(&B);
    CHECK_STATUS(WskCaptureProviderNPI(&A, WSK_NO_WAIT, &Npi), STATUS_DEVICE_NOT_READY);
}

static void
TestStaticEvents(void)
{
    CLIENT C;
    WSK_EVENT_CALLBACK_CONTROL Control = { (PNPIID)&NPI_WSK_INTERFACE_ID, WSK_EVENT_RECEIVE | WSK_EVENT_RECEIVE_FROM };
    PWSK_SOCKET Datagram;
    REC R;
    OP Op = { 0 };
    uint16_t PeerPort;
    int Udp = PeerUdp(4, &PeerPort);
    USHORT Port;

    RecInit(&R);
    ClientOpen(&C);
    /* The seed's third example: static receive events, NULL IRP, before any socket. */
    CHECK_STATUS(C.Npi.Dispatch->WskControlClient(C.Npi.Client, WSK_SET_STATIC_EVENT_CALLBACKS, sizeof(Control),
                                                  &Control, 0, NULL, NULL, OpStart(&Op)),
                 STATUS_INVALID_PARAMETER);
    CHECK(Op.Completions == 1);
    OpFree(&Op);
    CHECK_STATUS(C.Npi.Dispatch->WskControlClient(C.Npi.Client, WSK_SET_STATIC_EVENT_CALLBACKS, sizeof(Control),
                                                  &Control, 0, NULL, NULL, NULL),
                 STATUS_SUCCESS);
    Datagram = SocketCreate(&C, AF_INET, SOCK_DGRAM, IPPROTO_UDP, WSK_FLAG_DATAGRAM_SOCKET, &R, &RecDatagram);
    CHECK_STATUS(C.Npi.Dispatch->WskControlClient(C.Npi.Client, WSK_SET_STATIC_EVENT_CALLBACKS, sizeof(Control),
                                                  &Control, 0, NULL, NULL, NULL),
                 STATUS_INVALID_DEVICE_STATE);
    CHECK_STATUS(SocketBind(Datagram, AF_INET, 0, FALSE), STATUS_SUCCESS);
    Port = SocketLocalPort(Datagram, WSK_FLAG_DATAGRAM_SOCKET);
    /* Statically enabled: indicated without any SO_WSK_EVENT_CALLBACK, and never disabled. */
    PeerSendTo(Udp, 4, Port, "static", 6);
    CHECK(WaitFor(&R.Datagrams, 1, 3000));
    CHECK(R.Bytes == 6 && !memcmp(R.Data, "static", 6) && R.LastRemotePort == PeerPort);
    CHECK_STATUS(SocketEvents(Datagram, WSK_EVENT_RECEIVE_FROM | WSK_EVENT_DISABLE, NULL),
                 STATUS_INVALID_DEVICE_REQUEST);
    /* A static receive-from event stays on after STATUS_DATA_NOT_ACCEPTED. */
    R.NotAccept = 1;
    PeerSendTo(Udp, 4, Port, "again", 5);
    CHECK(WaitFor(&R.Datagrams, 2, 3000));
    CHECK(R.ReceiveFroms >= 2);
    SocketClose(Datagram);
    ClientClose(&C);
    PeerClose(Udp);
    RecFree(&R);
    CheckQuiescent("TestStaticEvents");
}

/* Learn's per-code IRP and OutputSizeReturned rules (ksim's wsk_util.c), each one provoked: an
 * IRP or an OutputSizeReturned where the rule says NULL is a verifier failure; in strict mode
 * the ignored IRP is never completed (what a client that waits for it would hang on). */
static void
TestControlRules(void)
{
    CLIENT C;
    WSK_EVENT_CALLBACK_CONTROL Static = { (PNPIID)&NPI_WSK_INTERFACE_ID, WSK_EVENT_RECEIVE_FROM };
    WSK_EVENT_CALLBACK_CONTROL Enable = { (PNPIID)&NPI_WSK_INTERFACE_ID, WSK_EVENT_RECEIVE_FROM };
    WSK_EVENT_CALLBACK_CONTROL Disable = { (PNPIID)&NPI_WSK_INTERFACE_ID, WSK_EVENT_RECEIVE_FROM | WSK_EVENT_DISABLE };
    WSK_TRANSPORT Transports[8];
    PWSK_SOCKET Datagram;
    CONST WSK_PROVIDER_BASIC_DISPATCH *Basic;
    REC R;
    OP Op = { 0 };
    SIZE_T Returned;
    ULONG Value = 0;
    uint64_t Before;
    char Message[512];

    RecInit(&R);
    ClientOpen(&C);
    Datagram = SocketCreate(&C, AF_INET, SOCK_DGRAM, IPPROTO_UDP, WSK_FLAG_DATAGRAM_SOCKET, &R, &RecDatagram);
    Basic = (CONST WSK_PROVIDER_BASIC_DISPATCH *)Datagram->Dispatch;
    CHECK_STATUS(SocketBind(Datagram, AF_INET, 0, FALSE), STATUS_SUCCESS);

    /* Allowed shapes: no failure. A NULL-IRP transport query with OutputSizeReturned (its size
     * is not known beforehand; the size probe with no output too), SIO_ADDRESS_LIST_QUERY
     * likewise, a disable with an IRP. */
    Before = VerifierCount();
    CHECK_STATUS(C.Npi.Dispatch->WskControlClient(C.Npi.Client, WSK_TRANSPORT_LIST_QUERY, 0, NULL, 0, NULL, &Returned,
                                                  NULL),
                 STATUS_BUFFER_TOO_SMALL);
    CHECK_STATUS(C.Npi.Dispatch->WskControlClient(C.Npi.Client, WSK_TRANSPORT_LIST_QUERY, 0, NULL, sizeof(Transports),
                                                  Transports, &Returned, NULL),
                 STATUS_SUCCESS);
    CHECK_STATUS(Basic->WskControlSocket(Datagram, WskIoctl, SIO_ADDRESS_LIST_QUERY, 0, 0, NULL, sizeof(Transports),
                                         Transports, &Returned, NULL),
                 STATUS_NOT_SUPPORTED);
    CHECK_STATUS(Basic->WskControlSocket(Datagram, WskSetOption, SO_WSK_EVENT_CALLBACK, SOL_SOCKET, sizeof(Disable),
                                         &Disable, 0, NULL, NULL, OpStart(&Op)),
                 STATUS_SUCCESS);
    CHECK(Op.Completions == 1);
    /* A required IRP missing: refused, not a verifier failure (WSK itself says so). */
    CHECK_STATUS(Basic->WskControlSocket(Datagram, WskIoctl, SIO_WSK_SET_TCP_SILENT_MODE, 0, 0, NULL, 0, NULL, NULL,
                                         NULL),
                 STATUS_INVALID_PARAMETER);
    CHECK(VerifierCount() == Before);

    /* An IRP where the rule says NULL (WSK_SET_STATIC_EVENT_CALLBACKS, WSK_TRANSPORT_LIST_QUERY,
     * enabling with SO_WSK_EVENT_CALLBACK): one failure each. Outside strict mode ksim still
     * completes the IRP, so the test goes on. */
    CHECK_STATUS(C.Npi.Dispatch->WskControlClient(C.Npi.Client, WSK_SET_STATIC_EVENT_CALLBACKS, sizeof(Static),
                                                  &Static, 0, NULL, NULL, OpStart(&Op)),
                 STATUS_INVALID_PARAMETER);
    CHECK(VerifierCount() == Before + 1);
    KsimVerifierLastFailure(Message, sizeof(Message));
    CHECK(strstr(Message, "WskControlClient(code 0x7") && strstr(Message, "must be NULL"));
    CHECK_STATUS(C.Npi.Dispatch->WskControlClient(C.Npi.Client, WSK_TRANSPORT_LIST_QUERY, 0, NULL, sizeof(Transports),
                                                  Transports, NULL, OpStart(&Op)),
                 STATUS_INVALID_PARAMETER);
    CHECK(VerifierCount() == Before + 2);
    CHECK_STATUS(Basic->WskControlSocket(Datagram, WskSetOption, SO_WSK_EVENT_CALLBACK, SOL_SOCKET, sizeof(Enable),
                                         &Enable, 0, NULL, NULL, OpStart(&Op)),
                 STATUS_SUCCESS);
    CHECK(VerifierCount() == Before + 3 && Op.Completions == 1);

    /* OutputSizeReturned where the rule says NULL: with an IRP, with no output, with an
     * output of known size (finding 8's class). */
    CHECK_STATUS(Basic->WskControlSocket(Datagram, WskGetOption, SO_RCVBUF, SOL_SOCKET, 0, NULL, sizeof(Value), &Value,
                                         &Returned, OpStart(&Op)),
                 STATUS_PENDING);
    CHECK_STATUS(OpWait(&Op, 3000), STATUS_SUCCESS);
    CHECK(VerifierCount() == Before + 4);
    KsimVerifierLastFailure(Message, sizeof(Message));
    CHECK(strstr(Message, "OutputSizeReturned") && strstr(Message, "an IRP reports the size"));
    CHECK_STATUS(Basic->WskControlSocket(Datagram, WskSetOption, SO_WSK_EVENT_CALLBACK, SOL_SOCKET, sizeof(Disable),
                                         &Disable, 0, NULL, &Returned, NULL),
                 STATUS_SUCCESS);
    CHECK(VerifierCount() == Before + 5);
    KsimVerifierLastFailure(Message, sizeof(Message));
    CHECK(strstr(Message, "no output") != NULL);
    CHECK_STATUS(Basic->WskControlSocket(Datagram, WskIoctl, SIO_WSK_QUERY_RECEIVE_BACKLOG, 0, 0, NULL, sizeof(SIZE_T),
                                         Transports, &Returned, NULL),
                 STATUS_INVALID_PARAMETER);
    CHECK(VerifierCount() == Before + 6);
    KsimVerifierLastFailure(Message, sizeof(Message));
    CHECK(strstr(Message, "the output size is known") != NULL);

    /* Strict mode: the IRP is ignored. The calls succeed as IRP-less calls and the IRP never
     * completes (a bounded wait, not a hang). */
    KsimSetStrictWsk(1);
    CHECK_STATUS(Basic->WskControlSocket(Datagram, WskSetOption, SO_WSK_EVENT_CALLBACK, SOL_SOCKET, sizeof(Enable),
                                         &Enable, 0, NULL, NULL, OpStart(&Op)),
                 STATUS_SUCCESS);
    CHECK_STATUS(OpWait(&Op, 300), STATUS_TIMEOUT);
    CHECK(Op.Completions == 0 && VerifierCount() == Before + 7);
    OpFree(&Op);
    {
        CLIENT Fresh;
        ClientOpen(&Fresh);
        CHECK_STATUS(Fresh.Npi.Dispatch->WskControlClient(Fresh.Npi.Client, WSK_SET_STATIC_EVENT_CALLBACKS,
                                                          sizeof(Static), &Static, 0, NULL, NULL, OpStart(&Op)),
                     STATUS_SUCCESS);
        CHECK_STATUS(OpWait(&Op, 300), STATUS_TIMEOUT);
        CHECK(Op.Completions == 0 && VerifierCount() == Before + 8);
        OpFree(&Op);
        ClientClose(&Fresh);
    }
    /* A code with no rule on Learn (SO_TYPE): its IRP is ignored too, the value comes back
     * inline, and it is not the client's fault (no failure). */
    Value = 0;
    CHECK_STATUS(Basic->WskControlSocket(Datagram, WskGetOption, SO_TYPE, SOL_SOCKET, 0, NULL, sizeof(Value), &Value,
                                         NULL, OpStart(&Op)),
                 STATUS_SUCCESS);
    CHECK_STATUS(OpWait(&Op, 300), STATUS_TIMEOUT);
    CHECK(Op.Completions == 0 && Value == SOCK_DGRAM && VerifierCount() == Before + 8);
    OpFree(&Op);
    KsimSetStrictWsk(0);

    SocketClose(Datagram);
    ClientClose(&C);
    RecFree(&R);
    CheckQuiescent("TestControlRules");
}

/* WSK_TRANSPORT_LIST_CHANGE: the IRP pends (ksim's transports never change) until IoCancelIrp
 * or WskDeregister; in strict mode only WskDeregister cancels it (all Learn promises), so a
 * client that waits for it before deregistering hangs. */
static void
TestTransportListChange(void)
{
    CLIENT C;
    OP Op = { 0 };
    int Strict;

    for (Strict = 0; Strict <= 1; Strict++) {
        KsimSetStrictWsk(Strict);
        ClientOpen(&C);
        /* No IRP: Learn requires one. */
        CHECK_STATUS(C.Npi.Dispatch->WskControlClient(C.Npi.Client, WSK_TRANSPORT_LIST_CHANGE, 0, NULL, 0, NULL, NULL,
                                                      NULL),
                     STATUS_INVALID_PARAMETER);
        CHECK_STATUS(C.Npi.Dispatch->WskControlClient(C.Npi.Client, WSK_TRANSPORT_LIST_CHANGE, 0, NULL, 0, NULL, NULL,
                                                      OpStart(&Op)),
                     STATUS_PENDING);
        CHECK_STATUS(OpWait(&Op, 200), STATUS_TIMEOUT);
        IoCancelIrp(Op.Irp);
        if (!Strict) {
            CHECK_STATUS(OpWait(&Op, 3000), STATUS_CANCELLED);
            CHECK_STATUS(C.Npi.Dispatch->WskControlClient(C.Npi.Client, WSK_TRANSPORT_LIST_CHANGE, 0, NULL, 0, NULL,
                                                          NULL, OpStart(&Op)),
                         STATUS_PENDING);
        } else {
            CHECK_STATUS(OpWait(&Op, 200), STATUS_TIMEOUT); /* no cancel routine: IoCancelIrp did nothing */
        }
        ClientClose(&C); /* WskDeregister cancels it */
        CHECK_STATUS(OpWait(&Op, 3000), STATUS_CANCELLED);
        CHECK(Op.Completions == 1);
        OpFree(&Op);
    }
    KsimSetStrictWsk(0);
    CheckQuiescent("TestTransportListChange");
}

static void
TestAcceptIrpAndData(int Family)
{
    CLIENT C;
    PWSK_SOCKET Listener, Accepted;
    OP Accept = { 0 }, Op = { 0 };
    SOCKADDR_STORAGE Local, Remote;
    BUF B;
    UCHAR Data[256], Back[256];
    USHORT Port;
    int Peer;

    ClientOpen(&C);
    Listener = SocketCreate(&C, Family == 6 ? AF_INET6 : AF_INET, SOCK_STREAM, IPPROTO_TCP, WSK_FLAG_LISTEN_SOCKET,
                            NULL, NULL);
    CHECK(Listener != NULL);
    /* Accept before bind: the listener is not listening. */
    CHECK_STATUS(Listen(Listener)->WskAccept(Listener, 0, NULL, NULL, NULL, NULL, OpStart(&Accept)),
                 STATUS_INVALID_DEVICE_STATE);
    CHECK(Accept.Completions == 1);
    CHECK_STATUS(SocketBind(Listener, Family == 6 ? AF_INET6 : AF_INET, 0, FALSE), STATUS_SUCCESS);
    CHECK_STATUS(SocketBind(Listener, Family == 6 ? AF_INET6 : AF_INET, 0, FALSE), STATUS_ADDRESS_ALREADY_ASSOCIATED);
    Port = SocketLocalPort(Listener, WSK_FLAG_LISTEN_SOCKET);
    CHECK(Port != 0);
    CHECK_STATUS(Listen(Listener)->WskAccept(Listener, 0, NULL, NULL, (PSOCKADDR)&Local, (PSOCKADDR)&Remote,
                                             OpStart(&Accept)),
                 STATUS_PENDING);
    Peer = PeerConnect(Family, Port);
    CHECK(Peer >= 0);
    CHECK_STATUS(OpWait(&Accept, 5000), STATUS_SUCCESS);
    Accepted = (PWSK_SOCKET)Accept.Irp->IoStatus.Information;
    CHECK(Accepted != NULL);
    CHECK(AddressPort(&Local) == Port && AddressPort(&Remote) != 0);
    CHECK(Local.ss_family == (Family == 6 ? AF_INET6 : AF_INET));

    /* Wine's sequence: receive pending, send 256 bytes, the receive gets the peer's bytes. */
    BufInit(&B, sizeof(Back));
    CHECK_STATUS(Conn(Accepted)->WskReceive(Accepted, &B.Wsk, 0, OpStart(&Op)), STATUS_PENDING);
    Pattern(Data, sizeof(Data), 1);
    CHECK(PeerSendAll(Peer, Data, sizeof(Data)) == (long)sizeof(Data));
    CHECK_STATUS(OpWait(&Op, 5000), STATUS_SUCCESS);
    {
        SIZE_T Got = Op.Irp->IoStatus.Information;
        CHECK(Got > 0 && Got <= sizeof(Data) && !memcmp(B.Data, Data, Got));
        if (Got < sizeof(Data))
            CHECK_STATUS(ReceiveExactly(Accepted, Back, sizeof(Data) - Got), STATUS_SUCCESS);
    }
    CHECK_STATUS(SendAll(Accepted, Data, sizeof(Data)), STATUS_SUCCESS);
    CHECK(PeerRecvAll(Peer, Back, sizeof(Back), 5000) == (long)sizeof(Back) && !memcmp(Back, Data, sizeof(Data)));

    /* A peer's FIN: a receive completes with 0 bytes. */
    PeerShutdownSend(Peer);
    CHECK_STATUS(Conn(Accepted)->WskReceive(Accepted, &B.Wsk, 0, OpStart(&Op)), STATUS_PENDING);
    CHECK_STATUS(OpWait(&Op, 5000), STATUS_SUCCESS);
    CHECK(Op.Irp->IoStatus.Information == 0);
    SocketClose(Accepted);
    /* Closed after our side never sent a FIN: abortive, the peer sees a reset. */
    CHECK(PeerWaitClosed(Peer, 3000) == -1);
    PeerClose(Peer);

    /* Wine: a pending WskAccept is cancelled by closing the listener. */
    CHECK_STATUS(Listen(Listener)->WskAccept(Listener, 0, NULL, NULL, NULL, NULL, OpStart(&Accept)), STATUS_PENDING);
    SocketClose(Listener);
    CHECK_STATUS(OpWait(&Accept, 5000), STATUS_CANCELLED);
    CHECK(Accept.Irp->IoStatus.Information == 0);
    OpFree(&Accept);
    OpFree(&Op);
    BufFree(&B);
    ClientClose(&C);
    CheckQuiescent("TestAcceptIrpAndData");
}

typedef struct _BULK {
    int Fd;
    PUCHAR Send;
    PUCHAR Received;
    SIZE_T Length;
    long Got;
} BULK;

static void
BulkPeer(void *Context)
{
    BULK *K = (BULK *)Context;
    PeerSendAll(K->Fd, K->Send, K->Length);
}

static void
TestConnectAndBulk(void)
{
    CLIENT C;
    PWSK_SOCKET Socket;
    OP Op = { 0 };
    SOCKADDR_STORAGE Remote;
    uint16_t Port;
    int Listener = PeerListen(4, &Port), Peer;
    SIZE_T Length = 2u * 1024u * 1024u;
    PUCHAR Out = ExAllocatePool2(POOL_FLAG_NON_PAGED, Length, 'tseT');
    PUCHAR In = ExAllocatePool2(POOL_FLAG_NON_PAGED, Length, 'tseT');
    PUCHAR PeerIn = ExAllocatePool2(POOL_FLAG_NON_PAGED, Length, 'tseT');
    PUCHAR PeerOut = ExAllocatePool2(POOL_FLAG_NON_PAGED, Length, 'tseT');
    BULK K;
    PEER_THREAD *Thread;

    ClientOpen(&C);
    Socket = SocketCreate(&C, AF_INET, SOCK_STREAM, IPPROTO_TCP, WSK_FLAG_CONNECTION_SOCKET, NULL, NULL);
    /* Wine's test on Windows: connect before bind fails at once and completes the IRP too. */
    MakeAddress(&Remote, AF_INET, Port, FALSE);
    CHECK_STATUS(Conn(Socket)->WskConnect(Socket, (PSOCKADDR)&Remote, 0, OpStart(&Op)), STATUS_INVALID_DEVICE_STATE);
    CHECK(Op.Completions == 1 && Op.Irp->IoStatus.Status == STATUS_INVALID_DEVICE_STATE);
    /* Sending before connect. */
    {
        BUF B;
        BufInit(&B, 4);
        CHECK_STATUS(Conn(Socket)->WskSend(Socket, &B.Wsk, 0, OpStart(&Op)), STATUS_INVALID_DEVICE_STATE);
        BufFree(&B);
    }
    CHECK_STATUS(SocketBind(Socket, AF_INET, 0, TRUE), STATUS_SUCCESS);
    CHECK_STATUS(Conn(Socket)->WskConnect(Socket, (PSOCKADDR)&Remote, 0, OpStart(&Op)), STATUS_PENDING);
    CHECK_STATUS(OpWait(&Op, 5000), STATUS_SUCCESS);
    Peer = PeerAccept(Listener, 3000);
    CHECK(Peer >= 0);
    CHECK_STATUS(Conn(Socket)->WskConnect(Socket, (PSOCKADDR)&Remote, 0, OpStart(&Op)), STATUS_PENDING);
    CHECK_STATUS(OpWait(&Op, 5000), STATUS_CONNECTION_ACTIVE);

    /* Both ways at once, every byte checked. */
    Pattern(Out, Length, 3);
    Pattern(PeerOut, Length, 4);
    K.Fd = Peer;
    K.Send = PeerOut;
    K.Length = Length;
    Thread = PeerThreadStart(BulkPeer, &K);
    CHECK_STATUS(SendAll(Socket, Out, Length), STATUS_SUCCESS);
    CHECK(PeerRecvAll(Peer, PeerIn, Length, 20000) == (long)Length);
    CHECK(!memcmp(PeerIn, Out, Length));
    CHECK_STATUS(ReceiveExactly(Socket, In, Length), STATUS_SUCCESS);
    CHECK(!memcmp(In, PeerOut, Length));
    PeerThreadJoin(Thread);

    /* Graceful disconnect with final data; the peer sees data then EOF. */
    {
        BUF B;
        UCHAR Tail[5];
        BufInit(&B, 3);
        RtlCopyMemory(B.Data, "bye", 3);
        CHECK_STATUS(Conn(Socket)->WskDisconnect(Socket, &B.Wsk, 0, OpStart(&Op)), STATUS_PENDING);
        CHECK_STATUS(OpWait(&Op, 5000), STATUS_SUCCESS);
        CHECK(PeerRecvAll(Peer, Tail, 3, 3000) == 3 && !memcmp(Tail, "bye", 3));
        CHECK(PeerWaitClosed(Peer, 3000) == 1);
        CHECK_STATUS(Conn(Socket)->WskSend(Socket, &B.Wsk, 0, OpStart(&Op)), STATUS_PENDING);
        CHECK_STATUS(OpWait(&Op, 5000), STATUS_INVALID_DEVICE_STATE);
        BufFree(&B);
    }
    PeerClose(Peer);
    SocketClose(Socket);

    /* Refused: nobody listens on the port any more. */
    PeerClose(Listener);
    Socket = SocketCreate(&C, AF_INET, SOCK_STREAM, IPPROTO_TCP, WSK_FLAG_CONNECTION_SOCKET, NULL, NULL);
    CHECK_STATUS(SocketBind(Socket, AF_INET, 0, TRUE), STATUS_SUCCESS);
    CHECK_STATUS(Conn(Socket)->WskConnect(Socket, (PSOCKADDR)&Remote, 0, OpStart(&Op)), STATUS_PENDING);
    CHECK_STATUS(OpWait(&Op, 5000), STATUS_CONNECTION_REFUSED);
    SocketClose(Socket);

    /* The address in use by another socket. */
    {
        PWSK_SOCKET A = SocketCreate(&C, AF_INET, SOCK_STREAM, IPPROTO_TCP, WSK_FLAG_LISTEN_SOCKET, NULL, NULL);
        PWSK_SOCKET B2 = SocketCreate(&C, AF_INET, SOCK_STREAM, IPPROTO_TCP, WSK_FLAG_LISTEN_SOCKET, NULL, NULL);
        CHECK_STATUS(SocketBind(A, AF_INET, 0, FALSE), STATUS_SUCCESS);
        CHECK_STATUS(SocketBind(B2, AF_INET, SocketLocalPort(A, WSK_FLAG_LISTEN_SOCKET), FALSE), STATUS_ADDRESS_ALREADY_EXISTS);
        SocketClose(A);
        SocketClose(B2);
    }
    /* Wine: a listening socket with SOCK_DGRAM is created, and its bind is not implemented. */
    {
        PWSK_SOCKET A = SocketCreate(&C, AF_INET, SOCK_DGRAM, IPPROTO_UDP, WSK_FLAG_LISTEN_SOCKET, NULL, NULL);
        CHECK_STATUS(SocketBind(A, AF_INET, 0, FALSE), STATUS_NOT_IMPLEMENTED);
        SocketClose(A);
    }
    OpFree(&Op);
    ExFreePoolWithTag(Out, 'tseT');
    ExFreePoolWithTag(In, 'tseT');
    ExFreePoolWithTag(PeerIn, 'tseT');
    ExFreePoolWithTag(PeerOut, 'tseT');
    ClientClose(&C);
    CheckQuiescent("TestConnectAndBulk");
}

static void
TestUdp(int Family)
{
    CLIENT C;
    PWSK_SOCKET Socket;
    REC R;
    OP Op = { 0 };
    BUF B;
    SOCKADDR_STORAGE To, From;
    UCHAR Back[64];
    uint16_t PeerPort, FromPort = 0;
    USHORT WFamily = Family == 6 ? AF_INET6 : AF_INET;
    int Udp = PeerUdp(Family, &PeerPort), i;
    USHORT Port;
    ULONG ControlLength = 0, ControlFlags = 0;

    RecInit(&R);
    ClientOpen(&C);
    Socket = SocketCreate(&C, WFamily, SOCK_DGRAM, IPPROTO_UDP, WSK_FLAG_DATAGRAM_SOCKET, &R, &RecDatagram);
    BufInit(&B, 16);
    MakeAddress(&To, WFamily, PeerPort, FALSE);
    CHECK_STATUS(Dgram(Socket)->WskSendTo(Socket, &B.Wsk, 0, (PSOCKADDR)&To, 0, NULL, OpStart(&Op)),
                 STATUS_INVALID_DEVICE_STATE);
    /* Events before bind: too early. */
    CHECK_STATUS(SocketEvents(Socket, WSK_EVENT_RECEIVE_FROM, NULL), STATUS_INVALID_DEVICE_STATE);
    CHECK_STATUS(SocketBind(Socket, WFamily, 0, FALSE), STATUS_SUCCESS);
    Port = SocketLocalPort(Socket, WSK_FLAG_DATAGRAM_SOCKET);

    RtlCopyMemory(B.Data, "0123456789abcdef", 16);
    CHECK_STATUS(Dgram(Socket)->WskSendTo(Socket, &B.Wsk, 0, (PSOCKADDR)&To, 0, NULL, OpStart(&Op)), STATUS_PENDING);
    CHECK_STATUS(OpWait(&Op, 5000), STATUS_SUCCESS);
    CHECK(Op.Irp->IoStatus.Information == 16);
    CHECK(PeerRecvFrom(Udp, Back, sizeof(Back), 3000, &FromPort) == 16 && FromPort == Port &&
          !memcmp(Back, "0123456789abcdef", 16));

    /* IRP receive, with a datagram larger than the buffer. */
    B.Wsk.Length = 8;
    CHECK_STATUS(Dgram(Socket)->WskReceiveFrom(Socket, &B.Wsk, 0, (PSOCKADDR)&From, &ControlLength, NULL,
                                               &ControlFlags, OpStart(&Op)),
                 STATUS_PENDING);
    PeerSendTo(Udp, Family, Port, "a datagram of 25 bytes!!!", 25);
    CHECK_STATUS(OpWait(&Op, 5000), STATUS_BUFFER_OVERFLOW);
    CHECK(Op.Irp->IoStatus.Information == 8 && !memcmp(B.Data, "a datagr", 8) && (ControlFlags & MSG_TRUNC));
    CHECK(AddressPort(&From) == PeerPort && From.ss_family == WFamily);

    /* Events: one indication per datagram or a chain; DATA_NOT_ACCEPTED switches the event
     * off until it is re-enabled, and the refused datagrams come first after that. */
    CHECK_STATUS(SocketEvents(Socket, WSK_EVENT_RECEIVE_FROM, NULL), STATUS_SUCCESS);
    R.NotAccept = 1;
    PeerSendTo(Udp, Family, Port, "one", 3);
    CHECK(WaitFor(&R.ReceiveFroms, 1, 3000));
    PeerSleepMs(50);
    PeerSendTo(Udp, Family, Port, "two", 3);
    PeerSleepMs(100);
    CHECK(R.ReceiveFroms == 1 && R.Datagrams == 0);
    CHECK_STATUS(SocketEvents(Socket, WSK_EVENT_RECEIVE_FROM, NULL), STATUS_SUCCESS);
    CHECK(WaitFor(&R.Datagrams, 2, 3000));
    CHECK(R.Bytes == 6 && !memcmp(R.Data, "onetwo", 6) && R.LastRemotePort == PeerPort);
    CHECK((R.LastFlags & WSK_FLAG_AT_DISPATCH_LEVEL) != 0);
    /* Retained chains are released with WskRelease. */
    R.RetainDatagrams = 1;
    for (i = 0; i < 5; i++)
        PeerSendTo(Udp, Family, Port, "x", 1);
    CHECK(WaitFor(&R.Datagrams, 7, 3000));
    CHECK(R.RetainedDatagrams != NULL);
    if (R.RetainedDatagrams)
        CHECK_STATUS(Dgram(Socket)->WskRelease(Socket, R.RetainedDatagrams), STATUS_SUCCESS);
    CHECK_STATUS(Dgram(Socket)->WskRelease(Socket, R.RetainedDatagrams), STATUS_INVALID_PARAMETER);
    CHECK(WaitFor(&R.Datagrams, 2 + 5, 3000));
    CHECK_STATUS(SocketEvents(Socket, WSK_EVENT_RECEIVE_FROM | WSK_EVENT_DISABLE, NULL), STATUS_SUCCESS);
    SocketClose(Socket);
    OpFree(&Op);
    BufFree(&B);
    ClientClose(&C);
    PeerClose(Udp);
    RecFree(&R);
    CheckQuiescent("TestUdp");
}

static void
TestConnectionEvents(void)
{
    CLIENT C;
    PWSK_SOCKET Socket;
    REC R;
    OP Op = { 0 };
    uint16_t Port;
    int Listener = PeerListen(4, &Port), Peer;
    UCHAR Data[100000];
    SIZE_T Sent;

    RecInit(&R);
    ClientOpen(&C);
    Socket = SocketCreate(&C, AF_INET, SOCK_STREAM, IPPROTO_TCP, WSK_FLAG_CONNECTION_SOCKET, &R, &RecConnection);
    CHECK_STATUS(SocketBind(Socket, AF_INET, 0, TRUE), STATUS_SUCCESS);
    /* Before connect: too early for connection events. */
    CHECK_STATUS(SocketEvents(Socket, WSK_EVENT_RECEIVE, NULL), STATUS_INVALID_DEVICE_STATE);
    {
        SOCKADDR_STORAGE Remote;
        MakeAddress(&Remote, AF_INET, Port, FALSE);
        CHECK_STATUS(Conn(Socket)->WskConnect(Socket, (PSOCKADDR)&Remote, 0, OpStart(&Op)), STATUS_PENDING);
        CHECK_STATUS(OpWait(&Op, 5000), STATUS_SUCCESS);
    }
    Peer = PeerAccept(Listener, 3000);
    /* Wrong kind, disabling two at once, and the seed's first example (several at once). */
    CHECK_STATUS(SocketEvents(Socket, WSK_EVENT_ACCEPT, NULL), STATUS_INVALID_PARAMETER);
    CHECK_STATUS(SocketEvents(Socket, WSK_EVENT_RECEIVE | WSK_EVENT_DISCONNECT | WSK_EVENT_DISABLE, NULL),
                 STATUS_INVALID_PARAMETER);
    CHECK_STATUS(SocketEvents(Socket, WSK_EVENT_DISCONNECT | WSK_EVENT_RECEIVE | WSK_EVENT_SEND_BACKLOG, NULL),
                 STATUS_SUCCESS);
    /* The ideal send backlog is indicated once someone listens. */
    CHECK(WaitFor(&R.Backlogs, 1, 3000));
    CHECK(R.LastBacklog > 0);

    Pattern(Data, sizeof(Data), 9);
    CHECK(PeerSendAll(Peer, Data, sizeof(Data)) == (long)sizeof(Data));
    CHECK(WaitFor(&R.Bytes, (LONG)sizeof(Data), 5000));
    CHECK(!memcmp(R.Data, Data, sizeof(Data)));
    CHECK(!R.WrongIrql && (R.LastFlags & WSK_FLAG_AT_DISPATCH_LEVEL));

    /* Partial acceptance: the rest comes again after a WskReceive completes. */
    R.AcceptAtMost = 10;
    Sent = R.Bytes;
    CHECK(PeerSendAll(Peer, Data, 1000) == 1000);
    CHECK(WaitFor(&R.Bytes, (LONG)Sent + 10, 3000));
    PeerSleepMs(100);
    CHECK(R.Bytes == (LONG)Sent + 10); /* suspended */
    R.AcceptAtMost = 0; /* suspended: no callback runs until the receive below completes */
    {
        BUF B;
        BufInit(&B, 20);
        CHECK_STATUS(Conn(Socket)->WskReceive(Socket, &B.Wsk, 0, OpStart(&Op)), STATUS_PENDING);
        CHECK_STATUS(OpWait(&Op, 3000), STATUS_SUCCESS);
        CHECK(Op.Irp->IoStatus.Information == 20 && !memcmp(B.Data, Data + 10, 20));
        BufFree(&B);
    }
    CHECK(WaitFor(&R.Bytes, (LONG)Sent + 1000 - 20, 3000));
    CHECK(!memcmp(R.Data + Sent + 10, Data + 30, 1000 - 30));

    /* Retained indications until WskRelease. */
    R.RetainNext = 1;
    Sent = R.Bytes;
    CHECK(PeerSendAll(Peer, "keep", 4) == 4);
    CHECK(WaitFor(&R.Bytes, (LONG)Sent + 4, 3000));
    CHECK(R.Retained != NULL);
    if (R.Retained)
        CHECK_STATUS(Conn(Socket)->WskRelease(Socket, R.Retained), STATUS_SUCCESS);

    /* The peer's FIN: a graceful disconnect indication, once. */
    PeerShutdownSend(Peer);
    CHECK(WaitFor(&R.Disconnects, 1, 3000));
    PeerSleepMs(50);
    CHECK(R.Disconnects == 1 && R.Abortive == 0 && R.NullReceives == 0);
    /* Still able to send after a graceful disconnect from the peer. */
    CHECK_STATUS(SendAll(Socket, Data, 10), STATUS_SUCCESS);
    CHECK(PeerRecvAll(Peer, Data + 50000, 10, 3000) == 10);
    PeerCloseReset(Peer);
    CHECK(WaitFor(&R.Abortive, 1, 3000));
    SocketClose(Socket);
    OpFree(&Op);
    PeerClose(Listener);
    ClientClose(&C);
    RecFree(&R);
    CheckQuiescent("TestConnectionEvents");
}

/* STATUS_DATA_NOT_ACCEPTED stops indications and host reads (the peer meets flow control)
 * until a WskReceive completes; a zero-length one re-arms, and the held data comes first. */
static void
TestDataNotAccepted(void)
{
    CLIENT C;
    PWSK_SOCKET Socket;
    REC R;
    OP Op = { 0 };
    BUF Zero;
    uint16_t Port;
    int Listener = PeerListen(4, &Port), Peer;
    SIZE_T Length = 16u * 1024u * 1024u;
    PUCHAR Data = ExAllocatePool2(POOL_FLAG_NON_PAGED, Length, 'tseT');
    long Accepted;

    RecInit(&R);
    ClientOpen(&C);
    Socket = SocketConnectTo(&C, AF_INET, Port, &R, &RecConnection);
    Peer = PeerAccept(Listener, 3000);
    /* Small buffers on both ends keep what TCP holds in flight well under the recorder's
     * capacity (and exercise SO_RCVBUF through WskControlSocket). */
    {
        ULONG Small = 64 * 1024;
        SIZE_T Returned = 1;
        CHECK_STATUS(SocketOption(Socket, WskSetOption, SO_RCVBUF, SOL_SOCKET, &Small, &Returned), STATUS_SUCCESS);
        CHECK(Returned == 0);
        Small = 0;
        CHECK_STATUS(SocketOption(Socket, WskGetOption, SO_RCVBUF, SOL_SOCKET, &Small, &Returned), STATUS_SUCCESS);
        CHECK(Small >= 64 * 1024 && Returned == sizeof(ULONG));
        PeerSetSmallBuffers(Peer, 64 * 1024);
    }
    CHECK_STATUS(SocketEvents(Socket, WSK_EVENT_RECEIVE, NULL), STATUS_SUCCESS);
    Pattern(Data, Length, 5);
    R.NotAccept = 1;
    CHECK(PeerSendAll(Peer, Data, 100) == 100);
    CHECK(WaitFor(&R.Receives, 1, 3000));
    /* The peer keeps sending; with nobody reading, it is stopped by TCP flow control well
     * before 16 MiB. */
    Accepted = PeerSendUntilFull(Peer, Data + 100, Length - 100, 300);
    CHECK(Accepted > 0 && (SIZE_T)Accepted + 100 < REC_CAPACITY);
    CHECK(R.Receives == 1 && R.Bytes == 0);
    /* Zero-length receive: completes at once (data is there) and takes none. */
    BufInit(&Zero, 0);
    Zero.Wsk.Mdl = NULL;
    CHECK_STATUS(Conn(Socket)->WskReceive(Socket, &Zero.Wsk, 0, OpStart(&Op)), STATUS_PENDING);
    CHECK_STATUS(OpWait(&Op, 3000), STATUS_SUCCESS);
    CHECK(Op.Irp->IoStatus.Information == 0);
    CHECK(WaitFor(&R.Bytes, (LONG)(100 + Accepted), 10000));
    CHECK(!memcmp(R.Data, Data, (SIZE_T)(100 + Accepted)));
    BufFree(&Zero);
    PeerClose(Peer);
    CHECK(WaitFor(&R.NullReceives, 0, 10)); /* graceful FIN without the disconnect event: no NULL indication */
    SocketClose(Socket);
    OpFree(&Op);
    PeerClose(Listener);
    ExFreePoolWithTag(Data, 'tseT');
    ClientClose(&C);
    RecFree(&R);
    CheckQuiescent("TestDataNotAccepted");
}

typedef struct _DISABLER {
    PWSK_SOCKET Socket;
    NTSTATUS NoIrp;
} DISABLER;

static void
TestDisableInProgress(void)
{
    CLIENT C;
    PWSK_SOCKET Socket;
    REC R;
    OP Op = { 0 };
    uint16_t Port;
    int Listener = PeerListen(4, &Port), Peer;

    RecInit(&R);
    ClientOpen(&C);
    Socket = SocketConnectTo(&C, AF_INET, Port, &R, &RecConnection);
    Peer = PeerAccept(Listener, 3000);
    CHECK_STATUS(SocketEvents(Socket, WSK_EVENT_RECEIVE | WSK_EVENT_DISCONNECT, NULL), STATUS_SUCCESS);
    /* The seed's second example while a receive callback runs: with an IRP -> PENDING and
     * the IRP completes when the callback returns; without -> STATUS_EVENT_PENDING. */
    R.Block = 1;
    CHECK(PeerSendAll(Peer, "x", 1) == 1);
    CHECK(WaitFor(&R.InCallback, 1, 3000));
    CHECK_STATUS(SocketEvents(Socket, WSK_EVENT_RECEIVE | WSK_EVENT_DISABLE, OpStart(&Op)), STATUS_PENDING);
    PeerSleepMs(50);
    CHECK(!OpCompleted(&Op));
    InterlockedExchange(&R.Block, 0);
    CHECK_STATUS(OpWait(&Op, 3000), STATUS_SUCCESS);

    CHECK_STATUS(SocketEvents(Socket, WSK_EVENT_RECEIVE, NULL), STATUS_SUCCESS);
    R.Block = 1;
    CHECK(PeerSendAll(Peer, "y", 1) == 1);
    CHECK(WaitFor(&R.InCallback, 2, 3000));
    CHECK_STATUS(SocketEvents(Socket, WSK_EVENT_RECEIVE | WSK_EVENT_DISABLE, NULL), STATUS_EVENT_PENDING);
    /* A disable of an event that is not running completes at once, IRP or not. */
    CHECK_STATUS(SocketEvents(Socket, WSK_EVENT_DISCONNECT | WSK_EVENT_DISABLE, OpStart(&Op)), STATUS_SUCCESS);
    CHECK(Op.Completions == 1);
    InterlockedExchange(&R.Block, 0);
    PeerSleepMs(50);
    /* Disabled: new data is not indicated. */
    CHECK(PeerSendAll(Peer, "z", 1) == 1);
    PeerSleepMs(100);
    CHECK(R.Bytes == 2);
    SocketClose(Socket);
    PeerClose(Peer);
    PeerClose(Listener);
    OpFree(&Op);
    ClientClose(&C);
    RecFree(&R);
    CheckQuiescent("TestDisableInProgress");
}

static void
TestAcceptEventInheritance(void)
{
    CLIENT C;
    PWSK_SOCKET Listener;
    REC L, A;
    OP Op = { 0 };
    USHORT Port;
    int Peer1, Peer2, Peer3;
    PWSK_SOCKET IrpAccepted;

    RecInit(&L);
    RecInit(&A);
    ClientOpen(&C);
    Listener = SocketCreate(&C, AF_INET, SOCK_STREAM, IPPROTO_TCP, WSK_FLAG_LISTEN_SOCKET, &L, &RecListen);
    CHECK_STATUS(SocketBind(Listener, AF_INET, 0, FALSE), STATUS_SUCCESS);
    Port = SocketLocalPort(Listener, WSK_FLAG_LISTEN_SOCKET);
    L.AcceptContext = &A;
    L.AcceptDispatch = &RecConnection;
    /* Connection events on the listener: inherited by event-accepted sockets, never
     * disabled there. */
    CHECK_STATUS(SocketEvents(Listener, WSK_EVENT_ACCEPT | WSK_EVENT_RECEIVE | WSK_EVENT_DISCONNECT, NULL),
                 STATUS_SUCCESS);
    CHECK_STATUS(SocketEvents(Listener, WSK_EVENT_RECEIVE | WSK_EVENT_DISABLE, NULL), STATUS_INVALID_DEVICE_REQUEST);
    CHECK_STATUS(SocketEvents(Listener, WSK_EVENT_RECEIVE_FROM, NULL), STATUS_INVALID_PARAMETER);

    Peer1 = PeerConnect(4, Port);
    CHECK(WaitFor(&L.AcceptedCount, 1, 3000));
    CHECK(!L.WrongIrql && (L.LastFlags & WSK_FLAG_AT_DISPATCH_LEVEL));
    CHECK(PeerSendAll(Peer1, "inherit", 7) == 7);
    CHECK(WaitFor(&A.Bytes, 7, 3000));
    CHECK(!memcmp(A.Data, "inherit", 7));
    PeerShutdownSend(Peer1);
    CHECK(WaitFor(&A.Disconnects, 1, 3000));

    /* A queued WskAccept wins over the event, and its socket inherits nothing. */
    CHECK_STATUS(Listen(Listener)->WskAccept(Listener, 0, &A, &RecConnection, NULL, NULL, OpStart(&Op)),
                 STATUS_PENDING);
    Peer2 = PeerConnect(4, Port);
    CHECK_STATUS(OpWait(&Op, 3000), STATUS_SUCCESS);
    IrpAccepted = (PWSK_SOCKET)Op.Irp->IoStatus.Information;
    CHECK(L.Accepts == 1);
    CHECK(PeerSendAll(Peer2, "none", 4) == 4);
    PeerSleepMs(100);
    CHECK(A.Bytes == 7);

    /* Refused by the callback: the provider closes it (the peer sees it go). */
    L.AcceptReturn = STATUS_REQUEST_NOT_ACCEPTED;
    Peer3 = PeerConnect(4, Port);
    CHECK(WaitFor(&L.Accepts, 2, 3000));
    CHECK(PeerWaitClosed(Peer3, 3000) != 0);

    SocketClose(L.AcceptedSockets[0]);
    SocketClose(IrpAccepted);
    SocketClose(Listener);
    PeerClose(Peer1);
    PeerClose(Peer2);
    PeerClose(Peer3);
    OpFree(&Op);
    ClientClose(&C);
    RecFree(&L);
    RecFree(&A);
    CheckQuiescent("TestAcceptEventInheritance");
}

/* WskCloseSocket on the socket a WskAcceptEvent is offering, before that callback returned:
 * a verifier failure (docs/ksim-fidelity.md, "Lifetimes, unload and completion routines"); the
 * close itself still completes and the socket goes. */
static void
TestCloseInsideAcceptEvent(void)
{
    CLIENT C;
    PWSK_SOCKET Listener;
    REC L;
    OP Close = { 0 };
    USHORT Port;
    int Peer;
    uint64_t Before;

    RecInit(&L);
    ClientOpen(&C);
    Listener = SocketCreate(&C, AF_INET, SOCK_STREAM, IPPROTO_TCP, WSK_FLAG_LISTEN_SOCKET, &L, &RecListen);
    CHECK_STATUS(SocketBind(Listener, AF_INET, 0, FALSE), STATUS_SUCCESS);
    Port = SocketLocalPort(Listener, WSK_FLAG_LISTEN_SOCKET);
    CHECK_STATUS(SocketEvents(Listener, WSK_EVENT_ACCEPT, NULL), STATUS_SUCCESS);
    Before = VerifierCount();
    L.CloseInAccept = &Close;
    Peer = PeerConnect(4, Port);
    CHECK(WaitFor(&L.Accepts, 1, 3000));
    CHECK_STATUS(OpWait(&Close, 3000), STATUS_SUCCESS);
    CHECK(VerifierCount() == Before + 1);
    CHECK(PeerWaitClosed(Peer, 3000) != 0);
    SocketClose(Listener);
    PeerClose(Peer);
    OpFree(&Close);
    ClientClose(&C);
    RecFree(&L);
    CheckQuiescent("TestCloseInsideAcceptEvent");
}

/* WskInspectComplete on a request whose WskInspectEvent has not returned yet: a verifier
 * failure (docs/ksim-fidelity.md, "Lifetimes, unload and completion routines") and
 * STATUS_INVALID_DEVICE_STATE; the request is pended once the callback returns Pend, and a
 * WskInspectComplete then decides it. */
static void
TestCompleteInsideInspectEvent(void)
{
    CLIENT C;
    PWSK_SOCKET Listener;
    REC L;
    OP Op = { 0 }, Early = { 0 };
    ULONG On = 1;
    USHORT Port;
    int Peer;
    uint64_t Before;
    WSK_INSPECT_ID Pended;

    RecInit(&L);
    ClientOpen(&C);
    Listener = SocketCreate(&C, AF_INET, SOCK_STREAM, IPPROTO_TCP, WSK_FLAG_LISTEN_SOCKET, &L, &RecListen);
    CHECK_STATUS(Listen(Listener)->WskControlSocket(Listener, WskSetOption, SO_CONDITIONAL_ACCEPT, SOL_SOCKET,
                                                    sizeof(On), &On, 0, NULL, NULL, OpStart(&Op)),
                 STATUS_PENDING);
    CHECK_STATUS(OpWait(&Op, 3000), STATUS_SUCCESS);
    CHECK_STATUS(SocketBind(Listener, AF_INET, 0, FALSE), STATUS_SUCCESS);
    Port = SocketLocalPort(Listener, WSK_FLAG_LISTEN_SOCKET);
    Before = VerifierCount();
    L.Self = Listener;
    L.InspectAction = WskInspectPend;
    L.CompleteInInspect = &Early;
    Peer = PeerConnect(4, Port);
    CHECK(WaitFor(&L.Inspects, 1, 3000));
    CHECK_STATUS(OpWait(&Early, 3000), STATUS_INVALID_DEVICE_STATE);
    CHECK(VerifierCount() == Before + 1);
    /* Pended now: a completion after the return decides it (Reject: the peer is reset). */
    Pended = L.LastInspect;
    CHECK_STATUS(Listen(Listener)->WskInspectComplete(Listener, &Pended, WskInspectReject, OpStart(&Op)),
                 STATUS_PENDING);
    CHECK_STATUS(OpWait(&Op, 3000), STATUS_SUCCESS);
    CHECK(PeerWaitClosed(Peer, 3000) == -1);
    CHECK(L.Accepts == 0 && L.Aborts == 0);
    SocketClose(Listener);
    PeerClose(Peer);
    OpFree(&Op);
    OpFree(&Early);
    ClientClose(&C);
    RecFree(&L);
    CheckQuiescent("TestCompleteInsideInspectEvent");
}

static void
TestConditionalAccept(void)
{
    CLIENT C;
    PWSK_SOCKET Listener;
    REC L, A;
    OP Op = { 0 };
    ULONG On = 1;
    USHORT Port;
    int Peer1, Peer2, Peer3, Peer4;
    WSK_INSPECT_ID Pended;

    RecInit(&L);
    RecInit(&A);
    ClientOpen(&C);
    Listener = SocketCreate(&C, AF_INET, SOCK_STREAM, IPPROTO_TCP, WSK_FLAG_LISTEN_SOCKET, &L, &RecListen);
    /* An IRP is required. */
    CHECK_STATUS(Listen(Listener)->WskControlSocket(Listener, WskSetOption, SO_CONDITIONAL_ACCEPT, SOL_SOCKET,
                                                    sizeof(On), &On, 0, NULL, NULL, NULL),
                 STATUS_INVALID_PARAMETER);
    CHECK_STATUS(Listen(Listener)->WskControlSocket(Listener, WskSetOption, SO_CONDITIONAL_ACCEPT, SOL_SOCKET,
                                                    sizeof(On), &On, 0, NULL, NULL, OpStart(&Op)),
                 STATUS_PENDING);
    CHECK_STATUS(OpWait(&Op, 3000), STATUS_SUCCESS);
    CHECK_STATUS(SocketBind(Listener, AF_INET, 0, FALSE), STATUS_SUCCESS);
    /* Only before bind. */
    CHECK_STATUS(Listen(Listener)->WskControlSocket(Listener, WskSetOption, SO_CONDITIONAL_ACCEPT, SOL_SOCKET,
                                                    sizeof(On), &On, 0, NULL, NULL, OpStart(&Op)),
                 STATUS_INVALID_DEVICE_STATE);
    Port = SocketLocalPort(Listener, WSK_FLAG_LISTEN_SOCKET);
    L.AcceptContext = &A;
    L.AcceptDispatch = &RecConnection;
    CHECK_STATUS(SocketEvents(Listener, WSK_EVENT_ACCEPT, NULL), STATUS_SUCCESS);

    /* Reject: no accept, no abort, the peer is reset. */
    L.InspectAction = WskInspectReject;
    Peer1 = PeerConnect(4, Port);
    CHECK(WaitFor(&L.Inspects, 1, 3000));
    CHECK(PeerWaitClosed(Peer1, 3000) == -1);
    CHECK(L.Accepts == 0 && L.Aborts == 0);

    /* Accept: the accept event follows. */
    L.InspectAction = WskInspectAccept;
    Peer2 = PeerConnect(4, Port);
    CHECK(WaitFor(&L.Accepts, 1, 3000));
    CHECK(L.Inspects == 2 && L.AcceptedCount == 1);

    /* Pend, then WskInspectComplete(Accept). */
    L.InspectAction = WskInspectPend;
    Peer3 = PeerConnect(4, Port);
    CHECK(WaitFor(&L.Inspects, 3, 3000));
    Pended = L.LastInspect;
    PeerSleepMs(50);
    CHECK(L.Accepts == 1);
    CHECK_STATUS(Listen(Listener)->WskInspectComplete(Listener, &Pended, WskInspectAccept, OpStart(&Op)),
                 STATUS_PENDING);
    CHECK_STATUS(OpWait(&Op, 3000), STATUS_SUCCESS);
    CHECK(WaitFor(&L.Accepts, 2, 3000));
    CHECK_STATUS(Listen(Listener)->WskInspectComplete(Listener, &Pended, WskInspectAccept, OpStart(&Op)),
                 STATUS_PENDING);
    CHECK_STATUS(OpWait(&Op, 3000), STATUS_INVALID_PARAMETER);

    /* Pend, then the peer gives up: WskAbortEvent with the same id. */
    Peer4 = PeerConnect(4, Port);
    CHECK(WaitFor(&L.Inspects, 4, 3000));
    Pended = L.LastInspect;
    PeerClose(Peer4);
    CHECK(WaitFor(&L.Aborts, 1, 3000));
    CHECK(L.LastAbort.Key == Pended.Key && L.LastAbort.SerialNumber == Pended.SerialNumber);
    /* Completing an aborted inspection succeeds and establishes nothing. */
    CHECK_STATUS(Listen(Listener)->WskInspectComplete(Listener, &Pended, WskInspectAccept, OpStart(&Op)),
                 STATUS_PENDING);
    CHECK_STATUS(OpWait(&Op, 3000), STATUS_SUCCESS);
    PeerSleepMs(50);
    CHECK(L.Accepts == 2);

    SocketClose(L.AcceptedSockets[0]);
    SocketClose(L.AcceptedSockets[1]);
    SocketClose(Listener);
    PeerClose(Peer1);
    PeerClose(Peer2);
    PeerClose(Peer3);
    OpFree(&Op);
    ClientClose(&C);
    RecFree(&L);
    RecFree(&A);
    CheckQuiescent("TestConditionalAccept");
}

static void
TestCloseCancelsAndVerifier(void)
{
    CLIENT C;
    PWSK_SOCKET Socket;
    OP Receive = { 0 }, Send = { 0 }, Op = { 0 };
    BUF B;
    uint16_t Port;
    int Listener = PeerListen(4, &Port), Peer;
    uint64_t Before;
    SIZE_T Ideal = 0;

    ClientOpen(&C);
    Socket = SocketConnectTo(&C, AF_INET, Port, NULL, NULL);
    Peer = PeerAccept(Listener, 3000);
    BufInit(&B, 64);
    CHECK_STATUS(Conn(Socket)->WskControlSocket(Socket, WskIoctl, SIO_WSK_QUERY_IDEAL_SEND_BACKLOG, 0, 0, NULL,
                                                sizeof(Ideal), &Ideal, NULL, OpStart(&Op)),
                 STATUS_PENDING);
    CHECK_STATUS(OpWait(&Op, 3000), STATUS_SUCCESS);
    CHECK(Ideal > 0 && Op.Irp->IoStatus.Information == sizeof(SIZE_T));
    CHECK_STATUS(Conn(Socket)->WskControlSocket(Socket, WskIoctl, 0x12345678, 0, 0, NULL, 0, NULL, NULL, NULL),
                 STATUS_NOT_SUPPORTED);
    /* Receive flags: unsupported, both exclusive ones, DRAIN with a length. */
    CHECK_STATUS(Conn(Socket)->WskReceive(Socket, &B.Wsk, 0x100, OpStart(&Op)), STATUS_NOT_SUPPORTED);
    CHECK_STATUS(Conn(Socket)->WskReceive(Socket, &B.Wsk, WSK_FLAG_DRAIN, OpStart(&Op)), STATUS_INVALID_PARAMETER);
    CHECK_STATUS(Conn(Socket)->WskReceive(Socket, &B.Wsk, 0, OpStart(&Receive)), STATUS_PENDING);
    SocketClose(Socket);
    CHECK_STATUS(OpWait(&Receive, 3000), STATUS_CANCELLED);
    CHECK(Receive.Irp->IoStatus.Information == 0);
    /* The abortive disconnect of the close reaches the peer. */
    CHECK(PeerWaitClosed(Peer, 3000) == -1);

    /* IoCancelIrp on a pending receive. */
    Socket = SocketConnectTo(&C, AF_INET, Port, NULL, NULL);
    PeerClose(Peer);
    Peer = PeerAccept(Listener, 3000);
    CHECK_STATUS(Conn(Socket)->WskReceive(Socket, &B.Wsk, 0, OpStart(&Receive)), STATUS_PENDING);
    IoCancelIrp(Receive.Irp);
    CHECK_STATUS(OpWait(&Receive, 3000), STATUS_CANCELLED);
    /* A WSK_BUF longer than its MDL is the client's bug (Windows crashes). */
    Before = VerifierCount();
    B.Wsk.Length = 65;
    CHECK_STATUS(Conn(Socket)->WskSend(Socket, &B.Wsk, 0, OpStart(&Send)), STATUS_INVALID_PARAMETER);
    CHECK(VerifierCount() == Before + 1);
    B.Wsk.Length = 64;
    SocketClose(Socket);
    /* Any call after WskCloseSocket is a verifier failure. */
    Before = VerifierCount();
    CHECK_STATUS(Conn(Socket)->WskSend(Socket, &B.Wsk, 0, OpStart(&Send)), STATUS_INVALID_HANDLE);
    CHECK(VerifierCount() == Before + 1);
    PeerClose(Peer);
    PeerClose(Listener);
    OpFree(&Receive);
    OpFree(&Send);
    OpFree(&Op);
    BufFree(&B);
    ClientClose(&C);
    CheckQuiescent("TestCloseCancelsAndVerifier");
}

static void
TestTransportList(void)
{
    CLIENT C;
    WSK_TRANSPORT Transports[8];
    SIZE_T Returned = 0;
    ClientOpen(&C);
    CHECK_STATUS(C.Npi.Dispatch->WskControlClient(C.Npi.Client, WSK_TRANSPORT_LIST_QUERY, 0, NULL, sizeof(WSK_TRANSPORT),
                                                  Transports, &Returned, NULL),
                 STATUS_BUFFER_TOO_SMALL);
    CHECK(Returned == 4 * sizeof(WSK_TRANSPORT));
    CHECK_STATUS(C.Npi.Dispatch->WskControlClient(C.Npi.Client, WSK_TRANSPORT_LIST_QUERY, 0, NULL, sizeof(Transports),
                                                  Transports, &Returned, NULL),
                 STATUS_SUCCESS);
    CHECK(Returned == 4 * sizeof(WSK_TRANSPORT) && Transports[0].SocketType == SOCK_STREAM &&
          Transports[0].Protocol == IPPROTO_TCP && Transports[3].AddressFamily == AF_INET6);
    CHECK_STATUS(C.Npi.Dispatch->WskControlClient(C.Npi.Client, 0x999, 0, NULL, 0, NULL, NULL, NULL),
                 STATUS_NOT_SUPPORTED);
    ClientClose(&C);
}

static void
TestAbortiveDisconnect(void)
{
    CLIENT C;
    PWSK_SOCKET Socket;
    REC R;
    OP Receive = { 0 }, Op = { 0 };
    BUF B;
    uint16_t Port;
    int Listener = PeerListen(4, &Port), Peer;

    RecInit(&R);
    ClientOpen(&C);
    Socket = SocketConnectTo(&C, AF_INET, Port, &R, &RecConnection);
    Peer = PeerAccept(Listener, 3000);
    CHECK_STATUS(SocketEvents(Socket, WSK_EVENT_DISCONNECT, NULL), STATUS_SUCCESS);
    BufInit(&B, 16);
    CHECK_STATUS(Conn(Socket)->WskReceive(Socket, &B.Wsk, 0, OpStart(&Receive)), STATUS_PENDING);
    CHECK_STATUS(Conn(Socket)->WskDisconnect(Socket, NULL, WSK_FLAG_ABORTIVE, OpStart(&Op)), STATUS_PENDING);
    CHECK_STATUS(OpWait(&Op, 3000), STATUS_SUCCESS);
    CHECK_STATUS(OpWait(&Receive, 3000), STATUS_CONNECTION_ABORTED);
    CHECK(PeerWaitClosed(Peer, 3000) == -1);
    CHECK_STATUS(Conn(Socket)->WskSend(Socket, &B.Wsk, 0, OpStart(&Op)), STATUS_PENDING);
    CHECK_STATUS(OpWait(&Op, 3000), STATUS_CONNECTION_ABORTED);
    PeerSleepMs(50);
    CHECK(R.Disconnects == 0 && R.Abortive == 0); /* our own reset is not indicated */
    SocketClose(Socket);
    PeerClose(Peer);
    PeerClose(Listener);
    BufFree(&B);
    OpFree(&Receive);
    OpFree(&Op);
    ClientClose(&C);
    RecFree(&R);
    CheckQuiescent("TestAbortiveDisconnect");
}

static void
TestFaultInjection(void)
{
    CLIENT C;
    OP Op = { 0 };
    PIRP Irp;
    ULONG Nth;
    ClientOpen(&C);
    /* Fail each allocation WskSocket makes in turn: a clean status, nothing left behind. */
    for (Nth = 1; Nth <= 4; Nth++) {
        NTSTATUS Status;
        Irp = OpStart(&Op);
        KsimFailAllocationAfter(Nth);
        Status = C.Npi.Dispatch->WskSocket(C.Npi.Client, AF_INET, SOCK_STREAM, IPPROTO_TCP, WSK_FLAG_LISTEN_SOCKET,
                                           NULL, NULL, NULL, NULL, NULL, Irp);
        KsimFailAllocationAfter(0);
        CHECK(Status == STATUS_PENDING || Status == STATUS_INSUFFICIENT_RESOURCES);
        CHECK_STATUS(OpWait(&Op, 3000) == STATUS_TIMEOUT ? STATUS_TIMEOUT : STATUS_SUCCESS, STATUS_SUCCESS);
        if (NT_SUCCESS(Op.Irp->IoStatus.Status))
            SocketClose((PWSK_SOCKET)Op.Irp->IoStatus.Information);
        else
            CHECK_STATUS(Op.Irp->IoStatus.Status, STATUS_INSUFFICIENT_RESOURCES);
    }
    OpFree(&Op);
    ClientClose(&C);
    CheckQuiescent("TestFaultInjection");
}

static void
TestManyConnections(void)
{
    CLIENT C;
    PWSK_SOCKET Listener;
    OP Accept = { 0 };
    USHORT Port;
    int i, FdsBefore = PeerOpenFds();
    ClientOpen(&C);
    Listener = SocketCreate(&C, AF_INET, SOCK_STREAM, IPPROTO_TCP, WSK_FLAG_LISTEN_SOCKET, NULL, NULL);
    CHECK_STATUS(SocketBind(Listener, AF_INET, 0, FALSE), STATUS_SUCCESS);
    Port = SocketLocalPort(Listener, WSK_FLAG_LISTEN_SOCKET);
    for (i = 0; i < 300; i++) {
        int Peer;
        NTSTATUS Status = Listen(Listener)->WskAccept(Listener, 0, NULL, NULL, NULL, NULL, OpStart(&Accept));
        Peer = PeerConnect(4, Port);
        Status = OpWait(&Accept, 3000);
        if (!NT_SUCCESS(Status) || Peer < 0) {
            CHECK(NT_SUCCESS(Status) && Peer >= 0);
            break;
        }
        PeerClose(Peer);
        SocketClose((PWSK_SOCKET)Accept.Irp->IoStatus.Information);
    }
    SocketClose(Listener);
    OpFree(&Accept);
    ClientClose(&C);
    CheckQuiescent("TestManyConnections");
    CHECK(PeerOpenFds() == FdsBefore);
}

static void
TestListenerCloseWithHeld(void)
{
    CLIENT C;
    PWSK_SOCKET Listener;
    REC L;
    OP Op = { 0 };
    ULONG On = 1;
    USHORT Port;
    int Peer1, Peer2;

    RecInit(&L);
    ClientOpen(&C);
    Listener = SocketCreate(&C, AF_INET6, SOCK_STREAM, IPPROTO_TCP, WSK_FLAG_LISTEN_SOCKET, &L, &RecListen);
    CHECK_STATUS(Listen(Listener)->WskControlSocket(Listener, WskSetOption, SO_CONDITIONAL_ACCEPT, SOL_SOCKET,
                                                    sizeof(On), &On, 0, NULL, NULL, OpStart(&Op)),
                 STATUS_PENDING);
    CHECK_STATUS(OpWait(&Op, 3000), STATUS_SUCCESS);
    On = 0;
    CHECK_STATUS(Listen(Listener)->WskControlSocket(Listener, WskGetOption, SO_CONDITIONAL_ACCEPT, SOL_SOCKET, 0, NULL,
                                                    sizeof(On), &On, NULL, OpStart(&Op)),
                 STATUS_PENDING);
    CHECK_STATUS(OpWait(&Op, 3000), STATUS_SUCCESS);
    CHECK(On == 1 && Op.Irp->IoStatus.Information == sizeof(ULONG));
    CHECK_STATUS(SocketBind(Listener, AF_INET6, 0, FALSE), STATUS_SUCCESS);
    Port = SocketLocalPort(Listener, WSK_FLAG_LISTEN_SOCKET);
    /* One pended, one accepted by inspection but not taken (no accept event, no WskAccept). */
    L.InspectAction = WskInspectPend;
    Peer1 = PeerConnect(6, Port);
    CHECK(WaitFor(&L.Inspects, 1, 3000));
    L.InspectAction = WskInspectAccept;
    Peer2 = PeerConnect(6, Port);
    CHECK(WaitFor(&L.Inspects, 2, 3000));
    SocketClose(Listener);
    CHECK(PeerWaitClosed(Peer1, 3000) == -1);
    CHECK(PeerWaitClosed(Peer2, 3000) == -1);
    CHECK(L.Aborts == 0 && L.Accepts == 0);
    PeerClose(Peer1);
    PeerClose(Peer2);
    OpFree(&Op);
    ClientClose(&C);
    RecFree(&L);
    CheckQuiescent("TestListenerCloseWithHeld");
}

static void
TestStaticPerClient(void)
{
    CLIENT A, B;
    WSK_EVENT_CALLBACK_CONTROL Control = { (PNPIID)&NPI_WSK_INTERFACE_ID, WSK_EVENT_RECEIVE_FROM };
    PWSK_SOCKET SA, SB;
    REC RA, RB;
    uint16_t PeerPort;
    int Udp = PeerUdp(4, &PeerPort);

    RecInit(&RA);
    RecInit(&RB);
    ClientOpen(&A);
    ClientOpen(&B);
    CHECK_STATUS(A.Npi.Dispatch->WskControlClient(A.Npi.Client, WSK_SET_STATIC_EVENT_CALLBACKS, sizeof(Control),
                                                  &Control, 0, NULL, NULL, NULL),
                 STATUS_SUCCESS);
    SA = SocketCreate(&A, AF_INET, SOCK_DGRAM, IPPROTO_UDP, WSK_FLAG_DATAGRAM_SOCKET, &RA, &RecDatagram);
    SB = SocketCreate(&B, AF_INET, SOCK_DGRAM, IPPROTO_UDP, WSK_FLAG_DATAGRAM_SOCKET, &RB, &RecDatagram);
    CHECK_STATUS(SocketBind(SA, AF_INET, 0, FALSE), STATUS_SUCCESS);
    CHECK_STATUS(SocketBind(SB, AF_INET, 0, FALSE), STATUS_SUCCESS);
    PeerSendTo(Udp, 4, SocketLocalPort(SA, WSK_FLAG_DATAGRAM_SOCKET), "a", 1);
    PeerSendTo(Udp, 4, SocketLocalPort(SB, WSK_FLAG_DATAGRAM_SOCKET), "b", 1);
    CHECK(WaitFor(&RA.Datagrams, 1, 3000));
    PeerSleepMs(100);
    CHECK(RB.Datagrams == 0); /* the other registration's sockets are not affected */
    CHECK_STATUS(SocketEvents(SB, WSK_EVENT_RECEIVE_FROM, NULL), STATUS_SUCCESS);
    CHECK(WaitFor(&RB.Datagrams, 1, 3000));
    CHECK_STATUS(SocketEvents(SB, WSK_EVENT_RECEIVE_FROM | WSK_EVENT_DISABLE, NULL), STATUS_SUCCESS);
    SocketClose(SA);
    SocketClose(SB);
    ClientClose(&A);
    ClientClose(&B);
    PeerClose(Udp);
    RecFree(&RA);
    RecFree(&RB);
    CheckQuiescent("TestStaticPerClient");
}

static void
TestResetWithoutDisconnectEvent(void)
{
    CLIENT C;
    PWSK_SOCKET Socket;
    REC R;
    uint16_t Port;
    int Listener = PeerListen(4, &Port), Peer;

    RecInit(&R);
    ClientOpen(&C);
    Socket = SocketConnectTo(&C, AF_INET, Port, &R, &RecConnection);
    Peer = PeerAccept(Listener, 3000);
    CHECK_STATUS(SocketEvents(Socket, WSK_EVENT_RECEIVE, NULL), STATUS_SUCCESS);
    CHECK(PeerSendAll(Peer, "abc", 3) == 3);
    CHECK(WaitFor(&R.Bytes, 3, 3000));
    /* A reset with only receive indications on: one NULL indication (the socket is dead). */
    PeerCloseReset(Peer);
    CHECK(WaitFor(&R.NullReceives, 1, 3000));
    PeerSleepMs(50);
    CHECK(R.NullReceives == 1 && R.Disconnects == 0 && R.Abortive == 0);
    SocketClose(Socket);
    PeerClose(Listener);
    ClientClose(&C);
    RecFree(&R);
    CheckQuiescent("TestResetWithoutDisconnectEvent");
}

static void
TestBacklogInherited(void)
{
    CLIENT C;
    PWSK_SOCKET Listener;
    REC L, A;
    USHORT Port;
    int Peer;

    RecInit(&L);
    RecInit(&A);
    ClientOpen(&C);
    Listener = SocketCreate(&C, AF_INET, SOCK_STREAM, IPPROTO_TCP, WSK_FLAG_LISTEN_SOCKET, &L, &RecListen);
    CHECK_STATUS(SocketBind(Listener, AF_INET, 0, FALSE), STATUS_SUCCESS);
    Port = SocketLocalPort(Listener, WSK_FLAG_LISTEN_SOCKET);
    L.AcceptContext = &A;
    L.AcceptDispatch = &RecConnection;
    CHECK_STATUS(SocketEvents(Listener, WSK_EVENT_ACCEPT | WSK_EVENT_SEND_BACKLOG, NULL), STATUS_SUCCESS);
    Peer = PeerConnect(4, Port);
    CHECK(WaitFor(&L.AcceptedCount, 1, 3000));
    /* The accepted socket inherited the send-backlog event: its first value is indicated. */
    CHECK(WaitFor(&A.Backlogs, 1, 3000));
    CHECK(A.LastBacklog > 0);
    /* Disabling the accept event keeps the inherited set for later accepts. */
    CHECK_STATUS(SocketEvents(Listener, WSK_EVENT_ACCEPT | WSK_EVENT_DISABLE, NULL), STATUS_SUCCESS);
    CHECK_STATUS(SocketEvents(Listener, WSK_EVENT_ACCEPT, NULL), STATUS_SUCCESS);
    {
        int Peer2 = PeerConnect(4, Port);
        CHECK(WaitFor(&L.AcceptedCount, 2, 3000));
        CHECK(WaitFor(&A.Backlogs, 2, 3000));
        SocketClose(L.AcceptedSockets[1]);
        PeerClose(Peer2);
    }
    SocketClose(L.AcceptedSockets[0]);
    SocketClose(Listener);
    PeerClose(Peer);
    ClientClose(&C);
    RecFree(&L);
    RecFree(&A);
    CheckQuiescent("TestBacklogInherited");
}

static void
TestCancelRaces(void)
{
    CLIENT C;
    PWSK_SOCKET Listener, Socket;
    OP Accept = { 0 }, Receive = { 0 };
    BUF B;
    USHORT Port;
    int Peer, i;
    UCHAR Data[4000], Got[4000];

    ClientOpen(&C);
    Listener = SocketCreate(&C, AF_INET, SOCK_STREAM, IPPROTO_TCP, WSK_FLAG_LISTEN_SOCKET, NULL, NULL);
    CHECK_STATUS(SocketBind(Listener, AF_INET, 0, FALSE), STATUS_SUCCESS);
    Port = SocketLocalPort(Listener, WSK_FLAG_LISTEN_SOCKET);
    /* A cancelled WskAccept never takes a connection: the next one gets it. */
    CHECK_STATUS(Listen(Listener)->WskAccept(Listener, 0, NULL, NULL, NULL, NULL, OpStart(&Accept)), STATUS_PENDING);
    IoCancelIrp(Accept.Irp);
    CHECK_STATUS(OpWait(&Accept, 3000), STATUS_CANCELLED);
    Peer = PeerConnect(4, Port);
    CHECK_STATUS(Listen(Listener)->WskAccept(Listener, 0, NULL, NULL, NULL, NULL, OpStart(&Accept)), STATUS_PENDING);
    CHECK_STATUS(OpWait(&Accept, 3000), STATUS_SUCCESS);
    Socket = (PWSK_SOCKET)Accept.Irp->IoStatus.Information;
    /* Receives cancelled while data streams in: no byte is lost or duplicated. */
    Pattern(Data, sizeof(Data), 11);
    BufInit(&B, 100);
    {
        SIZE_T Total = 0;
        for (i = 0; i < 40 && Total < sizeof(Data); i++) {
            NTSTATUS Status;
            CHECK_STATUS(Conn(Socket)->WskReceive(Socket, &B.Wsk, 0, OpStart(&Receive)), STATUS_PENDING);
            if (i % 2 == 0)
                CHECK(PeerSendAll(Peer, Data + i / 2 * 200, 200) == 200);
            IoCancelIrp(Receive.Irp);
            Status = OpWait(&Receive, 3000);
            CHECK(Status == STATUS_SUCCESS || Status == STATUS_CANCELLED);
            if (Status == STATUS_SUCCESS) {
                RtlCopyMemory(Got + Total, B.Data, Receive.Irp->IoStatus.Information);
                Total += Receive.Irp->IoStatus.Information;
            }
        }
        CHECK_STATUS(ReceiveExactly(Socket, Got + Total, sizeof(Data) - Total), STATUS_SUCCESS);
        CHECK(!memcmp(Got, Data, sizeof(Data)));
    }
    SocketClose(Socket);
    SocketClose(Listener);
    PeerClose(Peer);
    BufFree(&B);
    OpFree(&Accept);
    OpFree(&Receive);
    ClientClose(&C);
    CheckQuiescent("TestCancelRaces");
}

static void
TestSocketConnect(void)
{
    CLIENT C;
    OP Op = { 0 };
    SOCKADDR_STORAGE Local, Remote;
    PWSK_SOCKET Socket;
    uint16_t Port;
    int Listener = PeerListen(6, &Port), Peer;
    UCHAR Got[2];

    ClientOpen(&C);
    MakeAddress(&Local, AF_INET6, 0, TRUE);
    MakeAddress(&Remote, AF_INET6, Port, FALSE);
    CHECK_STATUS(C.Npi.Dispatch->WskSocketConnect(C.Npi.Client, SOCK_STREAM, IPPROTO_TCP, (PSOCKADDR)&Local,
                                                  (PSOCKADDR)&Remote, 0, NULL, NULL, NULL, NULL, NULL, OpStart(&Op)),
                 STATUS_PENDING);
    CHECK_STATUS(OpWait(&Op, 3000), STATUS_SUCCESS);
    Socket = (PWSK_SOCKET)Op.Irp->IoStatus.Information;
    CHECK(Socket != NULL);
    Peer = PeerAccept(Listener, 3000);
    if (Socket) {
        CHECK_STATUS(SendAll(Socket, (PUCHAR)"hi", 2), STATUS_SUCCESS);
        CHECK(PeerRecvAll(Peer, Got, 2, 3000) == 2 && !memcmp(Got, "hi", 2));
        SocketClose(Socket);
    }
    PeerClose(Peer);
    PeerClose(Listener);
    /* Refused: the IRP fails and no socket is left behind. */
    CHECK_STATUS(C.Npi.Dispatch->WskSocketConnect(C.Npi.Client, SOCK_STREAM, IPPROTO_TCP, (PSOCKADDR)&Local,
                                                  (PSOCKADDR)&Remote, 0, NULL, NULL, NULL, NULL, NULL, OpStart(&Op)),
                 STATUS_PENDING);
    CHECK_STATUS(OpWait(&Op, 3000), STATUS_CONNECTION_REFUSED);
    CHECK(Op.Irp->IoStatus.Information == 0);
    CHECK_STATUS(C.Npi.Dispatch->WskSocketConnect(C.Npi.Client, SOCK_DGRAM, IPPROTO_UDP, (PSOCKADDR)&Local,
                                                  (PSOCKADDR)&Remote, 0, NULL, NULL, NULL, NULL, NULL, OpStart(&Op)),
                 STATUS_NOT_SUPPORTED);
    OpFree(&Op);
    ClientClose(&C);
    CheckQuiescent("TestSocketConnect");
}

/* ---- throughput figures (not a test): wsk_test bench ---- */

typedef struct _BLAST {
    int Fd;
    int Family;
    uint16_t Port;
    SIZE_T Bytes;
    int Datagrams;
    PUCHAR Buffer;
} BLAST;

static void
BlastTcp(void *Context)
{
    BLAST *K = (BLAST *)Context;
    SIZE_T Done = 0;
    while (Done < K->Bytes) {
        long n = PeerSendAll(K->Fd, K->Buffer, 1u << 20);
        if (n <= 0)
            break;
        Done += (SIZE_T)n;
    }
    PeerShutdownSend(K->Fd);
}

static void
BlastUdp(void *Context)
{
    BLAST *K = (BLAST *)Context;
    int i;
    for (i = 0; i < K->Datagrams; i++) {
        while (PeerSendTo(K->Fd, 4, K->Port, K->Buffer, 64) != 64)
            PeerSleepMs(1);
    }
}

static void
Bench(void)
{
    CLIENT C;
    REC R;
    PWSK_SOCKET Socket;
    uint16_t Port;
    int Listener = PeerListen(4, &Port);
    BLAST K;
    PEER_THREAD *Thread;
    uint64_t Start, Ms;
    SIZE_T Total = 512u * 1024u * 1024u;

    RecInit(&R);
    ClientOpen(&C);
    Socket = SocketConnectTo(&C, AF_INET, Port, &R, &RecConnection);
    K.Fd = PeerAccept(Listener, 3000);
    K.Bytes = Total;
    K.Buffer = ExAllocatePool2(POOL_FLAG_NON_PAGED, 1u << 20, 'tseT');
    CHECK_STATUS(SocketEvents(Socket, WSK_EVENT_RECEIVE | WSK_EVENT_DISCONNECT, NULL), STATUS_SUCCESS);
    R.Bytes = 0;
    Start = PeerNowMs();
    Thread = PeerThreadStart(BlastTcp, &K);
    /* The recorder copies only what fits; counting is what matters here. */
    WaitFor(&R.Disconnects, 1, 120000);
    Ms = PeerNowMs() - Start;
    PeerThreadJoin(Thread);
    fprintf(stderr, "bench: TCP receive events: %llu MiB in %llu ms = %.0f MiB/s, %d indications\n",
            (unsigned long long)(Total >> 20), (unsigned long long)Ms, (double)(Total >> 20) * 1000.0 / (double)Ms,
            (int)R.Receives);
    SocketClose(Socket);
    PeerClose(K.Fd);
    PeerClose(Listener);

    {
        REC D;
        PWSK_SOCKET Datagram;
        int Udp = PeerUdp(4, &Port);
        RecInit(&D);
        Datagram = SocketCreate(&C, AF_INET, SOCK_DGRAM, IPPROTO_UDP, WSK_FLAG_DATAGRAM_SOCKET, &D, &RecDatagram);
        CHECK_STATUS(SocketBind(Datagram, AF_INET, 0, FALSE), STATUS_SUCCESS);
        {
            ULONG Big = 8u << 20;
            SIZE_T Returned;
            CHECK_STATUS(SocketOption(Datagram, WskSetOption, SO_RCVBUF, SOL_SOCKET, &Big, &Returned), STATUS_SUCCESS);
        }
        CHECK_STATUS(SocketEvents(Datagram, WSK_EVENT_RECEIVE_FROM, NULL), STATUS_SUCCESS);
        K.Fd = Udp;
        K.Port = SocketLocalPort(Datagram, WSK_FLAG_DATAGRAM_SOCKET);
        K.Datagrams = 500000;
        Start = PeerNowMs();
        Thread = PeerThreadStart(BlastUdp, &K);
        PeerThreadJoin(Thread);
        WaitFor(&D.Datagrams, K.Datagrams, 3000);
        Ms = PeerNowMs() - Start;
        fprintf(stderr, "bench: UDP 64-byte receive-from events: %d of %d datagrams in %llu ms = %.0f k/s, %d callbacks\n",
                (int)D.Datagrams, K.Datagrams, (unsigned long long)Ms, (double)D.Datagrams / (double)Ms,
                (int)D.ReceiveFroms);
        SocketClose(Datagram);
        PeerClose(Udp);
        RecFree(&D);
    }
    ExFreePoolWithTag(K.Buffer, 'tseT');
    ClientClose(&C);
    RecFree(&R);
}

/* The host runs out of descriptors while a connection waits: the listener must neither spin
 * nor fail, and must accept once a socket is freed. */
static void
TestAcceptOutOfDescriptors(void)
{
    CLIENT C;
    PWSK_SOCKET Listener, Spare;
    OP Accept = { 0 }, Close = { 0 };
    USHORT Port;
    uint64_t Cpu;
    int Peer;

    ClientOpen(&C);
    Listener = SocketCreate(&C, AF_INET, SOCK_STREAM, IPPROTO_TCP, WSK_FLAG_LISTEN_SOCKET, NULL, NULL);
    Spare = SocketCreate(&C, AF_INET, SOCK_DGRAM, IPPROTO_UDP, WSK_FLAG_DATAGRAM_SOCKET, NULL, NULL);
    CHECK_STATUS(SocketBind(Listener, AF_INET, 0, FALSE), STATUS_SUCCESS);
    Port = SocketLocalPort(Listener, WSK_FLAG_LISTEN_SOCKET);
    CHECK_STATUS(Listen(Listener)->WskAccept(Listener, 0, NULL, NULL, NULL, NULL, OpStart(&Accept)), STATUS_PENDING);
    /* Room for exactly one more descriptor: the peer's own socket. */
    if (PeerExhaustFds(1) != 0) {
        fprintf(stderr, "  (skipped: the descriptor limit cannot be lowered here, e.g. under valgrind)\n");
        PeerRestoreFds();
        SocketClose(Spare);
        CHECK_STATUS(Listen(Listener)->WskCloseSocket(Listener, OpStart(&Close)), STATUS_PENDING);
        CHECK_STATUS(OpWait(&Accept, 3000), STATUS_CANCELLED);
        CHECK_STATUS(OpWait(&Close, 3000), STATUS_SUCCESS);
        OpFree(&Close);
        OpFree(&Accept);
        ClientClose(&C);
        return;
    }
    Peer = PeerConnect(4, Port);
    CHECK(Peer >= 0);
    PeerSleepMs(100);
    Cpu = PeerCpuMs();
    PeerSleepMs(300);
    CHECK(PeerCpuMs() - Cpu < 100); /* not spinning on the readable listener */
    CHECK(!OpCompleted(&Accept));
    PeerRestoreFds();
    SocketClose(Spare); /* a descriptor comes back: the listener tries again */
    CHECK_STATUS(OpWait(&Accept, 3000), STATUS_SUCCESS);
    if (NT_SUCCESS(Accept.Irp->IoStatus.Status))
        SocketClose((PWSK_SOCKET)Accept.Irp->IoStatus.Information);
    SocketClose(Listener);
    PeerClose(Peer);
    OpFree(&Accept);
    ClientClose(&C);
    CheckQuiescent("TestAcceptOutOfDescriptors");
}

/* Sockets closed while data streams in with events on and IRPs pending, some from inside
 * their own receive callback: nothing may leak, hang or trip the verifier. */
typedef struct _CHURN {
    REC Rec;
    PWSK_SOCKET Socket;
    OP Close;
    volatile LONG CloseInCallback;
    volatile LONG Closed;
} CHURN;

static NTSTATUS WSKAPI
ChurnReceive(PVOID Context, ULONG Flags, PWSK_DATA_INDICATION Indication, SIZE_T Indicated, SIZE_T *Accepted)
{
    CHURN *K = (CHURN *)Context;
    UNREFERENCED_PARAMETER(Flags);
    UNREFERENCED_PARAMETER(Indication);
    UNREFERENCED_PARAMETER(Accepted);
    InterlockedAdd(&K->Rec.Bytes, (LONG)Indicated);
    if (ReadNoFence(&K->CloseInCallback) && InterlockedExchange(&K->Closed, 1) == 0) {
        NTSTATUS Status = ((CONST WSK_PROVIDER_BASIC_DISPATCH *)K->Socket->Dispatch)->WskCloseSocket(K->Socket, K->Close.Irp);
        if (Status != STATUS_PENDING)
            K->Rec.WrongIrql = TRUE;
    }
    return STATUS_SUCCESS;
}

static CONST WSK_CLIENT_CONNECTION_DISPATCH ChurnDispatch = { ChurnReceive, RecDisconnect, RecBacklog };

typedef struct _FLOOD {
    int Fds[16];
    int Count;
    volatile LONG Stop;
} FLOOD;

static void
FloodPeers(void *Context)
{
    FLOOD *F = (FLOOD *)Context;
    static UCHAR Chunk[8192];
    while (!ReadNoFence(&F->Stop)) {
        int i;
        for (i = 0; i < F->Count; i++)
            if (F->Fds[i] >= 0)
                (VOID) PeerSendUntilFull(F->Fds[i], Chunk, sizeof(Chunk), 1);
        PeerSleepMs(1);
    }
}

static void
TestCloseDuringTraffic(void)
{
    CLIENT C;
    CHURN *K;
    FLOOD F;
    BUF B;
    OP Receives[16];
    uint16_t Port;
    int Listener = PeerListen(4, &Port), i;
    PEER_THREAD *Thread;
    uint64_t Verifier = VerifierCount();

    K = (CHURN *)ExAllocatePool2(POOL_FLAG_NON_PAGED, sizeof(CHURN) * 16, 'tseT');
    RtlZeroMemory(Receives, sizeof(Receives));
    BufInit(&B, 512);
    ClientOpen(&C);
    F.Count = 16;
    F.Stop = 0;
    for (i = 0; i < 16; i++) {
        RecInit(&K[i].Rec);
        K[i].Socket = SocketConnectTo(&C, AF_INET, Port, &K[i], &ChurnDispatch);
        F.Fds[i] = PeerAccept(Listener, 3000);
        OpStart(&K[i].Close);
        CHECK_STATUS(SocketEvents(K[i].Socket, WSK_EVENT_RECEIVE | WSK_EVENT_DISCONNECT | WSK_EVENT_SEND_BACKLOG, NULL),
                     STATUS_SUCCESS);
        if (i % 3 == 0)
            CHECK_STATUS(Conn(K[i].Socket)->WskReceive(K[i].Socket, &B.Wsk, WSK_FLAG_WAITALL, OpStart(&Receives[i])),
                         STATUS_PENDING);
    }
    Thread = PeerThreadStart(FloodPeers, &F);
    PeerSleepMs(50);
    for (i = 0; i < 16; i++) {
        if (i % 2 == 0) {
            InterlockedExchange(&K[i].CloseInCallback, 1);
        } else if (InterlockedExchange(&K[i].Closed, 1) == 0) {
            CHECK_STATUS(((CONST WSK_PROVIDER_BASIC_DISPATCH *)K[i].Socket->Dispatch)->WskCloseSocket(K[i].Socket,
                                                                                                   K[i].Close.Irp),
                         STATUS_PENDING);
        }
        PeerSleepMs(3);
    }
    for (i = 0; i < 16; i++) {
        CHECK_STATUS(OpWait(&K[i].Close, 5000), STATUS_SUCCESS);
        if (Receives[i].Irp) {
            NTSTATUS Status = OpWait(&Receives[i], 5000);
            CHECK(Status == STATUS_SUCCESS || Status == STATUS_CANCELLED);
            OpFree(&Receives[i]);
        }
        CHECK(!K[i].Rec.WrongIrql);
    }
    InterlockedExchange(&F.Stop, 1);
    PeerThreadJoin(Thread);
    for (i = 0; i < 16; i++) {
        PeerClose(F.Fds[i]);
        OpFree(&K[i].Close);
        RecFree(&K[i].Rec);
    }
    PeerClose(Listener);
    BufFree(&B);
    ExFreePoolWithTag(K, 'tseT');
    ClientClose(&C);
    CHECK(VerifierCount() == Verifier);
    CheckQuiescent("TestCloseDuringTraffic");
}

int
main(int argc, char **argv)
{
    int FdsBefore, FdsAfter;
    KsimVerifierSetAbortOnFailure(0);
    PeerWatchdog(600);
    if (argc > 1 && !strcmp(argv[1], "bench")) {
        Bench();
        return Failures ? 1 : 0;
    }
    FdsBefore = PeerOpenFds();
#define RUN(Test)                                                      \
    do {                                                               \
        int Before = Failures;                                         \
        Test;                                                          \
        fprintf(stderr, "%s %s\n", Failures == Before ? "ok  " : "FAIL", #Test); \
    } while (0)
    RUN(TestRegistration());
    RUN(TestTransportList());
    RUN(TestStaticEvents());
    RUN(TestControlRules());
    RUN(TestTransportListChange());
    RUN(TestAcceptIrpAndData(4));
    RUN(TestAcceptIrpAndData(6));
    RUN(TestConnectAndBulk());
    RUN(TestUdp(4));
    RUN(TestUdp(6));
    RUN(TestConnectionEvents());
    RUN(TestDataNotAccepted());
    RUN(TestDisableInProgress());
    RUN(TestAcceptEventInheritance());
    RUN(TestCloseInsideAcceptEvent());
    RUN(TestConditionalAccept());
    RUN(TestCompleteInsideInspectEvent());
    RUN(TestCloseCancelsAndVerifier());
    RUN(TestAbortiveDisconnect());
    RUN(TestFaultInjection());
    RUN(TestManyConnections());
    RUN(TestListenerCloseWithHeld());
    RUN(TestStaticPerClient());
    RUN(TestResetWithoutDisconnectEvent());
    RUN(TestBacklogInherited());
    RUN(TestCancelRaces());
    RUN(TestSocketConnect());
    RUN(TestAcceptOutOfDescriptors());
    RUN(TestCloseDuringTraffic());
    FdsAfter = PeerOpenFds();
    CHECK(FdsAfter == FdsBefore);
    fprintf(stderr, "wsk_test: %d checks, %d failures (fds %d -> %d)\n", Checks, Failures, FdsBefore, FdsAfter);
    return Failures ? 1 : 0;
}

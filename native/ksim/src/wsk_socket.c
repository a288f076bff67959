/* SPDX-License-Identifier: MIT
 *
 * ksim WSK provider: the socket-level routines of the five provider dispatch tables. Each one
 * validates, changes state or queues its IRP under the provider lock, and leaves host I/O,
 * callbacks and completions to the network thread (wsk_engine.c).
 *
 * Result conventions (docs/ksim-fidelity.md lists each status):
 *  - No IRP where one is required: STATUS_INVALID_PARAMETER, returned, nothing completed.
 *  - Invalid parameters and the documented synchronous failures (connect before bind): the
 *    IRP is completed inline with the status, which is also returned (an I/O routine that
 *    does not return STATUS_PENDING has completed its IRP).
 *  - Everything else returns STATUS_PENDING and completes the IRP later, even when the
 *    result is known at once (what Windows does, per Wine's test).
 */
#include "wsk_internal.h"

#define KSIM_WSK_TAKE_IRP(Irp)                      \
    do {                                            \
        if (!(Irp) || !KsimWskIrpTake(Irp))         \
            return STATUS_INVALID_PARAMETER;        \
    } while (0)

static ULONG
KsimWskPopCount(_In_ ULONG Value)
{
    return (ULONG)__builtin_popcount(Value);
}

/* The event bits that make the provider call this socket's own dispatch table. */
static ULONG
KsimWskOwnEvents(_In_ KSIM_WSK_SOCKET *Socket)
{
    switch (Socket->Kind) {
    case WSK_FLAG_LISTEN_SOCKET:
        return WSK_EVENT_ACCEPT;
    case WSK_FLAG_CONNECTION_SOCKET:
        return KSIM_WSK_CONNECTION_EVENTS;
    case WSK_FLAG_DATAGRAM_SOCKET:
        return WSK_EVENT_RECEIVE_FROM;
    default:
        return 0;
    }
}

static ULONG
KsimWskValidEvents(_In_ KSIM_WSK_SOCKET *Socket)
{
    switch (Socket->Kind) {
    case WSK_FLAG_LISTEN_SOCKET:
        return KSIM_WSK_LISTEN_EVENTS;
    case WSK_FLAG_CONNECTION_SOCKET:
        return KSIM_WSK_CONNECTION_EVENTS;
    case WSK_FLAG_DATAGRAM_SOCKET:
        return KSIM_WSK_DATAGRAM_EVENTS;
    default:
        return 0;
    }
}

/* Does the client's dispatch table have a routine for each of these events? */
static BOOLEAN
KsimWskDispatchHas(_In_ KSIM_WSK_SOCKET *Socket, _In_ ULONG Events)
{
    if (!Events)
        return TRUE;
    if (!Socket->Dispatch)
        return FALSE;
    switch (Socket->Kind) {
    case WSK_FLAG_LISTEN_SOCKET: {
        CONST WSK_CLIENT_LISTEN_DISPATCH *D = (CONST WSK_CLIENT_LISTEN_DISPATCH *)Socket->Dispatch;
        return !(Events & WSK_EVENT_ACCEPT) || D->WskAcceptEvent;
    }
    case WSK_FLAG_CONNECTION_SOCKET: {
        CONST WSK_CLIENT_CONNECTION_DISPATCH *D = (CONST WSK_CLIENT_CONNECTION_DISPATCH *)Socket->Dispatch;
        return (!(Events & WSK_EVENT_RECEIVE) || D->WskReceiveEvent) &&
               (!(Events & WSK_EVENT_DISCONNECT) || D->WskDisconnectEvent) &&
               (!(Events & WSK_EVENT_SEND_BACKLOG) || D->WskSendBacklogEvent);
    }
    case WSK_FLAG_DATAGRAM_SOCKET:
        return ((CONST WSK_CLIENT_DATAGRAM_DISPATCH *)Socket->Dispatch)->WskReceiveFromEvent != NULL;
    default:
        return FALSE;
    }
}

/* ---- WskControlSocket ---- */

static NTSTATUS
KsimWskControlDone(_Inout_opt_ PIRP Irp, _Inout_opt_ KSIM_WSK_REQUEST *Request, _In_ NTSTATUS Status,
                   _In_ SIZE_T Returned, _Out_opt_ SIZE_T *OutputSizeReturned)
{
    if (OutputSizeReturned && !Irp)
        *OutputSizeReturned = NT_SUCCESS(Status) ? Returned : 0;
    if (!Irp)
        return Status;
    if (Request && NT_SUCCESS(Status))
        return KsimWskRequestCompleteLater(Request, Status, Returned);
    if (Request)
        KsimWskRequestFree(Request);
    return KsimWskIrpCompleteInline(Irp, Status, NT_SUCCESS(Status) ? Returned : 0);
}

static NTSTATUS
KsimWskEventCallbackControl(_Inout_ KSIM_WSK_SOCKET *Socket, _In_ SIZE_T InputSize, _In_opt_ PVOID InputBuffer,
                            _Inout_opt_ PIRP Irp)
{
    PWSK_EVENT_CALLBACK_CONTROL Control = (PWSK_EVENT_CALLBACK_CONTROL)InputBuffer;
    KSIM_WSK_REQUEST *Waiter = NULL;
    NTSTATUS Status = STATUS_SUCCESS;
    ULONG Mask, Bits, Valid = KsimWskValidEvents(Socket);
    KIRQL OldIrql;

    if (!Control || InputSize < sizeof(*Control) || !Control->NpiId ||
        !RtlEqualMemory(Control->NpiId, &NPI_WSK_INTERFACE_ID, sizeof(NPIID)))
        return KsimWskControlDone(Irp, NULL, STATUS_INVALID_PARAMETER, 0, NULL);
    Mask = Control->EventMask;
    Bits = Mask & ~WSK_EVENT_DISABLE;
    if (Irp && (Mask & WSK_EVENT_DISABLE)) {
        Waiter = KsimWskRequestAllocate(Irp, Socket, KsimWskRequestDisableWait);
        if (!Waiter)
            return KsimWskControlDone(Irp, NULL, STATUS_INSUFFICIENT_RESOURCES, 0, NULL);
    }

    KsimWskLock(&OldIrql);
    /* Timing (wsk-facts 3.1): listening and datagram sockets after bind, connection sockets
     * after connect (or accept). */
    if (!Valid || !Bits || (Bits & ~Valid)) {
        Status = STATUS_INVALID_PARAMETER;
    } else if ((Socket->Kind == WSK_FLAG_CONNECTION_SOCKET && !(Socket->State & KSIM_WSK_S_CONNECTED)) ||
               (Socket->Kind != WSK_FLAG_CONNECTION_SOCKET && !(Socket->State & KSIM_WSK_S_BOUND))) {
        Status = STATUS_INVALID_DEVICE_STATE;
    } else if (Mask & WSK_EVENT_DISABLE) {
        /* One event per disable (the seed: "must disable each event callback individually"). */
        if (KsimWskPopCount(Bits) != 1 || (Mask & ~(WSK_EVENT_DISABLE | Valid))) {
            Status = STATUS_INVALID_PARAMETER;
        } else if (Socket->Kind == WSK_FLAG_LISTEN_SOCKET && (Bits & KSIM_WSK_CONNECTION_EVENTS)) {
            /* Connection events enabled on a listener can never be disabled there. */
            Status = (Socket->InheritEvents & Bits) ? STATUS_INVALID_DEVICE_REQUEST : STATUS_SUCCESS;
        } else if (Socket->StaticEvents & Bits) {
            Status = STATUS_INVALID_DEVICE_REQUEST;
        } else {
            Socket->Events &= ~Bits;
            if (Socket->InProgress & Bits) {
                if (Waiter) {
                    Waiter->EventBit = Bits;
                    KsimWskRequestQueue(Waiter, &Socket->DisableWaiters);
                    Waiter = NULL;
                    Status = STATUS_PENDING;
                } else {
                    Status = STATUS_EVENT_PENDING;
                }
            }
            KsimWskMarkDirty(Socket);
        }
    } else if (!KsimWskDispatchHas(Socket, Bits & KsimWskOwnEvents(Socket))) {
        /* The socket's client dispatch table lacks a routine for an event being enabled. */
        Status = STATUS_INVALID_PARAMETER;
    } else {
        if (Socket->Kind == WSK_FLAG_LISTEN_SOCKET) {
            Socket->InheritEvents |= Bits & KSIM_WSK_CONNECTION_EVENTS;
            Socket->Events |= Bits & WSK_EVENT_ACCEPT;
        } else {
            Socket->Events |= Bits;
        }
        /* The first indication of the ideal send backlog is due as soon as someone listens. */
        if (Socket->Kind == WSK_FLAG_CONNECTION_SOCKET && (Bits & WSK_EVENT_SEND_BACKLOG))
            Socket->BacklogIndicate = TRUE;
        KsimWskMarkDirty(Socket);
    }
    KsimWskUnlock(OldIrql);
    KsimWskWake();

    if (Status == STATUS_PENDING)
        return STATUS_PENDING;
    if (Waiter)
        KsimWskRequestFree(Waiter);
    return KsimWskControlDone(Irp, NULL, Status, 0, NULL);
}

/* Maps a Windows (Level, option) to the host layer's option. */
static int
KsimWskHostOption(_In_ KSIM_WSK_SOCKET *Socket, _In_ ULONG Level, _In_ ULONG Code)
{
    if (Level == SOL_SOCKET) {
        switch (Code) {
        case SO_REUSEADDR:
            return HOST_NET_OPT_REUSEADDR;
        case SO_KEEPALIVE:
            return HOST_NET_OPT_KEEPALIVE;
        case SO_RCVBUF:
            return HOST_NET_OPT_RCVBUF;
        case SO_SNDBUF:
            return HOST_NET_OPT_SNDBUF;
        case SO_BROADCAST:
            return HOST_NET_OPT_BROADCAST;
        case SO_OOBINLINE:
            return HOST_NET_OPT_OOBINLINE;
        default:
            return 0;
        }
    }
    if (Level == IPPROTO_TCP && Code == TCP_NODELAY && Socket->Type == SOCK_STREAM)
        return HOST_NET_OPT_TCP_NODELAY;
    if (Level == IPPROTO_IPV6 && Code == IPV6_V6ONLY && Socket->Family == AF_INET6)
        return HOST_NET_OPT_IPV6_V6ONLY;
    return 0;
}

static NTSTATUS WSKAPI
KsimWskControlSocket(_In_ PWSK_SOCKET WskSocket, _In_ WSK_CONTROL_SOCKET_TYPE RequestType, _In_ ULONG ControlCode,
                     _In_ ULONG Level, _In_ SIZE_T InputSize, _In_reads_bytes_opt_(InputSize) PVOID InputBuffer,
                     _In_ SIZE_T OutputSize, _Out_writes_bytes_opt_(OutputSize) PVOID OutputBuffer,
                     _Out_opt_ SIZE_T *OutputSizeReturned, _Inout_opt_ PIRP Irp)
{
    KSIM_WSK_SOCKET *Socket;
    KSIM_WSK_REQUEST *Request = NULL;
    NTSTATUS Status = STATUS_SUCCESS;
    SIZE_T Returned = 0;
    KIRQL OldIrql;

    /* Learn's per-code IRP and OutputSizeReturned rules (wsk_util.c), before the IRP is taken:
     * an ignored IRP is one netio never looks at. A missing required IRP gets the status of
     * every IRP-less call that needs one. */
    if (!KsimWskControlRules("WskControlSocket", (ULONG)RequestType, Level, ControlCode, InputSize, InputBuffer,
                                OutputSize, OutputSizeReturned, &Irp))
        return STATUS_INVALID_PARAMETER;
    if (Irp && !KsimWskIrpTake(Irp))
        return STATUS_INVALID_PARAMETER;
    Socket = KsimWskSocketFromClient(WskSocket, "WskControlSocket");
    if (!Socket)
        return KsimWskControlDone(Irp, NULL, STATUS_INVALID_HANDLE, 0, OutputSizeReturned);
    if (RequestType >= WskControlMax)
        return KsimWskControlDone(Irp, NULL, STATUS_INVALID_PARAMETER, 0, OutputSizeReturned);

    if (RequestType == WskSetOption && Level == SOL_SOCKET && ControlCode == SO_WSK_EVENT_CALLBACK)
        return KsimWskEventCallbackControl(Socket, InputSize, InputBuffer, Irp);

    if (Irp) {
        Request = KsimWskRequestAllocate(Irp, Socket, KsimWskRequestComplete);
        if (!Request)
            return KsimWskControlDone(Irp, NULL, STATUS_INSUFFICIENT_RESOURCES, 0, OutputSizeReturned);
    }

    if (Level == SOL_SOCKET && ControlCode == SO_CONDITIONAL_ACCEPT && RequestType != WskIoctl) {
        /* The IRP, required for set and get (wsk-facts 3.4), is there: KsimWskControlRules. */
        if (Socket->Kind != WSK_FLAG_LISTEN_SOCKET)
            return KsimWskControlDone(Irp, Request, STATUS_INVALID_DEVICE_REQUEST, 0, NULL);
        if (RequestType == WskSetOption) {
            if (!InputBuffer || InputSize < sizeof(ULONG))
                return KsimWskControlDone(Irp, Request, STATUS_INVALID_PARAMETER, 0, NULL);
            KsimWskLock(&OldIrql);
            if (Socket->State & KSIM_WSK_S_BOUND)
                Status = STATUS_INVALID_DEVICE_STATE; /* only before bind */
            else
                Socket->ConditionalAccept = *(ULONG *)InputBuffer != 0;
            KsimWskUnlock(OldIrql);
            return KsimWskControlDone(Irp, Request, Status, 0, NULL);
        }
        if (!OutputBuffer || OutputSize < sizeof(ULONG))
            return KsimWskControlDone(Irp, Request, STATUS_BUFFER_TOO_SMALL, 0, NULL);
        *(ULONG *)OutputBuffer = Socket->ConditionalAccept ? 1 : 0;
        return KsimWskControlDone(Irp, Request, STATUS_SUCCESS, sizeof(ULONG), NULL);
    }

    if (RequestType == WskIoctl) {
        switch (ControlCode) {
        case SIO_WSK_QUERY_IDEAL_SEND_BACKLOG:
        case SIO_WSK_QUERY_RECEIVE_BACKLOG: {
            BOOLEAN Ideal = ControlCode == SIO_WSK_QUERY_IDEAL_SEND_BACKLOG;
            if (Socket->Kind != WSK_FLAG_CONNECTION_SOCKET && (Ideal || Socket->Kind != WSK_FLAG_DATAGRAM_SOCKET))
                return KsimWskControlDone(Irp, Request, STATUS_INVALID_DEVICE_REQUEST, 0, NULL);
            if (!OutputBuffer || OutputSize < sizeof(SIZE_T))
                return KsimWskControlDone(Irp, Request, STATUS_BUFFER_TOO_SMALL, 0, NULL);
            KsimWskLock(&OldIrql);
            if (Socket->Kind == WSK_FLAG_CONNECTION_SOCKET && !(Socket->State & KSIM_WSK_S_CONNECTED))
                Status = STATUS_INVALID_DEVICE_STATE;
            else if (Socket->Kind == WSK_FLAG_DATAGRAM_SOCKET && !(Socket->State & KSIM_WSK_S_BOUND))
                Status = STATUS_INVALID_DEVICE_STATE;
            else if (Ideal)
                *(SIZE_T *)OutputBuffer = Socket->IdealBacklog = KsimWskIdealBacklog(Socket);
            else
                *(SIZE_T *)OutputBuffer = KsimWskReceiveBacklog(Socket);
            KsimWskUnlock(OldIrql);
            return KsimWskControlDone(Irp, Request, Status, sizeof(SIZE_T), NULL);
        }
        case SIO_WSK_SET_REMOTE_ADDRESS: {
            HOST_NET_ADDRESS Remote;
            if (Socket->Kind != WSK_FLAG_DATAGRAM_SOCKET)
                return KsimWskControlDone(Irp, Request, STATUS_INVALID_DEVICE_REQUEST, 0, OutputSizeReturned);
            if (!InputBuffer || InputSize < sizeof(SOCKADDR_IN) ||
                (Socket->Family == AF_INET6 && InputSize < sizeof(SOCKADDR_IN6)))
                return KsimWskControlDone(Irp, Request, STATUS_INVALID_PARAMETER, 0, OutputSizeReturned);
            Status = KsimWskAddressToHost((CONST SOCKADDR *)InputBuffer, Socket->Family, &Remote);
            if (!NT_SUCCESS(Status))
                return KsimWskControlDone(Irp, Request, Status, 0, OutputSizeReturned);
            KsimWskLock(&OldIrql);
            if (!(Socket->State & KSIM_WSK_S_BOUND)) {
                Status = STATUS_INVALID_DEVICE_STATE;
            } else {
                Status = KsimWskStatusFromHost(KsimNetConnect(Socket->Host, &Remote));
                if (NT_SUCCESS(Status)) {
                    Socket->Remote = Remote;
                    Socket->State |= KSIM_WSK_S_REMOTE_SET;
                }
            }
            KsimWskUnlock(OldIrql);
            return KsimWskControlDone(Irp, Request, Status, 0, OutputSizeReturned);
        }
        default:
            return KsimWskControlDone(Irp, Request, STATUS_NOT_SUPPORTED, 0, OutputSizeReturned);
        }
    }

    /* Plain options. */
    if (Level == SOL_SOCKET && ControlCode == (ULONG)SO_EXCLUSIVEADDRUSE) {
        if (RequestType == WskSetOption) {
            if (!InputBuffer || InputSize < sizeof(ULONG))
                return KsimWskControlDone(Irp, Request, STATUS_INVALID_PARAMETER, 0, OutputSizeReturned);
            Socket->ExclusiveAddressUse = *(ULONG *)InputBuffer != 0;
            return KsimWskControlDone(Irp, Request, STATUS_SUCCESS, 0, OutputSizeReturned);
        }
        if (!OutputBuffer || OutputSize < sizeof(ULONG))
            return KsimWskControlDone(Irp, Request, STATUS_BUFFER_TOO_SMALL, 0, OutputSizeReturned);
        *(ULONG *)OutputBuffer = Socket->ExclusiveAddressUse;
        return KsimWskControlDone(Irp, Request, STATUS_SUCCESS, sizeof(ULONG), OutputSizeReturned);
    }
    if (Level == SOL_SOCKET && RequestType == WskGetOption && (ControlCode == SO_TYPE || ControlCode == SO_ERROR)) {
        if (!OutputBuffer || OutputSize < sizeof(ULONG))
            return KsimWskControlDone(Irp, Request, STATUS_BUFFER_TOO_SMALL, 0, OutputSizeReturned);
        if (ControlCode == SO_TYPE) {
            *(ULONG *)OutputBuffer = Socket->Type;
        } else {
            /* SO_ERROR is a Winsock error number; ksim reports 0 or the generic WSAECONNRESET
             * (10054) for a dead socket. */
            *(ULONG *)OutputBuffer = (ReadNoFence(&Socket->State) & KSIM_WSK_S_DEAD) ? 10054u : 0u;
        }
        return KsimWskControlDone(Irp, Request, STATUS_SUCCESS, sizeof(ULONG), OutputSizeReturned);
    }
    {
        int Option = KsimWskHostOption(Socket, Level, ControlCode);
        int Value = 0;
        if (!Option)
            return KsimWskControlDone(Irp, Request, STATUS_NOT_SUPPORTED, 0, OutputSizeReturned);
        if (RequestType == WskSetOption) {
            if (!InputBuffer || InputSize < sizeof(ULONG))
                return KsimWskControlDone(Irp, Request, STATUS_INVALID_PARAMETER, 0, OutputSizeReturned);
            KsimWskLock(&OldIrql);
            if (Option == HOST_NET_OPT_IPV6_V6ONLY && (Socket->State & KSIM_WSK_S_BOUND))
                Status = STATUS_INVALID_DEVICE_STATE;
            else if (Socket->Host == HOST_NET_INVALID_SOCKET)
                Status = Socket->DeadStatus ? Socket->DeadStatus : STATUS_INVALID_DEVICE_STATE;
            else
                Status = KsimWskStatusFromHost(KsimNetSetOption(Socket->Host, Option, (int)*(ULONG *)InputBuffer));
            KsimWskUnlock(OldIrql);
            return KsimWskControlDone(Irp, Request, Status, 0, OutputSizeReturned);
        }
        if (!OutputBuffer || OutputSize < sizeof(ULONG))
            return KsimWskControlDone(Irp, Request, STATUS_BUFFER_TOO_SMALL, 0, OutputSizeReturned);
        KsimWskLock(&OldIrql);
        if (Socket->Host == HOST_NET_INVALID_SOCKET)
            Status = Socket->DeadStatus ? Socket->DeadStatus : STATUS_INVALID_DEVICE_STATE;
        else
            Status = KsimWskStatusFromHost(KsimNetGetOption(Socket->Host, Option, &Value));
        KsimWskUnlock(OldIrql);
        if (NT_SUCCESS(Status)) {
            *(ULONG *)OutputBuffer = (ULONG)Value;
            Returned = sizeof(ULONG);
        }
        return KsimWskControlDone(Irp, Request, Status, Returned, OutputSizeReturned);
    }
}

/* ---- WskCloseSocket ---- */

/* How long a close that arrives during WskAcceptEvent (or a WskInspectComplete during the
 * WskInspectEvent of its request) waits for the callback to return before it is reported:
 * generous against a descheduled epilogue, short against a callback that is still working (or
 * blocked) while the socket it offers is being closed. */
#define KSIM_WSK_CALLBACK_EPILOGUE_GRACE_NS (50u * 1000u * 1000u)

static NTSTATUS WSKAPI
KsimWskCloseSocket(_In_ PWSK_SOCKET WskSocket, _Inout_ PIRP Irp)
{
    KSIM_WSK_SOCKET *Socket;
    KIRQL OldIrql;

    if (!Irp) {
        KsimVerifierFail("WskCloseSocket(%p): the IRP is required", (void *)WskSocket);
        return STATUS_INVALID_PARAMETER;
    }
    if (!KsimWskIrpTake(Irp))
        return STATUS_INVALID_PARAMETER;
    Socket = KsimWskSocketFromClient(WskSocket, "WskCloseSocket");
    if (!Socket)
        return KsimWskIrpCompleteInline(Irp, STATUS_INVALID_HANDLE, 0);
    /* Stricter than documented (docs/ksim-fidelity.md): the socket was offered by a
     * WskAcceptEvent still running, so WSK has not yet taken the context and dispatch the
     * callback returns; a real provider may touch the socket after the callback. A client can
     * order its close after everything its callback does, but not after the callback's own
     * epilogue (a thread woken by its last release may run first), so a callback that returns
     * within the grace period is not reported; one still running then is. ksim's own close
     * stays safe either way (it only marks the socket; the network thread, which runs the
     * upcall, does the rest). */
    if (__atomic_load_n(&Socket->InAcceptEvent, __ATOMIC_SEQ_CST)) {
        uint64_t Deadline = KsimNowNs() + KSIM_WSK_CALLBACK_EPILOGUE_GRACE_NS;
        while (__atomic_load_n(&Socket->InAcceptEvent, __ATOMIC_SEQ_CST) && KsimNowNs() < Deadline) {
            KsimHostYield();
            /* The deterministic scheduler runs the callback's fiber only at a switch point. */
            KsimSwitchPoint(KsimSwitchWait);
        }
    }
    if (__atomic_load_n(&Socket->InAcceptEvent, __ATOMIC_SEQ_CST))
        KsimVerifierFail("WskCloseSocket(%p): the WskAcceptEvent that offered this socket has not returned yet; an "
                         "accepted socket may be closed only once the callback has returned",
                         (void *)WskSocket);

    IoMarkIrpPending(Irp);
    KsimWskLock(&OldIrql);
    Socket->State |= KSIM_WSK_S_CLOSING;
    Socket->CloseRequest->Irp = Irp;
    KsimWskMarkDirty(Socket);
    KsimWskUnlock(OldIrql);
    KsimWskWake();
    return STATUS_PENDING;
}

/* ---- WskBind ---- */

static NTSTATUS WSKAPI
KsimWskBind(_In_ PWSK_SOCKET WskSocket, _In_ PSOCKADDR LocalAddress, _Reserved_ ULONG Flags, _Inout_ PIRP Irp)
{
    KSIM_WSK_SOCKET *Socket;
    KSIM_WSK_REQUEST *Request;
    HOST_NET_ADDRESS Local;
    NTSTATUS Status;
    KIRQL OldIrql;
    USHORT WantType;

    UNREFERENCED_PARAMETER(Flags);
    KSIM_WSK_TAKE_IRP(Irp);
    Socket = KsimWskSocketFromClient(WskSocket, "WskBind");
    if (!Socket)
        return KsimWskIrpCompleteInline(Irp, STATUS_INVALID_HANDLE, 0);
    Status = KsimWskAddressToHost(LocalAddress, Socket->Family, &Local);
    if (!NT_SUCCESS(Status))
        return KsimWskIrpCompleteInline(Irp, Status, 0);
    Request = KsimWskRequestAllocate(Irp, Socket, KsimWskRequestComplete);
    if (!Request)
        return KsimWskIrpCompleteInline(Irp, STATUS_INSUFFICIENT_RESOURCES, 0);

    WantType = Socket->Kind == WSK_FLAG_DATAGRAM_SOCKET ? SOCK_DGRAM : SOCK_STREAM;
    KsimWskLock(&OldIrql);
    if (Socket->State & (KSIM_WSK_S_BOUND | KSIM_WSK_S_CONNECTING | KSIM_WSK_S_CONNECTED)) {
        Status = STATUS_ADDRESS_ALREADY_ASSOCIATED;
    } else if (Socket->Type != WantType) {
        /* Wine's test on Windows: a listening socket created with SOCK_DGRAM is accepted by
         * WskSocket and its bind completes with STATUS_NOT_IMPLEMENTED. */
        Status = STATUS_NOT_IMPLEMENTED;
    } else {
        Status = KsimWskStatusFromHost(KsimNetBind(Socket->Host, &Local));
        if (NT_SUCCESS(Status)) {
            Socket->State |= KSIM_WSK_S_BOUND;
            /* A WSK listening socket listens from bind on (WskListen exists only for stream
             * sockets). */
            if (Socket->Kind == WSK_FLAG_LISTEN_SOCKET) {
                Status = KsimWskStatusFromHost(KsimNetListen(Socket->Host, KSIM_WSK_LISTEN_BACKLOG));
                if (NT_SUCCESS(Status))
                    Socket->State |= KSIM_WSK_S_LISTENING;
            }
            KsimWskMarkDirty(Socket);
        }
    }
    KsimWskUnlock(OldIrql);
    return KsimWskRequestCompleteLater(Request, Status, 0);
}

/* ---- listening sockets ---- */

static NTSTATUS WSKAPI
KsimWskAccept(_In_ PWSK_SOCKET WskSocket, _Reserved_ ULONG Flags, _In_opt_ PVOID AcceptSocketContext,
              _In_opt_ CONST WSK_CLIENT_CONNECTION_DISPATCH *AcceptSocketDispatch, _Out_opt_ PSOCKADDR LocalAddress,
              _Out_opt_ PSOCKADDR RemoteAddress, _Inout_ PIRP Irp)
{
    KSIM_WSK_SOCKET *Socket;
    KSIM_WSK_REQUEST *Request;
    KIRQL OldIrql;

    UNREFERENCED_PARAMETER(Flags);
    KSIM_WSK_TAKE_IRP(Irp);
    Socket = KsimWskSocketFromClient(WskSocket, "WskAccept");
    if (!Socket)
        return KsimWskIrpCompleteInline(Irp, STATUS_INVALID_HANDLE, 0);
    Request = KsimWskRequestAllocate(Irp, Socket, KsimWskRequestAccept);
    if (!Request)
        return KsimWskIrpCompleteInline(Irp, STATUS_INSUFFICIENT_RESOURCES, 0);
    Request->AcceptContext = AcceptSocketContext;
    Request->AcceptDispatch = AcceptSocketDispatch;
    Request->LocalOut = LocalAddress;
    Request->RemoteOut = RemoteAddress;

    KsimWskLock(&OldIrql);
    if (!(Socket->State & KSIM_WSK_S_LISTENING)) {
        KsimWskUnlock(OldIrql);
        KsimWskRequestFree(Request);
        return KsimWskIrpCompleteInline(Irp, STATUS_INVALID_DEVICE_STATE, 0);
    }
    KsimWskRequestQueue(Request, &Socket->AcceptQueue);
    KsimWskMarkDirty(Socket);
    KsimWskUnlock(OldIrql);
    KsimWskWake();
    return STATUS_PENDING;
}

/* Whether the held request with these id contents is still inside its WskInspectEvent (state
 * NEW: the network thread sets the callback's answer under the lock once it has returned). */
static BOOLEAN
KsimWskInspectInCallback(_In_ KSIM_WSK_SOCKET *Socket, _In_ CONST WSK_INSPECT_ID *InspectID)
{
    BOOLEAN InCallback = FALSE;
    PLIST_ENTRY Entry;
    KIRQL OldIrql;

    KsimWskLock(&OldIrql);
    for (Entry = Socket->Incoming.Flink; Entry != &Socket->Incoming; Entry = Entry->Flink) {
        KSIM_WSK_INCOMING *In = CONTAINING_RECORD(Entry, KSIM_WSK_INCOMING, Link);
        if (In->Id.Key == InspectID->Key && In->Id.SerialNumber == InspectID->SerialNumber) {
            InCallback = In->State == KSIM_WSK_IN_NEW;
            break;
        }
    }
    KsimWskUnlock(OldIrql);
    return InCallback;
}

static NTSTATUS WSKAPI
KsimWskInspectComplete(_In_ PWSK_SOCKET WskSocket, _In_ PWSK_INSPECT_ID InspectID, _In_ WSK_INSPECT_ACTION Action,
                       _Inout_ PIRP Irp)
{
    KSIM_WSK_SOCKET *Socket;
    KSIM_WSK_REQUEST *Request;
    NTSTATUS Status = STATUS_INVALID_PARAMETER;
    PLIST_ENTRY Entry;
    KIRQL OldIrql;

    KSIM_WSK_TAKE_IRP(Irp);
    Socket = KsimWskSocketFromClient(WskSocket, "WskInspectComplete");
    if (!Socket)
        return KsimWskIrpCompleteInline(Irp, STATUS_INVALID_HANDLE, 0);
    if (!InspectID || (Action != WskInspectAccept && Action != WskInspectReject))
        return KsimWskIrpCompleteInline(Irp, STATUS_INVALID_PARAMETER, 0);
    Request = KsimWskRequestAllocate(Irp, Socket, KsimWskRequestComplete);
    if (!Request)
        return KsimWskIrpCompleteInline(Irp, STATUS_INSUFFICIENT_RESOURCES, 0);
    /* Stricter than documented (docs/ksim-fidelity.md): WskInspectComplete is for a request
     * whose WskInspectEvent returned WskInspectPend, and this one's has not returned yet, so WSK
     * does not know it is pended. A client can order the call after everything its callback
     * does, but not after the callback's own epilogue (a thread woken by its last release may
     * run first), so a callback that returns within the grace period is not reported, as for
     * WskCloseSocket inside WskAcceptEvent; one still running then is, and the call fails as on
     * a request that is not pended (STATUS_INVALID_DEVICE_STATE). */
    if (KsimWskInspectInCallback(Socket, InspectID)) {
        uint64_t Deadline = KsimNowNs() + KSIM_WSK_CALLBACK_EPILOGUE_GRACE_NS;
        while (KsimWskInspectInCallback(Socket, InspectID) && KsimNowNs() < Deadline) {
            KsimHostYield();
            /* The deterministic scheduler runs the callback's fiber only at a switch point. */
            KsimSwitchPoint(KsimSwitchWait);
        }
        if (KsimWskInspectInCallback(Socket, InspectID))
            KsimVerifierFail("WskInspectComplete(%p): the WskInspectEvent for this request has not returned "
                             "WskInspectPend yet; an inspection may be completed only once the callback has returned",
                             (void *)WskSocket);
    }

    KsimWskLock(&OldIrql);
    if (!Socket->ConditionalAccept) {
        Status = STATUS_INVALID_DEVICE_REQUEST;
        goto cleanupLock;
    }
    for (Entry = Socket->Incoming.Flink; Entry != &Socket->Incoming; Entry = Entry->Flink) {
        KSIM_WSK_INCOMING *In = CONTAINING_RECORD(Entry, KSIM_WSK_INCOMING, Link);
        if (In->Id.Key != InspectID->Key || In->Id.SerialNumber != InspectID->SerialNumber)
            continue;
        switch (In->State) {
        case KSIM_WSK_IN_PENDED:
            In->State = Action == WskInspectAccept ? KSIM_WSK_IN_READY : KSIM_WSK_IN_REJECTED;
            Status = STATUS_SUCCESS;
            break;
        case KSIM_WSK_IN_ABORTED:
            /* The request died first: it is never established (the header), and the call
             * itself succeeds. */
            In->State = KSIM_WSK_IN_DISPOSE;
            Socket->AbortedCount--;
            Status = STATUS_SUCCESS;
            break;
        default:
            /* Already decided (accepted by the inspect callback's return, or rejected). */
            Status = STATUS_INVALID_DEVICE_STATE;
            break;
        }
        break;
    }
    KsimWskMarkDirty(Socket);
cleanupLock:
    KsimWskUnlock(OldIrql);
    return KsimWskRequestCompleteLater(Request, Status, 0);
}

/* ---- addresses ---- */

static NTSTATUS
KsimWskGetAddress(_In_ PWSK_SOCKET WskSocket, _Out_ PSOCKADDR Address, _Inout_ PIRP Irp, _In_ BOOLEAN Remote)
{
    KSIM_WSK_SOCKET *Socket;
    KSIM_WSK_REQUEST *Request;
    HOST_NET_ADDRESS Host;
    NTSTATUS Status;
    KIRQL OldIrql;

    KSIM_WSK_TAKE_IRP(Irp);
    Socket = KsimWskSocketFromClient(WskSocket, Remote ? "WskGetRemoteAddress" : "WskGetLocalAddress");
    if (!Socket)
        return KsimWskIrpCompleteInline(Irp, STATUS_INVALID_HANDLE, 0);
    if (!Address)
        return KsimWskIrpCompleteInline(Irp, STATUS_INVALID_PARAMETER, 0);
    Request = KsimWskRequestAllocate(Irp, Socket, KsimWskRequestComplete);
    if (!Request)
        return KsimWskIrpCompleteInline(Irp, STATUS_INSUFFICIENT_RESOURCES, 0);
    KsimWskLock(&OldIrql);
    if (Remote ? !(Socket->State & KSIM_WSK_S_CONNECTED) : !(Socket->State & (KSIM_WSK_S_BOUND | KSIM_WSK_S_CONNECTED)))
        Status = STATUS_INVALID_DEVICE_STATE;
    else if (Socket->Host == HOST_NET_INVALID_SOCKET)
        Status = Socket->DeadStatus ? Socket->DeadStatus : STATUS_INVALID_DEVICE_STATE;
    else
        Status = KsimWskStatusFromHost(Remote ? KsimNetGetRemoteAddress(Socket->Host, &Host)
                                              : KsimNetGetLocalAddress(Socket->Host, &Host));
    KsimWskUnlock(OldIrql);
    if (NT_SUCCESS(Status))
        KsimWskAddressFromHost(&Host, Address);
    return KsimWskRequestCompleteLater(Request, Status, 0);
}

static NTSTATUS WSKAPI
KsimWskGetLocalAddress(_In_ PWSK_SOCKET WskSocket, _Out_ PSOCKADDR LocalAddress, _Inout_ PIRP Irp)
{
    return KsimWskGetAddress(WskSocket, LocalAddress, Irp, FALSE);
}

static NTSTATUS WSKAPI
KsimWskGetRemoteAddress(_In_ PWSK_SOCKET WskSocket, _Out_ PSOCKADDR RemoteAddress, _Inout_ PIRP Irp)
{
    return KsimWskGetAddress(WskSocket, RemoteAddress, Irp, TRUE);
}

/* ---- connection sockets ---- */

static NTSTATUS WSKAPI
KsimWskConnect(_In_ PWSK_SOCKET WskSocket, _In_ PSOCKADDR RemoteAddress, _Reserved_ ULONG Flags, _Inout_ PIRP Irp)
{
    KSIM_WSK_SOCKET *Socket;
    KSIM_WSK_REQUEST *Request;
    HOST_NET_ADDRESS Remote;
    NTSTATUS Status;
    KIRQL OldIrql;
    int Error;

    UNREFERENCED_PARAMETER(Flags);
    KSIM_WSK_TAKE_IRP(Irp);
    Socket = KsimWskSocketFromClient(WskSocket, "WskConnect");
    if (!Socket)
        return KsimWskIrpCompleteInline(Irp, STATUS_INVALID_HANDLE, 0);
    Status = KsimWskAddressToHost(RemoteAddress, Socket->Family, &Remote);
    if (!NT_SUCCESS(Status))
        return KsimWskIrpCompleteInline(Irp, Status, 0);
    Request = KsimWskRequestAllocate(Irp, Socket, KsimWskRequestConnect);
    if (!Request)
        return KsimWskIrpCompleteInline(Irp, STATUS_INSUFFICIENT_RESOURCES, 0);

    KsimWskLock(&OldIrql);
    /* Wine's test on Windows: connect before bind returns STATUS_INVALID_DEVICE_STATE and
     * the IRP is completed with it too. */
    if (!(Socket->State & KSIM_WSK_S_BOUND)) {
        KsimWskUnlock(OldIrql);
        KsimWskRequestFree(Request);
        return KsimWskIrpCompleteInline(Irp, STATUS_INVALID_DEVICE_STATE, 0);
    }
    if (Socket->State & (KSIM_WSK_S_CONNECTING | KSIM_WSK_S_CONNECTED)) {
        Status = STATUS_CONNECTION_ACTIVE;
    } else if (Socket->State & (KSIM_WSK_S_DEAD | KSIM_WSK_S_CONNECT_FAILED)) {
        /* A failed connect leaves the TCP socket unusable for another attempt. */
        Status = STATUS_INVALID_DEVICE_STATE;
    } else {
        Error = KsimNetConnect(Socket->Host, &Remote);
        if (Error == HOST_NET_OK || Error == HOST_NET_E_INPROGRESS) {
            Socket->State |= KSIM_WSK_S_CONNECTING;
            Request->Address = Remote;
            Request->HasAddress = TRUE;
            KsimWskRequestQueue(Request, &Socket->ConnectQueue);
            KsimWskMarkDirty(Socket);
            KsimWskUnlock(OldIrql);
            KsimWskWake();
            return STATUS_PENDING;
        }
        Socket->State |= KSIM_WSK_S_CONNECT_FAILED;
        Status = KsimWskStatusFromHost(Error);
    }
    KsimWskUnlock(OldIrql);
    return KsimWskRequestCompleteLater(Request, Status, 0);
}

static NTSTATUS WSKAPI
KsimWskConnectEx(_In_ PWSK_SOCKET WskSocket, _In_ PSOCKADDR RemoteAddress, _In_opt_ PWSK_BUF Buffer,
                 _Reserved_ ULONG Flags, _Inout_ PIRP Irp)
{
    UNREFERENCED_PARAMETER(RemoteAddress);
    UNREFERENCED_PARAMETER(Buffer);
    UNREFERENCED_PARAMETER(Flags);
    KSIM_WSK_TAKE_IRP(Irp);
    if (!KsimWskSocketFromClient(WskSocket, "WskConnectEx"))
        return KsimWskIrpCompleteInline(Irp, STATUS_INVALID_HANDLE, 0);
    /* Outside the driver's subset; see docs/ksim-fidelity.md. */
    return KsimWskIrpCompleteInline(Irp, STATUS_NOT_SUPPORTED, 0);
}

/* Queues a send-side or receive-side request on a connected socket. */
static NTSTATUS
KsimWskQueueData(_In_ PWSK_SOCKET WskSocket, _In_opt_ PWSK_BUF Buffer, _In_ ULONG Flags, _Inout_ PIRP Irp,
                 _In_ ULONG Type, _In_z_ PCSTR Routine)
{
    KSIM_WSK_SOCKET *Socket;
    KSIM_WSK_REQUEST *Request;
    NTSTATUS Status;
    KIRQL OldIrql;

    KSIM_WSK_TAKE_IRP(Irp);
    Socket = KsimWskSocketFromClient(WskSocket, Routine);
    if (!Socket)
        return KsimWskIrpCompleteInline(Irp, STATUS_INVALID_HANDLE, 0);
    switch (Type) {
    case KsimWskRequestSend:
        if (!Buffer)
            return KsimWskIrpCompleteInline(Irp, STATUS_INVALID_PARAMETER, 0);
        if (Flags & ~(WSK_FLAG_OOB | WSK_FLAG_NODELAY))
            return KsimWskIrpCompleteInline(Irp, STATUS_NOT_SUPPORTED, 0);
        break;
    case KsimWskRequestReceive:
        if (!Buffer)
            return KsimWskIrpCompleteInline(Irp, STATUS_INVALID_PARAMETER, 0);
        /* The reference page: unsupported flags give STATUS_NOT_SUPPORTED; WAITALL and
         * DRAIN exclude each other; DRAIN needs Length 0. */
        if (Flags & ~(WSK_FLAG_WAITALL | WSK_FLAG_DRAIN))
            return KsimWskIrpCompleteInline(Irp, STATUS_NOT_SUPPORTED, 0);
        if ((Flags & WSK_FLAG_WAITALL) && (Flags & WSK_FLAG_DRAIN))
            return KsimWskIrpCompleteInline(Irp, STATUS_INVALID_PARAMETER, 0);
        if ((Flags & WSK_FLAG_DRAIN) && Buffer->Length)
            return KsimWskIrpCompleteInline(Irp, STATUS_INVALID_PARAMETER, 0);
        break;
    case KsimWskRequestDisconnect:
        if (Flags & ~WSK_FLAG_ABORTIVE)
            return KsimWskIrpCompleteInline(Irp, STATUS_INVALID_PARAMETER, 0);
        break;
    }
    if (Buffer) {
        Status = KsimWskBufValidate(Buffer, Routine);
        if (!NT_SUCCESS(Status))
            return KsimWskIrpCompleteInline(Irp, Status, 0);
    }
    Request = KsimWskRequestAllocate(Irp, Socket, Type);
    if (!Request)
        return KsimWskIrpCompleteInline(Irp, STATUS_INSUFFICIENT_RESOURCES, 0);
    if (Buffer) {
        Request->Buffer = *Buffer;
        Request->HasBuffer = TRUE;
    }
    Request->Flags = Flags;
    Request->Abortive = Type == KsimWskRequestDisconnect && (Flags & WSK_FLAG_ABORTIVE);

    KsimWskLock(&OldIrql);
    if (!(Socket->State & KSIM_WSK_S_CONNECTED)) {
        KsimWskUnlock(OldIrql);
        KsimWskRequestFree(Request);
        return KsimWskIrpCompleteInline(Irp, STATUS_INVALID_DEVICE_STATE, 0);
    }
    if (Type != KsimWskRequestReceive && (Socket->State & KSIM_WSK_S_SEND_SHUT) && !Request->Abortive) {
        KsimWskUnlock(OldIrql);
        return KsimWskRequestCompleteLater(Request, STATUS_INVALID_DEVICE_STATE, 0);
    }
    if (Request->Abortive)
        KsimWskRequestQueue(Request, &Socket->ConnectQueue); /* ahead of queued sends: abort is immediate */
    else
        KsimWskRequestQueue(Request, Type == KsimWskRequestReceive ? &Socket->ReceiveQueue : &Socket->SendQueue);
    KsimWskMarkDirty(Socket);
    KsimWskUnlock(OldIrql);
    KsimWskWake();
    return STATUS_PENDING;
}

static NTSTATUS WSKAPI
KsimWskSend(_In_ PWSK_SOCKET WskSocket, _In_ PWSK_BUF Buffer, _In_ ULONG Flags, _Inout_ PIRP Irp)
{
    return KsimWskQueueData(WskSocket, Buffer, Flags, Irp, KsimWskRequestSend, "WskSend");
}

static NTSTATUS WSKAPI
KsimWskReceive(_In_ PWSK_SOCKET WskSocket, _In_ PWSK_BUF Buffer, _In_ ULONG Flags, _Inout_ PIRP Irp)
{
    return KsimWskQueueData(WskSocket, Buffer, Flags, Irp, KsimWskRequestReceive, "WskReceive");
}

static NTSTATUS WSKAPI
KsimWskDisconnect(_In_ PWSK_SOCKET WskSocket, _In_opt_ PWSK_BUF Buffer, _In_ ULONG Flags, _Inout_ PIRP Irp)
{
    if (!Irp)
        KsimVerifierFail("WskDisconnect(%p): the IRP is required", (void *)WskSocket);
    return KsimWskQueueData(WskSocket, Buffer, Flags, Irp, KsimWskRequestDisconnect, "WskDisconnect");
}

static NTSTATUS WSKAPI
KsimWskSendEx(_In_ PWSK_SOCKET WskSocket, _In_ PWSK_BUF Buffer, _In_ ULONG Flags, _In_ ULONG ControlInfoLength,
              _In_reads_bytes_opt_(ControlInfoLength) PCMSGHDR ControlInfo, _Inout_ PIRP Irp)
{
    /* Without control information WskSendEx is WskSend. */
    if (ControlInfoLength || ControlInfo) {
        KSIM_WSK_TAKE_IRP(Irp);
        return KsimWskIrpCompleteInline(Irp, STATUS_NOT_SUPPORTED, 0);
    }
    return KsimWskQueueData(WskSocket, Buffer, Flags, Irp, KsimWskRequestSend, "WskSendEx");
}

static NTSTATUS WSKAPI
KsimWskReceiveEx(_In_ PWSK_SOCKET WskSocket, _In_ PWSK_BUF Buffer, _In_ ULONG Flags,
                 _Inout_opt_ PULONG ControlInfoLength,
                 _Out_writes_bytes_opt_(*ControlInfoLength) PCMSGHDR ControlInfo, _Reserved_ PULONG ControlFlags,
                 _Inout_ PIRP Irp)
{
    UNREFERENCED_PARAMETER(ControlInfo);
    UNREFERENCED_PARAMETER(ControlFlags);
    /* ksim never has control information to return. */
    if (ControlInfoLength)
        *ControlInfoLength = 0;
    return KsimWskQueueData(WskSocket, Buffer, Flags, Irp, KsimWskRequestReceive, "WskReceiveEx");
}

/* WskRelease of either kind: the chain must be one this socket's client retained by
 * returning STATUS_PENDING from its receive callback. Data and datagram indications share a
 * union in KSIM_WSK_BLOCK, so the block is found by the union's address. */
static NTSTATUS
KsimWskReleaseRetained(_In_ PWSK_SOCKET WskSocket, _In_opt_ CONST VOID *Indication)
{
    KSIM_WSK_SOCKET *Socket = KsimWskSocketFromClient(WskSocket, "WskRelease");
    KSIM_WSK_BLOCK *Found = NULL;
    PLIST_ENTRY Entry;
    KIRQL OldIrql;

    if (!Socket || !Indication)
        return STATUS_INVALID_PARAMETER;
    KsimWskLock(&OldIrql);
    for (Entry = Socket->Retained.Flink; Entry != &Socket->Retained; Entry = Entry->Flink) {
        KSIM_WSK_BLOCK *Block = CONTAINING_RECORD(Entry, KSIM_WSK_BLOCK, Link);
        if ((CONST VOID *)&Block->Indication == Indication) {
            RemoveEntryList(&Block->Link);
            Found = Block;
            break;
        }
    }
    KsimWskUnlock(OldIrql);
    if (!Found)
        return STATUS_INVALID_PARAMETER;
    KsimWskBlockFreeChain(Found);
    return STATUS_SUCCESS;
}

static NTSTATUS WSKAPI
KsimWskReleaseData(_In_ PWSK_SOCKET WskSocket, _In_ PWSK_DATA_INDICATION DataIndication)
{
    return KsimWskReleaseRetained(WskSocket, DataIndication);
}

/* ---- datagram sockets ---- */

static NTSTATUS WSKAPI
KsimWskSendTo(_In_ PWSK_SOCKET WskSocket, _In_ PWSK_BUF Buffer, _Reserved_ ULONG Flags,
              _In_opt_ PSOCKADDR RemoteAddress, _In_ ULONG ControlInfoLength,
              _In_reads_bytes_opt_(ControlInfoLength) PCMSGHDR ControlInfo, _Inout_ PIRP Irp)
{
    KSIM_WSK_SOCKET *Socket;
    KSIM_WSK_REQUEST *Request;
    NTSTATUS Status;
    KIRQL OldIrql;

    UNREFERENCED_PARAMETER(Flags);
    UNREFERENCED_PARAMETER(ControlInfo);
    KSIM_WSK_TAKE_IRP(Irp);
    Socket = KsimWskSocketFromClient(WskSocket, "WskSendTo");
    if (!Socket)
        return KsimWskIrpCompleteInline(Irp, STATUS_INVALID_HANDLE, 0);
    if (ControlInfoLength)
        return KsimWskIrpCompleteInline(Irp, STATUS_NOT_SUPPORTED, 0);
    Status = KsimWskBufValidate(Buffer, "WskSendTo");
    if (!NT_SUCCESS(Status))
        return KsimWskIrpCompleteInline(Irp, Status, 0);
    Request = KsimWskRequestAllocate(Irp, Socket, KsimWskRequestSendTo);
    if (!Request)
        return KsimWskIrpCompleteInline(Irp, STATUS_INSUFFICIENT_RESOURCES, 0);
    Request->Buffer = *Buffer;
    Request->HasBuffer = TRUE;
    if (RemoteAddress) {
        Status = KsimWskAddressToHost(RemoteAddress, Socket->Family, &Request->Address);
        if (!NT_SUCCESS(Status)) {
            KsimWskRequestFree(Request);
            return KsimWskIrpCompleteInline(Irp, Status, 0);
        }
        Request->HasAddress = TRUE;
    }

    KsimWskLock(&OldIrql);
    if (!(Socket->State & KSIM_WSK_S_BOUND)) {
        Status = STATUS_INVALID_DEVICE_STATE; /* "Socket must have been bound" (the header) */
    } else if (!RemoteAddress && !(Socket->State & KSIM_WSK_S_REMOTE_SET)) {
        Status = STATUS_INVALID_PARAMETER;
    } else {
        KsimWskRequestQueue(Request, &Socket->SendQueue);
        KsimWskMarkDirty(Socket);
        KsimWskUnlock(OldIrql);
        KsimWskWake();
        return STATUS_PENDING;
    }
    KsimWskUnlock(OldIrql);
    KsimWskRequestFree(Request);
    return KsimWskIrpCompleteInline(Irp, Status, 0);
}

static NTSTATUS WSKAPI
KsimWskReceiveFrom(_In_ PWSK_SOCKET WskSocket, _In_ PWSK_BUF Buffer, _Reserved_ ULONG Flags,
                   _Out_opt_ PSOCKADDR RemoteAddress, _Inout_ PULONG ControlLength,
                   _Out_writes_bytes_opt_(*ControlLength) PCMSGHDR ControlInfo, _Out_opt_ PULONG ControlFlags,
                   _Inout_ PIRP Irp)
{
    KSIM_WSK_SOCKET *Socket;
    KSIM_WSK_REQUEST *Request;
    NTSTATUS Status;
    KIRQL OldIrql;

    UNREFERENCED_PARAMETER(Flags);
    UNREFERENCED_PARAMETER(ControlInfo);
    KSIM_WSK_TAKE_IRP(Irp);
    Socket = KsimWskSocketFromClient(WskSocket, "WskReceiveFrom");
    if (!Socket)
        return KsimWskIrpCompleteInline(Irp, STATUS_INVALID_HANDLE, 0);
    Status = KsimWskBufValidate(Buffer, "WskReceiveFrom");
    if (!NT_SUCCESS(Status))
        return KsimWskIrpCompleteInline(Irp, Status, 0);
    Request = KsimWskRequestAllocate(Irp, Socket, KsimWskRequestReceiveFrom);
    if (!Request)
        return KsimWskIrpCompleteInline(Irp, STATUS_INSUFFICIENT_RESOURCES, 0);
    Request->Buffer = *Buffer;
    Request->HasBuffer = TRUE;
    Request->RemoteOut = RemoteAddress;
    Request->ControlLength = ControlLength;
    Request->ControlFlags = ControlFlags;

    KsimWskLock(&OldIrql);
    if (!(Socket->State & KSIM_WSK_S_BOUND)) {
        KsimWskUnlock(OldIrql);
        KsimWskRequestFree(Request);
        return KsimWskIrpCompleteInline(Irp, STATUS_INVALID_DEVICE_STATE, 0);
    }
    KsimWskRequestQueue(Request, &Socket->ReceiveQueue);
    KsimWskMarkDirty(Socket);
    KsimWskUnlock(OldIrql);
    KsimWskWake();
    return STATUS_PENDING;
}

static NTSTATUS WSKAPI
KsimWskReleaseDatagrams(_In_ PWSK_SOCKET WskSocket, _In_ PWSK_DATAGRAM_INDICATION DatagramIndication)
{
    return KsimWskReleaseRetained(WskSocket, DatagramIndication);
}

static NTSTATUS WSKAPI
KsimWskSendMessages(_In_ PWSK_SOCKET WskSocket, _In_ PWSK_BUF_LIST BufferList, _Reserved_ ULONG Flags,
                    _In_opt_ PSOCKADDR RemoteAddress, _In_ ULONG ControlInfoLength,
                    _In_reads_bytes_opt_(ControlInfoLength) PCMSGHDR ControlInfo, _Inout_ PIRP Irp)
{
    UNREFERENCED_PARAMETER(BufferList);
    UNREFERENCED_PARAMETER(Flags);
    UNREFERENCED_PARAMETER(RemoteAddress);
    UNREFERENCED_PARAMETER(ControlInfoLength);
    UNREFERENCED_PARAMETER(ControlInfo);
    KSIM_WSK_TAKE_IRP(Irp);
    if (!KsimWskSocketFromClient(WskSocket, "WskSendMessages"))
        return KsimWskIrpCompleteInline(Irp, STATUS_INVALID_HANDLE, 0);
    /* Outside the driver's subset; see docs/ksim-fidelity.md. */
    return KsimWskIrpCompleteInline(Irp, STATUS_NOT_SUPPORTED, 0);
}

/* ---- dispatch tables ---- */

CONST WSK_PROVIDER_BASIC_DISPATCH KsimWskBasicDispatch = {
    KsimWskControlSocket,
    KsimWskCloseSocket,
};

CONST WSK_PROVIDER_LISTEN_DISPATCH KsimWskListenDispatch = {
    { KsimWskControlSocket, KsimWskCloseSocket },
    KsimWskBind,
    KsimWskAccept,
    KsimWskInspectComplete,
    KsimWskGetLocalAddress,
};

CONST WSK_PROVIDER_DATAGRAM_DISPATCH KsimWskDatagramDispatch = {
    { KsimWskControlSocket, KsimWskCloseSocket },
    KsimWskBind,
    KsimWskSendTo,
    KsimWskReceiveFrom,
    KsimWskReleaseDatagrams,
    KsimWskGetLocalAddress,
    KsimWskSendMessages,
};

CONST WSK_PROVIDER_CONNECTION_DISPATCH KsimWskConnectionDispatch = {
    { KsimWskControlSocket, KsimWskCloseSocket },
    KsimWskBind,
    KsimWskConnect,
    KsimWskGetLocalAddress,
    KsimWskGetRemoteAddress,
    KsimWskSend,
    KsimWskReceive,
    KsimWskDisconnect,
    KsimWskReleaseData,
    KsimWskConnectEx,
    KsimWskSendEx,
    KsimWskReceiveEx,
};

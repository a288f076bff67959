/* SPDX-License-Identifier: MIT
 *
 * The WSK calls behind the socket IOCTLs. Each IOCTL is one operation (irp.h): a Call routine
 * that invokes the provider with the operation's IRP, and a Finish routine that turns the
 * completed IRP into the request's output. Values from user mode (flags, codes, levels, masks)
 * reach WSK unchanged, and WSK's own NTSTATUS comes back.
 */
#include "socketops.h"

/* ---- socket creation ------------------------------------------------------------------- */

static WSKB_OPERATION_CALL WskbCallSocket;
static WSKB_OPERATION_FINISH WskbFinishSocket;

_Use_decl_annotations_
static NTSTATUS
WskbCallSocket(WSKB_OPERATION *Op, PIRP Irp)
{
    WSKB_SESSION *Session = Op->Session;
    WSKB_SOCKET *New = Op->u.Create.NewSocket;
    BOOLEAN NoDispatch = (New->Options & WSKB_SOCKET_OPTION_NO_DISPATCH) != 0;

    return Session->Provider.Dispatch->WskSocket(Session->Provider.Client, Op->u.Create.Family, Op->u.Create.SocketType,
                                                 Op->u.Create.Protocol, Op->u.Create.WskFlags, NoDispatch ? NULL : New,
                                                 NoDispatch ? NULL : WskbEventsClientDispatch(New->Kind), NULL, NULL,
                                                 NULL, Irp);
}

_Use_decl_annotations_
static VOID
WskbFinishSocket(WSKB_OPERATION *Op, NTSTATUS *Status, ULONG_PTR *Information)
{
    WSKB_SOCKET *New = Op->u.Create.NewSocket;

    if (!Op->Called || !NT_SUCCESS(*Status) || !Op->IrpInformation) {
        if (Op->Called && NT_SUCCESS(*Status))
            *Status = STATUS_UNSUCCESSFUL; /* a provider that succeeds without a socket */
        WskbSocketAbandon(New);
        *Information = 0;
        return;
    }
    WskbSocketActivate(New, (PWSK_SOCKET)Op->IrpInformation);
    ((WSKB_SOCKET_ID *)Op->Output)->SocketId = New->Id;
    *Information = sizeof(WSKB_SOCKET_ID);
}

_Use_decl_annotations_
NTSTATUS
WskbOpSocketCreate(WSKB_SESSION *Session, WDFREQUEST Request, CONST WSKB_SOCKET_CREATE_IN *In, PVOID Output,
                   size_t OutputLength)
{
    NTSTATUS Status;
    WSKB_SOCKET *New;
    WSKB_OPERATION *Op;
    KIRQL OldIrql;

    Status = WskbSocketCreateReserved(Session, In->WskFlags, In->Family, In->Options, &New);
    if (!NT_SUCCESS(Status))
        return Status;
    Status = WskbOperationAllocate(Session, NULL, Request, TRUE, WskbFinishSocket, Output, OutputLength, &Op);
    if (!NT_SUCCESS(Status))
        goto cleanupSocket;
    Op->u.Create.NewSocket = New;
    Op->u.Create.Family = In->Family;
    Op->u.Create.SocketType = In->SocketType;
    Op->u.Create.Protocol = In->Protocol;
    Op->u.Create.WskFlags = In->WskFlags;
    /* From now on WSK_SET_STATIC_EVENT_CALLBACKS comes too late for this client. */
    KeAcquireSpinLock(&Session->Lock, &OldIrql);
    Session->SocketsCreated = TRUE;
    KeReleaseSpinLock(&Session->Lock, OldIrql);
    WskbOperationRun(Op, WskbCallSocket);
    return STATUS_PENDING;

cleanupSocket:
    WskbSocketAbandon(New);
    return Status;
}

/* ---- bind / connect ---------------------------------------------------------------------- */

static WSKB_OPERATION_CALL WskbCallBind;
static WSKB_OPERATION_CALL WskbCallConnect;

_Use_decl_annotations_
static NTSTATUS
WskbCallBind(WSKB_OPERATION *Op, PIRP Irp)
{
    WSKB_SOCKET *Socket = Op->Socket;
    PSOCKADDR Address = (PSOCKADDR)&Op->u.Address.Address;
    PFN_WSK_BIND Bind;

    switch (Socket->Kind) {
    case WSK_FLAG_LISTEN_SOCKET:
        Bind = WskbSocketDispatch(Socket, WSK_PROVIDER_LISTEN_DISPATCH)->WskBind;
        break;
    case WSK_FLAG_DATAGRAM_SOCKET:
        Bind = WskbSocketDispatch(Socket, WSK_PROVIDER_DATAGRAM_DISPATCH)->WskBind;
        break;
    default:
        Bind = WskbSocketDispatch(Socket, WSK_PROVIDER_CONNECTION_DISPATCH)->WskBind;
        break;
    }
    return Bind(Socket->WskSocket, Address, Op->Flags, Irp);
}

_Use_decl_annotations_
static NTSTATUS
WskbCallConnect(WSKB_OPERATION *Op, PIRP Irp)
{
    WSKB_SOCKET *Socket = Op->Socket;

    return WskbSocketDispatch(Socket, WSK_PROVIDER_CONNECTION_DISPATCH)
        ->WskConnect(Socket->WskSocket, (PSOCKADDR)&Op->u.Address.Address, Op->Flags, Irp);
}

_IRQL_requires_(PASSIVE_LEVEL)
_Must_inspect_result_
static NTSTATUS
WskbOpAddress(_In_ WSKB_SOCKET *Socket, _In_ WDFREQUEST Request, _In_ CONST SOCKADDR_STORAGE *Address,
              _In_ ULONG Flags, _In_ WSKB_OPERATION_CALL *Call)
{
    NTSTATUS Status;
    WSKB_OPERATION *Op;

    Status = WskbOperationAllocate(Socket->Session, Socket, Request, TRUE, NULL, NULL, 0, &Op);
    if (!NT_SUCCESS(Status))
        return Status;
    /* Kept in the operation, not on the stack: WSK may read it until the IRP completes. */
    Op->u.Address.Address = *Address;
    Op->Flags = Flags;
    WskbOperationRun(Op, Call);
    return STATUS_PENDING;
}

_Use_decl_annotations_
NTSTATUS
WskbOpBind(WSKB_SOCKET *Socket, WDFREQUEST Request, CONST SOCKADDR_STORAGE *Address, ULONG Flags)
{
    return WskbOpAddress(Socket, Request, Address, Flags, WskbCallBind);
}

_Use_decl_annotations_
NTSTATUS
WskbOpConnect(WSKB_SOCKET *Socket, WDFREQUEST Request, CONST SOCKADDR_STORAGE *Address, ULONG Flags)
{
    return WskbOpAddress(Socket, Request, Address, Flags, WskbCallConnect);
}

/* ---- accept ------------------------------------------------------------------------------ */

static WSKB_OPERATION_CALL WskbCallAccept;
static WSKB_OPERATION_FINISH WskbFinishAccept;

_Use_decl_annotations_
static NTSTATUS
WskbCallAccept(WSKB_OPERATION *Op, PIRP Irp)
{
    WSKB_SOCKET *Socket = Op->Socket;
    WSKB_SOCKET *New = Op->u.Accept.NewSocket;
    BOOLEAN NoDispatch = (New->Options & WSKB_SOCKET_OPTION_NO_DISPATCH) != 0;

    /* The accepted socket gets the connection dispatch table and its object as context, so
     * that user mode can enable its events later; WskAccept enables none by itself (no
     * inheritance, unlike WskAcceptEvent). */
    return WskbSocketDispatch(Socket, WSK_PROVIDER_LISTEN_DISPATCH)
        ->WskAccept(Socket->WskSocket, Op->Flags, NoDispatch ? NULL : New,
                    NoDispatch ? NULL : WskbEventsClientDispatch(WSK_FLAG_CONNECTION_SOCKET),
                    (PSOCKADDR)&Op->u.Accept.Local, (PSOCKADDR)&Op->u.Accept.Remote, Irp);
}

_Use_decl_annotations_
static VOID
WskbFinishAccept(WSKB_OPERATION *Op, NTSTATUS *Status, ULONG_PTR *Information)
{
    WSKB_SOCKET *New = Op->u.Accept.NewSocket;
    WSKB_ACCEPT_OUT *Out = (WSKB_ACCEPT_OUT *)Op->Output;

    if (!Op->Called || !NT_SUCCESS(*Status) || !Op->IrpInformation) {
        if (Op->Called && NT_SUCCESS(*Status))
            *Status = STATUS_UNSUCCESSFUL;
        WskbSocketAbandon(New);
        *Information = 0;
        return;
    }
    WskbSocketActivate(New, (PWSK_SOCKET)Op->IrpInformation);
    RtlZeroMemory(Out, sizeof(*Out));
    Out->AcceptedSocketId = New->Id;
    WskbSockaddrToWire((CONST SOCKADDR *)&Op->u.Accept.Local, &Out->LocalAddress);
    WskbSockaddrToWire((CONST SOCKADDR *)&Op->u.Accept.Remote, &Out->RemoteAddress);
    *Information = sizeof(*Out);
}

_Use_decl_annotations_
NTSTATUS
WskbOpAccept(WSKB_SOCKET *Socket, WDFREQUEST Request, ULONG Flags, PVOID Output, size_t OutputLength)
{
    NTSTATUS Status;
    WSKB_SOCKET *New;
    WSKB_OPERATION *Op;

    Status = WskbSocketCreateReserved(Socket->Session, WSK_FLAG_CONNECTION_SOCKET, Socket->Family,
                                      Socket->Options & WSKB_SOCKET_OPTION_NO_DISPATCH, &New);
    if (!NT_SUCCESS(Status))
        return Status;
    Status = WskbOperationAllocate(Socket->Session, Socket, Request, TRUE, WskbFinishAccept, Output, OutputLength, &Op);
    if (!NT_SUCCESS(Status))
        goto cleanupSocket;
    Op->u.Accept.NewSocket = New;
    Op->Flags = Flags;
    WskbOperationRun(Op, WskbCallAccept);
    return STATUS_PENDING;

cleanupSocket:
    WskbSocketAbandon(New);
    return Status;
}

/* ---- data ------------------------------------------------------------------------------- */

/* Success and warning statuses (e.g. STATUS_BUFFER_OVERFLOW for a datagram cut to the buffer)
 * carry data: METHOD_BUFFERED copies the output back for both, only errors carry none. */
#define WSKB_STATUS_CARRIES_DATA(Status) (NT_SUCCESS(Status) || ((ULONG)(Status) >> 30) == 2)

static WSKB_OPERATION_CALL WskbCallSend;
static WSKB_OPERATION_CALL WskbCallDisconnect;
static WSKB_OPERATION_CALL WskbCallReceive;
static WSKB_OPERATION_CALL WskbCallSendTo;
static WSKB_OPERATION_CALL WskbCallReceiveFrom;
static WSKB_OPERATION_FINISH WskbFinishTransfer;
static WSKB_OPERATION_FINISH WskbFinishReceive;
static WSKB_OPERATION_FINISH WskbFinishReceiveFrom;

_Use_decl_annotations_
static NTSTATUS
WskbCallSend(WSKB_OPERATION *Op, PIRP Irp)
{
    WSKB_SOCKET *Socket = Op->Socket;

    return WskbSocketDispatch(Socket, WSK_PROVIDER_CONNECTION_DISPATCH)->WskSend(Socket->WskSocket, &Op->Buffer, Op->Flags, Irp);
}

_Use_decl_annotations_
static NTSTATUS
WskbCallDisconnect(WSKB_OPERATION *Op, PIRP Irp)
{
    WSKB_SOCKET *Socket = Op->Socket;

    /* No data: a NULL WSK_BUF, as the documentation describes a plain disconnect. */
    return WskbSocketDispatch(Socket, WSK_PROVIDER_CONNECTION_DISPATCH)
        ->WskDisconnect(Socket->WskSocket, Op->Buffer.Length ? &Op->Buffer : NULL, Op->Flags, Irp);
}

_Use_decl_annotations_
static NTSTATUS
WskbCallReceive(WSKB_OPERATION *Op, PIRP Irp)
{
    WSKB_SOCKET *Socket = Op->Socket;

    return WskbSocketDispatch(Socket, WSK_PROVIDER_CONNECTION_DISPATCH)
        ->WskReceive(Socket->WskSocket, &Op->Buffer, Op->Flags, Irp);
}

_Use_decl_annotations_
static NTSTATUS
WskbCallSendTo(WSKB_OPERATION *Op, PIRP Irp)
{
    WSKB_SOCKET *Socket = Op->Socket;

    return WskbSocketDispatch(Socket, WSK_PROVIDER_DATAGRAM_DISPATCH)
        ->WskSendTo(Socket->WskSocket, &Op->Buffer, Op->Flags,
                    Op->u.Address.HasAddress ? (PSOCKADDR)&Op->u.Address.Address : NULL, 0, NULL, Irp);
}

_Use_decl_annotations_
static NTSTATUS
WskbCallReceiveFrom(WSKB_OPERATION *Op, PIRP Irp)
{
    WSKB_SOCKET *Socket = Op->Socket;

    return WskbSocketDispatch(Socket, WSK_PROVIDER_DATAGRAM_DISPATCH)
        ->WskReceiveFrom(Socket->WskSocket, &Op->Buffer, Op->Flags, (PSOCKADDR)&Op->u.ReceiveFrom.Remote, NULL, NULL,
                         &Op->u.ReceiveFrom.ControlFlags, Irp);
}

_Use_decl_annotations_
static VOID
WskbFinishTransfer(WSKB_OPERATION *Op, NTSTATUS *Status, ULONG_PTR *Information)
{
    if (Op->Output && Op->OutputLength >= sizeof(WSKB_TRANSFER_OUT) && WSKB_STATUS_CARRIES_DATA(*Status)) {
        ((WSKB_TRANSFER_OUT *)Op->Output)->BytesTransferred = *Information;
        *Information = sizeof(WSKB_TRANSFER_OUT);
    } else {
        *Information = 0;
    }
}

_Use_decl_annotations_
static VOID
WskbFinishReceive(WSKB_OPERATION *Op, NTSTATUS *Status, ULONG_PTR *Information)
{
    /* The data already sits in the output buffer (the MDL describes it); never report more
     * than was asked for, whatever the provider claims. */
    if (!WSKB_STATUS_CARRIES_DATA(*Status))
        *Information = 0;
    else if (*Information > Op->Buffer.Length)
        *Information = Op->Buffer.Length;
}

_Use_decl_annotations_
static VOID
WskbFinishReceiveFrom(WSKB_OPERATION *Op, NTSTATUS *Status, ULONG_PTR *Information)
{
    WSKB_RECEIVE_FROM_OUT *Out = (WSKB_RECEIVE_FROM_OUT *)Op->Output;
    ULONG_PTR Received = *Information;

    if (!WSKB_STATUS_CARRIES_DATA(*Status)) {
        *Information = 0;
        return;
    }
    if (Received > Op->Buffer.Length)
        Received = Op->Buffer.Length;
    WskbSockaddrToWire((CONST SOCKADDR *)&Op->u.ReceiveFrom.Remote, &Out->RemoteAddress);
    Out->ControlFlags = Op->u.ReceiveFrom.ControlFlags;
    Out->Length = (UINT32)Received;
    *Information = sizeof(*Out) + Received;
}

/* One data operation over Length bytes at Data inside the request's system buffer. */
_IRQL_requires_(PASSIVE_LEVEL)
_Must_inspect_result_
static NTSTATUS
WskbOpData(_In_ WSKB_SOCKET *Socket, _In_ WDFREQUEST Request, _In_ ULONG Flags,
           _In_reads_bytes_opt_(Length) PVOID Data, _In_ ULONG Length, _In_opt_ CONST SOCKADDR_STORAGE *Address,
           _In_opt_ WSKB_OPERATION_FINISH *Finish, _In_opt_ PVOID Output, _In_ size_t OutputLength,
           _In_ WSKB_OPERATION_CALL *Call)
{
    NTSTATUS Status;
    WSKB_OPERATION *Op;

    Status = WskbOperationAllocate(Socket->Session, Socket, Request, TRUE, Finish, Output, OutputLength, &Op);
    if (!NT_SUCCESS(Status))
        return Status;
    Status = WskbOperationSetBuffer(Op, Data, Length);
    if (!NT_SUCCESS(Status)) {
        WskbOperationFree(Op);
        return Status;
    }
    Op->Flags = Flags;
    if (Address) {
        Op->u.Address.Address = *Address;
        Op->u.Address.HasAddress = TRUE;
    }
    WskbOperationRun(Op, Call);
    return STATUS_PENDING;
}

/* The request's output buffer for the optional WSKB_TRANSFER_OUT, if the caller gave one. */
_IRQL_requires_max_(DISPATCH_LEVEL)
static size_t
WskbTransferOutput(_In_ WDFREQUEST Request, _Outptr_result_maybenull_ PVOID *Output)
{
    size_t Length = 0;

    *Output = NULL;
    if (!NT_SUCCESS(WdfRequestRetrieveOutputBuffer(Request, sizeof(WSKB_TRANSFER_OUT), Output, &Length))) {
        *Output = NULL;
        return 0;
    }
    return Length;
}

_Use_decl_annotations_
NTSTATUS
WskbOpSend(WSKB_SOCKET *Socket, WDFREQUEST Request, ULONG Flags, PVOID Data, ULONG Length)
{
    PVOID Output;
    size_t OutputLength = WskbTransferOutput(Request, &Output);

    return WskbOpData(Socket, Request, Flags, Data, Length, NULL, WskbFinishTransfer, Output, OutputLength, WskbCallSend);
}

_Use_decl_annotations_
NTSTATUS
WskbOpDisconnect(WSKB_SOCKET *Socket, WDFREQUEST Request, ULONG Flags, PVOID Data, ULONG Length)
{
    PVOID Output;
    size_t OutputLength = WskbTransferOutput(Request, &Output);

    return WskbOpData(Socket, Request, Flags, Data, Length, NULL, WskbFinishTransfer, Output, OutputLength,
                      WskbCallDisconnect);
}

_Use_decl_annotations_
NTSTATUS
WskbOpReceive(WSKB_SOCKET *Socket, WDFREQUEST Request, ULONG Flags, PVOID Output, ULONG Length)
{
    return WskbOpData(Socket, Request, Flags, Output, Length, NULL, WskbFinishReceive, Output, Length, WskbCallReceive);
}

_Use_decl_annotations_
NTSTATUS
WskbOpSendTo(WSKB_SOCKET *Socket, WDFREQUEST Request, CONST SOCKADDR_STORAGE *Address, ULONG Flags, PVOID Data,
             ULONG Length)
{
    PVOID Output;
    size_t OutputLength = WskbTransferOutput(Request, &Output);

    return WskbOpData(Socket, Request, Flags, Data, Length, Address, WskbFinishTransfer, Output, OutputLength,
                      WskbCallSendTo);
}

_Use_decl_annotations_
NTSTATUS
WskbOpReceiveFrom(WSKB_SOCKET *Socket, WDFREQUEST Request, ULONG Flags, PVOID Output, size_t OutputLength, ULONG Length)
{
    RtlZeroMemory(Output, sizeof(WSKB_RECEIVE_FROM_OUT));
    return WskbOpData(Socket, Request, Flags, (PUCHAR)Output + sizeof(WSKB_RECEIVE_FROM_OUT), Length, NULL,
                      WskbFinishReceiveFrom, Output, OutputLength, WskbCallReceiveFrom);
}

/* ---- addresses --------------------------------------------------------------------------- */

static WSKB_OPERATION_CALL WskbCallGetLocalAddress;
static WSKB_OPERATION_CALL WskbCallGetRemoteAddress;
static WSKB_OPERATION_FINISH WskbFinishGetAddress;

_Use_decl_annotations_
static NTSTATUS
WskbCallGetLocalAddress(WSKB_OPERATION *Op, PIRP Irp)
{
    WSKB_SOCKET *Socket = Op->Socket;
    PSOCKADDR Address = (PSOCKADDR)&Op->u.Address.Address;
    PFN_WSK_GET_LOCAL_ADDRESS GetLocalAddress;

    switch (Socket->Kind) {
    case WSK_FLAG_LISTEN_SOCKET:
        GetLocalAddress = WskbSocketDispatch(Socket, WSK_PROVIDER_LISTEN_DISPATCH)->WskGetLocalAddress;
        break;
    case WSK_FLAG_DATAGRAM_SOCKET:
        GetLocalAddress = WskbSocketDispatch(Socket, WSK_PROVIDER_DATAGRAM_DISPATCH)->WskGetLocalAddress;
        break;
    default:
        GetLocalAddress = WskbSocketDispatch(Socket, WSK_PROVIDER_CONNECTION_DISPATCH)->WskGetLocalAddress;
        break;
    }
    return GetLocalAddress(Socket->WskSocket, Address, Irp);
}

_Use_decl_annotations_
static NTSTATUS
WskbCallGetRemoteAddress(WSKB_OPERATION *Op, PIRP Irp)
{
    WSKB_SOCKET *Socket = Op->Socket;

    return WskbSocketDispatch(Socket, WSK_PROVIDER_CONNECTION_DISPATCH)
        ->WskGetRemoteAddress(Socket->WskSocket, (PSOCKADDR)&Op->u.Address.Address, Irp);
}

_Use_decl_annotations_
static VOID
WskbFinishGetAddress(WSKB_OPERATION *Op, NTSTATUS *Status, ULONG_PTR *Information)
{
    if (!NT_SUCCESS(*Status)) {
        *Information = 0;
        return;
    }
    WskbSockaddrToWire((CONST SOCKADDR *)&Op->u.Address.Address, (WSKB_SOCKADDR *)Op->Output);
    *Information = sizeof(WSKB_SOCKADDR);
}

_Use_decl_annotations_
NTSTATUS
WskbOpGetAddress(WSKB_SOCKET *Socket, WDFREQUEST Request, ULONG Which, PVOID Output, size_t OutputLength)
{
    NTSTATUS Status;
    WSKB_OPERATION *Op;

    Status = WskbOperationAllocate(Socket->Session, Socket, Request, TRUE, WskbFinishGetAddress, Output, OutputLength,
                                   &Op);
    if (!NT_SUCCESS(Status))
        return Status;
    WskbOperationRun(Op, Which == WSKB_ADDRESS_REMOTE ? WskbCallGetRemoteAddress : WskbCallGetLocalAddress);
    return STATUS_PENDING;
}

/* ---- raw control ------------------------------------------------------------------------- */

static WSKB_OPERATION_CALL WskbCallControlSocket;
static WSKB_OPERATION_CALL WskbCallControlClient;
static WSKB_OPERATION_FINISH WskbFinishControl;

_Use_decl_annotations_
static NTSTATUS
WskbCallControlSocket(WSKB_OPERATION *Op, PIRP Irp)
{
    WSKB_SOCKET *Socket = Op->Socket;
    /* With an IRP the output size comes back in IoStatus.Information; without one, WSK writes
     * it here, but only for the codes whose output size is not known beforehand (the table's
     * OutputSizeReturned, after PFN_WSK_CONTROL_SOCKET's rule): elsewhere Learn says NULL. */
    PSIZE_T OutputSizeReturned = Op->u.Control.PassOutputSizeReturned ? &Op->u.Control.OutputSizeReturned : NULL;

    return WskbSocketDispatch(Socket, WSK_PROVIDER_BASIC_DISPATCH)
        ->WskControlSocket(Socket->WskSocket, (WSK_CONTROL_SOCKET_TYPE)Op->u.Control.RequestType,
                           Op->u.Control.ControlCode, Op->u.Control.Level, Op->u.Control.InputLength,
                           Op->u.Control.Input, Op->u.Control.OutputLength, Op->OutputPool, OutputSizeReturned, Irp);
}

_Use_decl_annotations_
static NTSTATUS
WskbCallControlClient(WSKB_OPERATION *Op, PIRP Irp)
{
    WSKB_SESSION *Session = Op->Session;
    /* WSK_TRANSPORT_LIST_QUERY: "Irp must be NULL and pOutputSize must be Non-NULL" (wsk.h);
     * none for the other client codes (each Learn page: OutputSizeReturned NULL). */
    PSIZE_T OutputSizeReturned = Op->u.Control.PassOutputSizeReturned ? &Op->u.Control.OutputSizeReturned : NULL;

    return Session->Provider.Dispatch->WskControlClient(Session->Provider.Client, Op->u.Control.ControlCode,
                                                        Op->u.Control.InputLength, Op->u.Control.Input,
                                                        Op->u.Control.OutputLength, Op->OutputPool, OutputSizeReturned,
                                                        Irp);
}

_Use_decl_annotations_
static VOID
WskbFinishControl(WSKB_OPERATION *Op, NTSTATUS *Status, ULONG_PTR *Information)
{
    WSKB_CONTROL_OUT *Out = (WSKB_CONTROL_OUT *)Op->Output;
    SIZE_T Returned;

    if (!Op->Called) {
        *Information = 0;
        return; /* the WSK call was never made: the request fails with why */
    }
    /* A NULL-IRP call whose entry has no OutputSizeReturned returns no output (the table
     * allows none: every code with output takes an IRP or reports its size). */
    Returned = Op->Irp ? (SIZE_T)Op->IrpInformation : Op->u.Control.OutputSizeReturned;
    Out->CallStatus = Op->CallStatus;
    Out->IrpStatus = Op->IrpStatus;
    Out->OutputSizeReturned = Returned;
    /* Only what WSK wrote and we allocated travels back. */
    if (Returned > Op->u.Control.OutputLength)
        Returned = Op->u.Control.OutputLength;
    if (Returned)
        RtlCopyMemory(Out + 1, Op->OutputPool, Returned);
    *Status = STATUS_SUCCESS;
    *Information = sizeof(*Out) + Returned;
}

_Use_decl_annotations_
NTSTATUS
WskbOpControl(WSKB_SESSION *Session, WSKB_SOCKET *Socket, WDFREQUEST Request, CONST WSKB_CONTROL_ENTRY *Entry,
              ULONG RequestType, ULONG ControlCode, ULONG Level, ULONG Flags, CONST VOID *Input, ULONG InputLength,
              ULONG OutputLength, PVOID Output, size_t RequestOutputLength)
{
    NTSTATUS Status;
    WSKB_OPERATION *Op;
    BOOLEAN UseIrp = (Flags & WSKB_CONTROL_FLAG_USE_IRP) != 0;

    Status = WskbOperationAllocate(Session, Socket, Request, UseIrp, WskbFinishControl, Output, RequestOutputLength, &Op);
    if (!NT_SUCCESS(Status))
        return Status;
    Op->u.Control.RequestType = RequestType;
    Op->u.Control.ControlCode = ControlCode;
    Op->u.Control.Level = Level;
    Op->u.Control.PassOutputSizeReturned = !UseIrp && Entry->OutputSizeReturned;
    /* The 4-byte user mask (the table's size for these entries) becomes the
     * WSK_EVENT_CALLBACK_CONTROL that WSK expects; the driver supplies the NPI id, which user
     * mode cannot name. */
    if (Entry->EventMask) {
        Op->u.Control.EventControl.NpiId = (PNPIID)&NPI_WSK_INTERFACE_ID;
        RtlCopyMemory(&Op->u.Control.EventControl.EventMask, Input, sizeof(ULONG));
        Op->u.Control.Input = &Op->u.Control.EventControl;
        Op->u.Control.InputLength = sizeof(Op->u.Control.EventControl);
    } else if (InputLength) {
        /* WSK may read the input until the IRP completes, and the system buffer is reused for
         * the output, so the input lives in its own pool block. */
        Op->InputPool = ExAllocatePool2(POOL_FLAG_NON_PAGED, InputLength, WSKB_TAG_OPERATION);
        if (!Op->InputPool) {
            Status = STATUS_INSUFFICIENT_RESOURCES;
            goto cleanupOperation;
        }
        RtlCopyMemory(Op->InputPool, Input, InputLength);
        Op->u.Control.Input = Op->InputPool;
        Op->u.Control.InputLength = InputLength;
    }
    if (OutputLength) {
        Op->OutputPool = ExAllocatePool2(POOL_FLAG_NON_PAGED, OutputLength, WSKB_TAG_OPERATION);
        if (!Op->OutputPool) {
            Status = STATUS_INSUFFICIENT_RESOURCES;
            goto cleanupOperation;
        }
        Op->u.Control.OutputLength = OutputLength;
    }
    WskbOperationRun(Op, Socket ? WskbCallControlSocket : WskbCallControlClient);
    return STATUS_PENDING;

cleanupOperation:
    WskbOperationFree(Op);
    return Status;
}

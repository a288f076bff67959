/* SPDX-License-Identifier: MIT
 *
 * EvtIoDeviceControl: validation and dispatch of every IOCTL of protocol.h.
 *
 * Everything here comes from user mode and is checked before use, in this order:
 *  1. the input length, exactly (fixed structs) or header + declared Length (data, control),
 *     with the declared Length bounded first so the sum cannot overflow:
 *     wrong length -> STATUS_INVALID_PARAMETER, Length over the limit -> STATUS_INVALID_BUFFER_SIZE;
 *  2. reserved fields zero, option/flag bits known, enums the driver interprets in range,
 *     addresses well formed -> STATUS_INVALID_PARAMETER; for CONTROL_CLIENT / CONTROL_SOCKET,
 *     the code in the allowlist (controltable.c) -> STATUS_NOT_SUPPORTED, its input and output
 *     sizes -> STATUS_INVALID_BUFFER_SIZE, its IRP rule -> STATUS_INVALID_PARAMETER_MIX;
 *  3. the output buffer big enough -> STATUS_BUFFER_TOO_SMALL;
 *  4. the socket id -> STATUS_INVALID_HANDLE; the socket kind has the WSK routine ->
 *     STATUS_INVALID_DEVICE_REQUEST (the driver cannot call what the dispatch table lacks;
 *     everything else is WSK's to judge).
 * METHOD_BUFFERED gives one system buffer for input and output, so the fixed input is copied
 * to the stack before anything writes output.
 */
#include "socketops.h"

/* Copies exactly Expected bytes of input (the whole input must be that long). */
_IRQL_requires_max_(PASSIVE_LEVEL)
_Must_inspect_result_
static NTSTATUS
WskbIoctlFixedInput(_In_ WDFREQUEST Request, _In_ size_t InputLength, _In_ size_t Expected,
                    _Out_writes_bytes_(Expected) PVOID Copy)
{
    NTSTATUS Status;
    PVOID Buffer;

    if (InputLength != Expected)
        return STATUS_INVALID_PARAMETER;
    Status = WdfRequestRetrieveInputBuffer(Request, Expected, &Buffer, NULL);
    if (!NT_SUCCESS(Status))
        return Status;
    RtlCopyMemory(Copy, Buffer, Expected);
    return STATUS_SUCCESS;
}

/* Copies a Header bytes long header of a variable input and returns the whole input. */
_IRQL_requires_max_(PASSIVE_LEVEL)
_Must_inspect_result_
static NTSTATUS
WskbIoctlHeaderInput(_In_ WDFREQUEST Request, _In_ size_t InputLength, _In_ size_t Header,
                     _Out_writes_bytes_(Header) PVOID Copy, _Outptr_ PUCHAR *Input)
{
    NTSTATUS Status;
    PVOID Buffer;

    *Input = NULL;
    if (InputLength < Header)
        return STATUS_INVALID_PARAMETER;
    Status = WdfRequestRetrieveInputBuffer(Request, Header, &Buffer, NULL);
    if (!NT_SUCCESS(Status))
        return Status;
    RtlCopyMemory(Copy, Buffer, Header);
    *Input = Buffer;
    return STATUS_SUCCESS;
}

/* Header + Length == InputLength, with Length bounded by Max first. */
_IRQL_requires_max_(DISPATCH_LEVEL)
_Must_inspect_result_
static NTSTATUS
WskbIoctlCheckTail(_In_ size_t InputLength, _In_ size_t Header, _In_ ULONG Length, _In_ ULONG Max)
{
    if (Length > Max)
        return STATUS_INVALID_BUFFER_SIZE;
    if (InputLength != Header + (size_t)Length)
        return STATUS_INVALID_PARAMETER;
    return STATUS_SUCCESS;
}

_IRQL_requires_max_(PASSIVE_LEVEL)
_Must_inspect_result_
static NTSTATUS
WskbIoctlOutput(_In_ WDFREQUEST Request, _In_ size_t OutputLength, _In_ size_t Minimum, _Outptr_ PVOID *Output)
{
    *Output = NULL;
    if (OutputLength < Minimum || Minimum == 0)
        return Minimum == 0 ? STATUS_INVALID_PARAMETER : STATUS_BUFFER_TOO_SMALL;
    return WdfRequestRetrieveOutputBuffer(Request, Minimum, Output, NULL);
}

/* Looks the id up and checks that the socket's kind has the routine the IOCTL calls. Kinds is
 * a set of (1 << kind index) bits below. */
#define WSKB_KIND_BASIC 0x1u
#define WSKB_KIND_LISTEN 0x2u
#define WSKB_KIND_CONNECTION 0x4u
#define WSKB_KIND_DATAGRAM 0x8u

_IRQL_requires_max_(DISPATCH_LEVEL)
static ULONG
WskbKindBit(_In_ ULONG Kind)
{
    switch (Kind) {
    case WSK_FLAG_BASIC_SOCKET:
        return WSKB_KIND_BASIC;
    case WSK_FLAG_LISTEN_SOCKET:
        return WSKB_KIND_LISTEN;
    case WSK_FLAG_CONNECTION_SOCKET:
        return WSKB_KIND_CONNECTION;
    case WSK_FLAG_DATAGRAM_SOCKET:
        return WSKB_KIND_DATAGRAM;
    default:
        return 0;
    }
}

_IRQL_requires_max_(PASSIVE_LEVEL)
_Must_inspect_result_
static NTSTATUS
WskbIoctlSocket(_In_ WSKB_SESSION *Session, _In_ UINT64 SocketId, _In_ ULONG Kinds, _Outptr_ WSKB_SOCKET **Socket)
{
    NTSTATUS Status = WskbSocketLookup(Session, SocketId, Socket);

    if (!NT_SUCCESS(Status))
        return Status;
    if (!(WskbKindBit((*Socket)->Kind) & Kinds)) {
        WskbSocketDereference(*Socket);
        *Socket = NULL;
        return STATUS_INVALID_DEVICE_REQUEST;
    }
    return STATUS_SUCCESS;
}

_IRQL_requires_(PASSIVE_LEVEL)
_Must_inspect_result_
static NTSTATUS
WskbIoctlHello(_In_ WSKB_SESSION *Session, _In_ WDFREQUEST Request, _In_ size_t InputLength, _In_ size_t OutputLength,
               _Out_ ULONG_PTR *Information)
{
    NTSTATUS Status;
    WSKB_HELLO_IN In;
    WSKB_HELLO_OUT Out;
    PVOID Output;

    *Information = 0;
    Status = WskbIoctlFixedInput(Request, InputLength, sizeof(In), &In);
    if (!NT_SUCCESS(Status))
        return Status;
    Status = WskbIoctlOutput(Request, OutputLength, sizeof(Out), &Output);
    if (!NT_SUCCESS(Status))
        return Status;
    Status = WskbSessionHello(Session, &In, &Out);
    if (Status == STATUS_REVISION_MISMATCH) {
        /* An error status copies no output back, but the I/O manager still hands Information
         * to user mode (IoStatus.Information, OVERLAPPED.InternalHigh): it carries the driver's
         * version so that the client can name both versions. */
        *Information = WSKB_PROTOCOL_VERSION;
        return Status;
    }
    if (!NT_SUCCESS(Status))
        return Status;
    RtlCopyMemory(Output, &Out, sizeof(Out));
    *Information = sizeof(Out);
    return STATUS_SUCCESS;
}

/* The allowlist (controltable.h): the entry for the call, its sizes and its IRP rule. Input
 * is the InputLength bytes that follow the header (already checked to be there). */
_IRQL_requires_max_(DISPATCH_LEVEL)
_Must_inspect_result_
static NTSTATUS
WskbIoctlControlAllowed(_In_ ULONG Kind, _In_ ULONG Level, _In_ ULONG Code, _In_reads_bytes_(InputLength) CONST UCHAR *Input,
                        _In_ ULONG InputLength, _In_ ULONG OutputLength, _In_ ULONG Flags,
                        _Outptr_result_maybenull_ CONST WSKB_CONTROL_ENTRY **Entry)
{
    ULONG Mask = 0;

    *Entry = WskbControlLookup(Kind, Level, Code);
    if (!*Entry)
        return STATUS_NOT_SUPPORTED;
    if ((*Entry)->EventMask && InputLength == sizeof(ULONG))
        RtlCopyMemory(&Mask, Input, sizeof(Mask));
    return WskbControlCheck(*Entry, InputLength, OutputLength, (Flags & WSKB_CONTROL_FLAG_USE_IRP) != 0, Mask);
}

_IRQL_requires_(PASSIVE_LEVEL)
_Must_inspect_result_
static NTSTATUS
WskbIoctlControlClient(_In_ WSKB_SESSION *Session, _In_ WDFREQUEST Request, _In_ size_t InputLength,
                       _In_ size_t OutputLength)
{
    NTSTATUS Status;
    WSKB_CONTROL_CLIENT_IN In;
    CONST WSKB_CONTROL_ENTRY *Entry;
    PUCHAR Input;
    PVOID Output;

    Status = WskbIoctlHeaderInput(Request, InputLength, sizeof(In), &In, &Input);
    if (!NT_SUCCESS(Status))
        return Status;
    Status = WskbIoctlCheckTail(InputLength, sizeof(In), In.InputLength, WSKB_MAX_CONTROL_BYTES);
    if (!NT_SUCCESS(Status))
        return Status;
    if (In.OutputLength > WSKB_MAX_CONTROL_BYTES)
        return STATUS_INVALID_BUFFER_SIZE;
    if (In.Flags & ~WSKB_CONTROL_FLAGS_VALID)
        return STATUS_INVALID_PARAMETER;
    Status = WskbIoctlControlAllowed(WSKB_CONTROL_CLIENT, 0, In.ControlCode, Input + sizeof(In), In.InputLength,
                                     In.OutputLength, In.Flags, &Entry);
    if (!NT_SUCCESS(Status))
        return Status;
    Status = WskbIoctlOutput(Request, OutputLength, sizeof(WSKB_CONTROL_OUT) + (size_t)In.OutputLength, &Output);
    if (!NT_SUCCESS(Status))
        return Status;
    return WskbOpControl(Session, NULL, Request, Entry, 0, In.ControlCode, 0, In.Flags, Input + sizeof(In),
                         In.InputLength, In.OutputLength, Output, OutputLength);
}

_IRQL_requires_(PASSIVE_LEVEL)
_Must_inspect_result_
static NTSTATUS
WskbIoctlControlSocket(_In_ WSKB_SESSION *Session, _In_ WDFREQUEST Request, _In_ size_t InputLength,
                       _In_ size_t OutputLength)
{
    NTSTATUS Status;
    WSKB_CONTROL_SOCKET_IN In;
    CONST WSKB_CONTROL_ENTRY *Entry;
    WSKB_SOCKET *Socket;
    PUCHAR Input;
    PVOID Output;

    Status = WskbIoctlHeaderInput(Request, InputLength, sizeof(In), &In, &Input);
    if (!NT_SUCCESS(Status))
        return Status;
    Status = WskbIoctlCheckTail(InputLength, sizeof(In), In.InputLength, WSKB_MAX_CONTROL_BYTES);
    if (!NT_SUCCESS(Status))
        return Status;
    if (In.OutputLength > WSKB_MAX_CONTROL_BYTES)
        return STATUS_INVALID_BUFFER_SIZE;
    if (In.Flags & ~WSKB_CONTROL_FLAGS_VALID)
        return STATUS_INVALID_PARAMETER;
    /* Codes and levels the allowlist admits go to WSK as given, but the request type is an enum
     * whose other values WSK documents nothing for: the driver's own check, so that none
     * reaches netio. */
    if (In.RequestType >= (ULONG)WskControlMax)
        return STATUS_INVALID_PARAMETER;
    /* The request types are the table's socket kinds (controltable.h). */
    Status = WskbIoctlControlAllowed(In.RequestType, In.Level, In.ControlCode, Input + sizeof(In), In.InputLength,
                                     In.OutputLength, In.Flags, &Entry);
    if (!NT_SUCCESS(Status))
        return Status;
    Status = WskbIoctlOutput(Request, OutputLength, sizeof(WSKB_CONTROL_OUT) + (size_t)In.OutputLength, &Output);
    if (!NT_SUCCESS(Status))
        return Status;
    /* Every kind has WskControlSocket (the basic table). */
    Status = WskbIoctlSocket(Session, In.SocketId,
                             WSKB_KIND_BASIC | WSKB_KIND_LISTEN | WSKB_KIND_CONNECTION | WSKB_KIND_DATAGRAM, &Socket);
    if (!NT_SUCCESS(Status))
        return Status;
    Status = WskbOpControl(Session, Socket, Request, Entry, In.RequestType, In.ControlCode, In.Level, In.Flags,
                           Input + sizeof(In), In.InputLength, In.OutputLength, Output, OutputLength);
    WskbSocketDereference(Socket);
    return Status;
}

_IRQL_requires_(PASSIVE_LEVEL)
_Must_inspect_result_
static NTSTATUS
WskbIoctlSocketCreate(_In_ WSKB_SESSION *Session, _In_ WDFREQUEST Request, _In_ size_t InputLength,
                      _In_ size_t OutputLength)
{
    NTSTATUS Status;
    WSKB_SOCKET_CREATE_IN In;
    PVOID Output;

    Status = WskbIoctlFixedInput(Request, InputLength, sizeof(In), &In);
    if (!NT_SUCCESS(Status))
        return Status;
    if (In.Options & ~WSKB_SOCKET_OPTIONS_VALID)
        return STATUS_INVALID_PARAMETER;
    /* The kind decides which provider table the socket gets and which client table the
     * driver passes, so it must be one the driver knows (stream sockets have a table of their
     * own that the driver does not drive). */
    if (!WskbKindBit(In.WskFlags))
        return STATUS_INVALID_PARAMETER;
    Status = WskbIoctlOutput(Request, OutputLength, sizeof(WSKB_SOCKET_ID), &Output);
    if (!NT_SUCCESS(Status))
        return Status;
    return WskbOpSocketCreate(Session, Request, &In, Output, OutputLength);
}

_IRQL_requires_(PASSIVE_LEVEL)
_Must_inspect_result_
static NTSTATUS
WskbIoctlAddress(_In_ WSKB_SESSION *Session, _In_ WDFREQUEST Request, _In_ size_t InputLength, _In_ BOOLEAN Connect)
{
    NTSTATUS Status;
    WSKB_ADDRESS_IN In;
    SOCKADDR_STORAGE Address;
    WSKB_SOCKET *Socket;

    Status = WskbIoctlFixedInput(Request, InputLength, sizeof(In), &In);
    if (!NT_SUCCESS(Status))
        return Status;
    if (In.Reserved)
        return STATUS_INVALID_PARAMETER;
    Status = WskbSockaddrFromWire(&In.Address, &Address);
    if (!NT_SUCCESS(Status))
        return Status;
    Status = WskbIoctlSocket(Session, In.SocketId,
                             Connect ? WSKB_KIND_CONNECTION
                                     : (WSKB_KIND_LISTEN | WSKB_KIND_CONNECTION | WSKB_KIND_DATAGRAM),
                             &Socket);
    if (!NT_SUCCESS(Status))
        return Status;
    Status = Connect ? WskbOpConnect(Socket, Request, &Address, In.Flags) : WskbOpBind(Socket, Request, &Address, In.Flags);
    WskbSocketDereference(Socket);
    return Status;
}

_IRQL_requires_(PASSIVE_LEVEL)
_Must_inspect_result_
static NTSTATUS
WskbIoctlAccept(_In_ WSKB_SESSION *Session, _In_ WDFREQUEST Request, _In_ size_t InputLength, _In_ size_t OutputLength)
{
    NTSTATUS Status;
    WSKB_ACCEPT_IN In;
    WSKB_SOCKET *Socket;
    PVOID Output;

    Status = WskbIoctlFixedInput(Request, InputLength, sizeof(In), &In);
    if (!NT_SUCCESS(Status))
        return Status;
    if (In.Reserved)
        return STATUS_INVALID_PARAMETER;
    Status = WskbIoctlOutput(Request, OutputLength, sizeof(WSKB_ACCEPT_OUT), &Output);
    if (!NT_SUCCESS(Status))
        return Status;
    Status = WskbIoctlSocket(Session, In.SocketId, WSKB_KIND_LISTEN, &Socket);
    if (!NT_SUCCESS(Status))
        return Status;
    Status = WskbOpAccept(Socket, Request, In.Flags, Output, OutputLength);
    WskbSocketDereference(Socket);
    return Status;
}

/* SEND and DISCONNECT: WSKB_DATA_IN followed by exactly Length bytes. */
_IRQL_requires_(PASSIVE_LEVEL)
_Must_inspect_result_
static NTSTATUS
WskbIoctlSendData(_In_ WSKB_SESSION *Session, _In_ WDFREQUEST Request, _In_ size_t InputLength, _In_ BOOLEAN Disconnect)
{
    NTSTATUS Status;
    WSKB_DATA_IN In;
    WSKB_SOCKET *Socket;
    PUCHAR Input;

    Status = WskbIoctlHeaderInput(Request, InputLength, sizeof(In), &In, &Input);
    if (!NT_SUCCESS(Status))
        return Status;
    Status = WskbIoctlCheckTail(InputLength, sizeof(In), In.Length, WSKB_MAX_IO_BYTES);
    if (!NT_SUCCESS(Status))
        return Status;
    Status = WskbIoctlSocket(Session, In.SocketId, WSKB_KIND_CONNECTION, &Socket);
    if (!NT_SUCCESS(Status))
        return Status;
    Status = Disconnect ? WskbOpDisconnect(Socket, Request, In.Flags, Input + sizeof(In), In.Length)
                        : WskbOpSend(Socket, Request, In.Flags, Input + sizeof(In), In.Length);
    WskbSocketDereference(Socket);
    return Status;
}

_IRQL_requires_(PASSIVE_LEVEL)
_Must_inspect_result_
static NTSTATUS
WskbIoctlReceive(_In_ WSKB_SESSION *Session, _In_ WDFREQUEST Request, _In_ size_t InputLength, _In_ size_t OutputLength,
                 _In_ BOOLEAN From)
{
    NTSTATUS Status;
    WSKB_DATA_IN In;
    WSKB_SOCKET *Socket;
    PVOID Output = NULL;
    size_t Header = From ? sizeof(WSKB_RECEIVE_FROM_OUT) : 0;

    Status = WskbIoctlFixedInput(Request, InputLength, sizeof(In), &In);
    if (!NT_SUCCESS(Status))
        return Status;
    if (In.Length > WSKB_MAX_IO_BYTES)
        return STATUS_INVALID_BUFFER_SIZE;
    if (Header + In.Length) {
        Status = WskbIoctlOutput(Request, OutputLength, Header + In.Length, &Output);
        if (!NT_SUCCESS(Status))
            return Status;
    }
    Status = WskbIoctlSocket(Session, In.SocketId, From ? WSKB_KIND_DATAGRAM : WSKB_KIND_CONNECTION, &Socket);
    if (!NT_SUCCESS(Status))
        return Status;
    /* A zero-length RECEIVE is legal in WSK (it re-arms receive indications). */
    Status = From ? WskbOpReceiveFrom(Socket, Request, In.Flags, Output, OutputLength, In.Length)
                  : WskbOpReceive(Socket, Request, In.Flags, Output, In.Length);
    WskbSocketDereference(Socket);
    return Status;
}

_IRQL_requires_(PASSIVE_LEVEL)
_Must_inspect_result_
static NTSTATUS
WskbIoctlSendTo(_In_ WSKB_SESSION *Session, _In_ WDFREQUEST Request, _In_ size_t InputLength)
{
    static CONST WSKB_SOCKADDR NoAddress;
    NTSTATUS Status;
    WSKB_SEND_TO_IN In;
    SOCKADDR_STORAGE Address;
    BOOLEAN HasAddress;
    WSKB_SOCKET *Socket;
    PUCHAR Input;

    Status = WskbIoctlHeaderInput(Request, InputLength, sizeof(In), &In, &Input);
    if (!NT_SUCCESS(Status))
        return Status;
    Status = WskbIoctlCheckTail(InputLength, sizeof(In), In.Length, WSKB_MAX_IO_BYTES);
    if (!NT_SUCCESS(Status))
        return Status;
    /* An all-zero address means "no RemoteAddress": WSK then uses the one fixed with
     * SIO_WSK_SET_SENDTO_ADDRESS. */
    HasAddress = RtlCompareMemory(&In.RemoteAddress, &NoAddress, sizeof(NoAddress)) != sizeof(NoAddress);
    if (HasAddress) {
        Status = WskbSockaddrFromWire(&In.RemoteAddress, &Address);
        if (!NT_SUCCESS(Status))
            return Status;
    }
    Status = WskbIoctlSocket(Session, In.SocketId, WSKB_KIND_DATAGRAM, &Socket);
    if (!NT_SUCCESS(Status))
        return Status;
    Status = WskbOpSendTo(Socket, Request, HasAddress ? &Address : NULL, In.Flags, Input + sizeof(In), In.Length);
    WskbSocketDereference(Socket);
    return Status;
}

_IRQL_requires_(PASSIVE_LEVEL)
_Must_inspect_result_
static NTSTATUS
WskbIoctlGetAddress(_In_ WSKB_SESSION *Session, _In_ WDFREQUEST Request, _In_ size_t InputLength,
                    _In_ size_t OutputLength)
{
    NTSTATUS Status;
    WSKB_GET_ADDRESS_IN In;
    WSKB_SOCKET *Socket;
    PVOID Output;

    Status = WskbIoctlFixedInput(Request, InputLength, sizeof(In), &In);
    if (!NT_SUCCESS(Status))
        return Status;
    if (In.Reserved || (In.Which != WSKB_ADDRESS_LOCAL && In.Which != WSKB_ADDRESS_REMOTE))
        return STATUS_INVALID_PARAMETER;
    Status = WskbIoctlOutput(Request, OutputLength, sizeof(WSKB_SOCKADDR), &Output);
    if (!NT_SUCCESS(Status))
        return Status;
    Status = WskbIoctlSocket(Session, In.SocketId,
                             In.Which == WSKB_ADDRESS_REMOTE
                                 ? WSKB_KIND_CONNECTION
                                 : (WSKB_KIND_LISTEN | WSKB_KIND_CONNECTION | WSKB_KIND_DATAGRAM),
                             &Socket);
    if (!NT_SUCCESS(Status))
        return Status;
    Status = WskbOpGetAddress(Socket, Request, In.Which, Output, OutputLength);
    WskbSocketDereference(Socket);
    return Status;
}

_IRQL_requires_(PASSIVE_LEVEL)
_Must_inspect_result_
static NTSTATUS
WskbIoctlClose(_In_ WSKB_SESSION *Session, _In_ WDFREQUEST Request, _In_ size_t InputLength)
{
    NTSTATUS Status;
    WSKB_SOCKET_ID In;
    WSKB_SOCKET *Socket;

    Status = WskbIoctlFixedInput(Request, InputLength, sizeof(In), &In);
    if (!NT_SUCCESS(Status))
        return Status;
    Status = WskbSocketDetachForClose(Session, In.SocketId, &Socket);
    if (!NT_SUCCESS(Status))
        return Status;
    /* Completed when WskCloseSocket completes; not cancelable: a close cannot be undone. */
    WskbSocketClose(Socket, Request);
    return STATUS_PENDING;
}

_IRQL_requires_(PASSIVE_LEVEL)
_Must_inspect_result_
static NTSTATUS
WskbIoctlReadEvents(_In_ WSKB_SESSION *Session, _In_ WDFREQUEST Request, _In_ size_t InputLength,
                    _In_ size_t OutputLength)
{
    if (InputLength != 0)
        return STATUS_INVALID_PARAMETER;
    if (OutputLength < WSKB_READ_EVENTS_MIN_OUTPUT)
        return STATUS_BUFFER_TOO_SMALL;
    WskbEventsReadRequest(Session, Request, OutputLength);
    return STATUS_PENDING;
}

_IRQL_requires_(PASSIVE_LEVEL)
_Must_inspect_result_
static NTSTATUS
WskbIoctlInspectComplete(_In_ WSKB_SESSION *Session, _In_ WDFREQUEST Request, _In_ size_t InputLength)
{
    NTSTATUS Status;
    WSKB_INSPECT_COMPLETE_IN In;
    WSKB_SOCKET *Socket;

    Status = WskbIoctlFixedInput(Request, InputLength, sizeof(In), &In);
    if (!NT_SUCCESS(Status))
        return Status;
    if (In.Reserved)
        return STATUS_INVALID_PARAMETER;
    /* WskInspectComplete takes Accept or Reject only (WskInspectPend is a callback's answer);
     * other values are refused here rather than handed to netio. */
    if (In.Action != (ULONG)WskInspectReject && In.Action != (ULONG)WskInspectAccept)
        return STATUS_INVALID_PARAMETER;
    Status = WskbIoctlSocket(Session, In.SocketId, WSKB_KIND_LISTEN, &Socket);
    if (!NT_SUCCESS(Status))
        return Status;
    /* The event half owns the request from here and completes it. */
    WskbEventsInspectComplete(Session, Socket, Request, &In);
    WskbSocketDereference(Socket);
    return STATUS_PENDING;
}

_IRQL_requires_(PASSIVE_LEVEL)
_Must_inspect_result_
static NTSTATUS
WskbIoctlStats(_In_ WSKB_SESSION *Session, _In_ WDFREQUEST Request, _In_ size_t InputLength, _In_ size_t OutputLength,
               _Out_ ULONG_PTR *Information)
{
    NTSTATUS Status;
    WSKB_STATS_OUT Stats;
    PVOID Output;

    *Information = 0;
    if (InputLength != 0)
        return STATUS_INVALID_PARAMETER;
    Status = WskbIoctlOutput(Request, OutputLength, sizeof(Stats), &Output);
    if (!NT_SUCCESS(Status))
        return Status;
    WskbEventsGetStats(Session, &Stats);
    RtlCopyMemory(Output, &Stats, sizeof(Stats));
    *Information = sizeof(Stats);
    return STATUS_SUCCESS;
}

/* Returns STATUS_PENDING when the request was handed on (it must not be touched any more),
 * else the status to complete it with. */
_IRQL_requires_(PASSIVE_LEVEL)
_Must_inspect_result_
static NTSTATUS
WskbIoctlDispatch(_In_ WSKB_SESSION *Session, _In_ WDFREQUEST Request, _In_ ULONG IoControlCode,
                  _In_ size_t InputLength, _In_ size_t OutputLength, _Out_ ULONG_PTR *Information)
{
    *Information = 0;
    switch (IoControlCode) {
    case WSKB_IOCTL_HELLO:
        return WskbIoctlHello(Session, Request, InputLength, OutputLength, Information);
    case WSKB_IOCTL_CONTROL_CLIENT:
    case WSKB_IOCTL_SOCKET_CREATE:
    case WSKB_IOCTL_BIND:
    case WSKB_IOCTL_CONNECT:
    case WSKB_IOCTL_ACCEPT:
    case WSKB_IOCTL_SEND:
    case WSKB_IOCTL_RECEIVE:
    case WSKB_IOCTL_SEND_TO:
    case WSKB_IOCTL_RECEIVE_FROM:
    case WSKB_IOCTL_DISCONNECT:
    case WSKB_IOCTL_GET_ADDRESS:
    case WSKB_IOCTL_CONTROL_SOCKET:
    case WSKB_IOCTL_CLOSE:
    case WSKB_IOCTL_READ_EVENTS:
    case WSKB_IOCTL_INSPECT_COMPLETE:
    case WSKB_IOCTL_STATS:
        break;
    default:
        return STATUS_INVALID_DEVICE_REQUEST;
    }

    /* HelloDone is set once, under the lock, before HELLO completes, so a request issued
     * after HELLO completed sees it. */
    if (!Session->HelloDone)
        return STATUS_INVALID_DEVICE_STATE;

    switch (IoControlCode) {
    case WSKB_IOCTL_CONTROL_CLIENT:
        return WskbIoctlControlClient(Session, Request, InputLength, OutputLength);
    case WSKB_IOCTL_SOCKET_CREATE:
        return WskbIoctlSocketCreate(Session, Request, InputLength, OutputLength);
    case WSKB_IOCTL_BIND:
        return WskbIoctlAddress(Session, Request, InputLength, FALSE);
    case WSKB_IOCTL_CONNECT:
        return WskbIoctlAddress(Session, Request, InputLength, TRUE);
    case WSKB_IOCTL_ACCEPT:
        return WskbIoctlAccept(Session, Request, InputLength, OutputLength);
    case WSKB_IOCTL_SEND:
        return WskbIoctlSendData(Session, Request, InputLength, FALSE);
    case WSKB_IOCTL_DISCONNECT:
        return WskbIoctlSendData(Session, Request, InputLength, TRUE);
    case WSKB_IOCTL_RECEIVE:
        return WskbIoctlReceive(Session, Request, InputLength, OutputLength, FALSE);
    case WSKB_IOCTL_RECEIVE_FROM:
        return WskbIoctlReceive(Session, Request, InputLength, OutputLength, TRUE);
    case WSKB_IOCTL_SEND_TO:
        return WskbIoctlSendTo(Session, Request, InputLength);
    case WSKB_IOCTL_GET_ADDRESS:
        return WskbIoctlGetAddress(Session, Request, InputLength, OutputLength);
    case WSKB_IOCTL_CONTROL_SOCKET:
        return WskbIoctlControlSocket(Session, Request, InputLength, OutputLength);
    case WSKB_IOCTL_CLOSE:
        return WskbIoctlClose(Session, Request, InputLength);
    case WSKB_IOCTL_READ_EVENTS:
        return WskbIoctlReadEvents(Session, Request, InputLength, OutputLength);
    case WSKB_IOCTL_INSPECT_COMPLETE:
        return WskbIoctlInspectComplete(Session, Request, InputLength);
    case WSKB_IOCTL_STATS:
        return WskbIoctlStats(Session, Request, InputLength, OutputLength, Information);
    default:
        return STATUS_INVALID_DEVICE_REQUEST;
    }
}

_Use_decl_annotations_
VOID
WskbEvtIoDeviceControl(WDFQUEUE Queue, WDFREQUEST Request, size_t OutputBufferLength, size_t InputBufferLength,
                       ULONG IoControlCode)
{
    WSKB_SESSION *Session = WskbSessionGetContext(WdfRequestGetFileObject(Request));
    NTSTATUS Status;
    ULONG_PTR Information;

    UNREFERENCED_PARAMETER(Queue);
    PAGED_CODE();
    /* Held for the whole dispatch so EvtFileCleanup cannot release the provider NPI under a
     * request that is still being handed to WSK. */
    if (!ExAcquireRundownProtection(&Session->Rundown)) {
        WdfRequestComplete(Request, STATUS_DELETE_PENDING);
        return;
    }
    Status = WskbIoctlDispatch(Session, Request, IoControlCode, InputBufferLength, OutputBufferLength, &Information);
    if (Status != STATUS_PENDING)
        WdfRequestCompleteWithInformation(Request, Status, Information);
    ExReleaseRundownProtection(&Session->Rundown);
}

/* SPDX-License-Identifier: MIT
 *
 * The WSK calls behind each socket IOCTL (socketops.c). ioctl.c has validated every length,
 * reserved field, enum and id, checked that the socket's kind has the routine, and copied the
 * fixed input out of the system buffer (METHOD_BUFFERED: input and output share it).
 *
 * Each returns STATUS_PENDING when the request now belongs to an operation (it will be
 * completed exactly once, from the WSK completion or cancel path), or a failure status for the
 * caller to complete the request with.
 */
#pragma once

#include "irp.h"
#include "controltable.h"

_IRQL_requires_(PASSIVE_LEVEL)
_Must_inspect_result_
NTSTATUS
WskbOpSocketCreate(_In_ WSKB_SESSION *Session, _In_ WDFREQUEST Request, _In_ CONST WSKB_SOCKET_CREATE_IN *In,
                   _Out_writes_bytes_(OutputLength) PVOID Output, _In_ size_t OutputLength);

_IRQL_requires_(PASSIVE_LEVEL)
_Must_inspect_result_
NTSTATUS
WskbOpBind(_In_ WSKB_SOCKET *Socket, _In_ WDFREQUEST Request, _In_ CONST SOCKADDR_STORAGE *Address, _In_ ULONG Flags);

_IRQL_requires_(PASSIVE_LEVEL)
_Must_inspect_result_
NTSTATUS
WskbOpConnect(_In_ WSKB_SOCKET *Socket, _In_ WDFREQUEST Request, _In_ CONST SOCKADDR_STORAGE *Address,
              _In_ ULONG Flags);

_IRQL_requires_(PASSIVE_LEVEL)
_Must_inspect_result_
NTSTATUS
WskbOpAccept(_In_ WSKB_SOCKET *Socket, _In_ WDFREQUEST Request, _In_ ULONG Flags,
             _Out_writes_bytes_(OutputLength) PVOID Output, _In_ size_t OutputLength);

/* SEND and DISCONNECT: Data (Length bytes) lies in the request's system buffer. */
_IRQL_requires_(PASSIVE_LEVEL)
_Must_inspect_result_
NTSTATUS
WskbOpSend(_In_ WSKB_SOCKET *Socket, _In_ WDFREQUEST Request, _In_ ULONG Flags,
           _In_reads_bytes_(Length) PVOID Data, _In_ ULONG Length);

_IRQL_requires_(PASSIVE_LEVEL)
_Must_inspect_result_
NTSTATUS
WskbOpDisconnect(_In_ WSKB_SOCKET *Socket, _In_ WDFREQUEST Request, _In_ ULONG Flags,
                 _In_reads_bytes_opt_(Length) PVOID Data, _In_ ULONG Length);

/* RECEIVE: up to Length bytes into Output (the system buffer, at least Length long). */
_IRQL_requires_(PASSIVE_LEVEL)
_Must_inspect_result_
NTSTATUS
WskbOpReceive(_In_ WSKB_SOCKET *Socket, _In_ WDFREQUEST Request, _In_ ULONG Flags,
              _Out_writes_bytes_(Length) PVOID Output, _In_ ULONG Length);

/* SEND_TO: Address NULL passes a NULL RemoteAddress (the socket's SIO_WSK_SET_SENDTO_ADDRESS). */
_IRQL_requires_(PASSIVE_LEVEL)
_Must_inspect_result_
NTSTATUS
WskbOpSendTo(_In_ WSKB_SOCKET *Socket, _In_ WDFREQUEST Request, _In_opt_ CONST SOCKADDR_STORAGE *Address,
             _In_ ULONG Flags, _In_reads_bytes_(Length) PVOID Data, _In_ ULONG Length);

/* RECEIVE_FROM: Output holds WSKB_RECEIVE_FROM_OUT followed by Length bytes. */
_IRQL_requires_(PASSIVE_LEVEL)
_Must_inspect_result_
NTSTATUS
WskbOpReceiveFrom(_In_ WSKB_SOCKET *Socket, _In_ WDFREQUEST Request, _In_ ULONG Flags,
                  _Out_writes_bytes_(OutputLength) PVOID Output, _In_ size_t OutputLength, _In_ ULONG Length);

_IRQL_requires_(PASSIVE_LEVEL)
_Must_inspect_result_
NTSTATUS
WskbOpGetAddress(_In_ WSKB_SOCKET *Socket, _In_ WDFREQUEST Request, _In_ ULONG Which,
                 _Out_writes_bytes_(OutputLength) PVOID Output, _In_ size_t OutputLength);

/* CONTROL_SOCKET / CONTROL_CLIENT: Input is In->InputLength bytes (copied to pool here);
 * Output holds WSKB_CONTROL_OUT followed by up to In->OutputLength bytes. Socket NULL means
 * WskControlClient on the session's client. Entry is the call's allowlist entry, against which
 * ioctl.c has checked the sizes and the IRP flag. */
_IRQL_requires_(PASSIVE_LEVEL)
_Must_inspect_result_
NTSTATUS
WskbOpControl(_In_ WSKB_SESSION *Session, _In_opt_ WSKB_SOCKET *Socket, _In_ WDFREQUEST Request,
              _In_ CONST WSKB_CONTROL_ENTRY *Entry, _In_ ULONG RequestType, _In_ ULONG ControlCode, _In_ ULONG Level, _In_ ULONG Flags,
              _In_reads_bytes_opt_(InputLength) CONST VOID *Input, _In_ ULONG InputLength, _In_ ULONG OutputLength,
              _Out_writes_bytes_(RequestOutputLength) PVOID Output, _In_ size_t RequestOutputLength);

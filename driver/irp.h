/* SPDX-License-Identifier: MIT
 *
 * One WDF request <-> one WSK call: the single piece of code every IRP-based IOCTL goes
 * through. An operation owns the WSK IRP, an optional MDL and pool buffers, a reference on
 * its socket and on the session's rundown. The request is cancelable while WSK holds the IRP:
 * cancelling the request cancels the IRP (IoCancelIrp), and the request is completed with the
 * IRP's own status once the IRP has come back.
 *
 * Lifetime: an operation is reference counted. The submit path holds one reference until the
 * Wsk* call has returned (so CallStatus is known), the IRP holds one until its completion
 * routine ran (or WskbOperationRun took an ignored IRP back), and the cancel routine holds one
 * from WdfRequestMarkCancelableEx until it ran or WdfRequestUnmarkCancelable said it never will. Whoever drops the last reference runs
 * Finish, completes the request and frees everything, at IRQL <= DISPATCH_LEVEL.
 */
#pragma once

#include "driver.h"

typedef struct _WSKB_OPERATION WSKB_OPERATION;

/* Runs once, before the request is completed, with the operation's final outcome: Called says
 * whether the Wsk* routine was invoked; *Status and *Information start as the IRP's (or, if
 * not called, the failure and 0). It writes the request's output and may change both. May run
 * at DISPATCH_LEVEL. */
typedef _IRQL_requires_max_(DISPATCH_LEVEL)
VOID
WSKB_OPERATION_FINISH(_Inout_ WSKB_OPERATION *Operation, _Inout_ NTSTATUS *Status, _Inout_ ULONG_PTR *Information);

/* Makes the Wsk* call. Irp is NULL when the operation was allocated without one. Called with
 * the socket's call rundown held. Returns what the Wsk* routine returned. */
typedef _IRQL_requires_max_(PASSIVE_LEVEL)
NTSTATUS
WSKB_OPERATION_CALL(_Inout_ WSKB_OPERATION *Operation, _In_opt_ PIRP Irp);

struct _WSKB_OPERATION {
    LIST_ENTRY Link;            /* Session->Operations */
    WSKB_SESSION *Session;
    WSKB_SOCKET *Socket;        /* referenced; NULL for client-level operations */
    WDFREQUEST Request;
    PIRP Irp;                   /* NULL for a NULL-IRP control call */
    PMDL Mdl;                   /* over the request's system buffer, or NULL */
    volatile LONG RefCount;
    BOOLEAN Called;             /* the Wsk* routine was invoked (owns the IRP until completion) */
    BOOLEAN Cancelable;
    NTSTATUS FailStatus;        /* why the call was not made */
    NTSTATUS CallStatus;        /* what the Wsk* routine returned */
    NTSTATUS IrpStatus;         /* Irp->IoStatus.Status once completed (== CallStatus without IRP) */
    ULONG_PTR IrpInformation;
    WSKB_OPERATION_FINISH *Finish;
    PUCHAR Output;              /* the request's output buffer (system buffer), or NULL */
    size_t OutputLength;
    WSK_BUF Buffer;             /* data operations */
    ULONG Flags;                /* passed to WSK unchanged */
    BOOLEAN CancelSwept;        /* WskbOperationCancelAll has cancelled it */
    volatile LONG IrpBack;      /* 1 once the IRP is back: completed, or taken back after a
                                 * non-pending return that left it uncompleted (irp.c) */
    PVOID InputPool;            /* pool buffers freed with the operation, or NULL */
    PVOID OutputPool;
    union {
        struct {
            SOCKADDR_STORAGE Address;   /* bind, connect, send-to, get-address */
            BOOLEAN HasAddress;         /* send-to: FALSE means NULL RemoteAddress */
        } Address;
        struct {
            WSKB_SOCKET *NewSocket;     /* reserved in the table, Creating */
            SOCKADDR_STORAGE Local;
            SOCKADDR_STORAGE Remote;
        } Accept;
        struct {
            WSKB_SOCKET *NewSocket;
            USHORT Family;
            USHORT SocketType;
            ULONG Protocol;
            ULONG WskFlags;
        } Create;
        struct {
            SOCKADDR_STORAGE Remote;
            ULONG ControlFlags;
        } ReceiveFrom;
        struct {
            ULONG RequestType;
            ULONG ControlCode;
            ULONG Level;
            PVOID Input;                /* InputPool, or &EventControl, or NULL */
            SIZE_T InputLength;
            SIZE_T OutputLength;        /* of OutputPool */
            SIZE_T OutputSizeReturned;
            BOOLEAN PassOutputSizeReturned; /* the allowlist's rule: &OutputSizeReturned, else NULL */
            WSK_EVENT_CALLBACK_CONTROL EventControl;
        } Control;
    } u;
};

/* Allocates an operation for Request on Socket (referenced) or on the session's client. With
 * WithIrp, the WSK IRP too. Output is the request's output buffer (may be NULL). Fails with
 * STATUS_DELETE_PENDING once the session's rundown has started. The operation is private to
 * the caller (not yet on Session->Operations) until WskbOperationRun, so the caller allocates
 * everything else it needs before running it, and WskbOperationFree it on failure. */
_IRQL_requires_max_(PASSIVE_LEVEL)
_Must_inspect_result_
NTSTATUS
WskbOperationAllocate(_In_ WSKB_SESSION *Session, _In_opt_ WSKB_SOCKET *Socket, _In_ WDFREQUEST Request,
                      _In_ BOOLEAN WithIrp, _In_opt_ WSKB_OPERATION_FINISH *Finish,
                      _Out_writes_bytes_opt_(OutputLength) PVOID Output, _In_ size_t OutputLength,
                      _Outptr_ WSKB_OPERATION **Operation);

/* Describes Length bytes at Data (inside the request's system buffer) as Operation->Buffer,
 * with an MDL built for non-paged pool; Length 0 gives a NULL MDL. */
_IRQL_requires_max_(DISPATCH_LEVEL)
_Must_inspect_result_
NTSTATUS
WskbOperationSetBuffer(_Inout_ WSKB_OPERATION *Operation, _In_reads_bytes_opt_(Length) PVOID Data, _In_ ULONG Length);

/* Runs the operation: links it on Session->Operations (where the cleanup sweep finds it;
 * once the session is cleaning up, the request completes with STATUS_DELETE_PENDING and Call
 * is not made), brackets Call with the socket's call rundown, makes the request cancelable,
 * and from then on owns the request: it is completed exactly once, by this module. Never
 * fails; the outcome reaches user mode through the request. */
_IRQL_requires_max_(PASSIVE_LEVEL)
VOID
WskbOperationRun(_Inout_ WSKB_OPERATION *Operation, _In_ WSKB_OPERATION_CALL *Call);

/* Frees an operation that was never run (so never linked), without completing its request. */
_IRQL_requires_max_(DISPATCH_LEVEL)
VOID
WskbOperationFree(_In_ _Post_ptr_invalid_ WSKB_OPERATION *Operation);

/* EvtFileCleanup: cancels the WSK IRP of every operation of the session (each is completed
 * through its own completion routine). */
_IRQL_requires_(PASSIVE_LEVEL)
VOID
WskbOperationCancelAll(_Inout_ WSKB_SESSION *Session);

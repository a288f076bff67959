/* SPDX-License-Identifier: MIT
 *
 * Socket half of the driver: the control device, sessions (one per file handle, each its
 * own WSK client), the socket table and the IOCTLs that drive WSK sockets. The event half
 * is in events.h. Both halves share the two objects below.
 */
#pragma once

#include <ntddk.h>
#include <wdf.h>
#include <wsk.h>
#include "protocol.h"
#include "events.h"

/* Pool tags, one per kind of allocation, so a leak names its owner. */
#define WSKB_TAG_SESSION 'sBkW'
#define WSKB_TAG_SOCKET 'kBkW'
#define WSKB_TAG_TABLE 'tBkW'
#define WSKB_TAG_EVENTS 'eBkW'
#define WSKB_TAG_OPERATION 'oBkW'
#define WSKB_TAG_INSPECT 'iBkW'

/* Sockets per session; slots are reused, ids never are (generation). */
#define WSKB_MAX_SOCKETS_PER_SESSION 8192u

typedef enum _WSKB_SOCKET_STATE {
    WskbSocketCreating,
    WskbSocketOpen,
    WskbSocketClosing,
    WskbSocketClosed
} WSKB_SOCKET_STATE;

struct _WSKB_SOCKET {
    WSKB_SESSION *Session;
    PWSK_SOCKET WskSocket;          /* NULL until WskSocket/accept completed */
    UINT64 Id;                      /* (generation << 32) | slot index */
    ULONG Kind;                     /* WSK_FLAG_{BASIC,LISTEN,CONNECTION,DATAGRAM}_SOCKET */
    USHORT Family;
    WSKB_SOCKET_STATE State;        /* under Session->Lock */
    volatile LONG RefCount;         /* table, in-flight requests, close: freed at 0 */
    EX_RUNDOWN_REF CallRundown;     /* held across each Wsk* call on this socket, so that
                                       WskCloseSocket never races another call */
    WSKB_SOCKET_EVENTS Events;      /* owned by events*.c */
};

struct _WSKB_SESSION {
    WDFFILEOBJECT FileObject;
    WDFQUEUE EventReadQueue;        /* the device's manual queue, filtered by file object */
    KSPIN_LOCK Lock;                /* socket table and event queue */
    WSK_REGISTRATION Registration;
    WSK_PROVIDER_NPI Provider;
    BOOLEAN Registered;
    BOOLEAN NpiCaptured;
    BOOLEAN HelloDone;
    BOOLEAN SocketsCreated;         /* a socket exists or existed: static events too late */
    BOOLEAN CleaningUp;             /* no new sockets; set at EvtFileCleanup */
    struct {
        WSKB_SOCKET *Socket;
        ULONG Generation;
        ULONG NextFree;
    } *Table;                       /* WSKB_MAX_SOCKETS_PER_SESSION slots */
    ULONG FreeHead;
    ULONG SocketsOpen;
    WSKB_EVENT_QUEUE Events;        /* owned by events*.c */
};

typedef struct _WSKB_DEVICE_CONTEXT {
    WDFQUEUE EventReadQueue;        /* manual: pended READ_EVENTS (inverted call) */
} WSKB_DEVICE_CONTEXT;
WDF_DECLARE_CONTEXT_TYPE_WITH_NAME(WSKB_DEVICE_CONTEXT, WskbDeviceGetContext)
WDF_DECLARE_CONTEXT_TYPE_WITH_NAME(WSKB_SESSION, WskbSessionGetContext)

/* ---- socket table (socket.c) ---- */

/* Looks up an id of this session and takes a reference; STATUS_INVALID_HANDLE for an
 * unknown, stale, closing or foreign id. */
_IRQL_requires_max_(DISPATCH_LEVEL)
_Must_inspect_result_
NTSTATUS
WskbSocketLookup(_In_ WSKB_SESSION *Session, _In_ UINT64 SocketId, _Outptr_ WSKB_SOCKET **Socket);

_IRQL_requires_max_(DISPATCH_LEVEL)
VOID
WskbSocketReference(_Inout_ WSKB_SOCKET *Socket);

_IRQL_requires_max_(DISPATCH_LEVEL)
VOID
WskbSocketDereference(_Inout_ WSKB_SOCKET *Socket);

/* For WskAcceptEvent (DISPATCH_LEVEL): enters an accepted WSK socket in the table as an open
 * connection socket. On failure the caller refuses the connection. */
_IRQL_requires_max_(DISPATCH_LEVEL)
_Must_inspect_result_
NTSTATUS
WskbSocketInsertAccepted(_In_ WSKB_SESSION *Session, _In_ PWSK_SOCKET WskSocket, _In_ USHORT Family,
                         _Outptr_ WSKB_SOCKET **Socket);

/* Brackets every Wsk* call on a socket; Begin fails once the socket is closing. */
_IRQL_requires_max_(DISPATCH_LEVEL)
_Must_inspect_result_
BOOLEAN
WskbSocketCallBegin(_Inout_ WSKB_SOCKET *Socket);

_IRQL_requires_max_(DISPATCH_LEVEL)
VOID
WskbSocketCallEnd(_Inout_ WSKB_SOCKET *Socket);

/* The socket's provider dispatch, as the connection table (all kinds share the basic
 * table's first two members). */
#define WskbSocketDispatch(Socket, Type) ((CONST Type *)(Socket)->WskSocket->Dispatch)

/* ---- address conversion (address.c) ---- */

_Must_inspect_result_
NTSTATUS
WskbSockaddrFromWire(_In_ CONST WSKB_SOCKADDR *Wire, _Out_ SOCKADDR_STORAGE *Address);

VOID
WskbSockaddrToWire(_In_opt_ CONST SOCKADDR *Address, _Out_ WSKB_SOCKADDR *Wire);

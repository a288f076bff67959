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

/* ---- the driver-wide NonPaged pool bound (poolbudget.c) ---- */

/* Charges Bytes against WSKB_DRIVER_POOL_BUDGET; FALSE (nothing charged) when it would pass it. */
_IRQL_requires_max_(DISPATCH_LEVEL)
_Must_inspect_result_
BOOLEAN
WskbPoolBudgetCharge(_In_ ULONG64 Bytes);

_IRQL_requires_max_(DISPATCH_LEVEL)
VOID
WskbPoolBudgetRelease(_In_ ULONG64 Bytes);

/* Bytes charged now, across all handles (tests). */
_IRQL_requires_max_(DISPATCH_LEVEL)
ULONG64
WskbPoolBudgetCharged(VOID);

/* Sockets per session; slots are reused, ids never are (generation). */
#define WSKB_MAX_SOCKETS_PER_SESSION 8192u

/* The socket table of a session starts with this many slots at open and doubles, up to
 * WSKB_MAX_SOCKETS_PER_SESSION, when a socket finds no free slot: a handle that uses a few
 * sockets costs 1 KiB of NonPaged pool rather than 128 KiB, and closing it walks only the
 * slots it ever had. */
#define WSKB_TABLE_INITIAL_SLOTS 64u
#define WSKB_TABLE_BYTES(Slots) ((ULONG)sizeof(WSKB_SLOT) * (ULONG)(Slots))

/* A socket id is (generation << 32) | (session tag << 16) | slot. The session tag, drawn from a
 * driver-wide counter at open, makes an id of one session name nothing in another (a foreign id
 * is STATUS_INVALID_HANDLE, not a socket of the caller's that happens to share slot and
 * generation). Two sessions share a tag only 65536 opens apart, and then also need the same
 * slot and generation. */
#define WSKB_ID_SLOT(Id) ((ULONG)((Id) & 0xFFFFu))
#define WSKB_ID_TAG(Id) ((USHORT)(((Id) >> 16) & 0xFFFFu))
#define WSKB_ID_GENERATION(Id) ((ULONG)((Id) >> 32))
#define WSKB_ID_MAKE(Generation, Tag, Slot) (((UINT64)(Generation) << 32) | ((UINT64)(Tag) << 16) | (UINT64)(Slot))
WSKB_STATIC_ASSERT(WSKB_MAX_SOCKETS_PER_SESSION <= 0x10000u, "a slot must fit the id's low 16 bits");
/* End of the table's free list. */
#define WSKB_SLOT_NONE 0xFFFFFFFFu

/* One entry of a session's socket table. */
typedef struct _WSKB_SLOT {
    WSKB_SOCKET *Socket;
    ULONG Generation;
    ULONG NextFree;
} WSKB_SLOT;

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
    /* Added by the socket half: */
    ULONG Options;                  /* WSKB_SOCKET_OPTION_* it was created with (accepted: the listener's) */
    PIRP CloseIrp;                  /* preallocated: closing never fails for want of memory */
    WDFREQUEST CloseRequest;        /* the CLOSE request completed when WskCloseSocket completes */
};

struct _WSKB_SESSION {
    WDFFILEOBJECT FileObject;
    PDEVICE_OBJECT DeviceObject;    /* the control device: IoSetCompletionRoutineEx's reference */
    WDFQUEUE EventReadQueue;        /* the device's manual queue, filtered by file object */
    KSPIN_LOCK Lock;                /* socket table and event queue */
    WSK_REGISTRATION Registration;
    WSK_PROVIDER_NPI Provider;
    BOOLEAN Registered;
    BOOLEAN NpiCaptured;
    BOOLEAN HelloDone;
    BOOLEAN SocketsCreated;         /* a socket exists or existed: static events too late */
    BOOLEAN CleaningUp;             /* no new sockets; set at EvtFileCleanup */
    WSKB_SLOT *Table;               /* TableSlots slots, under Lock (socket.c) */
    ULONG TableSlots;
    ULONG FreeHead;
    USHORT IdTag;                   /* see WSKB_ID_MAKE */
    ULONG SocketsOpen;
    WSKB_EVENT_QUEUE Events;        /* owned by events*.c */
    /* Added by the socket half: */
    EX_RUNDOWN_REF Rundown;         /* held by each IOCTL in progress, each operation and each
                                       socket object: EvtFileCleanup waits for it to drain */
    LIST_ENTRY Operations;          /* WSKB_OPERATION in flight (irp.h), under Lock */
    ULONG SocketsCreating;          /* sockets reserved in the table whose WSK socket is not yet
                                       known (create or accept in flight), under Lock */
    KEVENT CreatingDone;            /* set when CleaningUp and SocketsCreating reaches 0 */
    BOOLEAN HelloStarted;           /* a HELLO got past validation (only one may) */
    BOOLEAN EventsInitialized;      /* WskbEventsInitialize succeeded */
};

/* Locking (both halves): Session->Lock is a plain KSPIN_LOCK taken with KeAcquireSpinLock /
 * KeAcquireSpinLockAtDpcLevel, never with the in-stack queued variants (the two kinds must not
 * be mixed on one lock). The socket half never calls into events*.c with it held, and the
 * routines below that take it must be called without it. */

typedef struct _WSKB_DEVICE_CONTEXT {
    WDFQUEUE EventReadQueue;        /* manual: pended READ_EVENTS (inverted call) */
} WSKB_DEVICE_CONTEXT;
WDF_DECLARE_CONTEXT_TYPE_WITH_NAME(WSKB_DEVICE_CONTEXT, WskbDeviceGetContext)
WDF_DECLARE_CONTEXT_TYPE_WITH_NAME(WSKB_SESSION, WskbSessionGetContext)

/* ---- socket table (socket.c) ---- */

/* At open: the table's first WSKB_TABLE_INITIAL_SLOTS slots, charged to the pool bound. */
_IRQL_requires_(PASSIVE_LEVEL)
_Must_inspect_result_
NTSTATUS
WskbSocketTableInitialize(_Inout_ WSKB_SESSION *Session);

/* At close (or a failed open): frees the table and gives its charge back. */
_IRQL_requires_(PASSIVE_LEVEL)
VOID
WskbSocketTableUninitialize(_Inout_ WSKB_SESSION *Session);

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

/* Registers Routine (TRUE, TRUE, TRUE, as every WSK IRP of the driver) on a driver-allocated
 * IRP about to be handed to WSK, through IoSetCompletionRoutineEx: this is a non-PnP driver,
 * and the reference the registration holds on the control device keeps the image loaded until
 * the routine has returned (SDV rule IoSetCompletionRoutineNonPnpDriver; issue 8, finding 6).
 * It allocates, so it can fail; once it succeeded the IRP must reach WSK, whose completion is
 * what frees the kernel's context. */
_IRQL_requires_max_(DISPATCH_LEVEL)
_Must_inspect_result_
NTSTATUS
WskbIrpSetCompletion(_In_ WSKB_SESSION *Session, _Inout_ PIRP Irp, _In_ PIO_COMPLETION_ROUTINE Routine,
                     _In_ PVOID Context);

/* For WskAcceptEvent (DISPATCH_LEVEL): enters an accepted WSK socket in the table as an open
 * connection socket (WskbEventsSocketInitialize is called by this routine). On failure the
 * caller refuses the connection (STATUS_REQUEST_NOT_ACCEPTED) and WSK closes the socket. The
 * returned socket carries a reference for the caller; the table keeps its own. It also holds
 * the socket's call rundown for the upcall, taken before the socket became visible: until
 * WSK has taken back the context and dispatch the callback returns, WskCloseSocket must not
 * run on it, and every close (CLOSE, the cleanup sweep) waits for that rundown. The caller
 * ends it with WskbSocketCallEnd as its last act before returning. Takes Session->Lock. */
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

/* Socket half internals (socket.c). */

/* Allocates a socket object with its close IRP, initializes its event part and reserves a
 * table slot for it in the Creating state (its Id is final). Fails with STATUS_DELETE_PENDING
 * once the session is cleaning up, STATUS_INSUFFICIENT_RESOURCES when the table is full. The
 * socket carries the table's reference only. */
_IRQL_requires_max_(DISPATCH_LEVEL)
_Must_inspect_result_
NTSTATUS
WskbSocketCreateReserved(_In_ WSKB_SESSION *Session, _In_ ULONG Kind, _In_ USHORT Family, _In_ ULONG Options,
                         _Outptr_ WSKB_SOCKET **Socket);

/* The WSK socket of a reserved socket exists: it becomes Open and lookups find it. */
_IRQL_requires_max_(DISPATCH_LEVEL)
VOID
WskbSocketActivate(_Inout_ WSKB_SOCKET *Socket, _In_ PWSK_SOCKET WskSocket);

/* The WSK socket of a reserved socket was never created: frees the slot and drops the table's
 * reference. */
_IRQL_requires_max_(DISPATCH_LEVEL)
VOID
WskbSocketAbandon(_Inout_ WSKB_SOCKET *Socket);

/* Looks up an open socket and starts closing it: lookups fail from now on, its slot is free.
 * The caller receives the table's reference and must pass the socket to WskbSocketClose. */
_IRQL_requires_max_(DISPATCH_LEVEL)
_Must_inspect_result_
NTSTATUS
WskbSocketDetachForClose(_In_ WSKB_SESSION *Session, _In_ UINT64 SocketId, _Outptr_ WSKB_SOCKET **Socket);

/* Waits for calls in progress on the socket, then WskCloseSocket with its close IRP. When that
 * completes: WskbEventsSocketClosed, CloseRequest (if any) completed with the IRP's status, and
 * the table's reference dropped. */
_IRQL_requires_(PASSIVE_LEVEL)
VOID
WskbSocketClose(_Inout_ WSKB_SOCKET *Socket, _In_opt_ WDFREQUEST CloseRequest);

/* EvtFileCleanup: refuses new sockets, waits for creations in flight, closes every socket. */
_IRQL_requires_(PASSIVE_LEVEL)
VOID
WskbSocketCloseAll(_Inout_ WSKB_SESSION *Session);

/* ---- session (session.c) ---- */

EVT_WDF_DEVICE_FILE_CREATE WskbEvtDeviceFileCreate;
EVT_WDF_FILE_CLEANUP WskbEvtFileCleanup;
EVT_WDF_FILE_CLOSE WskbEvtFileClose;

/* HELLO: version check, event queue, provider characteristics; fills *Out on success.
 * Returns the request's status. */
_IRQL_requires_(PASSIVE_LEVEL)
_Must_inspect_result_
NTSTATUS
WskbSessionHello(_Inout_ WSKB_SESSION *Session, _In_ CONST WSKB_HELLO_IN *In, _Out_ WSKB_HELLO_OUT *Out);

/* ---- IOCTL dispatch (ioctl.c) ---- */

EVT_WDF_IO_QUEUE_IO_DEVICE_CONTROL WskbEvtIoDeviceControl;

/* ---- address conversion (address.c) ---- */

/* AF_INET or AF_INET6 only; every byte the family does not use and Reserved must be zero,
 * else STATUS_INVALID_PARAMETER. Port and FlowInfo are converted to network order. */
_IRQL_requires_max_(DISPATCH_LEVEL)
_Must_inspect_result_
NTSTATUS
WskbSockaddrFromWire(_In_ CONST WSKB_SOCKADDR *Wire, _Out_ SOCKADDR_STORAGE *Address);

/* A NULL address or an unknown family gives an all-zero WSKB_SOCKADDR. */
_IRQL_requires_max_(DISPATCH_LEVEL)
VOID
WskbSockaddrToWire(_In_opt_ CONST SOCKADDR *Address, _Out_ WSKB_SOCKADDR *Wire);

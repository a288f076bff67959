/* SPDX-License-Identifier: MIT
 *
 * Event half of the driver: the session's bounded event queue, the seven WSK event
 * callbacks, the inverted call (READ_EVENTS), receive flow control and pended inspections.
 *
 * Contract with the socket half (driver.h, socket.c, ioctl.c, session.c):
 *  - The session embeds WSKB_EVENT_QUEUE; each socket embeds WSKB_SOCKET_EVENTS. Both are
 *    owned by events*.c; the socket half never touches their fields.
 *  - Every socket created by the driver passes WskbEventsClientDispatch(Kind) as its client
 *    dispatch table (unless the caller asked for none) and the WSKB_SOCKET* as its context.
 *  - Callbacks run at IRQL <= DISPATCH_LEVEL, copy what WSK gave them into the queue and
 *    return at once; they never wait.
 */
#pragma once

#include <ntddk.h>
#include <wdf.h>
#include <wsk.h>
#include "protocol.h"

typedef struct _WSKB_SESSION WSKB_SESSION;
typedef struct _WSKB_SOCKET WSKB_SOCKET;

typedef struct _WSKB_EVENT_QUEUE {
    /* Ring of whole event records. Data-class records (receive, receive-from, accept,
     * inspect) may use at most Budget bytes; control-class records (disconnect, abort,
     * send-backlog, flow, socket-closed, counters) may also use the reserve, and past it go
     * to the overflow list, so that they are never lost. */
    PUCHAR Ring;
    ULONG Capacity;
    ULONG Budget;
    ULONG Head;
    ULONG Tail;
    ULONG Used;
    ULONG DataUsed;
    LIST_ENTRY Overflow;
    UINT64 NextSequence;
    UINT64 DatagramsDroppedPending; /* not yet reported by a DATAGRAMS_DROPPED event */
    UINT64 AcceptsRefusedPending;   /* not yet reported by an ACCEPTS_REFUSED event */
    LIST_ENTRY PausedSockets;       /* sockets whose receive indications wait for a re-arm */
    WSKB_STATS_OUT Stats;
    UINT64 NextInspectToken;
} WSKB_EVENT_QUEUE;

typedef struct _WSKB_SOCKET_EVENTS {
    LIST_ENTRY PausedLink;          /* in WSKB_EVENT_QUEUE.PausedSockets while paused */
    BOOLEAN Paused;
    BOOLEAN RearmInFlight;
    PIRP RearmIrp;                  /* preallocated: a re-arm never fails for want of memory */
    LIST_ENTRY PendingInspects;     /* WSKB_PENDING_INSPECT, by token */
} WSKB_SOCKET_EVENTS;

/* ---- session lifetime (PASSIVE_LEVEL) ---- */

_IRQL_requires_(PASSIVE_LEVEL)
_Must_inspect_result_
NTSTATUS
WskbEventsInitialize(_Inout_ WSKB_SESSION *Session, _In_ ULONG BudgetBytes);

/* Frees the ring and the overflow list. All sockets are closed by then. */
_IRQL_requires_(PASSIVE_LEVEL)
VOID
WskbEventsUninitialize(_Inout_ WSKB_SESSION *Session);

/* ---- socket lifetime ---- */

/* Called before the socket is created in WSK. Allocates the re-arm IRP. */
_IRQL_requires_max_(DISPATCH_LEVEL)
_Must_inspect_result_
NTSTATUS
WskbEventsSocketInitialize(_Inout_ WSKB_SOCKET *Socket);

/* Called after WskCloseSocket completed: no callback can run any more. Queues the
 * SOCKET_CLOSED event, forgets pended inspections, frees the re-arm IRP. */
_IRQL_requires_max_(DISPATCH_LEVEL)
VOID
WskbEventsSocketClosed(_Inout_ WSKB_SOCKET *Socket);

/* The client dispatch table for a socket kind (a WSK_FLAG_*_SOCKET value), or NULL for
 * basic sockets. */
_IRQL_requires_max_(DISPATCH_LEVEL)
CONST VOID *
WskbEventsClientDispatch(_In_ ULONG WskSocketKind);

/* ---- IOCTL handlers the socket half forwards to (PASSIVE_LEVEL, in the caller's context) ---- */

/* READ_EVENTS: completes at once with whole records if any are queued, else forwards the
 * request to the device's manual queue (inverted call). */
_IRQL_requires_max_(PASSIVE_LEVEL)
VOID
WskbEventsReadRequest(_In_ WSKB_SESSION *Session, _In_ WDFREQUEST Request, _In_ size_t OutputLength);

/* INSPECT_COMPLETE: WskInspectComplete for a pended inspection, with an IRP. */
_IRQL_requires_max_(PASSIVE_LEVEL)
VOID
WskbEventsInspectComplete(_In_ WSKB_SESSION *Session, _In_ WSKB_SOCKET *Socket, _In_ WDFREQUEST Request,
                          _In_ CONST WSKB_INSPECT_COMPLETE_IN *In);

/* Copies the session's counters. */
_IRQL_requires_max_(DISPATCH_LEVEL)
VOID
WskbEventsGetStats(_In_ WSKB_SESSION *Session, _Out_ WSKB_STATS_OUT *Stats);


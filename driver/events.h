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
    /* Added by the event half (internal): */
    ULONG Reserve;                  /* bytes of the ring beyond Budget, for control records */
    ULONG OverflowCount;            /* records in Overflow */
    UINT64 HeldBytes;               /* record bytes (header.Size) in ring + overflow */
    LIST_ENTRY ReportSockets;       /* sockets with drop/refusal counts not yet reported */
    BOOLEAN Delivering;             /* one thread at a time completes READ_EVENTS, in order */
    BOOLEAN DeliverAgain;           /* a READ_EVENTS arrived while Delivering: look again */
    BOOLEAN ReaderMayWait;          /* a READ_EVENTS was forwarded and no retrieve has come up
                                     * empty since: worth trying the direct write (readevents.c) */
} WSKB_EVENT_QUEUE;

typedef struct _WSKB_SOCKET_EVENTS {
    LIST_ENTRY PausedLink;          /* in WSKB_EVENT_QUEUE.PausedSockets while paused */
    BOOLEAN Paused;
    BOOLEAN RearmInFlight;
    PIRP RearmIrp;                  /* preallocated: a re-arm never fails for want of memory */
    LIST_ENTRY PendingInspects;     /* WSKB_PENDING_INSPECT, by token */
    /* Added by the event half (internal): */
    BOOLEAN Initialized;            /* WskbEventsSocketInitialize ran (lists valid) */
    BOOLEAN PausedAgain;            /* paused again while a re-arm was in flight */
    BOOLEAN ReportQueued;           /* in WSKB_EVENT_QUEUE.ReportSockets */
    BOOLEAN Closed;                 /* SOCKET_CLOSED queued: no further event of this socket */
    LIST_ENTRY RearmLink;           /* private list of WskbFlowRearm */
    LIST_ENTRY ReportLink;          /* in WSKB_EVENT_QUEUE.ReportSockets */
    UINT64 DatagramsDroppedPending; /* not yet reported by a DATAGRAMS_DROPPED event */
    UINT64 AcceptsRefusedPending;   /* not yet reported by an ACCEPTS_REFUSED event */
    BOOLEAN SendBacklogPending;     /* a coalesced SEND_BACKLOG waits to be queued */
    UINT64 SendBacklogLatest;       /* its IdealBacklogSize: the latest WSK indicated */
    BOOLEAN HeldByUser;             /* SOCKET_FLOW paused it: its data-class records are refused */
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

/* READ_EVENTS: forwards the request to the device's manual queue (the inverted call), even
 * when records are waiting, so that one deliverer completes requests in arrival order; it is
 * completed as soon as whole records are there. */
_IRQL_requires_max_(PASSIVE_LEVEL)
VOID
WskbEventsReadRequest(_In_ WSKB_SESSION *Session, _In_ WDFREQUEST Request, _In_ size_t OutputLength);

/* INSPECT_COMPLETE: WskInspectComplete for a pended inspection, with an IRP; for one whose
 * WskInspectEvent is still running, the decision is left for the callback to return. */
_IRQL_requires_max_(PASSIVE_LEVEL)
VOID
WskbEventsInspectComplete(_In_ WSKB_SESSION *Session, _In_ WSKB_SOCKET *Socket, _In_ WDFREQUEST Request,
                          _In_ CONST WSKB_INSPECT_COMPLETE_IN *In);

/* SOCKET_FLOW: holds the socket back (Pause) or lets it go; queues SOCKET_PAUSED/RESUMED on a
 * change and re-arms its receive indications on release. */
_IRQL_requires_max_(PASSIVE_LEVEL)
VOID
WskbEventsSocketFlow(_In_ WSKB_SESSION *Session, _Inout_ WSKB_SOCKET *Socket, _In_ BOOLEAN Pause);

/* Copies the session's counters. */
_IRQL_requires_max_(DISPATCH_LEVEL)
VOID
WskbEventsGetStats(_In_ WSKB_SESSION *Session, _Out_ WSKB_STATS_OUT *Stats);


/* Frees what WskbEventsSocketInitialize allocated, without queuing any event: for a socket
 * that never reached WSK (creation failed). WskbEventsSocketClosed does this itself. */
_IRQL_requires_max_(DISPATCH_LEVEL)
VOID
WskbEventsSocketUninitialize(_Inout_ WSKB_SOCKET *Socket);

/* =========================================================================================
 * Internal to the event half (eventqueue.c, callbacks.c, readevents.c, flow.c, inspect.c).
 * The socket half uses none of what follows.
 * ========================================================================================= */

/* Data-class records are bounded by the budget; control-class records are never refused. */
typedef enum _WSKB_EVENT_CLASS {
    WskbEventClassData,
    WskbEventClassControl
} WSKB_EVENT_CLASS;

/* Largest data payload of one RECEIVE record; larger indications are split. */
#define WSKB_EVENT_MAX_RECEIVE_DATA (64u * 1024u)
/* Largest data payload of one RECEIVE_FROM record (a datagram is never split). */
#define WSKB_EVENT_MAX_DATAGRAM_DATA \
    (WSKB_READ_EVENTS_MIN_OUTPUT - (ULONG)sizeof(WSKB_EVENT_HEADER) - (ULONG)sizeof(WSKB_SOCKADDR))
/* Ring bytes held back for control records beyond the data budget. */
#define WSKB_EVENT_CONTROL_RESERVE (64u * 1024u)

/* Where a pending inspection is, as WSK sees it. Its INSPECT record reaches user mode inside
 * WskInspectEvent, before the callback has returned WskInspectPend, so user mode may answer an
 * inspection that WSK does not yet consider pended; WskInspectComplete is called only for one
 * that is (inspect.c). */
typedef enum _WSKB_INSPECT_STATE {
    WskbInspectDelivering,          /* WskInspectEvent still runs: owned by it, never freed elsewhere */
    WskbInspectPended               /* WskInspectEvent returned WskInspectPend */
} WSKB_INSPECT_STATE;

typedef struct _WSKB_PENDING_INSPECT {
    LIST_ENTRY Link;                /* in the listening socket's PendingInspects */
    UINT64 Token;                   /* the INSPECT event's Param; never 0 */
    WSK_INSPECT_ID InspectId;       /* a copy: WSK names the request by contents, not address */
    WSKB_SOCKET *Socket;            /* the listening socket (referenced while completing) */
    WSKB_INSPECT_STATE State;       /* under Session->Lock */
    BOOLEAN Decided;                /* Delivering only: INSPECT_COMPLETE left Decision for the callback */
    WSK_INSPECT_ACTION Decision;    /* WskInspectAccept or WskInspectReject, returned by the callback */
    WDFREQUEST Request;             /* INSPECT_COMPLETE being served */
    PIRP Irp;                       /* for WskInspectComplete */
} WSKB_PENDING_INSPECT;

/* ---- the ring (eventqueue.c); every *Locked routine runs under Session->Lock ---- */

/* Reserves a record of Type for Socket (SocketId 0 if NULL) with BodyLength body bytes and
 * returns its header (Sequence, Timestamp, SocketId, Size, Type set; WskFlags, DataLength and
 * Param zero; body zeroed only for control records in overflow). A data-class record is
 * refused (NULL) when the budget is spent, the ring has no contiguous room, or the overflow
 * is not empty (order). A control-class record goes to the overflow when the ring is full;
 * NULL then means the pool allocation failed, and the sequence number is consumed so that
 * user mode sees the loss as a gap. The record is not delivered before it is committed. */
_IRQL_requires_(DISPATCH_LEVEL)
_Must_inspect_result_
WSKB_EVENT_HEADER *
WskbEventQueueReserveLocked(_Inout_ WSKB_SESSION *Session, _In_ WSKB_EVENT_CLASS Class, _In_ UINT32 Type,
                            _In_opt_ WSKB_SOCKET *Socket, _In_ ULONG BodyLength);

/* Largest body a data-class record could have right now (0 if none fits). */
_IRQL_requires_(DISPATCH_LEVEL)
ULONG
WskbEventQueueDataRoomLocked(_In_ WSKB_SESSION *Session);

/* Makes a reserved record deliverable. Class changes a data reservation into a control one
 * (its bytes then leave the budget) when the callback turned it into a control event. */
_IRQL_requires_(DISPATCH_LEVEL)
VOID
WskbEventQueueCommitLocked(_Inout_ WSKB_SESSION *Session, _Inout_ WSKB_EVENT_HEADER *Header,
                           _In_ WSKB_EVENT_CLASS Class);

/* Shrinks the most recent reservation, made in the same hold of the lock, to BodyLength;
 * with BodyLength == WSKB_TRIM_CANCEL it is cancelled and its sequence number given back. */
#define WSKB_TRIM_CANCEL ((ULONG)-1)
_IRQL_requires_(DISPATCH_LEVEL)
VOID
WskbEventQueueTrimLastLocked(_Inout_ WSKB_SESSION *Session, _Inout_ WSKB_EVENT_HEADER *Header,
                             _In_ ULONG BodyLength);

/* Queues a control record without body. FALSE only if it was lost to pool exhaustion. */
_IRQL_requires_(DISPATCH_LEVEL)
BOOLEAN
WskbEventQueueControlLocked(_Inout_ WSKB_SESSION *Session, _In_ UINT32 Type, _In_opt_ WSKB_SOCKET *Socket,
                            _In_ UINT32 WskFlags, _In_ UINT64 Param);

/* Counts an indication refused for want of budget or memory: RefusedType is the event that
 * could not be queued (WSKB_EVENT_RECEIVE_FROM, _ACCEPT or _INSPECT). The count is reported
 * later by WskbEventQueueFlushReportsLocked, as DATAGRAMS_DROPPED or ACCEPTS_REFUSED. */
_IRQL_requires_(DISPATCH_LEVEL)
VOID
WskbEventQueueCountRefusalLocked(_Inout_ WSKB_SESSION *Session, _Inout_ WSKB_SOCKET *Socket, _In_ UINT32 RefusedType);

/* Queues SEND_BACKLOG, or keeps only its latest value while the ring and its reserve are
 * full (reported later by WskbEventQueueFlushReportsLocked): the network drives these, and a
 * stalled reader must not let it grow the overflow list without bound. */
_IRQL_requires_(DISPATCH_LEVEL)
VOID
WskbEventQueueSendBacklogLocked(_Inout_ WSKB_SESSION *Session, _Inout_ WSKB_SOCKET *Socket, _In_ UINT64 IdealBacklogSize);

/* Queues DATAGRAMS_DROPPED / ACCEPTS_REFUSED and coalesced SEND_BACKLOG for every socket with
 * something unreported (or only for Socket when given). */
_IRQL_requires_(DISPATCH_LEVEL)
VOID
WskbEventQueueFlushReportsLocked(_Inout_ WSKB_SESSION *Session, _In_opt_ WSKB_SOCKET *Socket);

_IRQL_requires_(DISPATCH_LEVEL)
BOOLEAN
WskbEventQueueHasDeliverableLocked(_In_ WSKB_SESSION *Session);

/* ---- taking records out: the single-consumer protocol ----
 *
 * Producers (the WSK callbacks, the IOCTL paths that queue control records) add records at the
 * ring's tail and in the overflow list, always under Session->Lock. Only one thread removes
 * them: the one that set WSKB_EVENT_QUEUE.Delivering (readevents.c). That thread
 *   1. plans a batch under the lock (WskbEventQueuePlanBatchLocked): the committed ring records
 *      from the head that fit the output, without moving the head;
 *   2. copies them WITHOUT the lock (WskbEventQueueCopyPlanned) into the READ_EVENTS buffer:
 *      the planned ring bytes still count as used, so no producer can place anything over
 *      them, and a committed record is never written again (Trim and Commit only touch the
 *      newest, uncommitted reservation, which the plan never includes);
 *   3. retires them under the lock (WskbEventQueueRetirePlannedLocked): moves the head, gives
 *      the bytes back to the budget, and appends what waits in the overflow list (control
 *      records of 56 bytes, only when the ring is full of them) if the plan took the whole ring.
 * So the big copies (64 KiB receive records) never run under the spin lock, and a callback at
 * DISPATCH_LEVEL only ever waits for the lock for the few pointer updates of steps 1 and 3.
 * Anything else that moves the head (WskbRingFirstLocked dropping PAD entries) is only called
 * by that same thread, or with no deliverer possible (initialize, uninitialize). */
typedef struct _WSKB_EVENT_BATCH {
    ULONG Start;                    /* ring offset of the first planned entry (the head) */
    ULONG RingBytes;                /* ring bytes from Start that the batch releases, PADs included */
    ULONG Written;                  /* bytes of the planned ring records in the output */
    ULONG Records;
    ULONG DataBytes;                /* ring bytes of data-class entries among them */
    BOOLEAN WholeRing;              /* the plan reaches the tail: the overflow may follow */
} WSKB_EVENT_BATCH;

/* Step 1: plans the committed ring records from the head that fit Length (capped at
 * WSKB_READ_EVENTS_BATCH_MAX). Returns Batch->Written. */
_IRQL_requires_(DISPATCH_LEVEL)
ULONG
WskbEventQueuePlanBatchLocked(_Inout_ WSKB_SESSION *Session, _In_ ULONG Length, _Out_ WSKB_EVENT_BATCH *Batch);

/* Step 2, without Session->Lock, by the delivering thread only: writes the planned records to
 * Buffer (Batch->Written bytes). Never reads Buffer back: it may be user memory. */
_IRQL_requires_max_(DISPATCH_LEVEL)
VOID
WskbEventQueueCopyPlanned(_In_ WSKB_SESSION *Session, _In_ CONST WSKB_EVENT_BATCH *Batch,
                          _Out_writes_bytes_(Batch->Written) PUCHAR Buffer);

/* Step 3: releases the planned records and, when the plan took the whole ring, copies the
 * committed overflow records that still fit (Length as in step 1) behind them. Returns the
 * total bytes written. */
_IRQL_requires_(DISPATCH_LEVEL)
ULONG
WskbEventQueueRetirePlannedLocked(_Inout_ WSKB_SESSION *Session, _In_ CONST WSKB_EVENT_BATCH *Batch,
                                  _Out_writes_bytes_(Length) PUCHAR Buffer, _In_ ULONG Length);

/* The three steps under the lock at once (tests, and anything that holds the lock anyway):
 * moves as many whole committed records as fit into Buffer, in sequence order; returns the
 * bytes written. */
_IRQL_requires_(DISPATCH_LEVEL)
ULONG
WskbEventQueueCopyBatchLocked(_Inout_ WSKB_SESSION *Session, _Out_writes_bytes_(Length) PUCHAR Buffer,
                              _In_ ULONG Length);

/* ---- the inverted call (readevents.c) ---- */

/* Completes waiting READ_EVENTS requests of the session with committed records. Call it after
 * releasing Session->Lock whenever a record was committed. */
_IRQL_requires_max_(DISPATCH_LEVEL)
VOID
WskbEventsDeliver(_Inout_ WSKB_SESSION *Session);

/* ---- the direct write: an indication straight into a waiting READ_EVENTS ----
 *
 * When nothing waits in the queue and user mode has a READ_EVENTS pending, a data callback
 * writes its records into that request's buffer instead of the ring, and completes it: one
 * copy (WSK's buffer -> user memory) instead of two, and no ring or budget bookkeeping.
 *   1. WskbEventsDirectBegin takes the delivering role (WSKB_EVENT_QUEUE.Delivering) and the
 *      request, without the lock;
 *   2. WskbEventQueueReserveDirectLocked, under the lock, gives each record its sequence number
 *      and its place in the buffer, only while the ring and the overflow are empty: every
 *      record queued before is older and is delivered first; one queued after is newer and
 *      waits for the next request, which completes after this one because this thread
 *      delivers until it lets the role go;
 *   3. the callback copies the data without the lock and fills the header's last fields;
 *   4. WskbEventsDirectEnd completes the request with what was written; with nothing written
 *      (another producer got into the ring first, or the socket is held back) it serves the
 *      request from the ring, or gives it back to the head of the queue (WdfRequestRequeue);
 *      then it goes on delivering as WskbEventsDeliver would.
 * The buffer is user memory mapped by the MDL: it is only written, never read back. */
typedef struct _WSKB_DIRECT_READ {
    WDFREQUEST Request;
    PUCHAR Buffer;                  /* the READ_EVENTS output (system address of its MDL) */
    ULONG Length;                   /* usable bytes, at most WSKB_READ_EVENTS_BATCH_MAX */
    ULONG Written;                  /* bytes of whole records placed so far */
    ULONG Records;
} WSKB_DIRECT_READ;

/* The largest body one more record could have in Direct's buffer (0 if none fits). */
FORCEINLINE
ULONG
WskbDirectRoom(_In_ CONST WSKB_DIRECT_READ *Direct)
{
    ULONG Left = (Direct->Length - Direct->Written) & ~7u;
    return Left > sizeof(WSKB_EVENT_HEADER) ? Left - (ULONG)sizeof(WSKB_EVENT_HEADER) : 0;
}

/* TRUE: this thread delivers and holds Direct->Request; call WskbEventsDirectEnd. FALSE: the
 * queue is not empty, another thread delivers, or no reader waits; queue as usual. */
_IRQL_requires_max_(DISPATCH_LEVEL)
_Must_inspect_result_
BOOLEAN
WskbEventsDirectBegin(_Inout_ WSKB_SESSION *Session, _Out_ WSKB_DIRECT_READ *Direct);

/* Without Session->Lock, after every record reserved in Direct was filled. */
_IRQL_requires_max_(DISPATCH_LEVEL)
VOID
WskbEventsDirectEnd(_Inout_ WSKB_SESSION *Session, _Inout_ WSKB_DIRECT_READ *Direct);

/* Step 2: a data-class record of BodyLength body bytes in Direct's buffer, header filled as by
 * WskbEventQueueReserveLocked and padding zeroed; NULL when it does not fit, the ring or the
 * overflow holds anything, or user mode holds the socket back (SOCKET_FLOW). */
_IRQL_requires_(DISPATCH_LEVEL)
_Must_inspect_result_
WSKB_EVENT_HEADER *
WskbEventQueueReserveDirectLocked(_Inout_ WSKB_SESSION *Session, _Inout_ WSKB_DIRECT_READ *Direct, _In_ UINT32 Type,
                                  _In_ WSKB_SOCKET *Socket, _In_ ULONG BodyLength);

/* ---- flow control (flow.c) ---- */

/* Marks the socket paused after WskReceiveEvent kept back BytesLeft bytes; queues FLOW_PAUSED. */
_IRQL_requires_(DISPATCH_LEVEL)
VOID
WskbFlowPauseLocked(_Inout_ WSKB_SESSION *Session, _Inout_ WSKB_SOCKET *Socket, _In_ UINT64 BytesLeft);

/* Re-arms paused sockets with a zero-length WskReceive if the data budget is below half. */
_IRQL_requires_max_(DISPATCH_LEVEL)
VOID
WskbFlowRearm(_Inout_ WSKB_SESSION *Session);

/* ---- pended inspections (inspect.c) ---- */

/* The body of INSPECT and ABORT records; a NULL InspectId leaves the id zero. */
_IRQL_requires_max_(DISPATCH_LEVEL)
VOID
WskbInspectBodyFill(_Out_ WSKB_INSPECT_BODY *Body, _In_opt_ PSOCKADDR LocalAddress, _In_opt_ PSOCKADDR RemoteAddress,
                    _In_opt_ CONST WSK_INSPECT_ID *InspectId);

/* WskInspectEvent's work: records the inspection on the listening socket and queues the
 * INSPECT event. Returns WskInspectPend; the decision itself when user mode answered before
 * the callback was done (INSPECT_COMPLETE while Delivering); or WskInspectReject (counted)
 * when budget or memory is lacking. The callback returns what this returns, at once. */
_IRQL_requires_max_(DISPATCH_LEVEL)
WSK_INSPECT_ACTION
WskbInspectPend(_Inout_ WSKB_SOCKET *Socket, _In_opt_ PSOCKADDR LocalAddress, _In_opt_ PSOCKADDR RemoteAddress,
                _In_ CONST WSK_INSPECT_ID *InspectId);

/* WskAbortEvent: forgets the pended inspection with these contents and queues ABORT. */
_IRQL_requires_max_(DISPATCH_LEVEL)
VOID
WskbInspectAbort(_Inout_ WSKB_SOCKET *Socket, _In_ CONST WSK_INSPECT_ID *InspectId);

/* Takes every pended inspection off the socket (it is closed); frees them. */
_IRQL_requires_max_(DISPATCH_LEVEL)
VOID
WskbInspectDropAll(_Inout_ WSKB_SOCKET *Socket);

/* SPDX-License-Identifier: MIT
 *
 * The seven WSK event callbacks and the three client dispatch tables that carry them.
 *
 * WSK calls these at IRQL <= DISPATCH_LEVEL, in any thread, with the WSKB_SOCKET* given as the
 * socket's context. Each one copies what it is given into the session's event queue and
 * returns at once: WSK's indications (MDL chains, addresses, inspect ids) are valid only for
 * the duration of the call, and holding them would stall the transport below.
 *
 * Nothing is lost silently: stream data that does not fit stays with WSK (flow.c); datagrams,
 * accepts and inspections that do not fit are refused, counted in WSKB_STATS_OUT and reported
 * by DATAGRAMS_DROPPED / ACCEPTS_REFUSED events once room returns.
 */
#include "driver.h"

/* ---- the callbacks and their tables ---- */

/* The WDK types these callbacks only as pointers (PFN_WSK_*_EVENT), so the tables below are
 * what checks each signature against wsk.h. */
_IRQL_requires_max_(DISPATCH_LEVEL) _Must_inspect_result_ static NTSTATUS WSKAPI
WskbReceiveEvent(_In_opt_ PVOID SocketContext, _In_ ULONG Flags, _In_opt_ PWSK_DATA_INDICATION DataIndication,
                 _In_ SIZE_T BytesIndicated, _Inout_ SIZE_T *BytesAccepted);
_IRQL_requires_max_(DISPATCH_LEVEL) static NTSTATUS WSKAPI
WskbDisconnectEvent(_In_opt_ PVOID SocketContext, _In_ ULONG Flags);
_IRQL_requires_max_(DISPATCH_LEVEL) static NTSTATUS WSKAPI
WskbSendBacklogEvent(_In_opt_ PVOID SocketContext, _In_ SIZE_T IdealBacklogSize);
_IRQL_requires_max_(DISPATCH_LEVEL) _Must_inspect_result_ static NTSTATUS WSKAPI
WskbAcceptEvent(_In_opt_ PVOID SocketContext, _In_ ULONG Flags, _In_opt_ PSOCKADDR LocalAddress,
                _In_opt_ PSOCKADDR RemoteAddress, _In_opt_ PWSK_SOCKET AcceptSocket,
                _Outptr_result_maybenull_ PVOID *AcceptSocketContext,
                _Outptr_result_maybenull_ CONST WSK_CLIENT_CONNECTION_DISPATCH **AcceptSocketDispatch);
_IRQL_requires_max_(DISPATCH_LEVEL) _Must_inspect_result_ static WSK_INSPECT_ACTION WSKAPI
WskbInspectEvent(_In_opt_ PVOID SocketContext, _In_ PSOCKADDR LocalAddress, _In_ PSOCKADDR RemoteAddress,
                 _In_opt_ PWSK_INSPECT_ID InspectID);
_IRQL_requires_max_(DISPATCH_LEVEL) static NTSTATUS WSKAPI
WskbAbortEvent(_In_opt_ PVOID SocketContext, _In_ PWSK_INSPECT_ID InspectID);
_IRQL_requires_max_(DISPATCH_LEVEL) _Must_inspect_result_ static NTSTATUS WSKAPI
WskbReceiveFromEvent(_In_opt_ PVOID SocketContext, _In_ ULONG Flags, _In_opt_ PWSK_DATAGRAM_INDICATION DataIndication);

static CONST WSK_CLIENT_LISTEN_DISPATCH WskbListenDispatch = {
    WskbAcceptEvent,
    WskbInspectEvent,
    WskbAbortEvent,
};

static CONST WSK_CLIENT_CONNECTION_DISPATCH WskbConnectionDispatch = {
    WskbReceiveEvent,
    WskbDisconnectEvent,
    WskbSendBacklogEvent,
};

static CONST WSK_CLIENT_DATAGRAM_DISPATCH WskbDatagramDispatch = {
    WskbReceiveFromEvent,
};

/* ---- copying out of WSK_BUF MDL chains ---- */

typedef struct _WSKB_BUF_CURSOR {
    PMDL Mdl;                       /* current MDL of the chain */
    ULONG Offset;                   /* within Mdl; only the first MDL's comes from WSK_BUF.Offset */
    SIZE_T Left;                    /* bytes of the WSK_BUF not yet copied */
} WSKB_BUF_CURSOR;

static VOID
WskbBufCursorInit(_Out_ WSKB_BUF_CURSOR *Cursor, _In_ CONST WSK_BUF *Buffer)
{
    Cursor->Mdl = Buffer->Mdl;
    Cursor->Offset = Buffer->Offset;
    Cursor->Left = Buffer->Mdl ? Buffer->Length : 0; /* Mdl may be NULL when Length is 0 */
}

/* Copies up to Want bytes; returns fewer only at the end of the buffer or when an MDL cannot be
 * mapped (the caller then accepts less, and WSK keeps the rest). With no Destination it only
 * maps the MDLs (the mapping stays with each MDL, so a later copy of those bytes cannot fail)
 * and counts. */
_IRQL_requires_max_(DISPATCH_LEVEL)
static SIZE_T
WskbBufCursorCopy(_Inout_ WSKB_BUF_CURSOR *Cursor, _Out_writes_bytes_opt_(Want) PUCHAR Destination, _In_ SIZE_T Want)
{
    SIZE_T Copied = 0;

    while (Copied < Want && Cursor->Left > 0 && Cursor->Mdl) {
        ULONG MdlBytes = MmGetMdlByteCount(Cursor->Mdl);
        PUCHAR Va;
        SIZE_T Chunk;

        if (Cursor->Offset >= MdlBytes) {
            Cursor->Offset -= MdlBytes;
            Cursor->Mdl = Cursor->Mdl->Next;
            continue;
        }
        Va = MmGetSystemAddressForMdlSafe(Cursor->Mdl, NormalPagePriority | MdlMappingNoExecute);
        if (!Va)
            break;
        Chunk = MdlBytes - Cursor->Offset;
        if (Chunk > Cursor->Left)
            Chunk = Cursor->Left;
        if (Chunk > Want - Copied)
            Chunk = Want - Copied;
        if (Destination)
            RtlCopyMemory(Destination + Copied, Va + Cursor->Offset, Chunk);
        Copied += Chunk;
        Cursor->Left -= Chunk;
        Cursor->Offset += (ULONG)Chunk;
    }
    return Copied;
}

/* Maps the MDLs of a data indication chain for up to Want bytes; returns how many bytes can be
 * copied without a mapping failure. */
_IRQL_requires_max_(DISPATCH_LEVEL)
static SIZE_T
WskbDataIndicationMap(_In_opt_ PWSK_DATA_INDICATION Indication, _In_ SIZE_T Want)
{
    SIZE_T Mapped = 0;

    for (; Indication && Mapped < Want; Indication = Indication->Next) {
        WSKB_BUF_CURSOR Cursor;
        WskbBufCursorInit(&Cursor, &Indication->Buffer);
        Mapped += WskbBufCursorCopy(&Cursor, NULL, Want - Mapped);
        if (Cursor.Left > 0)
            break; /* Want reached, or an MDL could not be mapped */
    }
    return Mapped;
}

/* Fills a RECEIVE record's body with Want bytes of the indication chain from (*Indication,
 * *Cursor) on, crossing into the next WSK_DATA_INDICATION as needed; both are left where the
 * copy stopped. The chain was mapped for these bytes beforehand, so the copy is whole. Returns
 * the bytes copied. */
_IRQL_requires_max_(DISPATCH_LEVEL)
static SIZE_T
WskbReceiveFill(_Inout_ PWSK_DATA_INDICATION *Indication, _Inout_ WSKB_BUF_CURSOR *Cursor,
                _Inout_ WSKB_EVENT_HEADER *Header, _In_ SIZE_T Want)
{
    PUCHAR Destination = (PUCHAR)(Header + 1);
    SIZE_T Copied = 0;

    while (Copied < Want && *Indication) {
        Copied += WskbBufCursorCopy(Cursor, Destination + Copied, Want - Copied);
        if (Copied < Want) {
            if (Cursor->Left > 0)
                break;
            *Indication = (*Indication)->Next;
            if (*Indication)
                WskbBufCursorInit(Cursor, &(*Indication)->Buffer);
        }
    }
    NT_ASSERT(Copied == Want);
    if (Copied < Want) {
        /* Never leak stale bytes: the record keeps its size, DataLength says what counts. */
        RtlZeroMemory(Destination + Copied, Want - Copied);
    }
    return Copied;
}

/* Fills what the copy decides in a RECEIVE record's header. */
static VOID
WskbReceiveHeaderFinish(_Inout_ WSKB_EVENT_HEADER *Header, _In_ ULONG Flags, _In_ SIZE_T Copied,
                        _In_ SIZE_T BytesIndicated)
{
    Header->WskFlags = Flags;
    Header->DataLength = (UINT32)Copied;
    Header->Param = BytesIndicated;
}

/* The direct write (events.h): as much of the indication as fits a waiting READ_EVENTS, in
 * records of at most WSKB_EVENT_MAX_RECEIVE_DATA, copied without the lock. Returns the bytes
 * accepted; what is left goes through the ring. */
_IRQL_requires_max_(DISPATCH_LEVEL)
static SIZE_T
WskbReceiveDirect(_Inout_ WSKB_SESSION *Session, _Inout_ WSKB_SOCKET *Socket, _In_ ULONG Flags,
                  _Inout_ PWSK_DATA_INDICATION *Indication, _Inout_ WSKB_BUF_CURSOR *Cursor, _In_ SIZE_T Mappable,
                  _In_ SIZE_T BytesIndicated)
{
    WSKB_DIRECT_READ Direct;
    SIZE_T Accepted = 0;
    KIRQL OldIrql;

    if (!WskbEventsDirectBegin(Session, &Direct))
        return 0;
    KeAcquireSpinLock(&Session->Lock, &OldIrql);
    while (Accepted < Mappable) {
        ULONG Want = WskbDirectRoom(&Direct);
        WSKB_EVENT_HEADER *Header;
        SIZE_T Copied;

        if (Want > WSKB_EVENT_MAX_RECEIVE_DATA)
            Want = WSKB_EVENT_MAX_RECEIVE_DATA;
        if (Mappable - Accepted < Want)
            Want = (ULONG)(Mappable - Accepted);
        if (Want == 0)
            break;
        Header = WskbEventQueueReserveDirectLocked(Session, &Direct, WSKB_EVENT_RECEIVE, Socket, Want);
        if (!Header)
            break;
        KeReleaseSpinLock(&Session->Lock, OldIrql);
        Copied = WskbReceiveFill(Indication, Cursor, Header, Want);
        WskbReceiveHeaderFinish(Header, Flags, Copied, BytesIndicated);
        Accepted += Copied;
        KeAcquireSpinLock(&Session->Lock, &OldIrql);
        if (Copied < Want)
            break;
    }
    KeReleaseSpinLock(&Session->Lock, OldIrql);
    WskbEventsDirectEnd(Session, &Direct);
    return Accepted;
}

/* ---- connection sockets ---- */

_IRQL_requires_max_(DISPATCH_LEVEL)
_Must_inspect_result_
static NTSTATUS WSKAPI
WskbReceiveEvent(_In_opt_ PVOID SocketContext, _In_ ULONG Flags, _In_opt_ PWSK_DATA_INDICATION DataIndication,
                 _In_ SIZE_T BytesIndicated, _Inout_ SIZE_T *BytesAccepted)
{
    WSKB_SOCKET *Socket = SocketContext;
    WSKB_SESSION *Session;
    PWSK_DATA_INDICATION Indication = DataIndication;
    WSKB_BUF_CURSOR Cursor;
    SIZE_T Accepted = 0, Mappable;
    KIRQL OldIrql;

    /* Every socket the driver creates or accepts has its WSKB_SOCKET as context. */
    NT_ASSERT(Socket);
    if (!Socket)
        return STATUS_DATA_NOT_ACCEPTED;
    Session = Socket->Session;
    /* Mapped before taking the lock: the copies below then cannot come up short, so a record
     * never has to be trimmed after the lock was let go (only the newest reservation can be). */
    Mappable = WskbDataIndicationMap(DataIndication, BytesIndicated);

    if (DataIndication)
        WskbBufCursorInit(&Cursor, &Indication->Buffer);
    if (Mappable > 0)
        Accepted = WskbReceiveDirect(Session, Socket, Flags, &Indication, &Cursor, Mappable, BytesIndicated);

    KeAcquireSpinLock(&Session->Lock, &OldIrql);
    if (!DataIndication) {
        /* The socket no longer works; user mode should close it. */
        WskbEventQueueControlLocked(Session, WSKB_EVENT_RECEIVE_CLOSED, Socket, Flags, 0);
        KeReleaseSpinLock(&Session->Lock, OldIrql);
        WskbEventsDeliver(Session);
        return STATUS_SUCCESS;
    }

    while (Accepted < BytesIndicated) {
        ULONG Want = WskbEventQueueDataRoomLocked(Session);
        WSKB_EVENT_HEADER *Header;
        SIZE_T Copied;

        if (Mappable - Accepted < Want)
            Want = (ULONG)(Mappable - Accepted);
        if (Want > WSKB_EVENT_MAX_RECEIVE_DATA)
            Want = WSKB_EVENT_MAX_RECEIVE_DATA;
        if (Want == 0)
            break;
        Header = WskbEventQueueReserveLocked(Session, WskbEventClassData, WSKB_EVENT_RECEIVE, Socket, Want);
        if (!Header)
            break;

        /* The copy (up to 64 KiB) runs without the lock: the reservation is this callback's alone
         * until it is committed (the reader stops at an uncommitted record, other producers place
         * behind the tail), so other callbacks and the reader wait only for the bookkeeping. One
         * record may span several WSK_DATA_INDICATIONs; a large indication is split into records. */
        KeReleaseSpinLock(&Session->Lock, OldIrql);
        Copied = WskbReceiveFill(&Indication, &Cursor, Header, Want);
        KeAcquireSpinLock(&Session->Lock, &OldIrql);
        WskbReceiveHeaderFinish(Header, Flags, Copied, BytesIndicated);
        WskbEventQueueCommitLocked(Session, Header, WskbEventClassData);
        Accepted += Copied;
        if (Copied < Want)
            break;
    }
    if (Accepted < BytesIndicated)
        WskbFlowPauseLocked(Session, Socket, BytesIndicated - Accepted);
    KeReleaseSpinLock(&Session->Lock, OldIrql);
    WskbEventsDeliver(Session);

    if (Accepted == BytesIndicated) {
        *BytesAccepted = BytesIndicated;
        return STATUS_SUCCESS;
    }
    if (Accepted == 0) {
        /* WSK keeps the data and indicates nothing more until a WskReceive completes (flow.c). */
        return STATUS_DATA_NOT_ACCEPTED;
    }
    /* A partial accept also stops indications until a WskReceive completes. */
    *BytesAccepted = Accepted;
    return STATUS_SUCCESS;
}

_IRQL_requires_max_(DISPATCH_LEVEL)
static NTSTATUS WSKAPI
WskbDisconnectEvent(_In_opt_ PVOID SocketContext, _In_ ULONG Flags)
{
    WSKB_SOCKET *Socket = SocketContext;
    KIRQL OldIrql;

    NT_ASSERT(Socket);
    if (!Socket)
        return STATUS_SUCCESS;
    KeAcquireSpinLock(&Socket->Session->Lock, &OldIrql);
    /* WskFlags tells graceful (0) from abortive (WSK_FLAG_ABORTIVE). */
    WskbEventQueueControlLocked(Socket->Session, WSKB_EVENT_DISCONNECT, Socket, Flags, 0);
    KeReleaseSpinLock(&Socket->Session->Lock, OldIrql);
    WskbEventsDeliver(Socket->Session);
    /* The only status WskDisconnectEvent may return. */
    return STATUS_SUCCESS;
}

_IRQL_requires_max_(DISPATCH_LEVEL)
static NTSTATUS WSKAPI
WskbSendBacklogEvent(_In_opt_ PVOID SocketContext, _In_ SIZE_T IdealBacklogSize)
{
    WSKB_SOCKET *Socket = SocketContext;
    KIRQL OldIrql;

    NT_ASSERT(Socket);
    if (!Socket)
        return STATUS_SUCCESS;
    KeAcquireSpinLock(&Socket->Session->Lock, &OldIrql);
    WskbEventQueueSendBacklogLocked(Socket->Session, Socket, IdealBacklogSize);
    KeReleaseSpinLock(&Socket->Session->Lock, OldIrql);
    WskbEventsDeliver(Socket->Session);
    return STATUS_SUCCESS;
}

/* ---- listening sockets ---- */

static VOID
WskbAddressPairFill(_Out_ WSKB_ADDRESS_PAIR *Pair, _In_opt_ PSOCKADDR LocalAddress, _In_opt_ PSOCKADDR RemoteAddress)
{
    WskbSockaddrToWire(LocalAddress, &Pair->LocalAddress);
    WskbSockaddrToWire(RemoteAddress, &Pair->RemoteAddress);
}

_IRQL_requires_max_(DISPATCH_LEVEL)
_Must_inspect_result_
static NTSTATUS WSKAPI
WskbAcceptEvent(_In_opt_ PVOID SocketContext, _In_ ULONG Flags, _In_opt_ PSOCKADDR LocalAddress,
                _In_opt_ PSOCKADDR RemoteAddress, _In_opt_ PWSK_SOCKET AcceptSocket,
                _Outptr_result_maybenull_ PVOID *AcceptSocketContext,
                _Outptr_result_maybenull_ CONST WSK_CLIENT_CONNECTION_DISPATCH **AcceptSocketDispatch)
{
    WSKB_SOCKET *Listener = SocketContext;
    WSKB_SESSION *Session;
    WSKB_SOCKET *Accepted = NULL;
    WSKB_EVENT_HEADER *Header;
    USHORT Family;
    NTSTATUS Status;
    KIRQL OldIrql;

    *AcceptSocketContext = NULL;
    *AcceptSocketDispatch = NULL;
    NT_ASSERT(Listener);
    if (!Listener)
        return STATUS_REQUEST_NOT_ACCEPTED;
    Session = Listener->Session;

    if (!AcceptSocket) {
        /* The listening socket no longer works (WSK says so once). A control record, so that
         * user mode learns it even with the budget spent. There is no socket to accept. */
        KeAcquireSpinLock(&Session->Lock, &OldIrql);
        Header = WskbEventQueueReserveLocked(Session, WskbEventClassControl, WSKB_EVENT_ACCEPT, Listener,
                                             sizeof(WSKB_ADDRESS_PAIR));
        if (Header) {
            Header->WskFlags = Flags;
            Header->Param = 0;
            WskbAddressPairFill((WSKB_ADDRESS_PAIR *)(Header + 1), LocalAddress, RemoteAddress);
            WskbEventQueueCommitLocked(Session, Header, WskbEventClassControl);
        }
        KeReleaseSpinLock(&Session->Lock, OldIrql);
        WskbEventsDeliver(Session);
        return STATUS_REQUEST_NOT_ACCEPTED;
    }

    /* The record is reserved first, so a connection is never accepted without its ACCEPT event;
     * it stays uncommitted (the reader stops at it) while the socket half enters the new socket
     * in the table, which takes Session->Lock. */
    KeAcquireSpinLock(&Session->Lock, &OldIrql);
    Header = WskbEventQueueReserveLocked(Session, WskbEventClassData, WSKB_EVENT_ACCEPT, Listener,
                                         sizeof(WSKB_ADDRESS_PAIR));
    if (!Header) {
        WskbEventQueueCountRefusalLocked(Session, Listener, WSKB_EVENT_ACCEPT);
        KeReleaseSpinLock(&Session->Lock, OldIrql);
        /* WSK closes the connection it offered. */
        return STATUS_REQUEST_NOT_ACCEPTED;
    }
    Header->WskFlags = Flags;
    WskbAddressPairFill((WSKB_ADDRESS_PAIR *)(Header + 1), LocalAddress, RemoteAddress);
    KeReleaseSpinLock(&Session->Lock, OldIrql);

    Family = RemoteAddress ? RemoteAddress->sa_family : LocalAddress ? LocalAddress->sa_family : AF_UNSPEC;
    Status = WskbSocketInsertAccepted(Session, AcceptSocket, Family, &Accepted);

    KeAcquireSpinLock(&Session->Lock, &OldIrql);
    if (NT_SUCCESS(Status)) {
        Header->Param = Accepted->Id;
        WskbEventQueueCommitLocked(Session, Header, WskbEventClassData);
    } else {
        /* The sequence number is spent, so the reserved record itself becomes the report of
         * this refusal (and of any still unreported), instead of leaving a gap. */
        ++Session->Events.Stats.AcceptsRefused;
        Header->Type = WSKB_EVENT_ACCEPTS_REFUSED;
        Header->WskFlags = 0;
        Header->Param = Listener->Events.AcceptsRefusedPending + 1;
        RtlZeroMemory(Header + 1, sizeof(WSKB_ADDRESS_PAIR));
        Session->Events.AcceptsRefusedPending -= Listener->Events.AcceptsRefusedPending;
        Listener->Events.AcceptsRefusedPending = 0;
        if (Listener->Events.ReportQueued && !Listener->Events.DatagramsDroppedPending &&
            !Listener->Events.SendBacklogPending) {
            RemoveEntryList(&Listener->Events.ReportLink);
            Listener->Events.ReportQueued = FALSE;
        }
        WskbEventQueueCommitLocked(Session, Header, WskbEventClassControl);
    }
    KeReleaseSpinLock(&Session->Lock, OldIrql);
    WskbEventsDeliver(Session);

    if (!NT_SUCCESS(Status))
        return STATUS_REQUEST_NOT_ACCEPTED;

    /* The new socket's events come to the connection callbacks with its own WSKB_SOCKET; the
     * table's reference keeps it alive, the one InsertAccepted gave us is not needed. The
     * ACCEPT record is already out, so user mode may be closing the socket on another
     * processor: that close waits on the call rundown the upcall holds, released only here,
     * as the last act (issue 8, finding 9). The table's reference keeps the socket alive until
     * then, because no close can complete before the release. Only this routine's epilogue
     * remains, and no driver code can run after its own return. */
    *AcceptSocketContext = Accepted;
    *AcceptSocketDispatch = &WskbConnectionDispatch;
    WskbSocketDereference(Accepted);
    WskbSocketCallEnd(Accepted);
    return STATUS_SUCCESS;
}

_IRQL_requires_max_(DISPATCH_LEVEL)
_Must_inspect_result_
static WSK_INSPECT_ACTION WSKAPI
WskbInspectEvent(_In_opt_ PVOID SocketContext, _In_ PSOCKADDR LocalAddress, _In_ PSOCKADDR RemoteAddress,
                 _In_opt_ PWSK_INSPECT_ID InspectID)
{
    WSKB_SOCKET *Listener = SocketContext;
    WSKB_SESSION *Session;
    WSKB_EVENT_HEADER *Header;
    KIRQL OldIrql;

    NT_ASSERT(Listener);
    if (!Listener)
        return WskInspectReject;
    Session = Listener->Session;

    if (!InspectID) {
        /* The listening socket no longer works: an INSPECT event with token 0, as a control
         * record, and nothing to pend. */
        KeAcquireSpinLock(&Session->Lock, &OldIrql);
        Header = WskbEventQueueReserveLocked(Session, WskbEventClassControl, WSKB_EVENT_INSPECT, Listener,
                                             sizeof(WSKB_INSPECT_BODY));
        if (Header) {
            WskbInspectBodyFill((WSKB_INSPECT_BODY *)(Header + 1), LocalAddress, RemoteAddress, NULL);
            WskbEventQueueCommitLocked(Session, Header, WskbEventClassControl);
        }
        KeReleaseSpinLock(&Session->Lock, OldIrql);
        WskbEventsDeliver(Session);
        return WskInspectReject;
    }
    /* Its answer is final when it returns: the inspection is Pended (or already decided by
     * user mode) under the session lock as its last act, and only the epilogues remain. */
    return WskbInspectPend(Listener, LocalAddress, RemoteAddress, InspectID);
}

_IRQL_requires_max_(DISPATCH_LEVEL)
static NTSTATUS WSKAPI
WskbAbortEvent(_In_opt_ PVOID SocketContext, _In_ PWSK_INSPECT_ID InspectID)
{
    WSKB_SOCKET *Listener = SocketContext;

    NT_ASSERT(Listener);
    if (Listener && InspectID)
        WskbInspectAbort(Listener, InspectID);
    /* The only status WskAbortEvent may return. */
    return STATUS_SUCCESS;
}

/* ---- datagram sockets ---- */

_IRQL_requires_max_(DISPATCH_LEVEL)
_Must_inspect_result_
static NTSTATUS WSKAPI
WskbReceiveFromEvent(_In_opt_ PVOID SocketContext, _In_ ULONG Flags, _In_opt_ PWSK_DATAGRAM_INDICATION DataIndication)
{
    WSKB_SOCKET *Socket = SocketContext;
    WSKB_SESSION *Session;
    PWSK_DATAGRAM_INDICATION Datagram;
    WSKB_DIRECT_READ Direct;
    BOOLEAN DirectHeld = FALSE;
    KIRQL OldIrql;

    NT_ASSERT(Socket);
    if (!Socket)
        return STATUS_SUCCESS;
    Session = Socket->Session;

    /* The direct write (events.h): datagrams go straight into a waiting READ_EVENTS while they
     * fit it and nothing else is queued; the rest, in order, through the ring. */
    if (DataIndication)
        DirectHeld = WskbEventsDirectBegin(Session, &Direct);

    KeAcquireSpinLock(&Session->Lock, &OldIrql);
    if (!DataIndication) {
        /* The socket no longer works; reported like its connection-socket counterpart. */
        WskbEventQueueControlLocked(Session, WSKB_EVENT_RECEIVE_CLOSED, Socket, Flags, 0);
        KeReleaseSpinLock(&Session->Lock, OldIrql);
        WskbEventsDeliver(Session);
        return STATUS_SUCCESS;
    }

    for (Datagram = DataIndication; Datagram; Datagram = Datagram->Next) {
        WSKB_EVENT_HEADER *Header = NULL;
        SIZE_T Length = Datagram->Buffer.Mdl ? Datagram->Buffer.Length : 0;
        ULONG BodyLength = (ULONG)(sizeof(WSKB_SOCKADDR) + Length);
        BOOLEAN InDirect = FALSE;
        WSKB_BUF_CURSOR Cursor;

        /* A datagram is never split; one too large for any record (beyond UDP's own limit), or
         * whose MDLs cannot be mapped, is dropped and counted like one that found no room.
         * Mapped first, so that a reserved record is always filled. */
        WskbBufCursorInit(&Cursor, &Datagram->Buffer);
        if (Length > WSKB_EVENT_MAX_DATAGRAM_DATA || WskbBufCursorCopy(&Cursor, NULL, Length) != Length) {
            WskbEventQueueCountRefusalLocked(Session, Socket, WSKB_EVENT_RECEIVE_FROM);
            continue;
        }
        if (DirectHeld) {
            Header = WskbEventQueueReserveDirectLocked(Session, &Direct, WSKB_EVENT_RECEIVE_FROM, Socket, BodyLength);
            InDirect = Header != NULL;
        }
        if (!Header)
            Header = WskbEventQueueReserveLocked(Session, WskbEventClassData, WSKB_EVENT_RECEIVE_FROM, Socket, BodyLength);
        if (!Header) {
            WskbEventQueueCountRefusalLocked(Session, Socket, WSKB_EVENT_RECEIVE_FROM);
            continue;
        }
        WskbBufCursorInit(&Cursor, &Datagram->Buffer);
        (VOID)WskbBufCursorCopy(&Cursor, (PUCHAR)(Header + 1) + sizeof(WSKB_SOCKADDR), Length);
        WskbSockaddrToWire(Datagram->RemoteAddress, (WSKB_SOCKADDR *)(Header + 1));
        Header->WskFlags = Flags;
        Header->DataLength = (UINT32)Length;
        if (!InDirect)
            WskbEventQueueCommitLocked(Session, Header, WskbEventClassData);
    }
    KeReleaseSpinLock(&Session->Lock, OldIrql);
    if (DirectHeld)
        WskbEventsDirectEnd(Session, &Direct); /* delivers what went through the ring, too */
    else
        WskbEventsDeliver(Session);

    /* Everything was copied or counted as dropped. STATUS_DATA_NOT_ACCEPTED is not used: it
     * would disable the (non-static) event until user mode re-enabled it. */
    return STATUS_SUCCESS;
}

_IRQL_requires_max_(DISPATCH_LEVEL)
CONST VOID *
WskbEventsClientDispatch(_In_ ULONG WskSocketKind)
{
    switch (WskSocketKind) {
    case WSK_FLAG_LISTEN_SOCKET:
        return &WskbListenDispatch;
    case WSK_FLAG_CONNECTION_SOCKET:
        return &WskbConnectionDispatch;
    case WSK_FLAG_DATAGRAM_SOCKET:
        return &WskbDatagramDispatch;
    default:
        /* Basic sockets have no events of their own. */
        return NULL;
    }
}

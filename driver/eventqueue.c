/* SPDX-License-Identifier: MIT
 *
 * The session's bounded event queue: a ring of whole event records, preallocated when the
 * session says HELLO, so that event callbacks running at DISPATCH_LEVEL copy into memory that
 * already exists instead of allocating.
 *
 * Layout. Each ring entry is an 8-byte WSKB_RING_ENTRY followed by the wire record
 * (WSKB_EVENT_HEADER + body); entries are 8-byte aligned and never wrap: when a record does
 * not fit between the tail and the end of the ring, a PAD entry fills that end and the record
 * starts at offset 0. PAD entries are skipped by the reader and never delivered.
 *
 * Accounting. Data-class records (RECEIVE, RECEIVE_FROM, ACCEPT, INSPECT) may use at most
 * Budget ring bytes (DataUsed), except that one record is always admitted when none is held. Control-class records may use the whole ring, which is Budget +
 * Reserve (+ room for one wrap pad); when even that is full they go to the Overflow list, from
 * pool. Once the overflow holds anything, every new record goes behind it (control) or is
 * refused (data) until it drains, so records always leave in sequence order: ring first, then
 * overflow.
 *
 * All of this is under Session->Lock, except the copy of planned records out of the ring by
 * the one delivering thread (events.h, "the single-consumer protocol").
 */
#include "driver.h"

#define WSKB_RING_PAD 1
#define WSKB_RING_DATA 2
#define WSKB_RING_CONTROL 3

#define WSKB_ALIGN8(x) (((x) + 7u) & ~7u)
#define WSKB_NO_ROOM ((ULONG)-1)

typedef struct _WSKB_RING_ENTRY {
    ULONG Bytes;                    /* ring bytes of this entry, this prefix included, multiple of 8 */
    UCHAR Kind;                     /* WSKB_RING_* */
    UCHAR Committed;                /* the reader stops at an uncommitted record */
    USHORT Reserved;
} WSKB_RING_ENTRY;

typedef struct _WSKB_OVERFLOW_RECORD {
    LIST_ENTRY Link;                /* in WSKB_EVENT_QUEUE.Overflow */
    WSKB_RING_ENTRY Entry;          /* Bytes here is the pool block's record part */
    /* WSKB_EVENT_HEADER and body follow */
} WSKB_OVERFLOW_RECORD;

WSKB_STATIC_ASSERT(sizeof(WSKB_RING_ENTRY) == 8, "WSKB_RING_ENTRY");
WSKB_STATIC_ASSERT(sizeof(WSKB_OVERFLOW_RECORD) % 8 == 0, "WSKB_OVERFLOW_RECORD");
/* The largest record of any type must fit one READ_EVENTS output buffer. */
WSKB_STATIC_ASSERT(sizeof(WSKB_EVENT_HEADER) + sizeof(WSKB_SOCKADDR) + WSKB_EVENT_MAX_DATAGRAM_DATA <=
                       WSKB_READ_EVENTS_MIN_OUTPUT,
                   "a RECEIVE_FROM record fits the minimum output");
WSKB_STATIC_ASSERT(sizeof(WSKB_EVENT_HEADER) + WSKB_EVENT_MAX_RECEIVE_DATA <= WSKB_READ_EVENTS_MIN_OUTPUT,
                   "a RECEIVE record fits the minimum output");

static __inline WSKB_EVENT_HEADER *
WskbRingEntryHeader(_In_ WSKB_RING_ENTRY *Entry)
{
    return (WSKB_EVENT_HEADER *)(Entry + 1);
}

static __inline WSKB_RING_ENTRY *
WskbRingHeaderEntry(_In_ WSKB_EVENT_HEADER *Header)
{
    return ((WSKB_RING_ENTRY *)Header) - 1;
}

static __inline BOOLEAN
WskbRingOwnsEntry(_In_ CONST WSKB_EVENT_QUEUE *Queue, _In_ CONST WSKB_RING_ENTRY *Entry)
{
    return (CONST UCHAR *)Entry >= Queue->Ring && (CONST UCHAR *)Entry < Queue->Ring + Queue->Capacity;
}

static VOID
WskbEventQueueNoteHeld(_Inout_ WSKB_EVENT_QUEUE *Queue, _In_ ULONG RecordBytes)
{
    Queue->HeldBytes += RecordBytes;
    if (Queue->HeldBytes > Queue->Stats.EventBytesHighWater)
        Queue->Stats.EventBytesHighWater = Queue->HeldBytes;
}

_IRQL_requires_(PASSIVE_LEVEL)
_Must_inspect_result_
NTSTATUS
WskbEventsInitialize(_Inout_ WSKB_SESSION *Session, _In_ ULONG BudgetBytes)
{
    WSKB_EVENT_QUEUE *Queue = &Session->Events;
    ULONG Capacity;
    PUCHAR Ring;
    KIRQL OldIrql;

    if (BudgetBytes == 0)
        BudgetBytes = WSKB_EVENT_BUDGET_DEFAULT;
    if (BudgetBytes < WSKB_EVENT_BUDGET_MIN || BudgetBytes > WSKB_EVENT_BUDGET_MAX)
        return STATUS_INVALID_PARAMETER;
    if (Queue->Ring)
        return STATUS_INVALID_DEVICE_STATE;

    /* Budget for data, the control reserve, and one largest record of slack: a wrap can waste
     * up to one record's worth of ring as PAD, and that must not eat into the budget. The
     * budget itself stays as user mode chose it (HELLO reports it back); only the ring, whose
     * entries are 8-byte aligned, is rounded. */
    Capacity = WSKB_ALIGN8(BudgetBytes) + WSKB_EVENT_CONTROL_RESERVE + WSKB_ALIGN8(WSKB_READ_EVENTS_MIN_OUTPUT) +
               (ULONG)sizeof(WSKB_RING_ENTRY);
    /* The driver-wide bound on NonPaged pool (poolbudget.c), given back in Uninitialize. */
    if (!WskbPoolBudgetCharge(Capacity))
        return STATUS_QUOTA_EXCEEDED;
    Ring = ExAllocatePool2(POOL_FLAG_NON_PAGED | POOL_FLAG_UNINITIALIZED, Capacity, WSKB_TAG_EVENTS);
    if (!Ring) {
        WskbPoolBudgetRelease(Capacity);
        return STATUS_INSUFFICIENT_RESOURCES;
    }

    KeAcquireSpinLock(&Session->Lock, &OldIrql);
    Queue->Capacity = Capacity;
    Queue->Budget = BudgetBytes;
    Queue->Reserve = WSKB_EVENT_CONTROL_RESERVE;
    Queue->Head = 0;
    Queue->Tail = 0;
    Queue->Used = 0;
    Queue->DataUsed = 0;
    InitializeListHead(&Queue->Overflow);
    Queue->OverflowCount = 0;
    Queue->NextSequence = 1;
    Queue->DatagramsDroppedPending = 0;
    Queue->AcceptsRefusedPending = 0;
    InitializeListHead(&Queue->PausedSockets);
    InitializeListHead(&Queue->ReportSockets);
    RtlZeroMemory(&Queue->Stats, sizeof(Queue->Stats));
    Queue->Stats.EventBudgetBytes = BudgetBytes;
    Queue->NextInspectToken = 1;
    Queue->HeldBytes = 0;
    Queue->Delivering = FALSE;
    Queue->DeliverAgain = FALSE;
    /* Published last: a non-NULL Ring is what tells the other routines the queue exists. */
    Queue->Ring = Ring;
    KeReleaseSpinLock(&Session->Lock, OldIrql);
    return STATUS_SUCCESS;
}

_IRQL_requires_(PASSIVE_LEVEL)
VOID
WskbEventsUninitialize(_Inout_ WSKB_SESSION *Session)
{
    WSKB_EVENT_QUEUE *Queue = &Session->Events;
    PUCHAR Ring;
    ULONG Capacity;
    LIST_ENTRY Overflow;
    KIRQL OldIrql;

    if (!Queue->Ring)
        return;

    KeAcquireSpinLock(&Session->Lock, &OldIrql);
    /* Every socket is closed by now, so none can still be paused or owe a report. */
    NT_ASSERT(IsListEmpty(&Queue->PausedSockets));
    NT_ASSERT(IsListEmpty(&Queue->ReportSockets));
    NT_ASSERT(!Queue->Delivering);
    Ring = Queue->Ring;
    Capacity = Queue->Capacity;
    Queue->Ring = NULL;
    InitializeListHead(&Overflow);
    if (!IsListEmpty(&Queue->Overflow)) {
        /* Move the whole list to a local head, then free outside the lock. */
        Overflow.Flink = Queue->Overflow.Flink;
        Overflow.Blink = Queue->Overflow.Blink;
        Overflow.Flink->Blink = &Overflow;
        Overflow.Blink->Flink = &Overflow;
        InitializeListHead(&Queue->Overflow);
    }
    Queue->OverflowCount = 0;
    Queue->Used = Queue->DataUsed = 0;
    Queue->Head = Queue->Tail = 0;
    Queue->HeldBytes = 0;
    KeReleaseSpinLock(&Session->Lock, OldIrql);

    while (!IsListEmpty(&Overflow)) {
        WSKB_OVERFLOW_RECORD *Record = CONTAINING_RECORD(RemoveHeadList(&Overflow), WSKB_OVERFLOW_RECORD, Link);
        ExFreePoolWithTag(Record, WSKB_TAG_EVENTS);
    }
    ExFreePoolWithTag(Ring, WSKB_TAG_EVENTS);
    WskbPoolBudgetRelease(Capacity);
}

/* Finds Bytes of contiguous ring room at the tail, writing a PAD over the end of the ring if
 * the room is at the start. Returns the entry's offset, or WSKB_NO_ROOM if there is none. */
_IRQL_requires_(DISPATCH_LEVEL)
static ULONG
WskbRingPlaceLocked(_Inout_ WSKB_EVENT_QUEUE *Queue, _In_ ULONG Bytes)
{
    ULONG Offset;

    if (Queue->Used == 0) {
        /* Empty: start over at 0, which gives the largest contiguous room. */
        Queue->Head = Queue->Tail = 0;
    }
    if (Queue->Used == Queue->Capacity)
        return WSKB_NO_ROOM;

    if (Queue->Tail >= Queue->Head) {
        ULONG EndRoom = Queue->Capacity - Queue->Tail;
        if (Bytes <= EndRoom) {
            Offset = Queue->Tail;
        } else if (Bytes <= Queue->Head) {
            /* EndRoom >= 8: Tail < Capacity and both are multiples of 8. */
            WSKB_RING_ENTRY *Pad = (WSKB_RING_ENTRY *)(Queue->Ring + Queue->Tail);
            Pad->Bytes = EndRoom;
            Pad->Kind = WSKB_RING_PAD;
            Pad->Committed = TRUE;
            Pad->Reserved = 0;
            Queue->Used += EndRoom;
            Offset = 0;
        } else {
            return WSKB_NO_ROOM;
        }
    } else {
        if (Bytes > Queue->Head - Queue->Tail)
            return WSKB_NO_ROOM;
        Offset = Queue->Tail;
    }

    Queue->Used += Bytes;
    Queue->Tail = Offset + Bytes;
    if (Queue->Tail == Queue->Capacity)
        Queue->Tail = 0;
    return Offset;
}

static VOID
WskbEventHeaderFill(_Out_ WSKB_EVENT_HEADER *Header, _Inout_ WSKB_EVENT_QUEUE *Queue, _In_ UINT32 Type,
                    _In_opt_ WSKB_SOCKET *Socket, _In_ ULONG BodyLength)
{
    ULONG64 Qpc;

    Header->Size = WSKB_ALIGN8((ULONG)sizeof(WSKB_EVENT_HEADER) + BodyLength);
    Header->Type = Type;
    Header->Sequence = Queue->NextSequence++;
    Header->Timestamp = KeQueryInterruptTimePrecise(&Qpc);
    Header->SocketId = Socket ? Socket->Id : 0;
    Header->WskFlags = 0;
    Header->DataLength = 0;
    Header->Param = 0;
    ++Queue->Stats.EventsQueued;
}

_IRQL_requires_(DISPATCH_LEVEL)
ULONG
WskbEventQueueDataRoomLocked(_In_ WSKB_SESSION *Session)
{
    WSKB_EVENT_QUEUE *Queue = &Session->Events;
    ULONG Fixed = (ULONG)(sizeof(WSKB_RING_ENTRY) + sizeof(WSKB_EVENT_HEADER));
    ULONG BudgetRoom, RingRoom;

    if (!Queue->Ring || !IsListEmpty(&Queue->Overflow) || Queue->DataUsed >= Queue->Budget)
        return 0;
    /* As in WskbEventQueueReserveLocked: an empty budget takes any one record. */
    BudgetRoom = Queue->DataUsed == 0 ? Queue->Capacity : Queue->Budget - Queue->DataUsed;

    /* The largest contiguous room WskbRingPlaceLocked could find. */
    if (Queue->Used == 0)
        RingRoom = Queue->Capacity;
    else if (Queue->Used == Queue->Capacity)
        RingRoom = 0;
    else if (Queue->Tail >= Queue->Head)
        RingRoom = Queue->Capacity - Queue->Tail > Queue->Head ? Queue->Capacity - Queue->Tail : Queue->Head;
    else
        RingRoom = Queue->Head - Queue->Tail;

    if (RingRoom > BudgetRoom)
        RingRoom = BudgetRoom;
    RingRoom &= ~7u;
    return RingRoom > Fixed ? RingRoom - Fixed : 0;
}

_IRQL_requires_(DISPATCH_LEVEL)
_Must_inspect_result_
WSKB_EVENT_HEADER *
WskbEventQueueReserveLocked(_Inout_ WSKB_SESSION *Session, _In_ WSKB_EVENT_CLASS Class, _In_ UINT32 Type,
                            _In_opt_ WSKB_SOCKET *Socket, _In_ ULONG BodyLength)
{
    WSKB_EVENT_QUEUE *Queue = &Session->Events;
    WSKB_RING_ENTRY *Entry;
    WSKB_EVENT_HEADER *Header;
    ULONG Bytes, Offset;

    if (!Queue->Ring)
        return NULL;
    /* Every record must fit a READ_EVENTS buffer of the minimum size, or it could never leave. */
    NT_ASSERT(BodyLength <= WSKB_READ_EVENTS_MIN_OUTPUT - sizeof(WSKB_EVENT_HEADER));
    if (BodyLength > WSKB_READ_EVENTS_MIN_OUTPUT - sizeof(WSKB_EVENT_HEADER))
        return NULL;
    Bytes = WSKB_ALIGN8((ULONG)(sizeof(WSKB_RING_ENTRY) + sizeof(WSKB_EVENT_HEADER)) + BodyLength);

    if (Class == WskbEventClassData) {
        /* With no data held, one record is admitted whatever its size: a budget smaller than
         * the largest record (a 64 KiB datagram against the 64 KiB minimum) must not refuse it
         * forever. The ring's slack of one largest record makes room for it. */
        if (!IsListEmpty(&Queue->Overflow) || (Queue->DataUsed != 0 && Queue->DataUsed + Bytes > Queue->Budget))
            return NULL;
        /* A socket user mode holds back (SOCKET_FLOW) is treated as if the budget were spent,
         * for it alone: every callback already knows how to refuse, pause or count then. */
        if (Socket && Socket->Events.HeldByUser)
            return NULL;
        Offset = WskbRingPlaceLocked(Queue, Bytes);
        if (Offset == WSKB_NO_ROOM)
            return NULL;
        Queue->DataUsed += Bytes;
    } else {
        Offset = IsListEmpty(&Queue->Overflow) ? WskbRingPlaceLocked(Queue, Bytes) : WSKB_NO_ROOM;
        if (Offset == WSKB_NO_ROOM) {
            WSKB_OVERFLOW_RECORD *Record;

            /* Pool at DISPATCH_LEVEL, only for the rare control record that finds the ring
             * full; the ring already holds Budget + Reserve bytes waiting for user mode. */
            Record = ExAllocatePool2(POOL_FLAG_NON_PAGED, sizeof(*Record) + Bytes - sizeof(WSKB_RING_ENTRY),
                                     WSKB_TAG_EVENTS);
            if (!Record) {
                /* Nothing else to do at DISPATCH_LEVEL: the sequence number is spent, so user
                 * mode sees a gap where the record would have been, instead of nothing. */
                ++Queue->NextSequence;
                DbgPrintEx(DPFLTR_IHVDRIVER_ID, DPFLTR_ERROR_LEVEL,
                           "wskbridge: event type %u lost for want of pool (sequence %llu)\n", Type,
                           (unsigned long long)(Queue->NextSequence - 1));
                return NULL;
            }
            Record->Entry.Bytes = Bytes;
            Record->Entry.Kind = WSKB_RING_CONTROL;
            Record->Entry.Committed = FALSE;
            Record->Entry.Reserved = 0;
            InsertTailList(&Queue->Overflow, &Record->Link);
            ++Queue->OverflowCount;
            Header = WskbRingEntryHeader(&Record->Entry);
            WskbEventHeaderFill(Header, Queue, Type, Socket, BodyLength);
            WskbEventQueueNoteHeld(Queue, Header->Size);
            return Header;
        }
    }

    Entry = (WSKB_RING_ENTRY *)(Queue->Ring + Offset);
    Entry->Bytes = Bytes;
    Entry->Kind = Class == WskbEventClassData ? WSKB_RING_DATA : WSKB_RING_CONTROL;
    Entry->Committed = FALSE;
    Entry->Reserved = 0;
    Header = WskbRingEntryHeader(Entry);
    WskbEventHeaderFill(Header, Queue, Type, Socket, BodyLength);
    /* Records leave whole, padding included: never leak stale ring bytes to user mode. */
    if (Header->Size > sizeof(WSKB_EVENT_HEADER) + BodyLength)
        RtlZeroMemory((PUCHAR)Header + sizeof(WSKB_EVENT_HEADER) + BodyLength,
                      Header->Size - sizeof(WSKB_EVENT_HEADER) - BodyLength);
    WskbEventQueueNoteHeld(Queue, Header->Size);
    return Header;
}

_IRQL_requires_(DISPATCH_LEVEL)
_Must_inspect_result_
WSKB_EVENT_HEADER *
WskbEventQueueReserveDirectLocked(_Inout_ WSKB_SESSION *Session, _Inout_ WSKB_DIRECT_READ *Direct, _In_ UINT32 Type,
                                  _In_ WSKB_SOCKET *Socket, _In_ ULONG BodyLength)
{
    WSKB_EVENT_QUEUE *Queue = &Session->Events;
    WSKB_EVENT_HEADER *Header;
    ULONG Size;

    /* Anything in the ring, committed or only reserved, is older than this record would be: it
     * must reach user mode first, and it can only go through the ring. */
    if (!Queue->Ring || Queue->Used != 0 || !IsListEmpty(&Queue->Overflow))
        return NULL;
    if (Socket->Events.HeldByUser)
        return NULL;
    if (BodyLength > Direct->Length)
        return NULL;
    Size = WSKB_ALIGN8((ULONG)sizeof(WSKB_EVENT_HEADER) + BodyLength);
    if (Size > Direct->Length - Direct->Written)
        return NULL;
    Header = (WSKB_EVENT_HEADER *)(Direct->Buffer + Direct->Written);
    WskbEventHeaderFill(Header, Queue, Type, Socket, BodyLength);
    /* Whole records, padding included, as from the ring: the padding is written, not left as
     * whatever the caller's buffer held. */
    if (Size > sizeof(WSKB_EVENT_HEADER) + BodyLength)
        RtlZeroMemory((PUCHAR)Header + sizeof(WSKB_EVENT_HEADER) + BodyLength,
                      Size - sizeof(WSKB_EVENT_HEADER) - BodyLength);
    Direct->Written += Size;
    ++Direct->Records;
    return Header;
}

_IRQL_requires_(DISPATCH_LEVEL)
VOID
WskbEventQueueCommitLocked(_Inout_ WSKB_SESSION *Session, _Inout_ WSKB_EVENT_HEADER *Header,
                           _In_ WSKB_EVENT_CLASS Class)
{
    WSKB_EVENT_QUEUE *Queue = &Session->Events;
    WSKB_RING_ENTRY *Entry = WskbRingHeaderEntry(Header);

    NT_ASSERT(!Entry->Committed);
    if (Entry->Kind == WSKB_RING_DATA && Class == WskbEventClassControl) {
        NT_ASSERT(WskbRingOwnsEntry(Queue, Entry));
        Queue->DataUsed -= Entry->Bytes;
        Entry->Kind = WSKB_RING_CONTROL;
    }
    Entry->Committed = TRUE;
}

_IRQL_requires_(DISPATCH_LEVEL)
VOID
WskbEventQueueTrimLastLocked(_Inout_ WSKB_SESSION *Session, _Inout_ WSKB_EVENT_HEADER *Header,
                             _In_ ULONG BodyLength)
{
    WSKB_EVENT_QUEUE *Queue = &Session->Events;
    WSKB_RING_ENTRY *Entry = WskbRingHeaderEntry(Header);
    ULONG EntryOffset, NewBytes, Freed;

    NT_ASSERT(!Entry->Committed);
    NT_ASSERT(Header->Sequence + 1 == Queue->NextSequence);

    /* Only control records live in the overflow, and those are never trimmed. */
    NT_ASSERT(WskbRingOwnsEntry(Queue, Entry));
    if (!WskbRingOwnsEntry(Queue, Entry))
        return;
    EntryOffset = (ULONG)((PUCHAR)Entry - Queue->Ring);
    /* The entry is the newest: it ends at the tail (at 0 when it ends the ring). Computed
     * inside the assertion, so that a Release build (DBG 0) keeps no variable only it reads. */
    NT_ASSERT((EntryOffset + Entry->Bytes == Queue->Capacity ? 0 : EntryOffset + Entry->Bytes) == Queue->Tail);

    Queue->HeldBytes -= Header->Size;
    if (BodyLength == WSKB_TRIM_CANCEL) {
        Freed = Entry->Bytes;
        Queue->Tail = EntryOffset;
        --Queue->NextSequence;
        --Queue->Stats.EventsQueued;
    } else {
        NT_ASSERT(BodyLength <= Header->Size - sizeof(WSKB_EVENT_HEADER));
        NewBytes = WSKB_ALIGN8((ULONG)(sizeof(WSKB_RING_ENTRY) + sizeof(WSKB_EVENT_HEADER)) + BodyLength);
        Freed = Entry->Bytes - NewBytes;
        Entry->Bytes = NewBytes;
        Header->Size = WSKB_ALIGN8((ULONG)sizeof(WSKB_EVENT_HEADER) + BodyLength);
        /* The new padding was body space: clear it, as at reservation. */
        RtlZeroMemory((PUCHAR)Header + sizeof(WSKB_EVENT_HEADER) + BodyLength,
                      Header->Size - sizeof(WSKB_EVENT_HEADER) - BodyLength);
        Queue->Tail = EntryOffset + NewBytes;
        if (Queue->Tail == Queue->Capacity)
            Queue->Tail = 0;
        Queue->HeldBytes += Header->Size;
    }
    Queue->Used -= Freed;
    if (Entry->Kind == WSKB_RING_DATA)
        Queue->DataUsed -= Freed;
}

_IRQL_requires_(DISPATCH_LEVEL)
BOOLEAN
WskbEventQueueControlLocked(_Inout_ WSKB_SESSION *Session, _In_ UINT32 Type, _In_opt_ WSKB_SOCKET *Socket,
                            _In_ UINT32 WskFlags, _In_ UINT64 Param)
{
    WSKB_EVENT_HEADER *Header = WskbEventQueueReserveLocked(Session, WskbEventClassControl, Type, Socket, 0);
    if (!Header)
        return FALSE;
    Header->WskFlags = WskFlags;
    Header->Param = Param;
    WskbEventQueueCommitLocked(Session, Header, WskbEventClassControl);
    return TRUE;
}

/* Puts Socket on the list WskbEventQueueFlushReportsLocked walks. */
_IRQL_requires_(DISPATCH_LEVEL)
static VOID
WskbEventQueueReportLaterLocked(_Inout_ WSKB_EVENT_QUEUE *Queue, _Inout_ WSKB_SOCKET *Socket)
{
    if (!Socket->Events.ReportQueued) {
        Socket->Events.ReportQueued = TRUE;
        InsertTailList(&Queue->ReportSockets, &Socket->Events.ReportLink);
    }
}

_IRQL_requires_(DISPATCH_LEVEL)
VOID
WskbEventQueueCountRefusalLocked(_Inout_ WSKB_SESSION *Session, _Inout_ WSKB_SOCKET *Socket, _In_ UINT32 RefusedType)
{
    WSKB_EVENT_QUEUE *Queue = &Session->Events;

    switch (RefusedType) {
    case WSKB_EVENT_RECEIVE_FROM:
        ++Queue->Stats.DatagramsDropped;
        ++Queue->DatagramsDroppedPending;
        ++Socket->Events.DatagramsDroppedPending;
        break;
    case WSKB_EVENT_ACCEPT:
        ++Queue->Stats.AcceptsRefused;
        ++Queue->AcceptsRefusedPending;
        ++Socket->Events.AcceptsRefusedPending;
        break;
    case WSKB_EVENT_INSPECT:
        ++Queue->Stats.InspectsRejected;
        ++Queue->AcceptsRefusedPending;
        ++Socket->Events.AcceptsRefusedPending;
        break;
    default:
        NT_ASSERT(RefusedType == WSKB_EVENT_RECEIVE_FROM);
        return;
    }
    WskbEventQueueReportLaterLocked(Queue, Socket);
}

_IRQL_requires_(DISPATCH_LEVEL)
VOID
WskbEventQueueSendBacklogLocked(_Inout_ WSKB_SESSION *Session, _Inout_ WSKB_SOCKET *Socket, _In_ UINT64 IdealBacklogSize)
{
    WSKB_EVENT_QUEUE *Queue = &Session->Events;

    /* A non-empty overflow list means the ring and its reserve are full; a value already
     * waiting means a newer one replaces it rather than overtaking it. */
    if (!IsListEmpty(&Queue->Overflow) || Socket->Events.SendBacklogPending) {
        Socket->Events.SendBacklogPending = TRUE;
        Socket->Events.SendBacklogLatest = IdealBacklogSize;
        WskbEventQueueReportLaterLocked(Queue, Socket);
        return;
    }
    (VOID)WskbEventQueueControlLocked(Session, WSKB_EVENT_SEND_BACKLOG, Socket, 0, IdealBacklogSize);
}

_IRQL_requires_(DISPATCH_LEVEL)
static VOID
WskbEventQueueReportSocketLocked(_Inout_ WSKB_SESSION *Session, _Inout_ WSKB_SOCKET *Socket)
{
    WSKB_EVENT_QUEUE *Queue = &Session->Events;
    WSKB_SOCKET_EVENTS *Events = &Socket->Events;

    /* A count stays pending if even its control record is lost to pool exhaustion; the next
     * flush tries again. */
    if (Events->DatagramsDroppedPending &&
        WskbEventQueueControlLocked(Session, WSKB_EVENT_DATAGRAMS_DROPPED, Socket, 0,
                                    Events->DatagramsDroppedPending)) {
        Queue->DatagramsDroppedPending -= Events->DatagramsDroppedPending;
        Events->DatagramsDroppedPending = 0;
    }
    if (Events->AcceptsRefusedPending &&
        WskbEventQueueControlLocked(Session, WSKB_EVENT_ACCEPTS_REFUSED, Socket, 0, Events->AcceptsRefusedPending)) {
        Queue->AcceptsRefusedPending -= Events->AcceptsRefusedPending;
        Events->AcceptsRefusedPending = 0;
    }
    if (Events->SendBacklogPending &&
        WskbEventQueueControlLocked(Session, WSKB_EVENT_SEND_BACKLOG, Socket, 0, Events->SendBacklogLatest))
        Events->SendBacklogPending = FALSE;
    if (!Events->DatagramsDroppedPending && !Events->AcceptsRefusedPending && !Events->SendBacklogPending &&
        Events->ReportQueued) {
        RemoveEntryList(&Events->ReportLink);
        Events->ReportQueued = FALSE;
    }
}

_IRQL_requires_(DISPATCH_LEVEL)
VOID
WskbEventQueueFlushReportsLocked(_Inout_ WSKB_SESSION *Session, _In_opt_ WSKB_SOCKET *Socket)
{
    WSKB_EVENT_QUEUE *Queue = &Session->Events;
    PLIST_ENTRY Link, Next;

    if (!Queue->Ring)
        return;
    if (Socket) {
        if (Socket->Events.ReportQueued)
            WskbEventQueueReportSocketLocked(Session, Socket);
        return;
    }
    for (Link = Queue->ReportSockets.Flink; Link != &Queue->ReportSockets; Link = Next) {
        Next = Link->Flink;
        WskbEventQueueReportSocketLocked(Session, CONTAINING_RECORD(Link, WSKB_SOCKET, Events.ReportLink));
    }
}

/* Drops PAD entries at the head and returns the first ring entry, or NULL if the ring is empty. */
_IRQL_requires_(DISPATCH_LEVEL)
static WSKB_RING_ENTRY *
WskbRingFirstLocked(_Inout_ WSKB_EVENT_QUEUE *Queue)
{
    while (Queue->Used) {
        WSKB_RING_ENTRY *Entry = (WSKB_RING_ENTRY *)(Queue->Ring + Queue->Head);
        if (Entry->Kind != WSKB_RING_PAD)
            return Entry;
        Queue->Used -= Entry->Bytes;
        Queue->Head += Entry->Bytes;
        if (Queue->Head == Queue->Capacity)
            Queue->Head = 0;
    }
    return NULL;
}

_IRQL_requires_(DISPATCH_LEVEL)
BOOLEAN
WskbEventQueueHasDeliverableLocked(_In_ WSKB_SESSION *Session)
{
    WSKB_EVENT_QUEUE *Queue = &Session->Events;
    WSKB_RING_ENTRY *Entry;

    if (!Queue->Ring)
        return FALSE;
    Entry = WskbRingFirstLocked(Queue);
    if (Entry)
        return Entry->Committed;
    if (!IsListEmpty(&Queue->Overflow))
        return CONTAINING_RECORD(Queue->Overflow.Flink, WSKB_OVERFLOW_RECORD, Link)->Entry.Committed;
    return FALSE;
}

_IRQL_requires_(DISPATCH_LEVEL)
ULONG
WskbEventQueuePlanBatchLocked(_Inout_ WSKB_SESSION *Session, _In_ ULONG Length, _Out_ WSKB_EVENT_BATCH *Batch)
{
    WSKB_EVENT_QUEUE *Queue = &Session->Events;
    ULONG Offset, Covered = 0;

    RtlZeroMemory(Batch, sizeof(*Batch));
    if (!Queue->Ring)
        return 0;
    if (Length > WSKB_READ_EVENTS_BATCH_MAX)
        Length = WSKB_READ_EVENTS_BATCH_MAX;
    (VOID)WskbRingFirstLocked(Queue);
    Batch->Start = Offset = Queue->Head;

    /* Walks entries from the head without moving it. PAD entries inside the batch are
     * released with it; the walk stops at an uncommitted record, one that does not fit, or
     * the tail. The ring holds every record older than anything in the overflow. */
    while (Covered < Queue->Used) {
        WSKB_RING_ENTRY *Entry = (WSKB_RING_ENTRY *)(Queue->Ring + Offset);
        if (Entry->Kind != WSKB_RING_PAD) {
            WSKB_EVENT_HEADER *Header = WskbRingEntryHeader(Entry);
            if (!Entry->Committed || Header->Size > Length - Batch->Written)
                break;
            Batch->Written += Header->Size;
            ++Batch->Records;
            if (Entry->Kind == WSKB_RING_DATA)
                Batch->DataBytes += Entry->Bytes;
        }
        Covered += Entry->Bytes;
        Offset += Entry->Bytes;
        if (Offset == Queue->Capacity)
            Offset = 0;
        Batch->RingBytes = Covered;
    }
    Batch->WholeRing = Covered == Queue->Used;
    return Batch->Written;
}

_IRQL_requires_max_(DISPATCH_LEVEL)
VOID
WskbEventQueueCopyPlanned(_In_ WSKB_SESSION *Session, _In_ CONST WSKB_EVENT_BATCH *Batch,
                          _Out_writes_bytes_(Batch->Written) PUCHAR Buffer)
{
    CONST WSKB_EVENT_QUEUE *Queue = &Session->Events;
    ULONG Offset = Batch->Start, Covered = 0, Written = 0;

    /* Only this thread moves the head, and the planned bytes stay counted as used until
     * retired: nothing read here changes under us (events.h, the single-consumer protocol). */
    while (Covered < Batch->RingBytes) {
        WSKB_RING_ENTRY *Entry = (WSKB_RING_ENTRY *)(Queue->Ring + Offset);
        if (Entry->Kind != WSKB_RING_PAD) {
            WSKB_EVENT_HEADER *Header = WskbRingEntryHeader(Entry);
            NT_ASSERT(Written + Header->Size <= Batch->Written);
            RtlCopyMemory(Buffer + Written, Header, Header->Size);
            Written += Header->Size;
        }
        Covered += Entry->Bytes;
        Offset += Entry->Bytes;
        if (Offset == Queue->Capacity)
            Offset = 0;
    }
    NT_ASSERT(Written == Batch->Written);
}

_IRQL_requires_(DISPATCH_LEVEL)
ULONG
WskbEventQueueRetirePlannedLocked(_Inout_ WSKB_SESSION *Session, _In_ CONST WSKB_EVENT_BATCH *Batch,
                                  _Out_writes_bytes_(Length) PUCHAR Buffer, _In_ ULONG Length)
{
    WSKB_EVENT_QUEUE *Queue = &Session->Events;
    ULONG Written = Batch->Written;

    if (!Queue->Ring)
        return 0;
    if (Length > WSKB_READ_EVENTS_BATCH_MAX)
        Length = WSKB_READ_EVENTS_BATCH_MAX;
    NT_ASSERT(Queue->Head == Batch->Start || Batch->RingBytes == 0);
    NT_ASSERT(Batch->RingBytes <= Queue->Used);
    /* An empty plan releases nothing and must not touch the head: a producer may have restarted
     * the empty ring at 0 since, leaving Batch->Start stale. */
    if (Batch->RingBytes != 0) {
        Queue->Used -= Batch->RingBytes;
        Queue->DataUsed -= Batch->DataBytes;
        Queue->Head = (ULONG)(((ULONG64)Batch->Start + Batch->RingBytes) % Queue->Capacity);
        if (Queue->Used == 0) {
            /* Empty: start over at 0, as WskbRingPlaceLocked would. */
            Queue->Head = Queue->Tail;
        }
    }
    Queue->HeldBytes -= Batch->Written;
    Queue->Stats.EventsDelivered += Batch->Records;
    if (!Batch->WholeRing)
        return Written;

    /* Control records that found the ring full: small, rare, copied here under the lock. */
    while (!IsListEmpty(&Queue->Overflow)) {
        WSKB_OVERFLOW_RECORD *Record = CONTAINING_RECORD(Queue->Overflow.Flink, WSKB_OVERFLOW_RECORD, Link);
        WSKB_EVENT_HEADER *Header = WskbRingEntryHeader(&Record->Entry);

        if (!Record->Entry.Committed || Header->Size > Length - Written)
            break;
        RtlCopyMemory(Buffer + Written, Header, Header->Size);
        Written += Header->Size;
        Queue->HeldBytes -= Header->Size;
        ++Queue->Stats.EventsDelivered;
        RemoveEntryList(&Record->Link);
        --Queue->OverflowCount;
        ExFreePoolWithTag(Record, WSKB_TAG_EVENTS);
    }
    return Written;
}

_IRQL_requires_(DISPATCH_LEVEL)
ULONG
WskbEventQueueCopyBatchLocked(_Inout_ WSKB_SESSION *Session, _Out_writes_bytes_(Length) PUCHAR Buffer,
                              _In_ ULONG Length)
{
    WSKB_EVENT_BATCH Batch;

    (VOID)WskbEventQueuePlanBatchLocked(Session, Length, &Batch);
    WskbEventQueueCopyPlanned(Session, &Batch, Buffer);
    return WskbEventQueueRetirePlannedLocked(Session, &Batch, Buffer, Length);
}

_IRQL_requires_max_(DISPATCH_LEVEL)
VOID
WskbEventsGetStats(_In_ WSKB_SESSION *Session, _Out_ WSKB_STATS_OUT *Stats)
{
    WSKB_EVENT_QUEUE *Queue = &Session->Events;
    KIRQL OldIrql;

    KeAcquireSpinLock(&Session->Lock, &OldIrql);
    *Stats = Queue->Stats;
    Stats->EventBytesQueued = Queue->HeldBytes;
    Stats->SocketsOpen = Session->SocketsOpen;
    Stats->EventBudgetBytes = Queue->Budget;
    KeReleaseSpinLock(&Session->Lock, OldIrql);
}

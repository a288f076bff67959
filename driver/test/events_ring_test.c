/* SPDX-License-Identifier: MIT
 *
 * Unit test of the session event ring (driver/eventqueue.c) on ksim: sequence numbers from 1
 * without gaps, 8-byte aligned whole records, wrap with PAD entries that are never delivered,
 * the data budget, the control reserve, the overflow and its ordering rule, uncommitted
 * reservations, trimming and cancelling, refusal reports, fault-injected overflow loss (a gap),
 * and that nothing is left in pool afterwards. A randomized phase checks every delivered byte
 * against a model.
 *
 * Build and run (from the package root, ksim complete):
 *   cc -std=gnu11 -Wall -Wextra -Wno-unused-parameter -Wno-multichar -Wno-missing-field-initializers \
 *      -Inative/ksim/include -Inative/ksim -Idriver driver/test/events_ring_test.c \
 *      $(node scripts/gyp-sources.js driver) $(node scripts/gyp-sources.js ksim) -lpthread -o build/events_ring_test && build/events_ring_test
 * Exit status 0 on success; each failed check prints its line.
 */
#include "driver.h"
#include "ksim.h"

int printf(const char *Format, ...);
int rand(void);
void srand(unsigned int Seed);

static int Failures;
static int Checks;

#define CHECK(Condition)                                                                  \
    do {                                                                                  \
        ++Checks;                                                                         \
        if (!(Condition)) {                                                               \
            ++Failures;                                                                   \
            printf("FAIL %s:%d: %s\n", __FILE__, __LINE__, #Condition);                  \
        }                                                                                 \
    } while (0)

#define ALIGN8(x) (((x) + 7u) & ~7u)
#define OUT_BYTES (2u * WSKB_READ_EVENTS_MIN_OUTPUT)

static WSKB_SESSION Session;
static WSKB_SOCKET Socket;
static UCHAR Out[OUT_BYTES];
static UINT64 ExpectSequence;

static VOID
SetUp(ULONG Budget)
{
    RtlZeroMemory(&Session, sizeof(Session));
    KeInitializeSpinLock(&Session.Lock);
    RtlZeroMemory(&Socket, sizeof(Socket));
    Socket.Session = &Session;
    Socket.Id = 0x0000000700000003ull;
    Socket.Kind = WSK_FLAG_DATAGRAM_SOCKET;
    InitializeListHead(&Socket.Events.PausedLink);
    InitializeListHead(&Socket.Events.PendingInspects);
    InitializeListHead(&Socket.Events.RearmLink);
    InitializeListHead(&Socket.Events.ReportLink);
    CHECK(NT_SUCCESS(WskbEventsInitialize(&Session, Budget)));
    ExpectSequence = 1;
}

static VOID
TearDown(VOID)
{
    WskbEventsUninitialize(&Session);
    CHECK(Session.Events.Ring == NULL);
    CHECK(KsimPoolOutstandingByTag(WSKB_TAG_EVENTS) == 0);
}

/* Queues one data record whose body is a pattern derived from its sequence number. */
static BOOLEAN
PushData(ULONG BodyLength)
{
    KIRQL OldIrql;
    WSKB_EVENT_HEADER *Header;
    ULONG i;

    KeAcquireSpinLock(&Session.Lock, &OldIrql);
    Header = WskbEventQueueReserveLocked(&Session, WskbEventClassData, WSKB_EVENT_RECEIVE, &Socket, BodyLength);
    if (Header) {
        for (i = 0; i < BodyLength; ++i)
            ((PUCHAR)(Header + 1))[i] = (UCHAR)(Header->Sequence * 31 + i);
        Header->DataLength = BodyLength;
        Header->Param = BodyLength;
        WskbEventQueueCommitLocked(&Session, Header, WskbEventClassData);
    }
    KeReleaseSpinLock(&Session.Lock, OldIrql);
    return Header != NULL;
}

static BOOLEAN
PushControl(UINT32 Type, UINT64 Param)
{
    KIRQL OldIrql;
    BOOLEAN Ok;

    KeAcquireSpinLock(&Session.Lock, &OldIrql);
    Ok = WskbEventQueueControlLocked(&Session, Type, &Socket, 0x8, Param);
    KeReleaseSpinLock(&Session.Lock, OldIrql);
    return Ok;
}

/* Reads one batch into Out with at most Length bytes and checks every record in it; returns
 * the number of records, and counts data and control ones. */
static ULONG CheckBatch(CONST UCHAR *Batch, ULONG Written, ULONG *DataRecords, ULONG *ControlRecords);

static ULONG
Drain(ULONG Length, ULONG *DataRecords, ULONG *ControlRecords)
{
    KIRQL OldIrql;
    ULONG Written;

    RtlFillMemory(Out, sizeof(Out), 0xCC);
    KeAcquireSpinLock(&Session.Lock, &OldIrql);
    Written = WskbEventQueueCopyBatchLocked(&Session, Out, Length);
    KeReleaseSpinLock(&Session.Lock, OldIrql);
    CHECK(Written <= Length);
    return CheckBatch(Out, Written, DataRecords, ControlRecords);
}

/* Checks every record of a delivered batch (sequence from ExpectSequence, patterns, padding). */
static ULONG
CheckBatch(CONST UCHAR *Batch, ULONG Written, ULONG *DataRecords, ULONG *ControlRecords)
{
    ULONG Offset = 0, Records = 0;

    CHECK(Written % 8 == 0);

    while (Offset < Written) {
        WSKB_EVENT_HEADER *Header = (WSKB_EVENT_HEADER *)(Batch + Offset);
        CHECK(Header->Size >= sizeof(WSKB_EVENT_HEADER));
        CHECK(Header->Size % 8 == 0);
        CHECK(Header->Type != WSKB_EVENT_PAD);
        CHECK(Header->Sequence == ExpectSequence);
        ExpectSequence = Header->Sequence + 1;
        CHECK(Header->SocketId == Socket.Id);
        if (Header->Type == WSKB_EVENT_RECEIVE) {
            ULONG i, Bad = 0;
            CHECK(Header->Size == ALIGN8(sizeof(WSKB_EVENT_HEADER) + Header->DataLength));
            CHECK(Header->Param == Header->DataLength);
            for (i = 0; i < Header->DataLength; ++i)
                Bad += ((PUCHAR)(Header + 1))[i] != (UCHAR)(Header->Sequence * 31 + i);
            for (i = sizeof(WSKB_EVENT_HEADER) + Header->DataLength; i < Header->Size; ++i)
                Bad += ((PUCHAR)Header)[i] != 0; /* padding never leaks ring contents */
            CHECK(Bad == 0);
            if (DataRecords)
                ++*DataRecords;
        } else {
            /* A refused accept keeps its reserved size (address pair zeroed). */
            CHECK(Header->Size == sizeof(WSKB_EVENT_HEADER) || Header->Type == WSKB_EVENT_ACCEPTS_REFUSED);
            CHECK(Header->WskFlags == 0x8 || Header->Type == WSKB_EVENT_DATAGRAMS_DROPPED ||
                  Header->Type == WSKB_EVENT_ACCEPTS_REFUSED ||
                  (Header->Type == WSKB_EVENT_SEND_BACKLOG && Header->WskFlags == 0)); /* coalesced */
            if (ControlRecords)
                ++*ControlRecords;
        }
        Offset += Header->Size;
        ++Records;
    }
    CHECK(Offset == Written);
    return Records;
}

static VOID
DrainAll(ULONG *DataRecords, ULONG *ControlRecords)
{
    while (Drain(OUT_BYTES, DataRecords, ControlRecords))
        ;
    CHECK(Session.Events.Used == 0 && Session.Events.DataUsed == 0 && Session.Events.OverflowCount == 0);
    CHECK(Session.Events.HeldBytes == 0);
}

static VOID
TestInitialize(VOID)
{
    WSKB_SESSION Other;

    RtlZeroMemory(&Other, sizeof(Other));
    KeInitializeSpinLock(&Other.Lock);
    CHECK(WskbEventsInitialize(&Other, WSKB_EVENT_BUDGET_MIN - 1) == STATUS_INVALID_PARAMETER);
    CHECK(WskbEventsInitialize(&Other, WSKB_EVENT_BUDGET_MAX + 1) == STATUS_INVALID_PARAMETER);
    CHECK(Other.Events.Ring == NULL);
    CHECK(NT_SUCCESS(WskbEventsInitialize(&Other, 0)));
    CHECK(Other.Events.Budget == WSKB_EVENT_BUDGET_DEFAULT);
    CHECK(Other.Events.Stats.EventBudgetBytes == WSKB_EVENT_BUDGET_DEFAULT);
    CHECK(WskbEventsInitialize(&Other, 0) == STATUS_INVALID_DEVICE_STATE);
    WskbEventsUninitialize(&Other);
    WskbEventsUninitialize(&Other); /* twice is harmless */
    /* The budget is kept as given (HELLO reports it back); only the ring is aligned. */
    CHECK(NT_SUCCESS(WskbEventsInitialize(&Other, WSKB_EVENT_BUDGET_MIN + 3)));
    CHECK(Other.Events.Budget == WSKB_EVENT_BUDGET_MIN + 3);
    CHECK(Other.Events.Capacity % 8 == 0);
    WskbEventsUninitialize(&Other);
    CHECK(KsimPoolOutstandingByTag(WSKB_TAG_EVENTS) == 0);
}

/* Fill, drain partly, fill again: the tail wraps behind a PAD, which is never delivered. */
static VOID
TestWrapAndPad(VOID)
{
    ULONG Data = 0, Pushed = 0, Round, Wrapped = 0;

    SetUp(WSKB_EVENT_BUDGET_MIN);
    for (Round = 0; Round < 50; ++Round) {
        /* Odd sizes, so that the end of the ring is reached at every possible remainder. */
        ULONG Body = 1000 + Round * 977 % 9000;
        while (PushData(Body))
            ++Pushed;
        Wrapped += Session.Events.Tail < Session.Events.Head;
        CHECK(Session.Events.DataUsed <= Session.Events.Budget);
        Drain(3 * Body, &Data, NULL);
    }
    DrainAll(&Data, NULL);
    CHECK(Wrapped > 0);
    CHECK(Data == Pushed);
    CHECK(Session.Events.Stats.EventsQueued == Pushed);
    CHECK(Session.Events.Stats.EventsDelivered == Pushed);
    CHECK(Session.Events.Used == 0);
    CHECK(Session.Events.DataUsed == 0);
    TearDown();
}

/* The budget refuses data; control records still go in (reserve), then to the overflow; while
 * the overflow holds anything, data is refused even with budget to spare; order is kept. */
static VOID
TestBudgetReserveOverflow(VOID)
{
    ULONG Data = 0, Control = 0, DataPushed = 0, ControlPushed = 0, i;
    ULONG RecordBytes = ALIGN8(8 + sizeof(WSKB_EVENT_HEADER) + 4000);

    SetUp(WSKB_EVENT_BUDGET_MIN);
    while (PushData(4000))
        ++DataPushed;
    CHECK(DataPushed == WSKB_EVENT_BUDGET_MIN / RecordBytes);
    CHECK(Session.Events.DataUsed + RecordBytes > Session.Events.Budget);
    CHECK(WskbEventQueueDataRoomLocked(&Session) < 4000);

    /* Control records: into the ring until it is physically full, then into the overflow. */
    for (i = 0; i < 20000; ++i) {
        CHECK(PushControl(WSKB_EVENT_SEND_BACKLOG, i));
        ++ControlPushed;
    }
    CHECK(Session.Events.OverflowCount > 0);
    CHECK(Session.Events.Capacity - Session.Events.Used < 2 * 56);

    /* Drain only the data: budget comes back, but the overflow must go first. */
    Drain(DataPushed * (RecordBytes - 8), &Data, &Control);
    CHECK(Data == DataPushed);
    CHECK(Control == 0);
    CHECK(Session.Events.DataUsed == 0);
    CHECK(!PushData(100));
    CHECK(WskbEventQueueDataRoomLocked(&Session) == 0);
    /* A new control record goes behind the overflow, not into the freed ring. */
    CHECK(PushControl(WSKB_EVENT_DISCONNECT, 99));
    ++ControlPushed;
    DrainAll(&Data, &Control);
    CHECK(Control == ControlPushed);
    CHECK(Session.Events.OverflowCount == 0);
    CHECK(PushData(100));
    DrainAll(&Data, &Control);
    CHECK(Data == DataPushed + 1);
    CHECK(Session.Events.Stats.EventBytesHighWater >= (UINT64)DataPushed * (RecordBytes - 8));
    TearDown();
}

/* An uncommitted reservation stops the reader; later records wait behind it. */
static VOID
TestUncommittedBlocks(VOID)
{
    KIRQL OldIrql;
    WSKB_EVENT_HEADER *Held;
    ULONG Control = 0, Data = 0;

    SetUp(WSKB_EVENT_BUDGET_MIN);
    CHECK(PushControl(WSKB_EVENT_DISCONNECT, 1));
    KeAcquireSpinLock(&Session.Lock, &OldIrql);
    Held = WskbEventQueueReserveLocked(&Session, WskbEventClassData, WSKB_EVENT_ACCEPT, &Socket,
                                       sizeof(WSKB_ADDRESS_PAIR));
    KeReleaseSpinLock(&Session.Lock, OldIrql);
    CHECK(Held != NULL);
    CHECK(PushControl(WSKB_EVENT_DISCONNECT, 2));
    CHECK(Drain(OUT_BYTES, NULL, &Control) == 1);
    KeAcquireSpinLock(&Session.Lock, &OldIrql);
    CHECK(!WskbEventQueueHasDeliverableLocked(&Session));
    /* Turned into a control record at commit (as a refused accept is): leaves the budget. */
    RtlZeroMemory(Held + 1, sizeof(WSKB_ADDRESS_PAIR));
    Held->Type = WSKB_EVENT_ACCEPTS_REFUSED;
    Held->Param = 1;
    WskbEventQueueCommitLocked(&Session, Held, WskbEventClassControl);
    CHECK(Session.Events.DataUsed == 0);
    CHECK(WskbEventQueueHasDeliverableLocked(&Session));
    KeReleaseSpinLock(&Session.Lock, OldIrql);
    /* The held record (sequence 2) leaves first, then the one queued behind it. */
    CHECK(Drain(OUT_BYTES, &Data, &Control) == 2);
    CHECK(((WSKB_EVENT_HEADER *)Out)->Type == WSKB_EVENT_ACCEPTS_REFUSED);
    CHECK(ExpectSequence == 4);
    CHECK(Data == 0 && Control == 3);
    TearDown();
}

/* Trimming shrinks the last record; cancelling gives its sequence number back. */
static VOID
TestTrimAndCancel(VOID)
{
    KIRQL OldIrql;
    WSKB_EVENT_HEADER *Header;
    ULONG Data = 0;

    SetUp(WSKB_EVENT_BUDGET_MIN);
    KeAcquireSpinLock(&Session.Lock, &OldIrql);
    Header = WskbEventQueueReserveLocked(&Session, WskbEventClassData, WSKB_EVENT_RECEIVE, &Socket, 5000);
    CHECK(Header && Header->Sequence == 1);
    WskbEventQueueTrimLastLocked(&Session, Header, WSKB_TRIM_CANCEL);
    CHECK(Session.Events.NextSequence == 1);
    CHECK(Session.Events.Used == 0 && Session.Events.DataUsed == 0 && Session.Events.HeldBytes == 0);
    Header = WskbEventQueueReserveLocked(&Session, WskbEventClassData, WSKB_EVENT_RECEIVE, &Socket, 5000);
    CHECK(Header && Header->Sequence == 1);
    WskbEventQueueTrimLastLocked(&Session, Header, 13);
    CHECK(Header->Size == ALIGN8(sizeof(WSKB_EVENT_HEADER) + 13));
    CHECK(Session.Events.DataUsed == ALIGN8(8 + sizeof(WSKB_EVENT_HEADER) + 13));
    {
        ULONG i;
        for (i = 0; i < 13; ++i)
            ((PUCHAR)(Header + 1))[i] = (UCHAR)(Header->Sequence * 31 + i);
    }
    /* The trimmed record's padding: zeroed at reservation for the full size, still zero. */
    Header->DataLength = 13;
    Header->Param = 13;
    WskbEventQueueCommitLocked(&Session, Header, WskbEventClassData);
    KeReleaseSpinLock(&Session.Lock, OldIrql);
    CHECK(PushData(7));
    DrainAll(&Data, NULL);
    CHECK(Data == 2);
    TearDown();
}

/* Refusals are counted per socket and reported once, with the count, when flushed. */
static VOID
TestReports(VOID)
{
    KIRQL OldIrql;
    WSKB_EVENT_HEADER *Header;
    WSKB_STATS_OUT Stats;
    ULONG i;

    SetUp(WSKB_EVENT_BUDGET_MIN);
    KeAcquireSpinLock(&Session.Lock, &OldIrql);
    for (i = 0; i < 5; ++i)
        WskbEventQueueCountRefusalLocked(&Session, &Socket, WSKB_EVENT_RECEIVE_FROM);
    WskbEventQueueCountRefusalLocked(&Session, &Socket, WSKB_EVENT_ACCEPT);
    WskbEventQueueCountRefusalLocked(&Session, &Socket, WSKB_EVENT_INSPECT);
    CHECK(Socket.Events.ReportQueued);
    CHECK(Session.Events.DatagramsDroppedPending == 5);
    CHECK(Session.Events.AcceptsRefusedPending == 2);
    WskbEventQueueFlushReportsLocked(&Session, NULL);
    CHECK(!Socket.Events.ReportQueued);
    CHECK(IsListEmpty(&Session.Events.ReportSockets));
    CHECK(Session.Events.DatagramsDroppedPending == 0 && Session.Events.AcceptsRefusedPending == 0);
    WskbEventQueueFlushReportsLocked(&Session, NULL); /* nothing owed: nothing queued */
    KeReleaseSpinLock(&Session.Lock, OldIrql);

    CHECK(Drain(OUT_BYTES, NULL, NULL) == 2);
    Header = (WSKB_EVENT_HEADER *)Out;
    CHECK(Header->Type == WSKB_EVENT_DATAGRAMS_DROPPED && Header->Param == 5);
    Header = (WSKB_EVENT_HEADER *)(Out + Header->Size);
    CHECK(Header->Type == WSKB_EVENT_ACCEPTS_REFUSED && Header->Param == 2);

    WskbEventsGetStats(&Session, &Stats);
    CHECK(Stats.DatagramsDropped == 5);
    CHECK(Stats.AcceptsRefused == 1);
    CHECK(Stats.InspectsRejected == 1);
    CHECK(Stats.EventsQueued == 2 && Stats.EventsDelivered == 2);
    CHECK(Stats.EventBytesQueued == 0);
    CHECK(Stats.EventBudgetBytes == WSKB_EVENT_BUDGET_MIN);
    TearDown();
}

/* SEND_BACKLOG is driven by the network: once the ring and its reserve are full, a socket's
 * indications are coalesced into the latest value, queued when reports are flushed, so a
 * stalled reader cannot make the overflow list grow without bound. */
static VOID
TestSendBacklogCoalesced(VOID)
{
    KIRQL OldIrql;
    ULONG Control = 0, OverflowBefore, i;
    WSKB_EVENT_HEADER *Header;

    SetUp(WSKB_EVENT_BUDGET_MIN);
    while (Session.Events.OverflowCount == 0)
        CHECK(PushControl(WSKB_EVENT_DISCONNECT, 0));
    OverflowBefore = Session.Events.OverflowCount;

    KeAcquireSpinLock(&Session.Lock, &OldIrql);
    for (i = 1; i <= 10000; ++i)
        WskbEventQueueSendBacklogLocked(&Session, &Socket, i);
    CHECK(Session.Events.OverflowCount == OverflowBefore); /* nothing grew */
    CHECK(Socket.Events.SendBacklogPending && Socket.Events.SendBacklogLatest == 10000);
    CHECK(Socket.Events.ReportQueued);
    KeReleaseSpinLock(&Session.Lock, OldIrql);

    /* The reader drains; the flush then queues the latest value once. */
    DrainAll(NULL, &Control);
    KeAcquireSpinLock(&Session.Lock, &OldIrql);
    WskbEventQueueFlushReportsLocked(&Session, NULL);
    CHECK(!Socket.Events.SendBacklogPending && !Socket.Events.ReportQueued);
    KeReleaseSpinLock(&Session.Lock, OldIrql);
    CHECK(Drain(OUT_BYTES, NULL, NULL) == 1);
    Header = (WSKB_EVENT_HEADER *)Out;
    CHECK(Header->Type == WSKB_EVENT_SEND_BACKLOG && Header->Param == 10000);

    /* With room in the ring, SEND_BACKLOG is queued at once, in order. */
    KeAcquireSpinLock(&Session.Lock, &OldIrql);
    WskbEventQueueSendBacklogLocked(&Session, &Socket, 7);
    CHECK(!Socket.Events.SendBacklogPending);
    KeReleaseSpinLock(&Session.Lock, OldIrql);
    CHECK(Drain(OUT_BYTES, NULL, NULL) == 1);
    CHECK(((WSKB_EVENT_HEADER *)Out)->Param == 7);
    TearDown();
}

/* A control record that needs the overflow when pool fails is lost as a visible gap. */
static VOID
TestOverflowAllocationFailure(VOID)
{
    UINT64 Pushed = 0, Next = 1;
    KIRQL OldIrql;
    ULONG Written, Offset;
    BOOLEAN SawGap = FALSE;

    SetUp(WSKB_EVENT_BUDGET_MIN);
    while (Session.Events.OverflowCount == 0) {
        CHECK(PushControl(WSKB_EVENT_SEND_BACKLOG, Pushed));
        ++Pushed;
    }
    /* Sequences 1..Pushed are queued; the next one is lost, the one after arrives. */
    KsimFailAllocationAfter(1);
    CHECK(!PushControl(WSKB_EVENT_SEND_BACKLOG, 0xdead));
    KsimFailAllocationAfter(0);
    CHECK(PushControl(WSKB_EVENT_SEND_BACKLOG, 0xbeef));
    do {
        KeAcquireSpinLock(&Session.Lock, &OldIrql);
        Written = WskbEventQueueCopyBatchLocked(&Session, Out, OUT_BYTES);
        KeReleaseSpinLock(&Session.Lock, OldIrql);
        for (Offset = 0; Offset < Written; Offset += ((WSKB_EVENT_HEADER *)(Out + Offset))->Size) {
            WSKB_EVENT_HEADER *Header = (WSKB_EVENT_HEADER *)(Out + Offset);
            if (Header->Sequence != Next) {
                CHECK(!SawGap && Next == Pushed + 1 && Header->Sequence == Pushed + 2);
                SawGap = TRUE;
            }
            CHECK(Header->Param != 0xdead);
            if (Header->Sequence == Pushed + 2)
                CHECK(Header->Param == 0xbeef);
            Next = Header->Sequence + 1;
        }
    } while (Written);
    CHECK(SawGap);
    CHECK(Next == Pushed + 3);
    ExpectSequence = Next;
    TearDown();
}

/* A record larger than the whole budget still goes in when no data is held, and only then. */
static VOID
TestOversizeIntoEmptyBudget(VOID)
{
    ULONG Data = 0;
    ULONG Big = WSKB_EVENT_MAX_DATAGRAM_DATA + sizeof(WSKB_SOCKADDR);

    SetUp(WSKB_EVENT_BUDGET_MIN);
    CHECK(ALIGN8(8 + sizeof(WSKB_EVENT_HEADER) + Big) > Session.Events.Budget);
    CHECK(PushData(Big));
    CHECK(!PushData(Big));
    CHECK(!PushData(1));
    CHECK(WskbEventQueueDataRoomLocked(&Session) == 0);
    DrainAll(&Data, NULL);
    CHECK(Data == 1);
    CHECK(PushData(1));
    CHECK(!PushData(Big));
    DrainAll(&Data, NULL);
    CHECK(PushData(Big));
    DrainAll(&Data, NULL);
    CHECK(Data == 3);
    TearDown();
}

/* Random mix of data, control and reads of random sizes, checked against the sequence rule,
 * the byte patterns and the accounting invariants. */
/* The single-consumer protocol (events.h): records planned for a READ_EVENTS are copied without
 * the lock while producers go on queuing; the planned ring bytes stay used until retired, so
 * the producers fill the ring around them (wrapping to offset 0 and up to the head) but never
 * over them. Before the lock-free copy there was nothing to plan: the copy held the lock. */
static VOID
TestPlannedCopyWhileProducing(VOID)
{
    WSKB_EVENT_BATCH Batch;
    KIRQL OldIrql;
    ULONG Planned, Written, Pushed = 0, Data = 0;
    ULONG Head;
    int i;

    SetUp(1024 * 1024);
    /* Move the head to the middle (one record left there), so that the producers below wrap. */
    for (i = 0; i < 20; ++i)
        CHECK(PushData(30000));
    for (i = 0; i < 19; ++i)
        CHECK(Drain(ALIGN8(sizeof(WSKB_EVENT_HEADER) + 30000), &Data, NULL) == 1);
    CHECK(PushData(40000) && PushData(40000) && PushData(40000));
    Head = Session.Events.Head;
    CHECK(Head > Session.Events.Capacity / 3);

    KeAcquireSpinLock(&Session.Lock, &OldIrql);
    Planned = WskbEventQueuePlanBatchLocked(&Session, OUT_BYTES, &Batch);
    KeReleaseSpinLock(&Session.Lock, OldIrql);
    CHECK(Batch.Records == 3 &&
          Planned == ALIGN8(sizeof(WSKB_EVENT_HEADER) + 30000) + 2 * ALIGN8(sizeof(WSKB_EVENT_HEADER) + 40000));
    CHECK(Session.Events.Head == Head); /* planning moves nothing */

    /* Producers run "during the copy": until the budget refuses them. */
    while (PushData(20000))
        ++Pushed;
    CHECK(Pushed > 10);
    CHECK(Session.Events.Tail <= Head); /* wrapped, and stopped before the planned records */

    RtlFillMemory(Out, sizeof(Out), 0xCC);
    WskbEventQueueCopyPlanned(&Session, &Batch, Out);
    KeAcquireSpinLock(&Session.Lock, &OldIrql);
    Written = WskbEventQueueRetirePlannedLocked(&Session, &Batch, Out, OUT_BYTES);
    KeReleaseSpinLock(&Session.Lock, OldIrql);
    CHECK(Written == Planned);
    CHECK(CheckBatch(Out, Written, &Data, NULL) == 3 && Data == 19 + 3); /* intact, in order */
    DrainAll(&Data, NULL);
    CHECK(Data == 20 + 3 + Pushed);
    TearDown();
}

/* An empty plan retired after a producer restarted the empty ring at offset 0 must leave the
 * head where the producer put it. It used to move the head back to the plan's stale start
 * (the middle of the ring), after which the consumer saw no record and the producer no room:
 * TestConcurrentConsumer hung about one run in fifteen. */
static VOID
TestEmptyPlanWhileProducing(VOID)
{
    WSKB_EVENT_BATCH Batch;
    KIRQL OldIrql;
    ULONG Data = 0;

    SetUp(WSKB_EVENT_BUDGET_MIN * 2);
    CHECK(PushData(1000));
    CHECK(Drain(OUT_BYTES, &Data, NULL) == 1);
    CHECK(Session.Events.Used == 0 && Session.Events.Head != 0); /* empty, head mid-ring */

    KeAcquireSpinLock(&Session.Lock, &OldIrql);
    CHECK(WskbEventQueuePlanBatchLocked(&Session, OUT_BYTES, &Batch) == 0);
    KeReleaseSpinLock(&Session.Lock, OldIrql);
    CHECK(PushData(2000)); /* the ring was empty: the record starts at offset 0 */
    CHECK(Session.Events.Head == 0);
    WskbEventQueueCopyPlanned(&Session, &Batch, Out);
    KeAcquireSpinLock(&Session.Lock, &OldIrql);
    CHECK(WskbEventQueueRetirePlannedLocked(&Session, &Batch, Out, OUT_BYTES) == 0);
    KeReleaseSpinLock(&Session.Lock, OldIrql);
    CHECK(Session.Events.Head == 0);
    CHECK(Drain(OUT_BYTES, &Data, NULL) == 1);
    CHECK(Data == 2);
    DrainAll(&Data, NULL);
    TearDown();
}

/* A READ_EVENTS buffer larger than WSKB_READ_EVENTS_BATCH_MAX gets at most that many bytes
 * (before the cap, one completion took everything that fit: here 10 records of ~60 KiB). */
static UCHAR Large[1024 * 1024];

static VOID
TestBatchCap(VOID)
{
    KIRQL OldIrql;
    ULONG Written, Total = 0, Batches = 0, Data = 0;
    int i;

    SetUp(4 * 1024 * 1024);
    for (i = 0; i < 10; ++i)
        CHECK(PushData(60000));
    do {
        KeAcquireSpinLock(&Session.Lock, &OldIrql);
        Written = WskbEventQueueCopyBatchLocked(&Session, Large, sizeof(Large));
        KeReleaseSpinLock(&Session.Lock, OldIrql);
        CHECK(Written <= WSKB_READ_EVENTS_BATCH_MAX);
        if (Written) {
            CHECK(CheckBatch(Large, Written, &Data, NULL) > 0);
            ++Batches;
        }
        Total += Written;
    } while (Written);
    CHECK(Data == 10 && Batches == 3); /* 4 + 4 + 2 records of 60 KiB under 256 KiB */
    CHECK(Total == 10 * ALIGN8(sizeof(WSKB_EVENT_HEADER) + 60000));
    TearDown();
}

/* The protocol under real concurrency: a system thread queues records at DISPATCH_LEVEL while
 * this thread plans, copies without the lock and retires, as readevents.c does; every byte and
 * sequence number is checked. */
#define CONCURRENT_RECORDS 5000
static volatile LONG ProducerDone;

static VOID
ProducerThread(_In_ PVOID Context)
{
    ULONG Pushed = 0, Length = 1;
    UNREFERENCED_PARAMETER(Context);
    while (Pushed < CONCURRENT_RECORDS) {
        if (PushData(Length)) {
            ++Pushed;
            Length = Length * 7 % 9000 + 1;
        } else {
            /* The ring is full: let the consumer have the lock (ksim's spin locks do not queue,
             * and a tight retry loop can starve it on a loaded machine). */
            LARGE_INTEGER Interval;
            Interval.QuadPart = -1000; /* 100 us */
            KeDelayExecutionThread(KernelMode, FALSE, &Interval);
        }
    }
    InterlockedExchange(&ProducerDone, 1);
    PsTerminateSystemThread(STATUS_SUCCESS);
}

static VOID
TestConcurrentConsumer(VOID)
{
    HANDLE Thread;
    PVOID ThreadObject;
    ULONG Data = 0;
    KIRQL OldIrql;

    SetUp(WSKB_EVENT_BUDGET_MIN * 2);
    ProducerDone = 0;
    CHECK(NT_SUCCESS(PsCreateSystemThread(&Thread, THREAD_ALL_ACCESS, NULL, NULL, NULL, ProducerThread, NULL)));
    CHECK(NT_SUCCESS(ObReferenceObjectByHandle(Thread, SYNCHRONIZE, *PsThreadType, KernelMode, &ThreadObject, NULL)));
    ZwClose(Thread);
    for (;;) {
        WSKB_EVENT_BATCH Batch;
        ULONG Written;
        BOOLEAN Done = InterlockedCompareExchange(&ProducerDone, 0, 0) != 0;
        KeAcquireSpinLock(&Session.Lock, &OldIrql);
        (VOID)WskbEventQueuePlanBatchLocked(&Session, OUT_BYTES, &Batch);
        KeReleaseSpinLock(&Session.Lock, OldIrql);
        WskbEventQueueCopyPlanned(&Session, &Batch, Out);
        KeAcquireSpinLock(&Session.Lock, &OldIrql);
        Written = WskbEventQueueRetirePlannedLocked(&Session, &Batch, Out, OUT_BYTES);
        KeReleaseSpinLock(&Session.Lock, OldIrql);
        (VOID)CheckBatch(Out, Written, &Data, NULL);
        if (Written == 0 && Done)
            break;
        if (Written == 0) {
            /* Nothing yet: let the producer have the lock (ksim's spin locks do not queue). */
            LARGE_INTEGER Interval;
            Interval.QuadPart = -1000; /* 100 us */
            KeDelayExecutionThread(KernelMode, FALSE, &Interval);
        }
    }
    KeWaitForSingleObject(ThreadObject, Executive, KernelMode, FALSE, NULL);
    ObDereferenceObject(ThreadObject);
    CHECK(Data == CONCURRENT_RECORDS);
    TearDown();
}

static VOID
TestRandomized(VOID)
{
    ULONG Step, Data = 0, Control = 0, DataPushed = 0, ControlPushed = 0;

    srand(12345);
    SetUp(WSKB_EVENT_BUDGET_MIN + 8 * 1024);
    for (Step = 0; Step < 200000; ++Step) {
        int Op = rand() % 10;
        if (Op < 5) {
            ULONG Body = (ULONG)(rand() % 3 == 0 ? rand() % 65536 : rand() % 600);
            DataPushed += PushData(Body);
        } else if (Op < 7) {
            ControlPushed += PushControl(WSKB_EVENT_FLOW_PAUSED, Step);
        } else {
            ULONG Length = WSKB_READ_EVENTS_MIN_OUTPUT + (ULONG)(rand() % (int)WSKB_READ_EVENTS_MIN_OUTPUT);
            Drain(Length, &Data, &Control);
        }
        /* Over the budget only by the one record an empty budget always admits. */
        CHECK(Session.Events.DataUsed <= Session.Events.Budget + 8 + WSKB_READ_EVENTS_MIN_OUTPUT);
        CHECK(Session.Events.Used <= Session.Events.Capacity);
        if (Failures > 20)
            break;
    }
    DrainAll(&Data, &Control);
    CHECK(Data == DataPushed);
    CHECK(Control == ControlPushed);
    CHECK(ExpectSequence == Session.Events.NextSequence);
    TearDown();
}

int
main(void)
{
    TestInitialize();
    TestWrapAndPad();
    TestBudgetReserveOverflow();
    TestUncommittedBlocks();
    TestTrimAndCancel();
    TestReports();
    TestSendBacklogCoalesced();
    TestOverflowAllocationFailure();
    TestOversizeIntoEmptyBudget();
    TestPlannedCopyWhileProducing();
    TestEmptyPlanWhileProducing();
    TestBatchCap();
    TestConcurrentConsumer();
    TestRandomized();
    printf("events_ring_test: %d checks, %d failures\n", Checks, Failures);
    return Failures ? 1 : 0;
}

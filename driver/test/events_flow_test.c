/* SPDX-License-Identifier: MIT
 *
 * End-to-end test of the driver's event half on ksim, through ksim.h as the addon uses it:
 *  1. TCP: a listener with WSK_EVENT_ACCEPT | RECEIVE | DISCONNECT; a host client sends 1 MiB
 *     while nobody reads events, with the smallest budget. Expected: an ACCEPT carrying the new
 *     socket id and both addresses, FLOW_PAUSED (STATUS_DATA_NOT_ACCEPTED or a partial accept),
 *     FLOW_RESUMED once READ_EVENTS drains, every byte in order in RECEIVE records, a graceful
 *     DISCONNECT, SOCKET_CLOSED as the socket's last event; sequence numbers 1, 2, 3 ... across
 *     all completions; STATS agreeing with what was seen.
 *  1b. Four connections at once, with two READ_EVENTS always outstanding (as the addon's pump):
 *     every stream intact, and sequence numbers consecutive in the order completions arrive.
 *  2. UDP: a datagram socket with WSK_EVENT_RECEIVE_FROM flooded while nobody reads: every
 *     datagram is either a RECEIVE_FROM record with its remote address or counted, and the
 *     DATAGRAMS_DROPPED events add up to STATS.DatagramsDropped.
 *  2b. Conditional accept: two connections give two INSPECT events with distinct tokens; the
 *     first INSPECT_COMPLETE(Accept) succeeds and an ACCEPT follows, the same token again is
 *     STATUS_INVALID_PARAMETER, INSPECT_COMPLETE(Reject) gives neither ACCEPT nor ABORT.
 *  3. READ_EVENTS pending then CancelIo: STATUS_CANCELLED. INSPECT_COMPLETE with an unknown
 *     token on a listener: STATUS_INVALID_PARAMETER.
 *  4. Unload: no pool, IRP or MDL left, no verifier failure.
 *
 * This file is host code: it includes ksim.h, protocol.h and POSIX headers, never the simulated
 * kernel headers. Build and run (from the package root, ksim complete):
 *   cc -std=gnu11 -Wall -Wextra -Wno-unused-parameter -Wno-multichar -Wno-missing-field-initializers \
 *      -Inative/ksim/include -Inative/ksim -Idriver driver/test/events_flow_test.c \
 *      $(node scripts/gyp-sources.js driver) $(node scripts/gyp-sources.js ksim) -lpthread \
 *      -o build/events_flow_test && build/events_flow_test
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "ksim.h"
#include "protocol.h"

/* WSK and NTSTATUS values (wsk-facts §1), spelled out: the kernel headers are not included. */
#define WSK_FLAG_LISTEN_SOCKET 0x1u
#define WSK_FLAG_DATAGRAM_SOCKET 0x4u
#define WSK_FLAG_ABORTIVE 0x1u
#define WSK_EVENT_RECEIVE_FROM 0x100u
#define WSK_EVENT_ACCEPT 0x200u
#define WSK_EVENT_RECEIVE 0x40u
#define WSK_EVENT_DISCONNECT 0x80u
#define SO_WSK_EVENT_CALLBACK 0x4002u
#define SO_CONDITIONAL_ACCEPT 0x3002u
#define WSK_INSPECT_REJECT 0u
#define WSK_INSPECT_ACCEPT 1u
#define SOL_SOCKET_WSK 0xffffu
#define WSK_SET_OPTION 0u
#define ST_SUCCESS 0
#define ST_PENDING 0x103
#define ST_CANCELLED ((int32_t)0xC0000120u)
#define ST_INVALID_PARAMETER ((int32_t)0xC000000Du)
#define ST_BUFFER_TOO_SMALL ((int32_t)0xC0000023u)

/* ---- synchronous and asynchronous DeviceIoControl over ksim ---- */

#include "ksim_call.h"
#include "bridge_test.h"

/* ---- event stream: reads batches, checks the sequence, hands records to a visitor ---- */

static uint64_t NextSequence = 1;
static uint64_t EventsSeen;

typedef void VISITOR(const WSKB_EVENT_HEADER *Header, void *Context);

static CALL *
ReadEventsStart(KSIM_FILE *File)
{
    return CallStart(File, WSKB_IOCTL_READ_EVENTS, NULL, 0, WSKB_READ_EVENTS_MIN_OUTPUT + 4096);
}

/* Waits Ms for a READ_EVENTS started by ReadEventsStart, cancels it if nothing came, checks the
 * batch and hands its records to Visit; frees the call. Returns the records visited. */
static int
ReadEventsFinish(KSIM_FILE *File, CALL *Call, int Ms, VISITOR *Visit, void *Context)
{
    uint32_t Offset = 0;
    int Records = 0;

    if (!CallWait(Call, Ms)) {
        KsimCancelIo(File);
        REQUIRE(CallWait(Call, 10000));
    }
    if (Call->Status == ST_CANCELLED) {
        CallFree(Call);
        return 0;
    }
    CHECK(Call->Status == ST_SUCCESS);
    CHECK(Call->Information == Call->OutputLength);
    CHECK(Call->OutputLength > 0 && Call->OutputLength % 8 == 0);
    while (Offset + sizeof(WSKB_EVENT_HEADER) <= Call->OutputLength) {
        const WSKB_EVENT_HEADER *Header = (const WSKB_EVENT_HEADER *)(Call->Output + Offset);
        REQUIRE(Header->Size >= sizeof(WSKB_EVENT_HEADER) && Header->Size % 8 == 0 &&
                Offset + Header->Size <= Call->OutputLength);
        CHECK(Header->Type != WSKB_EVENT_PAD);
        if (Header->Sequence != NextSequence)
            fprintf(stderr, "sequence %llu, expected %llu\n", (unsigned long long)Header->Sequence,
                    (unsigned long long)NextSequence);
        CHECK(Header->Sequence == NextSequence);
        NextSequence = Header->Sequence + 1;
        ++EventsSeen;
        Visit(Header, Context);
        Offset += Header->Size;
        ++Records;
    }
    CHECK(Offset == Call->OutputLength);
    CallFree(Call);
    return Records;
}

/* One READ_EVENTS; waits Ms for it, cancels it if nothing came. Returns the records visited. */
static int
ReadEvents(KSIM_FILE *File, int Ms, VISITOR *Visit, void *Context)
{
    return ReadEventsFinish(File, ReadEventsStart(File), Ms, Visit, Context);
}

/* ---- helpers over the protocol ---- */

static void
EnableEvents(KSIM_FILE *File, uint64_t Id, uint32_t Mask)
{
    CHECK(SetOptionU32(File, Id, SO_WSK_EVENT_CALLBACK, Mask, 0) == ST_SUCCESS);
}

static void
CloseSocket(KSIM_FILE *File, uint64_t Id)
{
    WSKB_SOCKET_ID In = {.SocketId = Id};
    CHECK(Ioctl(File, WSKB_IOCTL_CLOSE, &In, sizeof(In), NULL, 0, NULL) == ST_SUCCESS);
}

static void
GetStats(KSIM_FILE *File, WSKB_STATS_OUT *Stats)
{
    REQUIRE(Ioctl(File, WSKB_IOCTL_STATS, NULL, 0, Stats, sizeof(*Stats), NULL) == ST_SUCCESS);
}

static uint8_t
Pattern(uint64_t Offset)
{
    return (uint8_t)(Offset * 7 + (Offset >> 11));
}

/* ---- 1. TCP ---- */

#define TCP_BYTES (1024u * 1024u)

typedef struct {
    uint64_t Listener, Accepted;
    uint16_t Port;
    uint64_t Received;
    int Mismatches;
    int Accepts, Paused, Resumed, Disconnects, Closed, AfterClosed, Other;
    int32_t LastResumeStatus;
} TCP_STATE;

static void
TcpVisit(const WSKB_EVENT_HEADER *Header, void *Context)
{
    TCP_STATE *State = Context;
    const uint8_t *Body = (const uint8_t *)(Header + 1);

    if (State->Closed && Header->SocketId == State->Accepted)
        State->AfterClosed++;
    switch (Header->Type) {
    case WSKB_EVENT_ACCEPT: {
        const WSKB_ADDRESS_PAIR *Pair = (const WSKB_ADDRESS_PAIR *)Body;
        CHECK(Header->SocketId == State->Listener);
        CHECK(Header->Size == sizeof(WSKB_EVENT_HEADER) + sizeof(WSKB_ADDRESS_PAIR));
        CHECK(Header->Param != 0);
        CHECK(Pair->LocalAddress.Family == 2 && Pair->LocalAddress.Port == State->Port);
        CHECK(Pair->RemoteAddress.Family == 2 && Pair->RemoteAddress.Address[0] == 127 &&
              Pair->RemoteAddress.Port != 0);
        State->Accepted = Header->Param;
        State->Accepts++;
        break;
    }
    case WSKB_EVENT_RECEIVE: {
        uint32_t i;
        CHECK(Header->SocketId == State->Accepted);
        CHECK(Header->DataLength > 0 && Header->DataLength <= 64u * 1024u);
        CHECK(Header->Size == ((sizeof(WSKB_EVENT_HEADER) + Header->DataLength + 7u) & ~7u));
        CHECK(Header->Param >= Header->DataLength);
        for (i = 0; i < Header->DataLength; ++i)
            State->Mismatches += Body[i] != Pattern(State->Received + i);
        State->Received += Header->DataLength;
        break;
    }
    case WSKB_EVENT_FLOW_PAUSED:
        CHECK(Header->SocketId == State->Accepted);
        CHECK(Header->Param > 0);
        State->Paused++;
        break;
    case WSKB_EVENT_FLOW_RESUMED:
        CHECK(Header->SocketId == State->Accepted);
        State->LastResumeStatus = (int32_t)(uint32_t)Header->Param;
        State->Resumed++;
        break;
    case WSKB_EVENT_DISCONNECT:
        CHECK(Header->SocketId == State->Accepted);
        CHECK(!(Header->WskFlags & WSK_FLAG_ABORTIVE));
        State->Disconnects++;
        break;
    case WSKB_EVENT_SOCKET_CLOSED:
        if (Header->SocketId == State->Accepted)
            State->Closed++;
        break;
    default:
        fprintf(stderr, "unexpected TCP event type %u\n", Header->Type);
        State->Other++;
    }
}

typedef struct {
    int Fd;
    uint64_t Sent;
} WRITER;

static void *
WriterThread(void *Context)
{
    WRITER *Writer = Context;
    uint8_t Chunk[16384];
    while (Writer->Sent < TCP_BYTES) {
        size_t n = sizeof(Chunk), i;
        ssize_t Done;
        if (TCP_BYTES - Writer->Sent < n)
            n = TCP_BYTES - Writer->Sent;
        for (i = 0; i < n; ++i)
            Chunk[i] = Pattern(Writer->Sent + i);
        Done = send(Writer->Fd, Chunk, n, MSG_NOSIGNAL);
        if (Done <= 0) {
            if (Done < 0 && errno == EINTR)
                continue;
            break;
        }
        Writer->Sent += (uint64_t)Done;
    }
    shutdown(Writer->Fd, SHUT_WR);
    return NULL;
}

static void
TestTcp(KSIM_FILE *File)
{
    TCP_STATE State;
    WRITER Writer = {0};
    pthread_t Thread;
    struct sockaddr_in To;
    WSKB_STATS_OUT Stats;
    int Idle = 0;

    memset(&State, 0, sizeof(State));
    State.Listener = SocketCreate(File, 1, 6, WSK_FLAG_LISTEN_SOCKET);
    State.Port = BindLoopback(File, State.Listener);
    EnableEvents(File, State.Listener, WSK_EVENT_ACCEPT | WSK_EVENT_RECEIVE | WSK_EVENT_DISCONNECT);

    Writer.Fd = socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(Writer.Fd >= 0);
    memset(&To, 0, sizeof(To));
    To.sin_family = AF_INET;
    To.sin_port = htons(State.Port);
    To.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(connect(Writer.Fd, (struct sockaddr *)&To, sizeof(To)) == 0);
    pthread_create(&Thread, NULL, WriterThread, &Writer);

    /* Nobody reads for a while: the 64 KiB budget fills and the receive callback must pause. */
    usleep(500 * 1000);
    GetStats(File, &Stats);
    CHECK(Stats.ReceivePauses >= 1);
    CHECK(Stats.EventBytesQueued <= Stats.EventBudgetBytes + 64u * 1024u);

    while (State.Disconnects == 0 && Idle < 20) {
        if (ReadEvents(File, 500, TcpVisit, &State) == 0)
            Idle++;
        else
            Idle = 0;
    }
    pthread_join(Thread, NULL);
    close(Writer.Fd);

    CHECK(Writer.Sent == TCP_BYTES);
    CHECK(State.Accepts == 1);
    CHECK(State.Received == TCP_BYTES);
    CHECK(State.Mismatches == 0);
    CHECK(State.Paused >= 1);
    CHECK(State.Resumed >= 1);
    CHECK(State.LastResumeStatus == ST_SUCCESS);
    CHECK(State.Disconnects == 1);
    CHECK(State.Other == 0);

    CloseSocket(File, State.Accepted);
    while (State.Closed == 0 && ReadEvents(File, 2000, TcpVisit, &State) > 0)
        ;
    CHECK(State.Closed == 1);
    CloseSocket(File, State.Listener);
    while (ReadEvents(File, 500, TcpVisit, &State) > 0)
        ;
    CHECK(State.AfterClosed == 0); /* nothing after SOCKET_CLOSED */

    GetStats(File, &Stats);
    CHECK(Stats.ReceivePauses == (uint64_t)State.Paused);
    CHECK(Stats.ReceiveResumes == (uint64_t)State.Resumed);
    CHECK(Stats.EventsQueued == Stats.EventsDelivered);
    CHECK(Stats.EventsDelivered == EventsSeen);
    CHECK(Stats.EventBytesQueued == 0);
    CHECK(Stats.EventBytesHighWater > 0);
    printf("tcp: %llu bytes in order, %d pauses, %d resumes, %llu events\n", (unsigned long long)State.Received,
           State.Paused, State.Resumed, (unsigned long long)EventsSeen);
}

/* ---- 1b. several connections, two READ_EVENTS always outstanding ---- */

#define CONC_CONNECTIONS 4
#define CONC_BYTES (256u * 1024u)

/* Completions of READ_EVENTS in the order their callbacks ran. */
typedef struct {
    pthread_mutex_t Mutex;
    pthread_cond_t Cond;
    uint8_t *Batches[64];
    uint32_t Lengths[64];
    int32_t Statuses[64];
    unsigned Head, Tail;
} COMPLETIONS;

static COMPLETIONS Completions = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER};

static void
ReadDone(void *Context, int32_t Status, uint64_t Information, const void *Output, uint32_t OutputLength)
{
    (void)Context;
    (void)Information;
    pthread_mutex_lock(&Completions.Mutex);
    Completions.Batches[Completions.Tail % 64] = malloc(OutputLength ? OutputLength : 1);
    if (OutputLength)
        memcpy(Completions.Batches[Completions.Tail % 64], Output, OutputLength);
    Completions.Lengths[Completions.Tail % 64] = OutputLength;
    Completions.Statuses[Completions.Tail % 64] = Status;
    Completions.Tail++;
    pthread_cond_broadcast(&Completions.Cond);
    pthread_mutex_unlock(&Completions.Mutex);
}

typedef struct {
    uint64_t Id;
    int Index;          /* the host connection, from the stream's first 4 bytes; -1 until known */
    uint8_t First[4];
    uint64_t Received;
    int Mismatches, Disconnected, Closed;
} CONC_SOCKET;

typedef struct {
    uint64_t Listener;
    CONC_SOCKET Sockets[CONC_CONNECTIONS];
    int Count, Unknown, Paused, Resumed;
} CONC_STATE;

static uint8_t
ConcPattern(int Index, uint64_t Offset)
{
    return (uint8_t)(Offset * 13 + (uint64_t)Index * 101 + (Offset >> 9));
}

static CONC_SOCKET *
ConcFind(CONC_STATE *State, uint64_t Id)
{
    int i;
    for (i = 0; i < State->Count; ++i)
        if (State->Sockets[i].Id == Id)
            return &State->Sockets[i];
    State->Unknown++;
    return NULL;
}

static void
ConcVisit(const WSKB_EVENT_HEADER *Header, void *Context)
{
    CONC_STATE *State = Context;
    const uint8_t *Body = (const uint8_t *)(Header + 1);
    CONC_SOCKET *Socket;
    uint32_t i;

    switch (Header->Type) {
    case WSKB_EVENT_ACCEPT:
        REQUIRE(State->Count < CONC_CONNECTIONS);
        State->Sockets[State->Count].Id = Header->Param;
        State->Sockets[State->Count].Index = -1;
        State->Count++;
        break;
    case WSKB_EVENT_RECEIVE:
        if (!(Socket = ConcFind(State, Header->SocketId)))
            break;
        for (i = 0; i < Header->DataLength; ++i) {
            uint64_t Offset = Socket->Received + i;
            if (Offset < 4) {
                Socket->First[Offset] = Body[i];
                if (Offset == 3)
                    memcpy(&Socket->Index, Socket->First, 4);
            } else {
                Socket->Mismatches += Body[i] != ConcPattern(Socket->Index, Offset);
            }
        }
        Socket->Received += Header->DataLength;
        break;
    case WSKB_EVENT_FLOW_PAUSED:
        State->Paused++;
        break;
    case WSKB_EVENT_FLOW_RESUMED:
        State->Resumed++;
        break;
    case WSKB_EVENT_DISCONNECT:
        if ((Socket = ConcFind(State, Header->SocketId)))
            Socket->Disconnected++;
        break;
    case WSKB_EVENT_SOCKET_CLOSED:
        if (Header->SocketId != State->Listener && (Socket = ConcFind(State, Header->SocketId)))
            Socket->Closed++;
        break;
    default:
        fprintf(stderr, "unexpected event type %u\n", Header->Type);
        State->Unknown++;
    }
}

typedef struct {
    int Fd, Index;
    uint64_t Sent;
} CONC_WRITER;

static void *
ConcWriterThread(void *Context)
{
    CONC_WRITER *Writer = Context;
    uint8_t Chunk[8192];
    while (Writer->Sent < CONC_BYTES) {
        size_t n = sizeof(Chunk), i;
        ssize_t Done;
        if (CONC_BYTES - Writer->Sent < n)
            n = CONC_BYTES - Writer->Sent;
        for (i = 0; i < n; ++i) {
            uint64_t Offset = Writer->Sent + i;
            Chunk[i] = Offset < 4 ? ((const uint8_t *)&Writer->Index)[Offset] : ConcPattern(Writer->Index, Offset);
        }
        Done = send(Writer->Fd, Chunk, n, MSG_NOSIGNAL);
        if (Done <= 0) {
            if (Done < 0 && errno == EINTR)
                continue;
            break;
        }
        Writer->Sent += (uint64_t)Done;
    }
    shutdown(Writer->Fd, SHUT_WR);
    return NULL;
}

/* Processes the next completion in callback order; returns its record count, -1 on timeout. */
static int
ConcNext(KSIM_FILE *File, CONC_STATE *State, int Ms)
{
    struct timespec Deadline;
    uint8_t *Batch;
    uint32_t Length, Offset = 0;
    int32_t Status;
    int Records = 0;

    clock_gettime(CLOCK_REALTIME, &Deadline);
    Deadline.tv_sec += Ms / 1000 + 1;
    pthread_mutex_lock(&Completions.Mutex);
    while (Completions.Head == Completions.Tail)
        if (pthread_cond_timedwait(&Completions.Cond, &Completions.Mutex, &Deadline) != 0)
            break;
    if (Completions.Head == Completions.Tail) {
        pthread_mutex_unlock(&Completions.Mutex);
        return -1;
    }
    Batch = Completions.Batches[Completions.Head % 64];
    Length = Completions.Lengths[Completions.Head % 64];
    Status = Completions.Statuses[Completions.Head % 64];
    Completions.Head++;
    pthread_mutex_unlock(&Completions.Mutex);

    if (Status == ST_SUCCESS) {
        while (Offset + sizeof(WSKB_EVENT_HEADER) <= Length) {
            const WSKB_EVENT_HEADER *Header = (const WSKB_EVENT_HEADER *)(Batch + Offset);
            REQUIRE(Header->Size >= sizeof(WSKB_EVENT_HEADER) && Offset + Header->Size <= Length);
            /* Across completions too: batches are taken and completed in one order. */
            if (Header->Sequence != NextSequence)
                fprintf(stderr, "sequence %llu, expected %llu\n", (unsigned long long)Header->Sequence,
                        (unsigned long long)NextSequence);
            CHECK(Header->Sequence == NextSequence);
            NextSequence = Header->Sequence + 1;
            ++EventsSeen;
            ConcVisit(Header, State);
            Offset += Header->Size;
            ++Records;
        }
        CHECK(Offset == Length);
        CHECK(Records > 0);
    } else {
        CHECK(Status == ST_CANCELLED);
    }
    free(Batch);
    (void)File;
    return Status == ST_SUCCESS ? Records : 0;
}

static void
TestConcurrent(KSIM_FILE *File)
{
    CONC_STATE State;
    CONC_WRITER Writers[CONC_CONNECTIONS];
    pthread_t Threads[CONC_CONNECTIONS];
    uint16_t Port;
    int i, Outstanding = 0, Done = 0, Idle = 0;

    memset(&State, 0, sizeof(State));
    State.Listener = SocketCreate(File, 1, 6, WSK_FLAG_LISTEN_SOCKET);
    Port = BindLoopback(File, State.Listener);
    EnableEvents(File, State.Listener, WSK_EVENT_ACCEPT | WSK_EVENT_RECEIVE | WSK_EVENT_DISCONNECT);

    for (i = 0; i < CONC_CONNECTIONS; ++i) {
        struct sockaddr_in To;
        Writers[i].Fd = socket(AF_INET, SOCK_STREAM, 0);
        Writers[i].Index = i;
        Writers[i].Sent = 0;
        memset(&To, 0, sizeof(To));
        To.sin_family = AF_INET;
        To.sin_port = htons(Port);
        To.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        REQUIRE(connect(Writers[i].Fd, (struct sockaddr *)&To, sizeof(To)) == 0);
    }
    /* Every connection accepted before any data flows: an accept that finds the budget spent
     * is refused by design (ACCEPTS_REFUSED), which is not what this test is about. */
    while (State.Count < CONC_CONNECTIONS && Idle < 20) {
        int Got;
        while (Outstanding < 2) {
            KsimDeviceIoControl(File, WSKB_IOCTL_READ_EVENTS, NULL, 0, WSKB_READ_EVENTS_MIN_OUTPUT, ReadDone, NULL);
            Outstanding++;
        }
        Got = ConcNext(File, &State, 500);
        if (Got < 0) {
            Idle++;
            continue;
        }
        Outstanding--;
    }
    REQUIRE(State.Count == CONC_CONNECTIONS);
    Idle = 0;
    for (i = 0; i < CONC_CONNECTIONS; ++i)
        pthread_create(&Threads[i], NULL, ConcWriterThread, &Writers[i]);

    /* Two reads always outstanding, as the addon's pump keeps them. */
    while (!Done && Idle < 20) {
        int Got, All = State.Count == CONC_CONNECTIONS;
        while (Outstanding < 2) {
            KsimDeviceIoControl(File, WSKB_IOCTL_READ_EVENTS, NULL, 0, WSKB_READ_EVENTS_MIN_OUTPUT, ReadDone, NULL);
            Outstanding++;
        }
        Got = ConcNext(File, &State, 500);
        if (Got < 0) {
            Idle++;
            continue;
        }
        Outstanding--;
        Idle = Got ? 0 : Idle + 1;
        for (i = 0; i < State.Count; ++i)
            All = All && State.Sockets[i].Disconnected;
        Done = All;
    }
    KsimCancelIo(File);
    while (Outstanding > 0 && ConcNext(File, &State, 5000) >= 0)
        Outstanding--;
    CHECK(Outstanding == 0);

    for (i = 0; i < CONC_CONNECTIONS; ++i) {
        pthread_join(Threads[i], NULL);
        close(Writers[i].Fd);
        CHECK(Writers[i].Sent == CONC_BYTES);
    }
    CHECK(State.Count == CONC_CONNECTIONS);
    CHECK(State.Unknown == 0);
    for (i = 0; i < State.Count; ++i) {
        CHECK(State.Sockets[i].Received == CONC_BYTES);
        CHECK(State.Sockets[i].Mismatches == 0);
        CHECK(State.Sockets[i].Index >= 0 && State.Sockets[i].Index < CONC_CONNECTIONS);
        CHECK(State.Sockets[i].Disconnected == 1);
        CloseSocket(File, State.Sockets[i].Id);
    }
    CloseSocket(File, State.Listener);
    while (ReadEvents(File, 300, ConcVisit, &State) > 0)
        ;
    for (i = 0; i < State.Count; ++i)
        CHECK(State.Sockets[i].Closed == 1);
    CHECK(State.Paused >= 1 && State.Resumed == State.Paused);
    {
        /* With two reads outstanding, data that found the queue empty went straight into a
         * waiting read; the sequence checks above held across both paths. */
        WSKB_STATS_OUT Stats;
        GetStats(File, &Stats);
        CHECK(Stats.EventsWrittenDirect > 0);
        CHECK(Stats.EventsWrittenDirect < Stats.EventsDelivered);
        printf("concurrent: %llu of %llu events written directly\n", (unsigned long long)Stats.EventsWrittenDirect,
               (unsigned long long)Stats.EventsDelivered);
    }
    printf("concurrent: %d connections x %u bytes in order, %d pauses, two reads outstanding\n", State.Count,
           CONC_BYTES, State.Paused);
}

/* ---- 2. UDP ---- */

#define UDP_DATAGRAMS 3000u
#define UDP_BYTES 1000u

typedef struct {
    uint64_t Socket;
    uint16_t ClientPort;
    uint64_t Received, Dropped;
    int BadPayload, BadAddress, Closed, Other;
} UDP_STATE;

static void
UdpVisit(const WSKB_EVENT_HEADER *Header, void *Context)
{
    UDP_STATE *State = Context;
    const uint8_t *Body = (const uint8_t *)(Header + 1);

    switch (Header->Type) {
    case WSKB_EVENT_RECEIVE_FROM: {
        const WSKB_SOCKADDR *From = (const WSKB_SOCKADDR *)Body;
        uint32_t i, Index;
        CHECK(Header->SocketId == State->Socket);
        CHECK(Header->DataLength == UDP_BYTES);
        State->BadAddress += From->Family != 2 || From->Port != State->ClientPort || From->Address[0] != 127;
        memcpy(&Index, Body + sizeof(WSKB_SOCKADDR), sizeof(Index));
        for (i = sizeof(Index); i < Header->DataLength; ++i)
            State->BadPayload += Body[sizeof(WSKB_SOCKADDR) + i] != (uint8_t)(Index + i);
        State->Received++;
        break;
    }
    case WSKB_EVENT_DATAGRAMS_DROPPED:
        CHECK(Header->SocketId == State->Socket);
        CHECK(Header->Param > 0);
        State->Dropped += Header->Param;
        break;
    case WSKB_EVENT_SOCKET_CLOSED:
        CHECK(Header->SocketId == State->Socket);
        State->Closed++;
        break;
    default:
        fprintf(stderr, "unexpected UDP event type %u\n", Header->Type);
        State->Other++;
    }
}

static void
TestUdp(KSIM_FILE *File)
{
    UDP_STATE State;
    struct sockaddr_in Me;
    socklen_t MeLength = sizeof(Me);
    uint8_t Datagram[UDP_BYTES];
    uint32_t n, i;
    int Fd;
    WSKB_STATS_OUT Before, After;

    memset(&State, 0, sizeof(State));
    GetStats(File, &Before);
    State.Socket = SocketCreate(File, 2, 17, WSK_FLAG_DATAGRAM_SOCKET);
    uint16_t Port = BindLoopback(File, State.Socket);
    EnableEvents(File, State.Socket, WSK_EVENT_RECEIVE_FROM);

    Fd = HostConnectSocket(SOCK_DGRAM, Port);
    REQUIRE(getsockname(Fd, (struct sockaddr *)&Me, &MeLength) == 0);
    State.ClientPort = ntohs(Me.sin_port);
    for (n = 0; n < UDP_DATAGRAMS; ++n) {
        memcpy(Datagram, &n, sizeof(n));
        for (i = sizeof(n); i < UDP_BYTES; ++i)
            Datagram[i] = (uint8_t)(n + i);
        CHECK(send(Fd, Datagram, sizeof(Datagram), 0) == (ssize_t)sizeof(Datagram));
        if (n % 64 == 0)
            usleep(1000); /* let the host socket buffer drain into WSK, so drops are the budget's */
    }
    usleep(300 * 1000);
    while (ReadEvents(File, 500, UdpVisit, &State) > 0)
        ;
    close(Fd);
    CloseSocket(File, State.Socket);
    while (State.Closed == 0 && ReadEvents(File, 2000, UdpVisit, &State) > 0)
        ;

    GetStats(File, &After);
    CHECK(State.Closed == 1);
    CHECK(State.Other == 0);
    CHECK(State.BadAddress == 0);
    CHECK(State.BadPayload == 0);
    /* Every refusal was reported, by the socket's own DATAGRAMS_DROPPED events. */
    CHECK(After.DatagramsDropped - Before.DatagramsDropped == State.Dropped);
    /* 3 MB against a 64 KiB budget with nobody reading: the budget must have refused some. */
    CHECK(State.Dropped > 0);
    CHECK(State.Received > 0);
    CHECK(State.Received + State.Dropped <= UDP_DATAGRAMS);
    printf("udp: %llu received, %llu dropped and reported, of %u sent\n", (unsigned long long)State.Received,
           (unsigned long long)State.Dropped, UDP_DATAGRAMS);
}

/* ---- 2a. SOCKET_FLOW: a held datagram socket's datagrams are counted dropped for it alone ---- */

typedef struct {
    uint64_t Socket;
    uint64_t Received, Dropped;
    uint64_t DroppedAtResume; /* reported before SOCKET_RESUMED */
    int Paused, Resumed, Closed, Other;
} FLOW_STATE;

static void
FlowVisit(const WSKB_EVENT_HEADER *Header, void *Context)
{
    FLOW_STATE *State = Context;

    CHECK(Header->SocketId == State->Socket);
    switch (Header->Type) {
    case WSKB_EVENT_RECEIVE_FROM:
        State->Received++;
        break;
    case WSKB_EVENT_DATAGRAMS_DROPPED:
        State->Dropped += Header->Param;
        break;
    case WSKB_EVENT_SOCKET_PAUSED:
        State->Paused++;
        break;
    case WSKB_EVENT_SOCKET_RESUMED:
        State->Resumed++;
        State->DroppedAtResume = State->Dropped;
        break;
    case WSKB_EVENT_SOCKET_CLOSED:
        State->Closed++;
        break;
    default:
        State->Other++;
    }
}

static int32_t
SocketFlow(KSIM_FILE *File, uint64_t Id, uint32_t Pause)
{
    WSKB_SOCKET_FLOW_IN In = {.SocketId = Id, .Pause = Pause, .Reserved = 0};
    return Ioctl(File, WSKB_IOCTL_SOCKET_FLOW, &In, sizeof(In), NULL, 0, NULL);
}

static void
TestSocketFlow(KSIM_FILE *File)
{
    FLOW_STATE State;
    uint8_t Datagram[64];
    int n, Fd;

    WSKB_STATS_OUT Start;
    uint64_t DroppedBefore;

    memset(&State, 0, sizeof(State));
    memset(Datagram, 0x5a, sizeof(Datagram));
    GetStats(File, &Start);
    DroppedBefore = Start.DatagramsDropped;
    State.Socket = SocketCreate(File, 2, 17, WSK_FLAG_DATAGRAM_SOCKET);
    uint16_t Port = BindLoopback(File, State.Socket);
    EnableEvents(File, State.Socket, WSK_EVENT_RECEIVE_FROM);
    Fd = HostConnectSocket(SOCK_DGRAM, Port);

    /* Held (twice: the second asks for the state it is in and queues nothing). */
    CHECK(SocketFlow(File, State.Socket, 1) == ST_SUCCESS);
    CHECK(SocketFlow(File, State.Socket, 1) == ST_SUCCESS);
    CHECK(SocketFlow(File, State.Socket, 2) == ST_INVALID_PARAMETER);
    /* SOCKET_PAUSED is read first, so that nothing is left to deliver when the drops happen:
     * reports ride behind delivered records, and a held socket may have none. */
    for (n = 0; n < 40 && State.Paused == 0; ++n)
        (void)ReadEvents(File, 250, FlowVisit, &State);
    CHECK(State.Paused == 1);
    for (n = 0; n < 20; ++n)
        CHECK(send(Fd, Datagram, sizeof(Datagram), 0) == (ssize_t)sizeof(Datagram));
    /* Wait until the driver counted all 20 (bounded: a loaded machine may be slow to indicate). */
    for (n = 0; n < 100; ++n) {
        WSKB_STATS_OUT Stats;
        GetStats(File, &Stats);
        if (Stats.DatagramsDropped >= DroppedBefore + 20)
            break;
        usleep(50 * 1000);
    }
    while (ReadEvents(File, 200, FlowVisit, &State) > 0)
        ;
    CHECK(State.Paused == 1);
    CHECK(State.Received == 0);

    /* Let go: the count is reported (at the latest) ahead of SOCKET_RESUMED; datagrams are
     * queued again. */
    CHECK(SocketFlow(File, State.Socket, 0) == ST_SUCCESS);
    for (n = 0; n < 5; ++n)
        CHECK(send(Fd, Datagram, sizeof(Datagram), 0) == (ssize_t)sizeof(Datagram));
    for (n = 0; n < 40 && State.Received < 5; ++n)
        (void)ReadEvents(File, 250, FlowVisit, &State);
    CHECK(State.Resumed == 1);
    CHECK(State.Received == 5);
    if (State.Dropped != 20)
        fprintf(stderr, "socket flow: %llu dropped reported\n", (unsigned long long)State.Dropped);
    CHECK(State.Dropped == 20); /* every one counted and reported, for this socket */
    CHECK(State.DroppedAtResume == 20); /* and ahead of the release */

    close(Fd);
    CloseSocket(File, State.Socket);
    while (State.Closed == 0 && ReadEvents(File, 2000, FlowVisit, &State) > 0)
        ;
    CHECK(State.Closed == 1);
    CHECK(State.Other == 0);
    /* After close the id names nothing. */
    CHECK(SocketFlow(File, State.Socket, 1) != ST_SUCCESS);
    printf("socket flow: 20 dropped while held, 5 received after release\n");
}

/* ---- 2c. the direct write: an indication straight into a waiting READ_EVENTS ---- */

/* One 64-byte datagram sent while a READ_EVENTS waits, which must bring exactly one record;
 * the session's stats just before and after. */
static void
SendWhileReading(KSIM_FILE *File, int Fd, FLOW_STATE *State, WSKB_STATS_OUT *Before, WSKB_STATS_OUT *After)
{
    uint8_t Datagram[64];
    CALL *Read;

    memset(Datagram, 0xd1, sizeof(Datagram));
    GetStats(File, Before);
    Read = ReadEventsStart(File);
    CHECK(send(Fd, Datagram, sizeof(Datagram), 0) == (ssize_t)sizeof(Datagram));
    CHECK(ReadEventsFinish(File, Read, 5000, FlowVisit, State) == 1);
    GetStats(File, After);
}

static void
TestDirectWrite(KSIM_FILE *File)
{
    FLOW_STATE State;
    WSKB_STATS_OUT Before, After;
    uint8_t Datagram[64];
    CALL *Read;
    int n, Fd;

    memset(&State, 0, sizeof(State));
    memset(Datagram, 0xd1, sizeof(Datagram));
    State.Socket = SocketCreate(File, 2, 17, WSK_FLAG_DATAGRAM_SOCKET);
    uint16_t Port = BindLoopback(File, State.Socket);
    EnableEvents(File, State.Socket, WSK_EVENT_RECEIVE_FROM);
    Fd = HostConnectSocket(SOCK_DGRAM, Port);

    /* A reader waits and nothing is queued: the datagram is written into its buffer by the
     * callback, never held in the driver's queue. */
    SendWhileReading(File, Fd, &State, &Before, &After);
    CHECK(Before.EventBytesQueued == 0);
    CHECK(State.Received == 1);
    CHECK(After.EventsWrittenDirect == Before.EventsWrittenDirect + 1);
    CHECK(After.EventsDelivered == Before.EventsDelivered + 1);
    CHECK(After.EventsQueued == After.EventsDelivered);
    CHECK(After.ReadEventsCompleted == Before.ReadEventsCompleted + 1);
    CHECK(After.EventBytesHighWater == Before.EventBytesHighWater); /* nothing was held */

    /* Held back with a reader waiting: the callback takes the reader's request, may not write
     * into it, and gives it back (WdfRequestRequeue). The request is neither completed empty
     * nor lost: it waits, and carries the drop count and SOCKET_RESUMED on release. */
    CHECK(SocketFlow(File, State.Socket, 1) == ST_SUCCESS);
    for (n = 0; n < 40 && State.Paused == 0; ++n)
        (void)ReadEvents(File, 250, FlowVisit, &State);
    CHECK(State.Paused == 1);
    GetStats(File, &Before);
    Read = ReadEventsStart(File);
    for (n = 0; n < 3; ++n)
        CHECK(send(Fd, Datagram, sizeof(Datagram), 0) == (ssize_t)sizeof(Datagram));
    for (n = 0; n < 100; ++n) {
        GetStats(File, &After);
        if (After.DatagramsDropped >= Before.DatagramsDropped + 3)
            break;
        usleep(20 * 1000);
    }
    CHECK(After.DatagramsDropped == Before.DatagramsDropped + 3);
    CHECK(After.EventsWrittenDirect == Before.EventsWrittenDirect);
    CHECK(!CallWait(Read, 100)); /* still waiting, back in the queue */
    CHECK(SocketFlow(File, State.Socket, 0) == ST_SUCCESS);
    CHECK(ReadEventsFinish(File, Read, 5000, FlowVisit, &State) >= 1);
    for (n = 0; n < 20 && State.Resumed == 0; ++n)
        (void)ReadEvents(File, 250, FlowVisit, &State);
    CHECK(State.Resumed == 1);
    CHECK(State.Dropped == 3 && State.DroppedAtResume == 3);
    CHECK(State.Received == 1);

    /* Released, with a reader waiting again: direct once more. */
    SendWhileReading(File, Fd, &State, &Before, &After);
    CHECK(State.Received == 2);
    CHECK(After.EventsWrittenDirect == Before.EventsWrittenDirect + 1);

    close(Fd);
    CloseSocket(File, State.Socket);
    while (State.Closed == 0 && ReadEvents(File, 2000, FlowVisit, &State) > 0)
        ;
    CHECK(State.Closed == 1);
    CHECK(State.Other == 0);
    printf("direct write: a datagram straight into a waiting READ_EVENTS; held: the request requeued, not lost\n");
}

/* ---- 2b. conditional accept: INSPECT pends, INSPECT_COMPLETE decides ---- */

typedef struct {
    uint64_t Listener;
    uint16_t Port;
    uint64_t Tokens[4];
    uint32_t Serials[4];
    int Inspects, Accepts, Aborts, Refused, Other;
    uint64_t AcceptedIds[4];
} INSPECT_STATE;

static void
InspectVisit(const WSKB_EVENT_HEADER *Header, void *Context)
{
    INSPECT_STATE *State = Context;

    switch (Header->Type) {
    case WSKB_EVENT_INSPECT: {
        const WSKB_INSPECT_BODY *Body = (const WSKB_INSPECT_BODY *)(Header + 1);
        CHECK(Header->SocketId == State->Listener);
        CHECK(Header->Size == sizeof(WSKB_EVENT_HEADER) + sizeof(WSKB_INSPECT_BODY));
        CHECK(Header->Param != 0);
        CHECK(Body->LocalAddress.Port == State->Port);
        CHECK(Body->RemoteAddress.Family == 2 && Body->RemoteAddress.Port != 0);
        /* ksim's WSK_INSPECT_ID.Key is a kernel address: it must not be here. */
        CHECK(Body->Reserved0 == 0 && Body->Reserved == 0);
        if (State->Inspects < 4) {
            State->Tokens[State->Inspects] = Header->Param;
            State->Serials[State->Inspects] = Body->InspectSerialNumber;
        }
        State->Inspects++;
        break;
    }
    case WSKB_EVENT_ACCEPT:
        CHECK(Header->SocketId == State->Listener);
        CHECK(Header->Param != 0);
        if (State->Accepts < 4)
            State->AcceptedIds[State->Accepts] = Header->Param;
        State->Accepts++;
        break;
    case WSKB_EVENT_ABORT:
        CHECK(((const WSKB_INSPECT_BODY *)(Header + 1))->Reserved0 == 0);
        State->Aborts++;
        break;
    case WSKB_EVENT_ACCEPTS_REFUSED:
        State->Refused += (int)Header->Param;
        break;
    case WSKB_EVENT_SOCKET_CLOSED:
        break;
    default:
        fprintf(stderr, "unexpected inspect-test event type %u\n", Header->Type);
        State->Other++;
    }
}

static void
TestInspect(KSIM_FILE *File)
{
    INSPECT_STATE State;
    WSKB_INSPECT_COMPLETE_IN In;
    int Fd1, Fd2, Waited;
    int i;

    memset(&State, 0, sizeof(State));
    State.Listener = SocketCreate(File, 1, 6, WSK_FLAG_LISTEN_SOCKET);
    /* Before bind, with an IRP (wsk-facts 3.4). */
    CHECK(SetOptionU32(File, State.Listener, SO_CONDITIONAL_ACCEPT, 1, 1) == ST_SUCCESS);
    State.Port = BindLoopback(File, State.Listener);
    EnableEvents(File, State.Listener, WSK_EVENT_ACCEPT);

    Fd1 = HostConnect(State.Port);
    Fd2 = HostConnect(State.Port);
    for (Waited = 0; State.Inspects < 2 && Waited < 20; ++Waited)
        ReadEvents(File, 250, InspectVisit, &State);
    REQUIRE(State.Inspects == 2);
    CHECK(State.Tokens[0] != State.Tokens[1]);
    CHECK(State.Accepts == 0);

    /* Accept the first: WSK completes the inspection, then the connection is accepted. */
    memset(&In, 0, sizeof(In));
    In.SocketId = State.Listener;
    In.InspectToken = State.Tokens[0];
    In.Action = WSK_INSPECT_ACCEPT;
    CHECK(Ioctl(File, WSKB_IOCTL_INSPECT_COMPLETE, &In, sizeof(In), NULL, 0, NULL) == ST_SUCCESS);
    /* The same token again: already completed, the driver's own check refuses it. */
    CHECK(Ioctl(File, WSKB_IOCTL_INSPECT_COMPLETE, &In, sizeof(In), NULL, 0, NULL) == ST_INVALID_PARAMETER);
    /* Reject the second. */
    In.InspectToken = State.Tokens[1];
    In.Action = WSK_INSPECT_REJECT;
    CHECK(Ioctl(File, WSKB_IOCTL_INSPECT_COMPLETE, &In, sizeof(In), NULL, 0, NULL) == ST_SUCCESS);

    for (Waited = 0; State.Accepts < 1 && Waited < 20; ++Waited)
        ReadEvents(File, 250, InspectVisit, &State);
    CHECK(State.Accepts == 1);
    /* Nothing more: no accept and no abort for the rejected one. */
    while (ReadEvents(File, 300, InspectVisit, &State) > 0)
        ;
    CHECK(State.Accepts == 1);
    CHECK(State.Aborts == 0);
    CHECK(State.Refused == 0);
    CHECK(State.Other == 0);

    close(Fd1);
    close(Fd2);
    for (i = 0; i < State.Accepts && i < 4; ++i)
        CloseSocket(File, State.AcceptedIds[i]);
    CloseSocket(File, State.Listener);
    while (ReadEvents(File, 300, InspectVisit, &State) > 0)
        ;
    printf("inspect: 2 pended, 1 accepted through INSPECT_COMPLETE, 1 rejected\n");
}

/* ---- 3. cancel and the driver's own checks ---- */

static void
NoEvents(const WSKB_EVENT_HEADER *Header, void *Context)
{
    (void)Context;
    fprintf(stderr, "unexpected event type %u\n", Header->Type);
    CHECK(0);
}

static void
TestCancelAndChecks(KSIM_FILE *File)
{
    CALL *Call;
    WSKB_INSPECT_COMPLETE_IN In;
    uint64_t Listener;

    /* Too small to hold the largest record. */
    Call = CallStart(File, WSKB_IOCTL_READ_EVENTS, NULL, 0, WSKB_READ_EVENTS_MIN_OUTPUT - 8);
    REQUIRE(CallWait(Call, 5000));
    CHECK(Call->Status == ST_BUFFER_TOO_SMALL);
    CallFree(Call);

    /* Pends while there is nothing to read; CancelIoEx completes it with STATUS_CANCELLED. */
    Call = CallStart(File, WSKB_IOCTL_READ_EVENTS, NULL, 0, WSKB_READ_EVENTS_MIN_OUTPUT);
    CHECK(!CallWait(Call, 200));
    KsimCancelIo(File);
    REQUIRE(CallWait(Call, 5000));
    CHECK(Call->Status == ST_CANCELLED);
    CHECK(Call->OutputLength == 0);
    CallFree(Call);

    Listener = SocketCreate(File, 1, 6, WSK_FLAG_LISTEN_SOCKET);
    memset(&In, 0, sizeof(In));
    In.SocketId = Listener;
    In.InspectToken = 12345;
    In.Action = 1;
    CHECK(Ioctl(File, WSKB_IOCTL_INSPECT_COMPLETE, &In, sizeof(In), NULL, 0, NULL) == ST_INVALID_PARAMETER);
    In.InspectToken = 0;
    CHECK(Ioctl(File, WSKB_IOCTL_INSPECT_COMPLETE, &In, sizeof(In), NULL, 0, NULL) == ST_INVALID_PARAMETER);
    CloseSocket(File, Listener);
    /* Its SOCKET_CLOSED */
    {
        UDP_STATE Ignore;
        memset(&Ignore, 0, sizeof(Ignore));
        Ignore.Socket = Listener;
        CHECK(ReadEvents(File, 2000, UdpVisit, &Ignore) == 1);
        CHECK(Ignore.Closed == 1);
    }
    CHECK(ReadEvents(File, 200, NoEvents, NULL) == 0);
}

int
main(void)
{
    KSIM_FILE *File = NULL;
    WSKB_HELLO_IN Hello = {.Magic = WSKB_MAGIC, .ClientVersion = WSKB_PROTOCOL_VERSION,
                           .EventBudgetBytes = WSKB_EVENT_BUDGET_MIN};
    WSKB_HELLO_OUT HelloOut;
    KSIM_COUNTERS Counters;
    char Message[512];

    REQUIRE(KsimDriverLoad() == ST_SUCCESS);
    REQUIRE(KsimOpen(L"\\\\.\\WskBridge", &File) == ST_SUCCESS);
    REQUIRE(Ioctl(File, WSKB_IOCTL_HELLO, &Hello, sizeof(Hello), &HelloOut, sizeof(HelloOut), NULL) == ST_SUCCESS);
    CHECK(HelloOut.EventBudgetBytes == WSKB_EVENT_BUDGET_MIN);

    TestCancelAndChecks(File);
    TestTcp(File);
    TestConcurrent(File);
    TestUdp(File);
    TestSocketFlow(File);
    TestDirectWrite(File);
    TestInspect(File);

    KsimClose(File);
    KsimDriverUnload();
    KsimGetCounters(&Counters);
    CHECK(Counters.PoolAllocations == 0);
    CHECK(Counters.Irps == 0);
    CHECK(Counters.Mdls == 0);
    CHECK(Counters.WskSockets == 0);
    if (KsimVerifierLastFailure(Message, sizeof(Message)))
        fprintf(stderr, "verifier: %s\n", Message);
    CHECK(Counters.VerifierFailures == 0);
    printf("events_flow_test: %d checks, %d failures\n", Checks, Failures);
    return Failures ? 1 : 0;
}

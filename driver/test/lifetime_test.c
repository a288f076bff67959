/* SPDX-License-Identifier: MIT
 *
 * Lifetime races of the driver on ksim (issue 8): a handle closed, a socket closed or a
 * request cancelled while another thread is at a precise point inside the driver, each point
 * held open with ksim's test hook (ksim.h, KsimSetTestHook) so that the interleaving happens
 * on every run instead of once in a million:
 *
 *   operation-free   an IOCTL fails an allocation after its operation was set up while the
 *                    handle closes (finding 2: the operation was already on the session's list,
 *                    the cleanup sweep pinned it and cancelled its IRP after it was freed);
 *                    every allocation of SEND, RECEIVE and GET_OPTION, and of the other IOCTL
 *                    kinds, fails in turn while the close runs, also with CancelIoEx;
 *   inspect-leak     INSPECT_COMPLETE fails IoAllocateIrp while the listener closes (finding
 *                    11: the pending inspection went back on the closed socket's list, leaked);
 *   accept-close     a CLOSE, or the cleanup sweep of CloseHandle, while WSK is still inside
 *                    WskAcceptEvent for the socket (finding 9: the ACCEPT record was delivered
 *                    inside the upcall and WskCloseSocket could run before it returned; ksim
 *                    reports that as a verifier failure);
 *   inspect-prompt   INSPECT_COMPLETE, Accept or Reject, while WSK is still inside the
 *                    WskInspectEvent that delivered the INSPECT record (the driver called
 *                    WskInspectComplete for an inspection WSK did not yet know was pended; ksim
 *                    reports that as a verifier failure and refuses it): the decision is taken
 *                    by the callback's own return, the connection is accepted or refused;
 *   callbacks        the handle closes inside WskAcceptEvent and WskInspectEvent while one of
 *                    their allocations fails, and inside WskReceiveEvent;
 *   close-context    CLOSE's IoSetCompletionRoutineEx fails (finding 6: the driver now uses the
 *                    Ex routine, which allocates): the close waits, retries and completes;
 *   rearm-context    the flow re-arm's IoSetCompletionRoutineEx fails: the socket stays paused
 *                    and the next drain resumes it, no byte lost;
 *   deferred-unload  the driver unloaded while a handle is open: as on Windows, the unload waits
 *                    for the handle's close (the driver is marked for unload; new opens fail).
 *
 * Every scenario runs many times and ends with the verifier's count unchanged and nothing
 * left outstanding. Bounded: each hook waits at most a fraction of a second.
 *
 * This file is user-mode code: host headers and ksim.h, never the simulated kernel headers.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ksim.h"
#include "protocol.h"

/* WSK and NTSTATUS values (wsk-facts §1), spelled out: the kernel headers are not included. */
#define WSK_FLAG_LISTEN_SOCKET 0x1u
#define WSK_FLAG_CONNECTION_SOCKET 0x2u
#define WSK_EVENT_ACCEPT 0x200u
#define WSK_EVENT_RECEIVE 0x40u
#define SO_WSK_EVENT_CALLBACK 0x4002u
#define SO_CONDITIONAL_ACCEPT 0x3002u
#define W_SO_RCVBUF 0x1002u
#define SOL_SOCKET_WSK 0xffffu
#define WSK_SET_OPTION 0u
#define WSK_GET_OPTION 1u
#define WSK_INSPECT_REJECT 0u
#define WSK_INSPECT_ACCEPT 1u
#define ST_SUCCESS 0
#define ST_INSUFFICIENT_RESOURCES ((int32_t)0xC000009Au)
#define ST_OBJECT_NAME_NOT_FOUND ((int32_t)0xC0000034u)
#define ST_DELETE_PENDING ((int32_t)0xC0000056u)
#define TAG_INSPECT 0x69426B57u /* 'iBkW' as the driver writes it (driver.h WSKB_TAG_INSPECT) */
#define DEVICE_PATH L"\\\\.\\WskBridge"

#include "ksim_call.h"
#include "bridge_test.h"

static uint64_t
VerifierFailures(void)
{
    KSIM_COUNTERS Counters;

    KsimGetCounters(&Counters);
    return Counters.VerifierFailures;
}

/* The verifier's count did not move during a scenario; prints the last failure if it did. */
static void
CheckVerifierSince(uint64_t Before, const char *Scenario)
{
    char Message[1024];
    uint64_t Now = VerifierFailures();

    if (Now != Before) {
        KsimVerifierLastFailure(Message, sizeof(Message));
        fprintf(stderr, "%s: %llu verifier failure(s), last: %s\n", Scenario, (unsigned long long)(Now - Before),
                Message);
    }
    CHECK(Now == Before);
}

/* ---- sessions and sockets ---- */

static KSIM_FILE *
OpenSession(void)
{
    KSIM_FILE *File = NULL;
    WSKB_HELLO_IN Hello = {.Magic = WSKB_MAGIC, .ClientVersion = WSKB_PROTOCOL_VERSION};
    WSKB_HELLO_OUT Out;

    REQUIRE(KsimOpen(DEVICE_PATH, &File) == ST_SUCCESS);
    REQUIRE(Ioctl(File, WSKB_IOCTL_HELLO, &Hello, sizeof(Hello), &Out, sizeof(Out), NULL) == ST_SUCCESS);
    return File;
}

static WSKB_ADDRESS_IN
LoopbackIn(uint64_t Id, uint16_t Port)
{
    WSKB_ADDRESS_IN In;

    memset(&In, 0, sizeof(In));
    In.SocketId = Id;
    In.Address.Family = 2;
    In.Address.Port = Port;
    In.Address.Address[0] = 127;
    In.Address.Address[3] = 1;
    return In;
}

/* Walks the records of one READ_EVENTS output; returns the Param of the first of Type on
 * SocketId (0 if none). */
static uint64_t
FindEvent(const uint8_t *Output, uint32_t Length, uint32_t Type, uint64_t SocketId)
{
    uint32_t Offset = 0;

    while (Offset + sizeof(WSKB_EVENT_HEADER) <= Length) {
        const WSKB_EVENT_HEADER *Header = (const WSKB_EVENT_HEADER *)(Output + Offset);
        if (Header->Size < sizeof(WSKB_EVENT_HEADER) || Offset + Header->Size > Length)
            break;
        if (Header->Type == Type && Header->SocketId == SocketId)
            return Header->Param;
        Offset += Header->Size;
    }
    return 0;
}

/* Reads events until one of Type on SocketId arrives (5 s bound); returns its Param. */
static uint64_t
WaitEvent(KSIM_FILE *File, uint32_t Type, uint64_t SocketId)
{
    int Round;

    for (Round = 0; Round < 50; ++Round) {
        CALL *Call = CallStart(File, WSKB_IOCTL_READ_EVENTS, NULL, 0, WSKB_READ_EVENTS_MIN_OUTPUT);
        uint64_t Param = 0;
        if (!CallWait(Call, 100)) {
            KsimCancelIo(File);
            REQUIRE(CallWait(Call, 10000));
        }
        if (Call->Status == ST_SUCCESS)
            Param = FindEvent(Call->Output, Call->OutputLength, Type, SocketId);
        CallFree(Call);
        if (Param)
            return Param;
    }
    return 0;
}

/* ---- a thread that plays another user-mode thread of the same process ---- */

typedef enum { ActCloseHandle, ActCancelIo, ActCloseSocket, ActInspectComplete } ACTION;

typedef struct {
    pthread_t Thread;
    KSIM_FILE *File;
    ACTION Action;
    uint64_t SocketId;
    WSKB_INSPECT_COMPLETE_IN Inspect; /* ActInspectComplete */
    int32_t Status;
    LATCH Done;
} ACTOR;

static void *
ActorMain(void *Context)
{
    ACTOR *Actor = Context;
    WSKB_SOCKET_ID In = {.SocketId = Actor->SocketId};

    switch (Actor->Action) {
    case ActInspectComplete:
        Actor->Status = Ioctl(Actor->File, WSKB_IOCTL_INSPECT_COMPLETE, &Actor->Inspect, sizeof(Actor->Inspect),
                              NULL, 0, NULL);
        break;
    case ActCloseHandle:
        KsimClose(Actor->File);
        break;
    case ActCancelIo:
        KsimCancelIo(Actor->File);
        break;
    case ActCloseSocket:
        Actor->Status = Ioctl(Actor->File, WSKB_IOCTL_CLOSE, &In, sizeof(In), NULL, 0, NULL);
        break;
    }
    LatchSet(&Actor->Done);
    return NULL;
}

static void
ActorStart(ACTOR *Actor, KSIM_FILE *File, ACTION Action, uint64_t SocketId)
{
    Actor->File = File;
    Actor->Action = Action;
    Actor->SocketId = SocketId;
    Actor->Status = -1;
    LatchInit(&Actor->Done);
    REQUIRE(pthread_create(&Actor->Thread, NULL, ActorMain, Actor) == 0);
}

static void
ActorJoin(ACTOR *Actor)
{
    pthread_join(Actor->Thread, NULL);
    LatchDestroy(&Actor->Done);
}

/* ---- 1. an allocation fails while the handle closes (finding 2) ---- */

/* The IOCTL's thread reaches an injected allocation failure: another thread closes the handle
 * (or cancels its I/O) now, and this thread waits until that thread's cleanup sweep is inside
 * IoCancelIrp on an operation, or a short while if the sweep finds none. The sweep's thread
 * then waits in IoCancelIrp until the IOCTL has completed: if the operation it pinned was
 * freed meanwhile, IoCancelIrp finds the IRP freed (a verifier failure) and the release that
 * follows touches freed pool. */
typedef struct {
    pthread_t IoctlThread;
    KSIM_FILE *File;
    ACTION Action;
    ACTOR Actor;
    int Started;
    LATCH SweepInCancel;
    CALL *Call;
    int Faults;
} FREE_RACE;

static void
FreeRaceHook(void *Context, KSIM_HOOK_POINT Point, const void *Object)
{
    FREE_RACE *Race = Context;

    (void)Object;
    if (Point == KsimHookAllocationFails && pthread_equal(pthread_self(), Race->IoctlThread) && !Race->Started) {
        Race->Faults++;
        Race->Started = 1;
        ActorStart(&Race->Actor, Race->File, Race->Action, 0);
        (void)LatchWait(&Race->SweepInCancel, 100);
    } else if (Point == KsimHookCancelIrp && Race->Started && !pthread_equal(pthread_self(), Race->IoctlThread)) {
        LatchSet(&Race->SweepInCancel);
        /* The call is created before the IOCTL starts, so it is there to wait on. */
        (void)CallWait(Race->Call, 300);
    }
}

typedef struct {
    const char *Name;
    uint32_t Code;
    uint8_t Input[64 + 256];
    uint32_t InputLength;
    uint32_t OutputLength;
} IOCTL_CASE;

/* The request of each IOCTL kind that allocates after its operation (an MDL, a pool buffer)
 * or before it (socket, IRP), on an unconnected TCP socket Id. */
static int
BuildCases(IOCTL_CASE *Cases, uint64_t Id)
{
    int Count = 0;
    WSKB_DATA_IN Data = {.SocketId = Id, .Flags = 0, .Length = 256};
    WSKB_CONTROL_SOCKET_IN Get = {.SocketId = Id, .RequestType = WSK_GET_OPTION, .ControlCode = W_SO_RCVBUF,
                                  .Level = SOL_SOCKET_WSK, .OutputLength = sizeof(uint32_t)};
    WSKB_SOCKET_CREATE_IN Create = {.Family = 2, .SocketType = 1, .Protocol = 6, .WskFlags = WSK_FLAG_CONNECTION_SOCKET};
    WSKB_GET_ADDRESS_IN Address = {.SocketId = Id, .Which = WSKB_ADDRESS_LOCAL};
    WSKB_ADDRESS_IN Bind = LoopbackIn(Id, 0);

    memset(Cases, 0, sizeof(*Cases) * 6);
    Cases[Count].Name = "SEND";
    Cases[Count].Code = WSKB_IOCTL_SEND;
    memcpy(Cases[Count].Input, &Data, sizeof(Data));
    Cases[Count].InputLength = sizeof(Data) + 256;
    Cases[Count++].OutputLength = sizeof(WSKB_TRANSFER_OUT);
    Cases[Count].Name = "RECEIVE";
    Cases[Count].Code = WSKB_IOCTL_RECEIVE;
    memcpy(Cases[Count].Input, &Data, sizeof(Data));
    Cases[Count].InputLength = sizeof(Data);
    Cases[Count++].OutputLength = 256;
    Cases[Count].Name = "CONTROL_SOCKET(get W_SO_RCVBUF)";
    Cases[Count].Code = WSKB_IOCTL_CONTROL_SOCKET;
    memcpy(Cases[Count].Input, &Get, sizeof(Get));
    Cases[Count].InputLength = sizeof(Get);
    Cases[Count++].OutputLength = sizeof(WSKB_CONTROL_OUT) + sizeof(uint32_t);
    Cases[Count].Name = "SOCKET_CREATE";
    Cases[Count].Code = WSKB_IOCTL_SOCKET_CREATE;
    memcpy(Cases[Count].Input, &Create, sizeof(Create));
    Cases[Count].InputLength = sizeof(Create);
    Cases[Count++].OutputLength = sizeof(WSKB_SOCKET_ID);
    Cases[Count].Name = "GET_ADDRESS";
    Cases[Count].Code = WSKB_IOCTL_GET_ADDRESS;
    memcpy(Cases[Count].Input, &Address, sizeof(Address));
    Cases[Count].InputLength = sizeof(Address);
    Cases[Count++].OutputLength = sizeof(WSKB_SOCKADDR);
    Cases[Count].Name = "BIND";
    Cases[Count].Code = WSKB_IOCTL_BIND;
    memcpy(Cases[Count].Input, &Bind, sizeof(Bind));
    Cases[Count++].InputLength = sizeof(Bind);
    return Count;
}

static void
TestOperationFreeRace(void)
{
    IOCTL_CASE Cases[6];
    uint64_t Before = VerifierFailures();
    int CaseCount = 0, Case, Nth, Round, Runs = 0, Faults = 0;
    ACTION Actions[2] = {ActCloseHandle, ActCancelIo};

    for (Round = 0; Round < 2; ++Round) {
        for (Case = 0; Case < 6; ++Case) {
            for (Nth = 1; Nth <= 4; ++Nth) {
                FREE_RACE Race;
                KSIM_FILE *File = OpenSession();
                uint64_t Id = SocketCreate(File, 1, 6, WSK_FLAG_CONNECTION_SOCKET);

                CaseCount = BuildCases(Cases, Id);
                if (Case >= CaseCount)
                    break;
                memset(&Race, 0, sizeof(Race));
                Race.IoctlThread = pthread_self();
                Race.File = File;
                Race.Action = Actions[Round];
                LatchInit(&Race.SweepInCancel);
                KsimSetTestHook(FreeRaceHook, &Race);
                /* Only this IOCTL's dispatch (on this thread) may take the injected failure. */
                KsimFailAllocationAfter((uint64_t)Nth);
                Race.Call = calloc(1, sizeof(CALL));
                LatchInit(&Race.Call->Done);
                KsimDeviceIoControl(File, Cases[Case].Code, Cases[Case].Input, Cases[Case].InputLength,
                                    Cases[Case].OutputLength, CallDone, Race.Call);
                KsimFailAllocationAfter(0);
                if (Race.Started) {
                    /* The close (or cancel) runs on; the request completes either way. */
                    REQUIRE(CallWait(Race.Call, 10000));
                    ActorJoin(&Race.Actor);
                } else {
                    /* No allocation of this IOCTL was left to fail: a pending call (a receive
                     * on an unconnected socket completes at once, others may pend) ends with
                     * the handle. */
                    ActorStart(&Race.Actor, File, ActCloseHandle, 0);
                    ActorJoin(&Race.Actor);
                    REQUIRE(CallWait(Race.Call, 10000));
                }
                KsimSetTestHook(NULL, NULL);
                if (Race.Started && Race.Action == ActCancelIo)
                    KsimClose(File); /* a cancel leaves the handle open */
                Faults += Race.Faults;
                ++Runs;
                CallFree(Race.Call);
                LatchDestroy(&Race.SweepInCancel);
            }
        }
    }
    CheckVerifierSince(Before, "operation-free");
    CHECK(Faults > CaseCount);
    printf("operation-free: %d runs over %d IOCTL kinds, %d injected failures raced with a close or cancel\n", Runs,
           CaseCount, Faults);
}

/* ---- 2. INSPECT_COMPLETE fails IoAllocateIrp while the listener closes (finding 11) ---- */

typedef struct {
    pthread_t IoctlThread;
    KSIM_FILE *File;
    uint64_t Listener;
    ACTOR Actor;
    int Started;
} INSPECT_RACE;

/* At the IRP allocation of INSPECT_COMPLETE: the listener is closed from another thread, and
 * this thread goes on only once that CLOSE has completed (WSK closed the socket, the driver
 * dropped its pending inspections). */
static void
InspectRaceHook(void *Context, KSIM_HOOK_POINT Point, const void *Object)
{
    INSPECT_RACE *Race = Context;

    if (Point != KsimHookAllocationFails || !pthread_equal(pthread_self(), Race->IoctlThread) || Race->Started ||
        strcmp((const char *)Object, "IoAllocateIrp") != 0)
        return;
    Race->Started = 1;
    ActorStart(&Race->Actor, Race->File, ActCloseSocket, Race->Listener);
    (void)LatchWait(&Race->Actor.Done, 5000);
}

static void
TestInspectLeak(void)
{
    uint64_t Before = VerifierFailures();
    int Round, Raced = 0;

    for (Round = 0; Round < 8; ++Round) {
        INSPECT_RACE Race;
        KSIM_FILE *File = OpenSession();
        WSKB_INSPECT_COMPLETE_IN In;
        uint64_t Token;
        uint16_t Port;
        int32_t Status;
        int Fd;

        memset(&Race, 0, sizeof(Race));
        Race.IoctlThread = pthread_self();
        Race.File = File;
        Race.Listener = SocketCreate(File, 1, 6, WSK_FLAG_LISTEN_SOCKET);
        REQUIRE(SetOptionU32(File, Race.Listener, SO_CONDITIONAL_ACCEPT, 1, 1) == ST_SUCCESS);
        Port = BindLoopback(File, Race.Listener);
        REQUIRE(SetOptionU32(File, Race.Listener, SO_WSK_EVENT_CALLBACK, WSK_EVENT_ACCEPT, 0) == ST_SUCCESS);
        Fd = HostConnect(Port);
        Token = WaitEvent(File, WSKB_EVENT_INSPECT, Race.Listener);
        REQUIRE(Token != 0);

        memset(&In, 0, sizeof(In));
        In.SocketId = Race.Listener;
        In.InspectToken = Token;
        In.Action = WSK_INSPECT_ACCEPT;
        KsimSetTestHook(InspectRaceHook, &Race);
        /* The driver's first allocation on this path is the IRP; a few more in case. */
        KsimFailAllocationAfter(1);
        Status = Ioctl(File, WSKB_IOCTL_INSPECT_COMPLETE, &In, sizeof(In), NULL, 0, NULL);
        KsimFailAllocationAfter(0);
        KsimSetTestHook(NULL, NULL);
        if (Race.Started) {
            ++Raced;
            CHECK(Status == ST_INSUFFICIENT_RESOURCES);
            ActorJoin(&Race.Actor);
            CHECK(Race.Actor.Status == ST_SUCCESS);
        }
        KsimClose(File);
        close(Fd);
        /* Nothing of the inspection may outlive its session. */
        CHECK(KsimPoolOutstandingByTag(TAG_INSPECT) == 0);
    }
    CHECK(Raced == 8);
    CheckVerifierSince(Before, "inspect-leak");
    printf("inspect-leak: %d INSPECT_COMPLETE IRP allocations failed while the listener closed\n", Raced);
}

/* ---- 3. CLOSE or the cleanup sweep while WSK is inside WskAcceptEvent (finding 9) ---- */

/* A READ_EVENTS is pending when the connection arrives. If the driver delivers the ACCEPT
 * record inside WskAcceptEvent, its completion runs right there, on ksim's thread that is in
 * the upcall: the callback then has another thread close the new socket (or the handle) and
 * gives it time to reach WskCloseSocket before letting the upcall return. */
typedef struct {
    KSIM_FILE *File;
    uint64_t Listener;
    ACTION Action;
    ACTOR Actor;
    int Started;
    int AcceptSeen;
    LATCH Completed;
} ACCEPT_RACE;

static void
AcceptReadDone(void *Context, int32_t Status, uint64_t Information, const void *Output, uint32_t OutputLength)
{
    ACCEPT_RACE *Race = Context;
    uint64_t Accepted = 0;

    (void)Information;
    if (Status == ST_SUCCESS)
        Accepted = FindEvent(Output, OutputLength, WSKB_EVENT_ACCEPT, Race->Listener);
    if (Accepted) {
        Race->AcceptSeen = 1;
        Race->Started = 1;
        ActorStart(&Race->Actor, Race->File, Race->Action, Accepted);
        /* Long enough for the other thread to reach WskCloseSocket if nothing stops it. */
        (void)LatchWait(&Race->Actor.Done, 200);
    }
    LatchSet(&Race->Completed);
}

static void
TestAcceptCloseRace(void)
{
    uint64_t Before = VerifierFailures();
    int Round, Raced = 0;

    for (Round = 0; Round < 8; ++Round) {
        ACCEPT_RACE Race;
        KSIM_FILE *File = OpenSession();
        uint16_t Port;
        int Fd;

        memset(&Race, 0, sizeof(Race));
        Race.File = File;
        Race.Action = Round % 2 ? ActCloseHandle : ActCloseSocket;
        LatchInit(&Race.Completed);
        Race.Listener = SocketCreate(File, 1, 6, WSK_FLAG_LISTEN_SOCKET);
        Port = BindLoopback(File, Race.Listener);
        REQUIRE(SetOptionU32(File, Race.Listener, SO_WSK_EVENT_CALLBACK, WSK_EVENT_ACCEPT, 0) == ST_SUCCESS);
        KsimDeviceIoControl(File, WSKB_IOCTL_READ_EVENTS, NULL, 0, WSKB_READ_EVENTS_MIN_OUTPUT, AcceptReadDone, &Race);
        Fd = HostConnect(Port);
        if (!LatchWait(&Race.Completed, 2000)) {
            /* The record is delivered after the upcall: cancel the read to collect it. */
            KsimCancelIo(File);
            REQUIRE(LatchWait(&Race.Completed, 10000));
        }
        if (Race.Started) {
            ++Raced;
            ActorJoin(&Race.Actor);
            if (Race.Action == ActCloseSocket)
                CHECK(Race.Actor.Status == ST_SUCCESS);
        }
        if (!Race.Started || Race.Action != ActCloseHandle)
            KsimClose(File);
        close(Fd);
        LatchDestroy(&Race.Completed);
    }
    CheckVerifierSince(Before, "accept-close");
    printf("accept-close: %d of 8 ACCEPT records were completed inside WskAcceptEvent and raced with a close\n",
           Raced);
}

/* ---- 3b. INSPECT_COMPLETE while WSK is still inside WskInspectEvent ---- */

static void CheckNothingLeft(const char *Scenario);

/* A READ_EVENTS is pending when the connection arrives, so the driver completes it with the
 * INSPECT record inside WskInspectEvent, on ksim's thread that is in the upcall. There another
 * thread answers the inspection at once, as a prompt user mode does, and the upcall waits for
 * that answer (longer than ksim's 50 ms grace for a callback's epilogue) before it returns. A
 * driver that calls WskInspectComplete for it then calls it before WSK knows the inspection is
 * pended: ksim reports a verifier failure and fails the call, the INSPECT_COMPLETE fails, and
 * the connection is left undecided. */
typedef struct {
    pthread_t MainThread;
    KSIM_FILE *File;
    uint64_t Listener;
    uint32_t Action;
    ACTOR Actor;
    int Started;
    int InUpcall;
    LATCH Completed;
} PROMPT_RACE;

static void
PromptReadDone(void *Context, int32_t Status, uint64_t Information, const void *Output, uint32_t OutputLength)
{
    PROMPT_RACE *Race = Context;
    uint64_t Token = 0;

    (void)Information;
    if (Status == ST_SUCCESS)
        Token = FindEvent(Output, OutputLength, WSKB_EVENT_INSPECT, Race->Listener);
    if (Token) {
        Race->Started = 1;
        /* The request was pending, so only the driver's delivery inside the upcall completes
         * it on a thread other than the test's. */
        Race->InUpcall = !pthread_equal(pthread_self(), Race->MainThread);
        memset(&Race->Actor.Inspect, 0, sizeof(Race->Actor.Inspect));
        Race->Actor.Inspect.SocketId = Race->Listener;
        Race->Actor.Inspect.InspectToken = Token;
        Race->Actor.Inspect.Action = Race->Action;
        ActorStart(&Race->Actor, Race->File, ActInspectComplete, Race->Listener);
        (void)LatchWait(&Race->Actor.Done, 500);
    }
    LatchSet(&Race->Completed);
}

/* The host peer was refused: a reset or an end of stream within 5 s, never data. */
static int
HostRefused(int Fd)
{
    struct pollfd Poll = {Fd, POLLIN, 0};
    char Byte;
    ssize_t Read;

    if (poll(&Poll, 1, 5000) <= 0)
        return 0;
    Read = read(Fd, &Byte, 1);
    return Read == 0 || (Read < 0 && errno == ECONNRESET);
}

static void
TestInspectPromptComplete(void)
{
    uint64_t Before = VerifierFailures();
    int Round, InUpcall = 0, Accepted = 0, Refused = 0;

    for (Round = 0; Round < 8; ++Round) {
        PROMPT_RACE Race;
        uint16_t Port;
        int Fd;

        memset(&Race, 0, sizeof(Race));
        Race.MainThread = pthread_self();
        Race.File = OpenSession();
        Race.Action = Round % 2 ? WSK_INSPECT_REJECT : WSK_INSPECT_ACCEPT;
        LatchInit(&Race.Completed);
        Race.Listener = SocketCreate(Race.File, 1, 6, WSK_FLAG_LISTEN_SOCKET);
        REQUIRE(SetOptionU32(Race.File, Race.Listener, SO_CONDITIONAL_ACCEPT, 1, 1) == ST_SUCCESS);
        Port = BindLoopback(Race.File, Race.Listener);
        REQUIRE(SetOptionU32(Race.File, Race.Listener, SO_WSK_EVENT_CALLBACK, WSK_EVENT_ACCEPT, 0) == ST_SUCCESS);
        KsimDeviceIoControl(Race.File, WSKB_IOCTL_READ_EVENTS, NULL, 0, WSKB_READ_EVENTS_MIN_OUTPUT, PromptReadDone,
                            &Race);
        Fd = HostConnect(Port);
        if (!LatchWait(&Race.Completed, 2000)) {
            KsimCancelIo(Race.File);
            REQUIRE(LatchWait(&Race.Completed, 10000));
        }
        REQUIRE(Race.Started);
        ActorJoin(&Race.Actor);
        InUpcall += Race.InUpcall;
        /* The decision is the user's, taken whenever it arrives. */
        CHECK(Race.Actor.Status == ST_SUCCESS);
        if (Race.Action == WSK_INSPECT_ACCEPT) {
            uint64_t Id = WaitEvent(Race.File, WSKB_EVENT_ACCEPT, Race.Listener);
            CHECK(Id != 0);
            Accepted += Id != 0;
        } else {
            int Gone = HostRefused(Fd);
            CHECK(Gone);
            Refused += Gone;
        }
        KsimClose(Race.File);
        close(Fd);
        LatchDestroy(&Race.Completed);
        CHECK(KsimPoolOutstandingByTag(TAG_INSPECT) == 0);
        CheckNothingLeft("inspect-prompt");
    }
    /* Each INSPECT record was delivered inside the upcall: every round raced. */
    CHECK(InUpcall == 8);
    CheckVerifierSince(Before, "inspect-prompt");
    printf("inspect-prompt: %d of 8 INSPECT_COMPLETEs arrived inside WskInspectEvent; %d accepted, %d refused\n",
           InUpcall, Accepted, Refused);
}

/* ---- 4. the handle closes inside each callback (accept, inspect, receive) ---- */

/* Inside WskAcceptEvent and WskInspectEvent an allocation of the driver fails (the Nth
 * after the connection starts: the socket, its IRPs, the pending inspection, ksim's own
 * held request) while another thread closes the handle; inside WskReceiveEvent the handle
 * closes while the RECEIVE record's READ_EVENTS completes in the upcall. Each ends with the
 * verifier silent and nothing left: no pool block, IRP or WSK socket. */
typedef struct {
    pthread_t MainThread;
    KSIM_FILE *File;
    ACTOR Actor;
    int Started;
    uint64_t Listener;
    LATCH Completed;
    LATCH StartedLatch;
    volatile int Claim;  /* 1: a callback closes the handle; 2: the main thread does */
} CALLBACK_RACE;

static void
CallbackRaceStart(CALLBACK_RACE *Race)
{
    if (!__sync_bool_compare_and_swap(&Race->Claim, 0, 1))
        return;
    Race->Started = 1;
    ActorStart(&Race->Actor, Race->File, ActCloseHandle, 0);
    /* Only now: the main thread joins the actor as soon as it sees this. */
    LatchSet(&Race->StartedLatch);
    /* The close cannot finish while this upcall runs; give it time to get as far as it can. */
    (void)LatchWait(&Race->Actor.Done, 100);
}

static void
CallbackFaultHook(void *Context, KSIM_HOOK_POINT Point, const void *Object)
{
    CALLBACK_RACE *Race = Context;

    (void)Object;
    if (Point == KsimHookAllocationFails && !pthread_equal(pthread_self(), Race->MainThread))
        CallbackRaceStart(Race);
}

static void
ReceiveReadDone(void *Context, int32_t Status, uint64_t Information, const void *Output, uint32_t OutputLength)
{
    CALLBACK_RACE *Race = Context;
    uint32_t Offset = 0;

    (void)Information;
    while (Status == ST_SUCCESS && !Race->Claim && Offset + sizeof(WSKB_EVENT_HEADER) <= OutputLength) {
        const WSKB_EVENT_HEADER *Header = (const WSKB_EVENT_HEADER *)((const uint8_t *)Output + Offset);
        if (Header->Size < sizeof(WSKB_EVENT_HEADER))
            break;
        if (Header->Type == WSKB_EVENT_RECEIVE)
            CallbackRaceStart(Race);
        Offset += Header->Size;
    }
    LatchSet(&Race->Completed);
}

static void
CheckNothingLeft(const char *Scenario)
{
    KSIM_COUNTERS Counters;

    KsimGetCounters(&Counters);
    if (Counters.PoolAllocations || Counters.Irps || Counters.Mdls || Counters.WskSockets)
        fprintf(stderr, "%s: left pool %llu, IRPs %llu, MDLs %llu, WSK sockets %llu\n", Scenario,
                (unsigned long long)Counters.PoolAllocations, (unsigned long long)Counters.Irps,
                (unsigned long long)Counters.Mdls, (unsigned long long)Counters.WskSockets);
    CHECK(Counters.PoolAllocations == 0 && Counters.Irps == 0 && Counters.Mdls == 0 && Counters.WskSockets == 0);
}

static void
TestCallbackRaces(void)
{
    uint64_t Before = VerifierFailures();
    int Kind, Nth, Raced[3] = {0, 0, 0};
    static const char *Names[3] = {"accept", "inspect", "receive"};

    for (Kind = 0; Kind < 3; ++Kind) {
        for (Nth = 1; Nth <= 4; ++Nth) {
            CALLBACK_RACE Race;
            uint16_t Port;
            int Fd;

            memset(&Race, 0, sizeof(Race));
            Race.MainThread = pthread_self();
            Race.File = OpenSession();
            LatchInit(&Race.Completed);
            LatchInit(&Race.StartedLatch);
            Race.Listener = SocketCreate(Race.File, 1, 6, WSK_FLAG_LISTEN_SOCKET);
            if (Kind == 1)
                REQUIRE(SetOptionU32(Race.File, Race.Listener, SO_CONDITIONAL_ACCEPT, 1, 1) == ST_SUCCESS);
            Port = BindLoopback(Race.File, Race.Listener);
            /* Receive is inherited by event-accepted sockets. */
            REQUIRE(SetOptionU32(Race.File, Race.Listener, SO_WSK_EVENT_CALLBACK,
                                 WSK_EVENT_ACCEPT | (Kind == 2 ? WSK_EVENT_RECEIVE : 0), 0) == ST_SUCCESS);
            if (Kind == 2) {
                Fd = HostConnect(Port);
                REQUIRE(WaitEvent(Race.File, WSKB_EVENT_ACCEPT, Race.Listener) != 0);
                KsimDeviceIoControl(Race.File, WSKB_IOCTL_READ_EVENTS, NULL, 0, WSKB_READ_EVENTS_MIN_OUTPUT,
                                    ReceiveReadDone, &Race);
                REQUIRE(write(Fd, "data", 4) == 4);
                if (!LatchWait(&Race.Completed, 2000)) {
                    KsimCancelIo(Race.File);
                    REQUIRE(LatchWait(&Race.Completed, 10000));
                }
            } else {
                KsimSetTestHook(CallbackFaultHook, &Race);
                KsimFailAllocationAfter((uint64_t)Nth);
                Fd = HostConnect(Port);
                /* The handle is the other thread's once the race started: no IOCTL on it here.
                 * If the Nth allocation is not reached in the upcall, nothing starts. */
                (void)LatchWait(&Race.StartedLatch, 1000);
                KsimFailAllocationAfter(0);
                KsimSetTestHook(NULL, NULL);
            }
            /* Whoever claims the handle closes it: a callback that got there first, or this
             * thread once it stops waiting. */
            if (__sync_bool_compare_and_swap(&Race.Claim, 0, 2)) {
                KsimClose(Race.File);
            } else {
                REQUIRE(LatchWait(&Race.StartedLatch, 10000));
                ++Raced[Kind];
                ActorJoin(&Race.Actor);
            }
            close(Fd);
            LatchDestroy(&Race.Completed);
            LatchDestroy(&Race.StartedLatch);
            CheckNothingLeft(Names[Kind]);
        }
    }
    CHECK(Raced[0] > 0 && Raced[1] > 0 && Raced[2] > 0);
    CheckVerifierSince(Before, "callbacks");
    printf("callbacks: the handle closed inside WskAcceptEvent %d, WskInspectEvent %d, WskReceiveEvent %d times "
           "(of 4 each)\n",
           Raced[0], Raced[1], Raced[2]);
}

/* ---- 5. the close's IoSetCompletionRoutineEx fails (finding 6's new failure point) ---- */

typedef struct {
    const char *Failed; /* the routine that took the injected failure */
} WHICH_FAILED;

static void
RecordFailureHook(void *Context, KSIM_HOOK_POINT Point, const void *Object)
{
    if (Point == KsimHookAllocationFails)
        ((WHICH_FAILED *)Context)->Failed = (const char *)Object;
}

/* WskCloseSocket cannot be skipped: when the kernel's completion context cannot be allocated,
 * CLOSE waits and tries again, and the socket still closes with nothing left behind. */
static void
TestCloseContextFailure(void)
{
    uint64_t Before = VerifierFailures();
    KSIM_FILE *File = OpenSession();
    uint64_t Id = SocketCreate(File, 1, 6, WSK_FLAG_CONNECTION_SOCKET);
    WSKB_SOCKET_ID In = {.SocketId = Id};
    WHICH_FAILED Which = {NULL};
    KSIM_COUNTERS Counters;
    int32_t Status;

    KsimSetTestHook(RecordFailureHook, &Which);
    KsimFailAllocationAfter(1);
    Status = Ioctl(File, WSKB_IOCTL_CLOSE, &In, sizeof(In), NULL, 0, NULL);
    KsimFailAllocationAfter(0);
    KsimSetTestHook(NULL, NULL);
    CHECK(Status == ST_SUCCESS);
    REQUIRE(Which.Failed != NULL);
    CHECK(strcmp(Which.Failed, "IoSetCompletionRoutineEx") == 0);
    /* The id is gone: a second CLOSE names nothing. */
    CHECK(Ioctl(File, WSKB_IOCTL_CLOSE, &In, sizeof(In), NULL, 0, NULL) != ST_SUCCESS);
    KsimClose(File);
    KsimGetCounters(&Counters);
    CHECK(Counters.WskSockets == 0);
    CHECK(Counters.Irps == 0);
    CheckVerifierSince(Before, "close-context");
    printf("close-context: CLOSE retried its IoSetCompletionRoutineEx after an injected failure\n");
}

/* ---- 6. the re-arm's IoSetCompletionRoutineEx fails: the socket stays paused, then resumes ---- */

#define REARM_BYTES (256u * 1024u)

/* Sums the RECEIVE bytes and counts FLOW_RESUMED records of one READ_EVENTS output. */
static void
CountFlow(const CALL *Call, uint64_t *Received, int *Resumed)
{
    uint32_t Offset = 0;

    while (Call->Status == ST_SUCCESS && Offset + sizeof(WSKB_EVENT_HEADER) <= Call->OutputLength) {
        const WSKB_EVENT_HEADER *Header = (const WSKB_EVENT_HEADER *)(Call->Output + Offset);
        if (Header->Size < sizeof(WSKB_EVENT_HEADER))
            break;
        if (Header->Type == WSKB_EVENT_RECEIVE)
            *Received += Header->DataLength;
        else if (Header->Type == WSKB_EVENT_FLOW_RESUMED)
            ++*Resumed;
        Offset += Header->Size;
    }
}

/* One READ_EVENTS that waits up to Ms (then is cancelled), counted. */
static void
ReadFlow(KSIM_FILE *File, int Ms, uint64_t *Received, int *Resumed)
{
    CALL *Call = CallStart(File, WSKB_IOCTL_READ_EVENTS, NULL, 0, WSKB_READ_EVENTS_MIN_OUTPUT);

    if (!CallWait(Call, Ms)) {
        KsimCancelIo(File);
        REQUIRE(CallWait(Call, 10000));
    }
    CountFlow(Call, Received, Resumed);
    CallFree(Call);
}

static void
TestRearmContextFailure(void)
{
    uint64_t Before = VerifierFailures();
    WSKB_HELLO_IN Hello = {.Magic = WSKB_MAGIC, .ClientVersion = WSKB_PROTOCOL_VERSION,
                           .EventBudgetBytes = WSKB_EVENT_BUDGET_MIN};
    WSKB_HELLO_OUT HelloOut;
    WSKB_STATS_OUT Stats;
    WHICH_FAILED Which = {NULL};
    KSIM_FILE *File = NULL;
    uint8_t *Data = calloc(1, REARM_BYTES);
    uint64_t Listener, Received = 0, ResumesBefore;
    uint16_t Port;
    int Fd, Nth, Waited, Resumed = 0;

    REQUIRE(KsimOpen(DEVICE_PATH, &File) == ST_SUCCESS);
    REQUIRE(Ioctl(File, WSKB_IOCTL_HELLO, &Hello, sizeof(Hello), &HelloOut, sizeof(HelloOut), NULL) == ST_SUCCESS);
    Listener = SocketCreate(File, 1, 6, WSK_FLAG_LISTEN_SOCKET);
    Port = BindLoopback(File, Listener);
    REQUIRE(SetOptionU32(File, Listener, SO_WSK_EVENT_CALLBACK, WSK_EVENT_ACCEPT | WSK_EVENT_RECEIVE, 0) == ST_SUCCESS);
    Fd = HostConnect(Port);
    REQUIRE(WaitEvent(File, WSKB_EVENT_ACCEPT, Listener) != 0);
    /* Four times the budget: the driver pauses the socket (loopback buffers hold the rest). */
    REQUIRE(write(Fd, Data, REARM_BYTES) == (ssize_t)REARM_BYTES);
    for (Waited = 0; Waited < 500; ++Waited) {
        REQUIRE(Ioctl(File, WSKB_IOCTL_STATS, NULL, 0, &Stats, sizeof(Stats), NULL) == ST_SUCCESS);
        if (Stats.ReceivePauses > 0)
            break;
        usleep(10000);
    }
    REQUIRE(Stats.ReceivePauses > 0);
    ResumesBefore = Stats.ReceiveResumes;

    /* The drain of a READ_EVENTS re-arms the paused socket; fail its completion context (the
     * first allocations of a read may be the request's own: then the read fails, nothing
     * was drained, and the next round moves one point further). */
    KsimSetTestHook(RecordFailureHook, &Which);
    for (Nth = 1; Nth <= 6 && !(Which.Failed && strcmp(Which.Failed, "IoSetCompletionRoutineEx") == 0); ++Nth) {
        Which.Failed = NULL;
        KsimFailAllocationAfter((uint64_t)Nth);
        ReadFlow(File, 200, &Received, &Resumed);
        KsimFailAllocationAfter(0);
    }
    KsimSetTestHook(NULL, NULL);
    REQUIRE(Which.Failed && strcmp(Which.Failed, "IoSetCompletionRoutineEx") == 0);
    REQUIRE(Ioctl(File, WSKB_IOCTL_STATS, NULL, 0, &Stats, sizeof(Stats), NULL) == ST_SUCCESS);
    CHECK(Stats.ReceiveResumes == ResumesBefore);

    /* The socket stayed paused, and the next drains re-arm it: every byte arrives. */
    for (Waited = 0; Received < REARM_BYTES && Waited < 200; ++Waited)
        ReadFlow(File, 100, &Received, &Resumed);
    CHECK(Received == REARM_BYTES);
    /* FLOW_RESUMED is queued by the re-arm's completion, which may run after WSK's next
     * indication: the data can reach a waiting read (directly) ahead of it. */
    for (Waited = 0; Resumed == 0 && Waited < 20; ++Waited)
        ReadFlow(File, 100, &Received, &Resumed);
    CHECK(Resumed > 0);
    close(Fd);
    KsimClose(File);
    free(Data);
    CheckNothingLeft("rearm-context");
    CheckVerifierSince(Before, "rearm-context");
    printf("rearm-context: a re-arm whose IoSetCompletionRoutineEx failed stayed paused; %llu bytes arrived after\n",
           (unsigned long long)Received);
}

/* ---- 7. unload with a handle open is deferred until the close ---- */

static void
TestDeferredUnload(void)
{
    uint64_t Before = VerifierFailures();
    KSIM_FILE *File = OpenSession();
    KSIM_FILE *Second = NULL;
    KSIM_COUNTERS Counters;

    /* The test's own load reference is the only one: this asks for the unload. */
    KsimDriverUnload();
    /* Marked for unload: the device still serves the open handle, new opens fail. */
    CHECK(SocketCreate(File, 1, 6, WSK_FLAG_CONNECTION_SOCKET) != 0);
    CHECK(KsimOpen(DEVICE_PATH, &Second) == ST_DELETE_PENDING);
    CHECK(Second == NULL);
    /* The last close runs the unload: afterwards the device name is gone. */
    KsimClose(File);
    CHECK(KsimOpen(DEVICE_PATH, &Second) == ST_OBJECT_NAME_NOT_FOUND);
    KsimGetCounters(&Counters);
    CHECK(Counters.PoolAllocations == 0);
    CHECK(Counters.Irps == 0);
    CHECK(Counters.Mdls == 0);
    CHECK(Counters.WskSockets == 0);
    CheckVerifierSince(Before, "deferred-unload");
    printf("deferred-unload: the unload requested with a handle open ran at its close\n");
}

int
main(void)
{
    REQUIRE(KsimDriverLoad() == ST_SUCCESS);
    TestOperationFreeRace();
    TestInspectLeak();
    TestAcceptCloseRace();
    TestInspectPromptComplete();
    TestCallbackRaces();
    TestCloseContextFailure();
    TestRearmContextFailure();
    TestDeferredUnload();
    CHECK(VerifierFailures() == 0);
    printf("lifetime_test: %d checks, %d failures\n", Checks, Failures);
    return Failures ? 1 : 0;
}

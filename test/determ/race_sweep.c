/* SPDX-License-Identifier: MIT
 *
 * Race exploration on ksim's deterministic scheduler: scenarios that close handles, cancel and
 * fail allocations during each IOCTL kind and inside each callback (accept, inspect, receive),
 * or answer an inspection while its callback may still be running, each run under one seed,
 * swept over many seeds. The seed chooses the scenario's knobs (which IOCTL, which racer,
 * which allocation fails) and, through the scheduler, the interleaving.
 *
 *   race_sweep [--seeds N] [--first S] [--strict] [--seed S] [--determinism]
 *     --seed S       run that one seed in this process (what a printed replay command does)
 *     --strict       a known finding fails the sweep too (default: reported, not failed)
 *     --determinism  the check that a seed replays exactly: clean seeds run twice give the same
 *                    trace (every scheduling decision and every status the threads saw), in one
 *                    process and in a fresh one; different seeds give different interleavings
 *
 * Runs go in child processes, one batch each, so that a crash (a use-after-free under ASan, a
 * poisoned pointer) ends a batch, not the sweep: the parent learns the seed in progress from a
 * pipe and carries on after it. Each finding prints the seed and a one-line replay command; the
 * children's own stderr (the verifier's lines, a sanitizer's report) goes to $RACE_SWEEP_LOG
 * (default /dev/null: the replay command shows it all again).
 *
 * Known findings: the driver defects of issue 8 that the branch drv-lifetime fixes (#2 a
 * use-after-free when an allocation fails while the handle closes, #9 a socket closed inside
 * WskAcceptEvent, #11 a pending inspection leaked after an IoAllocateIrp failure). Until that
 * fix is merged they are reported as KNOWN and do not fail the sweep (unless --strict); any
 * other finding does. docs/reliability.md ("Deterministic simulation") lists seeds that find
 * each one on the code before the fix.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "determ_harness.h"

#define W_LISTEN 1u
#define W_CONNECTION 2u
#define W_DATAGRAM 4u
#define W_EVENT_ACCEPT 0x200u
#define W_EVENT_RECEIVE 0x40u
#define W_EVENT_DISCONNECT 0x80u
#define W_SOL_SOCKET 0xffffu
#define W_SO_RCVBUF 0x1002u
#define W_SO_CONDITIONAL_ACCEPT 0x3002u

enum {
    ScenarioIoctlRace,   /* an IOCTL of some kind, an allocation failing in it, a racer */
    ScenarioAcceptRace,  /* the accept callback, a reader closing what it reports */
    ScenarioInspectRace, /* a pended inspection completed with a failing allocation, a racer */
    ScenarioReceiveRace, /* a pended receive and data arriving, a racer */
    ScenarioPromptInspect, /* INSPECT_COMPLETE as soon as INSPECT arrives (maybe inside the callback), a racer */
    ScenarioCount
};

static const char *const ScenarioNames[] = { "ioctl+alloc-failure+close/cancel", "accept-callback+close",
                                             "inspect-complete+alloc-failure+close", "receive+data+close/cancel",
                                             "inspect-callback+prompt-complete+close" };

/* The scenario's own choices come from the seed too, from a generator separate from the
 * scheduler's. */
static uint64_t Knobs;
static unsigned Knob(unsigned Range)
{
    uint64_t Z = (Knobs += 0x9E3779B97F4A7C15ull);
    Z = (Z ^ (Z >> 30)) * 0xBF58476D1CE4E5B9ull;
    Z = (Z ^ (Z >> 27)) * 0x94D049BB133111EBull;
    return (unsigned)((Z ^ (Z >> 31)) % Range);
}

typedef struct _RACE {
    KSIM_FILE *File;
    uint64_t Socket;     /* the socket the IOCTL or the callback is about */
    uint64_t Listener;
    uint64_t Token;      /* inspect token */
    unsigned Ioctl;      /* ScenarioIoctlRace: which kind */
    unsigned Racer;      /* 0 close the session, 1 cancel its I/O, 2 close the socket */
    unsigned Fault;      /* the Nth allocation fails (0: none) */
    int SessionClosed;
    unsigned Action;     /* ScenarioPromptInspect: 0 Reject, 1 Accept */
    int Racing;          /* ScenarioPromptInspect: a racer was spawned */
    const char *Failure; /* an invariant the scenario itself checks, broken (NULL: none) */
} RACE;

static RACE Race;

/* ---- the racers ---- */

static void Racer(void *Unused)
{
    (void)Unused;
    switch (Race.Racer) {
    case 0:
        if (!Race.SessionClosed) {
            Race.SessionClosed = 1;
            DhClose(Race.File);
        }
        break;
    case 1:
        if (!Race.SessionClosed)
            KsimCancelIo(Race.File);
        break;
    default:
        if (!Race.SessionClosed)
            (void)DhCloseSocket(Race.File, Race.Socket);
        break;
    }
}

/* The start of a thread that issues the racing IOCTL: nothing if its session is closed already,
 * else the chosen allocation armed to fail. */
static int RaceArm(void)
{
    if (Race.SessionClosed)
        return 0;
    if (Race.Fault)
        KsimFailAllocationAfter(Race.Fault);
    return 1;
}

/* ---- ScenarioIoctlRace ---- */

static void IoctlThread(void *Unused)
{
    DH_IO Io;
    (void)Unused;
    if (!RaceArm())
        return;
    switch (Race.Ioctl) {
    case 0: { /* CONTROL_SOCKET with output: an output buffer from the pool after the operation */
        WSKB_CONTROL_SOCKET_IN In;
        memset(&In, 0, sizeof(In));
        In.SocketId = Race.Socket;
        In.RequestType = 1; /* WskGetOption */
        In.ControlCode = W_SO_RCVBUF;
        In.Level = W_SOL_SOCKET;
        In.OutputLength = 4;
        DhIoctlStart(Race.File, WSKB_IOCTL_CONTROL_SOCKET, &In, sizeof(In), sizeof(WSKB_CONTROL_OUT) + 4, &Io);
        break;
    }
    case 1: { /* SEND: an MDL after the operation */
        struct {
            WSKB_DATA_IN Header;
            uint8_t Data[64];
        } In;
        memset(&In, 'x', sizeof(In));
        In.Header.SocketId = Race.Socket;
        In.Header.Flags = 0;
        In.Header.Length = sizeof(In.Data);
        DhIoctlStart(Race.File, WSKB_IOCTL_SEND, &In, sizeof(In), 0, &Io);
        break;
    }
    case 2: { /* RECEIVE */
        WSKB_DATA_IN In = { Race.Socket, 0, 64 };
        DhIoctlStart(Race.File, WSKB_IOCTL_RECEIVE, &In, sizeof(In), 64, &Io);
        break;
    }
    case 3: { /* SOCKET_CREATE */
        WSKB_SOCKET_CREATE_IN In = { DH_AF_INET, 1, 6, W_CONNECTION, 0 };
        DhIoctlStart(Race.File, WSKB_IOCTL_SOCKET_CREATE, &In, sizeof(In), sizeof(WSKB_SOCKET_ID), &Io);
        break;
    }
    case 4: { /* GET_ADDRESS */
        WSKB_GET_ADDRESS_IN In = { Race.Socket, WSKB_ADDRESS_REMOTE, 0 };
        DhIoctlStart(Race.File, WSKB_IOCTL_GET_ADDRESS, &In, sizeof(In), sizeof(WSKB_SOCKADDR), &Io);
        break;
    }
    case 5: { /* DISCONNECT */
        WSKB_DATA_IN In = { Race.Socket, 0, 0 };
        DhIoctlStart(Race.File, WSKB_IOCTL_DISCONNECT, &In, sizeof(In), 0, &Io);
        break;
    }
    default: { /* READ_EVENTS */
        DhIoctlStart(Race.File, WSKB_IOCTL_READ_EVENTS, NULL, 0, WSKB_READ_EVENTS_MIN_OUTPUT, &Io);
        break;
    }
    }
    DhIoctlWait(&Io);
    KsimDetermTraceMix((uint64_t)(uint32_t)Io.Status);
}

/* A connection socket of the session, connected to a peer on the in-memory network. */
static uint64_t ConnectedSocket(int64_t *PeerOut)
{
    uint64_t Listener = DhSocket(Race.File, DH_AF_INET, W_LISTEN);
    uint16_t Port;
    int64_t Peer;
    WSKB_ACCEPT_IN Accept;
    DH_IO Io;
    WSKB_ACCEPT_OUT Out;
    if (!Listener || DhBindLoopback(Race.File, Listener, DH_AF_INET, 0) < 0)
        return 0;
    Port = DhLocalPort(Race.File, Listener);
    Peer = DhPeerConnect(DH_AF_INET, Port);
    if (Peer < 0)
        return 0;
    Accept.SocketId = Listener;
    Accept.Flags = 0;
    Accept.Reserved = 0;
    if (DhIoctl(Race.File, WSKB_IOCTL_ACCEPT, &Accept, sizeof(Accept), sizeof(Out), &Io) < 0 ||
        Io.OutputLength < sizeof(Out))
        return 0;
    memcpy(&Out, Io.Output, sizeof(Out));
    Race.Listener = Listener;
    if (PeerOut)
        *PeerOut = Peer;
    return Out.AcceptedSocketId;
}

static void RunIoctlRace(void)
{
    /* Half the runs on the kinds that allocate after their operation is linked (CONTROL with
     * output, SEND), half on any; half the racers are the cleanup sweep. */
    Race.Ioctl = Knob(2) ? Knob(2) : Knob(7);
    Race.Racer = Knob(2) ? 0 : Knob(3);
    Race.Fault = Knob(5) ? 1 + Knob(3) : 0; /* the 1st..3rd allocation from the IOCTL's start, or none */
    Race.Socket = ConnectedSocket(NULL);
    if (!Race.Socket)
        return;
    KsimDetermSpawn(IoctlThread, NULL);
    KsimDetermSpawn(Racer, NULL);
}

/* ---- ScenarioAcceptRace ---- */

static void AcceptReader(void *Unused)
{
    DH_IO Io;
    WSKB_EVENT_HEADER Accept;
    (void)Unused;
    /* Reads the events; on ACCEPT, closes the socket it reports (or the session). */
    for (int Round = 0; Round < 4 && !Race.SessionClosed; Round++) {
        int32_t Status = DhIoctl(Race.File, WSKB_IOCTL_READ_EVENTS, NULL, 0, WSKB_READ_EVENTS_MIN_OUTPUT, &Io);
        if (getenv("RACE_VERBOSE"))
            fprintf(stderr, "reader: READ_EVENTS 0x%08x, %u bytes\n", (unsigned)Io.Status, (unsigned)Io.OutputLength);
        if (Status < 0)
            return;
        if (DhFindEvent(&Io, WSKB_EVENT_ACCEPT, &Accept) && Accept.Param) {
            Race.Socket = Accept.Param;
            Racer(NULL);
            return;
        }
    }
}

static void RunAcceptRace(void)
{
    uint16_t Port;
    Race.Racer = Knob(3) == 0 ? 0 : 2; /* the cleanup sweep, or a CLOSE of the accepted socket */
    Race.Listener = DhSocket(Race.File, DH_AF_INET, W_LISTEN);
    if (!Race.Listener || DhBindLoopback(Race.File, Race.Listener, DH_AF_INET, 0) < 0)
        return;
    Port = DhLocalPort(Race.File, Race.Listener);
    {
        int32_t Status = DhEnableEvents(Race.File, Race.Listener, W_EVENT_ACCEPT | (Knob(2) ? W_EVENT_RECEIVE | W_EVENT_DISCONNECT : 0));
        if (getenv("RACE_VERBOSE"))
            fprintf(stderr, "accept race: listener %llx port %u enable 0x%08x\n", (unsigned long long)Race.Listener,
                    Port, (unsigned)Status);
        if (Status < 0)
            return;
    }
    KsimDetermSpawn(AcceptReader, NULL);
    if (Knob(2))
        KsimDetermSpawn(AcceptReader, NULL); /* two readers: either may take the ACCEPT */
    (void)DhPeerConnect(DH_AF_INET, Port);
}

/* ---- ScenarioInspectRace ---- */

static void InspectCompleter(void *Unused)
{
    WSKB_INSPECT_COMPLETE_IN In = { Race.Listener, Race.Token, Knob(2), 0 };
    DH_IO Io;
    (void)Unused;
    if (!RaceArm())
        return;
    DhIoctl(Race.File, WSKB_IOCTL_INSPECT_COMPLETE, &In, sizeof(In), 0, &Io);
    if (getenv("RACE_VERBOSE"))
        fprintf(stderr, "inspect complete (fault %u, racer %u): 0x%08x\n", Race.Fault, Race.Racer, (unsigned)Io.Status);
    KsimDetermTraceMix((uint64_t)(uint32_t)Io.Status);
}

static void RunInspectRace(void)
{
    uint16_t Port;
    DH_IO Io;
    WSKB_EVENT_HEADER Inspect;
    Race.Racer = Knob(3);
    Race.Fault = Knob(6); /* 0: none; else the Nth allocation from here (a racer may take the first ones) */
    Race.Listener = DhSocket(Race.File, DH_AF_INET, W_LISTEN);
    if (!Race.Listener || DhSetOption(Race.File, Race.Listener, W_SOL_SOCKET, W_SO_CONDITIONAL_ACCEPT, 1) < 0 ||
        DhBindLoopback(Race.File, Race.Listener, DH_AF_INET, 0) < 0) {
        if (getenv("RACE_VERBOSE"))
            fprintf(stderr, "inspect race: setup failed\n");
        return;
    }
    Port = DhLocalPort(Race.File, Race.Listener);
    if (DhPeerConnect(DH_AF_INET, Port) < 0)
        return;
    if (DhIoctl(Race.File, WSKB_IOCTL_READ_EVENTS, NULL, 0, WSKB_READ_EVENTS_MIN_OUTPUT, &Io) < 0 ||
        !DhFindEvent(&Io, WSKB_EVENT_INSPECT, &Inspect)) {
        if (getenv("RACE_VERBOSE"))
            fprintf(stderr, "inspect race: no INSPECT (0x%08x, %u bytes)\n", (unsigned)Io.Status, (unsigned)Io.OutputLength);
        return;
    }
    Race.Token = Inspect.Param;
    Race.Socket = Race.Listener;
    KsimDetermSpawn(InspectCompleter, NULL);
    KsimDetermSpawn(Racer, NULL);
}

/* ---- ScenarioReceiveRace ---- */

static void ReceiveThread(void *Unused)
{
    WSKB_DATA_IN In = { Race.Socket, 0, 32 };
    DH_IO Io;
    (void)Unused;
    if (Race.SessionClosed)
        return;
    DhIoctl(Race.File, WSKB_IOCTL_RECEIVE, &In, sizeof(In), 32, &Io);
    KsimDetermTraceMix((uint64_t)(uint32_t)Io.Status);
}

static void RunReceiveRace(void)
{
    int64_t Peer = -1;
    size_t Sent;
    Race.Racer = Knob(3);
    Race.Socket = ConnectedSocket(&Peer);
    if (!Race.Socket)
        return;
    if (Knob(2) && DhEnableEvents(Race.File, Race.Socket, W_EVENT_RECEIVE | W_EVENT_DISCONNECT) < 0)
        return;
    KsimDetermSpawn(ReceiveThread, NULL);
    KsimDetermSpawn(Racer, NULL);
    (void)KsimMemoryNetSend(Peer, "data from the peer", 18, &Sent);
    if (Knob(2))
        KsimMemoryNetShutdownSend(Peer);
}

/* ---- ScenarioPromptInspect ---- */

/* Reads the events; answers the first INSPECT at once, as a prompt user mode does: with a
 * READ_EVENTS waiting, the record is delivered inside WskInspectEvent, so the answer may reach
 * the driver while the callback still runs, after its last act, or once WSK has the pend. It
 * must succeed every time (no racer), and an accepted connection must then be offered. */
static void PromptReader(void *Unused)
{
    DH_IO Io;
    WSKB_EVENT_HEADER Found;
    (void)Unused;
    for (int Round = 0; Round < 4; Round++) {
        if (DhIoctl(Race.File, WSKB_IOCTL_READ_EVENTS, NULL, 0, WSKB_READ_EVENTS_MIN_OUTPUT, &Io) < 0) {
            /* Only the end of the run (or a racer) ends a read that nothing completed. */
            if (!Race.Racing)
                Race.Failure = Race.Token ? "no ACCEPT after INSPECT_COMPLETE(Accept) answered at once"
                                          : "no INSPECT record";
            return;
        }
        if (!Race.Token && DhFindEvent(&Io, WSKB_EVENT_INSPECT, &Found) && Found.Param) {
            WSKB_INSPECT_COMPLETE_IN In = { Race.Listener, Found.Param, Race.Action, 0 };
            DH_IO Complete;
            Race.Token = Found.Param;
            DhIoctl(Race.File, WSKB_IOCTL_INSPECT_COMPLETE, &In, sizeof(In), 0, &Complete);
            if (getenv("RACE_VERBOSE"))
                fprintf(stderr, "prompt inspect complete (action %u, racer %u): 0x%08x\n", Race.Action, Race.Racer,
                        (unsigned)Complete.Status);
            KsimDetermTraceMix((uint64_t)(uint32_t)Complete.Status);
            if (!Race.Racing && Complete.Status != 0) {
                Race.Failure = "INSPECT_COMPLETE answered at once did not succeed";
                return;
            }
            /* Rejected (the peer is reset), or raced: nothing more is owed. */
            if (!Race.Action || Race.Racing)
                return;
        }
        /* Accepted: the ACCEPT follows, maybe in the same batch. */
        if (Race.Token && DhFindEvent(&Io, WSKB_EVENT_ACCEPT, &Found))
            return;
    }
    if (!Race.Racing)
        Race.Failure = "no ACCEPT within 4 event reads after INSPECT_COMPLETE(Accept)";
}

static void RunPromptInspect(void)
{
    uint16_t Port;
    Race.Action = Knob(2);
    Race.Racer = Knob(4); /* 3: no racer */
    Race.Listener = DhSocket(Race.File, DH_AF_INET, W_LISTEN);
    if (!Race.Listener || DhSetOption(Race.File, Race.Listener, W_SOL_SOCKET, W_SO_CONDITIONAL_ACCEPT, 1) < 0 ||
        DhBindLoopback(Race.File, Race.Listener, DH_AF_INET, 0) < 0 ||
        DhEnableEvents(Race.File, Race.Listener, W_EVENT_ACCEPT) < 0)
        return;
    Port = DhLocalPort(Race.File, Race.Listener);
    Race.Socket = Race.Listener;
    KsimDetermSpawn(PromptReader, NULL);
    if (Race.Racer < 3) {
        Race.Racing = 1;
        KsimDetermSpawn(Racer, NULL);
    }
    (void)DhPeerConnect(DH_AF_INET, Port);
}

/* ---- one run ---- */

typedef struct _OUTCOME {
    unsigned Scenario;
    const char *Left;      /* NULL: clean */
    char Message[300];
    uint64_t Trace;
} OUTCOME;

static void RunSeed(uint64_t Seed, int AbortOnFailure, OUTCOME *Outcome)
{
    memset(&Race, 0, sizeof(Race));
    Knobs = Seed * 0xD1B54A32D192ED03ull + 1;
    Outcome->Scenario = (unsigned)(Seed % ScenarioCount);
    DhBegin(Seed, AbortOnFailure);
    Race.File = DhOpen();
    switch (Outcome->Scenario) {
    case ScenarioIoctlRace:
        RunIoctlRace();
        break;
    case ScenarioAcceptRace:
        RunAcceptRace();
        break;
    case ScenarioInspectRace:
        RunInspectRace();
        break;
    case ScenarioPromptInspect:
        RunPromptInspect();
        break;
    default:
        RunReceiveRace();
        break;
    }
    Outcome->Left = DhEnd();
    Outcome->Trace = KsimDetermTrace();
    Outcome->Message[0] = '\0';
    if (Outcome->Left)
        KsimVerifierLastFailure(Outcome->Message, sizeof(Outcome->Message));
    else if (Race.Failure) {
        Outcome->Left = Race.Failure;
        snprintf(Outcome->Message, sizeof(Outcome->Message), "%s", Race.Failure);
    }
}

/* Which defect of issue 8 a finding is, by its scenario and symptom; NULL: none known. */
static const char *Known(unsigned Scenario, const char *Message, int Crashed)
{
    if (strstr(Message, "inside the WskAcceptEvent"))
        return "issue 8 #9 (a socket closed inside WskAcceptEvent)";
    if (Scenario == ScenarioInspectRace && (strstr(Message, "left") || strstr(Message, "WskI") ||
                                            strstr(Message, "pool")))
        return "issue 8 #11 (a pending inspection leaked after an IoAllocateIrp failure)";
    /* The cleanup sweep pins (RefCount, offset 56) and cancels (Irp) an operation that the
     * failing IOCTL freed: a crash on the poisoned IRP pointer, or the write found in quarantine. */
    if (Scenario == ScenarioIoctlRace && (Crashed || (strstr(Message, "'WkBo'") && strstr(Message, "after it was freed"))))
        return "issue 8 #2 (use-after-free: an allocation fails while the handle closes)";
    return NULL;
}

static const char *Self;

static unsigned KnownPrinted[3];

static void PrintFinding(uint64_t Seed, unsigned Scenario, const char *What, const char *Known)
{
    /* Known findings: the first three of each; every unknown one. */
    if (Known) {
        unsigned Which = strstr(Known, "#9") ? 1 : strstr(Known, "#11") ? 2 : 0;
        if (KnownPrinted[Which]++ >= 3)
            return;
    }
    printf("%s seed %llu [%s]: %s\n  replay: %s --seed %llu\n", Known ? "KNOWN" : "FINDING", (unsigned long long)Seed,
           ScenarioNames[Scenario], What, Self, (unsigned long long)Seed);
    if (Known)
        printf("  %s; fixed on branch drv-lifetime, not yet merged here\n", Known);
}

/* The child: runs seeds from First, writing "S <seed>" before each and "F <seed> <text>" for a
 * finding (then stops). */
static int Child(uint64_t First, uint64_t Last, int Pipe)
{
    char Line[512];
    for (uint64_t Seed = First; Seed < Last; Seed++) {
        OUTCOME Outcome;
        int Length = snprintf(Line, sizeof(Line), "S %llu\n", (unsigned long long)Seed);
        if (write(Pipe, Line, (size_t)Length) < 0)
            return 2;
        RunSeed(Seed, 0, &Outcome);
        if (Outcome.Left) {
            Length = snprintf(Line, sizeof(Line), "F %llu %s | %s\n", (unsigned long long)Seed, Outcome.Left,
                              Outcome.Message);
            if (write(Pipe, Line, (size_t)Length) < 0)
                return 2;
            return 1;
        }
    }
    return 0;
}

/* Seeds that run clean (a finding's seed is replayed by its own command). */
static int Determinism(const char *Program)
{
    enum { Runs = 200 };
    uint64_t Traces[Runs], Seeds[Runs];
    unsigned Clean = 0, Distinct = 0, Failures = 0;
    for (uint64_t Seed = 1; Clean < Runs && Seed < 100000; Seed++) {
        OUTCOME First, Second;
        if (Seed % ScenarioCount == ScenarioAcceptRace)
            continue; /* most of these find issue 8 #9 on today's driver */
        RunSeed(Seed, 0, &First);
        if (First.Left)
            return fprintf(stderr, "determinism: seed %llu is not clean (%s); replay: %s --seed %llu\n",
                           (unsigned long long)Seed, First.Left, Program, (unsigned long long)Seed), 1;
        RunSeed(Seed, 0, &Second);
        if (Second.Trace != First.Trace) {
            printf("determinism: seed %llu gave trace %016llx, then %016llx\n", (unsigned long long)Seed,
                   (unsigned long long)First.Trace, (unsigned long long)Second.Trace);
            Failures++;
        }
        Seeds[Clean] = Seed;
        Traces[Clean++] = First.Trace;
    }
    /* A fresh process: the same traces (nothing carried over between runs of one process). */
    for (unsigned i = 0; i < Clean; i += 37) {
        char Command[512], Line[256];
        FILE *Child;
        snprintf(Command, sizeof(Command), "%s --seed %llu", Program, (unsigned long long)Seeds[i]);
        Child = popen(Command, "r");
        if (!Child || !fgets(Line, sizeof(Line), Child)) {
            printf("determinism: cannot run %s\n", Command);
            Failures++;
        } else {
            char Expected[32];
            snprintf(Expected, sizeof(Expected), "trace %016llx", (unsigned long long)Traces[i]);
            if (!strstr(Line, Expected)) {
                printf("determinism: %s printed \"%s\", expected %s\n", Command, strtok(Line, "\n"), Expected);
                Failures++;
            }
        }
        if (Child)
            pclose(Child);
    }
    for (unsigned i = 0; i < Clean; i++) {
        unsigned j;
        for (j = 0; j < i && Traces[j] != Traces[i]; j++)
            ;
        Distinct += j == i;
    }
    printf("determinism: %u clean seeds each run twice, %u mismatch(es); %u distinct traces\n", Clean, Failures,
           Distinct);
    /* Different seeds must explore different interleavings: nearly all traces differ. */
    if (Distinct < Clean * 9 / 10) {
        printf("determinism: only %u of %u seeds gave distinct traces\n", Distinct, Clean);
        Failures++;
    }
    return Failures ? 1 : 0;
}

int main(int argc, char **argv)
{
    uint64_t Seeds = 10000, First = 1, Single = 0;
    int HaveSingle = 0, Strict = 0;
    unsigned Known8[3] = { 0, 0, 0 }, Unknown = 0, Findings = 0;
    uint64_t Next;
    int LogFd;

    Self = argv[0];
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--seeds") && i + 1 < argc)
            Seeds = strtoull(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--first") && i + 1 < argc)
            First = strtoull(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--seed") && i + 1 < argc)
            Single = strtoull(argv[++i], NULL, 10), HaveSingle = 1;
        else if (!strcmp(argv[i], "--strict"))
            Strict = 1;
        else if (!strcmp(argv[i], "--determinism"))
            return Determinism(argv[0]);
        else {
            fprintf(stderr, "usage: %s [--seeds N] [--first S] [--strict] [--seed S]\n", argv[0]);
            return 2;
        }
    }

    if (HaveSingle) {
        /* The replay: one seed, verifier failures abort at the failing point with the replay
         * line; a clean run prints its trace. */
        OUTCOME Outcome;
        char Format[300];
        snprintf(Format, sizeof(Format), "%s --seed %%llu", argv[0]);
        DhSetReplayCommand(Format, Single);
        RunSeed(Single, 1, &Outcome);
        printf("seed %llu [%s]: %s; trace %016llx\n", (unsigned long long)Single, ScenarioNames[Outcome.Scenario],
               Outcome.Left ? Outcome.Left : "clean", (unsigned long long)Outcome.Trace);
        return Outcome.Left ? 1 : 0;
    }

    setvbuf(stdout, NULL, _IOLBF, 0);
    LogFd = open(getenv("RACE_SWEEP_LOG") ? getenv("RACE_SWEEP_LOG") : "/dev/null", O_WRONLY | O_CREAT | O_TRUNC, 0644);
    for (Next = First; Next < First + Seeds;) {
        int Pipe[2], Status;
        pid_t Pid;
        FILE *In;
        char Line[512];
        uint64_t Started = Next - 1;
        int Reported = 0;

        if (pipe(Pipe) < 0) {
            perror("pipe");
            return 2;
        }
        Pid = fork();
        if (Pid < 0) {
            perror("fork");
            return 2;
        }
        if (Pid == 0) {
            close(Pipe[0]);
            /* The verifier's and sanitizers' own lines go to the log; findings come back on
             * the pipe and are printed by the parent. */
            if (LogFd >= 0)
                dup2(LogFd, 2);
            _exit(Child(Next, First + Seeds, Pipe[1]));
        }
        close(Pipe[1]);
        In = fdopen(Pipe[0], "r");
        while (fgets(Line, sizeof(Line), In)) {
            if (Line[0] == 'S') {
                Started = strtoull(Line + 2, NULL, 10);
            } else if (Line[0] == 'F') {
                char *Text = strchr(Line + 2, ' ');
                unsigned Scenario = (unsigned)(Started % ScenarioCount);
                const char *Which;
                Text = Text ? Text + 1 : Line;
                Text[strcspn(Text, "\n")] = '\0';
                Which = Known(Scenario, Text, 0);
                PrintFinding(Started, Scenario, Text, Which);
                Reported = 1;
                Findings++;
                if (!Which)
                    Unknown++;
                else
                    Known8[strstr(Which, "#9") ? 1 : strstr(Which, "#11") ? 2 : 0]++;
            }
        }
        fclose(In);
        waitpid(Pid, &Status, 0);
        if (!Reported && !(WIFEXITED(Status) && WEXITSTATUS(Status) == 0)) {
            unsigned Scenario = (unsigned)(Started % ScenarioCount);
            char What[128];
            const char *Which = Known(Scenario, "", 1);
            snprintf(What, sizeof(What), "the run died (%s %d)", WIFSIGNALED(Status) ? "signal" : "exit status",
                     WIFSIGNALED(Status) ? WTERMSIG(Status) : WEXITSTATUS(Status));
            PrintFinding(Started, Scenario, What, Which);
            Findings++;
            if (!Which)
                Unknown++;
            else
                Known8[0]++;
        }
        if (!Reported && WIFEXITED(Status) && WEXITSTATUS(Status) == 0)
            break; /* the child ran every seed */
        Next = Started + 1;
    }
    printf("race_sweep: %llu seeds from %llu, %u finding(s): %u unknown; known: #2 x%u, #9 x%u, #11 x%u\n",
           (unsigned long long)Seeds, (unsigned long long)First, Findings, Unknown, Known8[0], Known8[1], Known8[2]);
    return Unknown || (Strict && Findings) ? 1 : 0;
}

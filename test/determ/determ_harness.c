/* SPDX-License-Identifier: MIT
 *
 * The deterministic-mode harness (determ_harness.h).
 */
#include "determ_harness.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DH_MAX_FILES 8
#define DH_SOL_SOCKET 0xffffu
#define DH_SO_WSK_EVENT_CALLBACK 0x4002u

static KSIM_FILE *DhFiles[DH_MAX_FILES];
#define DH_MAX_PEERS 16
static int64_t DhPeers[DH_MAX_PEERS];
static unsigned DhPeersOpen;
static int DhKeepLoaded, DhLoaded;
static KSIM_COUNTERS DhBaseline;

int64_t DhPeerKeep(int64_t Handle)
{
    if (Handle < 0)
        return Handle;
    if (DhPeersOpen == DH_MAX_PEERS) {
        KsimMemoryNetClose(Handle, 1);
        return -1;
    }
    DhPeers[DhPeersOpen++] = Handle;
    return Handle;
}

int64_t DhPeerAt(unsigned Index)
{
    return Index < DhPeersOpen ? DhPeers[Index] : -1;
}

unsigned DhPeerCount(void)
{
    return DhPeersOpen;
}

void DhPeersClose(void)
{
    while (DhPeersOpen)
        KsimMemoryNetClose(DhPeers[--DhPeersOpen], 1);
}

void DhKeepDriverLoaded(int Keep)
{
    DhKeepLoaded = Keep;
}

void DhUnloadKept(void)
{
    if (DhLoaded) {
        KsimDriverUnload();
        DhLoaded = 0;
    }
}
static char DhReplay[512];
static uint64_t DhFailuresBefore;
static int DhSignalsInstalled;

static int DhIsOpen(KSIM_FILE *File);

static void DhOnFatalSignal(int Signal)
{
    /* write(2) only: this runs in a signal handler. */
    if (DhReplay[0]) {
        ssize_t Ignored = write(2, DhReplay, strlen(DhReplay));
        (void)Ignored;
    }
    signal(Signal, SIG_DFL);
    raise(Signal);
}

/* ASan reports through this before it exits. */
void __sanitizer_set_death_callback(void (*Callback)(void)) __attribute__((weak));
static void DhOnSanitizerDeath(void)
{
    if (DhReplay[0]) {
        ssize_t Ignored = write(2, DhReplay, strlen(DhReplay));
        (void)Ignored;
    }
}

void DhSetReplayCommand(const char *Format, uint64_t Seed)
{
    char Command[400];
    snprintf(Command, sizeof(Command), Format, (unsigned long long)Seed);
    snprintf(DhReplay, sizeof(DhReplay), "\nFAILED at seed %llu; replay: %s\n", (unsigned long long)Seed, Command);
    if (!DhSignalsInstalled) {
        DhSignalsInstalled = 1;
        signal(SIGABRT, DhOnFatalSignal);
        signal(SIGSEGV, DhOnFatalSignal);
        signal(SIGBUS, DhOnFatalSignal);
        if (__sanitizer_set_death_callback)
            __sanitizer_set_death_callback(DhOnSanitizerDeath);
    }
}

static void DhDie(const char *What)
{
    fprintf(stderr, "determ harness: %s\n", What);
    abort();
}

void DhBegin(uint64_t Seed, int AbortOnFailure)
{
    static int Selected;
    if (!Selected) {
        if (KsimSchedulerSelect("deterministic", Seed) < 0)
            DhDie("cannot select the deterministic scheduler");
        Selected = 1;
    }
    KsimVerifierSetAbortOnFailure(AbortOnFailure);
    if (KsimDetermReseed(Seed) < 0)
        DhDie("cannot reseed (a simulated thread is still alive)");
    if (KsimMemoryNetReset() != 0)
        DhDie("the in-memory network still has sockets open from the last run");
    KsimFailAllocationAfter(0);
    DhFailuresBefore = KsimVerifierLastFailure(NULL, 0);
    if (DhLoaded)
        return;
    if (KsimDriverLoad() < 0)
        DhDie("DriverEntry failed");
    DhLoaded = 1;
    KsimGetCounters(&DhBaseline);
}

const char *DhEnd(void)
{
    static char Left[256];
    KSIM_COUNTERS Counters;
    unsigned i;

    /* Let the simulated threads run as far as they can, then close what is open (which ends
     * the requests still pended), and only then insist that every thread returns. */
    (void)KsimDetermRunUntilIdle();
    KsimFailAllocationAfter(0);
    for (i = 0; i < DH_MAX_FILES; i++)
        if (DhFiles[i])
            DhClose(DhFiles[i]);
    KsimDetermJoin();
    DhPeersClose();
    if (!DhKeepLoaded) {
        KsimDriverUnload();
        DhLoaded = 0;
        memset(&DhBaseline, 0, sizeof(DhBaseline));
    }
    /* Per run, so that a write after free is this run's finding. The fuzzer (driver kept loaded)
     * leaves it to the quarantine's own eviction checks: scanning every freed byte per input
     * would cost most of its time; a write after free is then reported a few inputs later. */
    if (!DhKeepLoaded)
        KsimPoolQuarantineCheck();
    KsimGetCounters(&Counters);
    Counters.VerifierFailures -= DhFailuresBefore;
    Counters.PoolAllocations -= DhBaseline.PoolAllocations;
    if (Counters.VerifierFailures || Counters.PoolAllocations || Counters.Irps != DhBaseline.Irps ||
        Counters.Mdls != DhBaseline.Mdls || Counters.HostSockets || Counters.WskSockets) {
        snprintf(Left, sizeof(Left),
                 "left behind: pool %llu irps %llu mdls %llu sockets %llu wsk sockets %llu, verifier failures %llu",
                 (unsigned long long)Counters.PoolAllocations, (unsigned long long)Counters.Irps,
                 (unsigned long long)Counters.Mdls, (unsigned long long)Counters.HostSockets,
                 (unsigned long long)Counters.WskSockets, (unsigned long long)Counters.VerifierFailures);
        return Left;
    }
    return NULL;
}

static void DhCompletion(void *Context, int32_t Status, uint64_t Information, const void *Output,
                         uint32_t OutputLength)
{
    DH_IO *Io = Context;
    uint32_t Copy = OutputLength < sizeof(Io->Output) ? OutputLength : (uint32_t)sizeof(Io->Output);
    Io->Status = Status;
    Io->Information = Information;
    Io->OutputLength = OutputLength;
    if (Copy)
        memcpy(Io->Output, Output, Copy);
    Io->Done = 1;
    KsimDetermWakeFor(Io);
}

static int DhIoDone(void *Context)
{
    return ((DH_IO *)Context)->Done;
}

void DhIoctlStart(KSIM_FILE *File, uint32_t Code, const void *Input, uint32_t InputLength, uint32_t OutputLength,
                  DH_IO *Io)
{
    memset(Io, 0, sizeof(*Io));
    Io->Code = Code;
    if (!DhIsOpen(File)) {
        DhCompletion(Io, (int32_t)0xC0000008 /* STATUS_INVALID_HANDLE */, 0, NULL, 0);
        return;
    }
    KsimDeviceIoControl(File, Code, Input, InputLength, OutputLength, DhCompletion, Io);
}

void DhIoctlWait(DH_IO *Io)
{
    KsimDetermWaitFor(DhIoDone, Io);
}

int32_t DhIoctl(KSIM_FILE *File, uint32_t Code, const void *Input, uint32_t InputLength, uint32_t OutputLength,
                DH_IO *Io)
{
    DH_IO Local;
    if (!Io)
        Io = &Local;
    DhIoctlStart(File, Code, Input, InputLength, OutputLength, Io);
    DhIoctlWait(Io);
    return Io->Status;
}

void DhAdopt(KSIM_FILE *File)
{
    unsigned i;
    for (i = 0; i < DH_MAX_FILES && DhFiles[i]; i++)
        ;
    if (i == DH_MAX_FILES)
        DhDie("too many sessions");
    DhFiles[i] = File;
}

KSIM_FILE *DhOpen(void)
{
    KSIM_FILE *File = NULL;
    /* The smallest event budget: a run's ring is allocated, filled and checked in quarantine. */
    WSKB_HELLO_IN Hello = { WSKB_MAGIC, WSKB_PROTOCOL_VERSION, WSKB_EVENT_BUDGET_MIN, 0 };
    if (KsimOpenOnNetwork(WSKB_USER_PATH, "memory", &File) < 0 || !File)
        DhDie("cannot open a session");
    DhAdopt(File);
    if (DhIoctl(File, WSKB_IOCTL_HELLO, &Hello, sizeof(Hello), sizeof(WSKB_HELLO_OUT), NULL) < 0)
        DhDie("HELLO failed");
    return File;
}

static int DhIsOpen(KSIM_FILE *File)
{
    unsigned i;
    for (i = 0; i < DH_MAX_FILES; i++)
        if (DhFiles[i] == File)
            return 1;
    return 0;
}

void DhClose(KSIM_FILE *File)
{
    unsigned i;
    /* Like an application that tracks its handles: once a thread starts closing it, no thread
     * issues more I/O on it or closes it again (DhIoctlStart answers STATUS_INVALID_HANDLE). */
    if (!DhIsOpen(File))
        return;
    for (i = 0; i < DH_MAX_FILES; i++)
        if (DhFiles[i] == File)
            DhFiles[i] = NULL;
    KsimClose(File);
}

uint64_t DhSocket(KSIM_FILE *File, uint16_t Family, uint32_t Kind)
{
    WSKB_SOCKET_CREATE_IN In = { Family, (uint16_t)(Kind == 4 ? 2 : 1), Kind == 4 ? 17u : 6u, Kind, 0 };
    DH_IO Io;
    WSKB_SOCKET_ID Id;
    if (DhIoctl(File, WSKB_IOCTL_SOCKET_CREATE, &In, sizeof(In), sizeof(Id), &Io) < 0 || Io.OutputLength < sizeof(Id))
        return 0;
    memcpy(&Id, Io.Output, sizeof(Id));
    return Id.SocketId;
}

int32_t DhBindLoopback(KSIM_FILE *File, uint64_t Id, uint16_t Family, uint16_t Port)
{
    WSKB_ADDRESS_IN In;
    memset(&In, 0, sizeof(In));
    In.SocketId = Id;
    In.Address.Family = Family;
    In.Address.Port = Port;
    if (Family == DH_AF_INET6)
        In.Address.Address[15] = 1;
    else
        In.Address.Address[0] = 127, In.Address.Address[3] = 1;
    return DhIoctl(File, WSKB_IOCTL_BIND, &In, sizeof(In), 0, NULL);
}

uint16_t DhLocalPort(KSIM_FILE *File, uint64_t Id)
{
    WSKB_GET_ADDRESS_IN In = { Id, WSKB_ADDRESS_LOCAL, 0 };
    WSKB_SOCKADDR Address;
    DH_IO Io;
    if (DhIoctl(File, WSKB_IOCTL_GET_ADDRESS, &In, sizeof(In), sizeof(Address), &Io) < 0 ||
        Io.OutputLength < sizeof(Address))
        return 0;
    memcpy(&Address, Io.Output, sizeof(Address));
    return Address.Port;
}

int32_t DhSetOption(KSIM_FILE *File, uint64_t Id, uint32_t Level, uint32_t Option, uint32_t Value)
{
    struct {
        WSKB_CONTROL_SOCKET_IN Header;
        uint32_t Value;
    } In;
    DH_IO Io;
    memset(&In, 0, sizeof(In));
    In.Header.SocketId = Id;
    In.Header.RequestType = 0; /* WskSetOption */
    In.Header.ControlCode = Option;
    In.Header.Level = Level;
    In.Header.InputLength = sizeof(uint32_t);
    /* SO_WSK_EVENT_CALLBACK goes without an IRP (as documented); other options with one. */
    In.Header.Flags = Option == DH_SO_WSK_EVENT_CALLBACK ? 0 : WSKB_CONTROL_FLAG_USE_IRP;
    In.Value = Value;
    if (DhIoctl(File, WSKB_IOCTL_CONTROL_SOCKET, &In, sizeof(In.Header) + sizeof(uint32_t), sizeof(WSKB_CONTROL_OUT),
                &Io) < 0)
        return Io.Status;
    if (Io.OutputLength >= sizeof(WSKB_CONTROL_OUT)) {
        WSKB_CONTROL_OUT Out;
        memcpy(&Out, Io.Output, sizeof(Out));
        return Out.CallStatus == 0x103 /* STATUS_PENDING */ ? Out.IrpStatus : Out.CallStatus;
    }
    return Io.Status;
}

int32_t DhEnableEvents(KSIM_FILE *File, uint64_t Id, uint32_t Mask)
{
    return DhSetOption(File, Id, DH_SOL_SOCKET, DH_SO_WSK_EVENT_CALLBACK, Mask);
}

int32_t DhCloseSocket(KSIM_FILE *File, uint64_t Id)
{
    WSKB_SOCKET_ID In = { Id };
    return DhIoctl(File, WSKB_IOCTL_CLOSE, &In, sizeof(In), 0, NULL);
}

int DhFindEvent(const DH_IO *Io, uint32_t Type, WSKB_EVENT_HEADER *Found)
{
    size_t Offset = 0, Length = Io->OutputLength < sizeof(Io->Output) ? Io->OutputLength : sizeof(Io->Output);
    if (Io->Status < 0)
        return 0;
    while (Offset + sizeof(WSKB_EVENT_HEADER) <= Length) {
        WSKB_EVENT_HEADER Header;
        memcpy(&Header, Io->Output + Offset, sizeof(Header));
        if (Header.Size < sizeof(Header))
            break;
        if (Header.Type == Type) {
            *Found = Header;
            return 1;
        }
        Offset += Header.Size;
    }
    return 0;
}

static KSIM_MEMORY_ADDRESS DhLoopback(uint16_t Family, uint16_t Port)
{
    KSIM_MEMORY_ADDRESS A;
    memset(&A, 0, sizeof(A));
    A.Family = Family == DH_AF_INET6 ? 6 : 4;
    A.Port = Port;
    if (A.Family == 6)
        A.Address[15] = 1;
    else
        A.Address[0] = 127, A.Address[3] = 1;
    return A;
}

/* A peer socket: made, then Setup (bind, listen, connect...) or closed again. */
static int64_t DhPeerMake(uint16_t Family, int Stream, uint16_t Port, int (*Setup)(int64_t, const KSIM_MEMORY_ADDRESS *))
{
    int64_t Handle;
    KSIM_MEMORY_ADDRESS At = DhLoopback(Family, Port);
    if (KsimMemoryNetSocket(At.Family, Stream, &Handle) != 0)
        return -1;
    if (Setup(Handle, &At) != 0) {
        KsimMemoryNetClose(Handle, 1);
        return -1;
    }
    return DhPeerKeep(Handle);
}

static int DhSetupConnect(int64_t Handle, const KSIM_MEMORY_ADDRESS *At)
{
    return KsimMemoryNetConnect(Handle, At) == KSIM_MEMORY_NET_E_INPROGRESS ? 0 : -1;
}

static int DhSetupListen(int64_t Handle, const KSIM_MEMORY_ADDRESS *At)
{
    return KsimMemoryNetBind(Handle, At) != 0 ? -1 : KsimMemoryNetListen(Handle, 16);
}

int64_t DhPeerConnect(uint16_t Family, uint16_t Port)
{
    return DhPeerMake(Family, 1, Port, DhSetupConnect);
}

int64_t DhPeerListen(uint16_t Family, uint16_t Port)
{
    return DhPeerMake(Family, 1, Port, DhSetupListen);
}

int64_t DhPeerUdp(uint16_t Family, uint16_t Port)
{
    return DhPeerMake(Family, 0, Port, KsimMemoryNetBind);
}

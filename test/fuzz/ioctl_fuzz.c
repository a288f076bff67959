/* SPDX-License-Identifier: MIT
 *
 * libFuzzer target: random sequences of IOCTLs with random buffers, network events from peers and
 * schedule choices, through ksim's I/O manager (the same path DeviceIoControl takes on Windows)
 * into the unchanged driver, on ksim's deterministic scheduler and in-memory network: no host
 * socket, no thread, no clock, so one input is one exactly reproducible run.
 *
 * The driver stays loaded from one input to the next. One input = sessions opened, the operations
 * the input encodes, sessions and peers closed, and then the check that pool, IRPs and MDLs are back
 * at what DriverEntry left, no socket is open, nothing was written after its free, and the verifier
 * saw nothing (it runs in abort mode: a double completion, an IRQL violation or a use after close is
 * a crash libFuzzer reports, like ASan and UBSan findings).
 *
 * Input format: u64 scheduler seed (the schedule choices), then, repeated until the input is used up:
 *   u8 op       op % 16:
 *     0-5  ioctl:  u8 select (< 0xF0: a WSKB_IOCTL_* by index, else a raw u32 follows), u16 inlen,
 *                  u16 outlen (each: top four bits set = a large length, (low 12 bits) * 322, up
 *                  to 1.3 MB, past WSKB_MAX_IO_BYTES; else the low 13 bits), u8 idsel (bit 7: the leading
 *                  socket id becomes a known id, idsel % known ids), then the input bytes
 *     6    cancel all I/O of the session      7   switch session
 *     8    peer connects: u8 (bit 0 IPv6, bits 1-2 which of our ports)
 *     9    peer sends: u8 peer, u8 length, bytes   10  peer FIN: u8 peer   11  peer RST: u8 peer
 *     12   peer datagram: u8 (bit 0 IPv6, bits 1-2 port), u8 length, bytes
 *     13   peer listeners accept what waits        14  let every thread run until idle
 *     15   the next op runs on a new simulated thread (a concurrent caller)
 *
 * Network: every address the fuzzer writes is made loopback, and every non-zero port one of
 * FUZZ_PORT_BASE+0..7: 0-3 are for the driver's sockets (peers connect and send there), 4-5 have
 * peer listeners (IPv4, IPv6) and 6-7 peer UDP sockets, so CONNECT and SEND_TO reach someone.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../determ/determ_harness.h"

#define FUZZ_MAX_IDS 64
#define FUZZ_MAX_OPS 48

static const uint32_t FuzzKnownCodes[] = {
    WSKB_IOCTL_HELLO,       WSKB_IOCTL_CONTROL_CLIENT, WSKB_IOCTL_SOCKET_CREATE, WSKB_IOCTL_BIND,
    WSKB_IOCTL_CONNECT,     WSKB_IOCTL_ACCEPT,         WSKB_IOCTL_SEND,          WSKB_IOCTL_RECEIVE,
    WSKB_IOCTL_SEND_TO,     WSKB_IOCTL_RECEIVE_FROM,   WSKB_IOCTL_DISCONNECT,    WSKB_IOCTL_GET_ADDRESS,
    WSKB_IOCTL_CONTROL_SOCKET, WSKB_IOCTL_CLOSE,       WSKB_IOCTL_READ_EVENTS,   WSKB_IOCTL_INSPECT_COMPLETE,
    WSKB_IOCTL_STATS,       WSKB_IOCTL_SOCKET_FLOW,
};
#define FUZZ_KNOWN_COUNT (sizeof(FuzzKnownCodes) / sizeof(FuzzKnownCodes[0]))

#define FUZZ_PORT_BASE 41000u

/* Socket ids learnt from completions (SOCKET_CREATE, ACCEPT, ACCEPT events). One host thread. */
static uint64_t FuzzIds[FUZZ_MAX_IDS];
static unsigned FuzzIdCount;

typedef struct _FUZZ_REQUEST {
    uint32_t Code;
} FUZZ_REQUEST;

static void FuzzRememberId(uint64_t Id)
{
    if (Id && FuzzIdCount < FUZZ_MAX_IDS)
        FuzzIds[FuzzIdCount++] = Id;
}

static void FuzzCompletion(void *Context, int32_t Status, uint64_t Information, const void *Output,
                           uint32_t OutputLength)
{
    FUZZ_REQUEST *Request = Context;
    if (Status >= 0 && Request->Code == WSKB_IOCTL_SOCKET_CREATE && OutputLength >= sizeof(WSKB_SOCKET_ID)) {
        WSKB_SOCKET_ID Id;
        memcpy(&Id, Output, sizeof(Id));
        FuzzRememberId(Id.SocketId);
    } else if (Status >= 0 && Request->Code == WSKB_IOCTL_ACCEPT && OutputLength >= sizeof(WSKB_ACCEPT_OUT)) {
        WSKB_ACCEPT_OUT Accept;
        memcpy(&Accept, Output, sizeof(Accept));
        FuzzRememberId(Accept.AcceptedSocketId);
    } else if (Status >= 0 && Request->Code == WSKB_IOCTL_READ_EVENTS) {
        /* Sockets accepted through WskAcceptEvent: the fuzzer can then act on them (and race
         * their hand-over). */
        size_t Offset = 0;
        while (Offset + sizeof(WSKB_EVENT_HEADER) <= OutputLength) {
            WSKB_EVENT_HEADER Header;
            memcpy(&Header, (const uint8_t *)Output + Offset, sizeof(Header));
            if (Header.Size < sizeof(Header) || Header.Size > OutputLength - Offset)
                break;
            if (Header.Type == WSKB_EVENT_ACCEPT)
                FuzzRememberId(Header.Param);
            Offset += Header.Size;
        }
    }
    /* The I/O manager reports at most what was asked for; more would be an overflow. */
    (void)Information;
    free(Request);
}

static uint16_t FuzzPort(uint16_t Port)
{
    return Port ? (uint16_t)(FUZZ_PORT_BASE + Port % 8u) : 0;
}

/* Rewrites a wire address so that it can only name loopback. */
static void FuzzLoopbackWire(uint8_t *Buffer, size_t Length, size_t Offset)
{
    WSKB_SOCKADDR Address;
    if (Offset + sizeof(Address) > Length)
        return;
    memcpy(&Address, Buffer + Offset, sizeof(Address));
    memset(Address.Address, 0, sizeof(Address.Address));
    Address.Port = FuzzPort(Address.Port);
    if (Address.Family == 23) {
        Address.Address[15] = 1;            /* ::1 */
    } else {
        Address.Address[0] = 127;           /* 127.0.0.1 (and any other family, harmlessly) */
        Address.Address[3] = 1;
    }
    memcpy(Buffer + Offset, &Address, sizeof(Address));
}

/* Rewrites a Windows SOCKADDR inside raw WSK control input (SIO_WSK_SET_REMOTE_ADDRESS and
 * SIO_WSK_SET_SENDTO_ADDRESS take one). */
static void FuzzLoopbackRawSockaddr(uint8_t *Buffer, size_t Length, size_t Offset)
{
    if (Offset + 2 > Length)
        return;
    uint16_t Family, Port;
    memcpy(&Family, Buffer + Offset, 2);
    if (Offset + 4 <= Length) {
        /* sin_port / sin6_port, network order */
        Port = (uint16_t)((Buffer[Offset + 2] << 8) | Buffer[Offset + 3]);
        Port = FuzzPort(Port);
        Buffer[Offset + 2] = (uint8_t)(Port >> 8);
        Buffer[Offset + 3] = (uint8_t)Port;
    }
    if (Family == 23) {
        for (size_t i = 8; i < 24 && Offset + i < Length; i++)
            Buffer[Offset + i] = (i == 23) ? 1 : 0;
    } else {
        static const uint8_t Loopback[4] = {127, 0, 0, 1};
        for (size_t i = 0; i < 4 && Offset + 4 + i < Length; i++)
            Buffer[Offset + 4 + i] = Loopback[i];
    }
}

static void FuzzSanitize(uint32_t Code, uint8_t *Input, size_t Length)
{
    if (Code == WSKB_IOCTL_BIND || Code == WSKB_IOCTL_CONNECT || Code == WSKB_IOCTL_SEND_TO)
        FuzzLoopbackWire(Input, Length, 8);
    if (Code == WSKB_IOCTL_CONTROL_SOCKET && Length >= sizeof(WSKB_CONTROL_SOCKET_IN)) {
        WSKB_CONTROL_SOCKET_IN Control;
        memcpy(&Control, Input, sizeof(Control));
        if (Control.ControlCode == 0x8F000001u || Control.ControlCode == 0x8F000006u)
            FuzzLoopbackRawSockaddr(Input, Length, sizeof(Control));
    }
}

/* Up to Want bytes of the input into Out, which is zero already where the input runs short (a
 * large length would otherwise be written twice, a page fault per page). */
static size_t FuzzTakeIntoZeroed(const uint8_t **Data, size_t *Size, void *Out, size_t Want)
{
    size_t Take = *Size < Want ? *Size : Want;
    memcpy(Out, *Data, Take);
    *Data += Take;
    *Size -= Take;
    return Take;
}

/* Want bytes of the input into Out, zeros where the input runs short. */
static size_t FuzzTake(const uint8_t **Data, size_t *Size, void *Out, size_t Want)
{
    size_t Take = FuzzTakeIntoZeroed(Data, Size, Out, Want);
    memset((uint8_t *)Out + Take, 0, Want - Take);
    return Take;
}

static uint32_t FuzzLength(uint16_t Encoded)
{
    /* Large lengths one time in sixteen: each costs the I/O manager a buffer of that size (copied
     * in, and out under METHOD_BUFFERED), which at one in two was most of an input's time. */
    return (Encoded & 0xF000u) == 0xF000u ? (uint32_t)(Encoded & 0x0FFFu) * 322u : (uint32_t)(Encoded & 0x1FFFu);
}

/* Calls with a large input reuse a few buffers of the largest size: a fresh MB-sized calloc per
 * call (its pages faulted in, ASan's shadow poisoned and unpoisoned) was a good part of an
 * input's time. A reused buffer is zeroed where the last call wrote: its input bytes, at least the
 * first FUZZ_DIRTY_MIN (FuzzSanitize and the known-id patch write there). */
#define FUZZ_LARGE_INPUT (64u * 1024u)
#define FUZZ_LARGE_BUFFERS 4
#define FUZZ_DIRTY_MIN 4096u
#define FUZZ_MAX_LENGTH (0x0FFFu * 322u)
typedef struct _FUZZ_CALL FUZZ_CALL;
static FUZZ_CALL *FuzzLargeFree[FUZZ_LARGE_BUFFERS];
static size_t FuzzLargeDirty[FUZZ_LARGE_BUFFERS];
static unsigned FuzzLargeFreeCount;

struct _FUZZ_CALL {
    KSIM_FILE *File;
    uint32_t Code;
    uint32_t InputLength;
    uint32_t OutputLength;
    size_t Written;  /* input bytes this call wrote (a large buffer is zeroed that far for the next) */
    int Large;       /* one of the FuzzLargeFree buffers */
    uint8_t Input[];
};

/* A call whose InputLength bytes of input are zero. */
static FUZZ_CALL *FuzzCallAllocate(uint32_t InputLength)
{
    FUZZ_CALL *Call;
    if (InputLength < FUZZ_LARGE_INPUT)
        Call = calloc(1, sizeof(*Call) + (InputLength ? InputLength : 1));
    else if (FuzzLargeFreeCount) {
        FuzzLargeFreeCount--;
        Call = FuzzLargeFree[FuzzLargeFreeCount];
        memset(Call->Input, 0, FuzzLargeDirty[FuzzLargeFreeCount]);
        Call->Large = 1;
    } else {
        Call = calloc(1, sizeof(*Call) + FUZZ_MAX_LENGTH);
        if (Call)
            Call->Large = 1;
    }
    if (!Call)
        abort();
    return Call;
}

static void FuzzCallFree(FUZZ_CALL *Call)
{
    if (Call->Large && FuzzLargeFreeCount < FUZZ_LARGE_BUFFERS) {
        size_t Dirty = Call->Written > FUZZ_DIRTY_MIN ? Call->Written : FUZZ_DIRTY_MIN;
        FuzzLargeDirty[FuzzLargeFreeCount] = Dirty < FUZZ_MAX_LENGTH ? Dirty : FUZZ_MAX_LENGTH;
        FuzzLargeFree[FuzzLargeFreeCount++] = Call;
        return;
    }
    free(Call);
}

static void FuzzIssue(KSIM_FILE *File, uint32_t Code, const uint8_t *Input, uint32_t InputLength, uint32_t OutputLength)
{
    FUZZ_REQUEST *Request = malloc(sizeof(*Request));
    if (!Request)
        abort();
    Request->Code = Code;
    KsimDeviceIoControl(File, Code, Input, InputLength, OutputLength, FuzzCompletion, Request);
}

/* A concurrent caller: issues one IOCTL on a simulated thread of its own. */
static void FuzzThread(void *Context)
{
    FUZZ_CALL *Call = Context;
    FuzzIssue(Call->File, Call->Code, Call->Input, Call->InputLength, Call->OutputLength);
    FuzzCallFree(Call);
}

static KSIM_MEMORY_ADDRESS FuzzPeerAddress(uint8_t Selector, unsigned Base)
{
    KSIM_MEMORY_ADDRESS A;
    memset(&A, 0, sizeof(A));
    A.Family = (Selector & 1) ? 6 : 4;
    A.Port = (uint16_t)(FUZZ_PORT_BASE + Base + ((Selector >> 1) & 3u));
    if (A.Family == 6)
        A.Address[15] = 1;
    else
        A.Address[0] = 127, A.Address[3] = 1;
    return A;
}

static uint64_t FuzzExecutions;

static void FuzzReportExecutions(void)
{
    /* The driver stayed loaded across inputs: unload it now, so that what the process leaks at
     * exit (LeakSanitizer's check) is a leak, not DriverEntry's allocations. */
    DhUnloadKept();
    /* .ci/run shows this line: how many sequences ran, whatever libFuzzer prints. */
    fprintf(stderr, "ioctl_fuzz: %llu inputs executed (deterministic scheduler, in-memory network)\n",
            (unsigned long long)FuzzExecutions);
}

int LLVMFuzzerInitialize(int *Argc, char ***Argv)
{
    (void)Argc;
    (void)Argv;
    DhKeepDriverLoaded(1);
    DhSetReplayCommand("the input being run (libFuzzer saves it as the crash artifact); seed %llu", 0);
    atexit(FuzzReportExecutions);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *Data, size_t Size)
{
    KSIM_FILE *Files[2];
    unsigned Current = 0, Ops = 0;
    uint64_t Seed = 0;
    int NextOnThread = 0;
    const char *Left;

    FuzzTake(&Data, &Size, &Seed, sizeof(Seed));
    DhBegin(Seed, 1);
    FuzzExecutions++;
    /* The second session is opened when the input first switches to it: closing a session
     * sweeps its whole socket table (8192 slots, a spin lock each), most of an input's time. */
    Files[0] = Files[1] = NULL;
    if (KsimOpenOnNetwork(WSKB_USER_PATH, "memory", &Files[0]) < 0 || !Files[0])
        abort();
    DhAdopt(Files[0]);
    FuzzIdCount = 0;
    /* The peers' listeners and UDP sockets the driver's sockets can reach. */
    (void)DhPeerListen(DH_AF_INET, (uint16_t)(FUZZ_PORT_BASE + 4));
    (void)DhPeerListen(DH_AF_INET6, (uint16_t)(FUZZ_PORT_BASE + 5));
    (void)DhPeerUdp(DH_AF_INET, (uint16_t)(FUZZ_PORT_BASE + 6));
    (void)DhPeerUdp(DH_AF_INET6, (uint16_t)(FUZZ_PORT_BASE + 7));

    while (Size >= 1 && Ops++ < FUZZ_MAX_OPS) {
        uint8_t Op, Select, IdSelect, Arg, Length;
        uint16_t InEncoded, OutEncoded;
        uint32_t Code;
        FuzzTake(&Data, &Size, &Op, 1);
        switch (Op % 16) {
        case 6:
            KsimCancelIo(Files[Current]);
            continue;
        case 7:
            Current ^= 1;
            if (!Files[Current]) {
                if (KsimOpenOnNetwork(WSKB_USER_PATH, "memory", &Files[Current]) < 0 || !Files[Current])
                    abort();
                DhAdopt(Files[Current]);
            }
            continue;
        case 8: {
            KSIM_MEMORY_ADDRESS To;
            int64_t Peer;
            FuzzTake(&Data, &Size, &Arg, 1);
            To = FuzzPeerAddress(Arg, 0);
            if (KsimMemoryNetSocket(To.Family, 1, &Peer) == 0) {
                (void)KsimMemoryNetConnect(Peer, &To);
                (void)DhPeerKeep(Peer);
            }
            continue;
        }
        case 9:
        case 12: {
            uint8_t Bytes[255];
            size_t Sent;
            FuzzTake(&Data, &Size, &Arg, 1);
            FuzzTake(&Data, &Size, &Length, 1);
            FuzzTake(&Data, &Size, Bytes, Length);
            if (Op % 16 == 9) {
                if (DhPeerCount())
                    (void)KsimMemoryNetSend(DhPeerAt(Arg % DhPeerCount()), Bytes, Length, &Sent);
            } else {
                KSIM_MEMORY_ADDRESS To = FuzzPeerAddress(Arg, 0);
                (void)KsimMemoryNetSendTo(DhPeerAt(To.Family == 6 ? 3 : 2), Bytes, Length, &To);
            }
            continue;
        }
        case 10:
        case 11:
            FuzzTake(&Data, &Size, &Arg, 1);
            if (DhPeerCount() > 4) {
                /* The peer's own sockets, never its listeners (0-3): a FIN, or a reset (the handle
                 * then reads as closed). */
                int64_t Peer = DhPeerAt(4 + Arg % (DhPeerCount() - 4));
                if (Op % 16 == 10)
                    (void)KsimMemoryNetShutdownSend(Peer);
                else
                    KsimMemoryNetClose(Peer, 1);
            }
            continue;
        case 13:
            for (unsigned i = 0; i < 2; i++) {
                int64_t Accepted;
                KSIM_MEMORY_ADDRESS Remote;
                while (KsimMemoryNetAccept(DhPeerAt(i), &Accepted, &Remote) == 0)
                    if (DhPeerKeep(Accepted) < 0)
                        break;
            }
            continue;
        case 14:
            (void)KsimDetermRunUntilIdle();
            continue;
        case 15:
            NextOnThread = 1;
            continue;
        default:
            break;
        }
        FuzzTake(&Data, &Size, &Select, 1);
        if (Select < 0xF0)
            Code = FuzzKnownCodes[Select % FUZZ_KNOWN_COUNT];
        else
            FuzzTake(&Data, &Size, &Code, 4);
        FuzzTake(&Data, &Size, &InEncoded, 2);
        FuzzTake(&Data, &Size, &OutEncoded, 2);
        FuzzTake(&Data, &Size, &IdSelect, 1);

        uint32_t InputLength = FuzzLength(InEncoded);
        uint32_t OutputLength = FuzzLength(OutEncoded);
        FUZZ_CALL *Call = FuzzCallAllocate(InputLength);
        Call->Written = FuzzTakeIntoZeroed(&Data, &Size, Call->Input, InputLength);
        if ((IdSelect & 0x80) && InputLength >= 8 && FuzzIdCount)
            memcpy(Call->Input, &FuzzIds[IdSelect % FuzzIdCount], 8);
        FuzzSanitize(Code, Call->Input, InputLength);
        Call->File = Files[Current];
        Call->Code = Code;
        Call->InputLength = InputLength;
        Call->OutputLength = OutputLength;
        if (NextOnThread && KsimDetermSpawn(FuzzThread, Call) >= 0) {
            NextOnThread = 0;
            continue;
        }
        NextOnThread = 0;
        FuzzIssue(Call->File, Code, Call->Input, InputLength, OutputLength);
        FuzzCallFree(Call);
    }

    /* Closing every session must return the driver's pool to what DriverEntry left. */
    Left = DhEnd();
    if (Left) {
        fprintf(stderr, "ioctl_fuzz: %s\n", Left);
        abort();
    }
    return 0;
}

/* SPDX-License-Identifier: MIT
 *
 * libFuzzer target: random sequences of IOCTLs with random buffers, through ksim's I/O manager
 * (the same path DeviceIoControl takes on Windows) into the unchanged driver.
 *
 * One input = one driver lifetime: load, open one or two sessions, run the operations the input
 * encodes, close, unload. The verifier runs in abort mode, so a double completion, an IRQL
 * violation, a pool leak at unload or a use after close is a crash libFuzzer reports, like ASan
 * and UBSan findings.
 *
 * Input format, repeated until the input is used up:
 *   u8 op       op % 8: 0-5 ioctl, 6 cancel all I/O of the session, 7 switch session
 *   u8 select   ioctl code: select < 0xF0 picks a WSKB_IOCTL_* by index, else a raw u32 follows
 *   u16 inlen   input length (0x8000 bit: use a large length, inlen * 37)
 *   u16 outlen  output length (same encoding)
 *   u8 idsel    bit 7: overwrite the leading socket id with a known id (idsel % known ids)
 *   bytes       input bytes, taken from the data (zero-filled when the data runs out)
 *
 * Network safety: every address the fuzzer writes is turned into a loopback address before it
 * reaches the driver, so WSK (host sockets under ksim) only ever talks to 127.0.0.1 or ::1.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>

#include "ksim.h"
#include "protocol.h"

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

/* Socket ids learnt from completions (SOCKET_CREATE, ACCEPT); written from any thread. */
static pthread_mutex_t FuzzIdLock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t FuzzIds[FUZZ_MAX_IDS];
static unsigned FuzzIdCount;

typedef struct _FUZZ_REQUEST {
    uint32_t Code;
} FUZZ_REQUEST;

static void FuzzRememberId(uint64_t Id)
{
    pthread_mutex_lock(&FuzzIdLock);
    if (FuzzIdCount < FUZZ_MAX_IDS)
        FuzzIds[FuzzIdCount++] = Id;
    pthread_mutex_unlock(&FuzzIdLock);
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
    }
    /* The I/O manager reports at most what was asked for; more would be an overflow. */
    (void)Information;
    free(Request);
}

/* Rewrites a wire address so that it can only name loopback. */
static void FuzzLoopbackWire(uint8_t *Buffer, size_t Length, size_t Offset)
{
    WSKB_SOCKADDR Address;
    if (Offset + sizeof(Address) > Length)
        return;
    memcpy(&Address, Buffer + Offset, sizeof(Address));
    memset(Address.Address, 0, sizeof(Address.Address));
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
    uint16_t Family;
    memcpy(&Family, Buffer + Offset, 2);
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

static size_t FuzzTake(const uint8_t **Data, size_t *Size, void *Out, size_t Want)
{
    size_t Take = *Size < Want ? *Size : Want;
    memcpy(Out, *Data, Take);
    memset((uint8_t *)Out + Take, 0, Want - Take);
    *Data += Take;
    *Size -= Take;
    return Take;
}

static uint32_t FuzzLength(uint16_t Encoded)
{
    return (Encoded & 0x8000u) ? (uint32_t)(Encoded & 0x7FFFu) * 37u : Encoded;
}

int LLVMFuzzerInitialize(int *Argc, char ***Argv)
{
    (void)Argc;
    (void)Argv;
    KsimVerifierSetAbortOnFailure(1);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *Data, size_t Size)
{
    KSIM_FILE *Files[2] = {NULL, NULL};
    unsigned Current = 0;
    unsigned Ops = 0;
    KSIM_COUNTERS Counters;

    if (KsimDriverLoad() < 0)
        abort();
    for (unsigned i = 0; i < 2; i++)
        if (KsimOpen(WSKB_USER_PATH, &Files[i]) < 0)
            abort();
    pthread_mutex_lock(&FuzzIdLock);
    FuzzIdCount = 0;
    pthread_mutex_unlock(&FuzzIdLock);

    while (Size >= 4 && Ops++ < FUZZ_MAX_OPS) {
        uint8_t Op, Select, IdSelect;
        uint16_t InEncoded, OutEncoded;
        uint32_t Code;
        FuzzTake(&Data, &Size, &Op, 1);
        if (Op % 8 == 6) {
            KsimCancelIo(Files[Current]);
            continue;
        }
        if (Op % 8 == 7) {
            Current ^= 1;
            continue;
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
        uint8_t *Input = calloc(1, InputLength ? InputLength : 1);
        FUZZ_REQUEST *Request = malloc(sizeof(*Request));
        if (!Input || !Request)
            abort();
        FuzzTake(&Data, &Size, Input, InputLength);
        if ((IdSelect & 0x80) && InputLength >= 8) {
            pthread_mutex_lock(&FuzzIdLock);
            if (FuzzIdCount)
                memcpy(Input, &FuzzIds[IdSelect % FuzzIdCount], 8);
            pthread_mutex_unlock(&FuzzIdLock);
        }
        FuzzSanitize(Code, Input, InputLength);
        Request->Code = Code;
        KsimDeviceIoControl(Files[Current], Code, Input, InputLength, OutputLength, FuzzCompletion, Request);
        free(Input);
    }

    KsimClose(Files[0]);
    KsimClose(Files[1]);
    /* Closing every session must return the driver's pool to what DriverEntry left. */
    KsimDriverUnload();
    KsimGetCounters(&Counters);
    if (Counters.VerifierFailures != 0 || Counters.PoolAllocations != 0 || Counters.Irps != 0 ||
        Counters.Mdls != 0 || Counters.HostSockets != 0 || Counters.WskSockets != 0) {
        fprintf(stderr, "ioctl_fuzz: left behind: pool %llu irps %llu mdls %llu host sockets %llu wsk sockets %llu, verifier failures %llu\n",
                (unsigned long long)Counters.PoolAllocations, (unsigned long long)Counters.Irps,
                (unsigned long long)Counters.Mdls, (unsigned long long)Counters.HostSockets,
                (unsigned long long)Counters.WskSockets, (unsigned long long)Counters.VerifierFailures);
        abort();
    }
    return 0;
}

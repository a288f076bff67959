/* SPDX-License-Identifier: MIT
 *
 * The in-memory network's own contract (native/ksim/host/host_net_memory.c), through ksim.h's
 * KsimMemoryNet* calls, with no driver: connection setup and refusal (no listener, full backlog),
 * receive windows and partial writes, send-queued bytes draining as the reader reads, FIN after
 * queued data, resets (abortive close, close with unread data, data to a closed peer, a reset
 * before the connect was collected), UDP drops
 * under pressure (counted), IPv6, ephemeral ports in order and again after a reset. The choices
 * themselves are in docs/ksim-fidelity.md, "The in-memory network".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ksim.h"

static unsigned Checks, Failures;

#define CHECK(Condition)                                                                 \
    do {                                                                                 \
        Checks++;                                                                        \
        if (!(Condition)) {                                                              \
            Failures++;                                                                  \
            fprintf(stderr, "memory_net_test.c:%d: check failed: %s\n", __LINE__, #Condition); \
        }                                                                                \
    } while (0)

static KSIM_MEMORY_ADDRESS Loopback(int Family, uint16_t Port)
{
    KSIM_MEMORY_ADDRESS A;
    memset(&A, 0, sizeof(A));
    A.Family = (uint16_t)Family;
    A.Port = Port;
    if (Family == 6)
        A.Address[15] = 1;
    else
        A.Address[0] = 127, A.Address[3] = 1;
    return A;
}

static const char *Name(int Error)
{
    return KsimMemoryNetErrorName(Error);
}

/* A listener on 127.0.0.1 (or ::1) with an ephemeral port. */
static int64_t Listener(int Family, int Backlog, uint16_t *Port)
{
    int64_t L;
    KSIM_MEMORY_ADDRESS A = Loopback(Family, 0), Local;
    CHECK(KsimMemoryNetSocket(Family, 1, &L) == 0);
    CHECK(KsimMemoryNetBind(L, &A) == 0);
    CHECK(KsimMemoryNetListen(L, Backlog) == 0);
    CHECK(KsimMemoryNetLocalAddress(L, &Local) == 0);
    *Port = Local.Port;
    return L;
}

/* A connected pair: client C, server S accepted from L. */
static void Pair(int Family, int64_t *C, int64_t *S)
{
    uint16_t Port;
    int64_t L = Listener(Family, 4, &Port);
    KSIM_MEMORY_ADDRESS To = Loopback(Family, Port), Remote;
    CHECK(KsimMemoryNetSocket(Family, 1, C) == 0);
    CHECK(KsimMemoryNetConnect(*C, &To) == KSIM_MEMORY_NET_E_INPROGRESS);
    CHECK(KsimMemoryNetConnectResult(*C) == 0);
    CHECK(KsimMemoryNetAccept(L, S, &Remote) == 0);
    KsimMemoryNetClose(L, 0);
}

static void TestSetupAndRefusal(void)
{
    uint16_t Port;
    int64_t L, C[3], S, Refused;
    KSIM_MEMORY_ADDRESS To, Local, Remote;
    unsigned Events = 0;

    /* Nobody listens: the connect's result is ECONNREFUSED, and readiness says so. */
    CHECK(KsimMemoryNetSocket(4, 1, &Refused) == 0);
    To = Loopback(4, 9);
    CHECK(KsimMemoryNetConnect(Refused, &To) == KSIM_MEMORY_NET_E_INPROGRESS);
    CHECK(KsimMemoryNetReadiness(Refused, &Events) == 0 && (Events & KSIM_MEMORY_NET_ERROR));
    CHECK(!strcmp(Name(KsimMemoryNetConnectResult(Refused)), "ECONNREFUSED"));
    KsimMemoryNetClose(Refused, 0);

    /* A backlog of 2: the third connect is refused (Windows answers a full backlog with a reset). */
    L = Listener(4, 2, &Port);
    To = Loopback(4, Port);
    for (int i = 0; i < 3; i++) {
        CHECK(KsimMemoryNetSocket(4, 1, &C[i]) == 0);
        CHECK(KsimMemoryNetConnect(C[i], &To) == KSIM_MEMORY_NET_E_INPROGRESS);
    }
    CHECK(KsimMemoryNetConnectResult(C[0]) == 0);
    CHECK(KsimMemoryNetConnectResult(C[1]) == 0);
    CHECK(!strcmp(Name(KsimMemoryNetConnectResult(C[2])), "ECONNREFUSED"));
    CHECK(KsimMemoryNetReadiness(L, &Events) == 0 && (Events & KSIM_MEMORY_NET_READ));
    CHECK(KsimMemoryNetAccept(L, &S, &Remote) == 0);
    CHECK(KsimMemoryNetLocalAddress(C[0], &Local) == 0);
    CHECK(Remote.Port == Local.Port && Remote.Address[0] == 127); /* the first in, the first out */
    KsimMemoryNetClose(S, 1);
    /* Closing the listener resets the connection nobody accepted. */
    KsimMemoryNetClose(L, 0);
    {
        char Byte;
        size_t Got;
        CHECK(!strcmp(Name(KsimMemoryNetReceive(C[1], &Byte, 1, &Got)), "ECONNRESET"));
    }
    for (int i = 0; i < 3; i++)
        KsimMemoryNetClose(C[i], 1);

    /* Addresses: only loopback and the wildcard. */
    {
        int64_t B;
        KSIM_MEMORY_ADDRESS Elsewhere = Loopback(4, 0);
        Elsewhere.Address[0] = 192, Elsewhere.Address[1] = 0, Elsewhere.Address[2] = 2;
        CHECK(KsimMemoryNetSocket(4, 1, &B) == 0);
        CHECK(!strcmp(Name(KsimMemoryNetBind(B, &Elsewhere)), "EADDRNOTAVAIL"));
        KsimMemoryNetClose(B, 0);
    }
}

static void TestWindowsAndFin(void)
{
    int64_t C, S;
    static char Big[300 * 1024], Out[300 * 1024];
    size_t Sent = 0, Got = 0, Total = 0;
    unsigned Events;

    Pair(4, &C, &S);
    memset(Big, 'a', sizeof(Big));
    /* A write takes at most the send buffer's room (64 KiB), which then moves into the peer's
     * 64 KiB window; a second fills the send buffer again; a third would block. */
    CHECK(KsimMemoryNetSend(C, Big, sizeof(Big), &Sent) == 0 && Sent == 64 * 1024);
    CHECK(KsimMemoryNetSend(C, Big, sizeof(Big), &Got) == 0 && Got == 64 * 1024);
    Sent += Got;
    CHECK(KsimMemoryNetSend(C, Big, 1, &Got) == KSIM_MEMORY_NET_E_WOULDBLOCK);
    CHECK(KsimMemoryNetReadiness(C, &Events) == 0 && !(Events & KSIM_MEMORY_NET_WRITE));
    /* A partial read opens the window: the queued bytes move on. */
    CHECK(KsimMemoryNetReceive(S, Out, 1000, &Got) == 0 && Got == 1000);
    CHECK(KsimMemoryNetReadiness(C, &Events) == 0 && (Events & KSIM_MEMORY_NET_WRITE));
    /* The FIN follows the queued data. */
    CHECK(KsimMemoryNetShutdownSend(C) == 0);
    Total = 1000;
    for (;;) {
        int Error = KsimMemoryNetReceive(S, Out, sizeof(Out), &Got);
        CHECK(Error == 0);
        if (Error || Got == 0)
            break;
        Total += Got;
    }
    CHECK(Total == Sent);
    CHECK(KsimMemoryNetReadiness(S, &Events) == 0 && (Events & KSIM_MEMORY_NET_PEER_FIN));
    /* Half-closed: the other direction still works. */
    CHECK(KsimMemoryNetSend(S, "back", 4, &Sent) == 0 && Sent == 4);
    CHECK(KsimMemoryNetReceive(C, Out, sizeof(Out), &Got) == 0 && Got == 4 && !memcmp(Out, "back", 4));
    KsimMemoryNetClose(S, 0);
    KsimMemoryNetClose(C, 0);
}

static void TestResets(void)
{
    int64_t C, S;
    char Out[64];
    size_t Got, Sent;

    /* Closing with unread data resets the peer. */
    Pair(6, &C, &S);
    CHECK(KsimMemoryNetSend(C, "unread", 6, &Sent) == 0);
    KsimMemoryNetClose(S, 0);
    CHECK(!strcmp(Name(KsimMemoryNetReceive(C, Out, sizeof(Out), &Got)), "ECONNRESET"));
    /* Reported once; then the stream reads as ended. */
    CHECK(KsimMemoryNetReceive(C, Out, sizeof(Out), &Got) == 0 && Got == 0);
    KsimMemoryNetClose(C, 0);

    /* Data sent to a peer whose application closed it: a reset comes back. */
    Pair(4, &C, &S);
    KsimMemoryNetClose(S, 0); /* graceful: C sees the FIN */
    CHECK(KsimMemoryNetReceive(C, Out, sizeof(Out), &Got) == 0 && Got == 0);
    CHECK(KsimMemoryNetSend(C, "late", 4, &Sent) == 0);
    CHECK(!strcmp(Name(KsimMemoryNetSend(C, "later", 5, &Sent)), "ECONNRESET"));
    KsimMemoryNetClose(C, 0);

    /* Reset before the client collected its connect (a conditional-accept listener rejecting
     * at once): the connect's result is the reset, reported once; then the stream reads as
     * ended. */
    {
        uint16_t Port;
        int64_t L = Listener(4, 4, &Port);
        KSIM_MEMORY_ADDRESS To = Loopback(4, Port), Remote;
        CHECK(KsimMemoryNetSocket(4, 1, &C) == 0);
        CHECK(KsimMemoryNetConnect(C, &To) == KSIM_MEMORY_NET_E_INPROGRESS);
        CHECK(KsimMemoryNetAccept(L, &S, &Remote) == 0);
        KsimMemoryNetClose(S, 1);
        CHECK(!strcmp(Name(KsimMemoryNetConnectResult(C)), "ECONNRESET"));
        CHECK(KsimMemoryNetReceive(C, Out, sizeof(Out), &Got) == 0 && Got == 0);
        KsimMemoryNetClose(C, 0);
        KsimMemoryNetClose(L, 0);
    }
}

static void TestDatagrams(void)
{
    int64_t A, B;
    KSIM_MEMORY_ADDRESS Any = Loopback(4, 0), ToB, From;
    static char Datagram[4096];
    char Out[8192];
    size_t Got;
    int Truncated, Delivered = 0;
    uint64_t DroppedBefore = KsimMemoryNetDatagramsDropped();

    CHECK(KsimMemoryNetSocket(4, 0, &A) == 0 && KsimMemoryNetBind(A, &Any) == 0);
    CHECK(KsimMemoryNetSocket(4, 0, &B) == 0 && KsimMemoryNetBind(B, &Any) == 0);
    CHECK(KsimMemoryNetLocalAddress(B, &ToB) == 0);
    /* 64 KiB of queue: 16 datagrams of 4 KiB fit, the other 4 are dropped and counted. */
    for (int i = 0; i < 20; i++)
        CHECK(KsimMemoryNetSendTo(A, Datagram, sizeof(Datagram), &ToB) == 0);
    CHECK(KsimMemoryNetDatagramsDropped() - DroppedBefore == 4);
    while (KsimMemoryNetReceiveFrom(B, Out, sizeof(Out), &Got, &From, &Truncated) == 0) {
        CHECK(Got == sizeof(Datagram) && !Truncated);
        Delivered++;
    }
    CHECK(Delivered == 16);
    /* A datagram longer than the buffer: its head, truncated. */
    CHECK(KsimMemoryNetSendTo(A, Datagram, 100, &ToB) == 0);
    CHECK(KsimMemoryNetReceiveFrom(B, Out, 10, &Got, &From, &Truncated) == 0 && Got == 10 && Truncated);
    /* Too large for IPv4. */
    {
        static char Huge[70000];
        CHECK(!strcmp(Name(KsimMemoryNetSendTo(A, Huge, sizeof(Huge), &ToB)), "EMSGSIZE"));
    }
    KsimMemoryNetClose(A, 0);
    KsimMemoryNetClose(B, 0);
}

static void TestEphemeralPorts(void)
{
    int64_t A, B;
    KSIM_MEMORY_ADDRESS Any = Loopback(6, 0), LocalA, LocalB;
    CHECK(KsimMemoryNetReset() == 0);
    CHECK(KsimMemoryNetSocket(6, 1, &A) == 0 && KsimMemoryNetBind(A, &Any) == 0);
    CHECK(KsimMemoryNetSocket(6, 1, &B) == 0 && KsimMemoryNetBind(B, &Any) == 0);
    CHECK(KsimMemoryNetLocalAddress(A, &LocalA) == 0 && LocalA.Port == 49152);
    CHECK(KsimMemoryNetLocalAddress(B, &LocalB) == 0 && LocalB.Port == 49153);
    /* Not while a socket is open; after, the same ports again (a replay). */
    CHECK(KsimMemoryNetReset() != 0);
    KsimMemoryNetClose(A, 0);
    KsimMemoryNetClose(B, 0);
    CHECK(KsimMemoryNetReset() == 0);
    CHECK(KsimMemoryNetSocket(6, 1, &A) == 0 && KsimMemoryNetBind(A, &Any) == 0);
    CHECK(KsimMemoryNetLocalAddress(A, &LocalA) == 0 && LocalA.Port == 49152);
    KsimMemoryNetClose(A, 0);
}

int main(void)
{
    TestSetupAndRefusal();
    TestWindowsAndFin();
    TestResets();
    TestDatagrams();
    TestEphemeralPorts();
    /* Everything closed: nothing may be left (orphans that drained included). */
    CHECK(KsimMemoryNetReset() == 0);
    printf("memory_net_test: %u checks, %u failures\n", Checks, Failures);
    return Failures ? 1 : 0;
}

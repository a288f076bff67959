/* SPDX-License-Identifier: MIT
 *
 * The ksim host network layer's contract (native/ksim/host/host_net.h), checked the same way
 * against both implementations: host_net_posix.c natively and host_net_win.c under Wine
 * (scripts/test-wine.sh builds and runs both). Prints one line per check and
 * "N passed, N failed"; exits non-zero on failure.
 */
#include "host_net.h"

#include <stdio.h>
#include <string.h>

static int Passed, Failed;

static void
Check(int Ok, const char *What, int Detail)
{
    printf("%s %s (%d)\n", Ok ? "ok  " : "FAIL", What, Detail);
    fflush(stdout);
    if (Ok)
        Passed++;
    else
        Failed++;
}

/* The detail is read after the condition ran (function arguments have no order). */
#define CHECK(Condition, What, Detail)          \
    do {                                        \
        int Ok_ = (Condition);                  \
        Check(Ok_, (What), (int)(Detail));      \
    } while (0)

/* Waits until Context reports any of Mask; returns the events seen, 0 on timeout. */
static unsigned
WaitFor(HOST_NET_POLLER *Poller, void *Context, unsigned Mask, int TimeoutMs)
{
    HOST_NET_POLL_EVENT Events[16];
    int Waited = 0;
    while (Waited < TimeoutMs) {
        int i, Count = HostNetPollerWait(Poller, Events, 16, 50);
        for (i = 0; i < Count; i++)
            if (Events[i].Context == Context && (Events[i].Events & Mask))
                return Events[i].Events;
        Waited += 50;
    }
    return 0;
}

static HOST_NET_ADDRESS
Loopback4(uint16_t Port)
{
    HOST_NET_ADDRESS A;
    memset(&A, 0, sizeof(A));
    A.Family = HOST_NET_AF_INET;
    A.Port = Port;
    A.Address[0] = 127;
    A.Address[3] = 1;
    return A;
}

int
main(void)
{
    HOST_NET_POLLER *Poller = NULL;
    HOST_NET_SOCKET Listener, Client, Server, U1, U2, Refused;
    HOST_NET_ADDRESS Bound, Remote, Any = Loopback4(0);
    HOST_NET_IOVEC Vec[2];
    char Buffer[64], Small[4];
    size_t Bytes = 0;
    int Result, Truncated = 0, Value = 0;
    unsigned Events;
    uint64_t Baseline = HostNetOpenSockets();
    int ListenerTag, ClientTag, ServerTag, U2Tag, RefusedTag;

    CHECK(HostNetPollerCreate(&Poller) == HOST_NET_OK, "poller", 0);

    /* TCP: listen, non-blocking connect, accept, data both ways, FIN. */
    CHECK(HostNetSocket(HOST_NET_AF_INET, HOST_NET_STREAM, &Listener) == HOST_NET_OK, "tcp socket", 0);
    CHECK(HostNetBind(Listener, &Any) == HOST_NET_OK, "bind 127.0.0.1:0", 0);
    CHECK(HostNetListen(Listener, 16) == HOST_NET_OK, "listen", 0);
    CHECK(HostNetGetLocalAddress(Listener, &Bound) == HOST_NET_OK && Bound.Port != 0, "local address has a port", Bound.Port);
    CHECK(HostNetGetOption(Listener, HOST_NET_OPT_ACCEPTCONN, &Value) == HOST_NET_OK && Value, "SO_ACCEPTCONN on the listener", Value);
    CHECK(HostNetAccept(Listener, &Server, NULL) == HOST_NET_E_WOULDBLOCK, "accept with nobody connecting would block", 0);
    HostNetPollerSet(Poller, Listener, HOST_NET_POLL_READ, &ListenerTag);

    CHECK(HostNetSocket(HOST_NET_AF_INET, HOST_NET_STREAM, &Client) == HOST_NET_OK, "client socket", 0);
    Result = HostNetConnect(Client, &Bound);
    CHECK(Result == HOST_NET_OK || Result == HOST_NET_E_INPROGRESS, "non-blocking connect starts", Result);
    HostNetPollerSet(Poller, Client, HOST_NET_POLL_WRITE, &ClientTag);
    Events = WaitFor(Poller, &ClientTag, HOST_NET_POLL_WRITE, 3000);
    CHECK((Events & HOST_NET_POLL_WRITE) != 0, "connect completes: writable", (int)Events);
    CHECK(HostNetConnectResult(Client) == HOST_NET_OK, "connect result OK", 0);
    Events = WaitFor(Poller, &ListenerTag, HOST_NET_POLL_READ, 3000);
    CHECK((Events & HOST_NET_POLL_READ) != 0, "listener readable", (int)Events);
    Result = HostNetAccept(Listener, &Server, &Remote);
    CHECK(Result == HOST_NET_OK && Remote.Family == HOST_NET_AF_INET && Remote.Port != 0, "accept with remote address", Result);
    HostNetPollerSet(Poller, Client, 0, &ClientTag);
    HostNetPollerSet(Poller, Server, HOST_NET_POLL_READ | HOST_NET_POLL_RDHUP, &ServerTag);

    Vec[0].Base = "hel";
    Vec[0].Length = 3;
    Vec[1].Base = "lo";
    Vec[1].Length = 2;
    CHECK(HostNetSend(Client, Vec, 2, 0, &Bytes) == HOST_NET_OK && Bytes == 5, "gathered send", (int)Bytes);
    Events = WaitFor(Poller, &ServerTag, HOST_NET_POLL_READ, 3000);
    CHECK((Events & HOST_NET_POLL_READ) != 0, "server readable", (int)Events);
    CHECK(HostNetBytesAvailable(Server, &Bytes) == HOST_NET_OK && Bytes == 5, "5 bytes available", (int)Bytes);
    Vec[0].Base = Buffer;
    Vec[0].Length = 2;
    Vec[1].Base = Buffer + 2;
    Vec[1].Length = sizeof(Buffer) - 2;
    CHECK(HostNetReceive(Server, Vec, 2, &Bytes) == HOST_NET_OK && Bytes == 5 && memcmp(Buffer, "hello", 5) == 0,
          "scattered receive", (int)Bytes);
    CHECK(HostNetReceive(Server, Vec, 2, &Bytes) == HOST_NET_E_WOULDBLOCK, "empty receive would block", 0);
    CHECK(HostNetShutdownSend(Client) == HOST_NET_OK, "shutdown send", 0);
    Events = WaitFor(Poller, &ServerTag, HOST_NET_POLL_READ | HOST_NET_POLL_RDHUP | HOST_NET_POLL_HUP, 3000);
    CHECK(Events != 0, "FIN wakes the poller", (int)Events);
    CHECK(HostNetPeekClosed(Server, &Value) == HOST_NET_OK && Value == 1, "peek sees the FIN", Value);
    CHECK(HostNetReceive(Server, Vec, 2, &Bytes) == HOST_NET_OK && Bytes == 0, "receive reads end of stream", (int)Bytes);
    HostNetPollerRemove(Poller, Server);
    HostNetPollerRemove(Poller, Client);

    /* A reset (abortive close) is an error, not an end of stream: SO_ERROR says CONNRESET. */
    {
        HOST_NET_SOCKET Aborter, Victim;
        int VictimTag;
        CHECK(HostNetSocket(HOST_NET_AF_INET, HOST_NET_STREAM, &Aborter) == HOST_NET_OK, "socket to reset", 0);
        Result = HostNetConnect(Aborter, &Bound);
        Events = WaitFor(Poller, &ListenerTag, HOST_NET_POLL_READ, 3000);
        CHECK(HostNetAccept(Listener, &Victim, NULL) == HOST_NET_OK, "accept the connection to reset", Events);
        HostNetPollerSet(Poller, Victim, HOST_NET_POLL_READ | HOST_NET_POLL_RDHUP, &VictimTag);
        HostNetCloseAbortive(Aborter);
        Events = WaitFor(Poller, &VictimTag, HOST_NET_POLL_ERROR | HOST_NET_POLL_HUP | HOST_NET_POLL_READ, 3000);
        CHECK((Events & HOST_NET_POLL_ERROR) != 0, "a reset polls as an error", (int)Events);
        CHECK(HostNetGetOption(Victim, HOST_NET_OPT_ERROR, &Value) == HOST_NET_OK && Value == HOST_NET_E_CONNRESET,
              "SO_ERROR after a reset is CONNRESET", Value);
        HostNetPollerRemove(Poller, Victim);
        HostNetClose(Victim);
    }
    HostNetPollerRemove(Poller, Listener);

    /* A refused connect is reported (WSAPoll alone would not before Windows 10 2004). */
    CHECK(HostNetSocket(HOST_NET_AF_INET, HOST_NET_STREAM, &Refused) == HOST_NET_OK, "socket for a refused connect", 0);
    HostNetClose(Listener);
    Result = HostNetConnect(Refused, &Bound);
    if (Result == HOST_NET_E_INPROGRESS) {
        HostNetPollerSet(Poller, Refused, HOST_NET_POLL_WRITE, &RefusedTag);
        Events = WaitFor(Poller, &RefusedTag, HOST_NET_POLL_WRITE | HOST_NET_POLL_ERROR | HOST_NET_POLL_HUP, 5000);
        CHECK(Events != 0, "refused connect wakes the poller", (int)Events);
        Result = HostNetConnectResult(Refused);
        HostNetPollerRemove(Poller, Refused);
    }
    CHECK(Result == HOST_NET_E_CONNREFUSED, "connect to a closed port: CONNREFUSED", Result);

    /* UDP: exact size of the next datagram, truncation reported POSIX-style. */
    CHECK(HostNetSocket(HOST_NET_AF_INET, HOST_NET_DGRAM, &U1) == HOST_NET_OK, "udp socket 1", 0);
    CHECK(HostNetSocket(HOST_NET_AF_INET, HOST_NET_DGRAM, &U2) == HOST_NET_OK, "udp socket 2", 0);
    HostNetBind(U1, &Any);
    HostNetBind(U2, &Any);
    HostNetGetLocalAddress(U2, &Bound);
    HostNetPollerSet(Poller, U2, HOST_NET_POLL_READ, &U2Tag);
    Vec[0].Base = "datagram-one";
    Vec[0].Length = 12;
    CHECK(HostNetSendTo(U1, Vec, 1, &Bound, &Bytes) == HOST_NET_OK && Bytes == 12, "sendto", (int)Bytes);
    Vec[0].Base = "two";
    Vec[0].Length = 3;
    HostNetSendTo(U1, Vec, 1, &Bound, &Bytes);
    Events = WaitFor(Poller, &U2Tag, HOST_NET_POLL_READ, 3000);
    CHECK((Events & HOST_NET_POLL_READ) != 0, "udp readable", (int)Events);
    CHECK(HostNetBytesAvailable(U2, &Bytes) == HOST_NET_OK && Bytes == 12, "bytes available = next datagram only", (int)Bytes);
    Vec[0].Base = Small;
    Vec[0].Length = sizeof(Small);
    Result = HostNetReceiveFrom(U2, Vec, 1, &Bytes, &Remote, &Truncated);
    CHECK(Result == HOST_NET_OK && Bytes == 4 && Truncated == 1 && memcmp(Small, "data", 4) == 0 && Remote.Port != 0,
          "truncated datagram: head, flag, sender", (int)Bytes);
    Vec[0].Base = Buffer;
    Vec[0].Length = sizeof(Buffer);
    Result = HostNetReceiveFrom(U2, Vec, 1, &Bytes, &Remote, &Truncated);
    CHECK(Result == HOST_NET_OK && Bytes == 3 && Truncated == 0, "next datagram whole", (int)Bytes);
    /* A datagram to a closed port must not poison the sender's next receive. */
    HostNetGetLocalAddress(U2, &Bound);
    HostNetPollerRemove(Poller, U2);
    HostNetClose(U2);
    HostNetSendTo(U1, Vec, 1, &Bound, &Bytes);
    Result = HostNetReceiveFrom(U1, Vec, 1, &Bytes, &Remote, &Truncated);
    CHECK(Result == HOST_NET_E_WOULDBLOCK, "no connection reset on an unconnected UDP socket", Result);

    /* Wake-up from the same thread returns at once with no events. */
    HostNetPollerWake(Poller);
    {
        HOST_NET_POLL_EVENT E[4];
        CHECK(HostNetPollerWait(Poller, E, 4, 2000) == 0, "wake makes the wait return", 0);
    }

    HostNetCloseAbortive(Server);
    HostNetClose(Client);
    HostNetClose(Refused);
    HostNetClose(U1);
    CHECK(HostNetOpenSockets() == Baseline, "open socket count back at baseline", (int)HostNetOpenSockets());
    HostNetPollerDestroy(Poller);
    printf("%d passed, %d failed\n", Passed, Failed);
    return Failed ? 1 : 0;
}

/* SPDX-License-Identifier: MIT
 *
 * ksim host network layer, the Winsock 2 half (the sim backend on Windows, and under Wine):
 * what Winsock does differently from POSIX sockets; the rest is host_net_common.c (see
 * host_net_os.h). Where Winsock differs from POSIX in a way the provider would see, it is bent
 * towards POSIX here, with the reason next to it.
 */
#include "host_net_os.h"

#include <mstcpip.h>
#include <stdlib.h>
#include <string.h>

#ifndef WSA_FLAG_NO_HANDLE_INHERIT
#define WSA_FLAG_NO_HANDLE_INHERIT 0x80
#endif
#ifndef SIO_UDP_CONNRESET
#define SIO_UDP_CONNRESET _WSAIOW(IOC_VENDOR, 12)
#endif

#ifdef _MSC_VER
#define HOST_NET_THREAD_LOCAL __declspec(thread)
#else
#define HOST_NET_THREAD_LOCAL _Thread_local
#endif

static INIT_ONCE HostNetStartupOnce = INIT_ONCE_STATIC_INIT;
static int HostNetStartupError;

static BOOL CALLBACK
HostNetStartup(PINIT_ONCE Once, PVOID Parameter, PVOID *Context)
{
    WSADATA Data;
    (void)Once;
    (void)Parameter;
    (void)Context;
    /* Never paired with WSACleanup: the provider may hold sockets until the process ends. */
    HostNetStartupError = WSAStartup(MAKEWORD(2, 2), &Data);
    return TRUE;
}

int
HostNetFromOsError(int Error)
{
    switch (Error) {
    case 0:
        return HOST_NET_OK;
    case WSAEWOULDBLOCK:
        return HOST_NET_E_WOULDBLOCK;
    case WSAEINPROGRESS:
    case WSAEALREADY:
        return HOST_NET_E_INPROGRESS;
    case WSAECONNREFUSED:
        return HOST_NET_E_CONNREFUSED;
    case WSAECONNRESET:
        return HOST_NET_E_CONNRESET;
    case WSAECONNABORTED:
        return HOST_NET_E_CONNABORTED;
    case WSAEADDRINUSE:
        return HOST_NET_E_ADDRINUSE;
    case WSAEADDRNOTAVAIL:
        return HOST_NET_E_ADDRNOTAVAIL;
    case WSAENETUNREACH:
    case WSAENETDOWN:
    case WSAENETRESET:
        return HOST_NET_E_NETUNREACH;
    case WSAEHOSTUNREACH:
    case WSAEHOSTDOWN:
        return HOST_NET_E_HOSTUNREACH;
    case WSAETIMEDOUT:
        return HOST_NET_E_TIMEDOUT;
    case WSAEINVAL:
    case WSAEFAULT:
        return HOST_NET_E_INVAL;
    case WSAENOBUFS:
    case WSA_NOT_ENOUGH_MEMORY:
        return HOST_NET_E_NOMEM;
    case WSAEAFNOSUPPORT:
    case WSAEPFNOSUPPORT:
        return HOST_NET_E_AFNOSUPPORT;
    case WSAEPROTONOSUPPORT:
    case WSAESOCKTNOSUPPORT:
    case WSAEPROTOTYPE:
        return HOST_NET_E_PROTONOSUPPORT;
    case WSAESHUTDOWN:
        return HOST_NET_E_PIPE;
    case WSAENOTCONN:
        return HOST_NET_E_NOTCONN;
    case WSAEISCONN:
        return HOST_NET_E_ISCONN;
    case WSAEACCES:
        return HOST_NET_E_ACCES;
    case WSAEMSGSIZE:
        return HOST_NET_E_MSGSIZE;
    case WSAEMFILE:
        return HOST_NET_E_MFILE;
    case WSAENOPROTOOPT:
        return HOST_NET_E_NOPROTOOPT;
    default:
        return HOST_NET_E_OTHER;
    }
}

int
HostNetLastError(void)
{
    return HostNetFromOsError(WSAGetLastError());
}

int
HostNetOsPollInterrupted(void)
{
    return WSAGetLastError() == WSAEINTR;
}

void
HostNetOsCloseSocket(HOST_NET_OS_SOCKET Socket)
{
    closesocket(Socket);
}

static int
HostNetEnsureStarted(void)
{
    InitOnceExecuteOnce(&HostNetStartupOnce, HostNetStartup, NULL, NULL);
    return HostNetStartupError ? HostNetFromOsError(HostNetStartupError) : HOST_NET_OK;
}

/* Non-blocking; and for UDP, no WSAECONNRESET on the next receive after an ICMP port
 * unreachable answered an earlier send: POSIX reports that only on connected UDP sockets,
 * and the provider, like the POSIX layer, must not see one datagram's fate as a socket error. */
static int
HostNetPrepare(SOCKET Socket, int Type)
{
    u_long NonBlocking = 1;
    if (ioctlsocket(Socket, FIONBIO, &NonBlocking) == SOCKET_ERROR)
        return HostNetLastError();
    if (Type == SOCK_DGRAM) {
        BOOL Report = FALSE;
        DWORD Returned = 0;
        (void)WSAIoctl(Socket, SIO_UDP_CONNRESET, &Report, sizeof(Report), NULL, 0, &Returned, NULL, NULL);
    }
    return HOST_NET_OK;
}

/* A reset stream connection, where Winsock did not say so in the call itself. POSIX reports a
 * peer's reset as ECONNRESET from recv and from SO_ERROR; Winsock's SO_ERROR stays 0, and under
 * Wine recv even reads the reset as end of stream. What both do report is POLLERR from
 * WSAPoll, so an end of stream or a zero SO_ERROR on a stream socket that polls POLLERR is a
 * reset (connect failures never get here: SO_ERROR holds those). */
static int
HostNetStreamReset(SOCKET Socket)
{
    WSAPOLLFD Poll;
    Poll.fd = Socket;
    Poll.events = POLLRDNORM;
    Poll.revents = 0;
    if (WSAPoll(&Poll, 1, 0) == 1 && (Poll.revents & POLLERR))
        return 1;
    return 0;
}

int
HostNetSocket(int Family, int Type, HOST_NET_SOCKET *Socket)
{
    int Domain = Family == HOST_NET_AF_INET ? AF_INET : Family == HOST_NET_AF_INET6 ? AF_INET6 : -1;
    int SockType = Type == HOST_NET_STREAM ? SOCK_STREAM : Type == HOST_NET_DGRAM ? SOCK_DGRAM : -1;
    int Protocol = Type == HOST_NET_STREAM ? IPPROTO_TCP : IPPROTO_UDP;
    int Error;
    SOCKET S;

    *Socket = HOST_NET_INVALID_SOCKET;
    if (Domain < 0)
        return HOST_NET_E_AFNOSUPPORT;
    if (SockType < 0)
        return HOST_NET_E_PROTONOSUPPORT;
    Error = HostNetEnsureStarted();
    if (Error != HOST_NET_OK)
        return Error;
    /* Not inheritable: the POSIX layer's close-on-exec. */
    S = WSASocketW(Domain, SockType, Protocol, NULL, 0, WSA_FLAG_OVERLAPPED | WSA_FLAG_NO_HANDLE_INHERIT);
    if (S == INVALID_SOCKET)
        return HostNetLastError();
    Error = HostNetPrepare(S, SockType);
    if (Error != HOST_NET_OK) {
        closesocket(S);
        return Error;
    }
    /* IPv6 sockets are IPv6-only on Windows already; set it anyway so both layers agree
     * whatever the system default. */
    if (Domain == AF_INET6) {
        DWORD One = 1;
        (void)setsockopt(S, IPPROTO_IPV6, IPV6_V6ONLY, (const char *)&One, sizeof(One));
    }
    HostNetSocketOpened();
    *Socket = (HOST_NET_SOCKET)S;
    return HOST_NET_OK;
}

int
HostNetAccept(HOST_NET_SOCKET Socket, HOST_NET_SOCKET *NewSocket, HOST_NET_ADDRESS *Remote)
{
    struct sockaddr_storage Storage;
    int Length = (int)sizeof(Storage);
    int Error;
    SOCKET S;

    *NewSocket = HOST_NET_INVALID_SOCKET;
    memset(&Storage, 0, sizeof(Storage));
    S = accept((SOCKET)Socket, (struct sockaddr *)&Storage, &Length);
    if (S == INVALID_SOCKET)
        return HostNetLastError();
    /* An accepted socket inherits non-blocking mode from the listener, but not from
     * anything we can rely on for inheritability: clear it explicitly. */
    (void)SetHandleInformation((HANDLE)S, HANDLE_FLAG_INHERIT, 0);
    Error = HostNetPrepare(S, SOCK_STREAM);
    if (Error != HOST_NET_OK) {
        closesocket(S);
        return Error;
    }
    HostNetSocketOpened();
    if (Remote)
        (void)HostNetFromSockaddr(&Storage, Remote);
    *NewSocket = (HOST_NET_SOCKET)S;
    return HOST_NET_OK;
}

static int
HostNetToWsaBuf(const HOST_NET_IOVEC *Vector, int Count, WSABUF *Buffers)
{
    int i;
    if (Count < 0 || Count > HOST_NET_MAX_IOVEC)
        return -1;
    for (i = 0; i < Count; i++) {
        /* WSABUF lengths are 32-bit; no provider buffer comes near that (WSKB_MAX_IO_BYTES). */
        if (Vector[i].Length > 0xFFFFFFFFu)
            return -1;
        Buffers[i].buf = (CHAR *)Vector[i].Base;
        Buffers[i].len = (ULONG)Vector[i].Length;
    }
    return 0;
}

int
HostNetSend(HOST_NET_SOCKET Socket, const HOST_NET_IOVEC *Vector, int Count, int Flags, size_t *Sent)
{
    WSABUF Buffers[HOST_NET_MAX_IOVEC];
    DWORD Bytes = 0;

    *Sent = 0;
    if (HostNetToWsaBuf(Vector, Count, Buffers) < 0)
        return HOST_NET_E_INVAL;
    if (WSASend((SOCKET)Socket, Buffers, (DWORD)Count, &Bytes, (Flags & HOST_NET_MSG_OOB) ? MSG_OOB : 0, NULL, NULL) ==
        SOCKET_ERROR)
        return HostNetLastError();
    *Sent = Bytes;
    return HOST_NET_OK;
}

int
HostNetReceive(HOST_NET_SOCKET Socket, const HOST_NET_IOVEC *Vector, int Count, size_t *Received)
{
    WSABUF Buffers[HOST_NET_MAX_IOVEC];
    DWORD Bytes = 0, Flags = 0;

    *Received = 0;
    if (HostNetToWsaBuf(Vector, Count, Buffers) < 0)
        return HOST_NET_E_INVAL;
    if (WSARecv((SOCKET)Socket, Buffers, (DWORD)Count, &Bytes, &Flags, NULL, NULL) == SOCKET_ERROR) {
        int Error = WSAGetLastError();
        /* A graceful shutdown by the peer reads as end of stream, as on POSIX. */
        if (Error == WSAEDISCON)
            return HOST_NET_OK;
        return HostNetFromOsError(Error);
    }
    if (Bytes == 0 && Count > 0 && Buffers[0].len > 0 && HostNetStreamReset((SOCKET)Socket))
        return HOST_NET_E_CONNRESET;
    *Received = Bytes;
    return HOST_NET_OK;
}

int
HostNetPeekClosed(HOST_NET_SOCKET Socket, int *Closed)
{
    char Byte;
    int Result = recv((SOCKET)Socket, &Byte, 1, MSG_PEEK);
    *Closed = 0;
    if (Result == 0) {
        *Closed = 1;
        return HostNetStreamReset((SOCKET)Socket) ? HOST_NET_E_CONNRESET : HOST_NET_OK;
    }
    if (Result == SOCKET_ERROR) {
        int Error = HostNetLastError();
        if (Error == HOST_NET_E_WOULDBLOCK)
            return HOST_NET_OK;
        *Closed = 1;
        return Error;
    }
    return HOST_NET_OK;
}

int
HostNetSendTo(HOST_NET_SOCKET Socket, const HOST_NET_IOVEC *Vector, int Count, const HOST_NET_ADDRESS *Remote,
              size_t *Sent)
{
    WSABUF Buffers[HOST_NET_MAX_IOVEC];
    struct sockaddr_storage Storage;
    int Length = 0;
    DWORD Bytes = 0;

    *Sent = 0;
    if (HostNetToWsaBuf(Vector, Count, Buffers) < 0)
        return HOST_NET_E_INVAL;
    if (Remote) {
        Length = HostNetToSockaddr(Remote, &Storage);
        if (!Length)
            return HOST_NET_E_AFNOSUPPORT;
    }
    if (WSASendTo((SOCKET)Socket, Buffers, (DWORD)Count, &Bytes, 0, Remote ? (struct sockaddr *)&Storage : NULL,
                  Length, NULL, NULL) == SOCKET_ERROR)
        return HostNetLastError();
    *Sent = Bytes;
    return HOST_NET_OK;
}

int
HostNetReceiveFrom(HOST_NET_SOCKET Socket, const HOST_NET_IOVEC *Vector, int Count, size_t *Received,
                   HOST_NET_ADDRESS *Remote, int *Truncated)
{
    WSABUF Buffers[HOST_NET_MAX_IOVEC];
    struct sockaddr_storage Storage;
    int Length = (int)sizeof(Storage);
    DWORD Bytes = 0, Flags = 0;
    int i;

    *Received = 0;
    *Truncated = 0;
    if (HostNetToWsaBuf(Vector, Count, Buffers) < 0)
        return HOST_NET_E_INVAL;
    memset(&Storage, 0, sizeof(Storage));
    if (WSARecvFrom((SOCKET)Socket, Buffers, (DWORD)Count, &Bytes, &Flags, (struct sockaddr *)&Storage, &Length, NULL,
                    NULL) == SOCKET_ERROR) {
        int Error = WSAGetLastError();
        if (Error != WSAEMSGSIZE)
            return HostNetFromOsError(Error);
        /* Winsock fails a datagram that did not fit, after filling the buffers with its head;
         * POSIX returns the head with MSG_TRUNC. Report it the POSIX way. */
        Bytes = 0;
        for (i = 0; i < Count; i++)
            Bytes += Buffers[i].len;
        *Truncated = 1;
    }
    *Received = Bytes;
    if (Remote)
        (void)HostNetFromSockaddr(&Storage, Remote);
    return HOST_NET_OK;
}

int
HostNetBytesAvailable(HOST_NET_SOCKET Socket, size_t *Bytes)
{
    u_long Value = 0;
    int Type = 0, Length = (int)sizeof(Type);

    *Bytes = 0;
    if (getsockopt((SOCKET)Socket, SOL_SOCKET, SO_TYPE, (char *)&Type, &Length) == SOCKET_ERROR)
        return HostNetLastError();
    if (Type == SOCK_DGRAM) {
        /* FIONREAD on a Windows datagram socket is the sum of every queued datagram, not the
         * size of the next one as on Linux; a peek measures the next one exactly. */
        static HOST_NET_THREAD_LOCAL char Scratch[65536];
        int Result = recv((SOCKET)Socket, Scratch, (int)sizeof(Scratch), MSG_PEEK);
        if (Result == SOCKET_ERROR) {
            int Error = WSAGetLastError();
            if (Error == WSAEWOULDBLOCK)
                return HOST_NET_OK;
            if (Error != WSAEMSGSIZE)
                return HostNetFromOsError(Error);
            Result = (int)sizeof(Scratch);
        }
        *Bytes = (size_t)Result;
        return HOST_NET_OK;
    }
    if (ioctlsocket((SOCKET)Socket, FIONREAD, &Value) == SOCKET_ERROR)
        return HostNetLastError();
    *Bytes = (size_t)Value;
    return HOST_NET_OK;
}

int
HostNetSendQueued(HOST_NET_SOCKET Socket, size_t *Bytes)
{
    /* Winsock has no SIOCOUTQ; like the POSIX layer on systems without it, report 0. */
    (void)Socket;
    *Bytes = 0;
    return HOST_NET_OK;
}

int
HostNetOsOptionValue(HOST_NET_OS_SOCKET Socket, int Option, int Raw, HOST_NET_SOCKLEN Length)
{
    /* Some Winsock BOOL options come back as one byte; Raw was zeroed, so mask to it. */
    if (Length == 1)
        Raw &= 0xFF;
    if (Option == HOST_NET_OPT_ERROR) {
        int Type = 0, TypeLength = (int)sizeof(Type);
        Raw = HostNetFromOsError(Raw);
        /* A reset stream: POSIX's SO_ERROR says ECONNRESET, Winsock's stays 0. */
        if (Raw == HOST_NET_OK && getsockopt(Socket, SOL_SOCKET, SO_TYPE, (char *)&Type, &TypeLength) == 0 &&
            Type == SOCK_STREAM && HostNetStreamReset(Socket))
            Raw = HOST_NET_E_CONNRESET;
    }
    return Raw;
}

/* ---- the poller's wake-up channel ----
 *
 * The poller is WSAPoll over a set (host_net_common.c). WSAPoll cannot wait on an event, so a
 * wake-up is a datagram a loopback UDP socket sends to itself. */

int
HostNetOsWakeCreate(HOST_NET_OS_SOCKET *Read, HOST_NET_OS_SOCKET *Write)
{
    struct sockaddr_in Address;
    int Length = (int)sizeof(Address);
    int Error = HostNetEnsureStarted();
    SOCKET Wake;

    if (Error != HOST_NET_OK)
        return Error;
    Wake = WSASocketW(AF_INET, SOCK_DGRAM, IPPROTO_UDP, NULL, 0, WSA_FLAG_NO_HANDLE_INHERIT);
    if (Wake == INVALID_SOCKET) {
        Error = HostNetLastError();
        return Error == HOST_NET_OK ? HOST_NET_E_NOMEM : Error;
    }
    memset(&Address, 0, sizeof(Address));
    Address.sin_family = AF_INET;
    Address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(Wake, (struct sockaddr *)&Address, sizeof(Address)) == SOCKET_ERROR ||
        getsockname(Wake, (struct sockaddr *)&Address, &Length) == SOCKET_ERROR ||
        connect(Wake, (struct sockaddr *)&Address, sizeof(Address)) == SOCKET_ERROR ||
        HostNetPrepare(Wake, SOCK_DGRAM) != HOST_NET_OK) {
        Error = HostNetLastError();
        closesocket(Wake);
        return Error == HOST_NET_OK ? HOST_NET_E_OTHER : Error;
    }
    *Read = Wake;
    *Write = Wake;
    return HOST_NET_OK;
}

void
HostNetOsWakeClose(HOST_NET_OS_SOCKET Read, HOST_NET_OS_SOCKET Write)
{
    (void)Write; /* the same socket */
    closesocket(Read);
}

void
HostNetOsWakeSignal(HOST_NET_OS_SOCKET Write)
{
    char Byte = 1;
    /* A full socket buffer already guarantees a wake-up. */
    (void)send(Write, &Byte, 1, 0);
}

void
HostNetOsWakeDrain(HOST_NET_OS_SOCKET Read)
{
    char Drain[64];
    while (recv(Read, Drain, sizeof(Drain), 0) > 0)
        ;
}

/* SPDX-License-Identifier: MIT
 *
 * ksim host network layer on Winsock 2 (the sim backend on Windows, and under Wine). This is
 * the only ksim file that includes winsock headers; see host_net.h. It mirrors
 * host_net_posix.c call for call; where Winsock differs from POSIX in a way the provider
 * would see, it is bent towards POSIX here, with the reason next to it.
 */
#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#include "host_net.h"

#include <winsock2.h>
#include <ws2tcpip.h>
#include <mstcpip.h>
#include <windows.h>
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

static volatile LONG64 HostNetSocketsOpen;
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

static int
HostNetFromWsa(int Error)
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

static int
HostNetLastError(void)
{
    return HostNetFromWsa(WSAGetLastError());
}

static int
HostNetEnsureStarted(void)
{
    InitOnceExecuteOnce(&HostNetStartupOnce, HostNetStartup, NULL, NULL);
    return HostNetStartupError ? HostNetFromWsa(HostNetStartupError) : HOST_NET_OK;
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

static int
HostNetToSockaddr(const HOST_NET_ADDRESS *Address, struct sockaddr_storage *Storage)
{
    memset(Storage, 0, sizeof(*Storage));
    if (Address->Family == HOST_NET_AF_INET) {
        struct sockaddr_in *In = (struct sockaddr_in *)Storage;
        In->sin_family = AF_INET;
        In->sin_port = htons(Address->Port);
        memcpy(&In->sin_addr, Address->Address, 4);
        return (int)sizeof(*In);
    }
    if (Address->Family == HOST_NET_AF_INET6) {
        struct sockaddr_in6 *In6 = (struct sockaddr_in6 *)Storage;
        In6->sin6_family = AF_INET6;
        In6->sin6_port = htons(Address->Port);
        In6->sin6_flowinfo = Address->FlowInfo;
        memcpy(&In6->sin6_addr, Address->Address, 16);
        In6->sin6_scope_id = Address->ScopeId;
        return (int)sizeof(*In6);
    }
    return 0;
}

static int
HostNetFromSockaddr(const struct sockaddr_storage *Storage, HOST_NET_ADDRESS *Address)
{
    memset(Address, 0, sizeof(*Address));
    if (Storage->ss_family == AF_INET) {
        const struct sockaddr_in *In = (const struct sockaddr_in *)Storage;
        Address->Family = HOST_NET_AF_INET;
        Address->Port = ntohs(In->sin_port);
        memcpy(Address->Address, &In->sin_addr, 4);
        return HOST_NET_OK;
    }
    if (Storage->ss_family == AF_INET6) {
        const struct sockaddr_in6 *In6 = (const struct sockaddr_in6 *)Storage;
        Address->Family = HOST_NET_AF_INET6;
        Address->Port = ntohs(In6->sin6_port);
        Address->FlowInfo = In6->sin6_flowinfo;
        memcpy(Address->Address, &In6->sin6_addr, 16);
        Address->ScopeId = In6->sin6_scope_id;
        return HOST_NET_OK;
    }
    return HOST_NET_E_AFNOSUPPORT;
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
    InterlockedIncrement64(&HostNetSocketsOpen);
    *Socket = (HOST_NET_SOCKET)S;
    return HOST_NET_OK;
}

void
HostNetClose(HOST_NET_SOCKET Socket)
{
    if (Socket == HOST_NET_INVALID_SOCKET)
        return;
    closesocket((SOCKET)Socket);
    InterlockedDecrement64(&HostNetSocketsOpen);
}

void
HostNetCloseAbortive(HOST_NET_SOCKET Socket)
{
    struct linger Linger = { 1, 0 };
    if (Socket == HOST_NET_INVALID_SOCKET)
        return;
    (void)setsockopt((SOCKET)Socket, SOL_SOCKET, SO_LINGER, (const char *)&Linger, sizeof(Linger));
    HostNetClose(Socket);
}

int
HostNetBind(HOST_NET_SOCKET Socket, const HOST_NET_ADDRESS *Address)
{
    struct sockaddr_storage Storage;
    int Length = HostNetToSockaddr(Address, &Storage);
    if (!Length)
        return HOST_NET_E_AFNOSUPPORT;
    return bind((SOCKET)Socket, (struct sockaddr *)&Storage, Length) == SOCKET_ERROR ? HostNetLastError() : HOST_NET_OK;
}

int
HostNetListen(HOST_NET_SOCKET Socket, int Backlog)
{
    return listen((SOCKET)Socket, Backlog) == SOCKET_ERROR ? HostNetLastError() : HOST_NET_OK;
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
    InterlockedIncrement64(&HostNetSocketsOpen);
    if (Remote)
        (void)HostNetFromSockaddr(&Storage, Remote);
    *NewSocket = (HOST_NET_SOCKET)S;
    return HOST_NET_OK;
}

int
HostNetConnect(HOST_NET_SOCKET Socket, const HOST_NET_ADDRESS *Remote)
{
    struct sockaddr_storage Storage;
    int Length = HostNetToSockaddr(Remote, &Storage);
    int Error;
    if (!Length)
        return HOST_NET_E_AFNOSUPPORT;
    if (connect((SOCKET)Socket, (struct sockaddr *)&Storage, Length) != SOCKET_ERROR)
        return HOST_NET_OK;
    /* A non-blocking connect on Windows reports WSAEWOULDBLOCK where POSIX says EINPROGRESS. */
    Error = WSAGetLastError();
    if (Error == WSAEWOULDBLOCK)
        return HOST_NET_E_INPROGRESS;
    return HostNetFromWsa(Error);
}

int
HostNetConnectResult(HOST_NET_SOCKET Socket)
{
    int Error = 0;
    int Length = (int)sizeof(Error);
    if (getsockopt((SOCKET)Socket, SOL_SOCKET, SO_ERROR, (char *)&Error, &Length) == SOCKET_ERROR)
        return HostNetLastError();
    return HostNetFromWsa(Error);
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
        return HostNetFromWsa(Error);
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
            return HostNetFromWsa(Error);
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
                return HostNetFromWsa(Error);
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
HostNetShutdownSend(HOST_NET_SOCKET Socket)
{
    return shutdown((SOCKET)Socket, SD_SEND) == SOCKET_ERROR ? HostNetLastError() : HOST_NET_OK;
}

int
HostNetGetLocalAddress(HOST_NET_SOCKET Socket, HOST_NET_ADDRESS *Address)
{
    struct sockaddr_storage Storage;
    int Length = (int)sizeof(Storage);
    memset(&Storage, 0, sizeof(Storage));
    if (getsockname((SOCKET)Socket, (struct sockaddr *)&Storage, &Length) == SOCKET_ERROR)
        return HostNetLastError();
    return HostNetFromSockaddr(&Storage, Address);
}

int
HostNetGetRemoteAddress(HOST_NET_SOCKET Socket, HOST_NET_ADDRESS *Address)
{
    struct sockaddr_storage Storage;
    int Length = (int)sizeof(Storage);
    memset(&Storage, 0, sizeof(Storage));
    if (getpeername((SOCKET)Socket, (struct sockaddr *)&Storage, &Length) == SOCKET_ERROR)
        return HostNetLastError();
    return HostNetFromSockaddr(&Storage, Address);
}

static int
HostNetOptionToHost(int Option, int *Level, int *Name)
{
    switch (Option) {
    case HOST_NET_OPT_REUSEADDR:
        *Level = SOL_SOCKET, *Name = SO_REUSEADDR;
        return 0;
    case HOST_NET_OPT_KEEPALIVE:
        *Level = SOL_SOCKET, *Name = SO_KEEPALIVE;
        return 0;
    case HOST_NET_OPT_RCVBUF:
        *Level = SOL_SOCKET, *Name = SO_RCVBUF;
        return 0;
    case HOST_NET_OPT_SNDBUF:
        *Level = SOL_SOCKET, *Name = SO_SNDBUF;
        return 0;
    case HOST_NET_OPT_BROADCAST:
        *Level = SOL_SOCKET, *Name = SO_BROADCAST;
        return 0;
    case HOST_NET_OPT_OOBINLINE:
        *Level = SOL_SOCKET, *Name = SO_OOBINLINE;
        return 0;
    case HOST_NET_OPT_TCP_NODELAY:
        *Level = IPPROTO_TCP, *Name = TCP_NODELAY;
        return 0;
    case HOST_NET_OPT_IPV6_V6ONLY:
        *Level = IPPROTO_IPV6, *Name = IPV6_V6ONLY;
        return 0;
    case HOST_NET_OPT_ERROR:
        *Level = SOL_SOCKET, *Name = SO_ERROR;
        return 0;
    case HOST_NET_OPT_TYPE:
        *Level = SOL_SOCKET, *Name = SO_TYPE;
        return 0;
    case HOST_NET_OPT_ACCEPTCONN:
        *Level = SOL_SOCKET, *Name = SO_ACCEPTCONN;
        return 0;
    default:
        return -1;
    }
}

int
HostNetSetOption(HOST_NET_SOCKET Socket, int Option, int Value)
{
    int Level, Name;
    if (HostNetOptionToHost(Option, &Level, &Name) < 0 || Option == HOST_NET_OPT_ERROR ||
        Option == HOST_NET_OPT_TYPE || Option == HOST_NET_OPT_ACCEPTCONN)
        return HOST_NET_E_NOPROTOOPT;
    return setsockopt((SOCKET)Socket, Level, Name, (const char *)&Value, sizeof(Value)) == SOCKET_ERROR
               ? HostNetLastError()
               : HOST_NET_OK;
}

int
HostNetGetOption(HOST_NET_SOCKET Socket, int Option, int *Value)
{
    int Level, Name, Raw = 0;
    int Length = (int)sizeof(Raw);
    *Value = 0;
    if (HostNetOptionToHost(Option, &Level, &Name) < 0)
        return HOST_NET_E_NOPROTOOPT;
    if (getsockopt((SOCKET)Socket, Level, Name, (char *)&Raw, &Length) == SOCKET_ERROR)
        return HostNetLastError();
    /* Some Winsock BOOL options come back as one byte; Raw was zeroed, so mask to it. */
    if (Length == 1)
        Raw &= 0xFF;
    if (Option == HOST_NET_OPT_ERROR) {
        int Type = 0, TypeLength = (int)sizeof(Type);
        Raw = HostNetFromWsa(Raw);
        if (Raw == HOST_NET_OK &&
            getsockopt((SOCKET)Socket, SOL_SOCKET, SO_TYPE, (char *)&Type, &TypeLength) == 0 && Type == SOCK_STREAM &&
            HostNetStreamReset((SOCKET)Socket))
            Raw = HOST_NET_E_CONNRESET;
    }
    else if (Option == HOST_NET_OPT_TYPE)
        Raw = Raw == SOCK_STREAM ? HOST_NET_STREAM : Raw == SOCK_DGRAM ? HOST_NET_DGRAM : 0;
    *Value = Raw;
    return HOST_NET_OK;
}

uint64_t
HostNetOpenSockets(void)
{
    return (uint64_t)InterlockedCompareExchange64(&HostNetSocketsOpen, 0, 0);
}

/* ---- poller: WSAPoll, level-triggered like the POSIX poller ----
 *
 * WSAPoll cannot wait on an event, so wake-ups are a datagram the poller sends to itself on a
 * loopback UDP socket. WSAPoll also never reports a failed non-blocking connect before
 * Windows 10 2004 (it waits out the timeout instead), so while any socket waits to become
 * writable the wait is sliced and SO_ERROR is read between slices. */

#define HOST_NET_CONNECT_SLICE_MS 50

typedef struct _HOST_NET_POLL_ENTRY {
    SOCKET Socket;
    unsigned Interest;
    void *Context;
} HOST_NET_POLL_ENTRY;

struct _HOST_NET_POLLER {
    SRWLOCK Lock;
    HOST_NET_POLL_ENTRY *Entries;
    size_t Count;
    size_t Capacity;
    WSAPOLLFD *Scratch;
    void **Contexts;
    unsigned *Interests;
    size_t ScratchCapacity;
    SOCKET Wake;
};

int
HostNetPollerCreate(HOST_NET_POLLER **Poller)
{
    HOST_NET_POLLER *P;
    struct sockaddr_in Address;
    int Length = (int)sizeof(Address);
    int Error;

    *Poller = NULL;
    Error = HostNetEnsureStarted();
    if (Error != HOST_NET_OK)
        return Error;
    P = calloc(1, sizeof(*P));
    if (!P)
        return HOST_NET_E_NOMEM;
    InitializeSRWLock(&P->Lock);
    P->Wake = WSASocketW(AF_INET, SOCK_DGRAM, IPPROTO_UDP, NULL, 0, WSA_FLAG_NO_HANDLE_INHERIT);
    if (P->Wake == INVALID_SOCKET)
        goto cleanupPoller;
    memset(&Address, 0, sizeof(Address));
    Address.sin_family = AF_INET;
    Address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(P->Wake, (struct sockaddr *)&Address, sizeof(Address)) == SOCKET_ERROR ||
        getsockname(P->Wake, (struct sockaddr *)&Address, &Length) == SOCKET_ERROR ||
        connect(P->Wake, (struct sockaddr *)&Address, sizeof(Address)) == SOCKET_ERROR ||
        HostNetPrepare(P->Wake, SOCK_DGRAM) != HOST_NET_OK)
        goto cleanupWake;
    *Poller = P;
    return HOST_NET_OK;

cleanupWake:
    Error = HostNetLastError();
    closesocket(P->Wake);
    free(P);
    return Error == HOST_NET_OK ? HOST_NET_E_OTHER : Error;
cleanupPoller:
    Error = HostNetLastError();
    free(P);
    return Error == HOST_NET_OK ? HOST_NET_E_NOMEM : Error;
}

void
HostNetPollerDestroy(HOST_NET_POLLER *Poller)
{
    if (!Poller)
        return;
    closesocket(Poller->Wake);
    free(Poller->Entries);
    free(Poller->Scratch);
    free(Poller->Contexts);
    free(Poller->Interests);
    free(Poller);
}

int
HostNetPollerSet(HOST_NET_POLLER *Poller, HOST_NET_SOCKET Socket, unsigned Interest, void *Context)
{
    size_t i;
    int Result = HOST_NET_OK;
    AcquireSRWLockExclusive(&Poller->Lock);
    for (i = 0; i < Poller->Count; i++)
        if (Poller->Entries[i].Socket == (SOCKET)Socket)
            break;
    if (i == Poller->Count) {
        if (Poller->Count == Poller->Capacity) {
            size_t NewCapacity = Poller->Capacity ? Poller->Capacity * 2 : 16;
            HOST_NET_POLL_ENTRY *New = realloc(Poller->Entries, NewCapacity * sizeof(*New));
            if (!New) {
                Result = HOST_NET_E_NOMEM;
                goto cleanupLock;
            }
            Poller->Entries = New;
            Poller->Capacity = NewCapacity;
        }
        Poller->Count++;
    }
    Poller->Entries[i].Socket = (SOCKET)Socket;
    Poller->Entries[i].Interest = Interest;
    Poller->Entries[i].Context = Context;
cleanupLock:
    ReleaseSRWLockExclusive(&Poller->Lock);
    /* A wait in progress polls the old set: make it start over with the new one. */
    if (Result == HOST_NET_OK)
        HostNetPollerWake(Poller);
    return Result;
}

int
HostNetPollerRemove(HOST_NET_POLLER *Poller, HOST_NET_SOCKET Socket)
{
    size_t i;
    AcquireSRWLockExclusive(&Poller->Lock);
    for (i = 0; i < Poller->Count; i++)
        if (Poller->Entries[i].Socket == (SOCKET)Socket) {
            Poller->Entries[i] = Poller->Entries[--Poller->Count];
            break;
        }
    ReleaseSRWLockExclusive(&Poller->Lock);
    /* The socket may be closed next; a wait in progress must not keep polling it. */
    HostNetPollerWake(Poller);
    return HOST_NET_OK;
}

static void
HostNetPollerDrainWake(HOST_NET_POLLER *Poller)
{
    char Drain[64];
    while (recv(Poller->Wake, Drain, sizeof(Drain), 0) > 0)
        ;
}

int
HostNetPollerWait(HOST_NET_POLLER *Poller, HOST_NET_POLL_EVENT *Events, int MaxEvents, int TimeoutMs)
{
    size_t i, n;
    int Count, Out = 0, Connecting = 0;
    ULONGLONG Deadline = TimeoutMs < 0 ? 0 : GetTickCount64() + (ULONGLONG)TimeoutMs;

    AcquireSRWLockExclusive(&Poller->Lock);
    n = Poller->Count + 1;
    if (n > Poller->ScratchCapacity) {
        WSAPOLLFD *NewScratch = realloc(Poller->Scratch, n * sizeof(*NewScratch));
        void **NewContexts;
        unsigned *NewInterests;
        if (NewScratch)
            Poller->Scratch = NewScratch;
        NewContexts = realloc(Poller->Contexts, n * sizeof(*NewContexts));
        if (NewContexts)
            Poller->Contexts = NewContexts;
        NewInterests = realloc(Poller->Interests, n * sizeof(*NewInterests));
        if (NewInterests)
            Poller->Interests = NewInterests;
        if (!NewScratch || !NewContexts || !NewInterests) {
            ReleaseSRWLockExclusive(&Poller->Lock);
            return -1;
        }
        Poller->ScratchCapacity = n;
    }
    Poller->Scratch[0].fd = Poller->Wake;
    Poller->Scratch[0].events = POLLRDNORM;
    Poller->Scratch[0].revents = 0;
    Poller->Contexts[0] = NULL;
    Poller->Interests[0] = 0;
    for (i = 0; i < Poller->Count; i++) {
        /* Only POLLRDNORM and POLLWRNORM: WSAPoll rejects POLLPRI, and errors and hang-ups
         * are reported without being asked for, as the header promises for interest 0. */
        Poller->Scratch[i + 1].fd = Poller->Entries[i].Socket;
        Poller->Scratch[i + 1].events = (SHORT)(((Poller->Entries[i].Interest & HOST_NET_POLL_READ) ? POLLRDNORM : 0) |
                                                ((Poller->Entries[i].Interest & HOST_NET_POLL_WRITE) ? POLLWRNORM : 0));
        Poller->Scratch[i + 1].revents = 0;
        Poller->Contexts[i + 1] = Poller->Entries[i].Context;
        Poller->Interests[i + 1] = Poller->Entries[i].Interest;
        if (Poller->Entries[i].Interest & HOST_NET_POLL_WRITE)
            Connecting = 1;
    }
    /* Waits use the snapshot taken under the lock; Set and Remove wake the wait so it is
     * retaken. The lock is not held across WSAPoll so they never block behind it. */
    ReleaseSRWLockExclusive(&Poller->Lock);

    for (;;) {
        int Slice = TimeoutMs;
        if (Connecting) {
            if (TimeoutMs < 0 || TimeoutMs > HOST_NET_CONNECT_SLICE_MS)
                Slice = HOST_NET_CONNECT_SLICE_MS;
            if (TimeoutMs >= 0) {
                ULONGLONG Now = GetTickCount64();
                int Left = Now >= Deadline ? 0 : (int)(Deadline - Now);
                if (Slice > Left)
                    Slice = Left;
            }
        }
        Count = WSAPoll(Poller->Scratch, (ULONG)n, Slice);
        if (Count == SOCKET_ERROR)
            return WSAGetLastError() == WSAEINTR ? 0 : -1;
        if (Connecting) {
            for (i = 1; i < n; i++) {
                int Error = 0, Length = (int)sizeof(Error);
                if (!(Poller->Interests[i] & HOST_NET_POLL_WRITE) || Poller->Scratch[i].revents)
                    continue;
                if (getsockopt(Poller->Scratch[i].fd, SOL_SOCKET, SO_ERROR, (char *)&Error, &Length) == 0 && Error) {
                    Poller->Scratch[i].revents = POLLERR | POLLWRNORM;
                    if (!Count)
                        Count = 1;
                }
            }
        }
        if (Count > 0 || !Connecting)
            break;
        if (TimeoutMs >= 0 && GetTickCount64() >= Deadline)
            break;
    }

    for (i = 0; i < n && Out < MaxEvents; i++) {
        unsigned Flags = 0;
        SHORT R = Poller->Scratch[i].revents;
        if (!R)
            continue;
        if (i == 0) {
            HostNetPollerDrainWake(Poller);
            continue;
        }
        if (R & POLLNVAL)
            continue; /* closed between the snapshot and the wait; it was removed */
        if (R & (POLLRDNORM | POLLRDBAND))
            Flags |= HOST_NET_POLL_READ;
        if (R & POLLWRNORM)
            Flags |= HOST_NET_POLL_WRITE;
        if (R & POLLHUP)
            Flags |= HOST_NET_POLL_HUP | HOST_NET_POLL_RDHUP;
        if (R & POLLERR)
            Flags |= HOST_NET_POLL_ERROR;
        Events[Out].Context = Poller->Contexts[i];
        Events[Out].Events = Flags;
        Out++;
    }
    return Out;
}

int
HostNetPollerWaitReady(HOST_NET_POLLER *Poller, int TimeoutMs)
{
    WSAPOLLFD *Set;
    size_t i, n;
    int Count, Connecting = 0;

    AcquireSRWLockExclusive(&Poller->Lock);
    n = Poller->Count + 1;
    Set = malloc(n * sizeof(*Set));
    if (!Set) {
        ReleaseSRWLockExclusive(&Poller->Lock);
        return -1;
    }
    Set[0].fd = Poller->Wake;
    Set[0].events = POLLRDNORM;
    Set[0].revents = 0;
    for (i = 0; i < Poller->Count; i++) {
        Set[i + 1].fd = Poller->Entries[i].Socket;
        Set[i + 1].events = (SHORT)(((Poller->Entries[i].Interest & HOST_NET_POLL_READ) ? POLLRDNORM : 0) |
                                    ((Poller->Entries[i].Interest & HOST_NET_POLL_WRITE) ? POLLWRNORM : 0));
        Set[i + 1].revents = 0;
        if (Poller->Entries[i].Interest & HOST_NET_POLL_WRITE)
            Connecting = 1;
    }
    ReleaseSRWLockExclusive(&Poller->Lock);
    /* A failed connect is found only by HostNetPollerWait's SO_ERROR check: look again soon. */
    if (Connecting && (TimeoutMs < 0 || TimeoutMs > HOST_NET_CONNECT_SLICE_MS))
        TimeoutMs = HOST_NET_CONNECT_SLICE_MS;
    Count = WSAPoll(Set, (ULONG)n, TimeoutMs);
    free(Set);
    if (Count == SOCKET_ERROR)
        return WSAGetLastError() == WSAEINTR ? 0 : -1;
    return Count > 0 || Connecting ? 1 : 0;
}

int64_t
HostNetPollerDescriptor(HOST_NET_POLLER *Poller)
{
    (void)Poller;
    return -1;
}

void
HostNetPollerWake(HOST_NET_POLLER *Poller)
{
    char Byte = 1;
    /* A full socket buffer already guarantees a wake-up. */
    (void)send(Poller->Wake, &Byte, 1, 0);
}

/* SPDX-License-Identifier: MIT
 *
 * ksim host network layer, the POSIX half (Linux: epoll; the other POSIX systems use the poller
 * over a set in host_net_common.c): what POSIX sockets do differently from Winsock. With
 * host_net_common.c and host_net_os.h, the only ksim files that include socket, poll or errno
 * headers; see host_net.h.
 */
#define _GNU_SOURCE
#include "host_net_os.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>
#ifdef __linux__
#include <linux/sockios.h>
#include <sys/epoll.h>
#endif
#include <poll.h>

#ifndef MSG_NOSIGNAL
#define MSG_NOSIGNAL 0
#endif

int
HostNetFromOsError(int Error)
{
    switch (Error) {
    case 0:
        return HOST_NET_OK;
    case EAGAIN:
#if EWOULDBLOCK != EAGAIN
    case EWOULDBLOCK:
#endif
        return HOST_NET_E_WOULDBLOCK;
    case EINPROGRESS:
    case EALREADY:
        return HOST_NET_E_INPROGRESS;
    case ECONNREFUSED:
        return HOST_NET_E_CONNREFUSED;
    case ECONNRESET:
        return HOST_NET_E_CONNRESET;
    case ECONNABORTED:
        return HOST_NET_E_CONNABORTED;
    case EADDRINUSE:
        return HOST_NET_E_ADDRINUSE;
    case EADDRNOTAVAIL:
        return HOST_NET_E_ADDRNOTAVAIL;
    case ENETUNREACH:
    case ENETDOWN:
        return HOST_NET_E_NETUNREACH;
    case EHOSTUNREACH:
    case EHOSTDOWN:
        return HOST_NET_E_HOSTUNREACH;
    case ETIMEDOUT:
        return HOST_NET_E_TIMEDOUT;
    case EINVAL:
    case EFAULT:
        return HOST_NET_E_INVAL;
    case ENOMEM:
    case ENOBUFS:
        return HOST_NET_E_NOMEM;
    case EAFNOSUPPORT:
    case EPFNOSUPPORT:
        return HOST_NET_E_AFNOSUPPORT;
    case EPROTONOSUPPORT:
    case ESOCKTNOSUPPORT:
    case EPROTOTYPE:
        return HOST_NET_E_PROTONOSUPPORT;
    case EPIPE:
        return HOST_NET_E_PIPE;
    case ENOTCONN:
        return HOST_NET_E_NOTCONN;
    case EISCONN:
        return HOST_NET_E_ISCONN;
    case EACCES:
    case EPERM:
        return HOST_NET_E_ACCES;
    case EMSGSIZE:
        return HOST_NET_E_MSGSIZE;
    case EMFILE:
    case ENFILE:
        return HOST_NET_E_MFILE;
    case ENOPROTOOPT:
        return HOST_NET_E_NOPROTOOPT;
    default:
        return HOST_NET_E_OTHER;
    }
}

int
HostNetLastError(void)
{
    return HostNetFromOsError(errno);
}

int
HostNetOsPollInterrupted(void)
{
    return errno == EINTR;
}

void
HostNetOsCloseSocket(HOST_NET_OS_SOCKET Socket)
{
    close(Socket);
}

int
HostNetOsOptionValue(HOST_NET_OS_SOCKET Socket, int Option, int Raw, HOST_NET_SOCKLEN Length)
{
    (void)Socket;
    (void)Length;
    return Option == HOST_NET_OPT_ERROR ? HostNetFromOsError(Raw) : Raw;
}

static int
HostNetSetNonBlocking(int Fd)
{
    int Flags = fcntl(Fd, F_GETFL, 0);
    if (Flags < 0 || fcntl(Fd, F_SETFL, Flags | O_NONBLOCK) < 0)
        return -1;
    return fcntl(Fd, F_SETFD, FD_CLOEXEC);
}

int
HostNetSocket(int Family, int Type, HOST_NET_SOCKET *Socket)
{
    int Domain = Family == HOST_NET_AF_INET ? AF_INET : Family == HOST_NET_AF_INET6 ? AF_INET6 : -1;
    int SockType = Type == HOST_NET_STREAM ? SOCK_STREAM : Type == HOST_NET_DGRAM ? SOCK_DGRAM : -1;
    int Fd, One = 1;

    *Socket = HOST_NET_INVALID_SOCKET;
    if (Domain < 0)
        return HOST_NET_E_AFNOSUPPORT;
    if (SockType < 0)
        return HOST_NET_E_PROTONOSUPPORT;
    Fd = socket(Domain, SockType, 0);
    if (Fd < 0)
        return HostNetLastError();
    if (HostNetSetNonBlocking(Fd) < 0) {
        int Error = HostNetLastError();
        close(Fd);
        return Error;
    }
    /* Windows sockets are IPv6-only unless the application clears IPV6_V6ONLY. */
    if (Domain == AF_INET6)
        (void)setsockopt(Fd, IPPROTO_IPV6, IPV6_V6ONLY, &One, sizeof(One));
#ifdef SO_NOSIGPIPE
    (void)setsockopt(Fd, SOL_SOCKET, SO_NOSIGPIPE, &One, sizeof(One));
#endif
    HostNetSocketOpened();
    *Socket = Fd;
    return HOST_NET_OK;
}

int
HostNetAccept(HOST_NET_SOCKET Socket, HOST_NET_SOCKET *NewSocket, HOST_NET_ADDRESS *Remote)
{
    struct sockaddr_storage Storage;
    socklen_t Length = sizeof(Storage);
    int Fd;

    *NewSocket = HOST_NET_INVALID_SOCKET;
    Fd = accept((int)Socket, (struct sockaddr *)&Storage, &Length);
    if (Fd < 0)
        return HostNetLastError();
    if (HostNetSetNonBlocking(Fd) < 0) {
        int Error = HostNetLastError();
        close(Fd);
        return Error;
    }
#ifdef SO_NOSIGPIPE
    {
        int One = 1;
        (void)setsockopt(Fd, SOL_SOCKET, SO_NOSIGPIPE, &One, sizeof(One));
    }
#endif
    HostNetSocketOpened();
    if (Remote)
        (void)HostNetFromSockaddr(&Storage, Remote);
    *NewSocket = Fd;
    return HOST_NET_OK;
}

static int
HostNetToIovec(const HOST_NET_IOVEC *Vector, int Count, struct iovec *Iov)
{
    int i;
    if (Count < 0 || Count > HOST_NET_MAX_IOVEC)
        return -1;
    for (i = 0; i < Count; i++) {
        Iov[i].iov_base = Vector[i].Base;
        Iov[i].iov_len = Vector[i].Length;
    }
    return 0;
}

int
HostNetSend(HOST_NET_SOCKET Socket, const HOST_NET_IOVEC *Vector, int Count, int Flags, size_t *Sent)
{
    struct iovec Iov[HOST_NET_MAX_IOVEC];
    struct msghdr Msg;
    ssize_t Result;

    *Sent = 0;
    if (HostNetToIovec(Vector, Count, Iov) < 0)
        return HOST_NET_E_INVAL;
    memset(&Msg, 0, sizeof(Msg));
    Msg.msg_iov = Iov;
    Msg.msg_iovlen = Count;
    Result = sendmsg((int)Socket, &Msg, MSG_NOSIGNAL | ((Flags & HOST_NET_MSG_OOB) ? MSG_OOB : 0));
    if (Result < 0)
        return HostNetLastError();
    *Sent = (size_t)Result;
    return HOST_NET_OK;
}

int
HostNetReceive(HOST_NET_SOCKET Socket, const HOST_NET_IOVEC *Vector, int Count, size_t *Received)
{
    struct iovec Iov[HOST_NET_MAX_IOVEC];
    ssize_t Result;

    *Received = 0;
    if (HostNetToIovec(Vector, Count, Iov) < 0)
        return HOST_NET_E_INVAL;
    Result = readv((int)Socket, Iov, Count);
    if (Result < 0)
        return HostNetLastError();
    *Received = (size_t)Result;
    return HOST_NET_OK;
}

int
HostNetPeekClosed(HOST_NET_SOCKET Socket, int *Closed)
{
    char Byte;
    ssize_t Result = recv((int)Socket, &Byte, 1, MSG_PEEK | MSG_DONTWAIT);
    *Closed = 0;
    if (Result == 0) {
        *Closed = 1;
        return HOST_NET_OK;
    }
    if (Result < 0) {
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
    struct iovec Iov[HOST_NET_MAX_IOVEC];
    struct sockaddr_storage Storage;
    struct msghdr Msg;
    ssize_t Result;

    *Sent = 0;
    if (HostNetToIovec(Vector, Count, Iov) < 0)
        return HOST_NET_E_INVAL;
    memset(&Msg, 0, sizeof(Msg));
    if (Remote) {
        Msg.msg_namelen = HostNetToSockaddr(Remote, &Storage);
        if (!Msg.msg_namelen)
            return HOST_NET_E_AFNOSUPPORT;
        Msg.msg_name = &Storage;
    }
    Msg.msg_iov = Iov;
    Msg.msg_iovlen = Count;
    Result = sendmsg((int)Socket, &Msg, MSG_NOSIGNAL);
    if (Result < 0)
        return HostNetLastError();
    *Sent = (size_t)Result;
    return HOST_NET_OK;
}

int
HostNetReceiveFrom(HOST_NET_SOCKET Socket, const HOST_NET_IOVEC *Vector, int Count, size_t *Received,
                   HOST_NET_ADDRESS *Remote, int *Truncated)
{
    struct iovec Iov[HOST_NET_MAX_IOVEC];
    struct sockaddr_storage Storage;
    struct msghdr Msg;
    ssize_t Result;

    *Received = 0;
    *Truncated = 0;
    if (HostNetToIovec(Vector, Count, Iov) < 0)
        return HOST_NET_E_INVAL;
    memset(&Msg, 0, sizeof(Msg));
    memset(&Storage, 0, sizeof(Storage));
    Msg.msg_name = &Storage;
    Msg.msg_namelen = sizeof(Storage);
    Msg.msg_iov = Iov;
    Msg.msg_iovlen = Count;
    Result = recvmsg((int)Socket, &Msg, 0);
    if (Result < 0)
        return HostNetLastError();
    *Received = (size_t)Result;
    *Truncated = (Msg.msg_flags & MSG_TRUNC) ? 1 : 0;
    if (Remote)
        (void)HostNetFromSockaddr(&Storage, Remote);
    return HOST_NET_OK;
}

int
HostNetBytesAvailable(HOST_NET_SOCKET Socket, size_t *Bytes)
{
    int Value = 0;
    *Bytes = 0;
    if (ioctl((int)Socket, FIONREAD, &Value) < 0)
        return HostNetLastError();
    *Bytes = Value < 0 ? 0 : (size_t)Value;
    return HOST_NET_OK;
}

int
HostNetSendQueued(HOST_NET_SOCKET Socket, size_t *Bytes)
{
    int Value = 0;
    *Bytes = 0;
#if defined(__linux__) && defined(SIOCOUTQ)
    if (ioctl((int)Socket, SIOCOUTQ, &Value) < 0)
        return HostNetLastError();
#else
    socklen_t Length = sizeof(Value);
#ifdef SO_NWRITE
    if (getsockopt((int)Socket, SOL_SOCKET, SO_NWRITE, &Value, &Length) < 0)
        return HostNetLastError();
#else
    (void)Length;
    (void)Socket;
#endif
#endif
    *Bytes = Value < 0 ? 0 : (size_t)Value;
    return HOST_NET_OK;
}

/* ---- poller ---- */

/* The wake-up channel: a pipe. */

int
HostNetOsWakeCreate(HOST_NET_OS_SOCKET *Read, HOST_NET_OS_SOCKET *Write)
{
    int Pipe[2];
    if (pipe(Pipe) < 0)
        return HostNetLastError();
    HostNetSetNonBlocking(Pipe[0]);
    HostNetSetNonBlocking(Pipe[1]);
    *Read = Pipe[0];
    *Write = Pipe[1];
    return HOST_NET_OK;
}

void
HostNetOsWakeClose(HOST_NET_OS_SOCKET Read, HOST_NET_OS_SOCKET Write)
{
    close(Read);
    close(Write);
}

void
HostNetOsWakeDrain(HOST_NET_OS_SOCKET Read)
{
    char Drain[64];
    while (read(Read, Drain, sizeof(Drain)) > 0)
        ;
}

void
HostNetOsWakeSignal(HOST_NET_OS_SOCKET Write)
{
    char Byte = 1;
    /* A full pipe already guarantees a wake-up. */
    ssize_t Ignored = write(Write, &Byte, 1);
    (void)Ignored;
}

#ifdef __linux__

struct _HOST_NET_POLLER {
    int Epoll;
    int WakeRead;
    int WakeWrite;
};

int
HostNetPollerCreate(HOST_NET_POLLER **Poller)
{
    HOST_NET_POLLER *P = calloc(1, sizeof(*P));
    struct epoll_event Event;
    int Error;

    *Poller = NULL;
    if (!P)
        return HOST_NET_E_NOMEM;
    P->Epoll = epoll_create1(EPOLL_CLOEXEC);
    if (P->Epoll < 0) {
        free(P);
        return HOST_NET_E_NOMEM;
    }
    Error = HostNetOsWakeCreate(&P->WakeRead, &P->WakeWrite);
    if (Error != HOST_NET_OK)
        goto cleanupEpoll;
    memset(&Event, 0, sizeof(Event));
    Event.events = EPOLLIN;
    Event.data.ptr = NULL; /* NULL context marks the wake-up pipe */
    if (epoll_ctl(P->Epoll, EPOLL_CTL_ADD, P->WakeRead, &Event) < 0) {
        Error = HostNetLastError();
        HostNetOsWakeClose(P->WakeRead, P->WakeWrite);
        goto cleanupEpoll;
    }
    *Poller = P;
    return HOST_NET_OK;

cleanupEpoll:
    close(P->Epoll);
    free(P);
    return Error;
}

void
HostNetPollerDestroy(HOST_NET_POLLER *Poller)
{
    if (!Poller)
        return;
    HostNetOsWakeClose(Poller->WakeRead, Poller->WakeWrite);
    close(Poller->Epoll);
    free(Poller);
}

int
HostNetPollerSet(HOST_NET_POLLER *Poller, HOST_NET_SOCKET Socket, unsigned Interest, void *Context)
{
    struct epoll_event Event;
    memset(&Event, 0, sizeof(Event));
    Event.events = ((Interest & HOST_NET_POLL_READ) ? EPOLLIN : 0) | ((Interest & HOST_NET_POLL_WRITE) ? EPOLLOUT : 0) |
                   ((Interest & HOST_NET_POLL_RDHUP) ? EPOLLRDHUP : 0);
    Event.data.ptr = Context;
    if (epoll_ctl(Poller->Epoll, EPOLL_CTL_MOD, (int)Socket, &Event) == 0)
        return HOST_NET_OK;
    if (errno != ENOENT)
        return HostNetLastError();
    return epoll_ctl(Poller->Epoll, EPOLL_CTL_ADD, (int)Socket, &Event) < 0 ? HostNetLastError() : HOST_NET_OK;
}

int
HostNetPollerRemove(HOST_NET_POLLER *Poller, HOST_NET_SOCKET Socket)
{
    struct epoll_event Event;
    memset(&Event, 0, sizeof(Event));
    return epoll_ctl(Poller->Epoll, EPOLL_CTL_DEL, (int)Socket, &Event) < 0 ? HostNetLastError() : HOST_NET_OK;
}

int
HostNetPollerWait(HOST_NET_POLLER *Poller, HOST_NET_POLL_EVENT *Events, int MaxEvents, int TimeoutMs)
{
    struct epoll_event Raw[64];
    int Count, i, Out = 0;

    if (MaxEvents > 64)
        MaxEvents = 64;
    Count = epoll_wait(Poller->Epoll, Raw, MaxEvents, TimeoutMs);
    if (Count < 0)
        return errno == EINTR ? 0 : -1;
    for (i = 0; i < Count; i++) {
        unsigned Flags = 0;
        if (!Raw[i].data.ptr) {
            HostNetOsWakeDrain(Poller->WakeRead);
            continue;
        }
        if (Raw[i].events & EPOLLIN)
            Flags |= HOST_NET_POLL_READ;
        if (Raw[i].events & EPOLLOUT)
            Flags |= HOST_NET_POLL_WRITE;
        if (Raw[i].events & EPOLLRDHUP)
            Flags |= HOST_NET_POLL_RDHUP;
        if (Raw[i].events & EPOLLHUP)
            Flags |= HOST_NET_POLL_HUP;
        if (Raw[i].events & EPOLLERR)
            Flags |= HOST_NET_POLL_ERROR;
        Events[Out].Context = Raw[i].data.ptr;
        Events[Out].Events = Flags;
        Out++;
    }
    return Out;
}

int
HostNetPollerWaitReady(HOST_NET_POLLER *Poller, int TimeoutMs)
{
    struct pollfd Ready;
    int Count;
    Ready.fd = Poller->Epoll;
    Ready.events = POLLIN;
    Ready.revents = 0;
    Count = poll(&Ready, 1, TimeoutMs);
    if (Count < 0)
        return HostNetOsPollInterrupted() ? 0 : -1;
    return Count > 0 ? 1 : 0;
}

int64_t
HostNetPollerDescriptor(HOST_NET_POLLER *Poller)
{
    return Poller->Epoll;
}

void
HostNetPollerWake(HOST_NET_POLLER *Poller)
{
    HostNetOsWakeSignal(Poller->WakeWrite);
}

#endif


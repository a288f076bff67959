/* SPDX-License-Identifier: MIT
 *
 * ksim host network layer on POSIX sockets (Linux: epoll; other POSIX systems: poll). This is
 * the only ksim file that includes socket, poll or errno headers; see host_net.h.
 */
#define _GNU_SOURCE
#include "host_net.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
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

static volatile uint64_t HostNetSocketsOpen;

static int
HostNetFromErrno(int Error)
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

static int
HostNetLastError(void)
{
    return HostNetFromErrno(errno);
}

static int
HostNetSetNonBlocking(int Fd)
{
    int Flags = fcntl(Fd, F_GETFL, 0);
    if (Flags < 0 || fcntl(Fd, F_SETFL, Flags | O_NONBLOCK) < 0)
        return -1;
    return fcntl(Fd, F_SETFD, FD_CLOEXEC);
}

static socklen_t
HostNetToSockaddr(const HOST_NET_ADDRESS *Address, struct sockaddr_storage *Storage)
{
    memset(Storage, 0, sizeof(*Storage));
    if (Address->Family == HOST_NET_AF_INET) {
        struct sockaddr_in *In = (struct sockaddr_in *)Storage;
        In->sin_family = AF_INET;
        In->sin_port = htons(Address->Port);
        memcpy(&In->sin_addr, Address->Address, 4);
        return sizeof(*In);
    }
    if (Address->Family == HOST_NET_AF_INET6) {
        struct sockaddr_in6 *In6 = (struct sockaddr_in6 *)Storage;
        In6->sin6_family = AF_INET6;
        In6->sin6_port = htons(Address->Port);
        In6->sin6_flowinfo = Address->FlowInfo;
        memcpy(&In6->sin6_addr, Address->Address, 16);
        In6->sin6_scope_id = Address->ScopeId;
        return sizeof(*In6);
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
    __atomic_add_fetch(&HostNetSocketsOpen, 1, __ATOMIC_RELAXED);
    *Socket = Fd;
    return HOST_NET_OK;
}

void
HostNetClose(HOST_NET_SOCKET Socket)
{
    if (Socket < 0)
        return;
    close((int)Socket);
    __atomic_sub_fetch(&HostNetSocketsOpen, 1, __ATOMIC_RELAXED);
}

void
HostNetCloseAbortive(HOST_NET_SOCKET Socket)
{
    struct linger Linger = { 1, 0 };
    if (Socket < 0)
        return;
    (void)setsockopt((int)Socket, SOL_SOCKET, SO_LINGER, &Linger, sizeof(Linger));
    HostNetClose(Socket);
}

int
HostNetBind(HOST_NET_SOCKET Socket, const HOST_NET_ADDRESS *Address)
{
    struct sockaddr_storage Storage;
    socklen_t Length = HostNetToSockaddr(Address, &Storage);
    if (!Length)
        return HOST_NET_E_AFNOSUPPORT;
    return bind((int)Socket, (struct sockaddr *)&Storage, Length) < 0 ? HostNetLastError() : HOST_NET_OK;
}

int
HostNetListen(HOST_NET_SOCKET Socket, int Backlog)
{
    return listen((int)Socket, Backlog) < 0 ? HostNetLastError() : HOST_NET_OK;
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
    __atomic_add_fetch(&HostNetSocketsOpen, 1, __ATOMIC_RELAXED);
    if (Remote)
        (void)HostNetFromSockaddr(&Storage, Remote);
    *NewSocket = Fd;
    return HOST_NET_OK;
}

int
HostNetConnect(HOST_NET_SOCKET Socket, const HOST_NET_ADDRESS *Remote)
{
    struct sockaddr_storage Storage;
    socklen_t Length = HostNetToSockaddr(Remote, &Storage);
    if (!Length)
        return HOST_NET_E_AFNOSUPPORT;
    return connect((int)Socket, (struct sockaddr *)&Storage, Length) < 0 ? HostNetLastError() : HOST_NET_OK;
}

int
HostNetConnectResult(HOST_NET_SOCKET Socket)
{
    int Error = 0;
    socklen_t Length = sizeof(Error);
    if (getsockopt((int)Socket, SOL_SOCKET, SO_ERROR, &Error, &Length) < 0)
        return HostNetLastError();
    return HostNetFromErrno(Error);
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

int
HostNetShutdownSend(HOST_NET_SOCKET Socket)
{
    return shutdown((int)Socket, SHUT_WR) < 0 ? HostNetLastError() : HOST_NET_OK;
}

int
HostNetGetLocalAddress(HOST_NET_SOCKET Socket, HOST_NET_ADDRESS *Address)
{
    struct sockaddr_storage Storage;
    socklen_t Length = sizeof(Storage);
    memset(&Storage, 0, sizeof(Storage));
    if (getsockname((int)Socket, (struct sockaddr *)&Storage, &Length) < 0)
        return HostNetLastError();
    return HostNetFromSockaddr(&Storage, Address);
}

int
HostNetGetRemoteAddress(HOST_NET_SOCKET Socket, HOST_NET_ADDRESS *Address)
{
    struct sockaddr_storage Storage;
    socklen_t Length = sizeof(Storage);
    memset(&Storage, 0, sizeof(Storage));
    if (getpeername((int)Socket, (struct sockaddr *)&Storage, &Length) < 0)
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
#ifdef SO_ACCEPTCONN
        *Level = SOL_SOCKET, *Name = SO_ACCEPTCONN;
        return 0;
#else
        return -1;
#endif
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
    return setsockopt((int)Socket, Level, Name, &Value, sizeof(Value)) < 0 ? HostNetLastError() : HOST_NET_OK;
}

int
HostNetGetOption(HOST_NET_SOCKET Socket, int Option, int *Value)
{
    int Level, Name, Raw = 0;
    socklen_t Length = sizeof(Raw);
    *Value = 0;
    if (HostNetOptionToHost(Option, &Level, &Name) < 0)
        return HOST_NET_E_NOPROTOOPT;
    if (getsockopt((int)Socket, Level, Name, &Raw, &Length) < 0)
        return HostNetLastError();
    if (Option == HOST_NET_OPT_ERROR)
        Raw = HostNetFromErrno(Raw);
    else if (Option == HOST_NET_OPT_TYPE)
        Raw = Raw == SOCK_STREAM ? HOST_NET_STREAM : Raw == SOCK_DGRAM ? HOST_NET_DGRAM : 0;
    *Value = Raw;
    return HOST_NET_OK;
}

uint64_t
HostNetOpenSockets(void)
{
    return __atomic_load_n(&HostNetSocketsOpen, __ATOMIC_RELAXED);
}

/* ---- poller ---- */

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
    int Pipe[2];
    struct epoll_event Event;

    *Poller = NULL;
    if (!P)
        return HOST_NET_E_NOMEM;
    P->Epoll = epoll_create1(EPOLL_CLOEXEC);
    if (P->Epoll < 0)
        goto cleanupPoller;
    if (pipe2(Pipe, O_NONBLOCK | O_CLOEXEC) < 0)
        goto cleanupEpoll;
    P->WakeRead = Pipe[0];
    P->WakeWrite = Pipe[1];
    memset(&Event, 0, sizeof(Event));
    Event.events = EPOLLIN;
    Event.data.ptr = NULL; /* NULL context marks the wake-up pipe */
    if (epoll_ctl(P->Epoll, EPOLL_CTL_ADD, P->WakeRead, &Event) < 0)
        goto cleanupPipe;
    *Poller = P;
    return HOST_NET_OK;

cleanupPipe:
    close(P->WakeRead);
    close(P->WakeWrite);
cleanupEpoll:
    close(P->Epoll);
cleanupPoller:
    free(P);
    return HOST_NET_E_NOMEM;
}

void
HostNetPollerDestroy(HOST_NET_POLLER *Poller)
{
    if (!Poller)
        return;
    close(Poller->WakeRead);
    close(Poller->WakeWrite);
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
            char Drain[64];
            while (read(Poller->WakeRead, Drain, sizeof(Drain)) > 0)
                ;
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
        return errno == EINTR ? 0 : -1;
    return Count > 0 ? 1 : 0;
}

int64_t
HostNetPollerDescriptor(HOST_NET_POLLER *Poller)
{
    return Poller->Epoll;
}

#else /* poll(2) for the other POSIX systems */

typedef struct _HOST_NET_POLL_ENTRY {
    int Fd;
    unsigned Interest;
    void *Context;
} HOST_NET_POLL_ENTRY;

struct _HOST_NET_POLLER {
    pthread_mutex_t Lock;
    HOST_NET_POLL_ENTRY *Entries;
    size_t Count;
    size_t Capacity;
    struct pollfd *Scratch;
    size_t ScratchCapacity;
    int WakeRead;
    int WakeWrite;
};

int
HostNetPollerCreate(HOST_NET_POLLER **Poller)
{
    HOST_NET_POLLER *P = calloc(1, sizeof(*P));
    int Pipe[2];
    *Poller = NULL;
    if (!P)
        return HOST_NET_E_NOMEM;
    if (pipe(Pipe) < 0) {
        free(P);
        return HostNetLastError();
    }
    HostNetSetNonBlocking(Pipe[0]);
    HostNetSetNonBlocking(Pipe[1]);
    P->WakeRead = Pipe[0];
    P->WakeWrite = Pipe[1];
    pthread_mutex_init(&P->Lock, NULL);
    *Poller = P;
    return HOST_NET_OK;
}

void
HostNetPollerDestroy(HOST_NET_POLLER *Poller)
{
    if (!Poller)
        return;
    close(Poller->WakeRead);
    close(Poller->WakeWrite);
    pthread_mutex_destroy(&Poller->Lock);
    free(Poller->Entries);
    free(Poller->Scratch);
    free(Poller);
}

int
HostNetPollerSet(HOST_NET_POLLER *Poller, HOST_NET_SOCKET Socket, unsigned Interest, void *Context)
{
    size_t i;
    int Result = HOST_NET_OK;
    pthread_mutex_lock(&Poller->Lock);
    for (i = 0; i < Poller->Count; i++)
        if (Poller->Entries[i].Fd == (int)Socket)
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
    Poller->Entries[i].Fd = (int)Socket;
    Poller->Entries[i].Interest = Interest;
    Poller->Entries[i].Context = Context;
cleanupLock:
    pthread_mutex_unlock(&Poller->Lock);
    if (Result == HOST_NET_OK)
        HostNetPollerWake(Poller);
    return Result;
}

int
HostNetPollerRemove(HOST_NET_POLLER *Poller, HOST_NET_SOCKET Socket)
{
    size_t i;
    pthread_mutex_lock(&Poller->Lock);
    for (i = 0; i < Poller->Count; i++)
        if (Poller->Entries[i].Fd == (int)Socket) {
            Poller->Entries[i] = Poller->Entries[--Poller->Count];
            break;
        }
    pthread_mutex_unlock(&Poller->Lock);
    return HOST_NET_OK;
}

int
HostNetPollerWait(HOST_NET_POLLER *Poller, HOST_NET_POLL_EVENT *Events, int MaxEvents, int TimeoutMs)
{
    size_t i, n;
    int Count, Out = 0;
    void **Contexts;

    pthread_mutex_lock(&Poller->Lock);
    n = Poller->Count + 1;
    if (n > Poller->ScratchCapacity) {
        struct pollfd *New = realloc(Poller->Scratch, n * (sizeof(struct pollfd) + sizeof(void *)));
        if (!New) {
            pthread_mutex_unlock(&Poller->Lock);
            return -1;
        }
        Poller->Scratch = New;
        Poller->ScratchCapacity = n;
    }
    Contexts = (void **)(Poller->Scratch + Poller->ScratchCapacity);
    Poller->Scratch[0].fd = Poller->WakeRead;
    Poller->Scratch[0].events = POLLIN;
    Contexts[0] = NULL;
    for (i = 0; i < Poller->Count; i++) {
        Poller->Scratch[i + 1].fd = Poller->Entries[i].Fd;
        Poller->Scratch[i + 1].events = ((Poller->Entries[i].Interest & HOST_NET_POLL_READ) ? POLLIN : 0) |
                                        ((Poller->Entries[i].Interest & HOST_NET_POLL_WRITE) ? POLLOUT : 0);
        Contexts[i + 1] = Poller->Entries[i].Context;
    }
    pthread_mutex_unlock(&Poller->Lock);

    Count = poll(Poller->Scratch, n, TimeoutMs);
    if (Count < 0)
        return errno == EINTR ? 0 : -1;
    for (i = 0; i < n && Out < MaxEvents; i++) {
        unsigned Flags = 0;
        short R = Poller->Scratch[i].revents;
        if (!R)
            continue;
        if (i == 0) {
            char Drain[64];
            while (read(Poller->WakeRead, Drain, sizeof(Drain)) > 0)
                ;
            continue;
        }
        if (R & POLLIN)
            Flags |= HOST_NET_POLL_READ;
        if (R & POLLOUT)
            Flags |= HOST_NET_POLL_WRITE;
        if (R & POLLHUP)
            Flags |= HOST_NET_POLL_HUP | HOST_NET_POLL_RDHUP;
        if (R & POLLERR)
            Flags |= HOST_NET_POLL_ERROR;
        Events[Out].Context = Contexts[i];
        Events[Out].Events = Flags;
        Out++;
    }
    return Out;
}

int
HostNetPollerWaitReady(HOST_NET_POLLER *Poller, int TimeoutMs)
{
    struct pollfd *Set;
    size_t i, n;
    int Count;

    pthread_mutex_lock(&Poller->Lock);
    n = Poller->Count + 1;
    Set = malloc(n * sizeof(*Set));
    if (!Set) {
        pthread_mutex_unlock(&Poller->Lock);
        return -1;
    }
    Set[0].fd = Poller->WakeRead;
    Set[0].events = POLLIN;
    for (i = 0; i < Poller->Count; i++) {
        Set[i + 1].fd = Poller->Entries[i].Fd;
        Set[i + 1].events = ((Poller->Entries[i].Interest & HOST_NET_POLL_READ) ? POLLIN : 0) |
                            ((Poller->Entries[i].Interest & HOST_NET_POLL_WRITE) ? POLLOUT : 0);
    }
    pthread_mutex_unlock(&Poller->Lock);
    Count = poll(Set, n, TimeoutMs);
    free(Set);
    if (Count < 0)
        return errno == EINTR ? 0 : -1;
    return Count > 0 ? 1 : 0;
}

int64_t
HostNetPollerDescriptor(HOST_NET_POLLER *Poller)
{
    (void)Poller;
    return -1;
}

#endif

void
HostNetPollerWake(HOST_NET_POLLER *Poller)
{
    char Byte = 1;
    /* A full pipe already guarantees a wake-up. */
    ssize_t Ignored = write(Poller->WakeWrite, &Byte, 1);
    (void)Ignored;
}

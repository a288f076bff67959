/* SPDX-License-Identifier: MIT
 *
 * ksim host network layer, the OS-neutral half: everything POSIX sockets and Winsock 2 do alike
 * (addresses, bind/listen, names, options, the open-socket count, and the poller over a set that
 * Windows and the POSIX systems without epoll use). The OS halves, host_net_posix.c and
 * host_net_win.c, keep what really differs; host_net_os.h is the seam between them.
 */
#include "host_net_os.h"

#include <stdlib.h>
#include <string.h>

/* ---- addresses ---- */

HOST_NET_SOCKLEN
HostNetToSockaddr(const HOST_NET_ADDRESS *Address, struct sockaddr_storage *Storage)
{
    memset(Storage, 0, sizeof(*Storage));
    if (Address->Family == HOST_NET_AF_INET) {
        struct sockaddr_in *In = (struct sockaddr_in *)Storage;
        In->sin_family = AF_INET;
        In->sin_port = htons(Address->Port);
        memcpy(&In->sin_addr, Address->Address, 4);
        return (HOST_NET_SOCKLEN)sizeof(*In);
    }
    if (Address->Family == HOST_NET_AF_INET6) {
        struct sockaddr_in6 *In6 = (struct sockaddr_in6 *)Storage;
        In6->sin6_family = AF_INET6;
        In6->sin6_port = htons(Address->Port);
        In6->sin6_flowinfo = Address->FlowInfo;
        memcpy(&In6->sin6_addr, Address->Address, 16);
        In6->sin6_scope_id = Address->ScopeId;
        return (HOST_NET_SOCKLEN)sizeof(*In6);
    }
    return 0;
}

int
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

/* ---- the open-socket count ---- */

static volatile uint64_t HostNetSocketsOpen;

void
HostNetSocketOpened(void)
{
    __atomic_add_fetch(&HostNetSocketsOpen, 1, __ATOMIC_RELAXED);
}

void
HostNetSocketClosed(void)
{
    __atomic_sub_fetch(&HostNetSocketsOpen, 1, __ATOMIC_RELAXED);
}

uint64_t
HostNetOpenSockets(void)
{
    return __atomic_load_n(&HostNetSocketsOpen, __ATOMIC_RELAXED);
}

/* ---- sockets: the calls both systems make alike ---- */

void
HostNetClose(HOST_NET_SOCKET Socket)
{
    if (Socket == HOST_NET_INVALID_SOCKET)
        return;
    HostNetOsCloseSocket((HOST_NET_OS_SOCKET)Socket);
    HostNetSocketClosed();
}

void
HostNetCloseAbortive(HOST_NET_SOCKET Socket)
{
    struct linger Linger = { 1, 0 };
    if (Socket == HOST_NET_INVALID_SOCKET)
        return;
    (void)setsockopt((HOST_NET_OS_SOCKET)Socket, SOL_SOCKET, SO_LINGER, (const char *)&Linger, sizeof(Linger));
    HostNetClose(Socket);
}

int
HostNetBind(HOST_NET_SOCKET Socket, const HOST_NET_ADDRESS *Address)
{
    struct sockaddr_storage Storage;
    HOST_NET_SOCKLEN Length = HostNetToSockaddr(Address, &Storage);
    if (!Length)
        return HOST_NET_E_AFNOSUPPORT;
    return HOST_NET_OS_FAILED(bind((HOST_NET_OS_SOCKET)Socket, (struct sockaddr *)&Storage, Length))
               ? HostNetLastError()
               : HOST_NET_OK;
}

int
HostNetListen(HOST_NET_SOCKET Socket, int Backlog)
{
    return HOST_NET_OS_FAILED(listen((HOST_NET_OS_SOCKET)Socket, Backlog)) ? HostNetLastError() : HOST_NET_OK;
}

int
HostNetConnect(HOST_NET_SOCKET Socket, const HOST_NET_ADDRESS *Remote)
{
    struct sockaddr_storage Storage;
    HOST_NET_SOCKLEN Length = HostNetToSockaddr(Remote, &Storage);
    int Error;
    if (!Length)
        return HOST_NET_E_AFNOSUPPORT;
    if (!HOST_NET_OS_FAILED(connect((HOST_NET_OS_SOCKET)Socket, (struct sockaddr *)&Storage, Length)))
        return HOST_NET_OK;
    Error = HostNetLastError();
    /* A non-blocking connect on Windows reports WSAEWOULDBLOCK where POSIX says EINPROGRESS. */
    return Error == HOST_NET_E_WOULDBLOCK ? HOST_NET_E_INPROGRESS : Error;
}

int
HostNetConnectResult(HOST_NET_SOCKET Socket)
{
    int Error = 0;
    HOST_NET_SOCKLEN Length = (HOST_NET_SOCKLEN)sizeof(Error);
    if (HOST_NET_OS_FAILED(getsockopt((HOST_NET_OS_SOCKET)Socket, SOL_SOCKET, SO_ERROR, (char *)&Error, &Length)))
        return HostNetLastError();
    return HostNetFromOsError(Error);
}

int
HostNetShutdownSend(HOST_NET_SOCKET Socket)
{
    return HOST_NET_OS_FAILED(shutdown((HOST_NET_OS_SOCKET)Socket, HOST_NET_OS_SHUT_WR)) ? HostNetLastError()
                                                                                         : HOST_NET_OK;
}

int
HostNetGetLocalAddress(HOST_NET_SOCKET Socket, HOST_NET_ADDRESS *Address)
{
    struct sockaddr_storage Storage;
    HOST_NET_SOCKLEN Length = (HOST_NET_SOCKLEN)sizeof(Storage);
    memset(&Storage, 0, sizeof(Storage));
    if (HOST_NET_OS_FAILED(getsockname((HOST_NET_OS_SOCKET)Socket, (struct sockaddr *)&Storage, &Length)))
        return HostNetLastError();
    return HostNetFromSockaddr(&Storage, Address);
}

int
HostNetGetRemoteAddress(HOST_NET_SOCKET Socket, HOST_NET_ADDRESS *Address)
{
    struct sockaddr_storage Storage;
    HOST_NET_SOCKLEN Length = (HOST_NET_SOCKLEN)sizeof(Storage);
    memset(&Storage, 0, sizeof(Storage));
    if (HOST_NET_OS_FAILED(getpeername((HOST_NET_OS_SOCKET)Socket, (struct sockaddr *)&Storage, &Length)))
        return HostNetLastError();
    return HostNetFromSockaddr(&Storage, Address);
}

/* ---- options ---- */

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
    return HOST_NET_OS_FAILED(
               setsockopt((HOST_NET_OS_SOCKET)Socket, Level, Name, (const char *)&Value, sizeof(Value)))
               ? HostNetLastError()
               : HOST_NET_OK;
}

int
HostNetGetOption(HOST_NET_SOCKET Socket, int Option, int *Value)
{
    int Level, Name, Raw = 0;
    HOST_NET_SOCKLEN Length = (HOST_NET_SOCKLEN)sizeof(Raw);
    *Value = 0;
    if (HostNetOptionToHost(Option, &Level, &Name) < 0)
        return HOST_NET_E_NOPROTOOPT;
    if (HOST_NET_OS_FAILED(getsockopt((HOST_NET_OS_SOCKET)Socket, Level, Name, (char *)&Raw, &Length)))
        return HostNetLastError();
    Raw = HostNetOsOptionValue((HOST_NET_OS_SOCKET)Socket, Option, Raw, Length);
    if (Option == HOST_NET_OPT_TYPE)
        Raw = Raw == SOCK_STREAM ? HOST_NET_STREAM : Raw == SOCK_DGRAM ? HOST_NET_DGRAM : 0;
    *Value = Raw;
    return HOST_NET_OK;
}

/* ---- the poller over a set (Windows: WSAPoll; POSIX without epoll: poll) ----
 *
 * Level-triggered like epoll. Entries change under the lock; a wait polls a snapshot taken under
 * it, and Set and Remove wake the wait so that it is retaken. The lock is not held across the
 * poll so they never block behind it. */

#ifdef HOST_NET_SET_POLLER

typedef struct _HOST_NET_POLL_ENTRY {
    HOST_NET_OS_SOCKET Socket;
    unsigned Interest;
    void *Context;
} HOST_NET_POLL_ENTRY;

struct _HOST_NET_POLLER {
    HOST_NET_OS_LOCK Lock;
    HOST_NET_POLL_ENTRY *Entries;
    size_t Count;
    size_t Capacity;
    HOST_NET_POLLFD *Scratch; /* the wait's snapshot: entry i is Scratch[i + 1] */
    void **Contexts;
    unsigned *Interests;
    size_t ScratchCapacity;
    HOST_NET_OS_SOCKET WakeRead;
    HOST_NET_OS_SOCKET WakeWrite;
};

int
HostNetPollerCreate(HOST_NET_POLLER **Poller)
{
    HOST_NET_POLLER *P = calloc(1, sizeof(*P));
    int Error;

    *Poller = NULL;
    if (!P)
        return HOST_NET_E_NOMEM;
    Error = HostNetOsWakeCreate(&P->WakeRead, &P->WakeWrite);
    if (Error != HOST_NET_OK) {
        free(P);
        return Error;
    }
    HostNetOsLockInit(&P->Lock);
    *Poller = P;
    return HOST_NET_OK;
}

void
HostNetPollerDestroy(HOST_NET_POLLER *Poller)
{
    if (!Poller)
        return;
    HostNetOsWakeClose(Poller->WakeRead, Poller->WakeWrite);
    HostNetOsLockDestroy(&Poller->Lock);
    free(Poller->Entries);
    free(Poller->Scratch);
    free(Poller->Contexts);
    free(Poller->Interests);
    free(Poller);
}

void
HostNetPollerWake(HOST_NET_POLLER *Poller)
{
    HostNetOsWakeSignal(Poller->WakeWrite);
}

int
HostNetPollerSet(HOST_NET_POLLER *Poller, HOST_NET_SOCKET Socket, unsigned Interest, void *Context)
{
    size_t i;
    int Result = HOST_NET_OK;
    HostNetOsLock(&Poller->Lock);
    for (i = 0; i < Poller->Count; i++)
        if (Poller->Entries[i].Socket == (HOST_NET_OS_SOCKET)Socket)
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
    Poller->Entries[i].Socket = (HOST_NET_OS_SOCKET)Socket;
    Poller->Entries[i].Interest = Interest;
    Poller->Entries[i].Context = Context;
cleanupLock:
    HostNetOsUnlock(&Poller->Lock);
    if (Result == HOST_NET_OK)
        HostNetPollerWake(Poller);
    return Result;
}

int
HostNetPollerRemove(HOST_NET_POLLER *Poller, HOST_NET_SOCKET Socket)
{
    size_t i;
    HostNetOsLock(&Poller->Lock);
    for (i = 0; i < Poller->Count; i++)
        if (Poller->Entries[i].Socket == (HOST_NET_OS_SOCKET)Socket) {
            Poller->Entries[i] = Poller->Entries[--Poller->Count];
            break;
        }
    HostNetOsUnlock(&Poller->Lock);
    HostNetPollerWake(Poller);
    return HOST_NET_OK;
}

/* Fills Set[0..Count] (the wake-up channel first) from the entries; Contexts and Interests may
 * be NULL. Lock held. Returns the number of descriptors; *Connecting = 1 if any entry waits to
 * become writable. */
static size_t
HostNetPollerSnapshot(HOST_NET_POLLER *Poller, HOST_NET_POLLFD *Set, void **Contexts, unsigned *Interests,
                      int *Connecting)
{
    size_t i;
    *Connecting = 0;
    Set[0].fd = Poller->WakeRead;
    Set[0].events = HOST_NET_OS_POLL_IN;
    Set[0].revents = 0;
    if (Contexts)
        Contexts[0] = NULL, Interests[0] = 0;
    for (i = 0; i < Poller->Count; i++) {
        /* Only the read and write bits: WSAPoll rejects POLLPRI, and errors and hang-ups are
         * reported without being asked for, as the header promises for interest 0. */
        Set[i + 1].fd = Poller->Entries[i].Socket;
        Set[i + 1].events = (short)(((Poller->Entries[i].Interest & HOST_NET_POLL_READ) ? HOST_NET_OS_POLL_IN : 0) |
                                    ((Poller->Entries[i].Interest & HOST_NET_POLL_WRITE) ? HOST_NET_OS_POLL_OUT : 0));
        Set[i + 1].revents = 0;
        if (Contexts)
            Contexts[i + 1] = Poller->Entries[i].Context, Interests[i + 1] = Poller->Entries[i].Interest;
        if (Poller->Entries[i].Interest & HOST_NET_POLL_WRITE)
            *Connecting = 1;
    }
    return Poller->Count + 1;
}

int
HostNetPollerWait(HOST_NET_POLLER *Poller, HOST_NET_POLL_EVENT *Events, int MaxEvents, int TimeoutMs)
{
    size_t i, n;
    int Count, Out = 0, Connecting = 0;
#ifdef HOST_NET_CONNECT_SLICE_MS
    uint64_t Deadline = TimeoutMs < 0 ? 0 : HostNetOsNowMs() + (uint64_t)TimeoutMs;
#endif

    HostNetOsLock(&Poller->Lock);
    n = Poller->Count + 1;
    if (n > Poller->ScratchCapacity) {
        HOST_NET_POLLFD *NewScratch = realloc(Poller->Scratch, n * sizeof(*NewScratch));
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
            HostNetOsUnlock(&Poller->Lock);
            return -1;
        }
        Poller->ScratchCapacity = n;
    }
    n = HostNetPollerSnapshot(Poller, Poller->Scratch, Poller->Contexts, Poller->Interests, &Connecting);
    HostNetOsUnlock(&Poller->Lock);

    for (;;) {
        int Slice = TimeoutMs;
#ifdef HOST_NET_CONNECT_SLICE_MS
        if (Connecting) {
            if (TimeoutMs < 0 || TimeoutMs > HOST_NET_CONNECT_SLICE_MS)
                Slice = HOST_NET_CONNECT_SLICE_MS;
            if (TimeoutMs >= 0) {
                uint64_t Now = HostNetOsNowMs();
                int Left = Now >= Deadline ? 0 : (int)(Deadline - Now);
                if (Slice > Left)
                    Slice = Left;
            }
        }
#endif
        Count = HostNetOsPoll(Poller->Scratch, n, Slice);
        if (Count < 0)
            return HostNetOsPollInterrupted() ? 0 : -1;
#ifdef HOST_NET_CONNECT_SLICE_MS
        if (Connecting) {
            for (i = 1; i < n; i++) {
                int Error = 0;
                HOST_NET_SOCKLEN Length = (HOST_NET_SOCKLEN)sizeof(Error);
                if (!(Poller->Interests[i] & HOST_NET_POLL_WRITE) || Poller->Scratch[i].revents)
                    continue;
                if (getsockopt(Poller->Scratch[i].fd, SOL_SOCKET, SO_ERROR, (char *)&Error, &Length) == 0 && Error) {
                    Poller->Scratch[i].revents = POLLERR | HOST_NET_OS_POLL_OUT;
                    if (!Count)
                        Count = 1;
                }
            }
        }
        if (Count > 0 || !Connecting)
            break;
        if (TimeoutMs >= 0 && HostNetOsNowMs() >= Deadline)
            break;
#else
        (void)Connecting;
        break;
#endif
    }

    for (i = 0; i < n && Out < MaxEvents; i++) {
        unsigned Flags = 0;
        short R = Poller->Scratch[i].revents;
        if (!R)
            continue;
        if (i == 0) {
            HostNetOsWakeDrain(Poller->WakeRead);
            continue;
        }
        if (R & POLLNVAL)
            continue; /* closed between the snapshot and the wait; it was removed */
        if (R & HOST_NET_OS_POLL_IN_REPORT)
            Flags |= HOST_NET_POLL_READ;
        if (R & HOST_NET_OS_POLL_OUT)
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
    HOST_NET_POLLFD *Set;
    size_t n;
    int Count, Connecting = 0;

    HostNetOsLock(&Poller->Lock);
    Set = malloc((Poller->Count + 1) * sizeof(*Set));
    if (!Set) {
        HostNetOsUnlock(&Poller->Lock);
        return -1;
    }
    n = HostNetPollerSnapshot(Poller, Set, NULL, NULL, &Connecting);
    HostNetOsUnlock(&Poller->Lock);
#ifdef HOST_NET_CONNECT_SLICE_MS
    /* A failed connect is found only by HostNetPollerWait's SO_ERROR check: look again soon. */
    if (Connecting && (TimeoutMs < 0 || TimeoutMs > HOST_NET_CONNECT_SLICE_MS))
        TimeoutMs = HOST_NET_CONNECT_SLICE_MS;
#else
    Connecting = 0;
#endif
    Count = HostNetOsPoll(Set, n, TimeoutMs);
    free(Set);
    if (Count < 0)
        return HostNetOsPollInterrupted() ? 0 : -1;
    return Count > 0 || Connecting ? 1 : 0;
}

int64_t
HostNetPollerDescriptor(HOST_NET_POLLER *Poller)
{
    (void)Poller;
    return -1;
}

#endif /* HOST_NET_SET_POLLER */

/* SPDX-License-Identifier: MIT
 *
 * ksim WSK provider: the door to the two networks a socket can live on. A client (one session)
 * chooses its network at WskRegister (KsimOpenOnNetwork, KSIM_NETWORK, or the deterministic
 * scheduler, which only has the in-memory one); every socket of the client is created there,
 * and every later call is routed by the handle, whose HOST_NET_MEMORY_BIT says which network
 * holds it. The host network is host_net.h, the in-memory one host_net_memory.h.
 */
#include "wsk_internal.h"

/* In-memory sockets the provider opened and has not closed (peers' sockets are not counted:
 * the verifier's "nothing left" is about the provider's). */
static volatile int64_t KsimNetMemoryOwned;

int
KsimNetSocket(_In_ BOOLEAN Memory, _In_ int Family, _In_ int Type, _Out_ HOST_NET_SOCKET *Socket)
{
    int Error;
    if (!Memory)
        return HostNetSocket(Family, Type, Socket);
    Error = HostNetMemSocket(Family, Type, Socket);
    if (Error == HOST_NET_OK)
        __atomic_add_fetch(&KsimNetMemoryOwned, 1, __ATOMIC_RELAXED);
    return Error;
}

VOID
KsimNetClose(_In_ HOST_NET_SOCKET Socket)
{
    if (!HostNetIsMemory(Socket)) {
        HostNetClose(Socket);
        return;
    }
    HostNetMemClose(Socket);
    __atomic_sub_fetch(&KsimNetMemoryOwned, 1, __ATOMIC_RELAXED);
}

VOID
KsimNetCloseAbortive(_In_ HOST_NET_SOCKET Socket)
{
    if (!HostNetIsMemory(Socket)) {
        HostNetCloseAbortive(Socket);
        return;
    }
    HostNetMemCloseAbortive(Socket);
    __atomic_sub_fetch(&KsimNetMemoryOwned, 1, __ATOMIC_RELAXED);
}

int
KsimNetAccept(_In_ HOST_NET_SOCKET Socket, _Out_ HOST_NET_SOCKET *NewSocket, _Out_opt_ HOST_NET_ADDRESS *Remote)
{
    int Error;
    if (!HostNetIsMemory(Socket))
        return HostNetAccept(Socket, NewSocket, Remote);
    Error = HostNetMemAccept(Socket, NewSocket, Remote);
    if (Error == HOST_NET_OK)
        __atomic_add_fetch(&KsimNetMemoryOwned, 1, __ATOMIC_RELAXED);
    return Error;
}

uint64_t
KsimNetOpenSockets(VOID)
{
    return HostNetOpenSockets() + (uint64_t)__atomic_load_n(&KsimNetMemoryOwned, __ATOMIC_RELAXED);
}

#define KSIM_NET_ROUTE(Name, Params, Args)            \
    int KsimNet##Name Params                          \
    {                                                 \
        if (HostNetIsMemory(Socket))                  \
            return HostNetMem##Name Args;             \
        return HostNet##Name Args;                    \
    }

KSIM_NET_ROUTE(Bind, (HOST_NET_SOCKET Socket, const HOST_NET_ADDRESS *Address), (Socket, Address))
KSIM_NET_ROUTE(Listen, (HOST_NET_SOCKET Socket, int Backlog), (Socket, Backlog))
KSIM_NET_ROUTE(Connect, (HOST_NET_SOCKET Socket, const HOST_NET_ADDRESS *Remote), (Socket, Remote))
KSIM_NET_ROUTE(ConnectResult, (HOST_NET_SOCKET Socket), (Socket))
KSIM_NET_ROUTE(Send, (HOST_NET_SOCKET Socket, const HOST_NET_IOVEC *Vector, int Count, int Flags, size_t *Sent),
               (Socket, Vector, Count, Flags, Sent))
KSIM_NET_ROUTE(Receive, (HOST_NET_SOCKET Socket, const HOST_NET_IOVEC *Vector, int Count, size_t *Received),
               (Socket, Vector, Count, Received))
KSIM_NET_ROUTE(PeekClosed, (HOST_NET_SOCKET Socket, int *Closed), (Socket, Closed))
KSIM_NET_ROUTE(SendTo,
               (HOST_NET_SOCKET Socket, const HOST_NET_IOVEC *Vector, int Count, const HOST_NET_ADDRESS *Remote,
                size_t *Sent),
               (Socket, Vector, Count, Remote, Sent))
KSIM_NET_ROUTE(ReceiveFrom,
               (HOST_NET_SOCKET Socket, const HOST_NET_IOVEC *Vector, int Count, size_t *Received,
                HOST_NET_ADDRESS *Remote, int *Truncated),
               (Socket, Vector, Count, Received, Remote, Truncated))
KSIM_NET_ROUTE(BytesAvailable, (HOST_NET_SOCKET Socket, size_t *Bytes), (Socket, Bytes))
KSIM_NET_ROUTE(SendQueued, (HOST_NET_SOCKET Socket, size_t *Bytes), (Socket, Bytes))
KSIM_NET_ROUTE(ShutdownSend, (HOST_NET_SOCKET Socket), (Socket))
KSIM_NET_ROUTE(GetLocalAddress, (HOST_NET_SOCKET Socket, HOST_NET_ADDRESS *Address), (Socket, Address))
KSIM_NET_ROUTE(GetRemoteAddress, (HOST_NET_SOCKET Socket, HOST_NET_ADDRESS *Address), (Socket, Address))
KSIM_NET_ROUTE(SetOption, (HOST_NET_SOCKET Socket, int Option, int Value), (Socket, Option, Value))
KSIM_NET_ROUTE(GetOption, (HOST_NET_SOCKET Socket, int Option, int *Value), (Socket, Option, Value))

int
KsimNetPollerSet(_In_ HOST_NET_SOCKET Socket, _In_ unsigned Interest, _In_ PVOID Context)
{
    if (HostNetIsMemory(Socket))
        return KsimWskProvider.MemoryPoller ? HostNetMemPollerSet(KsimWskProvider.MemoryPoller, Socket, Interest, Context)
                                            : HOST_NET_E_INVAL;
    return KsimWskProvider.Poller ? HostNetPollerSet(KsimWskProvider.Poller, Socket, Interest, Context)
                                  : HOST_NET_E_INVAL;
}

int
KsimNetPollerRemove(_In_ HOST_NET_SOCKET Socket)
{
    if (HostNetIsMemory(Socket))
        return KsimWskProvider.MemoryPoller ? HostNetMemPollerRemove(KsimWskProvider.MemoryPoller, Socket)
                                            : HOST_NET_OK;
    return KsimWskProvider.Poller ? HostNetPollerRemove(KsimWskProvider.Poller, Socket) : HOST_NET_OK;
}

/* Which network a new client gets: what KsimOpenOnNetwork asked for on this thread, else
 * KSIM_NETWORK=memory, else the host's. The deterministic scheduler has no other network. */
BOOLEAN
KsimNetClientWantsMemory(VOID)
{
    const char *Env;
    int Asked = KsimCurrentThread()->OpenNetwork;
    if (KsimSchedulerIsDeterministic())
        return TRUE;
    if (Asked)
        return Asked == KSIM_OPEN_NETWORK_MEMORY;
    Env = KsimHostGetEnv("KSIM_NETWORK");
    return Env && Env[0] == 'm';
}

int
KsimNetReceiveDrops(_In_ HOST_NET_SOCKET Socket, _Out_ uint64_t *Dropped)
{
    return HostNetIsMemory(Socket) ? HostNetMemReceiveDrops(Socket, Dropped) : HostNetReceiveDrops(Socket, Dropped);
}

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

#define KSIM_NET_ROUTE(Name, Parameters, Arguments) \
    int KsimNet##Name Parameters                      \
    {                                                 \
        if (HostNetIsMemory(Socket))                  \
            return HostNetMem##Name Arguments;        \
        return HostNet##Name Arguments;               \
    }
HOST_NET_SOCKET_CALLS(KSIM_NET_ROUTE)
#undef KSIM_NET_ROUTE

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


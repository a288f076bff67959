/* SPDX-License-Identifier: MIT
 *
 * ksim's in-memory network: the sockets of host_net.h (TCP and UDP over IPv4 and IPv6
 * loopback) implemented in memory, with no host socket and no clock. Every socket of this
 * network has a handle with HOST_NET_MEMORY_BIT set, so one provider can hold sockets of both
 * networks and route each call by its handle (src/wsk_net.c).
 *
 * The functions have host_net.h's names with "Mem" after "HostNet" and the same contracts;
 * what differs is written in docs/ksim-fidelity.md ("The in-memory network"):
 *  - TCP: a connect completes at once when a listener on that address has room in its
 *    backlog, and is refused (HOST_NET_E_CONNREFUSED through HostNetMemConnectResult) when it
 *    has none or there is no listener, as Windows does; data moves from the sender's send
 *    buffer (SO_SNDBUF) into the receiver's receive window (SO_RCVBUF) whenever either side
 *    acts; graceful close sends the FIN after the queued data; closing with unread data, or
 *    abortively, resets the peer; data sent to a closed peer resets the sender.
 *  - UDP: each socket queues at most SO_RCVBUF bytes (and HOST_NET_MEMORY_MAX_DATAGRAMS
 *    datagrams); a datagram that does not fit, or is sent to a port nobody holds, is dropped
 *    and counted (HostNetMemDatagramsDropped).
 *  - Addresses: 127.0.0.0/8, 0.0.0.0, ::1 and ::. Ephemeral ports from 49152 (Windows'
 *    dynamic range) in order, skipping ports in use, so that a run is reproducible.
 *
 * Thread safety: one lock guards the whole network; any thread may call any function.
 * Readiness: a poller is a list of registered sockets whose readiness is computed on demand
 * (level-triggered, like epoll); every change of any socket calls the poller's Wake routine.
 */
#ifndef KSIM_HOST_NET_MEMORY_H
#define KSIM_HOST_NET_MEMORY_H

#include "host_net.h"

#ifdef __cplusplus
extern "C" {
#endif

#define HOST_NET_MEMORY_BIT ((int64_t)1 << 40)
#define HOST_NET_MEMORY_DEFAULT_BUFFER (64 * 1024)
#define HOST_NET_MEMORY_MAX_DATAGRAMS 256
#define HOST_NET_MEMORY_FIRST_EPHEMERAL 49152

static inline int HostNetIsMemory(HOST_NET_SOCKET Socket)
{
    return Socket != HOST_NET_INVALID_SOCKET && (Socket & HOST_NET_MEMORY_BIT) != 0;
}

int HostNetMemSocket(int Family, int Type, HOST_NET_SOCKET *Socket);
void HostNetMemClose(HOST_NET_SOCKET Socket);
void HostNetMemCloseAbortive(HOST_NET_SOCKET Socket);
int HostNetMemAccept(HOST_NET_SOCKET Socket, HOST_NET_SOCKET *NewSocket, HOST_NET_ADDRESS *Remote);
/* The calls both networks offer (host_net.h, HOST_NET_SOCKET_CALLS), as HostNetMem<Name>. */
#define HOST_NET_MEM_DECLARE_CALL(Name, Parameters, Arguments) int HostNetMem##Name Parameters;
HOST_NET_SOCKET_CALLS(HOST_NET_MEM_DECLARE_CALL)
#undef HOST_NET_MEM_DECLARE_CALL
/* The socket's readiness now (HOST_NET_POLL_* bits), whatever its registration: for peers
 * that poll instead of waiting. HOST_NET_E_INVAL for a handle that is not open. */
int HostNetMemReadiness(HOST_NET_SOCKET Socket, unsigned *Events);

/* Sockets of this network open now (handles not yet closed), and datagrams dropped so far. */
uint64_t HostNetMemOpenSockets(void);
uint64_t HostNetMemDatagramsDropped(void);
/* With no socket open: forgets every port and handle, so that the next run hands out the same
 * ephemeral ports and handles as the last (a deterministic replay). HOST_NET_E_INVAL when a
 * socket is still open (or kept by a close that has not drained yet). */
int HostNetMemReset(void);

/* ---- readiness ---- */
typedef struct _HOST_NET_MEM_POLLER HOST_NET_MEM_POLLER;
/* Wake(WakeContext) is called, with the network's lock held, after every change of any
 * socket of the network: it must only note that a collection is due (never call back in). */
int HostNetMemPollerCreate(HOST_NET_MEM_POLLER **Poller, void (*Wake)(void *), void *WakeContext);
void HostNetMemPollerDestroy(HOST_NET_MEM_POLLER *Poller);
int HostNetMemPollerSet(HOST_NET_MEM_POLLER *Poller, HOST_NET_SOCKET Socket, unsigned Interest, void *Context);
int HostNetMemPollerRemove(HOST_NET_MEM_POLLER *Poller, HOST_NET_SOCKET Socket);
/* Never blocks: the registered sockets that are ready now, in registration order rotated by
 * Rotate (a scheduler's choice; 0 = registration order). Returns the count. */
int HostNetMemPollerCollect(HOST_NET_MEM_POLLER *Poller, HOST_NET_POLL_EVENT *Events, int MaxEvents,
                            uint64_t Rotate);

#ifdef __cplusplus
}
#endif

#endif /* KSIM_HOST_NET_MEMORY_H */

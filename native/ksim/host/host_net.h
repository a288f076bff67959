/* SPDX-License-Identifier: MIT
 *
 * ksim host network layer: the only door from the simulated WSK provider to the host's
 * sockets. This header uses plain C types and its own constants only, so it can sit next to
 * the simulated kernel headers (whose AF_INET6 is 23, not the host's). The one
 * implementation per OS family (host_net_posix.c) is the only file that includes socket,
 * poll or errno headers.
 *
 * Every socket is non-blocking and close-on-exec. Errors come back as HOST_NET_E_* values,
 * never as errno, and the provider maps them to NTSTATUS.
 */
#ifndef KSIM_HOST_NET_H
#define KSIM_HOST_NET_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- results ---- */
enum {
    HOST_NET_OK = 0,
    HOST_NET_E_WOULDBLOCK,    /* try again when the poller says so */
    HOST_NET_E_INPROGRESS,    /* connect started; writable means finished */
    HOST_NET_E_CONNREFUSED,
    HOST_NET_E_CONNRESET,
    HOST_NET_E_CONNABORTED,
    HOST_NET_E_ADDRINUSE,
    HOST_NET_E_ADDRNOTAVAIL,
    HOST_NET_E_NETUNREACH,
    HOST_NET_E_HOSTUNREACH,
    HOST_NET_E_TIMEDOUT,
    HOST_NET_E_INVAL,
    HOST_NET_E_NOMEM,
    HOST_NET_E_AFNOSUPPORT,
    HOST_NET_E_PROTONOSUPPORT,
    HOST_NET_E_PIPE,
    HOST_NET_E_NOTCONN,
    HOST_NET_E_ISCONN,
    HOST_NET_E_ACCES,
    HOST_NET_E_MSGSIZE,
    HOST_NET_E_MFILE,
    HOST_NET_E_NOPROTOOPT,
    HOST_NET_E_OTHER
};

/* ---- values in this layer's own numbering ---- */
#define HOST_NET_AF_INET 1
#define HOST_NET_AF_INET6 2

#define HOST_NET_STREAM 1   /* TCP */
#define HOST_NET_DGRAM 2    /* UDP */

#define HOST_NET_MSG_OOB 0x1

/* Options for HostNetSetOption / HostNetGetOption (all int-valued). */
enum {
    HOST_NET_OPT_REUSEADDR = 1,
    HOST_NET_OPT_KEEPALIVE,
    HOST_NET_OPT_RCVBUF,
    HOST_NET_OPT_SNDBUF,
    HOST_NET_OPT_BROADCAST,
    HOST_NET_OPT_OOBINLINE,
    HOST_NET_OPT_TCP_NODELAY,
    HOST_NET_OPT_IPV6_V6ONLY,
    HOST_NET_OPT_ERROR,       /* get only: pending error as HOST_NET_E_* */
    HOST_NET_OPT_TYPE,        /* get only: HOST_NET_STREAM / HOST_NET_DGRAM */
    HOST_NET_OPT_ACCEPTCONN   /* get only */
};

typedef struct _HOST_NET_ADDRESS {
    uint16_t Family;      /* HOST_NET_AF_INET / HOST_NET_AF_INET6 */
    uint16_t Port;        /* host byte order */
    uint32_t FlowInfo;    /* IPv6 only, network byte order as on the wire */
    uint32_t ScopeId;     /* IPv6 only */
    uint8_t Address[16];  /* IPv4 uses the first 4 bytes, network order */
} HOST_NET_ADDRESS;

typedef struct _HOST_NET_IOVEC {
    void *Base;
    size_t Length;
} HOST_NET_IOVEC;

#define HOST_NET_MAX_IOVEC 32

typedef int64_t HOST_NET_SOCKET;
#define HOST_NET_INVALID_SOCKET ((HOST_NET_SOCKET)-1)

/* ---- sockets ---- */
int HostNetSocket(int Family, int Type, HOST_NET_SOCKET *Socket);
/* Graceful close (FIN after queued data). */
void HostNetClose(HOST_NET_SOCKET Socket);
/* Abortive close: linger 0, so the peer gets a reset. */
void HostNetCloseAbortive(HOST_NET_SOCKET Socket);
/* The new socket is non-blocking too. Remote may be NULL. */
int HostNetAccept(HOST_NET_SOCKET Socket, HOST_NET_SOCKET *NewSocket, HOST_NET_ADDRESS *Remote);

/* The socket calls both networks below ksim's WSK provider offer, listed once as
 * X(Name, (parameters), (arguments)): declared here as HostNet<Name> (the host's sockets), in
 * host_net_memory.h as HostNetMem<Name> (the in-memory network), and routed by ksim's provider
 * as KsimNet<Name> to one or the other by the handle (wsk_net.c). Each returns HOST_NET_OK or a
 * HOST_NET_E_* code. */
#define HOST_NET_SOCKET_CALLS(X)                                                                               \
    X(Bind, (HOST_NET_SOCKET Socket, const HOST_NET_ADDRESS *Address), (Socket, Address))                      \
    X(Listen, (HOST_NET_SOCKET Socket, int Backlog), (Socket, Backlog))                                        \
    /* HOST_NET_OK, HOST_NET_E_INPROGRESS or an error. */                                                      \
    X(Connect, (HOST_NET_SOCKET Socket, const HOST_NET_ADDRESS *Remote), (Socket, Remote))                     \
    /* After an in-progress connect became writable: HOST_NET_OK or the connect's error. */                    \
    X(ConnectResult, (HOST_NET_SOCKET Socket), (Socket))                                                       \
    X(Send, (HOST_NET_SOCKET Socket, const HOST_NET_IOVEC *Vector, int Count, int Flags, size_t *Sent),        \
      (Socket, Vector, Count, Flags, Sent))                                                                    \
    /* *Received == 0 with HOST_NET_OK means the peer's FIN. */                                                \
    X(Receive, (HOST_NET_SOCKET Socket, const HOST_NET_IOVEC *Vector, int Count, size_t *Received),            \
      (Socket, Vector, Count, Received))                                                                       \
    /* MSG_PEEK of one byte: *Closed = 1 if the peer has finished (FIN) or the connection failed. */           \
    X(PeekClosed, (HOST_NET_SOCKET Socket, int *Closed), (Socket, Closed))                                     \
    X(SendTo,                                                                                                  \
      (HOST_NET_SOCKET Socket, const HOST_NET_IOVEC *Vector, int Count, const HOST_NET_ADDRESS *Remote,        \
       size_t *Sent),                                                                                          \
      (Socket, Vector, Count, Remote, Sent))                                                                   \
    /* One datagram. *Truncated = 1 when it did not fit (the rest is lost, as with UDP anywhere). */           \
    X(ReceiveFrom,                                                                                             \
      (HOST_NET_SOCKET Socket, const HOST_NET_IOVEC *Vector, int Count, size_t *Received,                      \
       HOST_NET_ADDRESS *Remote, int *Truncated),                                                              \
      (Socket, Vector, Count, Received, Remote, Truncated))                                                    \
    /* Size of the next datagram, or bytes readable on a stream. */                                            \
    X(BytesAvailable, (HOST_NET_SOCKET Socket, size_t *Bytes), (Socket, Bytes))                                \
    /* Bytes written but not yet acknowledged by the peer (stream). */                                         \
    X(SendQueued, (HOST_NET_SOCKET Socket, size_t *Bytes), (Socket, Bytes))                                    \
    X(ShutdownSend, (HOST_NET_SOCKET Socket), (Socket))                                                        \
    X(GetLocalAddress, (HOST_NET_SOCKET Socket, HOST_NET_ADDRESS *Address), (Socket, Address))                 \
    X(GetRemoteAddress, (HOST_NET_SOCKET Socket, HOST_NET_ADDRESS *Address), (Socket, Address))                \
    X(SetOption, (HOST_NET_SOCKET Socket, int Option, int Value), (Socket, Option, Value))                     \
    X(GetOption, (HOST_NET_SOCKET Socket, int Option, int *Value), (Socket, Option, Value))                    \
    /* Datagrams dropped so far for this socket because its receive queue was full (a cumulative          \
     * count; Linux: SO_MEMINFO's SK_MEMINFO_DROPS, the counter SO_RXQ_OVFL reports).                     \
     * HOST_NET_E_NOPROTOOPT where the host keeps no such count per socket (Windows). */                      \
    X(ReceiveDrops, (HOST_NET_SOCKET Socket, uint64_t *Dropped), (Socket, Dropped))

#define HOST_NET_DECLARE_CALL(Name, Parameters, Arguments) int HostNet##Name Parameters;
HOST_NET_SOCKET_CALLS(HOST_NET_DECLARE_CALL)
#undef HOST_NET_DECLARE_CALL

/* Host sockets currently open through this layer. */
uint64_t HostNetOpenSockets(void);

/* ---- readiness ---- */
#define HOST_NET_POLL_READ 0x1
#define HOST_NET_POLL_WRITE 0x2
#define HOST_NET_POLL_RDHUP 0x4  /* interest/report: the peer shut down its sending side */
#define HOST_NET_POLL_HUP 0x8    /* report only */
#define HOST_NET_POLL_ERROR 0x10 /* report only */

typedef struct _HOST_NET_POLLER HOST_NET_POLLER;

typedef struct _HOST_NET_POLL_EVENT {
    void *Context;
    unsigned Events;
} HOST_NET_POLL_EVENT;

int HostNetPollerCreate(HOST_NET_POLLER **Poller);
void HostNetPollerDestroy(HOST_NET_POLLER *Poller);
/* Adds the socket, or changes its interest and context. Interest 0 keeps it registered but
 * silent (errors and hang-ups are still reported). */
int HostNetPollerSet(HOST_NET_POLLER *Poller, HOST_NET_SOCKET Socket, unsigned Interest, void *Context);
int HostNetPollerRemove(HOST_NET_POLLER *Poller, HOST_NET_SOCKET Socket);
/* Waits up to TimeoutMs (-1 = forever). Returns the number of events (0 on timeout or
 * wake-up), or -1 with errors other than interruption. Wake-ups are consumed here. */
int HostNetPollerWait(HOST_NET_POLLER *Poller, HOST_NET_POLL_EVENT *Events, int MaxEvents, int TimeoutMs);
/* Makes a concurrent or the next HostNetPollerWait return; callable from any thread. */
void HostNetPollerWake(HOST_NET_POLLER *Poller);
/* Waits up to TimeoutMs (-1 = forever) until HostNetPollerWait would report something or
 * return at once (a wake-up), without taking it: the next HostNetPollerWait still sees it.
 * Returns 1 when ready, 0 at the timeout, -1 on errors. Callable concurrently with
 * HostNetPollerWait from another thread. May return 1 early when the poller must look again
 * (Windows: a connect in progress, whose failure WSAPoll does not report). */
int HostNetPollerWaitReady(HOST_NET_POLLER *Poller, int TimeoutMs);
/* A descriptor that is readable exactly while HostNetPollerWaitReady would return 1, for a
 * host event loop to watch (Linux: the epoll descriptor); -1 where there is none. */
int64_t HostNetPollerDescriptor(HOST_NET_POLLER *Poller);

#ifdef __cplusplus
}
#endif

#endif /* KSIM_HOST_NET_H */

/* SPDX-License-Identifier: MIT
 *
 * The in-memory network's outside (ksim.h "KsimMemoryNet*"): sockets for tests' peers on the
 * network that sessions opened with KsimOpenOnNetwork(.., "memory", ..) use. Thin: the
 * network is host/host_net_memory.c; this file converts addresses and names errors.
 */
#include "ksim.h"
#include "host/host_net_memory.h"

#include <string.h>

_Static_assert(KSIM_MEMORY_NET_E_WOULDBLOCK == HOST_NET_E_WOULDBLOCK, "error numbering is host_net.h's");
_Static_assert(KSIM_MEMORY_NET_E_INPROGRESS == HOST_NET_E_INPROGRESS, "error numbering is host_net.h's");
_Static_assert(KSIM_MEMORY_NET_READ == HOST_NET_POLL_READ && KSIM_MEMORY_NET_WRITE == HOST_NET_POLL_WRITE &&
                   KSIM_MEMORY_NET_PEER_FIN == HOST_NET_POLL_RDHUP && KSIM_MEMORY_NET_HANGUP == HOST_NET_POLL_HUP &&
                   KSIM_MEMORY_NET_ERROR == HOST_NET_POLL_ERROR,
               "readiness bits are host_net.h's");

static int ToHost(const KSIM_MEMORY_ADDRESS *In, HOST_NET_ADDRESS *Out)
{
    memset(Out, 0, sizeof(*Out));
    if (!In || (In->Family != 4 && In->Family != 6))
        return HOST_NET_E_AFNOSUPPORT;
    Out->Family = In->Family == 4 ? HOST_NET_AF_INET : HOST_NET_AF_INET6;
    Out->Port = In->Port;
    memcpy(Out->Address, In->Address, In->Family == 4 ? 4 : 16);
    return HOST_NET_OK;
}

static void FromHost(const HOST_NET_ADDRESS *In, KSIM_MEMORY_ADDRESS *Out)
{
    if (!Out)
        return;
    memset(Out, 0, sizeof(*Out));
    Out->Family = In->Family == HOST_NET_AF_INET ? 4 : 6;
    Out->Port = In->Port;
    memcpy(Out->Address, In->Address, In->Family == HOST_NET_AF_INET ? 4 : 16);
}

int KsimMemoryNetSocket(int Family, int Stream, int64_t *Handle)
{
    HOST_NET_SOCKET S;
    int Error;
    if (Family != 4 && Family != 6)
        return HOST_NET_E_AFNOSUPPORT;
    Error = HostNetMemSocket(Family == 4 ? HOST_NET_AF_INET : HOST_NET_AF_INET6, Stream ? HOST_NET_STREAM : HOST_NET_DGRAM,
                             &S);
    *Handle = S;
    return Error;
}

int KsimMemoryNetBind(int64_t Handle, const KSIM_MEMORY_ADDRESS *Address)
{
    HOST_NET_ADDRESS A;
    int Error = ToHost(Address, &A);
    return Error ? Error : HostNetMemBind(Handle, &A);
}

int KsimMemoryNetListen(int64_t Handle, int Backlog)
{
    return HostNetMemListen(Handle, Backlog);
}

int KsimMemoryNetAccept(int64_t Handle, int64_t *NewHandle, KSIM_MEMORY_ADDRESS *Remote)
{
    HOST_NET_SOCKET S;
    HOST_NET_ADDRESS A;
    int Error = HostNetMemAccept(Handle, &S, &A);
    *NewHandle = S;
    if (Error == HOST_NET_OK)
        FromHost(&A, Remote);
    return Error;
}

int KsimMemoryNetConnect(int64_t Handle, const KSIM_MEMORY_ADDRESS *Remote)
{
    HOST_NET_ADDRESS A;
    int Error = ToHost(Remote, &A);
    return Error ? Error : HostNetMemConnect(Handle, &A);
}

int KsimMemoryNetConnectResult(int64_t Handle)
{
    return HostNetMemConnectResult(Handle);
}

int KsimMemoryNetSend(int64_t Handle, const void *Data, size_t Length, size_t *Sent)
{
    HOST_NET_IOVEC V = { (void *)Data, Length };
    return HostNetMemSend(Handle, &V, 1, 0, Sent);
}

int KsimMemoryNetReceive(int64_t Handle, void *Buffer, size_t Length, size_t *Received)
{
    HOST_NET_IOVEC V = { Buffer, Length };
    return HostNetMemReceive(Handle, &V, 1, Received);
}

int KsimMemoryNetSendTo(int64_t Handle, const void *Data, size_t Length, const KSIM_MEMORY_ADDRESS *Remote)
{
    HOST_NET_IOVEC V = { (void *)Data, Length };
    HOST_NET_ADDRESS A;
    size_t Sent;
    int Error = ToHost(Remote, &A);
    return Error ? Error : HostNetMemSendTo(Handle, &V, 1, &A, &Sent);
}

int KsimMemoryNetReceiveFrom(int64_t Handle, void *Buffer, size_t Length, size_t *Received,
                             KSIM_MEMORY_ADDRESS *Remote, int *Truncated)
{
    HOST_NET_IOVEC V = { Buffer, Length };
    HOST_NET_ADDRESS A;
    int Error = HostNetMemReceiveFrom(Handle, &V, 1, Received, &A, Truncated);
    if (Error == HOST_NET_OK)
        FromHost(&A, Remote);
    return Error;
}

int KsimMemoryNetShutdownSend(int64_t Handle)
{
    return HostNetMemShutdownSend(Handle);
}

int KsimMemoryNetSetOption(int64_t Handle, const char *Option, int Value)
{
    if (Option && strcmp(Option, "rcvbuf") == 0)
        return HostNetMemSetOption(Handle, HOST_NET_OPT_RCVBUF, Value);
    if (Option && strcmp(Option, "sndbuf") == 0)
        return HostNetMemSetOption(Handle, HOST_NET_OPT_SNDBUF, Value);
    return HOST_NET_E_NOPROTOOPT;
}

void KsimMemoryNetClose(int64_t Handle, int Abortive)
{
    if (Abortive)
        HostNetMemCloseAbortive(Handle);
    else
        HostNetMemClose(Handle);
}

int KsimMemoryNetLocalAddress(int64_t Handle, KSIM_MEMORY_ADDRESS *Address)
{
    HOST_NET_ADDRESS A;
    int Error = HostNetMemGetLocalAddress(Handle, &A);
    if (Error == HOST_NET_OK)
        FromHost(&A, Address);
    return Error;
}

int KsimMemoryNetRemoteAddress(int64_t Handle, KSIM_MEMORY_ADDRESS *Address)
{
    HOST_NET_ADDRESS A;
    int Error = HostNetMemGetRemoteAddress(Handle, &A);
    if (Error == HOST_NET_OK)
        FromHost(&A, Address);
    return Error;
}

int KsimMemoryNetReadiness(int64_t Handle, unsigned *Events)
{
    return HostNetMemReadiness(Handle, Events);
}

uint64_t KsimMemoryNetDatagramsDropped(void)
{
    return HostNetMemDatagramsDropped();
}

const char *KsimMemoryNetErrorName(int Error)
{
    static const char *const Names[] = {
        [HOST_NET_OK] = "OK",
        [HOST_NET_E_WOULDBLOCK] = "EWOULDBLOCK",
        [HOST_NET_E_INPROGRESS] = "EINPROGRESS",
        [HOST_NET_E_CONNREFUSED] = "ECONNREFUSED",
        [HOST_NET_E_CONNRESET] = "ECONNRESET",
        [HOST_NET_E_CONNABORTED] = "ECONNABORTED",
        [HOST_NET_E_ADDRINUSE] = "EADDRINUSE",
        [HOST_NET_E_ADDRNOTAVAIL] = "EADDRNOTAVAIL",
        [HOST_NET_E_NETUNREACH] = "ENETUNREACH",
        [HOST_NET_E_HOSTUNREACH] = "EHOSTUNREACH",
        [HOST_NET_E_TIMEDOUT] = "ETIMEDOUT",
        [HOST_NET_E_INVAL] = "EINVAL",
        [HOST_NET_E_NOMEM] = "ENOMEM",
        [HOST_NET_E_AFNOSUPPORT] = "EAFNOSUPPORT",
        [HOST_NET_E_PROTONOSUPPORT] = "EPROTONOSUPPORT",
        [HOST_NET_E_PIPE] = "EPIPE",
        [HOST_NET_E_NOTCONN] = "ENOTCONN",
        [HOST_NET_E_ISCONN] = "EISCONN",
        [HOST_NET_E_ACCES] = "EACCES",
        [HOST_NET_E_MSGSIZE] = "EMSGSIZE",
        [HOST_NET_E_MFILE] = "EMFILE",
        [HOST_NET_E_NOPROTOOPT] = "ENOPROTOOPT",
        [HOST_NET_E_OTHER] = "EIO",
    };
    if (Error < 0 || (size_t)Error >= sizeof(Names) / sizeof(Names[0]) || !Names[Error])
        return "EIO";
    return Names[Error];
}

int KsimMemoryNetReset(void)
{
    return HostNetMemReset();
}

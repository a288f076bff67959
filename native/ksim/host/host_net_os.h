/* SPDX-License-Identifier: MIT
 *
 * The host network layer's private seam: what the OS-neutral half (host_net_common.c) takes
 * from the OS half (host_net_posix.c, host_net_win.c). Both speak BSD sockets; this header names
 * the few types and spellings in which Winsock and POSIX differ, and declares the OS hooks.
 * Only host/ includes it.
 */
#ifndef KSIM_HOST_NET_OS_H
#define KSIM_HOST_NET_OS_H

#include "host_net.h"

#ifdef _WIN32
#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#include <winsock2.h>
#include <ws2tcpip.h>
#include <windows.h>

typedef SOCKET HOST_NET_OS_SOCKET;
typedef int HOST_NET_SOCKLEN;
#define HOST_NET_OS_FAILED(Result) ((Result) == SOCKET_ERROR)
#define HOST_NET_OS_SHUT_WR SD_SEND
/* The poller is WSAPoll over a set (host_net_common.c). */
#define HOST_NET_SET_POLLER 1
typedef WSAPOLLFD HOST_NET_POLLFD;
#define HOST_NET_OS_POLL_IN POLLRDNORM
#define HOST_NET_OS_POLL_IN_REPORT (POLLRDNORM | POLLRDBAND)
#define HOST_NET_OS_POLL_OUT POLLWRNORM
/* WSAPoll never reports a failed non-blocking connect before Windows 10 2004 (it waits out the
 * timeout instead), so while any socket waits to become writable the wait is sliced and
 * SO_ERROR is read between slices. */
#define HOST_NET_CONNECT_SLICE_MS 50
typedef SRWLOCK HOST_NET_OS_LOCK;
#define HostNetOsLockInit(Lock) InitializeSRWLock(Lock)
#define HostNetOsLockDestroy(Lock) ((void)(Lock))
#define HostNetOsLock(Lock) AcquireSRWLockExclusive(Lock)
#define HostNetOsUnlock(Lock) ReleaseSRWLockExclusive(Lock)
#define HostNetOsPoll(Set, Count, TimeoutMs) WSAPoll((Set), (ULONG)(Count), (TimeoutMs))
#define HostNetOsNowMs() GetTickCount64()
#else
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>

typedef int HOST_NET_OS_SOCKET;
typedef socklen_t HOST_NET_SOCKLEN;
#define HOST_NET_OS_FAILED(Result) ((Result) < 0)
#define HOST_NET_OS_SHUT_WR SHUT_WR
#ifndef __linux__
/* Linux has epoll (host_net_posix.c); the other POSIX systems poll(2) over a set. */
#define HOST_NET_SET_POLLER 1
#endif
typedef struct pollfd HOST_NET_POLLFD;
#define HOST_NET_OS_POLL_IN POLLIN
#define HOST_NET_OS_POLL_IN_REPORT POLLIN
#define HOST_NET_OS_POLL_OUT POLLOUT
typedef pthread_mutex_t HOST_NET_OS_LOCK;
#define HostNetOsLockInit(Lock) pthread_mutex_init((Lock), NULL)
#define HostNetOsLockDestroy(Lock) pthread_mutex_destroy(Lock)
#define HostNetOsLock(Lock) pthread_mutex_lock(Lock)
#define HostNetOsUnlock(Lock) pthread_mutex_unlock(Lock)
#define HostNetOsPoll(Set, Count, TimeoutMs) poll((Set), (nfds_t)(Count), (TimeoutMs))
#endif

/* ---- the OS half provides ---- */

/* The last socket error as HOST_NET_E_*; an OS error code (errno, WSAGetLastError) as one. */
int HostNetLastError(void);
int HostNetFromOsError(int Error);
/* The last poll was interrupted by a signal (not an error). */
int HostNetOsPollInterrupted(void);
/* Closes an OS socket without touching the open-socket count. */
void HostNetOsCloseSocket(HOST_NET_OS_SOCKET Socket);
/* HostNetGetOption's value as the OS reports it, adjusted where the OS differs from POSIX
 * (Length is what getsockopt wrote). */
int HostNetOsOptionValue(HOST_NET_OS_SOCKET Socket, int Option, int Raw, HOST_NET_SOCKLEN Length);
/* The poller's wake-up channel (POSIX: a pipe; Windows: a loopback UDP socket, which WSAPoll
 * can watch): readable after a signal until drained, non-blocking on both ends. */
int HostNetOsWakeCreate(HOST_NET_OS_SOCKET *Read, HOST_NET_OS_SOCKET *Write);
void HostNetOsWakeClose(HOST_NET_OS_SOCKET Read, HOST_NET_OS_SOCKET Write);
void HostNetOsWakeSignal(HOST_NET_OS_SOCKET Write);
void HostNetOsWakeDrain(HOST_NET_OS_SOCKET Read);

/* ---- host_net_common.c provides ---- */

/* Returns the sockaddr length, 0 for an unknown family. */
HOST_NET_SOCKLEN HostNetToSockaddr(const HOST_NET_ADDRESS *Address, struct sockaddr_storage *Storage);
int HostNetFromSockaddr(const struct sockaddr_storage *Storage, HOST_NET_ADDRESS *Address);
/* The open-socket count (HostNetOpenSockets). */
void HostNetSocketOpened(void);
void HostNetSocketClosed(void);

#endif /* KSIM_HOST_NET_OS_H */

/* SPDX-License-Identifier: MIT
 *
 * Host-side peers for the WSK provider tests: plain POSIX sockets and threads behind plain C
 * types, so the tests that include the simulated kernel headers never see a host socket
 * header (whose AF_INET6 differs). Every call is blocking with a timeout.
 */
#ifndef WSK_TEST_PEER_H
#define WSK_TEST_PEER_H

#include <stddef.h>
#include <stdint.h>

/* Family: 4 or 6 (loopback 127.0.0.1 or ::1). Returns an fd or -1. */
int PeerListen(int Family, uint16_t *Port);
int PeerAccept(int ListenFd, int TimeoutMs);
int PeerConnect(int Family, uint16_t Port);
/* Returns 0 on success, else the errno (e.g. ECONNREFUSED as PeerErrnoConnRefused()). */
int PeerConnectError(int Family, uint16_t Port);
int PeerErrnoConnRefused(void);
long PeerSendAll(int Fd, const void *Buffer, size_t Length);
/* Sends without blocking until the kernel refuses; returns the bytes accepted. */
long PeerSendUntilFull(int Fd, const void *Buffer, size_t Length, int SettleMs);
/* Receives exactly Length bytes (or until EOF/timeout); returns the count. */
long PeerRecvAll(int Fd, void *Buffer, size_t Length, int TimeoutMs);
/* 1 = EOF, -1 = reset/error, 0 = timeout, 2 = data arrived instead */
int PeerWaitClosed(int Fd, int TimeoutMs);
void PeerClose(int Fd);
void PeerCloseReset(int Fd);
void PeerShutdownSend(int Fd);
void PeerSetSmallBuffers(int Fd, int Bytes);

int PeerUdp(int Family, uint16_t *Port);
long PeerSendTo(int Fd, int Family, uint16_t Port, const void *Buffer, size_t Length);
/* Returns the datagram length or -1 on timeout; *FromPort gets the sender's port. */
long PeerRecvFrom(int Fd, void *Buffer, size_t Length, int TimeoutMs, uint16_t *FromPort);

typedef struct PEER_THREAD PEER_THREAD;
PEER_THREAD *PeerThreadStart(void (*Routine)(void *), void *Context);
void PeerThreadJoin(PEER_THREAD *Thread);
void PeerSleepMs(int Ms);
uint64_t PeerNowMs(void);
/* Open file descriptors of this process (for leak checks), and the highest one. */
int PeerOpenFds(void);
int PeerMaxFd(void);
/* Leaves this process exactly Free unused descriptors (fills the holes, lowers the soft
 * RLIMIT_NOFILE); PeerRestoreFds undoes it. */
int PeerExhaustFds(int Free); /* 0 when it took (not under valgrind, which keeps its own limit) */
void PeerRestoreFds(void);
/* Kills the process (a failure) if it is still running after Seconds: a hang is a failure,
 * never a stuck CI job. */
void PeerWatchdog(unsigned Seconds);
/* CPU time (user + system) this process has used, in milliseconds. */
uint64_t PeerCpuMs(void);

#endif

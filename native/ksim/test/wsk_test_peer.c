/* SPDX-License-Identifier: MIT
 *
 * Host-side peers for the WSK provider tests (see wsk_test_peer.h).
 */
#define _GNU_SOURCE
#include "wsk_test_peer.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static socklen_t
PeerAddress(int Family, uint16_t Port, struct sockaddr_storage *Storage)
{
    memset(Storage, 0, sizeof(*Storage));
    if (Family == 6) {
        struct sockaddr_in6 *In6 = (struct sockaddr_in6 *)Storage;
        In6->sin6_family = AF_INET6;
        In6->sin6_port = htons(Port);
        In6->sin6_addr = in6addr_loopback;
        return sizeof(*In6);
    }
    {
        struct sockaddr_in *In = (struct sockaddr_in *)Storage;
        In->sin_family = AF_INET;
        In->sin_port = htons(Port);
        In->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        return sizeof(*In);
    }
}

static uint16_t
PeerLocalPort(int Fd)
{
    struct sockaddr_storage Storage;
    socklen_t Length = sizeof(Storage);
    getsockname(Fd, (struct sockaddr *)&Storage, &Length);
    if (Storage.ss_family == AF_INET6)
        return ntohs(((struct sockaddr_in6 *)&Storage)->sin6_port);
    return ntohs(((struct sockaddr_in *)&Storage)->sin_port);
}

int
PeerListen(int Family, uint16_t *Port)
{
    struct sockaddr_storage Storage;
    socklen_t Length = PeerAddress(Family, 0, &Storage);
    int Fd = socket(Family == 6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (Fd < 0)
        return -1;
    if (bind(Fd, (struct sockaddr *)&Storage, Length) < 0 || listen(Fd, 64) < 0) {
        close(Fd);
        return -1;
    }
    *Port = PeerLocalPort(Fd);
    return Fd;
}

int
PeerAccept(int ListenFd, int TimeoutMs)
{
    struct pollfd P = { ListenFd, POLLIN, 0 };
    if (poll(&P, 1, TimeoutMs) <= 0)
        return -1;
    return accept4(ListenFd, NULL, NULL, SOCK_CLOEXEC);
}

int
PeerConnectError(int Family, uint16_t Port)
{
    struct sockaddr_storage Storage;
    socklen_t Length = PeerAddress(Family, Port, &Storage);
    int Fd = socket(Family == 6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), Error = 0;
    if (connect(Fd, (struct sockaddr *)&Storage, Length) < 0)
        Error = errno;
    close(Fd);
    return Error;
}

int
PeerErrnoConnRefused(void)
{
    return ECONNREFUSED;
}

int
PeerConnect(int Family, uint16_t Port)
{
    struct sockaddr_storage Storage;
    socklen_t Length = PeerAddress(Family, Port, &Storage);
    int Fd = socket(Family == 6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (Fd < 0)
        return -1;
    if (connect(Fd, (struct sockaddr *)&Storage, Length) < 0) {
        close(Fd);
        return -1;
    }
    return Fd;
}

long
PeerSendAll(int Fd, const void *Buffer, size_t Length)
{
    size_t Done = 0;
    while (Done < Length) {
        ssize_t n = send(Fd, (const char *)Buffer + Done, Length - Done, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return Done ? (long)Done : -1;
        }
        Done += (size_t)n;
    }
    return (long)Done;
}

long
PeerSendUntilFull(int Fd, const void *Buffer, size_t Length, int SettleMs)
{
    size_t Done = 0;
    uint64_t Quiet = PeerNowMs();
    while (Done < Length && PeerNowMs() - Quiet < (uint64_t)SettleMs) {
        ssize_t n = send(Fd, (const char *)Buffer + Done, Length - Done, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n > 0) {
            Done += (size_t)n;
            Quiet = PeerNowMs();
        } else {
            PeerSleepMs(5);
        }
    }
    return (long)Done;
}

long
PeerRecvAll(int Fd, void *Buffer, size_t Length, int TimeoutMs)
{
    size_t Done = 0;
    uint64_t Deadline = PeerNowMs() + (uint64_t)TimeoutMs;
    while (Done < Length) {
        struct pollfd P = { Fd, POLLIN, 0 };
        int Left = (int)(Deadline - PeerNowMs());
        ssize_t n;
        if (Left <= 0 || poll(&P, 1, Left) <= 0)
            break;
        n = recv(Fd, (char *)Buffer + Done, Length - Done, 0);
        if (n <= 0)
            break;
        Done += (size_t)n;
    }
    return (long)Done;
}

int
PeerWaitClosed(int Fd, int TimeoutMs)
{
    struct pollfd P = { Fd, POLLIN, 0 };
    char Byte;
    ssize_t n;
    if (poll(&P, 1, TimeoutMs) <= 0)
        return 0;
    n = recv(Fd, &Byte, 1, MSG_DONTWAIT);
    if (n == 0)
        return 1;
    if (n < 0)
        return -1;
    return 2;
}

void
PeerClose(int Fd)
{
    close(Fd);
}

void
PeerCloseReset(int Fd)
{
    struct linger L = { 1, 0 };
    setsockopt(Fd, SOL_SOCKET, SO_LINGER, &L, sizeof(L));
    close(Fd);
}

void
PeerShutdownSend(int Fd)
{
    shutdown(Fd, SHUT_WR);
}

void
PeerSetSmallBuffers(int Fd, int Bytes)
{
    setsockopt(Fd, SOL_SOCKET, SO_SNDBUF, &Bytes, sizeof(Bytes));
    setsockopt(Fd, SOL_SOCKET, SO_RCVBUF, &Bytes, sizeof(Bytes));
}

int
PeerUdp(int Family, uint16_t *Port)
{
    struct sockaddr_storage Storage;
    socklen_t Length = PeerAddress(Family, 0, &Storage);
    int Fd = socket(Family == 6 ? AF_INET6 : AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (Fd < 0)
        return -1;
    if (bind(Fd, (struct sockaddr *)&Storage, Length) < 0) {
        close(Fd);
        return -1;
    }
    *Port = PeerLocalPort(Fd);
    return Fd;
}

long
PeerSendTo(int Fd, int Family, uint16_t Port, const void *Buffer, size_t Length)
{
    struct sockaddr_storage Storage;
    socklen_t AddressLength = PeerAddress(Family, Port, &Storage);
    return (long)sendto(Fd, Buffer, Length, 0, (struct sockaddr *)&Storage, AddressLength);
}

long
PeerRecvFrom(int Fd, void *Buffer, size_t Length, int TimeoutMs, uint16_t *FromPort)
{
    struct pollfd P = { Fd, POLLIN, 0 };
    struct sockaddr_storage Storage;
    socklen_t AddressLength = sizeof(Storage);
    ssize_t n;
    if (poll(&P, 1, TimeoutMs) <= 0)
        return -1;
    n = recvfrom(Fd, Buffer, Length, 0, (struct sockaddr *)&Storage, &AddressLength);
    if (FromPort)
        *FromPort = Storage.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&Storage)->sin6_port)
                                                  : ntohs(((struct sockaddr_in *)&Storage)->sin_port);
    return (long)n;
}

struct PEER_THREAD {
    pthread_t Thread;
    void (*Routine)(void *);
    void *Context;
};

static void *
PeerThreadMain(void *Argument)
{
    PEER_THREAD *T = (PEER_THREAD *)Argument;
    T->Routine(T->Context);
    return NULL;
}

PEER_THREAD *
PeerThreadStart(void (*Routine)(void *), void *Context)
{
    PEER_THREAD *T = calloc(1, sizeof(*T));
    T->Routine = Routine;
    T->Context = Context;
    if (pthread_create(&T->Thread, NULL, PeerThreadMain, T) != 0) {
        free(T);
        return NULL;
    }
    return T;
}

void
PeerThreadJoin(PEER_THREAD *Thread)
{
    if (!Thread)
        return;
    pthread_join(Thread->Thread, NULL);
    free(Thread);
}

void
PeerSleepMs(int Ms)
{
    struct timespec T = { Ms / 1000, (long)(Ms % 1000) * 1000000L };
    nanosleep(&T, NULL);
}

uint64_t
PeerNowMs(void)
{
    struct timespec T;
    clock_gettime(CLOCK_MONOTONIC, &T);
    return (uint64_t)T.tv_sec * 1000u + (uint64_t)T.tv_nsec / 1000000u;
}

int
PeerOpenFds(void)
{
    DIR *D = opendir("/proc/self/fd");
    struct dirent *E;
    int Count = 0;
    if (!D)
        return -1;
    while ((E = readdir(D)))
        if (E->d_name[0] != '.')
            Count++;
    closedir(D);
    return Count - 1; /* the directory's own descriptor */
}

int
PeerMaxFd(void)
{
    DIR *D = opendir("/proc/self/fd");
    struct dirent *E;
    int Max = -1, Self = D ? dirfd(D) : -1;
    if (!D)
        return -1;
    while ((E = readdir(D))) {
        int Fd;
        if (E->d_name[0] == '.')
            continue;
        Fd = atoi(E->d_name);
        if (Fd != Self && Fd > Max)
            Max = Fd;
    }
    closedir(D);
    return Max;
}

static int PeerFillers[4096];
static int PeerFillerCount;
static struct rlimit PeerOldLimit;

int
PeerExhaustFds(int Free)
{
    int Probe[2], Opened = 0, i;
    struct rlimit R;
    int Max = PeerMaxFd(), Fd;
    getrlimit(RLIMIT_NOFILE, &PeerOldLimit);
    PeerFillerCount = 0;
    /* Fill every hole below the highest descriptor. */
    while (PeerFillerCount < 4096 && (Fd = open("/dev/null", O_RDONLY | O_CLOEXEC)) >= 0) {
        if (Fd > Max) {
            close(Fd);
            break;
        }
        PeerFillers[PeerFillerCount++] = Fd;
    }
    R = PeerOldLimit;
    R.rlim_cur = (rlim_t)(Max + 1 + Free);
    setrlimit(RLIMIT_NOFILE, &R);
    /* Check: Free descriptors can be opened, one more cannot. */
    while (Opened < 2 && Opened <= Free && (Probe[Opened] = open("/dev/null", O_RDONLY | O_CLOEXEC)) >= 0)
        Opened++;
    for (i = 0; i < Opened; i++)
        close(Probe[i]);
    return Opened == Free ? 0 : -1;
}

void
PeerRestoreFds(void)
{
    int i;
    setrlimit(RLIMIT_NOFILE, &PeerOldLimit);
    for (i = 0; i < PeerFillerCount; i++)
        close(PeerFillers[i]);
    PeerFillerCount = 0;
}

uint64_t
PeerCpuMs(void)
{
    struct rusage U;
    getrusage(RUSAGE_SELF, &U);
    return (uint64_t)(U.ru_utime.tv_sec + U.ru_stime.tv_sec) * 1000u +
           (uint64_t)(U.ru_utime.tv_usec + U.ru_stime.tv_usec) / 1000u;
}

void
PeerWatchdog(unsigned Seconds)
{
    alarm(Seconds); /* SIGALRM's default action ends the process with a failure status */
}

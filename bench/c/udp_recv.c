/* SPDX-License-Identifier: MIT
 *
 * bench reference: the limit of a datagram receiver on this machine. Binds 127.0.0.1 (port
 * printed on stdout) and takes datagrams with recvmmsg, 64 at a time, blocking, until none has
 * come for IDLE_MS after the first. Prints "<datagrams> <seconds from first to last>".
 * Built by bench/run.ts with cc at run time (into .cache/bench).
 */
#define _GNU_SOURCE
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BATCH 64
#define IDLE_MS 300

static double Now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

int main(void)
{
    static char Buffers[BATCH][2048];
    struct mmsghdr Messages[BATCH];
    struct iovec Vectors[BATCH];
    struct sockaddr_in Address = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t Length = sizeof(Address);
    struct timeval Idle = { .tv_sec = 0, .tv_usec = IDLE_MS * 1000 };
    long long Count = 0;
    double First = 0, Last = 0;
    int Socket = socket(AF_INET, SOCK_DGRAM, 0);

    if (Socket < 0 || bind(Socket, (struct sockaddr *)&Address, sizeof(Address)) != 0 ||
        getsockname(Socket, (struct sockaddr *)&Address, &Length) != 0) {
        perror("udp_recv: bind");
        return 1;
    }
    printf("%d\n", ntohs(Address.sin_port));
    fflush(stdout);
    memset(Messages, 0, sizeof(Messages));
    for (int i = 0; i < BATCH; ++i) {
        Vectors[i].iov_base = Buffers[i];
        Vectors[i].iov_len = sizeof(Buffers[i]);
        Messages[i].msg_hdr.msg_iov = &Vectors[i];
        Messages[i].msg_hdr.msg_iovlen = 1;
    }
    for (;;) {
        int Got = recvmmsg(Socket, Messages, BATCH, MSG_WAITFORONE, NULL);
        if (Got < 0) {
            if (Count > 0)
                break; /* SO_RCVTIMEO: the sender is done */
            continue;
        }
        if (Count == 0) {
            First = Now();
            setsockopt(Socket, SOL_SOCKET, SO_RCVTIMEO, &Idle, sizeof(Idle));
        }
        Count += Got;
        Last = Now();
    }
    printf("%lld %.9f\n", Count, Last - First);
    return 0;
}

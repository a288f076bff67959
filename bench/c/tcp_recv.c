/* SPDX-License-Identifier: MIT
 *
 * bench reference: the limit of a TCP receiver on this machine. Listens on 127.0.0.1 (port
 * printed on stdout), accepts one connection, and reads it with epoll + recv into one 256 KiB
 * buffer until the peer closes. Prints "<bytes> <seconds from first to last byte>".
 * Built by bench/run.ts with cc at run time (into .cache/bench).
 */
#define _GNU_SOURCE
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double Now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

int main(void)
{
    static char Buffer[256 * 1024];
    struct sockaddr_in Address = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t Length = sizeof(Address);
    struct epoll_event Event = { .events = EPOLLIN }, Ready;
    long long Bytes = 0;
    double First = 0, Last = 0;
    int Listener = socket(AF_INET, SOCK_STREAM, 0), Peer, Poll;

    if (Listener < 0 || bind(Listener, (struct sockaddr *)&Address, sizeof(Address)) != 0 || listen(Listener, 1) != 0 ||
        getsockname(Listener, (struct sockaddr *)&Address, &Length) != 0) {
        perror("tcp_recv: listen");
        return 1;
    }
    printf("%d\n", ntohs(Address.sin_port));
    fflush(stdout);
    Peer = accept4(Listener, NULL, NULL, SOCK_NONBLOCK);
    Poll = epoll_create1(0);
    if (Peer < 0 || Poll < 0 || epoll_ctl(Poll, EPOLL_CTL_ADD, Peer, &Event) != 0) {
        perror("tcp_recv: accept");
        return 1;
    }
    for (;;) {
        ssize_t Got;
        if (epoll_wait(Poll, &Ready, 1, -1) < 0)
            continue;
        while ((Got = recv(Peer, Buffer, sizeof(Buffer), 0)) > 0) {
            if (Bytes == 0)
                First = Now();
            Bytes += Got;
            Last = Now();
        }
        if (Got == 0)
            break;
    }
    printf("%lld %.9f\n", Bytes, Last - First);
    return 0;
}

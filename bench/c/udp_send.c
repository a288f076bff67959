/* SPDX-License-Identifier: MIT
 *
 * bench sender: SIZE-byte datagrams to 127.0.0.1:PORT for SECONDS, 64 per sendmmsg call.
 * Usage: udp_send PORT SECONDS SIZE. Prints the number of datagrams handed to the kernel.
 * Built by bench/run.ts with cc at run time (into .cache/bench).
 */
#define _GNU_SOURCE
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#define BATCH 64

static double Now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    static char Payload[65507];
    struct mmsghdr Messages[BATCH];
    struct iovec Vector;
    struct sockaddr_in Address = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    long long Sent = 0;
    double Deadline;
    size_t Size;
    int Socket = socket(AF_INET, SOCK_DGRAM, 0);

    if (argc != 4 || Socket < 0) {
        fprintf(stderr, "usage: udp_send PORT SECONDS SIZE\n");
        return 2;
    }
    Address.sin_port = htons((unsigned short)atoi(argv[1]));
    Deadline = Now() + atof(argv[2]);
    Size = (size_t)atoi(argv[3]);
    if (Size > sizeof(Payload))
        Size = sizeof(Payload);
    memset(Payload, 0x42, Size);
    Vector.iov_base = Payload;
    Vector.iov_len = Size;
    memset(Messages, 0, sizeof(Messages));
    for (int i = 0; i < BATCH; ++i) {
        Messages[i].msg_hdr.msg_name = &Address;
        Messages[i].msg_hdr.msg_namelen = sizeof(Address);
        Messages[i].msg_hdr.msg_iov = &Vector;
        Messages[i].msg_hdr.msg_iovlen = 1;
    }
    while (Now() < Deadline) {
        int Done = sendmmsg(Socket, Messages, BATCH, 0);
        if (Done > 0)
            Sent += Done;
    }
    printf("%lld\n", Sent);
    return 0;
}

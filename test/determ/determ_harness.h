/* SPDX-License-Identifier: MIT
 *
 * The deterministic-mode harness shared by the race sweep (race_sweep.c) and the fuzzer
 * (test/fuzz/ioctl_fuzz.c): one run = one seed = one driver lifetime on ksim's deterministic
 * scheduler and in-memory network: load, sessions, simulated user threads (fibers) issuing
 * IOCTLs, peers on the in-memory network, close, unload, and the check that nothing is left
 * (pool, IRPs, MDLs, sockets, verifier failures). User-mode code: ksim.h and protocol.h only.
 */
#ifndef DETERM_HARNESS_H
#define DETERM_HARNESS_H

#include <stddef.h>
#include <stdint.h>

#include "ksim.h"
#include "protocol.h"

#define DH_AF_INET 2
#define DH_AF_INET6 23

/* One request: issue with DhIoctlStart, wait with DhIoctlWait (from a simulated thread). */
typedef struct _DH_IO {
    volatile int Done;
    int32_t Status;
    uint64_t Information;
    uint32_t Code;
    uint32_t OutputLength;
    uint8_t Output[512]; /* the head of the output (events: enough for the first records) */
} DH_IO;

/* Prints this (with the seed) if the process dies: the replay command of the run in progress. */
void DhSetReplayCommand(const char *Format, uint64_t Seed);

/* Starts a run: the deterministic scheduler with Seed, the in-memory network reset, the driver
 * loaded. AbortOnFailure: a verifier failure aborts at once (with the replay command); else
 * it is counted and DhEnd reports it. */
void DhBegin(uint64_t Seed, int AbortOnFailure);
/* Ends it: what is still open is closed, the driver unloaded (unless kept loaded); returns NULL
 * when nothing was left behind (pool, IRPs, MDLs back at the baseline, no socket, no verifier
 * failure, no write after free), else a description (a static buffer). */
const char *DhEnd(void);
/* Keep the driver loaded from one run to the next (the fuzzer's speed): the baseline is then
 * what DriverEntry left. */
void DhKeepDriverLoaded(int Keep);
/* Unloads a driver kept loaded (at the end of the process). */
void DhUnloadKept(void);

/* A session on the in-memory network, HELLO done. */
KSIM_FILE *DhOpen(void);
/* Takes a session opened by the caller (no HELLO) into the run: DhEnd closes it. */
void DhAdopt(KSIM_FILE *File);
/* Closes a session DhOpen returned (DhEnd closes the ones left). */
void DhClose(KSIM_FILE *File);

void DhIoctlStart(KSIM_FILE *File, uint32_t Code, const void *Input, uint32_t InputLength, uint32_t OutputLength,
                  DH_IO *Io);
void DhIoctlWait(DH_IO *Io);
int32_t DhIoctl(KSIM_FILE *File, uint32_t Code, const void *Input, uint32_t InputLength, uint32_t OutputLength,
                DH_IO *Io);

/* Socket helpers (synchronous; 0 on failure). Kind: WSK_FLAG_*_SOCKET value (1 listen,
 * 2 connection, 4 datagram). */
uint64_t DhSocket(KSIM_FILE *File, uint16_t Family, uint32_t Kind);
int32_t DhBindLoopback(KSIM_FILE *File, uint64_t Id, uint16_t Family, uint16_t Port);
uint16_t DhLocalPort(KSIM_FILE *File, uint64_t Id);
int32_t DhSetOption(KSIM_FILE *File, uint64_t Id, uint32_t Level, uint32_t Option, uint32_t Value);
int32_t DhEnableEvents(KSIM_FILE *File, uint64_t Id, uint32_t Mask);
int32_t DhCloseSocket(KSIM_FILE *File, uint64_t Id);

/* Scans READ_EVENTS output for the first record of Type; 1 with its header copied out. */
int DhFindEvent(const DH_IO *Io, uint32_t Type, WSKB_EVENT_HEADER *Found);

/* A peer on the in-memory network: TCP client to 127.0.0.1:Port (-1 on failure). */
int64_t DhPeerConnect(uint16_t Family, uint16_t Port);
int64_t DhPeerUdp(uint16_t Family, uint16_t Port);
/* Closes every peer still open (DhEnd does it too). */
void DhPeersClose(void);
/* Peers made by DhPeer* and DhPeerKeep, by index (-1: none). */
int64_t DhPeerAt(unsigned Index);
unsigned DhPeerCount(void);
int64_t DhPeerKeep(int64_t Handle);
/* A TCP listener on 127.0.0.1 / ::1 at Port. */
int64_t DhPeerListen(uint16_t Family, uint16_t Port);

#endif

/* SPDX-License-Identifier: MIT
 *
 * ksim host-facing API: what the addon (and C test programs, and the fuzzer) call to act as
 * the Windows I/O manager towards the driver. Only user-mode types appear here, so this file
 * can be included next to Node's headers; the simulated kernel headers (include/) are never
 * included by the addon.
 */
#ifndef KSIM_H
#define KSIM_H

#include <stdint.h>
#include <wchar.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct _KSIM_FILE KSIM_FILE;

/* Called exactly once per KsimDeviceIoControl, from any thread (inline from the caller's
 * thread when the driver completes at once, else from the thread that completed the request).
 * Output points at the request's system buffer and is valid only during the call; OutputLength
 * is what the I/O manager copied back (Information, clamped to the output length, 0 on error). */
typedef void KSIM_COMPLETION_CALLBACK(void *Context, int32_t Status, uint64_t Information,
                                      const void *Output, uint32_t OutputLength);

/* ---- execution model (native/ksim/src/ksim_sched.h) ----
 * Chooses who runs the simulated kernel's asynchronous work: "thread" (the WSK provider's
 * network on a system thread of its own; the default), "host-loop" (the network on the host
 * event loop of the thread that drives ksim, with a watchdog thread: KsimHostLoop* below), or
 * another plug-in of this build. Seed is for a deterministic plug-in. STATUS_INVALID_PARAMETER
 * for an unknown Mode; then, only while the driver is not loaded: STATUS_INVALID_DEVICE_STATE
 * otherwise. The environment variable KSIM_SCHED (and KSIM_SCHED_SEED) sets the initial choice. */
int32_t KsimSchedulerSelect(const char *Mode, uint64_t Seed);
/* The plug-in in force ("thread", "host-loop", ...). */
const char *KsimSchedulerName(void);

/* ---- host-loop mode: the host event loop's side ----
 * The loop of a thread that issues requests attaches while a session is open (the network runs
 * from the first KsimOpen to the last KsimClose) and detaches before the session's KsimClose.
 * Attach returns a descriptor to watch for readability (Linux: an epoll descriptor), or -1:
 * then Notify(Context) is called from ksim's watchdog thread whenever the network has work
 * (it must not block or call into ksim: a uv_async_send). When the descriptor is readable or
 * Notify was called, the loop calls KsimHostLoopRun on its thread, outside any completion
 * callback: it runs the network's ready work there (completion callbacks included) and returns
 * 1 when work is left, which keeps the descriptor readable (or Notify coming).
 * Attach fails with STATUS_INVALID_DEVICE_STATE when the mode is not "host-loop" or no session
 * is open. Detach guarantees that Notify is not called after it returns. */
typedef struct _KSIM_HOST_LOOP KSIM_HOST_LOOP;
typedef void KSIM_HOST_LOOP_NOTIFY(void *Context);
int32_t KsimHostLoopAttach(KSIM_HOST_LOOP_NOTIFY *Notify, void *Context, KSIM_HOST_LOOP **Loop, int64_t *Descriptor);
void KsimHostLoopDetach(KSIM_HOST_LOOP *Loop);
int KsimHostLoopRun(void);

/* ---- deterministic mode (KsimSchedulerSelect("deterministic", Seed)) ----
 * Every simulated thread is a fiber of the one host thread that drives ksim, and the seed alone
 * decides which runs at each switch point (native/ksim/src/ksim_sched_determ.c); sessions use
 * the in-memory network. The driving thread is the first fiber; KsimDetermSpawn adds simulated
 * user threads (each runs Routine(Context) and may call any ksim.h function), which run when the
 * scheduler picks them: at the driving thread's next switch point, wait, or KsimDetermJoin. */
typedef void KSIM_FIBER_ROUTINE(void *Context);
int32_t KsimDetermSpawn(KSIM_FIBER_ROUTINE *Routine, void *Context);
/* Waits until every spawned thread has returned and the network has nothing left to do; every
 * thread blocked for ever is a deadlock, reported (with the seed) as a failure. */
void KsimDetermJoin(void);
/* Runs the other threads until each has returned or waits for something only the caller can
 * bring (a request pended until its handle closes, say); returns how many are still alive. */
unsigned KsimDetermRunUntilIdle(void);
/* A new seed for the next run without reloading the driver (no spawned thread may be alive):
 * the generator, the virtual clock's origin and the trace start again. */
int32_t KsimDetermReseed(uint64_t Seed);
/* The hash of every scheduling decision so far (and of what KsimDetermTraceMix added): equal
 * for two runs of one program with one seed. */
uint64_t KsimDetermTrace(void);
void KsimDetermTraceMix(uint64_t Value);
uint64_t KsimDetermDecisions(void);
/* A simulated thread blocks until Done(Context) is true; whoever changes what Done reads calls
 * KsimDetermWakeFor(Context) (a completion callback, say). Deterministic mode only. */
void KsimDetermWaitFor(int (*Done)(void *Context), void *Context);
void KsimDetermWakeFor(void *Context);

/* Loads the driver on first call (runs DriverEntry); reference counted. Returns NTSTATUS. */
int32_t KsimDriverLoad(void);
/* Drops a reference; the last one runs EvtDriverUnload and the framework teardown, then the
 * verifier checks that no pool allocation, IRP, MDL or host socket is left. */
void KsimDriverUnload(void);

/* CreateFile on a device path such as L"\\\\.\\WskBridge": EvtDeviceFileCreate. NTSTATUS. */
int32_t KsimOpen(const wchar_t *Path, KSIM_FILE **File);
/* KsimOpen whose session's WSK sockets live on Network: "host" (the host's sockets, the
 * default), "memory" (ksim's in-memory network, native/ksim/host/host_net_memory.h; peers
 * reach it through KsimMemoryNet* below), or NULL/"" for the default (the environment
 * variable KSIM_NETWORK=memory|host, else host; the deterministic scheduler has only memory).
 * STATUS_INVALID_PARAMETER for another name. */
int32_t KsimOpenOnNetwork(const wchar_t *Path, const char *Network, KSIM_FILE **File);
/* DeviceIoControl, the output in a buffer ksim allocates (the system buffer under
 * METHOD_BUFFERED; a stand-in for the caller's buffer under METHOD_xx_DIRECT), handed to the
 * callback. */
void KsimDeviceIoControl(KSIM_FILE *File, uint32_t IoControlCode, const void *Input, uint32_t InputLength,
                         uint32_t OutputLength, KSIM_COMPLETION_CALLBACK *Callback, void *Context);
/* DeviceIoControl into the caller's Output (OutputLength bytes), as the Win32 call does it:
 * METHOD_BUFFERED output is copied back from the system buffer when the request completes;
 * METHOD_OUT_DIRECT output is written by the driver straight into Output through the MDL the
 * I/O manager locks over it (Irp->MdlAddress). Output must stay valid, and must not be read as
 * a result, until the callback, whose Output argument is this buffer. */
void KsimDeviceIoControlEx(KSIM_FILE *File, uint32_t IoControlCode, const void *Input, uint32_t InputLength,
                           void *Output, uint32_t OutputLength, KSIM_COMPLETION_CALLBACK *Callback, void *Context);
/* CancelIoEx(File, NULL): cancels every request of this file still pending. */
void KsimCancelIo(KSIM_FILE *File);
/* CloseHandle: EvtFileCleanup, the framework's flush of queued requests, EvtFileClose.
 * Blocks; when it returns every completion callback of this file has been made. */
void KsimClose(KSIM_FILE *File);

/* ---- the in-memory network's outside: peers for tests ----
 * Sessions opened with KsimOpenOnNetwork(.., "memory", ..) have their sockets on ksim's
 * in-memory network, which host sockets cannot reach; these calls make sockets on it for a
 * test's peers. Non-blocking; results are 0 or a KSIM_MEMORY_NET_E_* code (named by
 * KsimMemoryNetErrorName, e.g. "ECONNREFUSED"). Family is 4 or 6. Any thread. */
typedef struct _KSIM_MEMORY_ADDRESS {
    uint16_t Family;     /* 4 or 6 */
    uint16_t Port;
    uint8_t Address[16]; /* IPv4 in the first 4 bytes, network order */
} KSIM_MEMORY_ADDRESS;
#define KSIM_MEMORY_NET_READ 0x1
#define KSIM_MEMORY_NET_WRITE 0x2
#define KSIM_MEMORY_NET_PEER_FIN 0x4
#define KSIM_MEMORY_NET_HANGUP 0x8
#define KSIM_MEMORY_NET_ERROR 0x10
int KsimMemoryNetSocket(int Family, int Stream, int64_t *Handle);
int KsimMemoryNetBind(int64_t Handle, const KSIM_MEMORY_ADDRESS *Address);
int KsimMemoryNetListen(int64_t Handle, int Backlog);
/* 0 and a new handle, or EWOULDBLOCK's code when nothing waits. */
int KsimMemoryNetAccept(int64_t Handle, int64_t *NewHandle, KSIM_MEMORY_ADDRESS *Remote);
/* Starts a connect: "EINPROGRESS"; KsimMemoryNetConnectResult then says how it ended. */
int KsimMemoryNetConnect(int64_t Handle, const KSIM_MEMORY_ADDRESS *Remote);
int KsimMemoryNetConnectResult(int64_t Handle);
int KsimMemoryNetSend(int64_t Handle, const void *Data, size_t Length, size_t *Sent);
/* 0 with *Received 0: the peer's FIN. */
int KsimMemoryNetReceive(int64_t Handle, void *Buffer, size_t Length, size_t *Received);
int KsimMemoryNetSendTo(int64_t Handle, const void *Data, size_t Length, const KSIM_MEMORY_ADDRESS *Remote);
int KsimMemoryNetReceiveFrom(int64_t Handle, void *Buffer, size_t Length, size_t *Received,
                             KSIM_MEMORY_ADDRESS *Remote, int *Truncated);
int KsimMemoryNetShutdownSend(int64_t Handle);
int KsimMemoryNetSetOption(int64_t Handle, const char *Option, int Value); /* "rcvbuf" | "sndbuf" */
void KsimMemoryNetClose(int64_t Handle, int Abortive);
int KsimMemoryNetLocalAddress(int64_t Handle, KSIM_MEMORY_ADDRESS *Address);
int KsimMemoryNetRemoteAddress(int64_t Handle, KSIM_MEMORY_ADDRESS *Address);
/* KSIM_MEMORY_NET_* bits: what the socket is ready for now. */
int KsimMemoryNetReadiness(int64_t Handle, unsigned *Events);
const char *KsimMemoryNetErrorName(int Error);
#define KSIM_MEMORY_NET_E_WOULDBLOCK 1
#define KSIM_MEMORY_NET_E_INPROGRESS 2
/* Datagrams the in-memory network dropped (full receive queue, nobody on the port). */
uint64_t KsimMemoryNetDatagramsDropped(void);
/* With nothing open on it: the in-memory network forgets its ports and handles, so that the
 * next run hands out the same ones (a replay). Non-zero while a socket is still open. */
int KsimMemoryNetReset(void);

/* ---- verifier ---- */
typedef struct _KSIM_COUNTERS {
    uint64_t PoolAllocations;      /* outstanding pool blocks (all tags) */
    uint64_t PoolBytes;            /* outstanding pool bytes */
    uint64_t PoolAllocationsTotal; /* allocations ever made (fault-injection points are numbered on this) */
    uint64_t Irps;                 /* outstanding IRPs */
    uint64_t Mdls;                 /* outstanding MDLs */
    uint64_t HostSockets;          /* host sockets open under the WSK provider */
    uint64_t WskSockets;           /* WSK sockets not yet closed */
    uint64_t VerifierFailures;     /* rule violations detected so far */
    uint64_t HostDatagramsDropped; /* datagrams host sockets below the WSK provider dropped (queue full); Linux only */
} KSIM_COUNTERS;
void KsimGetCounters(KSIM_COUNTERS *Counters);
/* Outstanding pool blocks carrying Tag (4 chars, as in ExAllocatePool2). */
uint64_t KsimPoolOutstandingByTag(uint32_t Tag);
/* Checks every freed pool block still in quarantine for a write after its free (a verifier
 * failure each) and empties the quarantine: a run's use-after-free is then reported in that run,
 * not when a later one evicts the block. */
void KsimPoolQuarantineCheck(void);
/* Fail the Nth pool allocation from now (1 = the next one); 0 disables. */
void KsimFailAllocationAfter(uint64_t Nth);
/* Verifier failures: by default each one is recorded (and printed to stderr); in abort mode
 * the process aborts at once with the message (what a bugcheck is to the kernel). */
void KsimVerifierSetAbortOnFailure(int Abort);
/* Copies the most recent failure message (empty if none); returns the failure count. */
uint64_t KsimVerifierLastFailure(char *Buffer, uint32_t BufferLength);
/* Strict WSK: WskControlSocket / WskControlClient ignore an IRP passed where Learn's rule for
 * the code says NULL (never complete it), as the worst conforming netio may; the call is a
 * verifier failure either way. Strict mode also ignores the IRP of a code Learn gives no rule
 * for (e.g. SO_TYPE), which a conforming netio may do (no failure: the caller cannot know).
 * 1 on, 0 off; until called, the environment variable KSIM_WSK_STRICT=1 (read at each call)
 * decides. */
void KsimSetStrictWsk(int Strict);

/* ---- test hooks (C tests only; the addon never sets one) ----
 * A test holds a race window open at a named point inside the simulated kernel: the hook runs
 * on the thread that reached the point, at that thread's IRQL, and may block (bounded) while
 * other threads act. That is a schedule a real multiprocessor produces whenever the thread is
 * preempted or interrupted there, so every interleaving a hook forces is one Windows can take;
 * the hook only makes it certain instead of rare. Object names what the point concerns. */
typedef enum _KSIM_HOOK_POINT {
    KsimHookAllocationFails = 1, /* an injected failure (KsimFailAllocationAfter) is about to be
                                    returned to the driver; Object: the routine's name (char *) */
    KsimHookCancelIrp = 2,       /* IoCancelIrp was called, before it touches the IRP; Object: the IRP */
} KSIM_HOOK_POINT;
typedef void KSIM_TEST_HOOK(void *Context, KSIM_HOOK_POINT Point, const void *Object);
/* One hook per process; NULL removes it. Returns once no call of the previous hook is
 * running (so do not call it from inside a hook). */
void KsimSetTestHook(KSIM_TEST_HOOK *Hook, void *Context);

/* The NTSTATUS names ksim's ntddk.h defines, with their values, for the user-mode name
 * table's consistency test. */
typedef struct _KSIM_NAMED_STATUS {
    const char *Name;
    int32_t Value;
} KSIM_NAMED_STATUS;
const KSIM_NAMED_STATUS *KsimNtStatusNames(uint32_t *Count);

#ifdef __cplusplus
}
#endif

#endif /* KSIM_H */

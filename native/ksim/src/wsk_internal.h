/* SPDX-License-Identifier: MIT
 *
 * ksim WSK provider: internal objects shared by wsk_provider.c (registration, the network
 * thread, completions, cancellation), wsk_socket.c (the socket-level routines the client
 * calls), wsk_engine.c (the per-socket state machine the network thread runs, and every event
 * callback) and wsk_util.c (addresses, statuses, buffers).
 *
 * Concurrency model, chosen so that the rules of docs/wsk-facts.md hold by construction:
 *  - One provider lock (a spin lock) guards every provider object. Routines called by the
 *    client take it briefly, validate, queue an IRP or change state, and kick the network
 *    (KsimWskWake -> the scheduler's NetworkKick); they never wait and never touch the host
 *    socket except for inline work such as bind.
 *  - The network turn (KsimWskNetworkTurn) owns the poller, does all host I/O on connected
 *    sockets, and is the only code that calls event callbacks and completes pending IRPs. The
 *    scheduler plug-in (ksim_sched.h) decides which thread runs it (ksim's network thread, the
 *    host loop's thread, its watchdog) and never runs two turns at once. Callbacks are
 *    therefore serial per socket (and per provider), and a close that a turn processes cannot
 *    overlap a callback.
 *  - The lock is never held across a callback or IoCompleteRequest; both run at
 *    DISPATCH_LEVEL (KeRaiseIrql), as WSK_FLAG_AT_DISPATCH_LEVEL says.
 */
#pragma once

#include <ntddk.h>
#include <wsk.h>
#include "ksim_internal.h"
#include "host/host_net.h"
#include "host/host_net_memory.h"
#include "host/host_sync.h"
#include "ksim_sched.h"

/* The deterministic plug-in runs the in-memory network only (no host descriptor, no clock). */
static inline BOOLEAN KsimSchedulerIsDeterministic(void)
{
    return KsimScheduler == &KsimSchedulerDeterministic;
}

#define KSIM_WSK_TAG_CLIENT 'cKsW'
#define KSIM_WSK_TAG_SOCKET 'sKsW'
#define KSIM_WSK_TAG_REQUEST 'rKsW'
#define KSIM_WSK_TAG_BLOCK 'bKsW'
#define KSIM_WSK_TAG_INCOMING 'iKsW'

#define KSIM_WSK_VERSION MAKE_WSK_VERSION(1, 0)

#define KSIM_WSK_SOCKET_MAGIC 0x4b53574bu  /* 'KWSK' */
#define KSIM_WSK_CLIENT_MAGIC 0x4b53574cu
#define KSIM_WSK_DEAD_MAGIC 0xdeadbeefu

/* Largest single stream indication / read; bounded so that one socket cannot monopolise
 * the network thread. */
#define KSIM_WSK_MAX_INDICATION (256u * 1024u)
/* Datagrams gathered into one WskReceiveFromEvent chain. */
#define KSIM_WSK_MAX_DATAGRAM_CHAIN 32u
#define KSIM_WSK_MAX_DATAGRAM 65536u
#define KSIM_WSK_LISTEN_BACKLOG 128
/* Aborted inspections remembered so that a late WskInspectComplete still succeeds. */
#define KSIM_WSK_ABORTED_REMEMBERED 64u

/* Valid event masks per socket category (wsk-facts 1.1). */
#define KSIM_WSK_CONNECTION_EVENTS (WSK_EVENT_RECEIVE | WSK_EVENT_DISCONNECT | WSK_EVENT_SEND_BACKLOG)
#define KSIM_WSK_LISTEN_EVENTS (WSK_EVENT_ACCEPT | KSIM_WSK_CONNECTION_EVENTS)
#define KSIM_WSK_DATAGRAM_EVENTS (WSK_EVENT_RECEIVE_FROM)
#define KSIM_WSK_ALL_EVENTS (KSIM_WSK_LISTEN_EVENTS | KSIM_WSK_DATAGRAM_EVENTS)

/* Pseudo event bits for the callbacks that have no WSK_EVENT_* flag, so that the
 * in-progress mask can name them too. */
#define KSIM_WSK_INPROGRESS_INSPECT 0x00010000u
#define KSIM_WSK_INPROGRESS_ABORT 0x00020000u

/* Poll contexts start with this header, so that the network thread can tell a socket from
 * a held (conditional-accept) connection. */
#define KSIM_WSK_OBJECT_SOCKET 1u
#define KSIM_WSK_OBJECT_INCOMING 2u
typedef struct _KSIM_WSK_OBJECT {
    ULONG Type;
} KSIM_WSK_OBJECT;

typedef struct _KSIM_WSK_CLIENT {
    ULONG Magic;
    WSK_CLIENT_NPI Npi;
    PWSK_REGISTRATION Registration;
    LIST_ENTRY Link;
    LONG Captures;           /* WskCaptureProviderNPI successes not yet released */
    ULONG OpenSockets;       /* sockets whose close has not completed */
    BOOLEAN Deregistering;
    BOOLEAN AnySocket;       /* static events are too late once this is set */
    BOOLEAN Memory;          /* its sockets live on the in-memory network (wsk_net.c) */
    ULONG StaticEvents;
    KEVENT Idle;             /* set when deregistering and nothing is outstanding */
    LIST_ENTRY TransportWaiters; /* WSK_TRANSPORT_LIST_CHANGE IRPs, cancelled by WskDeregister */
} KSIM_WSK_CLIENT;

/* Socket state bits. */
#define KSIM_WSK_S_BOUND 0x0001u
#define KSIM_WSK_S_LISTENING 0x0002u
#define KSIM_WSK_S_CONNECTING 0x0004u
#define KSIM_WSK_S_CONNECTED 0x0008u
#define KSIM_WSK_S_SEND_SHUT 0x0010u        /* our FIN is out (graceful WskDisconnect) */
#define KSIM_WSK_S_PEER_FIN 0x0020u         /* the peer's FIN was reached in the byte stream */
#define KSIM_WSK_S_PEER_FIN_SEEN 0x0040u    /* the poller reported the peer's FIN (RDHUP) */
#define KSIM_WSK_S_DEAD 0x0080u             /* reset, aborted or failed: DeadStatus */
#define KSIM_WSK_S_CLOSING 0x0100u          /* WskCloseSocket called */
#define KSIM_WSK_S_DISCONNECT_INDICATED 0x0200u
#define KSIM_WSK_S_DEAD_INDICATED 0x0400u
#define KSIM_WSK_S_REMOTE_SET 0x0800u       /* datagram: SIO_WSK_SET_REMOTE_ADDRESS */
#define KSIM_WSK_S_LISTENER_DEAD 0x1000u
#define KSIM_WSK_S_CONNECT_FAILED 0x2000u
#define KSIM_WSK_S_HUP 0x4000u              /* both directions finished: no more polling */

/* A buffer the provider indicates: one stream chunk, or one datagram of a chain. */
typedef struct _KSIM_WSK_BLOCK {
    LIST_ENTRY Link;                    /* head of a chain only: held or retained list */
    union {
        WSK_DATA_INDICATION Data;
        WSK_DATAGRAM_INDICATION Datagram;
    } Indication;
    struct _KSIM_WSK_BLOCK *NextBlock;  /* the rest of the chain (datagrams) */
    PMDL Mdl;
    SIZE_T Length;
    SOCKADDR_STORAGE Remote;
    UCHAR Data[];
} KSIM_WSK_BLOCK;

typedef struct _KSIM_WSK_SOCKET KSIM_WSK_SOCKET;

/* What the client's PWSK_SOCKET points to. It lives on the host heap, not in the pool, and is
 * kept for a while after its socket is freed (a bounded quarantine), so that a call on a
 * socket whose close has completed is caught as a verifier failure instead of being a
 * use-after-free. */
#define KSIM_WSK_HANDLE_MAGIC 0x4b53574du
#define KSIM_WSK_QUARANTINE 4096u
typedef struct _KSIM_WSK_HANDLE {
    WSK_SOCKET Socket;                  /* first */
    ULONG Magic;
    KSIM_WSK_SOCKET *Impl;              /* NULL once the socket is freed */
    struct _KSIM_WSK_HANDLE *NextRetired;
} KSIM_WSK_HANDLE;

/* A connection accepted from the host on a conditional-accept listener, held before the
 * client's inspection decides (WskInspectEvent / WskInspectComplete). */
#define KSIM_WSK_IN_NEW 0u       /* not yet inspected */
#define KSIM_WSK_IN_PENDED 1u    /* inspect returned WskInspectPend */
#define KSIM_WSK_IN_READY 2u     /* accepted by inspection, waiting for WskAccept / WskAcceptEvent */
#define KSIM_WSK_IN_ABORTED 3u   /* peer gave up; kept only to answer a late WskInspectComplete */
#define KSIM_WSK_IN_REJECTED 4u  /* to be reset and freed by the network thread */
#define KSIM_WSK_IN_DISPOSE 5u   /* to be freed by the network thread (host socket already gone) */

typedef struct _KSIM_WSK_INCOMING {
    KSIM_WSK_OBJECT Object;
    LIST_ENTRY Link;
    KSIM_WSK_SOCKET *Listener;
    HOST_NET_SOCKET Host;
    HOST_NET_ADDRESS Local;
    HOST_NET_ADDRESS Remote;
    WSK_INSPECT_ID Id;
    ULONG State;
    BOOLEAN PollRegistered;
    unsigned PollEvents;
} KSIM_WSK_INCOMING;

#define KsimWskPublic(S) (&(S)->Handle->Socket)

struct _KSIM_WSK_SOCKET {
    KSIM_WSK_HANDLE *Handle;            /* the client's PWSK_SOCKET */
    KSIM_WSK_OBJECT Object;
    ULONG Magic;
    KSIM_WSK_CLIENT *Client;
    LIST_ENTRY Link;                    /* provider's socket list */
    LIST_ENTRY DirtyLink;
    BOOLEAN Dirty;
    ULONG Kind;                         /* WSK_FLAG_*_SOCKET */
    USHORT Family;                      /* Windows AF_* */
    USHORT Type;                        /* Windows SOCK_* */
    ULONG Protocol;
    PVOID Context;
    CONST VOID *Dispatch;               /* client dispatch for this socket's category */

    HOST_NET_SOCKET Host;
    BOOLEAN PollRegistered;
    unsigned PollInterest;
    unsigned PollEvents;                /* reported since the last step */
    BOOLEAN MayRead;                    /* the host socket may hold data or its end: set by a
                                         * readable/hang-up report, cleared when KsimWskFillHeld
                                         * found it empty; anything that arrives after that is
                                         * reported again (host pollers are level-triggered, the
                                         * in-memory network kicks a turn on every change) */

    ULONG State;
    NTSTATUS DeadStatus;

    ULONG Events;                       /* enabled event callbacks (WSK_EVENT_*) */
    ULONG StaticEvents;                 /* never disabled */
    ULONG InheritEvents;                /* listener: connection events for event-accepted sockets */
    ULONG InProgress;                   /* callbacks running now (WSK_EVENT_* and KSIM_WSK_INPROGRESS_*) */
    LIST_ENTRY DisableWaiters;          /* SO_WSK_EVENT_CALLBACK disable IRPs */

    LIST_ENTRY ConnectQueue;
    LIST_ENTRY AcceptQueue;
    LIST_ENTRY SendQueue;               /* WskSend, graceful WskDisconnect, WskSendTo */
    LIST_ENTRY ReceiveQueue;            /* WskReceive, WskReceiveFrom */

    KSIM_WSK_BLOCK *Held;               /* stream data read but not yet taken */
    SIZE_T HeldOffset;
    BOOLEAN Suspended;                  /* receive indications wait for a completed WskReceive */
    LIST_ENTRY HeldDatagrams;           /* KSIM_WSK_BLOCK, each a single datagram */
    uint64_t HostDropsSeen;             /* the host socket's cumulative drop count, last read */
    LIST_ENTRY Retained;                /* chains the client kept (STATUS_PENDING) */

    BOOLEAN ConditionalAccept;
    LIST_ENTRY Incoming;                /* KSIM_WSK_INCOMING */
    ULONG NextSerial;

    SIZE_T IdealBacklog;                /* last value indicated or queried */
    BOOLEAN BacklogIndicate;

    BOOLEAN Implicit;                   /* made by WskSocketConnect, not yet handed to the client */
    BOOLEAN AcceptStalled;              /* listener: the host is out of descriptors or memory */
    HOST_NET_ADDRESS Remote;            /* datagram: fixed remote address */
    BOOLEAN ExclusiveAddressUse;        /* recorded only: the host is exclusive already */
    ULONG AbortedCount;                 /* KSIM_WSK_IN_ABORTED entries kept */
    struct _KSIM_WSK_REQUEST *CloseRequest;
    volatile LONG InAcceptEvent;        /* accepted socket: WskAcceptEvent offering it has not returned */
};

/* Request types. */
enum {
    KsimWskRequestComplete = 1,   /* result known: only waits for the network thread */
    KsimWskRequestConnect,
    KsimWskRequestAccept,
    KsimWskRequestSend,
    KsimWskRequestDisconnect,
    KsimWskRequestReceive,
    KsimWskRequestSendTo,
    KsimWskRequestReceiveFrom,
    KsimWskRequestDisableWait,
    KsimWskRequestClose
};

typedef struct _KSIM_WSK_REQUEST {
    LIST_ENTRY AllLink;                 /* provider's cancelable list, while cancelable */
    LIST_ENTRY Link;                    /* a socket queue, or the completion list */
    PIRP Irp;
    KSIM_WSK_SOCKET *Socket;
    ULONG Type;
    ULONG Flags;
    BOOLEAN Cancelable;
    BOOLEAN Abortive;
    WSK_BUF Buffer;
    BOOLEAN HasBuffer;
    SIZE_T Done;
    HOST_NET_ADDRESS Address;           /* connect / send-to target */
    BOOLEAN HasAddress;
    PSOCKADDR LocalOut;                 /* accept */
    PSOCKADDR RemoteOut;                /* accept, receive-from */
    PVOID AcceptContext;
    CONST WSK_CLIENT_CONNECTION_DISPATCH *AcceptDispatch;
    PULONG ControlLength;
    PULONG ControlFlags;
    ULONG EventBit;                     /* disable waiter */
    NTSTATUS Status;
    ULONG_PTR Information;
} KSIM_WSK_REQUEST;

typedef struct _KSIM_WSK_PROVIDER {
    KSPIN_LOCK Lock;
    KEVENT Mutex;                       /* serialises start/stop of the network */
    LIST_ENTRY Clients;
    ULONG ClientCount;
    LIST_ENTRY Sockets;
    LIST_ENTRY Requests;                /* cancelable pending requests */
    LIST_ENTRY CancelOwned;             /* finished while their cancel routine was running */
    LIST_ENTRY Dirty;                   /* sockets the network thread must step */
    LIST_ENTRY Completions;             /* requests whose IRP is ready to complete */
    HOST_NET_POLLER *Poller;            /* the host network's (NULL in deterministic mode) */
    HOST_NET_MEM_POLLER *MemoryPoller;  /* the in-memory network's */
    BOOLEAN Running;                    /* the scheduler runs the network (KsimWskNetworkStart) */
    volatile LONG64 WskSockets;
    volatile LONG64 HostDatagramsDropped; /* dropped by host sockets below the provider (not WSK's) */
    KSIM_WSK_HANDLE *RetiredHead;       /* quarantine of handles of freed sockets, oldest first */
    KSIM_WSK_HANDLE *RetiredTail;
    ULONG RetiredCount;
    ULONG StalledListeners;             /* listeners waiting for a descriptor to be freed */
} KSIM_WSK_PROVIDER;

extern KSIM_WSK_PROVIDER KsimWskProvider;
/* A scheduler's choice of where each turn starts reading the in-memory network's readiness
 * (the deterministic plug-in sets it; NULL: registration order). */
extern uint64_t (*KsimWskTurnRotate)(void);

extern CONST WSK_PROVIDER_BASIC_DISPATCH KsimWskBasicDispatch;
extern CONST WSK_PROVIDER_LISTEN_DISPATCH KsimWskListenDispatch;
extern CONST WSK_PROVIDER_DATAGRAM_DISPATCH KsimWskDatagramDispatch;
extern CONST WSK_PROVIDER_CONNECTION_DISPATCH KsimWskConnectionDispatch;

/* ---- wsk_provider.c ---- */

#define KsimWskLock(OldIrql) KeAcquireSpinLock(&KsimWskProvider.Lock, (OldIrql))
#define KsimWskUnlock(OldIrql) KeReleaseSpinLock(&KsimWskProvider.Lock, (OldIrql))

/* Takes the IRP as the next driver down would (IoSetNextIrpStackLocation). FALSE when the
 * IRP has no stack location left (a verifier failure has been reported). */
BOOLEAN
KsimWskIrpTake(_Inout_ PIRP Irp);

/* Completes an IRP inline, for synchronous results; returns Status. */
NTSTATUS
KsimWskIrpCompleteInline(_Inout_ PIRP Irp, _In_ NTSTATUS Status, _In_ ULONG_PTR Information);

_Must_inspect_result_
KSIM_WSK_REQUEST *
KsimWskRequestAllocate(_In_ PIRP Irp, _In_opt_ KSIM_WSK_SOCKET *Socket, _In_ ULONG Type);

VOID
KsimWskRequestFree(_In_ KSIM_WSK_REQUEST *Request);

/* Lock held. Marks the IRP pending and queues the request on Queue, cancelable. */
VOID
KsimWskRequestQueue(_Inout_ KSIM_WSK_REQUEST *Request, _Inout_ PLIST_ENTRY Queue);

/* Lock held. Takes a queued request out of cancellation before the provider works on it
 * (copies data into or out of it, or hands it a new socket). FALSE when its cancel routine
 * already runs: the request has then left the socket's queue and is the cancel routine's. */
_Must_inspect_result_
BOOLEAN
KsimWskRequestClaim(_Inout_ KSIM_WSK_REQUEST *Request);

/* Lock held. Makes a claimed request, still queued and untouched, cancelable again. */
VOID
KsimWskRequestRearm(_Inout_ KSIM_WSK_REQUEST *Request);

/* Lock held. Moves a request to the completion list with its result (or leaves it to a
 * running cancel routine). */
VOID
KsimWskRequestFinish(_Inout_ KSIM_WSK_REQUEST *Request, _In_ NTSTATUS Status, _In_ ULONG_PTR Information);

/* Marks the IRP pending and hands a known result to the network thread, which completes
 * it; returns STATUS_PENDING (the observed Windows convention). Lock not held. */
NTSTATUS
KsimWskRequestCompleteLater(_Inout_ KSIM_WSK_REQUEST *Request, _In_ NTSTATUS Status, _In_ ULONG_PTR Information);

/* Lock held. Asks the network thread to step the socket. */
VOID
KsimWskMarkDirty(_Inout_ KSIM_WSK_SOCKET *Socket);

VOID
KsimWskWake(VOID);

/* Lock held: allocates and initialises a socket object of the client (no host socket). */
_Must_inspect_result_
KSIM_WSK_SOCKET *
KsimWskSocketAllocate(_In_ KSIM_WSK_CLIENT *Client, _In_ ULONG Kind, _In_ USHORT Family, _In_ USHORT Type,
                      _In_ ULONG Protocol, _In_opt_ PVOID Context, _In_opt_ CONST VOID *Dispatch);

/* Lock not held: after the close IRP completed. */
VOID
KsimWskSocketFree(_In_ KSIM_WSK_SOCKET *Socket);

/* Validates a PWSK_SOCKET the client passed in: a verifier failure (and NULL) for a bad or
 * closed socket. */
_Must_inspect_result_
KSIM_WSK_SOCKET *
KsimWskSocketFromClient(_In_opt_ PWSK_SOCKET WskSocket, _In_z_ PCSTR Routine);

/* ---- wsk_engine.c ---- */

/* Network thread, lock held on entry and exit; may drop it around one callback. */
VOID
KsimWskSocketStep(_Inout_ KSIM_WSK_SOCKET *Socket, _Inout_ KIRQL *OldIrql);

/* Network thread, lock held: routes a poll report. */
VOID
KsimWskPollReport(_In_ PVOID Context, _In_ unsigned Events);

/* Lock held: frees a socket object the client never received (a connection refused by
 * WskAcceptEvent, a failed WskSocketConnect); the completion drain frees the memory. */
VOID
KsimWskSocketDiscard(_Inout_ KSIM_WSK_SOCKET *Socket);

/* Lock held: the current ideal send backlog estimate of a connected socket. */
SIZE_T
KsimWskIdealBacklog(_In_ KSIM_WSK_SOCKET *Socket);

/* Lock held: bytes received and not yet taken by the client. */
SIZE_T
KsimWskReceiveBacklog(_In_ KSIM_WSK_SOCKET *Socket);

/* ---- wsk_util.c ---- */

NTSTATUS
KsimWskStatusFromHost(_In_ int HostError);

/* Windows SOCKADDR -> host address; STATUS_INVALID_PARAMETER etc. for a bad one. */
NTSTATUS
KsimWskAddressToHost(_In_ CONST SOCKADDR *Address, _In_ USHORT ExpectedFamily, _Out_ HOST_NET_ADDRESS *Host);

/* Host address -> Windows SOCKADDR_IN / SOCKADDR_IN6; writes only that many bytes. */
VOID
KsimWskAddressFromHost(_In_ CONST HOST_NET_ADDRESS *Host, _Out_ PSOCKADDR Address);

/* Validates a WSK_BUF against its MDL chain (verifier failure when Length overruns it). */
_Must_inspect_result_
NTSTATUS
KsimWskBufValidate(_In_ CONST WSK_BUF *Buffer, _In_z_ PCSTR Routine);

/* Fills host iovecs for Buffer skipping Skip bytes, at most MaxBytes. Returns the count. */
int
KsimWskBufToIovec(_In_ CONST WSK_BUF *Buffer, _In_ SIZE_T Skip, _In_ SIZE_T MaxBytes, _Out_ HOST_NET_IOVEC *Vector);

/* Copies bytes into a WSK_BUF at Skip. */
VOID
KsimWskBufCopyIn(_In_ CONST WSK_BUF *Buffer, _In_ SIZE_T Skip, _In_reads_bytes_(Length) CONST VOID *Source,
                 _In_ SIZE_T Length);

_Must_inspect_result_
KSIM_WSK_BLOCK *
KsimWskBlockAllocate(_In_ SIZE_T Length);

VOID
KsimWskBlockFree(_In_ KSIM_WSK_BLOCK *Block);

/* Frees a chain linked by NextBlock. */
VOID
KsimWskBlockFreeChain(_In_opt_ KSIM_WSK_BLOCK *Block);

/* ---- wsk_net.c: every socket call, routed to the socket's network ---- */

int KsimNetSocket(_In_ BOOLEAN Memory, _In_ int Family, _In_ int Type, _Out_ HOST_NET_SOCKET *Socket);
VOID KsimNetClose(_In_ HOST_NET_SOCKET Socket);
VOID KsimNetCloseAbortive(_In_ HOST_NET_SOCKET Socket);
int KsimNetAccept(_In_ HOST_NET_SOCKET Socket, _Out_ HOST_NET_SOCKET *NewSocket, _Out_opt_ HOST_NET_ADDRESS *Remote);
/* The calls both networks offer (host_net.h, HOST_NET_SOCKET_CALLS), routed by the handle. */
#define KSIM_NET_DECLARE_CALL(Name, Parameters, Arguments) int KsimNet##Name Parameters;
HOST_NET_SOCKET_CALLS(KSIM_NET_DECLARE_CALL)
#undef KSIM_NET_DECLARE_CALL
int KsimNetPollerSet(_In_ HOST_NET_SOCKET Socket, _In_ unsigned Interest, _In_ PVOID Context);
int KsimNetPollerRemove(_In_ HOST_NET_SOCKET Socket);
/* Provider's sockets open on both networks. */
uint64_t KsimNetOpenSockets(VOID);
/* At WskRegister: does the new client get the in-memory network? */
BOOLEAN KsimNetClientWantsMemory(VOID);

/* ---- control rules (wsk_util.c) ---- */

/* Kind: WskSetOption / WskGetOption / WskIoctl, or KSIM_WSK_CONTROL_CLIENT for WskControlClient.
 * Checks the call against Learn's per-code Irp and OutputSizeReturned rules: an IRP or an
 * OutputSizeReturned where the rule says NULL is a verifier failure. In strict mode an IRP the
 * worst conforming netio would ignore is taken away (*Irp = NULL: never completed). Returns
 * FALSE when a required IRP is missing (the call returns STATUS_INVALID_PARAMETER). */
#define KSIM_WSK_CONTROL_CLIENT 0x100u
BOOLEAN
KsimWskControlRules(_In_z_ PCSTR Routine, _In_ ULONG Kind, _In_ ULONG Level, _In_ ULONG Code, _In_ SIZE_T InputSize,
                    _In_reads_bytes_opt_(InputSize) CONST VOID *InputBuffer, _In_ SIZE_T OutputSize,
                    _In_opt_ CONST SIZE_T *OutputSizeReturned, _Inout_ PIRP *Irp);

/* Strict WSK (KsimSetStrictWsk, KSIM_WSK_STRICT=1): the worst a conforming netio may do. */
BOOLEAN
KsimWskStrict(VOID);

/* SPDX-License-Identifier: MIT
 *
 * ksim's in-memory network (host_net_memory.h). OS-neutral: no socket header, no clock; the
 * only host services are host_sync.h's lock and heap.
 */
#include "host_net_memory.h"
#include "host_sync.h"

#include <string.h>

enum {
    MEM_NEW = 0,     /* created, maybe bound */
    MEM_LISTENING,
    MEM_CONNECTING,  /* stream: connect done or refused, result not yet taken */
    MEM_CONNECTED,
    MEM_ORPHAN       /* closed gracefully, still draining its send buffer to the peer */
};

typedef struct _MEM_BYTES {
    uint8_t *Data;
    size_t Length;
    size_t Capacity;
} MEM_BYTES;

typedef struct _MEM_DATAGRAM {
    struct _MEM_DATAGRAM *Next;
    HOST_NET_ADDRESS From;
    size_t Length;
    uint8_t Data[];
} MEM_DATAGRAM;

typedef struct _MEM_SOCKET MEM_SOCKET;
struct _MEM_SOCKET {
    uint32_t Index;
    uint32_t Generation;
    int Family;
    int Type;
    int State;
    int Bound;
    int ReservesPort;              /* bound by bind/connect/sendto (not an accepted socket) */
    HOST_NET_ADDRESS Local;
    HOST_NET_ADDRESS Remote;
    int HasRemote;
    int PendingError;              /* SO_ERROR */
    int ConnectResult;             /* for HostNetMemConnectResult */
    int Options[HOST_NET_OPT_ACCEPTCONN + 1];
    /* stream */
    MEM_SOCKET *Peer;
    MEM_BYTES Receive;
    MEM_BYTES Send;
    int PeerFin;                   /* the peer's FIN is after the bytes in Receive */
    int SendShut;                  /* our FIN follows the bytes in Send */
    int FinDelivered;
    int Reset;                     /* the connection was reset: reads and writes fail */
    /* listener */
    MEM_SOCKET **Backlog;
    int BacklogMax;
    int BacklogCount;
    MEM_SOCKET *Listener;          /* a connection waiting in Listener's backlog */
    /* datagram */
    MEM_DATAGRAM *Head;
    MEM_DATAGRAM *Tail;
    size_t QueuedBytes;
    unsigned QueuedCount;
    uint64_t Dropped;              /* datagrams dropped because this socket's queue was full */
    /* poller */
    HOST_NET_MEM_POLLER *Poller;
    unsigned Interest;
    void *Context;
    MEM_SOCKET *PollNext;
    MEM_SOCKET *PollPrev;
};

struct _HOST_NET_MEM_POLLER {
    void (*Wake)(void *);
    void *WakeContext;
    MEM_SOCKET *First;
    MEM_SOCKET *Last;
    unsigned Count;
};

static KSIM_HOST_MUTEX *volatile MemLock;
static MEM_SOCKET **MemTable;      /* by Index; NULL = free slot */
static uint32_t *MemGenerations;   /* survives the slot's reuse */
static uint32_t MemTableSize;
static uint64_t MemOpen;           /* handles not yet closed */
static uint64_t MemLive;           /* socket objects (orphans included) */
static uint64_t MemDropped;
static uint16_t MemNextEphemeral = HOST_NET_MEMORY_FIRST_EPHEMERAL;
static HOST_NET_MEM_POLLER *MemPollers[4];

static void MemEnter(void)
{
    KSIM_HOST_MUTEX *Lock = __atomic_load_n(&MemLock, __ATOMIC_ACQUIRE);
    if (!Lock) {
        KSIM_HOST_MUTEX *Fresh = KsimHostMutexCreate(), *Expected = NULL;
        if (__atomic_compare_exchange_n(&MemLock, &Expected, Fresh, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
            Lock = Fresh;
        else {
            KsimHostMutexDestroy(Fresh);
            Lock = Expected;
        }
    }
    KsimHostMutexLock(Lock);
}

static void MemLeave(void)
{
    KsimHostMutexUnlock(MemLock);
}

/* Something changed: every poller learns that a collection is due. */
static void MemChanged(void)
{
    unsigned i;
    for (i = 0; i < sizeof(MemPollers) / sizeof(MemPollers[0]); i++)
        if (MemPollers[i] && MemPollers[i]->Wake)
            MemPollers[i]->Wake(MemPollers[i]->WakeContext);
}

static MEM_SOCKET *MemLookup(HOST_NET_SOCKET Handle)
{
    uint32_t Index, Generation;
    if (!HostNetIsMemory(Handle))
        return NULL;
    Index = (uint32_t)(Handle & 0xFFFFF);
    Generation = (uint32_t)((Handle >> 20) & 0xFFFFF);
    if (Index >= MemTableSize || !MemTable[Index] || MemTable[Index]->Generation != Generation)
        return NULL;
    return MemTable[Index];
}

static HOST_NET_SOCKET MemHandle(const MEM_SOCKET *S)
{
    return HOST_NET_MEMORY_BIT | ((int64_t)S->Generation << 20) | (int64_t)S->Index;
}

static MEM_SOCKET *MemCreate(int Family, int Type)
{
    MEM_SOCKET *S;
    uint32_t i;
    for (i = 0; i < MemTableSize && MemTable[i]; i++)
        ;
    if (i == MemTableSize) {
        uint32_t NewSize = MemTableSize ? MemTableSize * 2 : 64;
        MEM_SOCKET **Table;
        uint32_t *Generations;
        if (NewSize > 0xFFFFF)
            return NULL;
        Table = KsimHostAllocZero(NewSize * sizeof(*Table));
        Generations = KsimHostAllocZero(NewSize * sizeof(*Generations));
        if (!Table || !Generations) {
            KsimHostFree(Table);
            KsimHostFree(Generations);
            return NULL;
        }
        if (MemTableSize) {
            memcpy(Table, MemTable, MemTableSize * sizeof(*Table));
            memcpy(Generations, MemGenerations, MemTableSize * sizeof(*Generations));
        }
        KsimHostFree(MemTable);
        KsimHostFree(MemGenerations);
        MemTable = Table;
        MemGenerations = Generations;
        MemTableSize = NewSize;
    }
    S = KsimHostAllocZero(sizeof(*S));
    if (!S)
        return NULL;
    S->Index = i;
    S->Generation = MemGenerations[i] = (MemGenerations[i] + 1) & 0xFFFFF;
    S->Family = Family;
    S->Type = Type;
    S->Options[HOST_NET_OPT_RCVBUF] = HOST_NET_MEMORY_DEFAULT_BUFFER;
    S->Options[HOST_NET_OPT_SNDBUF] = HOST_NET_MEMORY_DEFAULT_BUFFER;
    /* Windows sockets are IPv6-only unless the application clears IPV6_V6ONLY. */
    S->Options[HOST_NET_OPT_IPV6_V6ONLY] = Family == HOST_NET_AF_INET6;
    MemTable[i] = S;
    MemOpen++;
    MemLive++;
    return S;
}

/* ---- bytes ---- */

static int MemBytesAppend(MEM_BYTES *B, const uint8_t *Data, size_t Length)
{
    /* Nothing to add (a zero-length send): B->Data may still be NULL, and NULL + 0 is undefined. */
    if (Length == 0)
        return HOST_NET_OK;
    if (B->Length + Length > B->Capacity) {
        size_t Capacity = B->Capacity ? B->Capacity : 4096;
        uint8_t *New;
        while (Capacity < B->Length + Length)
            Capacity *= 2;
        New = KsimHostAlloc(Capacity);
        if (!New)
            return HOST_NET_E_NOMEM;
        if (B->Length)
            memcpy(New, B->Data, B->Length);
        KsimHostFree(B->Data);
        B->Data = New;
        B->Capacity = Capacity;
    }
    memcpy(B->Data + B->Length, Data, Length);
    B->Length += Length;
    return HOST_NET_OK;
}

static void MemBytesConsume(MEM_BYTES *B, size_t Length)
{
    if (Length >= B->Length) {
        B->Length = 0;
        return;
    }
    memmove(B->Data, B->Data + Length, B->Length - Length);
    B->Length -= Length;
}

static void MemBytesFree(MEM_BYTES *B)
{
    KsimHostFree(B->Data);
    B->Data = NULL;
    B->Length = B->Capacity = 0;
}

static size_t MemIovecTotal(const HOST_NET_IOVEC *Vector, int Count)
{
    size_t Total = 0;
    int i;
    for (i = 0; i < Count; i++)
        Total += Vector[i].Length;
    return Total;
}

/* Copies up to Length bytes from Source into the vector. */
static size_t MemScatter(const HOST_NET_IOVEC *Vector, int Count, const uint8_t *Source, size_t Length)
{
    size_t Done = 0;
    int i;
    for (i = 0; i < Count && Done < Length; i++) {
        size_t Take = Vector[i].Length < Length - Done ? Vector[i].Length : Length - Done;
        memcpy(Vector[i].Base, Source + Done, Take);
        Done += Take;
    }
    return Done;
}

/* ---- addresses ---- */

static int MemIsWildcard(const HOST_NET_ADDRESS *A)
{
    static const uint8_t Zero[16];
    return memcmp(A->Address, Zero, A->Family == HOST_NET_AF_INET ? 4 : 16) == 0;
}

static int MemIsLoopback(const HOST_NET_ADDRESS *A)
{
    static const uint8_t Six[16] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1 };
    if (A->Family == HOST_NET_AF_INET)
        return A->Address[0] == 127;
    return memcmp(A->Address, Six, 16) == 0;
}

static void MemLoopbackOf(int Family, HOST_NET_ADDRESS *A)
{
    memset(A, 0, sizeof(*A));
    A->Family = (uint16_t)Family;
    if (Family == HOST_NET_AF_INET)
        A->Address[0] = 127, A->Address[3] = 1;
    else
        A->Address[15] = 1;
}

static int MemSameAddress(const HOST_NET_ADDRESS *A, const HOST_NET_ADDRESS *B)
{
    return A->Family == B->Family && memcmp(A->Address, B->Address, A->Family == HOST_NET_AF_INET ? 4 : 16) == 0;
}

/* Does a socket bound to Bound receive what is sent to Target? */
static int MemAddressMatches(const HOST_NET_ADDRESS *Bound, const HOST_NET_ADDRESS *Target)
{
    return Bound->Family == Target->Family && Bound->Port == Target->Port &&
           (MemIsWildcard(Bound) || MemSameAddress(Bound, Target));
}

static int MemPortTaken(const MEM_SOCKET *Self, const HOST_NET_ADDRESS *Address, int ReuseAddress)
{
    uint32_t i;
    for (i = 0; i < MemTableSize; i++) {
        const MEM_SOCKET *O = MemTable[i];
        if (!O || O == Self || !O->ReservesPort || O->Type != Self->Type || O->Family != Address->Family ||
            O->Local.Port != Address->Port)
            continue;
        if (!MemIsWildcard(&O->Local) && !MemIsWildcard(Address) && !MemSameAddress(&O->Local, Address))
            continue;
        if (ReuseAddress && O->Options[HOST_NET_OPT_REUSEADDR] && O->State != MEM_LISTENING)
            continue;
        return 1;
    }
    return 0;
}

static int MemBindLocked(MEM_SOCKET *S, const HOST_NET_ADDRESS *Address)
{
    HOST_NET_ADDRESS Local = *Address;
    if (S->Bound)
        return HOST_NET_E_INVAL;
    if (Address->Family != S->Family)
        return HOST_NET_E_AFNOSUPPORT;
    if (!MemIsWildcard(Address) && !MemIsLoopback(Address))
        return HOST_NET_E_ADDRNOTAVAIL;
    if (Local.Port == 0) {
        unsigned Tries;
        for (Tries = 0; Tries < 65536 - HOST_NET_MEMORY_FIRST_EPHEMERAL; Tries++) {
            Local.Port = MemNextEphemeral;
            MemNextEphemeral = MemNextEphemeral == 65535 ? HOST_NET_MEMORY_FIRST_EPHEMERAL : MemNextEphemeral + 1;
            if (!MemPortTaken(S, &Local, 0))
                break;
        }
        if (Tries == 65536 - HOST_NET_MEMORY_FIRST_EPHEMERAL)
            return HOST_NET_E_ADDRINUSE;
    } else if (MemPortTaken(S, &Local, S->Options[HOST_NET_OPT_REUSEADDR])) {
        return HOST_NET_E_ADDRINUSE;
    }
    Local.FlowInfo = 0;
    Local.ScopeId = 0;
    S->Local = Local;
    S->Bound = 1;
    S->ReservesPort = 1;
    return HOST_NET_OK;
}

/* Bound to the wildcard: the address a peer sees is the loopback one. */
static void MemVisibleLocal(const MEM_SOCKET *S, HOST_NET_ADDRESS *A)
{
    *A = S->Local;
    if (MemIsWildcard(A)) {
        uint16_t Port = A->Port;
        MemLoopbackOf(S->Family, A);
        A->Port = Port;
    }
}

/* ---- stream plumbing ---- */

static void MemFree(MEM_SOCKET *S);

static void MemResetSocket(MEM_SOCKET *S)
{
    S->Reset = 1;
    S->PendingError = HOST_NET_E_CONNRESET;
    MemBytesFree(&S->Receive);
    MemBytesFree(&S->Send);
    S->Peer = NULL;
}

/* Moves what the peer's window takes from S's send buffer, then S's FIN after the data. */
static void MemPump(MEM_SOCKET *S)
{
    MEM_SOCKET *P = S->Peer;
    if (!P) {
        if (S->State == MEM_CONNECTED && S->Send.Length && !S->Reset) {
            /* Data for a peer that has gone: its stack answers with a reset. */
            MemResetSocket(S);
        }
        return;
    }
    if (S->Send.Length) {
        size_t Window = (size_t)P->Options[HOST_NET_OPT_RCVBUF];
        size_t Room = P->Receive.Length < Window ? Window - P->Receive.Length : 0;
        size_t Move = S->Send.Length < Room ? S->Send.Length : Room;
        if (P->State == MEM_ORPHAN) {
            /* Sent to a socket closed by its application: a reset comes back. */
            P->Peer = NULL;
            MemFree(P);
            MemResetSocket(S);
            return;
        }
        if (Move && MemBytesAppend(&P->Receive, S->Send.Data, Move) == HOST_NET_OK)
            MemBytesConsume(&S->Send, Move);
    }
    if (S->SendShut && !S->Send.Length && !S->FinDelivered) {
        S->FinDelivered = 1;
        P->PeerFin = 1;
    }
    if (S->State == MEM_ORPHAN && S->FinDelivered) {
        /* Drained: the closed side is gone for good. */
        P->Peer = NULL;
        S->Peer = NULL;
        MemFree(S);
    }
}

static void MemAbortConnection(MEM_SOCKET *S)
{
    MEM_SOCKET *P = S->Peer;
    if (P) {
        P->Peer = NULL;
        if (P->State == MEM_ORPHAN)
            MemFree(P);
        else
            MemResetSocket(P);
    }
    S->Peer = NULL;
}

static void MemPollUnlink(MEM_SOCKET *S)
{
    HOST_NET_MEM_POLLER *P = S->Poller;
    if (!P)
        return;
    if (S->PollPrev)
        S->PollPrev->PollNext = S->PollNext;
    else
        P->First = S->PollNext;
    if (S->PollNext)
        S->PollNext->PollPrev = S->PollPrev;
    else
        P->Last = S->PollPrev;
    P->Count--;
    S->Poller = NULL;
    S->PollNext = S->PollPrev = NULL;
}

static void MemFree(MEM_SOCKET *S)
{
    MEM_DATAGRAM *D;
    MemPollUnlink(S);
    MemBytesFree(&S->Receive);
    MemBytesFree(&S->Send);
    while ((D = S->Head) != NULL) {
        S->Head = D->Next;
        KsimHostFree(D);
    }
    KsimHostFree(S->Backlog);
    MemTable[S->Index] = NULL;
    MemLive--;
    KsimHostFree(S);
}

static void MemCloseLocked(MEM_SOCKET *S, int Abortive)
{
    MemOpen--;
    MemPollUnlink(S);
    if (S->State == MEM_LISTENING) {
        int i;
        /* Connections nobody accepted are reset. */
        for (i = 0; i < S->BacklogCount; i++) {
            MEM_SOCKET *C = S->Backlog[i];
            MemAbortConnection(C);
            MemOpen--; /* it had no handle of its own yet, but was counted at creation */
            MemFree(C);
        }
        S->BacklogCount = 0;
    }
    if (S->State == MEM_CONNECTED && S->Peer && S->Peer->State == MEM_ORPHAN) {
        /* Both sides closed: nothing left to deliver to anyone. */
        MemAbortConnection(S);
    } else if (S->State == MEM_CONNECTED && S->Peer) {
        /* Unread data makes a graceful close abortive (both stacks do this). */
        if (Abortive || S->Receive.Length) {
            MemAbortConnection(S);
        } else {
            S->SendShut = 1;
            S->State = MEM_ORPHAN;
            S->ReservesPort = 0;
            MemPump(S); /* may free S */
            return;
        }
    }
    /* Connected but the application never took the connect's result, for one: the peer is
     * reset, never left pointing here. */
    if (S->Peer)
        MemAbortConnection(S);
    MemFree(S);
}

/* ---- the API ---- */

int HostNetMemSocket(int Family, int Type, HOST_NET_SOCKET *Socket)
{
    MEM_SOCKET *S;
    *Socket = HOST_NET_INVALID_SOCKET;
    if (Family != HOST_NET_AF_INET && Family != HOST_NET_AF_INET6)
        return HOST_NET_E_AFNOSUPPORT;
    if (Type != HOST_NET_STREAM && Type != HOST_NET_DGRAM)
        return HOST_NET_E_PROTONOSUPPORT;
    MemEnter();
    S = MemCreate(Family, Type);
    if (S)
        *Socket = MemHandle(S);
    MemLeave();
    return S ? HOST_NET_OK : HOST_NET_E_NOMEM;
}

static void MemCloseCommon(HOST_NET_SOCKET Socket, int Abortive)
{
    MEM_SOCKET *S;
    MemEnter();
    S = MemLookup(Socket);
    if (S && S->State != MEM_ORPHAN) {
        MemCloseLocked(S, Abortive);
        MemChanged();
    }
    MemLeave();
}

void HostNetMemClose(HOST_NET_SOCKET Socket)
{
    MemCloseCommon(Socket, 0);
}

void HostNetMemCloseAbortive(HOST_NET_SOCKET Socket)
{
    MemCloseCommon(Socket, 1);
}

#define MEM_BEGIN(Socket)                                 \
    MEM_SOCKET *S;                                        \
    int Result = HOST_NET_OK;                             \
    MemEnter();                                           \
    S = MemLookup(Socket);                                \
    if (!S || S->State == MEM_ORPHAN) {                   \
        MemLeave();                                       \
        return HOST_NET_E_INVAL;                          \
    }

#define MEM_END()   \
    MemChanged();   \
    MemLeave();     \
    return Result;

int HostNetMemBind(HOST_NET_SOCKET Socket, const HOST_NET_ADDRESS *Address)
{
    MEM_BEGIN(Socket)
    Result = MemBindLocked(S, Address);
    MEM_END()
}

int HostNetMemListen(HOST_NET_SOCKET Socket, int Backlog)
{
    MEM_BEGIN(Socket)
    if (S->Type != HOST_NET_STREAM)
        Result = HOST_NET_E_NOPROTOOPT;
    else if (S->State != MEM_NEW && S->State != MEM_LISTENING)
        Result = HOST_NET_E_INVAL;
    else if (!S->Bound && (Result = MemBindLocked(S, &(HOST_NET_ADDRESS){ .Family = (uint16_t)S->Family })) != 0)
        ;
    else if (S->State == MEM_NEW) {
        if (Backlog < 1)
            Backlog = 1;
        if (Backlog > 200)
            Backlog = 200; /* Windows' SOMAXCONN */
        S->Backlog = KsimHostAllocZero((size_t)Backlog * sizeof(*S->Backlog));
        if (!S->Backlog)
            Result = HOST_NET_E_NOMEM;
        else {
            S->BacklogMax = Backlog;
            S->State = MEM_LISTENING;
        }
    }
    MEM_END()
}

int HostNetMemAccept(HOST_NET_SOCKET Socket, HOST_NET_SOCKET *NewSocket, HOST_NET_ADDRESS *Remote)
{
    MEM_BEGIN(Socket)
    *NewSocket = HOST_NET_INVALID_SOCKET;
    if (S->State != MEM_LISTENING)
        Result = HOST_NET_E_INVAL;
    else if (!S->BacklogCount)
        Result = HOST_NET_E_WOULDBLOCK;
    else {
        MEM_SOCKET *C = S->Backlog[0];
        memmove(S->Backlog, S->Backlog + 1, (size_t)(S->BacklogCount - 1) * sizeof(*S->Backlog));
        S->BacklogCount--;
        C->Listener = NULL;
        *NewSocket = MemHandle(C);
        if (Remote)
            *Remote = C->Remote;
    }
    MEM_END()
}

static MEM_SOCKET *MemFindBound(int Type, const HOST_NET_ADDRESS *Target, int State)
{
    uint32_t i;
    MEM_SOCKET *Wildcard = NULL;
    for (i = 0; i < MemTableSize; i++) {
        MEM_SOCKET *O = MemTable[i];
        if (!O || O->Type != Type || !O->ReservesPort || (State >= 0 && O->State != State) ||
            !MemAddressMatches(&O->Local, Target))
            continue;
        if (!MemIsWildcard(&O->Local))
            return O; /* the specific address wins over the wildcard */
        if (!Wildcard)
            Wildcard = O;
    }
    return Wildcard;
}

int HostNetMemConnect(HOST_NET_SOCKET Socket, const HOST_NET_ADDRESS *Remote)
{
    MEM_BEGIN(Socket)
    if (Remote->Family != S->Family)
        Result = HOST_NET_E_AFNOSUPPORT;
    else if (S->Type == HOST_NET_DGRAM) {
        if (!S->Bound)
            Result = MemBindLocked(S, &(HOST_NET_ADDRESS){ .Family = (uint16_t)S->Family });
        if (Result == HOST_NET_OK) {
            S->Remote = *Remote;
            S->HasRemote = 1;
        }
    } else if (S->State == MEM_CONNECTED)
        Result = HOST_NET_E_ISCONN;
    else if (S->State != MEM_NEW)
        Result = S->State == MEM_CONNECTING ? HOST_NET_E_INPROGRESS : HOST_NET_E_INVAL;
    else if (Remote->Port == 0 || MemIsWildcard(Remote))
        Result = HOST_NET_E_ADDRNOTAVAIL;
    else if (!MemIsLoopback(Remote))
        Result = HOST_NET_E_NETUNREACH;
    else if (!S->Bound && (Result = MemBindLocked(S, &(HOST_NET_ADDRESS){ .Family = (uint16_t)S->Family })) != 0)
        ;
    else {
        MEM_SOCKET *L = MemFindBound(HOST_NET_STREAM, Remote, MEM_LISTENING);
        S->Remote = *Remote;
        S->HasRemote = 1;
        S->State = MEM_CONNECTING;
        S->ConnectResult = HOST_NET_E_CONNREFUSED;
        if (L && L->BacklogCount < L->BacklogMax) {
            MEM_SOCKET *C = MemCreate(S->Family, HOST_NET_STREAM);
            if (!C)
                S->ConnectResult = HOST_NET_E_NOMEM;
            else {
                C->Local = *Remote;
                C->Bound = 1;
                C->State = MEM_CONNECTED;
                MemVisibleLocal(S, &C->Remote);
                C->HasRemote = 1;
                C->Options[HOST_NET_OPT_RCVBUF] = L->Options[HOST_NET_OPT_RCVBUF];
                C->Options[HOST_NET_OPT_SNDBUF] = L->Options[HOST_NET_OPT_SNDBUF];
                C->Listener = L;
                C->Peer = S;
                S->Peer = C;
                L->Backlog[L->BacklogCount++] = C;
                S->ConnectResult = HOST_NET_OK;
                /* The local address a connected socket reports is the loopback one. */
                if (MemIsWildcard(&S->Local)) {
                    uint16_t Port = S->Local.Port;
                    MemLoopbackOf(S->Family, &S->Local);
                    S->Local.Port = Port;
                }
            }
        }
        if (S->ConnectResult != HOST_NET_OK)
            S->PendingError = S->ConnectResult;
        Result = HOST_NET_E_INPROGRESS;
    }
    MEM_END()
}

int HostNetMemConnectResult(HOST_NET_SOCKET Socket)
{
    MEM_BEGIN(Socket)
    if (S->State == MEM_CONNECTING) {
        Result = S->ConnectResult;
        /* Established, then reset before the application collected the connect (a server that
         * rejects at once): the reset is what the connect reports, once, as a host stack's
         * SO_ERROR does; the stream then reads as ended. */
        if (Result == HOST_NET_OK && S->Reset && S->PendingError)
            Result = S->PendingError;
        S->PendingError = 0;
        S->State = S->ConnectResult == HOST_NET_OK ? MEM_CONNECTED : MEM_NEW;
        if (S->ConnectResult != HOST_NET_OK) {
            /* A refused socket cannot connect again (Winsock requires a new one). */
            S->HasRemote = 0;
            S->Reset = 1;
        }
    } else if (S->State != MEM_CONNECTED) {
        Result = S->Reset ? HOST_NET_E_CONNREFUSED : HOST_NET_E_NOTCONN;
    }
    MEM_END()
}

int HostNetMemSend(HOST_NET_SOCKET Socket, const HOST_NET_IOVEC *Vector, int Count, int Flags, size_t *Sent)
{
    MEM_BEGIN(Socket)
    (void)Flags; /* urgent data travels inline (docs/ksim-fidelity.md) */
    *Sent = 0;
    if (Count < 0 || Count > HOST_NET_MAX_IOVEC)
        Result = HOST_NET_E_INVAL;
    else if (S->Type != HOST_NET_STREAM)
        Result = HOST_NET_E_INVAL;
    else if (S->Reset && S->State == MEM_CONNECTED) {
        Result = HOST_NET_E_CONNRESET;
    } else if (S->State != MEM_CONNECTED)
        Result = HOST_NET_E_NOTCONN;
    else if (S->SendShut)
        Result = HOST_NET_E_PIPE;
    else {
        size_t Limit = (size_t)S->Options[HOST_NET_OPT_SNDBUF];
        size_t Room = S->Send.Length < Limit ? Limit - S->Send.Length : 0;
        size_t Total = MemIovecTotal(Vector, Count);
        int i;
        if (!Room && Total)
            Result = HOST_NET_E_WOULDBLOCK;
        for (i = 0; i < Count && Room && Result == HOST_NET_OK; i++) {
            size_t Take = Vector[i].Length < Room ? Vector[i].Length : Room;
            Result = MemBytesAppend(&S->Send, Vector[i].Base, Take);
            if (Result == HOST_NET_OK) {
                *Sent += Take;
                Room -= Take;
            }
        }
        if (*Sent)
            Result = HOST_NET_OK;
        MemPump(S);
    }
    MEM_END()
}

int HostNetMemReceive(HOST_NET_SOCKET Socket, const HOST_NET_IOVEC *Vector, int Count, size_t *Received)
{
    MEM_BEGIN(Socket)
    *Received = 0;
    if (Count < 0 || Count > HOST_NET_MAX_IOVEC || S->Type != HOST_NET_STREAM)
        Result = HOST_NET_E_INVAL;
    else if (S->State != MEM_CONNECTED)
        Result = HOST_NET_E_NOTCONN;
    else if (S->Reset) {
        /* Reported once, then the stream reads as ended. */
        Result = S->PendingError ? S->PendingError : HOST_NET_OK;
        S->PendingError = 0;
    } else if (S->Receive.Length) {
        *Received = MemScatter(Vector, Count, S->Receive.Data, S->Receive.Length);
        MemBytesConsume(&S->Receive, *Received);
        if (S->Peer)
            MemPump(S->Peer); /* the window opened */
    } else if (!S->PeerFin)
        Result = HOST_NET_E_WOULDBLOCK;
    MEM_END()
}

int HostNetMemPeekClosed(HOST_NET_SOCKET Socket, int *Closed)
{
    MEM_BEGIN(Socket)
    *Closed = 0;
    if (S->State == MEM_CONNECTED && !S->Receive.Length) {
        if (S->Reset) {
            *Closed = 1;
            Result = S->PendingError ? S->PendingError : HOST_NET_E_CONNRESET;
        } else if (S->PeerFin)
            *Closed = 1;
    }
    MemLeave();
    return Result;
}

int HostNetMemSendTo(HOST_NET_SOCKET Socket, const HOST_NET_IOVEC *Vector, int Count, const HOST_NET_ADDRESS *Remote,
                     size_t *Sent)
{
    MEM_BEGIN(Socket)
    *Sent = 0;
    if (Count < 0 || Count > HOST_NET_MAX_IOVEC)
        Result = HOST_NET_E_INVAL;
    else if (S->Type != HOST_NET_DGRAM)
        Result = HOST_NET_E_INVAL;
    else if (!Remote && !S->HasRemote)
        Result = HOST_NET_E_NOTCONN;
    else if ((Remote ? Remote : &S->Remote)->Family != S->Family)
        Result = HOST_NET_E_AFNOSUPPORT;
    else {
        const HOST_NET_ADDRESS *To = Remote ? Remote : &S->Remote;
        size_t Total = MemIovecTotal(Vector, Count);
        size_t Max = S->Family == HOST_NET_AF_INET ? 65507 : 65527;
        if (Total > Max)
            Result = HOST_NET_E_MSGSIZE;
        else if (To->Port == 0)
            Result = HOST_NET_E_ADDRNOTAVAIL;
        else if (!MemIsLoopback(To))
            Result = MemIsWildcard(To) ? HOST_NET_E_ADDRNOTAVAIL : HOST_NET_E_NETUNREACH;
        else if (!S->Bound && (Result = MemBindLocked(S, &(HOST_NET_ADDRESS){ .Family = (uint16_t)S->Family })) != 0)
            ;
        else {
            MEM_SOCKET *T = MemFindBound(HOST_NET_DGRAM, To, -1);
            HOST_NET_ADDRESS From;
            MemVisibleLocal(S, &From);
            *Sent = Total;
            if (!T || (T->HasRemote && !(T->Remote.Port == From.Port && MemSameAddress(&T->Remote, &From)))) {
                MemDropped++; /* nobody holds the port (Windows would say so with ICMP, which UDP ignores) */
            } else if (T->QueuedBytes + Total > (size_t)T->Options[HOST_NET_OPT_RCVBUF] ||
                       T->QueuedCount >= HOST_NET_MEMORY_MAX_DATAGRAMS) {
                MemDropped++; /* the receiver's queue is full: dropped, as UDP does under pressure */
                T->Dropped++;
            } else {
                MEM_DATAGRAM *D = KsimHostAlloc(sizeof(*D) + (Total ? Total : 1));
                if (!D) {
                    MemDropped++;
                } else {
                    size_t Done = 0;
                    int i;
                    for (i = 0; i < Count; i++) {
                        memcpy(D->Data + Done, Vector[i].Base, Vector[i].Length);
                        Done += Vector[i].Length;
                    }
                    D->Next = NULL;
                    D->From = From;
                    D->Length = Total;
                    if (T->Tail)
                        T->Tail->Next = D;
                    else
                        T->Head = D;
                    T->Tail = D;
                    T->QueuedBytes += Total;
                    T->QueuedCount++;
                }
            }
        }
    }
    MEM_END()
}

int HostNetMemReceiveFrom(HOST_NET_SOCKET Socket, const HOST_NET_IOVEC *Vector, int Count, size_t *Received,
                          HOST_NET_ADDRESS *Remote, int *Truncated)
{
    MEM_BEGIN(Socket)
    *Received = 0;
    *Truncated = 0;
    if (Count < 0 || Count > HOST_NET_MAX_IOVEC || S->Type != HOST_NET_DGRAM)
        Result = HOST_NET_E_INVAL;
    else if (!S->Head)
        Result = HOST_NET_E_WOULDBLOCK;
    else {
        MEM_DATAGRAM *D = S->Head;
        S->Head = D->Next;
        if (!S->Head)
            S->Tail = NULL;
        S->QueuedBytes -= D->Length;
        S->QueuedCount--;
        *Received = MemScatter(Vector, Count, D->Data, D->Length);
        *Truncated = *Received < D->Length;
        if (Remote)
            *Remote = D->From;
        KsimHostFree(D);
    }
    MEM_END()
}

int HostNetMemBytesAvailable(HOST_NET_SOCKET Socket, size_t *Bytes)
{
    MEM_BEGIN(Socket)
    *Bytes = S->Type == HOST_NET_DGRAM ? (S->Head ? S->Head->Length : 0) : S->Receive.Length;
    MemLeave();
    return Result;
}

int HostNetMemReceiveDrops(HOST_NET_SOCKET Socket, uint64_t *Dropped)
{
    MEM_BEGIN(Socket)
    *Dropped = S->Dropped;
    MemLeave();
    return Result;
}

int HostNetMemSendQueued(HOST_NET_SOCKET Socket, size_t *Bytes)
{
    MEM_BEGIN(Socket)
    *Bytes = S->Send.Length;
    MemLeave();
    return Result;
}

int HostNetMemShutdownSend(HOST_NET_SOCKET Socket)
{
    MEM_BEGIN(Socket)
    if (S->Type != HOST_NET_STREAM || S->State != MEM_CONNECTED)
        Result = HOST_NET_E_NOTCONN;
    else if (!S->Reset) {
        S->SendShut = 1;
        MemPump(S);
    }
    MEM_END()
}

int HostNetMemGetLocalAddress(HOST_NET_SOCKET Socket, HOST_NET_ADDRESS *Address)
{
    MEM_BEGIN(Socket)
    if (!S->Bound)
        Result = HOST_NET_E_INVAL;
    else
        *Address = S->Local;
    MemLeave();
    return Result;
}

int HostNetMemGetRemoteAddress(HOST_NET_SOCKET Socket, HOST_NET_ADDRESS *Address)
{
    MEM_BEGIN(Socket)
    if (!S->HasRemote || (S->Type == HOST_NET_STREAM && S->State != MEM_CONNECTED))
        Result = HOST_NET_E_NOTCONN;
    else
        *Address = S->Remote;
    MemLeave();
    return Result;
}

int HostNetMemSetOption(HOST_NET_SOCKET Socket, int Option, int Value)
{
    MEM_BEGIN(Socket)
    switch (Option) {
    case HOST_NET_OPT_RCVBUF:
    case HOST_NET_OPT_SNDBUF:
        /* At least one byte: a zero window would stall the stream for ever. */
        S->Options[Option] = Value < 1 ? 1 : Value;
        if (S->Type == HOST_NET_STREAM) {
            MemPump(S);
            if (S->Peer)
                MemPump(S->Peer);
        }
        break;
    case HOST_NET_OPT_IPV6_V6ONLY:
        if (S->Family != HOST_NET_AF_INET6)
            Result = HOST_NET_E_NOPROTOOPT;
        else if (S->Bound)
            Result = HOST_NET_E_INVAL;
        else
            S->Options[Option] = Value != 0;
        break;
    case HOST_NET_OPT_REUSEADDR:
    case HOST_NET_OPT_KEEPALIVE:
    case HOST_NET_OPT_BROADCAST:
    case HOST_NET_OPT_OOBINLINE:
    case HOST_NET_OPT_TCP_NODELAY:
        S->Options[Option] = Value != 0;
        break;
    default:
        Result = HOST_NET_E_NOPROTOOPT;
        break;
    }
    MEM_END()
}

int HostNetMemGetOption(HOST_NET_SOCKET Socket, int Option, int *Value)
{
    MEM_BEGIN(Socket)
    *Value = 0;
    switch (Option) {
    case HOST_NET_OPT_ERROR:
        *Value = S->PendingError;
        if (S->Type == HOST_NET_DGRAM || S->State != MEM_CONNECTING)
            S->PendingError = 0;
        break;
    case HOST_NET_OPT_TYPE:
        *Value = S->Type;
        break;
    case HOST_NET_OPT_ACCEPTCONN:
        *Value = S->State == MEM_LISTENING;
        break;
    default:
        if (Option <= 0 || Option > HOST_NET_OPT_ACCEPTCONN)
            Result = HOST_NET_E_NOPROTOOPT;
        else
            *Value = S->Options[Option];
        break;
    }
    MemLeave();
    return Result;
}

static unsigned MemEvents(const MEM_SOCKET *S)
{
    unsigned E = 0;
    if (S->PendingError)
        E |= HOST_NET_POLL_ERROR;
    if (S->Type == HOST_NET_DGRAM)
        return E | HOST_NET_POLL_WRITE | (S->Head ? HOST_NET_POLL_READ : 0);
    switch (S->State) {
    case MEM_LISTENING:
        return E | (S->BacklogCount ? HOST_NET_POLL_READ : 0);
    case MEM_CONNECTING:
        return E | HOST_NET_POLL_WRITE | (S->ConnectResult != HOST_NET_OK ? HOST_NET_POLL_HUP : 0);
    case MEM_CONNECTED:
        if (S->Reset)
            return E | HOST_NET_POLL_READ | HOST_NET_POLL_WRITE | HOST_NET_POLL_RDHUP | HOST_NET_POLL_HUP;
        if (S->Receive.Length || S->PeerFin)
            E |= HOST_NET_POLL_READ;
        if (S->PeerFin)
            E |= HOST_NET_POLL_RDHUP;
        if (!S->SendShut && S->Send.Length < (size_t)S->Options[HOST_NET_OPT_SNDBUF])
            E |= HOST_NET_POLL_WRITE;
        if (S->PeerFin && S->FinDelivered)
            E |= HOST_NET_POLL_HUP;
        return E;
    default:
        /* A stream socket neither listening nor connected: epoll says hang-up. */
        return E | HOST_NET_POLL_WRITE | HOST_NET_POLL_HUP;
    }
}

int HostNetMemReadiness(HOST_NET_SOCKET Socket, unsigned *Events)
{
    MEM_BEGIN(Socket)
    *Events = MemEvents(S);
    MemLeave();
    return Result;
}

uint64_t HostNetMemOpenSockets(void)
{
    return __atomic_load_n(&MemOpen, __ATOMIC_RELAXED);
}

uint64_t HostNetMemDatagramsDropped(void)
{
    return __atomic_load_n(&MemDropped, __ATOMIC_RELAXED);
}

int HostNetMemReset(void)
{
    int Result = HOST_NET_OK;
    MemEnter();
    if (MemLive)
        Result = HOST_NET_E_INVAL;
    else {
        KsimHostFree(MemTable);
        KsimHostFree(MemGenerations);
        MemTable = NULL;
        MemGenerations = NULL;
        MemTableSize = 0;
        MemNextEphemeral = HOST_NET_MEMORY_FIRST_EPHEMERAL;
        MemDropped = 0;
    }
    MemLeave();
    return Result;
}

/* ---- pollers ---- */

int HostNetMemPollerCreate(HOST_NET_MEM_POLLER **Poller, void (*Wake)(void *), void *WakeContext)
{
    HOST_NET_MEM_POLLER *P;
    unsigned i;
    *Poller = NULL;
    P = KsimHostAllocZero(sizeof(*P));
    if (!P)
        return HOST_NET_E_NOMEM;
    P->Wake = Wake;
    P->WakeContext = WakeContext;
    MemEnter();
    for (i = 0; i < sizeof(MemPollers) / sizeof(MemPollers[0]) && MemPollers[i]; i++)
        ;
    if (i == sizeof(MemPollers) / sizeof(MemPollers[0])) {
        MemLeave();
        KsimHostFree(P);
        return HOST_NET_E_MFILE;
    }
    MemPollers[i] = P;
    MemLeave();
    *Poller = P;
    return HOST_NET_OK;
}

void HostNetMemPollerDestroy(HOST_NET_MEM_POLLER *Poller)
{
    unsigned i;
    if (!Poller)
        return;
    MemEnter();
    while (Poller->First)
        MemPollUnlink(Poller->First);
    for (i = 0; i < sizeof(MemPollers) / sizeof(MemPollers[0]); i++)
        if (MemPollers[i] == Poller)
            MemPollers[i] = NULL;
    MemLeave();
    KsimHostFree(Poller);
}

int HostNetMemPollerSet(HOST_NET_MEM_POLLER *Poller, HOST_NET_SOCKET Socket, unsigned Interest, void *Context)
{
    MEM_BEGIN(Socket)
    if (S->Poller != Poller) {
        MemPollUnlink(S);
        S->Poller = Poller;
        S->PollPrev = Poller->Last;
        if (Poller->Last)
            Poller->Last->PollNext = S;
        else
            Poller->First = S;
        Poller->Last = S;
        Poller->Count++;
    }
    S->Interest = Interest;
    S->Context = Context;
    MEM_END()
}

int HostNetMemPollerRemove(HOST_NET_MEM_POLLER *Poller, HOST_NET_SOCKET Socket)
{
    MEM_BEGIN(Socket)
    if (S->Poller == Poller)
        MemPollUnlink(S);
    MemLeave();
    return Result;
}

int HostNetMemPollerCollect(HOST_NET_MEM_POLLER *Poller, HOST_NET_POLL_EVENT *Events, int MaxEvents, uint64_t Rotate)
{
    MEM_SOCKET *S;
    int Out = 0;
    unsigned Skip, Seen;
    MemEnter();
    Skip = Poller->Count ? (unsigned)(Rotate % Poller->Count) : 0;
    /* Two passes over the list from the rotation point: [Skip, end) then [0, Skip). */
    for (Seen = 0, S = Poller->First; S && Out < MaxEvents; S = S->PollNext, Seen++) {
        unsigned E;
        if (Seen < Skip)
            continue;
        E = MemEvents(S) & (S->Interest | HOST_NET_POLL_ERROR | HOST_NET_POLL_HUP);
        if (E) {
            Events[Out].Context = S->Context;
            Events[Out].Events = E;
            Out++;
        }
    }
    for (Seen = 0, S = Poller->First; S && Seen < Skip && Out < MaxEvents; S = S->PollNext, Seen++) {
        unsigned E = MemEvents(S) & (S->Interest | HOST_NET_POLL_ERROR | HOST_NET_POLL_HUP);
        if (E) {
            Events[Out].Context = S->Context;
            Events[Out].Events = E;
            Out++;
        }
    }
    MemLeave();
    return Out;
}

/* SPDX-License-Identifier: MIT
 *
 * ksim WSK provider: the per-socket state machine run by the network thread. A step does the
 * host I/O a socket's queues and enabled events call for, finishes requests, and makes at most
 * one event callback, with the provider lock released and the thread at DISPATCH_LEVEL; the
 * socket is then stepped again. Rules followed here are those of docs/wsk-facts.md 3.4-3.10.
 */
#include "wsk_internal.h"

/* Steps run only inside network turns, never two at once (ksim_sched.h), so one scratch
 * buffer serves every datagram read. */
static UCHAR KsimWskScratch[KSIM_WSK_MAX_DATAGRAM];

static VOID KsimWskSampleHostDrops(_Inout_ KSIM_WSK_SOCKET *Socket);

/* ---- small helpers ---- */

VOID
KsimWskPollReport(_In_ PVOID Context, _In_ unsigned Events)
{
    KSIM_WSK_OBJECT *Object = (KSIM_WSK_OBJECT *)Context;
    if (Object->Type == KSIM_WSK_OBJECT_SOCKET) {
        KSIM_WSK_SOCKET *Socket = CONTAINING_RECORD(Object, KSIM_WSK_SOCKET, Object);
        Socket->PollEvents |= Events;
        if (Events & (HOST_NET_POLL_READ | HOST_NET_POLL_RDHUP | HOST_NET_POLL_HUP | HOST_NET_POLL_ERROR))
            Socket->MayRead = TRUE;
        KsimWskMarkDirty(Socket);
    } else {
        KSIM_WSK_INCOMING *In = CONTAINING_RECORD(Object, KSIM_WSK_INCOMING, Object);
        In->PollEvents |= Events;
        KsimWskMarkDirty(In->Listener);
    }
}

SIZE_T
KsimWskIdealBacklog(_In_ KSIM_WSK_SOCKET *Socket)
{
    /* The estimate: the host socket's current send buffer size. It is what the host's TCP
     * will accept unacknowledged, so keeping that much outstanding keeps the pipe full, and it
     * changes when the host autotunes the buffer (docs/ksim-fidelity.md). */
    int Value = 0;
    if (Socket->Host == HOST_NET_INVALID_SOCKET ||
        KsimNetGetOption(Socket->Host, HOST_NET_OPT_SNDBUF, &Value) != HOST_NET_OK || Value <= 0)
        return 0;
    return (SIZE_T)Value;
}

SIZE_T
KsimWskReceiveBacklog(_In_ KSIM_WSK_SOCKET *Socket)
{
    SIZE_T Bytes = 0, Available = 0;
    PLIST_ENTRY Entry;
    if (Socket->Held)
        Bytes += Socket->Held->Length - Socket->HeldOffset;
    for (Entry = Socket->HeldDatagrams.Flink; Entry != &Socket->HeldDatagrams; Entry = Entry->Flink)
        Bytes += CONTAINING_RECORD(Entry, KSIM_WSK_BLOCK, Link)->Length;
    if (Socket->Host != HOST_NET_INVALID_SOCKET && KsimNetBytesAvailable(Socket->Host, &Available) == HOST_NET_OK)
        Bytes += Available;
    return Bytes;
}

/* The callback is made with the lock released but the thread still at DISPATCH_LEVEL. */
static VOID
KsimWskCallbackEnter(_Inout_ KSIM_WSK_SOCKET *Socket, _In_ ULONG Bit)
{
    Socket->InProgress |= Bit;
    KeReleaseSpinLockFromDpcLevel(&KsimWskProvider.Lock);
}

static VOID
KsimWskCallbackLeave(_Inout_ KSIM_WSK_SOCKET *Socket, _In_ ULONG Bit, _In_z_ PCSTR Callback)
{
    PLIST_ENTRY Entry, Next;

    /* Back at DISPATCH_LEVEL with no spin lock held, or a verifier failure. */
    KsimCheckCallbackReturn(Callback, DISPATCH_LEVEL);
    KsimSwitchPoint(KsimSwitchCallbackReturn);
    KeAcquireSpinLockAtDpcLevel(&KsimWskProvider.Lock);
    Socket->InProgress &= ~Bit;
    /* Disables that waited for this callback complete now (wsk-facts 3.1). */
    for (Entry = Socket->DisableWaiters.Flink; Entry != &Socket->DisableWaiters; Entry = Next) {
        KSIM_WSK_REQUEST *Waiter = CONTAINING_RECORD(Entry, KSIM_WSK_REQUEST, Link);
        Next = Entry->Flink;
        if (!(Waiter->EventBit & Socket->InProgress))
            KsimWskRequestFinish(Waiter, STATUS_SUCCESS, 0);
    }
    KsimWskMarkDirty(Socket);
}

static CONST WSK_CLIENT_CONNECTION_DISPATCH *
KsimWskConnectionClient(_In_ KSIM_WSK_SOCKET *Socket)
{
    return (CONST WSK_CLIENT_CONNECTION_DISPATCH *)Socket->Dispatch;
}

static VOID
KsimWskPollerForget(_Inout_ KSIM_WSK_SOCKET *Socket)
{
    if (Socket->PollRegistered) {
        KsimNetPollerRemove(Socket->Host);
        Socket->PollRegistered = FALSE;
        Socket->PollInterest = 0;
    }
}

/* The connection is gone (reset, failure, or our own abortive disconnect). */
static VOID
KsimWskDie(_Inout_ KSIM_WSK_SOCKET *Socket, _In_ NTSTATUS Status, _In_ BOOLEAN Abortive, _In_ BOOLEAN Indicate)
{
    if (Socket->State & KSIM_WSK_S_DEAD)
        return;
    Socket->State |= KSIM_WSK_S_DEAD;
    Socket->DeadStatus = Status;
    if (!Indicate)
        Socket->State |= KSIM_WSK_S_DEAD_INDICATED;
    KsimWskPollerForget(Socket);
    if (Socket->Host != HOST_NET_INVALID_SOCKET) {
        if (Abortive)
            KsimNetCloseAbortive(Socket->Host);
        else
            KsimNetClose(Socket->Host);
        Socket->Host = HOST_NET_INVALID_SOCKET;
    }
    while (!IsListEmpty(&Socket->SendQueue))
        KsimWskRequestFinish(CONTAINING_RECORD(Socket->SendQueue.Flink, KSIM_WSK_REQUEST, Link), Status, 0);
    /* Pending receives finish in the receive path, after any data already held. */
}

static VOID
KsimWskUpdateInterest(_Inout_ KSIM_WSK_SOCKET *Socket)
{
    unsigned Interest = 0;
    BOOLEAN Register;

    if (Socket->Host == HOST_NET_INVALID_SOCKET || (Socket->State & (KSIM_WSK_S_DEAD | KSIM_WSK_S_HUP))) {
        KsimWskPollerForget(Socket);
        return;
    }
    /* A TCP socket that is neither listening nor connected reports a hang-up to epoll at
     * once, so only sockets with something to wait for are registered. */
    switch (Socket->Kind) {
    case WSK_FLAG_LISTEN_SOCKET:
        Register = (Socket->State & KSIM_WSK_S_LISTENING) && !(Socket->State & KSIM_WSK_S_LISTENER_DEAD);
        if (Register && !Socket->AcceptStalled &&
            (Socket->ConditionalAccept || !IsListEmpty(&Socket->AcceptQueue) || (Socket->Events & WSK_EVENT_ACCEPT)))
            Interest |= HOST_NET_POLL_READ;
        break;
    case WSK_FLAG_CONNECTION_SOCKET:
        Register = (Socket->State & (KSIM_WSK_S_CONNECTING | KSIM_WSK_S_CONNECTED)) != 0;
        if (Socket->State & KSIM_WSK_S_CONNECTING)
            Interest |= HOST_NET_POLL_WRITE;
        if (Socket->State & KSIM_WSK_S_CONNECTED) {
            BOOLEAN WantRead = !IsListEmpty(&Socket->ReceiveQueue) ||
                               ((Socket->Events & WSK_EVENT_RECEIVE) && !Socket->Suspended && !Socket->Held);
            if (!IsListEmpty(&Socket->SendQueue))
                Interest |= HOST_NET_POLL_WRITE;
            /* After the FIN the socket is readable for ever: reading stops there. */
            if (WantRead && !(Socket->State & KSIM_WSK_S_PEER_FIN))
                Interest |= HOST_NET_POLL_READ;
            if ((Socket->Events & WSK_EVENT_DISCONNECT) &&
                !(Socket->State & (KSIM_WSK_S_PEER_FIN_SEEN | KSIM_WSK_S_DISCONNECT_INDICATED)))
                Interest |= HOST_NET_POLL_RDHUP;
        }
        break;
    case WSK_FLAG_DATAGRAM_SOCKET:
        Register = (Socket->State & KSIM_WSK_S_BOUND) != 0;
        if (!IsListEmpty(&Socket->SendQueue))
            Interest |= HOST_NET_POLL_WRITE;
        if (!IsListEmpty(&Socket->ReceiveQueue) ||
            ((Socket->Events & WSK_EVENT_RECEIVE_FROM) && IsListEmpty(&Socket->HeldDatagrams)))
            Interest |= HOST_NET_POLL_READ;
        break;
    default:
        Register = FALSE;
        break;
    }
    if (!Register) {
        KsimWskPollerForget(Socket);
        return;
    }
    if (Socket->PollRegistered && Socket->PollInterest == Interest)
        return;
    if (KsimNetPollerSet(Socket->Host, Interest, &Socket->Object) == HOST_NET_OK) {
        Socket->PollRegistered = TRUE;
        Socket->PollInterest = Interest;
    }
}

/* ---- close ---- */

static VOID
KsimWskIncomingFree(_Inout_ KSIM_WSK_INCOMING *In, _In_ BOOLEAN Abortive)
{
    if (In->PollRegistered)
        KsimNetPollerRemove(In->Host);
    if (In->Host != HOST_NET_INVALID_SOCKET) {
        if (Abortive)
            KsimNetCloseAbortive(In->Host);
        else
            KsimNetClose(In->Host);
    }
    ExFreePoolWithTag(In, KSIM_WSK_TAG_INCOMING);
}

static VOID
KsimWskStepClose(_Inout_ KSIM_WSK_SOCKET *Socket)
{
    PLIST_ENTRY Queues[] = { &Socket->ConnectQueue, &Socket->AcceptQueue, &Socket->SendQueue, &Socket->ReceiveQueue };
    KSIM_WSK_REQUEST *Close = Socket->CloseRequest;
    ULONG Retained = 0, i;

    /* The close cancels and completes every pending IRP of the socket (wsk-facts 3.10). */
    for (i = 0; i < ARRAYSIZE(Queues); i++)
        while (!IsListEmpty(Queues[i]))
            KsimWskRequestFinish(CONTAINING_RECORD(Queues[i]->Flink, KSIM_WSK_REQUEST, Link), STATUS_CANCELLED, 0);
    while (!IsListEmpty(&Socket->DisableWaiters))
        KsimWskRequestFinish(CONTAINING_RECORD(Socket->DisableWaiters.Flink, KSIM_WSK_REQUEST, Link), STATUS_SUCCESS,
                             0);
    while (!IsListEmpty(&Socket->Incoming)) {
        KSIM_WSK_INCOMING *In = CONTAINING_RECORD(RemoveHeadList(&Socket->Incoming), KSIM_WSK_INCOMING, Link);
        KsimWskIncomingFree(In, TRUE);
    }
    if (Socket->Held) {
        KsimWskBlockFree(Socket->Held);
        Socket->Held = NULL;
    }
    while (!IsListEmpty(&Socket->HeldDatagrams))
        KsimWskBlockFree(CONTAINING_RECORD(RemoveHeadList(&Socket->HeldDatagrams), KSIM_WSK_BLOCK, Link));
    while (!IsListEmpty(&Socket->Retained)) {
        KsimWskBlockFreeChain(CONTAINING_RECORD(RemoveHeadList(&Socket->Retained), KSIM_WSK_BLOCK, Link));
        Retained++;
    }
    if (Retained)
        KsimVerifierFail("WskCloseSocket(%p) with %u retained indication list(s) not released by WskRelease",
                         (void *)KsimWskPublic(Socket), Retained);

    KsimWskPollerForget(Socket);
    KsimWskSampleHostDrops(Socket);
    if (Socket->Host != HOST_NET_INVALID_SOCKET) {
        /* A connection not disconnected both ways is disconnected abortively. */
        BOOLEAN Abortive = Socket->Kind == WSK_FLAG_CONNECTION_SOCKET && (Socket->State & KSIM_WSK_S_CONNECTED) &&
                           !((Socket->State & KSIM_WSK_S_SEND_SHUT) && (Socket->State & KSIM_WSK_S_PEER_FIN));
        if (Abortive)
            KsimNetCloseAbortive(Socket->Host);
        else
            KsimNetClose(Socket->Host);
        Socket->Host = HOST_NET_INVALID_SOCKET;
    }
    /* No callback runs now (only this thread makes them) and none will start again: the
     * close completes after the cancelled IRPs, and the socket is freed after that. */
    Socket->CloseRequest = NULL;
    Close->Status = STATUS_SUCCESS;
    Close->Information = 0;
    InsertTailList(&KsimWskProvider.Completions, &Close->Link);
}

/* ---- connection sockets ---- */

static VOID
KsimWskFinishReceive(_Inout_ KSIM_WSK_SOCKET *Socket, _Inout_ KSIM_WSK_REQUEST *Request, _In_ NTSTATUS Status)
{
    KsimWskRequestFinish(Request, Status, NT_SUCCESS(Status) ? Request->Done : 0);
    /* A completed WskReceive re-arms receive indications (the header's rule). */
    Socket->Suspended = FALSE;
}

/* Reads into the held block if nothing is held. Returns FALSE when no data could be had. */
static BOOLEAN
KsimWskFillHeld(_Inout_ KSIM_WSK_SOCKET *Socket)
{
    SIZE_T Available = 0, Got = 0;
    KSIM_WSK_BLOCK *Block;
    HOST_NET_IOVEC Vector;
    int Error, Closed = 0;

    if (Socket->Held)
        return TRUE;
    if (Socket->State & (KSIM_WSK_S_PEER_FIN | KSIM_WSK_S_DEAD) || Socket->Host == HOST_NET_INVALID_SOCKET)
        return FALSE;
    /* Found empty (no data, no end) since the poller last reported it readable: nothing to ask
     * the host. This keeps the steps that follow an indication (and a send's step) from costing
     * two system calls each that can only answer "nothing yet". Only an empty check clears it,
     * never a read that took all FIONREAD counted: an end that came with the data makes no new
     * report on the in-memory network, whose turns follow changes, not readiness. */
    if (!Socket->MayRead)
        return FALSE;
    Error = KsimNetBytesAvailable(Socket->Host, &Available);
    if (Error == HOST_NET_OK && Available == 0) {
        /* Nothing buffered: either nothing yet, the FIN, or an error. */
        Socket->MayRead = FALSE;
        Error = KsimNetPeekClosed(Socket->Host, &Closed);
        if (Closed) {
            if (Error == HOST_NET_OK)
                Socket->State |= KSIM_WSK_S_PEER_FIN;
            else
                KsimWskDie(Socket, KsimWskStatusFromHost(Error), FALSE, TRUE);
        }
        return FALSE;
    }
    if (Error != HOST_NET_OK)
        Available = 4096;
    if (Available > KSIM_WSK_MAX_INDICATION)
        Available = KSIM_WSK_MAX_INDICATION;
    Block = KsimWskBlockAllocate(Available);
    if (!Block)
        return FALSE; /* out of memory: the data waits in the host socket */
    Vector.Base = Block->Data;
    Vector.Length = Available;
    Error = KsimNetReceive(Socket->Host, &Vector, 1, &Got);
    if (Error != HOST_NET_OK || Got == 0) {
        KsimWskBlockFree(Block);
        if (Error == HOST_NET_OK)
            Socket->State |= KSIM_WSK_S_PEER_FIN;
        else if (Error != HOST_NET_E_WOULDBLOCK)
            KsimWskDie(Socket, KsimWskStatusFromHost(Error), FALSE, TRUE);
        return FALSE;
    }
    Block->Length = Got;
    Socket->Held = Block;
    Socket->HeldOffset = 0;
    return TRUE;
}

static VOID
KsimWskConsumeHeld(_Inout_ KSIM_WSK_SOCKET *Socket, _In_ SIZE_T Bytes)
{
    Socket->HeldOffset += Bytes;
    if (Socket->HeldOffset >= Socket->Held->Length) {
        KsimWskBlockFree(Socket->Held);
        Socket->Held = NULL;
        Socket->HeldOffset = 0;
    }
}

static VOID
KsimWskProcessReceives(_Inout_ KSIM_WSK_SOCKET *Socket)
{
    while (!IsListEmpty(&Socket->ReceiveQueue)) {
        KSIM_WSK_REQUEST *Request = CONTAINING_RECORD(Socket->ReceiveQueue.Flink, KSIM_WSK_REQUEST, Link);
        BOOLEAN WaitAll = (Request->Flags & WSK_FLAG_WAITALL) != 0;

        /* Out of cancellation while data is copied into it; cancelable again if it must wait
         * with nothing in it (a receive holding data completes with that data instead). */
        if (!KsimWskRequestClaim(Request))
            continue;
        if (Request->Flags & WSK_FLAG_DRAIN) {
            /* Discard everything until the peer's FIN (or the connection's death). */
            while (KsimWskFillHeld(Socket))
                KsimWskConsumeHeld(Socket, Socket->Held->Length - Socket->HeldOffset);
            if (Socket->State & KSIM_WSK_S_DEAD)
                KsimWskFinishReceive(Socket, Request, Socket->DeadStatus);
            else if (Socket->State & KSIM_WSK_S_PEER_FIN)
                KsimWskFinishReceive(Socket, Request, STATUS_SUCCESS);
            else {
                KsimWskRequestRearm(Request);
                return;
            }
            continue;
        }
        if (Request->Buffer.Length == 0) {
            /* Zero-length: completes as soon as data is available (or at the FIN), taking
             * none; its completion re-arms indications. */
            if (Socket->Held || KsimWskFillHeld(Socket) || (Socket->State & KSIM_WSK_S_PEER_FIN))
                KsimWskFinishReceive(Socket, Request, STATUS_SUCCESS);
            else if (Socket->State & KSIM_WSK_S_DEAD)
                KsimWskFinishReceive(Socket, Request, Socket->DeadStatus);
            else {
                KsimWskRequestRearm(Request);
                return;
            }
            continue;
        }
        while (Request->Done < Request->Buffer.Length) {
            SIZE_T Take;
            if (!Socket->Held) {
                /* Straight into the client's buffer when nothing is held. */
                HOST_NET_IOVEC Vector[HOST_NET_MAX_IOVEC];
                SIZE_T Got = 0;
                int Count, Error;
                if (Socket->State & (KSIM_WSK_S_PEER_FIN | KSIM_WSK_S_DEAD) || Socket->Host == HOST_NET_INVALID_SOCKET)
                    break;
                Count = KsimWskBufToIovec(&Request->Buffer, Request->Done, Request->Buffer.Length, Vector);
                Error = KsimNetReceive(Socket->Host, Vector, Count, &Got);
                if (Error == HOST_NET_E_WOULDBLOCK)
                    break;
                if (Error != HOST_NET_OK) {
                    KsimWskDie(Socket, KsimWskStatusFromHost(Error), FALSE, TRUE);
                    break;
                }
                if (Got == 0) {
                    Socket->State |= KSIM_WSK_S_PEER_FIN;
                    break;
                }
                Request->Done += Got;
                if (!WaitAll)
                    break;
                continue;
            }
            Take = Socket->Held->Length - Socket->HeldOffset;
            if (Take > Request->Buffer.Length - Request->Done)
                Take = Request->Buffer.Length - Request->Done;
            KsimWskBufCopyIn(&Request->Buffer, Request->Done, Socket->Held->Data + Socket->HeldOffset, Take);
            Request->Done += Take;
            KsimWskConsumeHeld(Socket, Take);
            if (!WaitAll)
                break;
        }
        if (Request->Done == Request->Buffer.Length || (Request->Done && !WaitAll) ||
            (Socket->State & KSIM_WSK_S_PEER_FIN))
            KsimWskFinishReceive(Socket, Request, STATUS_SUCCESS);
        else if (Socket->State & KSIM_WSK_S_DEAD)
            KsimWskFinishReceive(Socket, Request, Request->Done ? STATUS_SUCCESS : Socket->DeadStatus);
        else {
            if (!Request->Done)
                KsimWskRequestRearm(Request);
            return;
        }
    }
}

static VOID
KsimWskProcessSends(_Inout_ KSIM_WSK_SOCKET *Socket)
{
    BOOLEAN Completed = FALSE;

    /* After a reset or our abortive disconnect every send fails with that status. */
    if (Socket->State & KSIM_WSK_S_DEAD) {
        while (!IsListEmpty(&Socket->SendQueue))
            KsimWskRequestFinish(CONTAINING_RECORD(Socket->SendQueue.Flink, KSIM_WSK_REQUEST, Link),
                                 Socket->DeadStatus, 0);
        return;
    }
    while (!IsListEmpty(&Socket->SendQueue)) {
        KSIM_WSK_REQUEST *Request = CONTAINING_RECORD(Socket->SendQueue.Flink, KSIM_WSK_REQUEST, Link);
        SIZE_T Length = Request->HasBuffer ? Request->Buffer.Length : 0;

        /* A send partly on the wire is no longer cancelable: it completes. */
        if (!KsimWskRequestClaim(Request))
            continue;
        while (Request->Done < Length) {
            HOST_NET_IOVEC Vector[HOST_NET_MAX_IOVEC];
            SIZE_T Sent = 0;
            int Count = KsimWskBufToIovec(&Request->Buffer, Request->Done, Length, Vector);
            int Error = KsimNetSend(Socket->Host, Vector, Count,
                                    (Request->Type == KsimWskRequestSend && (Request->Flags & WSK_FLAG_OOB))
                                        ? HOST_NET_MSG_OOB
                                        : 0,
                                    &Sent);
            if (Error == HOST_NET_E_WOULDBLOCK)
                break;
            if (Error != HOST_NET_OK) {
                KsimWskDie(Socket, KsimWskStatusFromHost(Error), FALSE, TRUE);
                return;
            }
            Request->Done += Sent;
        }
        if (Request->Done < Length) {
            if (!Request->Done)
                KsimWskRequestRearm(Request);
            break; /* the host's send buffer is full: wait for writable */
        }
        if (Request->Type == KsimWskRequestDisconnect) {
            /* Graceful: the FIN follows the final data. */
            NTSTATUS Status = KsimWskStatusFromHost(KsimNetShutdownSend(Socket->Host));
            Socket->State |= KSIM_WSK_S_SEND_SHUT;
            KsimWskRequestFinish(Request, Status, NT_SUCCESS(Status) ? Request->Done : 0);
        } else {
            KsimWskRequestFinish(Request, STATUS_SUCCESS, Length);
        }
        Completed = TRUE;
    }
    if (Completed && (Socket->Events & WSK_EVENT_SEND_BACKLOG) && KsimWskIdealBacklog(Socket) != Socket->IdealBacklog)
        Socket->BacklogIndicate = TRUE;
}

static VOID
KsimWskStepConnection(_Inout_ KSIM_WSK_SOCKET *Socket, _In_ unsigned Events)
{
    CONST WSK_CLIENT_CONNECTION_DISPATCH *Client = KsimWskConnectionClient(Socket);

    /* Abortive disconnects and the connect itself. */
    while (!IsListEmpty(&Socket->ConnectQueue)) {
        KSIM_WSK_REQUEST *Request = CONTAINING_RECORD(Socket->ConnectQueue.Flink, KSIM_WSK_REQUEST, Link);
        int Error;
        if (Request->Type == KsimWskRequestDisconnect) {
            /* Our own reset: no disconnect indication for it, pending I/O fails. */
            KsimWskDie(Socket, STATUS_CONNECTION_ABORTED, TRUE, FALSE);
            KsimWskRequestFinish(Request, STATUS_SUCCESS, 0);
            continue;
        }
        if (!(Events & (HOST_NET_POLL_WRITE | HOST_NET_POLL_ERROR | HOST_NET_POLL_HUP)))
            break;
        if (!KsimWskRequestClaim(Request))
            continue;
        Error = KsimNetConnectResult(Socket->Host);
        if (Error == HOST_NET_E_INPROGRESS || Error == HOST_NET_E_WOULDBLOCK) {
            KsimWskRequestRearm(Request);
            break;
        }
        Socket->State &= ~KSIM_WSK_S_CONNECTING;
        if (Error == HOST_NET_OK) {
            Socket->State |= KSIM_WSK_S_CONNECTED;
            Socket->IdealBacklog = KsimWskIdealBacklog(Socket);
            Socket->BacklogIndicate = (Socket->Events & WSK_EVENT_SEND_BACKLOG) != 0;
            /* WskSocketConnect returns the new socket in Information. */
            KsimWskRequestFinish(Request, STATUS_SUCCESS, Socket->Implicit ? (ULONG_PTR)KsimWskPublic(Socket) : 0);
            Socket->Implicit = FALSE;
        } else {
            Socket->State |= KSIM_WSK_S_CONNECT_FAILED;
            KsimWskRequestFinish(Request, KsimWskStatusFromHost(Error), 0);
            if (Socket->Implicit) {
                KsimWskSocketDiscard(Socket);
                return;
            }
        }
        Events &= ~(HOST_NET_POLL_ERROR | HOST_NET_POLL_HUP);
    }
    /* The connect IRP was cancelled: the attempt is abandoned (reset if it got through). */
    if ((Socket->State & KSIM_WSK_S_CONNECTING) && IsListEmpty(&Socket->ConnectQueue)) {
        Socket->State &= ~KSIM_WSK_S_CONNECTING;
        Socket->State |= KSIM_WSK_S_CONNECT_FAILED;
        KsimWskDie(Socket, STATUS_CANCELLED, TRUE, FALSE);
        if (Socket->Implicit) {
            KsimWskSocketDiscard(Socket);
            return;
        }
    }
    if (!(Socket->State & KSIM_WSK_S_CONNECTED))
        return;

    if (!(Socket->State & KSIM_WSK_S_DEAD)) {
        if (Events & HOST_NET_POLL_ERROR) {
            int Error = HOST_NET_OK;
            if (KsimNetGetOption(Socket->Host, HOST_NET_OPT_ERROR, &Error) == HOST_NET_OK && Error != HOST_NET_OK)
                KsimWskDie(Socket, KsimWskStatusFromHost(Error), FALSE, TRUE);
        }
        if (Events & (HOST_NET_POLL_RDHUP | HOST_NET_POLL_HUP))
            Socket->State |= KSIM_WSK_S_PEER_FIN_SEEN;
        if (Events & HOST_NET_POLL_HUP)
            Socket->State |= KSIM_WSK_S_HUP; /* everything left is already in the host buffer */
    }

    KsimWskProcessSends(Socket);
    KsimWskProcessReceives(Socket);

    /* Receive indications: only when no WskReceive is queued (a queued IRP wins). */
    if (IsListEmpty(&Socket->ReceiveQueue) && (Socket->Events & WSK_EVENT_RECEIVE) && !Socket->Suspended &&
        Client && Client->WskReceiveEvent && KsimWskFillHeld(Socket)) {
        KSIM_WSK_BLOCK *Block = Socket->Held;
        SIZE_T Indicated = Block->Length - Socket->HeldOffset, Accepted = Indicated;
        NTSTATUS Status;

        Block->Indication.Data.Next = NULL;
        Block->Indication.Data.Buffer.Mdl = Block->Mdl;
        Block->Indication.Data.Buffer.Offset = (ULONG)Socket->HeldOffset;
        Block->Indication.Data.Buffer.Length = Indicated;
        KsimWskCallbackEnter(Socket, WSK_EVENT_RECEIVE);
        Status = Client->WskReceiveEvent(Socket->Context, WSK_FLAG_AT_DISPATCH_LEVEL, &Block->Indication.Data,
                                         Indicated, &Accepted);
        KsimWskCallbackLeave(Socket, WSK_EVENT_RECEIVE, "WskReceiveEvent");
        if (Status == STATUS_SUCCESS) {
            if (Accepted > Indicated) {
                KsimVerifierFail("WskReceiveEvent accepted %llu of %llu bytes", (unsigned long long)Accepted, (unsigned long long)Indicated);
                Accepted = Indicated;
            }
            KsimWskConsumeHeld(Socket, Accepted);
            /* Partial acceptance stops indications until a WskReceive completes. */
            if (Accepted < Indicated)
                Socket->Suspended = TRUE;
        } else if (Status == STATUS_DATA_NOT_ACCEPTED) {
            /* The data stays held, and nothing more is read from the host, so the peer meets
             * TCP flow control until a WskReceive is posted and completed. */
            Socket->Suspended = TRUE;
        } else if (Status == STATUS_PENDING) {
            /* The client keeps the chain until WskRelease. */
            Socket->Held = NULL;
            Socket->HeldOffset = 0;
            InsertTailList(&Socket->Retained, &Block->Link);
        } else {
            KsimVerifierFail("WskReceiveEvent returned 0x%08x (SUCCESS, DATA_NOT_ACCEPTED or PENDING expected)",
                             (unsigned)Status);
            KsimWskConsumeHeld(Socket, Indicated);
        }
        return;
    }

    /* The connection's end. An abortive one is indicated once, as WskDisconnectEvent with
     * WSK_FLAG_ABORTIVE, or, without that event, as a NULL receive indication. */
    if ((Socket->State & KSIM_WSK_S_DEAD) && !(Socket->State & KSIM_WSK_S_DEAD_INDICATED)) {
        Socket->State |= KSIM_WSK_S_DEAD_INDICATED;
        if ((Socket->Events & WSK_EVENT_DISCONNECT) && Client && Client->WskDisconnectEvent) {
            KsimWskCallbackEnter(Socket, WSK_EVENT_DISCONNECT);
            (VOID) Client->WskDisconnectEvent(Socket->Context, WSK_FLAG_ABORTIVE | WSK_FLAG_AT_DISPATCH_LEVEL);
            KsimWskCallbackLeave(Socket, WSK_EVENT_DISCONNECT, "WskDisconnectEvent");
            return;
        }
        if ((Socket->Events & WSK_EVENT_RECEIVE) && Client && Client->WskReceiveEvent) {
            SIZE_T Accepted = 0;
            NTSTATUS Ignored;
            KsimWskCallbackEnter(Socket, WSK_EVENT_RECEIVE);
            Ignored = Client->WskReceiveEvent(Socket->Context, WSK_FLAG_AT_DISPATCH_LEVEL, NULL, 0, &Accepted);
            (VOID) Ignored;
            KsimWskCallbackLeave(Socket, WSK_EVENT_RECEIVE, "WskReceiveEvent");
            return;
        }
    }
    /* A graceful one: in stream order (after the data before the FIN) when receive
     * indications are on; as soon as the FIN arrives when nobody is reading. */
    if (!(Socket->State & (KSIM_WSK_S_DEAD | KSIM_WSK_S_DISCONNECT_INDICATED)) &&
        (Socket->Events & WSK_EVENT_DISCONNECT) && Client && Client->WskDisconnectEvent &&
        ((Socket->State & KSIM_WSK_S_PEER_FIN) ||
         ((Socket->State & KSIM_WSK_S_PEER_FIN_SEEN) && !(Socket->Events & WSK_EVENT_RECEIVE)))) {
        Socket->State |= KSIM_WSK_S_DISCONNECT_INDICATED;
        KsimWskCallbackEnter(Socket, WSK_EVENT_DISCONNECT);
        (VOID) Client->WskDisconnectEvent(Socket->Context, WSK_FLAG_AT_DISPATCH_LEVEL);
        KsimWskCallbackLeave(Socket, WSK_EVENT_DISCONNECT, "WskDisconnectEvent");
        return;
    }

    if (Socket->BacklogIndicate && !(Socket->State & KSIM_WSK_S_DEAD) && (Socket->Events & WSK_EVENT_SEND_BACKLOG) &&
        Client && Client->WskSendBacklogEvent) {
        SIZE_T Ideal = KsimWskIdealBacklog(Socket);
        Socket->BacklogIndicate = FALSE;
        Socket->IdealBacklog = Ideal;
        KsimWskCallbackEnter(Socket, WSK_EVENT_SEND_BACKLOG);
        (VOID) Client->WskSendBacklogEvent(Socket->Context, Ideal);
        KsimWskCallbackLeave(Socket, WSK_EVENT_SEND_BACKLOG, "WskSendBacklogEvent");
        return;
    }
}

/* ---- listening sockets ---- */

/* A new connected socket for an accepted host connection (lock held). */
static KSIM_WSK_SOCKET *
KsimWskAcceptedSocket(_In_ KSIM_WSK_SOCKET *Listener, _In_ HOST_NET_SOCKET Host)
{
    KSIM_WSK_SOCKET *Socket = KsimWskSocketAllocate(Listener->Client, WSK_FLAG_CONNECTION_SOCKET, Listener->Family,
                                                    SOCK_STREAM, IPPROTO_TCP, NULL, NULL);
    if (!Socket)
        return NULL;
    Socket->Host = Host;
    Socket->State = KSIM_WSK_S_BOUND | KSIM_WSK_S_CONNECTED;
    Socket->IdealBacklog = KsimWskIdealBacklog(Socket);
    return Socket;
}

/* Lock held: frees a socket object that never reached the client (refused or failed). */
VOID
KsimWskSocketDiscard(_Inout_ KSIM_WSK_SOCKET *Socket)
{
    KsimWskPollerForget(Socket);
    if (Socket->Host != HOST_NET_INVALID_SOCKET) {
        KsimNetCloseAbortive(Socket->Host);
        Socket->Host = HOST_NET_INVALID_SOCKET;
    }
    if (Socket->Held) {
        KsimWskBlockFree(Socket->Held);
        Socket->Held = NULL;
    }
    /* KsimWskSocketFree takes the lock; the caller's step holds it, so mark the object for
     * the completion drain instead: its close request completes nothing (Irp NULL). */
    Socket->State |= KSIM_WSK_S_CLOSING;
    Socket->Magic = KSIM_WSK_DEAD_MAGIC;
    InsertTailList(&KsimWskProvider.Completions, &Socket->CloseRequest->Link);
    Socket->CloseRequest = NULL;
}

/* The host could not accept for want of descriptors or memory: stop polling the listener
 * (the pending connection would report readable for ever) until a socket is freed. */
static VOID
KsimWskListenerStall(_Inout_ KSIM_WSK_SOCKET *Listener)
{
    if (!Listener->AcceptStalled) {
        Listener->AcceptStalled = TRUE;
        KsimWskProvider.StalledListeners++;
    }
}

static VOID
KsimWskListenerDies(_Inout_ KSIM_WSK_SOCKET *Listener, _In_ NTSTATUS Status)
{
    Listener->State |= KSIM_WSK_S_LISTENER_DEAD;
    Listener->DeadStatus = Status;
    while (!IsListEmpty(&Listener->AcceptQueue))
        KsimWskRequestFinish(CONTAINING_RECORD(Listener->AcceptQueue.Flink, KSIM_WSK_REQUEST, Link), Status, 0);
}

static VOID
KsimWskStepListen(_Inout_ KSIM_WSK_SOCKET *Listener)
{
    CONST WSK_CLIENT_LISTEN_DISPATCH *Client = (CONST WSK_CLIENT_LISTEN_DISPATCH *)Listener->Dispatch;
    PLIST_ENTRY Entry, Next;
    KSIM_WSK_INCOMING *Ready = NULL;

    if (!(Listener->State & KSIM_WSK_S_LISTENING))
        return;

    /* Held connections: disposals, and peers that gave up while the client decided. */
    for (Entry = Listener->Incoming.Flink; Entry != &Listener->Incoming; Entry = Next) {
        KSIM_WSK_INCOMING *In = CONTAINING_RECORD(Entry, KSIM_WSK_INCOMING, Link);
        int Closed = 0;
        Next = Entry->Flink;
        if (In->State == KSIM_WSK_IN_REJECTED || In->State == KSIM_WSK_IN_DISPOSE) {
            RemoveEntryList(&In->Link);
            KsimWskIncomingFree(In, TRUE); /* a rejected peer gets a reset */
            continue;
        }
        if ((In->State == KSIM_WSK_IN_PENDED || In->State == KSIM_WSK_IN_READY) && In->PollEvents) {
            In->PollEvents = 0;
            (VOID) KsimNetPeekClosed(In->Host, &Closed);
            if (!Closed)
                continue;
            if (In->PollRegistered) {
                KsimNetPollerRemove(In->Host);
                In->PollRegistered = FALSE;
            }
            KsimNetClose(In->Host);
            In->Host = HOST_NET_INVALID_SOCKET;
            In->State = KSIM_WSK_IN_ABORTED;
            /* Remember a bounded number of aborted ids for a late WskInspectComplete. */
            if (++Listener->AbortedCount > KSIM_WSK_ABORTED_REMEMBERED) {
                PLIST_ENTRY Old;
                for (Old = Listener->Incoming.Flink; Old != &Listener->Incoming; Old = Old->Flink) {
                    KSIM_WSK_INCOMING *Oldest = CONTAINING_RECORD(Old, KSIM_WSK_INCOMING, Link);
                    if (Oldest->State == KSIM_WSK_IN_ABORTED && Oldest != In) {
                        Oldest->State = KSIM_WSK_IN_DISPOSE;
                        Listener->AbortedCount--;
                        break;
                    }
                }
            }
            if (Client && Client->WskAbortEvent) {
                WSK_INSPECT_ID Id = In->Id; /* the client is told the contents, not our memory */
                KsimWskCallbackEnter(Listener, KSIM_WSK_INPROGRESS_ABORT);
                (VOID) Client->WskAbortEvent(Listener->Context, &Id);
                KsimWskCallbackLeave(Listener, KSIM_WSK_INPROGRESS_ABORT, "WskAbortEvent");
                return;
            }
        }
    }
    if (Listener->State & KSIM_WSK_S_LISTENER_DEAD)
        return;

    /* Conditional accept: every host connection is inspected before anything else. */
    if (Listener->ConditionalAccept) {
        HOST_NET_SOCKET Host;
        HOST_NET_ADDRESS Remote;
        int Error = KsimNetAccept(Listener->Host, &Host, &Remote);
        if (Error == HOST_NET_OK) {
            KSIM_WSK_INCOMING *In =
                (KSIM_WSK_INCOMING *)ExAllocatePool2(POOL_FLAG_NON_PAGED, sizeof(*In), KSIM_WSK_TAG_INCOMING);
            SOCKADDR_STORAGE LocalAddress, RemoteAddress;
            WSK_INSPECT_ACTION Action = WskInspectAccept;
            WSK_INSPECT_ID Id;
            if (!In) {
                KsimNetCloseAbortive(Host); /* no memory for the request: the peer is refused */
                KsimWskMarkDirty(Listener);
                return;
            }
            In->Object.Type = KSIM_WSK_OBJECT_INCOMING;
            In->Listener = Listener;
            In->Host = Host;
            In->Remote = Remote;
            (VOID) KsimNetGetLocalAddress(Host, &In->Local);
            /* The request's own address, as a provider may use: a kernel address that must
             * never reach user mode (the driver's tests look for it in every record). */
            In->Id.Key = (ULONG_PTR)In;
            In->Id.SerialNumber = ++Listener->NextSerial;
            In->State = KSIM_WSK_IN_NEW;
            InsertTailList(&Listener->Incoming, &In->Link);
            KsimWskAddressFromHost(&In->Local, (PSOCKADDR)&LocalAddress);
            KsimWskAddressFromHost(&In->Remote, (PSOCKADDR)&RemoteAddress);
            Id = In->Id;
            if (Client && Client->WskInspectEvent) {
                KsimWskCallbackEnter(Listener, KSIM_WSK_INPROGRESS_INSPECT);
                Action = Client->WskInspectEvent(Listener->Context, (PSOCKADDR)&LocalAddress, (PSOCKADDR)&RemoteAddress,
                                                 &Id);
                KsimWskCallbackLeave(Listener, KSIM_WSK_INPROGRESS_INSPECT, "WskInspectEvent");
            } else {
                KsimVerifierFail("conditional-accept listener %p has no WskInspectEvent; accepting",
                                 (void *)KsimWskPublic(Listener));
            }
            if (In->State != KSIM_WSK_IN_NEW)
                return; /* the listener closed meanwhile and took it */
            switch (Action) {
            case WskInspectAccept:
                In->State = KSIM_WSK_IN_READY;
                break;
            case WskInspectPend:
                In->State = KSIM_WSK_IN_PENDED;
                break;
            case WskInspectReject:
                In->State = KSIM_WSK_IN_REJECTED;
                break;
            default:
                KsimVerifierFail("WskInspectEvent returned %d", (int)Action);
                In->State = KSIM_WSK_IN_REJECTED;
                break;
            }
            /* Watch the held connection for the peer giving up (FIN or reset). */
            if (In->State == KSIM_WSK_IN_READY || In->State == KSIM_WSK_IN_PENDED) {
                if (KsimNetPollerSet(In->Host, HOST_NET_POLL_RDHUP, &In->Object) == HOST_NET_OK)
                    In->PollRegistered = TRUE;
            }
            return;
        }
        if (Error == HOST_NET_E_MFILE || Error == HOST_NET_E_NOMEM)
            KsimWskListenerStall(Listener);
        else if (Error != HOST_NET_E_WOULDBLOCK && Error != HOST_NET_E_CONNABORTED) {
            KsimWskListenerDies(Listener, KsimWskStatusFromHost(Error));
            goto indicateDeath;
        }
        for (Entry = Listener->Incoming.Flink; Entry != &Listener->Incoming; Entry = Entry->Flink) {
            KSIM_WSK_INCOMING *In = CONTAINING_RECORD(Entry, KSIM_WSK_INCOMING, Link);
            if (In->State == KSIM_WSK_IN_READY) {
                Ready = In;
                break;
            }
        }
        if (!Ready)
            return;
    }

    /* Hand one established connection to a queued WskAccept (it wins) or WskAcceptEvent. */
    if (!IsListEmpty(&Listener->AcceptQueue) ||
        ((Listener->Events & WSK_EVENT_ACCEPT) && Client && Client->WskAcceptEvent)) {
        HOST_NET_SOCKET Host;
        HOST_NET_ADDRESS Local, Remote;
        SOCKADDR_STORAGE LocalAddress, RemoteAddress;
        KSIM_WSK_SOCKET *Socket;
        KSIM_WSK_REQUEST *Request = NULL;

        /* A WskAccept being cancelled must not take a connection it could never return. */
        if (!IsListEmpty(&Listener->AcceptQueue)) {
            Request = CONTAINING_RECORD(Listener->AcceptQueue.Flink, KSIM_WSK_REQUEST, Link);
            if (!KsimWskRequestClaim(Request)) {
                KsimWskMarkDirty(Listener);
                return;
            }
        }

        if (Ready) {
            Host = Ready->Host;
            Local = Ready->Local;
            Remote = Ready->Remote;
            if (Ready->PollRegistered)
                KsimNetPollerRemove(Host);
            RemoveEntryList(&Ready->Link);
            ExFreePoolWithTag(Ready, KSIM_WSK_TAG_INCOMING);
        } else {
            int Error = KsimNetAccept(Listener->Host, &Host, &Remote);
            if (Error == HOST_NET_E_WOULDBLOCK || Error == HOST_NET_E_CONNABORTED || Error == HOST_NET_E_MFILE ||
                Error == HOST_NET_E_NOMEM) {
                if (Error != HOST_NET_E_WOULDBLOCK && Error != HOST_NET_E_CONNABORTED)
                    KsimWskListenerStall(Listener);
                if (Request)
                    KsimWskRequestRearm(Request);
                return;
            }
            if (Error != HOST_NET_OK) {
                KsimWskListenerDies(Listener, KsimWskStatusFromHost(Error));
                goto indicateDeath;
            }
            (VOID) KsimNetGetLocalAddress(Host, &Local);
        }
        Socket = KsimWskAcceptedSocket(Listener, Host);
        if (!Socket) {
            KsimNetCloseAbortive(Host);
            if (Request)
                KsimWskRequestFinish(Request, STATUS_INSUFFICIENT_RESOURCES, 0);
            KsimWskMarkDirty(Listener);
            return;
        }
        KsimWskAddressFromHost(&Local, (PSOCKADDR)&LocalAddress);
        KsimWskAddressFromHost(&Remote, (PSOCKADDR)&RemoteAddress);
        KsimWskMarkDirty(Listener);

        if (Request) {
            /* WskAccept: the socket gets the caller's context and dispatch, no inherited
             * events (only static ones, which apply to every socket). */
            Socket->Context = Request->AcceptContext;
            Socket->Dispatch = Request->AcceptDispatch;
            if (Request->LocalOut)
                KsimWskAddressFromHost(&Local, Request->LocalOut);
            if (Request->RemoteOut)
                KsimWskAddressFromHost(&Remote, Request->RemoteOut);
            Socket->BacklogIndicate = (Socket->Events & WSK_EVENT_SEND_BACKLOG) != 0;
            KsimWskMarkDirty(Socket);
            KsimWskRequestFinish(Request, STATUS_SUCCESS, (ULONG_PTR)KsimWskPublic(Socket));
            return;
        }
        {
            PVOID AcceptContext = NULL;
            CONST WSK_CLIENT_CONNECTION_DISPATCH *AcceptDispatch = NULL;
            NTSTATUS Status;
            KsimWskCallbackEnter(Listener, WSK_EVENT_ACCEPT);
            /* Until the callback returns, the provider has not taken the client's context and
             * dispatch for the socket: closing it now is a verifier failure (KsimWskCloseSocket). */
            __atomic_store_n(&Socket->InAcceptEvent, 1, __ATOMIC_SEQ_CST);
            Status = Client->WskAcceptEvent(Listener->Context, WSK_FLAG_AT_DISPATCH_LEVEL, (PSOCKADDR)&LocalAddress,
                                            (PSOCKADDR)&RemoteAddress, KsimWskPublic(Socket), &AcceptContext,
                                            &AcceptDispatch);
            __atomic_store_n(&Socket->InAcceptEvent, 0, __ATOMIC_SEQ_CST);
            KsimWskCallbackLeave(Listener, WSK_EVENT_ACCEPT, "WskAcceptEvent");
            if (Status == STATUS_SUCCESS) {
                Socket->Context = AcceptContext;
                Socket->Dispatch = AcceptDispatch;
                /* Inheritance: the connection events enabled on the listener, through the
                 * dispatch table the callback returned (only the routines it has). */
                Socket->Events |= Listener->InheritEvents;
                if (!AcceptDispatch)
                    Socket->Events &= Socket->StaticEvents;
                else {
                    if (!AcceptDispatch->WskReceiveEvent)
                        Socket->Events &= ~WSK_EVENT_RECEIVE;
                    if (!AcceptDispatch->WskDisconnectEvent)
                        Socket->Events &= ~WSK_EVENT_DISCONNECT;
                    if (!AcceptDispatch->WskSendBacklogEvent)
                        Socket->Events &= ~WSK_EVENT_SEND_BACKLOG;
                }
                Socket->BacklogIndicate = (Socket->Events & WSK_EVENT_SEND_BACKLOG) != 0;
                KsimWskMarkDirty(Socket);
            } else {
                if (Status != STATUS_REQUEST_NOT_ACCEPTED)
                    KsimVerifierFail("WskAcceptEvent returned 0x%08x (SUCCESS or REQUEST_NOT_ACCEPTED expected)",
                                     (unsigned)Status);
                /* Refused: the provider closes the socket; the client must not touch it. */
                KsimWskSocketDiscard(Socket);
            }
        }
        return;
    }
    return;

indicateDeath:
    /* The listener no longer works: said once, with NULL (wsk-facts 3.4, 3.5). */
    if (Listener->ConditionalAccept && Client && Client->WskInspectEvent) {
        WSK_INSPECT_ACTION Ignored;
        KsimWskCallbackEnter(Listener, KSIM_WSK_INPROGRESS_INSPECT);
        Ignored = Client->WskInspectEvent(Listener->Context, NULL, NULL, NULL);
        (VOID) Ignored;
        KsimWskCallbackLeave(Listener, KSIM_WSK_INPROGRESS_INSPECT, "WskInspectEvent");
    } else if ((Listener->Events & WSK_EVENT_ACCEPT) && Client && Client->WskAcceptEvent) {
        PVOID Context = NULL;
        CONST WSK_CLIENT_CONNECTION_DISPATCH *Dispatch = NULL;
        NTSTATUS Ignored;
        KsimWskCallbackEnter(Listener, WSK_EVENT_ACCEPT);
        Ignored = Client->WskAcceptEvent(Listener->Context, WSK_FLAG_AT_DISPATCH_LEVEL, NULL, NULL, NULL, &Context,
                                         &Dispatch);
        (VOID) Ignored;
        KsimWskCallbackLeave(Listener, WSK_EVENT_ACCEPT, "WskAcceptEvent");
    }
}

/* ---- datagram sockets ---- */

static VOID
KsimWskFinishReceiveFrom(_Inout_ KSIM_WSK_REQUEST *Request, _In_ SIZE_T Copied, _In_ BOOLEAN Truncated,
                         _In_ CONST HOST_NET_ADDRESS *Remote)
{
    if (Request->RemoteOut)
        KsimWskAddressFromHost(Remote, Request->RemoteOut);
    if (Request->ControlLength)
        *Request->ControlLength = 0;
    if (Request->ControlFlags)
        *Request->ControlFlags = Truncated ? MSG_TRUNC : 0;
    /* A datagram larger than the buffer: the part that fit, and STATUS_BUFFER_OVERFLOW (what
     * Winsock reports as WSAEMSGSIZE). */
    KsimWskRequestFinish(Request, Truncated ? STATUS_BUFFER_OVERFLOW : STATUS_SUCCESS, Copied);
}

/* Datagrams the host socket dropped since the last look (its queue was full because the
 * simulated network did not read fast enough): test equipment's own loss, counted in
 * KSIM_COUNTERS.HostDatagramsDropped. WSK has no way to tell a client about losses below it,
 * so nothing reaches the driver; read when the queue was just drained and before closing. */
static VOID
KsimWskSampleHostDrops(_Inout_ KSIM_WSK_SOCKET *Socket)
{
    uint64_t Dropped;

    if (Socket->Kind != WSK_FLAG_DATAGRAM_SOCKET || Socket->Host == HOST_NET_INVALID_SOCKET)
        return;
    if (KsimNetReceiveDrops(Socket->Host, &Dropped) != HOST_NET_OK || Dropped <= Socket->HostDropsSeen)
        return;
    InterlockedAdd64(&KsimWskProvider.HostDatagramsDropped, (LONG64)(Dropped - Socket->HostDropsSeen));
    Socket->HostDropsSeen = Dropped;
}

static KSIM_WSK_BLOCK *
KsimWskReadDatagram(_Inout_ KSIM_WSK_SOCKET *Socket, _Out_ int *Error)
{
    HOST_NET_IOVEC Vector = { KsimWskScratch, sizeof(KsimWskScratch) };
    HOST_NET_ADDRESS Remote;
    KSIM_WSK_BLOCK *Block;
    SIZE_T Got = 0;
    int Truncated = 0;

    *Error = KsimNetReceiveFrom(Socket->Host, &Vector, 1, &Got, &Remote, &Truncated);
    if (*Error == HOST_NET_E_WOULDBLOCK)
        KsimWskSampleHostDrops(Socket);
    if (*Error != HOST_NET_OK)
        return NULL;
    Block = KsimWskBlockAllocate(Got);
    if (!Block) {
        *Error = HOST_NET_E_NOMEM; /* the datagram is lost, as under memory pressure anywhere */
        return NULL;
    }
    RtlCopyMemory(Block->Data, KsimWskScratch, Got);
    KsimWskAddressFromHost(&Remote, (PSOCKADDR)&Block->Remote);
    return Block;
}

static VOID
KsimWskStepDatagram(_Inout_ KSIM_WSK_SOCKET *Socket, _In_ unsigned Events)
{
    CONST WSK_CLIENT_DATAGRAM_DISPATCH *Client = (CONST WSK_CLIENT_DATAGRAM_DISPATCH *)Socket->Dispatch;

    if (!(Socket->State & KSIM_WSK_S_BOUND))
        return;
    /* An ICMP error on a connected UDP socket: reading it clears the level-triggered report
     * (datagram errors are not sticky on Windows either). */
    if (Events & HOST_NET_POLL_ERROR) {
        int Ignored;
        (VOID) KsimNetGetOption(Socket->Host, HOST_NET_OPT_ERROR, &Ignored);
    }

    while (!IsListEmpty(&Socket->SendQueue)) {
        KSIM_WSK_REQUEST *Request = CONTAINING_RECORD(Socket->SendQueue.Flink, KSIM_WSK_REQUEST, Link);
        HOST_NET_IOVEC Vector[HOST_NET_MAX_IOVEC];
        SIZE_T Sent = 0;
        int Count, Error;
        if (!KsimWskRequestClaim(Request))
            continue;
        Count = KsimWskBufToIovec(&Request->Buffer, 0, Request->Buffer.Length, Vector);
        Error = KsimNetSendTo(Socket->Host, Vector, Count, Request->HasAddress ? &Request->Address : NULL, &Sent);
        if (Error == HOST_NET_E_WOULDBLOCK) {
            KsimWskRequestRearm(Request);
            break;
        }
        KsimWskRequestFinish(Request, KsimWskStatusFromHost(Error), Error == HOST_NET_OK ? Sent : 0);
    }

    while (!IsListEmpty(&Socket->ReceiveQueue)) {
        KSIM_WSK_REQUEST *Request = CONTAINING_RECORD(Socket->ReceiveQueue.Flink, KSIM_WSK_REQUEST, Link);
        HOST_NET_ADDRESS Remote;
        if (!KsimWskRequestClaim(Request))
            continue;
        if (!IsListEmpty(&Socket->HeldDatagrams)) {
            KSIM_WSK_BLOCK *Block = CONTAINING_RECORD(RemoveHeadList(&Socket->HeldDatagrams), KSIM_WSK_BLOCK, Link);
            SIZE_T Copy = Block->Length < Request->Buffer.Length ? Block->Length : Request->Buffer.Length;
            KsimWskBufCopyIn(&Request->Buffer, 0, Block->Data, Copy);
            (VOID) KsimWskAddressToHost((PSOCKADDR)&Block->Remote, Socket->Family, &Remote);
            KsimWskFinishReceiveFrom(Request, Copy, Block->Length > Request->Buffer.Length, &Remote);
            KsimWskBlockFree(Block);
            continue;
        }
        {
            HOST_NET_IOVEC Vector[HOST_NET_MAX_IOVEC];
            SIZE_T Got = 0;
            int Truncated = 0;
            int Count = KsimWskBufToIovec(&Request->Buffer, 0, Request->Buffer.Length, Vector);
            int Error = KsimNetReceiveFrom(Socket->Host, Vector, Count, &Got, &Remote, &Truncated);
            if (Error == HOST_NET_E_WOULDBLOCK) {
                KsimWskRequestRearm(Request);
                break;
            }
            if (Error != HOST_NET_OK) {
                KsimWskRequestFinish(Request, KsimWskStatusFromHost(Error), 0);
                continue;
            }
            KsimWskFinishReceiveFrom(Request, Got, Truncated != 0, &Remote);
        }
    }

    /* Indications: only when no WskReceiveFrom is queued. Held datagrams go first. */
    if (IsListEmpty(&Socket->ReceiveQueue) && (Socket->Events & WSK_EVENT_RECEIVE_FROM) && Client &&
        Client->WskReceiveFromEvent) {
        KSIM_WSK_BLOCK *Head = NULL, *Tail = NULL;
        ULONG Count = 0;
        NTSTATUS Status;
        int Error = HOST_NET_OK;

        while (Count < KSIM_WSK_MAX_DATAGRAM_CHAIN) {
            KSIM_WSK_BLOCK *Block;
            if (!IsListEmpty(&Socket->HeldDatagrams)) {
                Block = CONTAINING_RECORD(RemoveHeadList(&Socket->HeldDatagrams), KSIM_WSK_BLOCK, Link);
                InitializeListHead(&Block->Link);
            } else {
                Block = KsimWskReadDatagram(Socket, &Error);
                if (!Block) {
                    if (Error == HOST_NET_E_NOMEM)
                        continue;
                    break;
                }
            }
            Block->NextBlock = NULL;
            Block->Indication.Datagram.Next = NULL;
            Block->Indication.Datagram.Buffer.Mdl = Block->Mdl;
            Block->Indication.Datagram.Buffer.Offset = 0;
            Block->Indication.Datagram.Buffer.Length = Block->Length;
            Block->Indication.Datagram.ControlInfo = NULL;
            Block->Indication.Datagram.ControlInfoLength = 0;
            Block->Indication.Datagram.RemoteAddress = (PSOCKADDR)&Block->Remote;
            if (Tail) {
                Tail->NextBlock = Block;
                Tail->Indication.Datagram.Next = &Block->Indication.Datagram;
            } else {
                Head = Block;
            }
            Tail = Block;
            Count++;
        }
        if (!Head)
            return;
        KsimWskCallbackEnter(Socket, WSK_EVENT_RECEIVE_FROM);
        Status = Client->WskReceiveFromEvent(Socket->Context, WSK_FLAG_AT_DISPATCH_LEVEL, &Head->Indication.Datagram);
        KsimWskCallbackLeave(Socket, WSK_EVENT_RECEIVE_FROM, "WskReceiveFromEvent");
        if (Status == STATUS_PENDING) {
            InsertTailList(&Socket->Retained, &Head->Link);
        } else if (Status == STATUS_DATA_NOT_ACCEPTED) {
            /* Buffered (ahead of anything held since), and the event is off until re-enabled,
             * unless it is static (wsk-facts 3.7). */
            KSIM_WSK_BLOCK *Block;
            PLIST_ENTRY Insert = &Socket->HeldDatagrams;
            for (Block = Head; Block;) {
                KSIM_WSK_BLOCK *Next = Block->NextBlock;
                Block->NextBlock = NULL;
                InsertHeadList(Insert, &Block->Link);
                Insert = &Block->Link;
                Block = Next;
            }
            if (!(Socket->StaticEvents & WSK_EVENT_RECEIVE_FROM))
                Socket->Events &= ~WSK_EVENT_RECEIVE_FROM;
        } else {
            if (Status != STATUS_SUCCESS)
                KsimVerifierFail("WskReceiveFromEvent returned 0x%08x", (unsigned)Status);
            KsimWskBlockFreeChain(Head);
        }
    }
}

/* ---- the step ---- */

VOID
KsimWskSocketStep(_Inout_ KSIM_WSK_SOCKET *Socket, _Inout_ KIRQL *OldIrql)
{
    unsigned Events = Socket->PollEvents;

    UNREFERENCED_PARAMETER(OldIrql);
    Socket->PollEvents = 0;
    if (!Socket->Client || Socket->Magic != KSIM_WSK_SOCKET_MAGIC)
        return;
    if (Socket->State & KSIM_WSK_S_CLOSING) {
        if (Socket->CloseRequest && Socket->CloseRequest->Irp)
            KsimWskStepClose(Socket);
        return;
    }
    switch (Socket->Kind) {
    case WSK_FLAG_CONNECTION_SOCKET:
        KsimWskStepConnection(Socket, Events);
        break;
    case WSK_FLAG_LISTEN_SOCKET:
        KsimWskStepListen(Socket);
        break;
    case WSK_FLAG_DATAGRAM_SOCKET:
        KsimWskStepDatagram(Socket, Events);
        break;
    default:
        break;
    }
    if (!(Socket->State & KSIM_WSK_S_CLOSING))
        KsimWskUpdateInterest(Socket);
}

/* SPDX-License-Identifier: MIT
 *
 * The session's socket table: opaque ids, references, the call rundown and closing.
 *
 * An id is (generation << 32) | slot. A slot's generation changes every time the slot is
 * given back, and 0 is never a generation, so a stale id or 0 never finds a socket. Only Open
 * sockets are found by lookups; a socket leaves the table when its close starts.
 *
 * The table grows by doubling (WSKB_TABLE_INITIAL_SLOTS up to WSKB_MAX_SOCKETS_PER_SESSION)
 * when a socket finds no free slot. Every access to it is under Session->Lock and nothing
 * keeps a pointer to a slot across a release, so growing replaces the array: the new one is
 * allocated and charged outside the lock, then swapped in under it if nobody grew it first.
 *
 * References: the table (from reservation until WskCloseSocket completed, or until abandon),
 * each lookup (for the IOCTL in progress), each operation in flight. The memory is freed at
 * the last one, never before WskCloseSocket completed, because WSK may call the socket's
 * event callbacks with it as context until then.
 */
#include "irp.h"

static IO_COMPLETION_ROUTINE WskbSocketCloseIoCompletion;

_IRQL_requires_max_(DISPATCH_LEVEL)
static VOID
WskbSocketFree(_In_ _Post_ptr_invalid_ WSKB_SOCKET *Socket)
{
    WSKB_SESSION *Session = Socket->Session;

    if (Socket->CloseIrp)
        IoFreeIrp(Socket->CloseIrp);
    ExFreePoolWithTag(Socket, WSKB_TAG_SOCKET);
    ExReleaseRundownProtection(&Session->Rundown);
}

_Use_decl_annotations_
VOID
WskbSocketReference(WSKB_SOCKET *Socket)
{
    InterlockedIncrement(&Socket->RefCount);
}

_Use_decl_annotations_
VOID
WskbSocketDereference(WSKB_SOCKET *Socket)
{
    if (InterlockedDecrement(&Socket->RefCount) == 0)
        WskbSocketFree(Socket);
}

_Use_decl_annotations_
BOOLEAN
WskbSocketCallBegin(WSKB_SOCKET *Socket)
{
    return ExAcquireRundownProtection(&Socket->CallRundown);
}

_Use_decl_annotations_
VOID
WskbSocketCallEnd(WSKB_SOCKET *Socket)
{
    ExReleaseRundownProtection(&Socket->CallRundown);
}

/* Gives a slot back under the lock: the next id made from it differs in generation. */
_IRQL_requires_(DISPATCH_LEVEL)
static VOID
WskbSocketFreeSlotLocked(_Inout_ WSKB_SESSION *Session, _In_ ULONG Slot)
{
    Session->Table[Slot].Socket = NULL;
    if (++Session->Table[Slot].Generation == 0)
        Session->Table[Slot].Generation = 1;
    Session->Table[Slot].NextFree = Session->FreeHead;
    Session->FreeHead = Slot;
}

/* Pushes slots [First, Last) on the free list so that First is handed out next. */
static VOID
WskbSocketTableLinkFree(_Inout_updates_(Last) WSKB_SLOT *Table, _In_ ULONG First, _In_ ULONG Last, _Inout_ ULONG *FreeHead)
{
    ULONG Slot;

    for (Slot = Last; Slot-- > First;) {
        Table[Slot].Socket = NULL;
        Table[Slot].Generation = 1; /* never 0, so that no id is 0 */
        Table[Slot].NextFree = *FreeHead;
        *FreeHead = Slot;
    }
}

/* A table of Slots slots, charged to the driver-wide pool bound (poolbudget.c) until
 * WskbSocketTableFree. Up to DISPATCH_LEVEL (a growth in WskAcceptEvent): NonPaged pool. */
_IRQL_requires_max_(DISPATCH_LEVEL)
_Must_inspect_result_
static NTSTATUS
WskbSocketTableAllocate(_In_ ULONG Slots, _Outptr_ WSKB_SLOT **Table)
{
    *Table = NULL;
    if (!WskbPoolBudgetCharge(WSKB_TABLE_BYTES(Slots)))
        return STATUS_QUOTA_EXCEEDED;
    *Table = ExAllocatePool2(POOL_FLAG_NON_PAGED, WSKB_TABLE_BYTES(Slots), WSKB_TAG_TABLE);
    if (!*Table) {
        WskbPoolBudgetRelease(WSKB_TABLE_BYTES(Slots));
        return STATUS_INSUFFICIENT_RESOURCES;
    }
    return STATUS_SUCCESS;
}

_IRQL_requires_max_(DISPATCH_LEVEL)
static VOID
WskbSocketTableFree(_In_ _Post_ptr_invalid_ WSKB_SLOT *Table, _In_ ULONG Slots)
{
    ExFreePoolWithTag(Table, WSKB_TAG_TABLE);
    WskbPoolBudgetRelease(WSKB_TABLE_BYTES(Slots));
}

_Use_decl_annotations_
NTSTATUS
WskbSocketTableInitialize(WSKB_SESSION *Session)
{
    NTSTATUS Status;
    WSKB_SLOT *Table;

    PAGED_CODE();
    Status = WskbSocketTableAllocate(WSKB_TABLE_INITIAL_SLOTS, &Table);
    if (!NT_SUCCESS(Status))
        return Status;
    Session->FreeHead = WSKB_SLOT_NONE;
    WskbSocketTableLinkFree(Table, 0, WSKB_TABLE_INITIAL_SLOTS, &Session->FreeHead);
    Session->Table = Table;
    Session->TableSlots = WSKB_TABLE_INITIAL_SLOTS;
    return STATUS_SUCCESS;
}

_Use_decl_annotations_
VOID
WskbSocketTableUninitialize(WSKB_SESSION *Session)
{
    PAGED_CODE();
    if (!Session->Table)
        return;
    WskbSocketTableFree(Session->Table, Session->TableSlots);
    Session->Table = NULL;
    Session->TableSlots = 0;
    Session->FreeHead = WSKB_SLOT_NONE;
}

/* Doubles a table that had SeenSlots slots (read under the lock, which the caller no longer
 * holds). Success also when another caller grew it meanwhile: the caller looks again. Runs at
 * the caller's IRQL, up to DISPATCH_LEVEL (WskAcceptEvent): NonPaged pool only. */
_IRQL_requires_max_(DISPATCH_LEVEL)
_Must_inspect_result_
static NTSTATUS
WskbSocketTableGrow(_Inout_ WSKB_SESSION *Session, _In_ ULONG SeenSlots)
{
    ULONG NewSlots = SeenSlots * 2 < WSKB_MAX_SOCKETS_PER_SESSION ? SeenSlots * 2 : WSKB_MAX_SOCKETS_PER_SESSION;
    NTSTATUS Status;
    WSKB_SLOT *New;
    WSKB_SLOT *Old;
    KIRQL OldIrql;

    Status = WskbSocketTableAllocate(NewSlots, &New);
    if (!NT_SUCCESS(Status))
        return Status;
    KeAcquireSpinLock(&Session->Lock, &OldIrql);
    if (Session->TableSlots != SeenSlots || Session->CleaningUp) {
        /* Grown by a concurrent caller, or the table is closing: this copy is not needed. */
        KeReleaseSpinLock(&Session->Lock, OldIrql);
        WskbSocketTableFree(New, NewSlots);
        return STATUS_SUCCESS;
    }
    RtlCopyMemory(New, Session->Table, WSKB_TABLE_BYTES(SeenSlots));
    /* The free list was empty when the caller looked; a slot freed since stays listed. */
    WskbSocketTableLinkFree(New, SeenSlots, NewSlots, &Session->FreeHead);
    Old = Session->Table;
    Session->Table = New;
    Session->TableSlots = NewSlots;
    KeReleaseSpinLock(&Session->Lock, OldIrql);
    WskbSocketTableFree(Old, SeenSlots);
    return STATUS_SUCCESS;
}

/* Called with Session->Lock held when SocketsCreating drops. */
_IRQL_requires_(DISPATCH_LEVEL)
static VOID
WskbSocketCreatingDoneLocked(_Inout_ WSKB_SESSION *Session)
{
    NT_ASSERT(Session->SocketsCreating > 0);
    if (--Session->SocketsCreating == 0 && Session->CleaningUp)
        KeSetEvent(&Session->CreatingDone, IO_NO_INCREMENT, FALSE);
}

/* The open socket an id names, or NULL: unknown slot, stale generation, 0, or not Open. */
_IRQL_requires_(DISPATCH_LEVEL)
static WSKB_SOCKET *
WskbSocketFindLocked(_In_ WSKB_SESSION *Session, _In_ UINT64 SocketId)
{
    ULONG Slot = WSKB_ID_SLOT(SocketId);
    ULONG Generation = WSKB_ID_GENERATION(SocketId);
    WSKB_SOCKET *Socket;

    if (WSKB_ID_TAG(SocketId) != Session->IdTag || Slot >= Session->TableSlots || Generation == 0 ||
        Session->Table[Slot].Generation != Generation)
        return NULL;
    Socket = Session->Table[Slot].Socket;
    return Socket && Socket->State == WskbSocketOpen ? Socket : NULL;
}

_Use_decl_annotations_
NTSTATUS
WskbSocketLookup(WSKB_SESSION *Session, UINT64 SocketId, WSKB_SOCKET **Socket)
{
    WSKB_SOCKET *Found;
    KIRQL OldIrql;

    KeAcquireSpinLock(&Session->Lock, &OldIrql);
    Found = WskbSocketFindLocked(Session, SocketId);
    if (Found)
        WskbSocketReference(Found);
    KeReleaseSpinLock(&Session->Lock, OldIrql);
    *Socket = Found;
    return Found ? STATUS_SUCCESS : STATUS_INVALID_HANDLE;
}

/* Allocation and slot reservation shared by created, IRP-accepted and event-accepted sockets. */
_IRQL_requires_max_(DISPATCH_LEVEL)
_Must_inspect_result_
static NTSTATUS
WskbSocketAllocate(_In_ WSKB_SESSION *Session, _In_ ULONG Kind, _In_ USHORT Family, _In_ ULONG Options,
                   _Outptr_ WSKB_SOCKET **Socket)
{
    NTSTATUS Status;
    WSKB_SOCKET *New;
    ULONG Slot;
    ULONG SeenSlots;
    KIRQL OldIrql;

    *Socket = NULL;
    if (!ExAcquireRundownProtection(&Session->Rundown))
        return STATUS_DELETE_PENDING;
    New = ExAllocatePool2(POOL_FLAG_NON_PAGED, sizeof(*New), WSKB_TAG_SOCKET);
    if (!New) {
        Status = STATUS_INSUFFICIENT_RESOURCES;
        goto cleanupRundown;
    }
    New->CloseIrp = IoAllocateIrp(1, FALSE);
    if (!New->CloseIrp) {
        Status = STATUS_INSUFFICIENT_RESOURCES;
        goto cleanupSocket;
    }
    New->Session = Session;
    New->Kind = Kind;
    New->Family = Family;
    New->Options = Options;
    New->State = WskbSocketCreating;
    New->RefCount = 1; /* the table's */
    ExInitializeRundownProtection(&New->CallRundown);

    Status = WskbEventsSocketInitialize(New);
    if (!NT_SUCCESS(Status))
        goto cleanupIrp;

    KeAcquireSpinLock(&Session->Lock, &OldIrql);
    for (;;) {
        if (Session->CleaningUp) {
            Status = STATUS_DELETE_PENDING;
            goto cleanupLocked;
        }
        if (Session->FreeHead != WSKB_SLOT_NONE)
            break;
        if (Session->TableSlots >= WSKB_MAX_SOCKETS_PER_SESSION) {
            Status = STATUS_INSUFFICIENT_RESOURCES;
            goto cleanupLocked;
        }
        SeenSlots = Session->TableSlots;
        KeReleaseSpinLock(&Session->Lock, OldIrql);
        Status = WskbSocketTableGrow(Session, SeenSlots);
        if (!NT_SUCCESS(Status))
            goto cleanupEvents;
        KeAcquireSpinLock(&Session->Lock, &OldIrql);
    }
    Slot = Session->FreeHead;
    Session->FreeHead = Session->Table[Slot].NextFree;
    Session->Table[Slot].NextFree = WSKB_SLOT_NONE;
    Session->Table[Slot].Socket = New;
    New->Id = WSKB_ID_MAKE(Session->Table[Slot].Generation, Session->IdTag, Slot);
    Session->SocketsCreating++;
    KeReleaseSpinLock(&Session->Lock, OldIrql);
    *Socket = New;
    return STATUS_SUCCESS;

cleanupLocked:
    KeReleaseSpinLock(&Session->Lock, OldIrql);
cleanupEvents:
    WskbEventsSocketUninitialize(New);
cleanupIrp:
    IoFreeIrp(New->CloseIrp);
cleanupSocket:
    ExFreePoolWithTag(New, WSKB_TAG_SOCKET);
cleanupRundown:
    ExReleaseRundownProtection(&Session->Rundown);
    return Status;
}

_Use_decl_annotations_
NTSTATUS
WskbSocketCreateReserved(WSKB_SESSION *Session, ULONG Kind, USHORT Family, ULONG Options, WSKB_SOCKET **Socket)
{
    return WskbSocketAllocate(Session, Kind, Family, Options, Socket);
}

_Use_decl_annotations_
VOID
WskbSocketActivate(WSKB_SOCKET *Socket, PWSK_SOCKET WskSocket)
{
    WSKB_SESSION *Session = Socket->Session;
    KIRQL OldIrql;

    KeAcquireSpinLock(&Session->Lock, &OldIrql);
    NT_ASSERT(Socket->State == WskbSocketCreating);
    Socket->WskSocket = WskSocket;
    Socket->State = WskbSocketOpen;
    Session->SocketsOpen++;
    WskbSocketCreatingDoneLocked(Session);
    KeReleaseSpinLock(&Session->Lock, OldIrql);
}

_Use_decl_annotations_
VOID
WskbSocketAbandon(WSKB_SOCKET *Socket)
{
    WSKB_SESSION *Session = Socket->Session;
    KIRQL OldIrql;

    KeAcquireSpinLock(&Session->Lock, &OldIrql);
    NT_ASSERT(Socket->State == WskbSocketCreating);
    Socket->State = WskbSocketClosed;
    WskbSocketFreeSlotLocked(Session, WSKB_ID_SLOT(Socket->Id));
    WskbSocketCreatingDoneLocked(Session);
    KeReleaseSpinLock(&Session->Lock, OldIrql);
    /* No WSK socket ever existed, so no callback can hold the context. */
    WskbEventsSocketUninitialize(Socket);
    WskbSocketDereference(Socket);
}

_Use_decl_annotations_
NTSTATUS
WskbSocketInsertAccepted(WSKB_SESSION *Session, PWSK_SOCKET WskSocket, USHORT Family, WSKB_SOCKET **Socket)
{
    NTSTATUS Status;
    WSKB_SOCKET *New;

    *Socket = NULL;
    Status = WskbSocketAllocate(Session, WSK_FLAG_CONNECTION_SOCKET, Family, 0, &New);
    if (!NT_SUCCESS(Status))
        return Status;
    WskbSocketReference(New); /* the caller's */
    /* The upcall counts as a call in progress on the new socket (see driver.h): a fresh
     * rundown cannot be refused, and nobody can close the socket before it is Open. */
    (VOID)WskbSocketCallBegin(New);
    WskbSocketActivate(New, WskSocket);
    *Socket = New;
    return STATUS_SUCCESS;
}

/* Takes an Open socket out of the table under the lock; the table's reference goes with it. */
_IRQL_requires_(DISPATCH_LEVEL)
static VOID
WskbSocketDetachLocked(_Inout_ WSKB_SESSION *Session, _Inout_ WSKB_SOCKET *Socket)
{
    NT_ASSERT(Socket->State == WskbSocketOpen);
    Socket->State = WskbSocketClosing;
    Session->SocketsOpen--;
    WskbSocketFreeSlotLocked(Session, WSKB_ID_SLOT(Socket->Id));
}

_Use_decl_annotations_
NTSTATUS
WskbSocketDetachForClose(WSKB_SESSION *Session, UINT64 SocketId, WSKB_SOCKET **Socket)
{
    WSKB_SOCKET *Found;
    KIRQL OldIrql;

    KeAcquireSpinLock(&Session->Lock, &OldIrql);
    Found = WskbSocketFindLocked(Session, SocketId);
    if (Found)
        WskbSocketDetachLocked(Session, Found);
    KeReleaseSpinLock(&Session->Lock, OldIrql);
    *Socket = Found;
    return Found ? STATUS_SUCCESS : STATUS_INVALID_HANDLE;
}

_Use_decl_annotations_
VOID
WskbSocketClose(WSKB_SOCKET *Socket, WDFREQUEST CloseRequest)
{
    CONST WSK_PROVIDER_BASIC_DISPATCH *Dispatch;
    LARGE_INTEGER Delay;

    PAGED_CODE();
    /* WskCloseSocket must not run concurrently with any other call on the socket; calls that
     * already returned STATUS_PENDING are fine (the close cancels their IRPs). */
    ExWaitForRundownProtectionRelease(&Socket->CallRundown);
    Socket->CloseRequest = CloseRequest;
    /* The close cannot be skipped (the WSK socket and its callbacks would live on) and its IRP
     * is the socket's own; only the kernel's small completion context can be missing. Pool
     * exhaustion passes, and this runs at PASSIVE_LEVEL, so it waits and tries again. */
    Delay.QuadPart = -10 * 1000 * 10; /* 10 ms, relative */
    while (!NT_SUCCESS(WskbIrpSetCompletion(Socket->Session, Socket->CloseIrp, WskbSocketCloseIoCompletion, Socket)))
        (VOID)KeDelayExecutionThread(KernelMode, FALSE, &Delay);
    Dispatch = WskbSocketDispatch(Socket, WSK_PROVIDER_BASIC_DISPATCH);
    /* Documented never to fail; whatever it returns, the IRP is completed. */
    (VOID)Dispatch->WskCloseSocket(Socket->WskSocket, Socket->CloseIrp);
}

_Use_decl_annotations_
static NTSTATUS
WskbSocketCloseIoCompletion(PDEVICE_OBJECT DeviceObject, PIRP Irp, PVOID Context)
{
    WSKB_SOCKET *Socket = Context;
    WSKB_SESSION *Session = Socket->Session;
    WDFREQUEST CloseRequest = Socket->CloseRequest;
    NTSTATUS Status = Irp->IoStatus.Status;
    KIRQL OldIrql;

    UNREFERENCED_PARAMETER(DeviceObject);
    /* WSK has returned from every callback of this socket and will make no more. */
    KeAcquireSpinLock(&Session->Lock, &OldIrql);
    Socket->State = WskbSocketClosed;
    Socket->WskSocket = NULL;
    Socket->CloseRequest = NULL;
    KeReleaseSpinLock(&Session->Lock, OldIrql);
    WskbEventsSocketClosed(Socket);
    if (CloseRequest)
        WdfRequestCompleteWithInformation(CloseRequest, Status, 0);
    WskbSocketDereference(Socket); /* the table's */
    return STATUS_MORE_PROCESSING_REQUIRED;
}

/* Closes every open socket of the session, one at a time, outside the lock. The sweep only
 * moves forward: CleaningUp is set, so no slot is handed out and the table no longer grows. */
_IRQL_requires_(PASSIVE_LEVEL)
static VOID
WskbSocketCloseOpenSockets(_Inout_ WSKB_SESSION *Session)
{
    KIRQL OldIrql;
    ULONG Slot = 0;
    WSKB_SOCKET *Socket;

    for (;;) {
        Socket = NULL;
        KeAcquireSpinLock(&Session->Lock, &OldIrql);
        for (; Slot < Session->TableSlots; ++Slot) {
            Socket = Session->Table[Slot].Socket;
            if (Socket && Socket->State == WskbSocketOpen) {
                WskbSocketDetachLocked(Session, Socket);
                ++Slot;
                break;
            }
            Socket = NULL;
        }
        KeReleaseSpinLock(&Session->Lock, OldIrql);
        if (!Socket)
            return;
        WskbSocketClose(Socket, NULL);
    }
}

_Use_decl_annotations_
VOID
WskbSocketCloseAll(WSKB_SESSION *Session)
{
    KIRQL OldIrql;
    ULONG Creating;

    PAGED_CODE();
    KeAcquireSpinLock(&Session->Lock, &OldIrql);
    Session->CleaningUp = TRUE;
    KeReleaseSpinLock(&Session->Lock, OldIrql);

    /* Accepts and other pended calls are cancelled first, so that creations in flight finish
     * (an accept waiting for a peer would otherwise hold the table open forever). */
    WskbOperationCancelAll(Session);

    /* Close what is open before waiting for creations in flight, then close what they
     * activated meanwhile. Waiting first could wait forever: an IRP-style accept whose cancel
     * raced WSK pending it completes only when its listener closes. CleaningUp refuses new
     * reservations, so SocketsCreating only falls, and this loop runs at most twice. The count
     * is read before the sweep: a creation that completes during the sweep was counted, so
     * the loop goes round once more and closes the socket it activated. */
    for (;;) {
        KeAcquireSpinLock(&Session->Lock, &OldIrql);
        Creating = Session->SocketsCreating;
        KeReleaseSpinLock(&Session->Lock, OldIrql);
        WskbSocketCloseOpenSockets(Session);
        if (Creating == 0)
            break;
        KeWaitForSingleObject(&Session->CreatingDone, Executive, KernelMode, FALSE, NULL);
    }
}

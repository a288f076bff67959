/* SPDX-License-Identifier: MIT
 *
 * ksim I/O: IRPs (allocation, stack locations, completion with completion routines,
 * cancellation under the cancel spin lock, reuse) and MDLs, with the Windows semantics and
 * the ownership checks of Driver Verifier's I/O verification.
 */
#include "ksim_internal.h"

#define KSIM_IRP_MAGIC 0x4B707249u      /* 'IrpK' */
#define KSIM_IRP_FREED_MAGIC 0x6B707269u
#define KSIM_MDL_MAGIC 0x4C444D6B4C444D6BULL
#define KSIM_MDL_FREED 0x6465657246646D6BULL

/* KsimState bits. */
#define KSIM_IRP_HELD 0x1      /* a driver took it and marked it pending: it owns it until completion */
#define KSIM_IRP_COMPLETED 0x2 /* IoCompleteRequest ran; only IoReuseIrp or IoFreeIrp may follow */

/* IoSetCompletionRoutineEx's context: the driver's routine and context, and the reference
 * that keeps the driver's image loaded until the routine has returned. */
#define KSIM_COMPLETION_EX_MAGIC 0x78456f43u /* 'CoEx' */
typedef struct _KSIM_COMPLETION_EX {
    ULONG Magic;
    PIO_COMPLETION_ROUTINE Routine;
    PVOID Context;
    PDEVICE_OBJECT DeviceObject;
} KSIM_COMPLETION_EX;
static volatile uint64_t CompletionExOutstanding;
static IO_COMPLETION_ROUTINE KsimUnloadSafeCompletion;

static LIST_ENTRY IrpList = { &IrpList, &IrpList };
static uint64_t IrpCount;
static LIST_ENTRY MdlList = { &MdlList, &MdlList };
static uint64_t MdlCount;
static KSPIN_LOCK CancelSpinLock;

static BOOLEAN IrpIsValid(PIRP Irp, const char *Routine)
{
    if (Irp == NULL) {
        KsimVerifierFail("%s(NULL IRP)", Routine);
        return FALSE;
    }
    if (Irp->KsimMagic == KSIM_IRP_FREED_MAGIC) {
        KsimVerifierFail("%s(%p): the IRP was freed with IoFreeIrp", Routine, (void *)Irp);
        return FALSE;
    }
    if (Irp->KsimMagic != KSIM_IRP_MAGIC || Irp->Type != IO_TYPE_IRP) {
        KsimVerifierFail("%s(%p): not an IRP from IoAllocateIrp", Routine, (void *)Irp);
        return FALSE;
    }
    return TRUE;
}

/* ---- IoSetCompletionRoutineEx ---- */

static void CompletionExRelease(KSIM_COMPLETION_EX *Ex)
{
    Ex->Magic = 0;
    KsimHostFree(Ex);
    /* The device object's reference: the last one lets a waiting unload finish. */
    if (__atomic_sub_fetch(&CompletionExOutstanding, 1, __ATOMIC_SEQ_CST) == 0)
        KsimWakeAddress(&CompletionExOutstanding, NULL, NULL);
}

/* An IRP freed or reused while a location still holds an IoSetCompletionRoutineEx context
 * whose routine never ran: the kernel leaks that context (and its device reference, so the
 * driver could never unload). Reported; ksim then releases it to stay consistent. */
static void CompletionExDropUnrun(PIRP Irp, const char *Routine)
{
    int Location;
    PIO_STACK_LOCATION Stack = (PIO_STACK_LOCATION)(Irp + 1);
    for (Location = 0; Location < (int)Irp->StackCount; ++Location) {
        if (Stack[Location].CompletionRoutine == KsimUnloadSafeCompletion && Stack[Location].Context) {
            KsimVerifierFail("%s(%p): the IRP carries an IoSetCompletionRoutineEx context whose routine never ran "
                             "(the IRP was never passed on and completed): the kernel leaks it and the driver "
                             "could never unload",
                             Routine, (void *)Irp);
            CompletionExRelease((KSIM_COMPLETION_EX *)Stack[Location].Context);
            Stack[Location].CompletionRoutine = NULL;
            Stack[Location].Context = NULL;
        }
    }
}

_Use_decl_annotations_
static NTSTATUS KsimUnloadSafeCompletion(PDEVICE_OBJECT DeviceObject, PIRP Irp, PVOID Context)
{
    KSIM_COMPLETION_EX *Ex = (KSIM_COMPLETION_EX *)Context;
    NTSTATUS Status;
    if (Ex == NULL || Ex->Magic != KSIM_COMPLETION_EX_MAGIC) {
        KsimVerifierFail("IRP %p: corrupt IoSetCompletionRoutineEx context %p", (void *)Irp, Context);
        return STATUS_MORE_PROCESSING_REQUIRED;
    }
    Status = Ex->Routine(DeviceObject, Irp, Ex->Context);
    /* Only now, with the driver's routine returned, may its image go. */
    CompletionExRelease(Ex);
    return Status;
}

NTSTATUS
IoSetCompletionRoutineEx(PDEVICE_OBJECT DeviceObject, PIRP Irp, PIO_COMPLETION_ROUTINE CompletionRoutine,
                         PVOID Context, BOOLEAN InvokeOnSuccess, BOOLEAN InvokeOnError, BOOLEAN InvokeOnCancel)
{
    KSIM_COMPLETION_EX *Ex;
    KsimEnsureInitialized();
    if (!KsimCheckIrql("IoSetCompletionRoutineEx", DISPATCH_LEVEL) || !IrpIsValid(Irp, "IoSetCompletionRoutineEx"))
        return STATUS_INVALID_PARAMETER;
    if (DeviceObject == NULL || DeviceObject->Type != IO_TYPE_DEVICE || CompletionRoutine == NULL) {
        KsimVerifierFail("IoSetCompletionRoutineEx(%p, IRP %p, %p): a device object of the driver and a routine are "
                         "required",
                         (void *)DeviceObject, (void *)Irp, (void *)CompletionRoutine);
        return STATUS_INVALID_PARAMETER;
    }
    if (Irp->CurrentLocation <= 1) {
        KsimIrpStackUnderflow(Irp);
        return STATUS_INVALID_PARAMETER;
    }
    /* The kernel's small allocation: it can fail like any other. */
    if (KsimFaultInjectShouldFail("IoSetCompletionRoutineEx"))
        return STATUS_INSUFFICIENT_RESOURCES;
    Ex = (KSIM_COMPLETION_EX *)KsimHostAllocZero(sizeof(*Ex));
    if (!Ex)
        return STATUS_INSUFFICIENT_RESOURCES;
    Ex->Magic = KSIM_COMPLETION_EX_MAGIC;
    Ex->Routine = CompletionRoutine;
    Ex->Context = Context;
    Ex->DeviceObject = DeviceObject;
    __atomic_add_fetch(&CompletionExOutstanding, 1, __ATOMIC_SEQ_CST);
    /* A context left in the location by an earlier registration that never ran is leaked. */
    CompletionExDropUnrun(Irp, "IoSetCompletionRoutineEx");
    KsimIrpSetCompletionLocation(Irp, KsimUnloadSafeCompletion, Ex, InvokeOnSuccess, InvokeOnError, InvokeOnCancel);
    return STATUS_SUCCESS;
}

VOID
KsimIoSetCompletionRoutineCheck(PIRP Irp)
{
    /* Every KMDF driver ksim runs is non-PnP (WdfDriverCreate refuses the others). */
    if (KsimWdfDriverCreated())
        KsimVerifierFail("IoSetCompletionRoutine(IRP %p) in a non-PnP driver: use IoSetCompletionRoutineEx (SDV rule "
                         "IoSetCompletionRoutineNonPnpDriver): nothing keeps the driver's image loaded until the "
                         "routine has returned",
                         (void *)Irp);
}

uint64_t KsimCompletionExOutstanding(void)
{
    return __atomic_load_n(&CompletionExOutstanding, __ATOMIC_SEQ_CST);
}

static BOOLEAN CompletionExDrained(void *Context)
{
    UNREFERENCED_PARAMETER(Context);
    return __atomic_load_n(&CompletionExOutstanding, __ATOMIC_SEQ_CST) == 0;
}

void KsimWaitCompletionExDrained(void)
{
    KsimWaitOn(&CompletionExOutstanding, CompletionExDrained, NULL, UINT64_MAX);
}

static void IrpInitialize(PIRP Irp, CCHAR StackSize, UCHAR AllocationFlags)
{
    USHORT Size = (USHORT)(sizeof(IRP) + (size_t)StackSize * sizeof(IO_STACK_LOCATION));
    LIST_ENTRY Link = Irp->KsimLink;
    __builtin_memset(Irp, 0, Size);
    Irp->KsimLink = Link;
    Irp->Type = IO_TYPE_IRP;
    Irp->Size = Size;
    Irp->StackCount = StackSize;
    Irp->CurrentLocation = (CHAR)(StackSize + 1);
    Irp->AllocationFlags = AllocationFlags;
    Irp->ApcEnvironment = 0;
    InitializeListHead(&Irp->ThreadListEntry);
    Irp->Tail.Overlay.CurrentStackLocation = ((PIO_STACK_LOCATION)(Irp + 1)) + StackSize;
    Irp->KsimMagic = KSIM_IRP_MAGIC;
    Irp->KsimState = 0;
}

PIRP
IoAllocateIrp(CCHAR StackSize, BOOLEAN ChargeQuota)
{
    PIRP Irp;
    KsimEnsureInitialized();
    if (!KsimCheckIrql("IoAllocateIrp", DISPATCH_LEVEL))
        return NULL;
    if (StackSize < 1) {
        KsimVerifierFail("IoAllocateIrp: StackSize %d (at least one stack location is needed)", (int)StackSize);
        return NULL;
    }
    if (KsimFaultInjectShouldFail("IoAllocateIrp"))
        return NULL;
    Irp = KsimHostAllocZero(sizeof(IRP) + (size_t)StackSize * sizeof(IO_STACK_LOCATION));
    if (!Irp)
        return NULL;
    IrpInitialize(Irp, StackSize, ChargeQuota ? 0x04 : 0);
    KsimGlobalLock();
    InsertTailList(&IrpList, &Irp->KsimLink);
    IrpCount++;
    KsimGlobalUnlock();
    return Irp;
}

VOID
IoFreeIrp(PIRP Irp)
{
    LONG State;
    KsimCheckIrql("IoFreeIrp", DISPATCH_LEVEL);
    if (!IrpIsValid(Irp, "IoFreeIrp"))
        return;
    State = __atomic_load_n(&Irp->KsimState, __ATOMIC_SEQ_CST);
    if (State & KSIM_IRP_HELD) {
        /* On Windows the provider would later complete freed memory. The IRP is leaked so
         * that the simulation itself stays memory-safe. */
        KsimVerifierFail("IoFreeIrp(%p): the IRP is still pending in the driver it was passed to "
                         "(IoMarkIrpPending without IoCompleteRequest); it is leaked",
                         (void *)Irp);
        return;
    }
    if (Irp->CancelRoutine != NULL)
        KsimVerifierFail("IoFreeIrp(%p): the IRP still has a cancel routine", (void *)Irp);
    CompletionExDropUnrun(Irp, "IoFreeIrp");
    KsimGlobalLock();
    RemoveEntryList(&Irp->KsimLink);
    IrpCount--;
    KsimGlobalUnlock();
    Irp->KsimMagic = KSIM_IRP_FREED_MAGIC;
    Irp->Type = 0;
    KsimDeferredFree(Irp);
}

VOID
IoReuseIrp(PIRP Irp, NTSTATUS Iostatus)
{
    LONG State;
    KsimCheckIrql("IoReuseIrp", DISPATCH_LEVEL);
    if (!IrpIsValid(Irp, "IoReuseIrp"))
        return;
    State = __atomic_load_n(&Irp->KsimState, __ATOMIC_SEQ_CST);
    if (State & KSIM_IRP_HELD) {
        KsimVerifierFail("IoReuseIrp(%p): the IRP is still pending in the driver it was passed to", (void *)Irp);
        return;
    }
    if (Irp->CancelRoutine != NULL)
        KsimVerifierFail("IoReuseIrp(%p): the IRP still has a cancel routine", (void *)Irp);
    CompletionExDropUnrun(Irp, "IoReuseIrp");
    IrpInitialize(Irp, Irp->StackCount, Irp->AllocationFlags);
    Irp->IoStatus.Status = Iostatus;
}

VOID
KsimIrpStackUnderflow(PIRP Irp)
{
    /* NO_MORE_IRP_STACK_LOCATIONS (0x35) on Windows. */
    KsimVerifierFail("IoSetNextIrpStackLocation(%p): no stack location left (StackCount %d)", (void *)Irp,
                     (int)Irp->StackCount);
}

VOID
IoMarkIrpPending(PIRP Irp)
{
    if (!IrpIsValid(Irp, "IoMarkIrpPending"))
        return;
    if (Irp->CurrentLocation > Irp->StackCount) {
        KsimVerifierFail("IoMarkIrpPending(%p): the IRP has no current stack location; the driver that takes "
                         "an IRP moves to its location first (IoSetNextIrpStackLocation, as IoCallDriver does)",
                         (void *)Irp);
        return;
    }
    IoGetCurrentIrpStackLocation(Irp)->Control |= SL_PENDING_RETURNED;
    /* In a completion routine ("if (Irp->PendingReturned) IoMarkIrpPending(Irp)") the flag
     * only propagates; the IRP is not being held by anyone. */
    if (!(__atomic_load_n(&Irp->KsimState, __ATOMIC_SEQ_CST) & KSIM_IRP_COMPLETED))
        __atomic_fetch_or(&Irp->KsimState, KSIM_IRP_HELD, __ATOMIC_SEQ_CST);
}

VOID
KsimIrpProviderAccept(PIRP Irp)
{
    LONG State;
    if (!IrpIsValid(Irp, "KsimIrpProviderAccept"))
        return;
    State = __atomic_load_n(&Irp->KsimState, __ATOMIC_SEQ_CST);
    if (State & KSIM_IRP_HELD) {
        KsimVerifierFail("IRP %p passed to a WSK routine while it is still pending in an earlier call", (void *)Irp);
        return;
    }
    if (State & KSIM_IRP_COMPLETED) {
        KsimVerifierFail("IRP %p passed again after its completion without IoReuseIrp", (void *)Irp);
        return;
    }
    IoSetNextIrpStackLocation(Irp);
    IoMarkIrpPending(Irp);
}

VOID
IofCompleteRequest(PIRP Irp, CCHAR PriorityBoost)
{
    KIRQL Irql = KeGetCurrentIrql();
    LONG State;
    PIO_STACK_LOCATION StackPointer;
    UNREFERENCED_PARAMETER(PriorityBoost);

    KsimCheckIrql("IoCompleteRequest", DISPATCH_LEVEL);
    if (!IrpIsValid(Irp, "IoCompleteRequest"))
        return;
    KsimSwitchPoint(KsimSwitchIrpComplete);
    if (Irp->IoStatus.Status == STATUS_PENDING) {
        /* MULTIPLE_IRP_COMPLETE_REQUESTS-class bugcheck on Windows. */
        KsimVerifierFail("IoCompleteRequest(%p) with IoStatus.Status == STATUS_PENDING", (void *)Irp);
        return;
    }
    State = __atomic_load_n(&Irp->KsimState, __ATOMIC_SEQ_CST);
    if (State & KSIM_IRP_COMPLETED) {
        /* MULTIPLE_IRP_COMPLETE_REQUESTS (0x44) on Windows. */
        KsimVerifierFail("IoCompleteRequest(%p): the IRP was already completed", (void *)Irp);
        return;
    }
    if (Irp->CurrentLocation > Irp->StackCount) {
        KsimVerifierFail("IoCompleteRequest(%p): no driver took the IRP (CurrentLocation %d of %d); the driver that "
                         "completes an IRP must first move to its stack location (IoSetNextIrpStackLocation)",
                         (void *)Irp, (int)Irp->CurrentLocation, (int)Irp->StackCount);
        return;
    }
    State = __atomic_fetch_or(&Irp->KsimState, KSIM_IRP_COMPLETED, __ATOMIC_SEQ_CST);
    if (State & KSIM_IRP_COMPLETED) {
        KsimVerifierFail("IoCompleteRequest(%p): the IRP was already completed", (void *)Irp);
        return;
    }
    __atomic_fetch_and(&Irp->KsimState, ~KSIM_IRP_HELD, __ATOMIC_SEQ_CST);
    if (Irp->CancelRoutine != NULL) {
        KsimVerifierFail("IoCompleteRequest(%p): the IRP still has a cancel routine (IoSetCancelRoutine(Irp, NULL) "
                         "before completing)",
                         (void *)Irp);
        IoSetCancelRoutine(Irp, NULL);
    }

    /* Walk up the stack as the I/O manager does: each location's completion routine was set
     * by the driver above it and runs with that driver's location current. */
    for (StackPointer = IoGetCurrentIrpStackLocation(Irp), Irp->CurrentLocation++,
        Irp->Tail.Overlay.CurrentStackLocation++;
         Irp->CurrentLocation <= (CHAR)(Irp->StackCount + 1);
         StackPointer++, Irp->CurrentLocation++, Irp->Tail.Overlay.CurrentStackLocation++) {
        PIO_COMPLETION_ROUTINE Routine = StackPointer->CompletionRoutine;
        PVOID Context = StackPointer->Context;
        UCHAR Control = StackPointer->Control;
        BOOLEAN Invoke;

        Irp->PendingReturned = (BOOLEAN)((Control & SL_PENDING_RETURNED) != 0);
        Invoke = Routine != NULL &&
                 ((NT_SUCCESS(Irp->IoStatus.Status) && (Control & SL_INVOKE_ON_SUCCESS)) ||
                  (!NT_SUCCESS(Irp->IoStatus.Status) && (Control & SL_INVOKE_ON_ERROR)) ||
                  (Irp->Cancel && (Control & SL_INVOKE_ON_CANCEL)));
        StackPointer->MinorFunction = 0;
        StackPointer->Flags = 0;
        StackPointer->Control = 0;
        __builtin_memset(&StackPointer->Parameters, 0, sizeof(StackPointer->Parameters));
        StackPointer->FileObject = NULL;
        StackPointer->CompletionRoutine = NULL;
        StackPointer->Context = NULL;
        if (Invoke) {
            PDEVICE_OBJECT DeviceObject = NULL;
            NTSTATUS Status;
            if (Irp->CurrentLocation <= Irp->StackCount)
                DeviceObject = IoGetCurrentIrpStackLocation(Irp)->DeviceObject;
            Status = Routine(DeviceObject, Irp, Context);
            KsimCheckCallbackReturn("an IoCompletion routine", Irql);
            /* The routine owns the IRP again: it may have freed or reused it. */
            if (Status == STATUS_MORE_PROCESSING_REQUIRED)
                return;
        } else {
            if (Routine == KsimUnloadSafeCompletion && Context) {
                KsimVerifierFail("IoCompleteRequest(%p): the IoSetCompletionRoutineEx routine is not invoked for this "
                                 "outcome (its InvokeOn* flags): the kernel leaks its context",
                                 (void *)Irp);
                CompletionExRelease((KSIM_COMPLETION_EX *)Context);
            }
            if (Irp->PendingReturned && Irp->CurrentLocation <= Irp->StackCount)
                IoMarkIrpPendingLocation(Irp);
        }
    }
    /* Every IRP in ksim comes from IoAllocateIrp: there is no thread to complete it to. */
    KsimVerifierFail("IoCompleteRequest(%p): completion reached the I/O manager; the completion routine of an IRP "
                     "allocated with IoAllocateIrp must return STATUS_MORE_PROCESSING_REQUIRED",
                     (void *)Irp);
}

VOID
IoAcquireCancelSpinLock(PKIRQL Irql)
{
    KeAcquireSpinLock(&CancelSpinLock, Irql);
}

VOID
IoReleaseCancelSpinLock(KIRQL Irql)
{
    KeReleaseSpinLock(&CancelSpinLock, Irql);
}

BOOLEAN
IoCancelIrp(PIRP Irp)
{
    KIRQL Irql, Entry = KeGetCurrentIrql();
    PDRIVER_CANCEL Routine;
    PDEVICE_OBJECT DeviceObject = NULL;

    KsimCheckIrql("IoCancelIrp", DISPATCH_LEVEL);
    KsimTestHook(KsimHookCancelIrp, Irp);
    if (!IrpIsValid(Irp, "IoCancelIrp"))
        return FALSE;
    IoAcquireCancelSpinLock(&Irql);
    Irp->Cancel = TRUE;
    Routine = IoSetCancelRoutine(Irp, NULL);
    if (Routine == NULL) {
        IoReleaseCancelSpinLock(Irql);
        return FALSE;
    }
    if (Irp->CurrentLocation > (CHAR)(Irp->StackCount + 1)) {
        /* CANCEL_STATE_IN_COMPLETED_IRP (0x48) on Windows. */
        KsimVerifierFail("IoCancelIrp(%p): cancel routine set on an IRP past its last stack location", (void *)Irp);
        IoReleaseCancelSpinLock(Irql);
        return FALSE;
    }
    if (Irp->CurrentLocation <= Irp->StackCount)
        DeviceObject = IoGetCurrentIrpStackLocation(Irp)->DeviceObject;
    Irp->CancelIrql = Irql;
    /* Called with the cancel spin lock held; the routine releases it with
     * IoReleaseCancelSpinLock(Irp->CancelIrql). */
    Routine(DeviceObject, Irp);
    if (__atomic_load_n(&CancelSpinLock, __ATOMIC_SEQ_CST) == (ULONG_PTR)KsimCurrentThread()) {
        KsimVerifierFail("a cancel routine returned without releasing the cancel spin lock");
        IoReleaseCancelSpinLock(Irql);
    }
    KsimCheckCallbackReturn("a cancel routine", Entry);
    return TRUE;
}

uint64_t KsimIrpOutstanding(void)
{
    uint64_t Count;
    KsimGlobalLock();
    Count = IrpCount;
    KsimGlobalUnlock();
    return Count;
}

uint64_t KsimIrpReportLeaks(const char *When)
{
    uint64_t Count;
    PVOID First = NULL;
    KsimGlobalLock();
    Count = IrpCount;
    if (!IsListEmpty(&IrpList))
        First = CONTAINING_RECORD(IrpList.Flink, IRP, KsimLink);
    KsimGlobalUnlock();
    if (Count)
        KsimVerifierFail("IRP leak %s: %llu IRP(s) not freed (first %p)", When, (unsigned long long)Count, First);
    return Count;
}

/* ---- MDLs ---- */

typedef struct _KSIM_MDL {
    LIST_ENTRY Link;
    uint64_t Magic;
    MDL Mdl; /* last: the PFN array a real MDL carries would follow it */
} KSIM_MDL;

static KSIM_MDL *MdlOuter(PMDL Mdl)
{
    return CONTAINING_RECORD(Mdl, KSIM_MDL, Mdl);
}

static PMDL MdlAllocate(PVOID VirtualAddress, ULONG Length, BOOLEAN SecondaryBuffer, PIRP Irp)
{
    KSIM_MDL *Outer = KsimHostAllocZero(sizeof(*Outer));
    PMDL Mdl;
    ULONG Pages;
    if (!Outer)
        return NULL;
    Outer->Magic = KSIM_MDL_MAGIC;
    Mdl = &Outer->Mdl;
    Pages = (ULONG)((BYTE_OFFSET(VirtualAddress) + (ULONG_PTR)Length + PAGE_SIZE - 1) >> PAGE_SHIFT);
    Mdl->Size = (CSHORT)(sizeof(MDL) + sizeof(ULONG_PTR) * (Pages > 1024 ? 1024 : Pages));
    Mdl->StartVa = PAGE_ALIGN(VirtualAddress);
    Mdl->ByteOffset = BYTE_OFFSET(VirtualAddress);
    Mdl->ByteCount = Length;
    KsimGlobalLock();
    InsertTailList(&MdlList, &Outer->Link);
    MdlCount++;
    KsimGlobalUnlock();
    if (Irp) {
        if (!SecondaryBuffer) {
            Irp->MdlAddress = Mdl;
        } else {
            PMDL Tail = Irp->MdlAddress;
            if (!Tail) {
                Irp->MdlAddress = Mdl;
            } else {
                while (Tail->Next)
                    Tail = Tail->Next;
                Tail->Next = Mdl;
            }
        }
    }
    return Mdl;
}

PMDL
IoAllocateMdl(PVOID VirtualAddress, ULONG Length, BOOLEAN SecondaryBuffer, BOOLEAN ChargeQuota, PIRP Irp)
{
    UNREFERENCED_PARAMETER(ChargeQuota);
    KsimEnsureInitialized();
    if (!KsimCheckIrql("IoAllocateMdl", DISPATCH_LEVEL))
        return NULL;
    if (Irp && !IrpIsValid(Irp, "IoAllocateMdl"))
        return NULL;
    if (KsimFaultInjectShouldFail("IoAllocateMdl"))
        return NULL;
    return MdlAllocate(VirtualAddress, Length, SecondaryBuffer, Irp);
}

PMDL KsimMdlAllocateInternal(PVOID VirtualAddress, ULONG Length)
{
    PMDL Mdl;
    KsimEnsureInitialized();
    Mdl = MdlAllocate(VirtualAddress, Length, FALSE, NULL);
    if (Mdl)
        MmBuildMdlForNonPagedPool(Mdl);
    return Mdl;
}

static BOOLEAN MdlIsValid(PMDL Mdl, const char *Routine)
{
    KSIM_MDL *Outer;
    if (Mdl == NULL) {
        KsimVerifierFail("%s(NULL MDL)", Routine);
        return FALSE;
    }
    Outer = MdlOuter(Mdl);
    if (Outer->Magic == KSIM_MDL_FREED) {
        KsimVerifierFail("%s(%p): the MDL was freed with IoFreeMdl", Routine, (void *)Mdl);
        return FALSE;
    }
    if (Outer->Magic != KSIM_MDL_MAGIC) {
        KsimVerifierFail("%s(%p): not an MDL from IoAllocateMdl", Routine, (void *)Mdl);
        return FALSE;
    }
    return TRUE;
}

VOID
IoFreeMdl(PMDL Mdl)
{
    KSIM_MDL *Outer;
    KsimCheckIrql("IoFreeMdl", DISPATCH_LEVEL);
    if (!MdlIsValid(Mdl, "IoFreeMdl"))
        return;
    Outer = MdlOuter(Mdl);
    KsimGlobalLock();
    RemoveEntryList(&Outer->Link);
    MdlCount--;
    KsimGlobalUnlock();
    Outer->Magic = KSIM_MDL_FREED;
    KsimDeferredFree(Outer);
}

VOID
MmBuildMdlForNonPagedPool(PMDL MemoryDescriptorList)
{
    KsimCheckIrql("MmBuildMdlForNonPagedPool", DISPATCH_LEVEL);
    if (!MdlIsValid(MemoryDescriptorList, "MmBuildMdlForNonPagedPool"))
        return;
    if (MemoryDescriptorList->MdlFlags & (MDL_MAPPED_TO_SYSTEM_VA | MDL_PAGES_LOCKED | MDL_PARTIAL)) {
        KsimVerifierFail("MmBuildMdlForNonPagedPool(%p): the MDL already describes locked or mapped pages",
                         (void *)MemoryDescriptorList);
        return;
    }
    MemoryDescriptorList->MappedSystemVa = MmGetMdlVirtualAddress(MemoryDescriptorList);
    MemoryDescriptorList->MdlFlags |= MDL_SOURCE_IS_NONPAGED_POOL;
    MemoryDescriptorList->Process = NULL;
}

PVOID
MmGetSystemAddressForMdlSafe(PMDL Mdl, ULONG Priority)
{
    UNREFERENCED_PARAMETER(Priority);
    KsimCheckIrql("MmGetSystemAddressForMdlSafe", DISPATCH_LEVEL);
    if (!MdlIsValid(Mdl, "MmGetSystemAddressForMdlSafe"))
        return NULL;
    if (!(Mdl->MdlFlags & (MDL_MAPPED_TO_SYSTEM_VA | MDL_SOURCE_IS_NONPAGED_POOL))) {
        /* Mapping pages that were never locked is a bugcheck on Windows. */
        KsimVerifierFail("MmGetSystemAddressForMdlSafe(%p): the MDL describes no locked pages "
                         "(MmBuildMdlForNonPagedPool was not called)",
                         (void *)Mdl);
        return NULL;
    }
    return Mdl->MappedSystemVa;
}

uint64_t KsimMdlOutstanding(void)
{
    uint64_t Count;
    KsimGlobalLock();
    Count = MdlCount;
    KsimGlobalUnlock();
    return Count;
}

uint64_t KsimMdlReportLeaks(const char *When)
{
    uint64_t Count;
    PVOID First = NULL;
    KsimGlobalLock();
    Count = MdlCount;
    if (!IsListEmpty(&MdlList))
        First = &CONTAINING_RECORD(MdlList.Flink, KSIM_MDL, Link)->Mdl;
    KsimGlobalUnlock();
    if (Count)
        KsimVerifierFail("MDL leak %s: %llu MDL(s) not freed (first %p)", When, (unsigned long long)Count, First);
    return Count;
}

/* SPDX-License-Identifier: MIT
 *
 * ksim KMDF object model: creation with attributes and typed contexts, the parent/child
 * tree, deletion (children first, then EvtCleanupCallback), references and
 * EvtDestroyCallback at the last one. Deleted objects stay in a quarantine for a while with
 * a poisoned magic, so that a stale handle is reported instead of reading reused memory.
 */
#include "wdf_internal.h"

#define KSIM_WDF_MAGIC 0x6A624F6664576B53ULL
#define KSIM_WDF_DEAD 0x646165446664576BULL
#define KSIM_WDF_QUARANTINE 4096

static KSIM_HOST_MUTEX *FxMutex;
static KSIM_WDF_OBJECT *Quarantine[KSIM_WDF_QUARANTINE];
static unsigned QuarantineNext;

void KsimWdfInitialize(void)
{
    FxMutex = KsimHostMutexCreate();
}

void KsimFxLock(void)
{
    KsimEnsureInitialized();
    KsimHostMutexLock(FxMutex);
    KsimCurrentThread()->HostLocksHeld++;
}

void KsimFxUnlock(void)
{
    KsimCurrentThread()->HostLocksHeld--;
    KsimHostMutexUnlock(FxMutex);
}

const char *KsimWdfTypeName(KSIM_WDF_TYPE Type)
{
    switch (Type) {
    case KsimWdfTypeDriver:
        return "WDFDRIVER";
    case KsimWdfTypeDevice:
        return "WDFDEVICE";
    case KsimWdfTypeQueue:
        return "WDFQUEUE";
    case KsimWdfTypeRequest:
        return "WDFREQUEST";
    case KsimWdfTypeFile:
        return "WDFFILEOBJECT";
    }
    return "WDFOBJECT";
}

NTSTATUS KsimWdfObjectCreate(KSIM_WDF_TYPE Type, size_t Size, PWDF_OBJECT_ATTRIBUTES Attributes,
                             KSIM_WDF_OBJECT *Parent, const char *Routine, KSIM_WDF_OBJECT **OutObject)
{
    size_t ContextSize = 0, HeaderSize = (Size + 15) & ~(size_t)15;
    KSIM_WDF_OBJECT *Object;

    *OutObject = NULL;
    if (Attributes) {
        if (Attributes->Size != sizeof(WDF_OBJECT_ATTRIBUTES)) {
            KsimVerifierFail("%s: WDF_OBJECT_ATTRIBUTES.Size is %u, expected %u (use WDF_OBJECT_ATTRIBUTES_INIT)",
                             Routine, (unsigned)Attributes->Size, (unsigned)sizeof(WDF_OBJECT_ATTRIBUTES));
            return STATUS_INVALID_PARAMETER;
        }
        if (Attributes->ContextTypeInfo) {
            PCWDF_OBJECT_CONTEXT_TYPE_INFO Info = Attributes->ContextTypeInfo;
            if (Info->Size != sizeof(WDF_OBJECT_CONTEXT_TYPE_INFO) || Info->ContextSize == 0) {
                KsimVerifierFail("%s: invalid context type information", Routine);
                return STATUS_INVALID_PARAMETER;
            }
            ContextSize = Info->ContextSize;
            if (Attributes->ContextSizeOverride) {
                if (Attributes->ContextSizeOverride < Info->ContextSize) {
                    KsimVerifierFail("%s: ContextSizeOverride %llu is smaller than the context type (%llu)",
                                     Routine, (unsigned long long)Attributes->ContextSizeOverride,
                                     (unsigned long long)Info->ContextSize);
                    return STATUS_INVALID_PARAMETER;
                }
                ContextSize = Attributes->ContextSizeOverride;
            }
        } else if (Attributes->ContextSizeOverride) {
            KsimVerifierFail("%s: ContextSizeOverride without ContextTypeInfo", Routine);
            return STATUS_INVALID_PARAMETER;
        }
        if (Attributes->ExecutionLevel != WdfExecutionLevelInheritFromParent &&
            Attributes->ExecutionLevel != WdfExecutionLevelPassive) {
            KsimVerifierFail("%s: ExecutionLevel %d is not implemented by ksim (InheritFromParent or Passive)",
                             Routine, (int)Attributes->ExecutionLevel);
            return STATUS_NOT_SUPPORTED;
        }
        if (Attributes->SynchronizationScope != WdfSynchronizationScopeInheritFromParent &&
            Attributes->SynchronizationScope != WdfSynchronizationScopeNone) {
            KsimVerifierFail("%s: SynchronizationScope %d is not implemented by ksim (InheritFromParent or None)",
                             Routine, (int)Attributes->SynchronizationScope);
            return STATUS_NOT_SUPPORTED;
        }
        if (Attributes->ParentObject != NULL &&
            (Parent == NULL || (KSIM_WDF_OBJECT *)Attributes->ParentObject != Parent)) {
            KsimVerifierFail("%s: ParentObject must be NULL for this object (its parent is fixed by KMDF)", Routine);
            return STATUS_INVALID_PARAMETER;
        }
    }
    Object = KsimHostAllocZero(HeaderSize + ContextSize);
    if (!Object)
        return STATUS_INSUFFICIENT_RESOURCES;
    Object->Magic = KSIM_WDF_MAGIC;
    Object->Type = Type;
    Object->References = 1;
    InitializeListHead(&Object->Children);
    InitializeListHead(&Object->SiblingLink);
    if (Attributes) {
        Object->EvtCleanupCallback = Attributes->EvtCleanupCallback;
        Object->EvtDestroyCallback = Attributes->EvtDestroyCallback;
        Object->ContextType = Attributes->ContextTypeInfo;
    }
    if (ContextSize)
        Object->Context = (PUCHAR)Object + HeaderSize;
    if (Parent) {
        KsimFxLock();
        Object->Parent = Parent;
        InsertTailList(&Parent->Children, &Object->SiblingLink);
        KsimFxUnlock();
    }
    *OutObject = Object;
    return STATUS_SUCCESS;
}

KSIM_WDF_OBJECT *KsimWdfObjectFromHandle(WDFOBJECT Handle, KSIM_WDF_TYPE Type, const char *Routine)
{
    KSIM_WDF_OBJECT *Object = Handle;
    if (Object == NULL) {
        KsimVerifierFail("%s: NULL handle", Routine);
        return NULL;
    }
    if (Object->Magic == KSIM_WDF_DEAD) {
        if (Object->Type == KsimWdfTypeRequest)
            KsimVerifierFail("%s: request %p was already completed (completed twice, or used after its completion)",
                             Routine, Handle);
        else
            KsimVerifierFail("%s: handle %p is of a %s that was deleted", Routine, Handle, KsimWdfTypeName(Object->Type));
        return NULL;
    }
    if (Object->Magic != KSIM_WDF_MAGIC) {
        KsimVerifierFail("%s: %p is not a WDF handle", Routine, Handle);
        return NULL;
    }
    if (Type != 0 && Object->Type != Type) {
        KsimVerifierFail("%s: handle %p is a %s, expected a %s", Routine, Handle, KsimWdfTypeName(Object->Type),
                         KsimWdfTypeName(Type));
        return NULL;
    }
    return Object;
}

static void ObjectFree(KSIM_WDF_OBJECT *Object)
{
    KSIM_WDF_OBJECT *Evicted;
    Object->Magic = KSIM_WDF_DEAD;
    KsimFxLock();
    Evicted = Quarantine[QuarantineNext];
    Quarantine[QuarantineNext] = Object;
    QuarantineNext = (QuarantineNext + 1) % KSIM_WDF_QUARANTINE;
    KsimFxUnlock();
    if (Evicted)
        KsimHostFree(Evicted);
}

void KsimWdfObjectReference(KSIM_WDF_OBJECT *Object)
{
    __atomic_add_fetch(&Object->References, 1, __ATOMIC_SEQ_CST);
}

void KsimWdfObjectDereference(KSIM_WDF_OBJECT *Object)
{
    LONG References = __atomic_sub_fetch(&Object->References, 1, __ATOMIC_SEQ_CST);
    if (References > 0)
        return;
    if (References < 0 || !Object->Deleting) {
        KsimVerifierFail("WdfObjectDereference: %s %p dereferenced more often than referenced", KsimWdfTypeName(Object->Type),
                         (void *)Object);
        __atomic_add_fetch(&Object->References, 1, __ATOMIC_SEQ_CST);
        return;
    }
    if (Object->EvtDestroyCallback) {
        KIRQL Irql = KeGetCurrentIrql();
        Object->EvtDestroyCallback((WDFOBJECT)Object);
        KsimCheckCallbackReturn("EvtDestroyCallback", Irql);
    }
    if (Object->FrameworkDestroy)
        Object->FrameworkDestroy(Object);
    ObjectFree(Object);
}

void KsimWdfObjectDelete(KSIM_WDF_OBJECT *Object)
{
    KsimFxLock();
    if (Object->Deleting) {
        KsimFxUnlock();
        return;
    }
    Object->Deleting = TRUE;
    KsimFxUnlock();

    /* Children go first, each with its own cleanup, as KMDF deletes a tree bottom-up. */
    for (;;) {
        KSIM_WDF_OBJECT *Child;
        KsimFxLock();
        if (IsListEmpty(&Object->Children)) {
            KsimFxUnlock();
            break;
        }
        Child = CONTAINING_RECORD(RemoveHeadList(&Object->Children), KSIM_WDF_OBJECT, SiblingLink);
        InitializeListHead(&Child->SiblingLink);
        KsimFxUnlock();
        KsimWdfObjectDelete(Child);
    }
    if (Object->FrameworkCleanup)
        Object->FrameworkCleanup(Object);
    if (Object->EvtCleanupCallback) {
        KIRQL Irql = KeGetCurrentIrql();
        Object->EvtCleanupCallback((WDFOBJECT)Object);
        KsimCheckCallbackReturn("EvtCleanupCallback", Irql);
    }
    KsimFxLock();
    if (!IsListEmpty(&Object->SiblingLink)) {
        RemoveEntryList(&Object->SiblingLink);
        InitializeListHead(&Object->SiblingLink);
    }
    KsimFxUnlock();
    KsimWdfObjectDereference(Object);
}

PVOID
WdfObjectGetTypedContextWorker(WDFOBJECT Handle, PCWDF_OBJECT_CONTEXT_TYPE_INFO TypeInfo)
{
    KSIM_WDF_OBJECT *Object = KsimWdfObjectFromHandle(Handle, 0, "WdfObjectGetTypedContext");
    if (!Object)
        return NULL;
    if (Object->ContextType && TypeInfo &&
        (Object->ContextType == TypeInfo || Object->ContextType->UniqueType == TypeInfo->UniqueType ||
         (Object->ContextType->ContextName && TypeInfo->ContextName &&
          __builtin_strcmp(Object->ContextType->ContextName, TypeInfo->ContextName) == 0)))
        return Object->Context;
    KsimVerifierFail("WdfObjectGetTypedContext: %s %p has no context of type %s", KsimWdfTypeName(Object->Type),
                     Handle, TypeInfo && TypeInfo->ContextName ? TypeInfo->ContextName : "(null)");
    return NULL;
}

VOID
WdfObjectDelete(WDFOBJECT Handle)
{
    KSIM_WDF_OBJECT *Object;
    KsimCheckIrql("WdfObjectDelete", DISPATCH_LEVEL);
    Object = KsimWdfObjectFromHandle(Handle, 0, "WdfObjectDelete");
    if (!Object)
        return;
    if (!Object->DriverMayDelete) {
        KsimVerifierFail("WdfObjectDelete: a driver may not delete this %s (%s)", KsimWdfTypeName(Object->Type),
                         Object->Type == KsimWdfTypeRequest ? "complete it instead"
                                                            : "the framework deletes it");
        return;
    }
    KsimWdfObjectDelete(Object);
}

VOID
WdfObjectReferenceActual(WDFOBJECT Handle, PVOID Tag, LONG Line, PCHAR File)
{
    KSIM_WDF_OBJECT *Object;
    UNREFERENCED_PARAMETER(Tag);
    UNREFERENCED_PARAMETER(Line);
    UNREFERENCED_PARAMETER(File);
    Object = KsimWdfObjectFromHandle(Handle, 0, "WdfObjectReference");
    if (Object)
        KsimWdfObjectReference(Object);
}

VOID
WdfObjectDereferenceActual(WDFOBJECT Handle, PVOID Tag, LONG Line, PCHAR File)
{
    KSIM_WDF_OBJECT *Object;
    UNREFERENCED_PARAMETER(Tag);
    Object = KsimWdfObjectFromHandle(Handle, 0, "WdfObjectDereference");
    if (!Object)
        return;
    if (__atomic_load_n(&Object->References, __ATOMIC_SEQ_CST) <= 1 && !Object->Deleting) {
        KsimVerifierFail("WdfObjectDereference at %s:%d: %s %p has no reference of the driver's to drop", File,
                         (int)Line, KsimWdfTypeName(Object->Type), Handle);
        return;
    }
    KsimWdfObjectDereference(Object);
}

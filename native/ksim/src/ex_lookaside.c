/* SPDX-License-Identifier: MIT
 *
 * ksim lookaside lists: ExInitializeLookasideListEx, ExAllocateFromLookasideListEx,
 * ExFreeToLookasideListEx, ExDeleteLookasideListEx. Windows keeps up to Depth freed entries on
 * the list and hands them out again; ksim keeps none, which a driver cannot tell apart (a
 * lookaside list may always go to the pool) and which keeps every allocation a fault-injection
 * point counted by its tag, and every free under the pool's guard, poison and quarantine. Entries
 * are not zeroed (Windows' are not either: a recycled entry holds what its last user left), so
 * ksim fills them with 0xCD as POOL_FLAG_UNINITIALIZED. Stricter than Windows: an entry still
 * allocated when the list is deleted, and a list never deleted before unload, are verifier
 * failures (Windows leaks the entry, or the list's pages).
 */
#include "ksim_internal.h"

#define KSIM_LOOKASIDE_LIVE 0x6B6F6F4C6D69536BULL    /* "kSimLook" */
#define KSIM_LOOKASIDE_DELETED 0x646C654C6D69536BULL /* "kSimLeld" */

static LIST_ENTRY LiveLists = { &LiveLists, &LiveLists };

static BOOLEAN ListIsLive(PLOOKASIDE_LIST_EX Lookaside, const char *Routine)
{
    if (Lookaside == NULL) {
        KsimVerifierFail("%s: NULL lookaside list", Routine);
        return FALSE;
    }
    if (Lookaside->KsimMagic == KSIM_LOOKASIDE_DELETED) {
        KsimVerifierFail("%s(%p): the lookaside list was deleted", Routine, (void *)Lookaside);
        return FALSE;
    }
    if (Lookaside->KsimMagic != KSIM_LOOKASIDE_LIVE) {
        KsimVerifierFail("%s(%p): not a lookaside list initialized by ExInitializeLookasideListEx", Routine,
                         (void *)Lookaside);
        return FALSE;
    }
    return TRUE;
}

static POOL_FLAGS PoolFlagsOf(POOL_TYPE PoolType)
{
    return PoolType == PagedPool ? POOL_FLAG_PAGED
           : PoolType == NonPagedPoolNx ? POOL_FLAG_NON_PAGED
                                        : POOL_FLAG_NON_PAGED_EXECUTE;
}

NTSTATUS
ExInitializeLookasideListEx(PLOOKASIDE_LIST_EX Lookaside, PALLOCATE_FUNCTION_EX Allocate, PFREE_FUNCTION_EX Free,
                            POOL_TYPE PoolType, ULONG Flags, SIZE_T Size, ULONG Tag, USHORT Depth)
{
    KsimEnsureInitialized();
    if (!KsimCheckIrql("ExInitializeLookasideListEx", DISPATCH_LEVEL))
        return STATUS_INVALID_PARAMETER;
    if (Lookaside == NULL) {
        KsimVerifierFail("ExInitializeLookasideListEx: NULL lookaside list");
        return STATUS_INVALID_PARAMETER;
    }
    if (Lookaside->KsimMagic == KSIM_LOOKASIDE_LIVE) {
        KsimVerifierFail("ExInitializeLookasideListEx(%p): the list is initialized already (not deleted)",
                         (void *)Lookaside);
        return STATUS_INVALID_PARAMETER;
    }
    if (PoolType != NonPagedPool && PoolType != PagedPool && PoolType != NonPagedPoolNx) {
        KsimVerifierFail("ExInitializeLookasideListEx: PoolType %d is not one ksim knows (NonPagedPoolNx, "
                         "NonPagedPool, PagedPool)",
                         (int)PoolType);
        return STATUS_INVALID_PARAMETER;
    }
    if (Flags & ~(EX_LOOKASIDE_LIST_EX_FLAG_RAISE_ON_FAIL | EX_LOOKASIDE_LIST_EX_FLAG_FAIL_NO_RAISE)) {
        KsimVerifierFail("ExInitializeLookasideListEx: unknown Flags 0x%lx", (unsigned long)Flags);
        return STATUS_INVALID_PARAMETER;
    }
    if (Flags & EX_LOOKASIDE_LIST_EX_FLAG_RAISE_ON_FAIL) {
        KsimVerifierFail("ExInitializeLookasideListEx: EX_LOOKASIDE_LIST_EX_FLAG_RAISE_ON_FAIL is not supported by "
                         "ksim (no SEH)");
        return STATUS_INVALID_PARAMETER;
    }
    if (Size < sizeof(SINGLE_LIST_ENTRY) || Tag == 0) {
        KsimVerifierFail("ExInitializeLookasideListEx: Size %llu (at least a SINGLE_LIST_ENTRY) and a non-zero Tag "
                         "are required",
                         (unsigned long long)Size);
        return STATUS_INVALID_PARAMETER;
    }
    __builtin_memset(Lookaside, 0, sizeof(*Lookaside));
    Lookaside->Allocate = Allocate;
    Lookaside->Free = Free;
    Lookaside->PoolType = PoolType;
    Lookaside->Flags = Flags;
    Lookaside->Size = Size;
    Lookaside->Tag = Tag;
    Lookaside->Depth = Depth;
    Lookaside->KsimMagic = KSIM_LOOKASIDE_LIVE;
    KsimGlobalLock();
    InsertTailList(&LiveLists, &Lookaside->KsimLink);
    KsimGlobalUnlock();
    return STATUS_SUCCESS;
}

PVOID
ExAllocateFromLookasideListEx(PLOOKASIDE_LIST_EX Lookaside)
{
    PVOID Entry;
    if (!KsimCheckIrql("ExAllocateFromLookasideListEx", DISPATCH_LEVEL) ||
        !ListIsLive(Lookaside, "ExAllocateFromLookasideListEx"))
        return NULL;
    if (Lookaside->Allocate)
        Entry = Lookaside->Allocate(Lookaside->PoolType, Lookaside->Size, Lookaside->Tag, Lookaside);
    else
        Entry = ExAllocatePool2(PoolFlagsOf(Lookaside->PoolType) | POOL_FLAG_UNINITIALIZED, Lookaside->Size,
                                Lookaside->Tag);
    if (Entry)
        __atomic_add_fetch(&Lookaside->Outstanding, 1, __ATOMIC_SEQ_CST);
    return Entry;
}

VOID
ExFreeToLookasideListEx(PLOOKASIDE_LIST_EX Lookaside, PVOID Entry)
{
    if (!KsimCheckIrql("ExFreeToLookasideListEx", DISPATCH_LEVEL) || !ListIsLive(Lookaside, "ExFreeToLookasideListEx"))
        return;
    if (Entry == NULL) {
        KsimVerifierFail("ExFreeToLookasideListEx(%p, NULL)", (void *)Lookaside);
        return;
    }
    if (__atomic_sub_fetch(&Lookaside->Outstanding, 1, __ATOMIC_SEQ_CST) < 0) {
        KsimVerifierFail("ExFreeToLookasideListEx(%p, %p): more entries freed to the list than allocated from it",
                         (void *)Lookaside, Entry);
        __atomic_add_fetch(&Lookaside->Outstanding, 1, __ATOMIC_SEQ_CST);
    }
    if (Lookaside->Free)
        Lookaside->Free(Entry, Lookaside);
    else
        ExFreePoolWithTag(Entry, Lookaside->Tag); /* checks the tag: an entry of another list is caught */
}

VOID
ExDeleteLookasideListEx(PLOOKASIDE_LIST_EX Lookaside)
{
    LONG64 Left;
    char Text[5];
    if (!KsimCheckIrql("ExDeleteLookasideListEx", DISPATCH_LEVEL) || !ListIsLive(Lookaside, "ExDeleteLookasideListEx"))
        return;
    Left = __atomic_load_n(&Lookaside->Outstanding, __ATOMIC_SEQ_CST);
    if (Left != 0) {
        KsimVerifierFail("ExDeleteLookasideListEx(%p): %lld entr%s of tag '%s' allocated from the list %s never "
                         "freed to it",
                         (void *)Lookaside, (long long)Left, Left == 1 ? "y" : "ies", KsimTagText(Lookaside->Tag, Text),
                         Left == 1 ? "was" : "were");
    }
    KsimGlobalLock();
    RemoveEntryList(&Lookaside->KsimLink);
    KsimGlobalUnlock();
    Lookaside->KsimMagic = KSIM_LOOKASIDE_DELETED;
}

uint64_t KsimLookasideReportLeaks(const char *When)
{
    uint64_t Count = 0;
    PVOID First = NULL;
    PLIST_ENTRY Link;
    KsimGlobalLock();
    for (Link = LiveLists.Flink; Link != &LiveLists; Link = Link->Flink) {
        if (!First)
            First = CONTAINING_RECORD(Link, LOOKASIDE_LIST_EX, KsimLink);
        Count++;
    }
    KsimGlobalUnlock();
    if (Count)
        KsimVerifierFail("lookaside list leak %s: %llu list(s) never deleted with ExDeleteLookasideListEx (first %p)",
                         When, (unsigned long long)Count, First);
    return Count;
}

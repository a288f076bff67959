/* SPDX-License-Identifier: MIT
 *
 * ksim pool: ExAllocatePool2 / ExFreePoolWithTag over the host heap, with what Driver
 * Verifier's special pool and pool tracking give on Windows: a header per block (tag, size,
 * magic), a guard after the block, per-tag accounting for leak reports, poisoning and a
 * quarantine of freed blocks to catch double frees and writes after free.
 *
 * How much of a freed block is poisoned (and checked when it leaves the quarantine) is
 * KSIM_POOL_CHECK: "full" (what the test suites set) poisons and checks every byte; the default,
 * "sampled", does so for blocks up to KSIM_POOL_SAMPLE_MIN bytes and, for larger ones (the WSK
 * provider's 64 KiB receive buffers), for the first and last KSIM_POOL_EDGE bytes plus one
 * KSIM_POOL_LINE-byte line in every 4 KiB page at an offset drawn per block. A stale pointer
 * writing a structure's fields, a list link or a length is caught either way (small blocks are
 * always checked whole, and the edges of large ones); a stray write into the middle of a large
 * buffer is caught in sampled mode only when it hits a sampled line (one in 64). The 0xCD fill
 * of POOL_FLAG_UNINITIALIZED blocks follows the same rule. Blocks from the OS's pages (from
 * 256 KiB, host_sync.h) get their edges only in sampled mode: they are inaccessible once they
 * leave the quarantine (or at once, when too large for it), so a stale pointer into their middle
 * faults then. Checks compare eight bytes at a time. Measured effect: docs/performance.md,
 * "Event path: fewer copies"; docs/reliability.md section 10 for the fuzzer.
 */
#include "ksim_internal.h"

#define KSIM_POOL_LIVE 0x4C6F6F506D69536BULL  /* "kSimPooL" */
#define KSIM_POOL_FREED 0x44656572466D6953ULL /* "SimFreeD" */
#define KSIM_POOL_GUARD 0xA5C3E10FB4D29687ULL
#define KSIM_POOL_FREE_FILL 0xDD
#define KSIM_POOL_UNINITIALIZED_FILL 0xCD
#define KSIM_POOL_TAGS 1024
#define KSIM_QUARANTINE_BLOCKS 1024
#define KSIM_QUARANTINE_BYTES (16u << 20)
#define KSIM_POOL_SAMPLE_MIN 4096u /* blocks up to this size are always poisoned whole */
#define KSIM_POOL_EDGE 1024u       /* sampled mode: bytes poisoned at each end of a larger block */
#define KSIM_POOL_LINE 64u         /* sampled mode: and one line of this size per 4 KiB page */
#define KSIM_POOL_PAGE 4096u

typedef struct _KSIM_POOL_HEADER {
    LIST_ENTRY Link;
    uint64_t Magic;
    SIZE_T Size;
    uint64_t Sequence;
    ULONG Tag;
    BOOLEAN Paged;
    BOOLEAN Reported;
    UCHAR Reserved[18];
} KSIM_POOL_HEADER;
_Static_assert(sizeof(KSIM_POOL_HEADER) % 16 == 0, "pool blocks stay 16-byte aligned, as on x64 Windows");

typedef struct _KSIM_POOL_TAG {
    ULONG Tag;
    uint64_t Blocks;
    uint64_t Bytes;
} KSIM_POOL_TAG;

static KSIM_HOST_MUTEX *PoolLock;
static LIST_ENTRY PoolBlocks;
static KSIM_POOL_TAG PoolTags[KSIM_POOL_TAGS];
static uint64_t PoolOutstanding, PoolBytes, PoolTotal, PoolSequence;
static KSIM_POOL_HEADER *Quarantine[KSIM_QUARANTINE_BLOCKS];
static unsigned QuarantineHead, QuarantineCount;
static size_t QuarantineBytes;
static BOOLEAN PoolCheckFull;

void KsimPoolInitialize(void)
{
    const char *Check = KsimHostGetEnv("KSIM_POOL_CHECK");
    PoolLock = KsimHostMutexCreate();
    InitializeListHead(&PoolBlocks);
    PoolCheckFull = Check != NULL && __builtin_strcmp(Check, "full") == 0;
}

int KsimPoolCheckIsFull(void)
{
    return PoolCheckFull;
}

/* For ksim's own tests of both modes; blocks already in the quarantine keep the regions they
 * were poisoned with, so the caller flushes it (KsimPoolFlushQuarantine) before switching. */
void KsimPoolSetCheckFull(int Full)
{
    KsimEnsureInitialized();
    PoolCheckFull = Full != 0;
}

/* Calls Visit(Data + Offset, Length, Context) on each region of a block that is filled (and
 * checked) under the current KSIM_POOL_CHECK mode, in ascending order, until Visit returns FALSE.
 * The sampled line of page i sits at a per-block offset (from Seed), so that a write that misses
 * the lines of one block can hit those of the next. */
/* The host block behind a pool block of Size bytes: header, data, guard. */
static SIZE_T PoolHostBytes(SIZE_T Size)
{
    return sizeof(KSIM_POOL_HEADER) + Size + sizeof(uint64_t);
}

typedef BOOLEAN KSIM_POOL_REGION_VISIT(PUCHAR Region, SIZE_T Length, SIZE_T Offset, void *Context);

static BOOLEAN ForEachCheckedRegion(PUCHAR Data, SIZE_T Size, uint64_t Seed, KSIM_POOL_REGION_VISIT *Visit,
                                    void *Context)
{
    SIZE_T Page, Line;
    if (PoolCheckFull || Size <= KSIM_POOL_SAMPLE_MIN)
        return Visit(Data, Size, 0, Context);
    if (!Visit(Data, KSIM_POOL_EDGE, 0, Context))
        return FALSE;
    if (KsimHostBlockFromPages(PoolHostBytes(Size))) {
        /* A block from the OS's pages (KsimHostBlockAlloc): the edges only. A line in every page would
         * commit every page of a 4 MiB event ring the driver has barely used (most of a fuzzed
         * input's time), and such a block is inaccessible once it leaves the quarantine, so a
         * stale pointer into its middle faults then. Blocks too large for the quarantine (freed
         * at once, never checked) only come here for the 0xCD fill of an uninitialized block. */
        return Visit(Data + Size - KSIM_POOL_EDGE, KSIM_POOL_EDGE, Size - KSIM_POOL_EDGE, Context);
    }
    Line = (SIZE_T)((Seed * 0x9E3779B97F4A7C15ull) >> 58) * KSIM_POOL_LINE % KSIM_POOL_PAGE;
    for (Page = 0; Page < Size; Page += KSIM_POOL_PAGE) {
        SIZE_T At = Page + Line;
        if (At < KSIM_POOL_EDGE || At + KSIM_POOL_LINE > Size - KSIM_POOL_EDGE)
            continue;
        if (!Visit(Data + At, KSIM_POOL_LINE, At, Context))
            return FALSE;
    }
    return Visit(Data + Size - KSIM_POOL_EDGE, KSIM_POOL_EDGE, Size - KSIM_POOL_EDGE, Context);
}

static BOOLEAN FillRegion(PUCHAR Region, SIZE_T Length, SIZE_T Offset, void *Context)
{
    UNREFERENCED_PARAMETER(Offset);
    __builtin_memset(Region, (int)(uintptr_t)Context, Length);
    return TRUE;
}

/* Word-wise comparison with the free fill; on a mismatch, the block offset of the first
 * differing byte goes to *Context and the walk stops. */
static BOOLEAN CheckRegion(PUCHAR Region, SIZE_T Length, SIZE_T Offset, void *Context)
{
    const uint64_t Fill = 0x0101010101010101ull * KSIM_POOL_FREE_FILL;
    SIZE_T i = 0;
    for (; i + 8 <= Length; i += 8) {
        uint64_t Word;
        __builtin_memcpy(&Word, Region + i, sizeof(Word));
        if (Word != Fill)
            break;
    }
    for (; i < Length; ++i) {
        if (Region[i] != KSIM_POOL_FREE_FILL) {
            *(SIZE_T *)Context = Offset + i;
            return FALSE;
        }
    }
    return TRUE;
}

/* Tag as the four characters a debugger shows ('sBkW' in source prints as "WkBs"). */
const char *KsimTagText(ULONG Tag, char Text[5])
{
    for (int i = 0; i < 4; ++i) {
        unsigned char c = (unsigned char)(Tag >> (8 * i));
        Text[i] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
    }
    Text[4] = '\0';
    return Text;
}

static KSIM_POOL_TAG *TagEntry(ULONG Tag, BOOLEAN Create)
{
    unsigned Index = (unsigned)((Tag * 2654435761u) % KSIM_POOL_TAGS);
    for (unsigned Probe = 0; Probe < KSIM_POOL_TAGS; ++Probe) {
        KSIM_POOL_TAG *Entry = &PoolTags[(Index + Probe) % KSIM_POOL_TAGS];
        if (Entry->Tag == Tag)
            return Entry;
        if (Entry->Tag == 0) {
            if (!Create)
                return NULL;
            Entry->Tag = Tag;
            return Entry;
        }
    }
    return NULL;
}

static uint64_t *GuardOf(KSIM_POOL_HEADER *Header)
{
    return (uint64_t *)((PUCHAR)(Header + 1) + Header->Size);
}

static BOOLEAN GuardIntact(KSIM_POOL_HEADER *Header)
{
    uint64_t Guard;
    __builtin_memcpy(&Guard, GuardOf(Header), sizeof(Guard));
    return Guard == KSIM_POOL_GUARD;
}

/* Frees the oldest quarantined blocks until the quarantine fits; reports blocks that were
 * written after they were freed. Called with PoolLock held. */
/* Large blocks come from the OS's pages (KsimHostBlockAlloc, host_sync.h): only the pages the
 * driver touches are committed, and a use after the block left the quarantine faults. */
static void PoolHostFree(KSIM_POOL_HEADER *Header)
{
    KsimHostBlockFree(Header, PoolHostBytes(Header->Size));
}

static void QuarantineTrimAll(BOOLEAN All, size_t Incoming)
{
    while (QuarantineCount > 0 &&
           (All || QuarantineCount >= KSIM_QUARANTINE_BLOCKS || QuarantineBytes + Incoming > KSIM_QUARANTINE_BYTES)) {
        unsigned Oldest = (QuarantineHead + KSIM_QUARANTINE_BLOCKS - QuarantineCount) % KSIM_QUARANTINE_BLOCKS;
        KSIM_POOL_HEADER *Header = Quarantine[Oldest];
        PUCHAR Data = (PUCHAR)(Header + 1);
        SIZE_T Written = 0;
        Quarantine[Oldest] = NULL;
        QuarantineCount--;
        QuarantineBytes -= Header->Size;
        if (!ForEachCheckedRegion(Data, Header->Size, Header->Sequence, CheckRegion, &Written)) {
            char Text[5];
            KsimVerifierFail("pool block %p (tag '%s', %llu bytes) was written after it was freed (offset %llu)",
                             (void *)Data, KsimTagText(Header->Tag, Text), (unsigned long long)Header->Size,
                             (unsigned long long)Written);
        }
        PoolHostFree(Header);
    }
}

static void QuarantineTrim(size_t Incoming)
{
    QuarantineTrimAll(FALSE, Incoming);
}

/* Checks and releases every quarantined block now (tests, and the deterministic runs after each
 * input: a write after free is reported here rather than whenever the quarantine happens to
 * turn over). */
void KsimPoolFlushQuarantine(void)
{
    KsimEnsureInitialized();
    KsimHostMutexLock(PoolLock);
    QuarantineTrimAll(TRUE, 0);
    KsimHostMutexUnlock(PoolLock);
}

void KsimPoolQuarantineCheck(void)
{
    KsimPoolFlushQuarantine();
}

PVOID
ExAllocatePool2(POOL_FLAGS Flags, SIZE_T NumberOfBytes, ULONG Tag)
{
    const POOL_FLAGS Kinds = POOL_FLAG_NON_PAGED | POOL_FLAG_NON_PAGED_EXECUTE | POOL_FLAG_PAGED;
    const POOL_FLAGS KnownRequired = POOL_FLAG_USE_QUOTA | POOL_FLAG_UNINITIALIZED | POOL_FLAG_CACHE_ALIGNED |
                                     POOL_FLAG_RAISE_ON_FAILURE | Kinds;
    POOL_FLAGS Kind = Flags & Kinds;
    KSIM_POOL_HEADER *Header;
    KSIM_POOL_TAG *Entry;
    uint64_t Guard = KSIM_POOL_GUARD;

    KsimEnsureInitialized();
    if (!KsimCheckIrql("ExAllocatePool2", DISPATCH_LEVEL))
        return NULL;
    if (Tag == 0) {
        KsimVerifierFail("ExAllocatePool2: Tag must be non-zero");
        return NULL;
    }
    if (Kind != POOL_FLAG_NON_PAGED && Kind != POOL_FLAG_NON_PAGED_EXECUTE && Kind != POOL_FLAG_PAGED) {
        KsimVerifierFail("ExAllocatePool2: Flags 0x%llx must name exactly one of POOL_FLAG_NON_PAGED, "
                         "POOL_FLAG_NON_PAGED_EXECUTE, POOL_FLAG_PAGED",
                         (unsigned long long)Flags);
        return NULL;
    }
    if ((Flags & 0xFFFFFFFFull) & ~KnownRequired) {
        /* Unknown required flags make ExAllocatePool2 fail on Windows. */
        KsimVerifierFail("ExAllocatePool2: unknown required flags 0x%llx", (unsigned long long)(Flags & ~KnownRequired));
        return NULL;
    }
    if (Flags & POOL_FLAG_RAISE_ON_FAILURE) {
        KsimVerifierFail("ExAllocatePool2: POOL_FLAG_RAISE_ON_FAILURE is not supported by ksim (no SEH)");
        return NULL;
    }
    if (Kind == POOL_FLAG_PAGED && KeGetCurrentIrql() > APC_LEVEL) {
        KsimVerifierFail("ExAllocatePool2: paged pool requested at DISPATCH_LEVEL");
        return NULL;
    }
    if (KsimFaultInjectShouldFail("ExAllocatePool2"))
        return NULL;
    if (NumberOfBytes > ((SIZE_T)1 << 40))
        return NULL;
    /* Zeroing is ExAllocatePool2's contract (done by the host, which knows whether its pages are
     * fresh); the 0xCD fill of an uninitialized block only makes reads of bytes never written
     * stand out, so it follows KSIM_POOL_CHECK like the poison. */
    Header = KsimHostBlockAlloc(PoolHostBytes(NumberOfBytes), !(Flags & POOL_FLAG_UNINITIALIZED));
    if (!Header)
        return NULL;
    __builtin_memset(Header, 0, sizeof(*Header));
    Header->Magic = KSIM_POOL_LIVE;
    Header->Size = NumberOfBytes;
    Header->Tag = Tag;
    Header->Paged = Kind == POOL_FLAG_PAGED;
    __builtin_memcpy(GuardOf(Header), &Guard, sizeof(Guard));

    KsimHostMutexLock(PoolLock);
    Header->Sequence = ++PoolSequence;
    KsimHostMutexUnlock(PoolLock);
    if (Flags & POOL_FLAG_UNINITIALIZED)
        (VOID)ForEachCheckedRegion((PUCHAR)(Header + 1), NumberOfBytes, Header->Sequence, FillRegion,
                                   (void *)(uintptr_t)KSIM_POOL_UNINITIALIZED_FILL);

    KsimHostMutexLock(PoolLock);
    InsertTailList(&PoolBlocks, &Header->Link);
    PoolOutstanding++;
    PoolBytes += NumberOfBytes;
    PoolTotal++;
    Entry = TagEntry(Tag, TRUE);
    if (Entry) {
        Entry->Blocks++;
        Entry->Bytes += NumberOfBytes;
    }
    KsimHostMutexUnlock(PoolLock);
    return Header + 1;
}

VOID
ExFreePoolWithTag(PVOID P, ULONG Tag)
{
    KSIM_POOL_HEADER *Header;
    KSIM_POOL_TAG *Entry;
    char Text[5], Text2[5];

    KsimEnsureInitialized();
    KsimCheckIrql("ExFreePoolWithTag", DISPATCH_LEVEL);
    if (P == NULL) {
        KsimVerifierFail("ExFreePoolWithTag(NULL)");
        return;
    }
    if (((ULONG_PTR)P & 15) != 0) {
        KsimVerifierFail("ExFreePoolWithTag(%p): not the start of a pool block", P);
        return;
    }
    Header = (KSIM_POOL_HEADER *)P - 1;
    KsimHostMutexLock(PoolLock);
    if (Header->Magic == KSIM_POOL_FREED) {
        KsimHostMutexUnlock(PoolLock);
        KsimVerifierFail("ExFreePoolWithTag(%p): double free (block of tag '%s', %llu bytes)", P,
                         KsimTagText(Header->Tag, Text), (unsigned long long)Header->Size);
        return;
    }
    if (Header->Magic != KSIM_POOL_LIVE) {
        KsimHostMutexUnlock(PoolLock);
        KsimVerifierFail("ExFreePoolWithTag(%p): not a pool block, or its header is corrupted", P);
        return;
    }
    if (Tag != 0 && Tag != Header->Tag) {
        KsimHostMutexUnlock(PoolLock);
        /* BAD_POOL_CALLER 0x0A on Windows. The block stays allocated. */
        KsimVerifierFail("ExFreePoolWithTag(%p): freed with tag '%s' but allocated with tag '%s'", P,
                         KsimTagText(Tag, Text), KsimTagText(Header->Tag, Text2));
        return;
    }
    if (Header->Paged && KeGetCurrentIrql() > APC_LEVEL)
        KsimVerifierFail("ExFreePoolWithTag(%p): paged pool freed at DISPATCH_LEVEL", P);
    if (!GuardIntact(Header))
        KsimVerifierFail("pool block %p (tag '%s', %llu bytes) was written past its end", P,
                         KsimTagText(Header->Tag, Text), (unsigned long long)Header->Size);
    RemoveEntryList(&Header->Link);
    PoolOutstanding--;
    PoolBytes -= Header->Size;
    Entry = TagEntry(Header->Tag, FALSE);
    if (Entry) {
        Entry->Blocks--;
        Entry->Bytes -= Header->Size;
    }
    Header->Magic = KSIM_POOL_FREED;
    if (Header->Size <= KSIM_QUARANTINE_BYTES / 4) {
        (VOID)ForEachCheckedRegion((PUCHAR)P, Header->Size, Header->Sequence, FillRegion,
                                   (void *)(uintptr_t)KSIM_POOL_FREE_FILL);
        QuarantineTrim(Header->Size);
        Quarantine[QuarantineHead] = Header;
        QuarantineHead = (QuarantineHead + 1) % KSIM_QUARANTINE_BLOCKS;
        QuarantineCount++;
        QuarantineBytes += Header->Size;
        KsimHostMutexUnlock(PoolLock);
    } else {
        KsimHostMutexUnlock(PoolLock);
        PoolHostFree(Header);
    }
}

void KsimPoolCounters(uint64_t *Allocations, uint64_t *Bytes, uint64_t *Total)
{
    KsimEnsureInitialized();
    KsimHostMutexLock(PoolLock);
    *Allocations = PoolOutstanding;
    *Bytes = PoolBytes;
    *Total = PoolTotal;
    KsimHostMutexUnlock(PoolLock);
}

uint64_t KsimPoolOutstandingByTag(uint32_t Tag)
{
    KSIM_POOL_TAG *Entry;
    uint64_t Blocks = 0;
    KsimEnsureInitialized();
    KsimHostMutexLock(PoolLock);
    Entry = TagEntry(Tag, FALSE);
    if (Entry)
        Blocks = Entry->Blocks;
    KsimHostMutexUnlock(PoolLock);
    return Blocks;
}

uint64_t KsimPoolReportLeaks(const char *When)
{
    PLIST_ENTRY Link;
    uint64_t Blocks = 0;
    /* One line per tag: the blocks not yet reported, their bytes and the first of them. */
    struct {
        ULONG Tag;
        uint64_t Blocks, Bytes, FirstSequence;
        PVOID First;
    } Report[32];
    unsigned Reports = 0, Overflow = 0;

    KsimEnsureInitialized();
    KsimHostMutexLock(PoolLock);
    for (Link = PoolBlocks.Flink; Link != &PoolBlocks; Link = Link->Flink) {
        KSIM_POOL_HEADER *Header = CONTAINING_RECORD(Link, KSIM_POOL_HEADER, Link);
        unsigned i;
        Blocks++;
        if (Header->Reported)
            continue;
        Header->Reported = TRUE;
        for (i = 0; i < Reports && Report[i].Tag != Header->Tag; ++i)
            ;
        if (i == Reports) {
            if (Reports == 32) {
                Overflow++;
                continue;
            }
            Report[i].Tag = Header->Tag;
            Report[i].Blocks = Report[i].Bytes = 0;
            Report[i].First = Header + 1;
            Report[i].FirstSequence = Header->Sequence;
            Reports++;
        }
        Report[i].Blocks++;
        Report[i].Bytes += Header->Size;
    }
    KsimHostMutexUnlock(PoolLock);
    for (unsigned i = 0; i < Reports; ++i) {
        char Text[5];
        KsimVerifierFail("pool leak %s: tag '%s': %llu block(s), %llu bytes (first at %p, allocation #%llu)", When,
                         KsimTagText(Report[i].Tag, Text), (unsigned long long)Report[i].Blocks,
                         (unsigned long long)Report[i].Bytes, Report[i].First,
                         (unsigned long long)Report[i].FirstSequence);
    }
    if (Overflow)
        KsimVerifierFail("pool leak %s: %u more block(s) under other tags", When, Overflow);
    return Blocks;
}

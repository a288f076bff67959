/* SPDX-License-Identifier: MIT
 *
 * Lookaside lists for the driver's per-request objects: every IRP-based IOCTL allocates a
 * WSKB_OPERATION (irp.c) and frees it when the request completes, often at DISPATCH_LEVEL in
 * a WSK completion routine. A lookaside list keeps recently freed ones at hand instead of going
 * back to the pool each time. Driver-wide, NonPagedPoolNx, created in DriverEntry and deleted
 * at unload (every operation has been freed by then: each holds its session's rundown, and no
 * session outlives its handle). Entries are not zeroed by the list; the allocator here zeroes
 * them, as ExAllocatePool2 did.
 */
#include "irp.h"

static LOOKASIDE_LIST_EX WskbOperationLookaside;
static BOOLEAN WskbOperationLookasideReady;

_Use_decl_annotations_
NTSTATUS
WskbLookasideInitialize(VOID)
{
    NTSTATUS Status;

    PAGED_CODE();
    /* Flags 0 with the default allocator: an allocation that fails returns NULL, never raises. */
    Status = ExInitializeLookasideListEx(&WskbOperationLookaside, NULL, NULL, NonPagedPoolNx, 0,
                                         sizeof(WSKB_OPERATION), WSKB_TAG_OPERATION, 0);
    if (NT_SUCCESS(Status))
        WskbOperationLookasideReady = TRUE;
    return Status;
}

_Use_decl_annotations_
VOID
WskbLookasideUninitialize(VOID)
{
    PAGED_CODE();
    if (WskbOperationLookasideReady) {
        ExDeleteLookasideListEx(&WskbOperationLookaside);
        WskbOperationLookasideReady = FALSE;
    }
}

_Use_decl_annotations_
WSKB_OPERATION *
WskbOperationMemoryAllocate(VOID)
{
    WSKB_OPERATION *Operation = ExAllocateFromLookasideListEx(&WskbOperationLookaside);
    if (Operation)
        RtlZeroMemory(Operation, sizeof(WSKB_OPERATION));
    return Operation;
}

_Use_decl_annotations_
VOID
WskbOperationMemoryFree(WSKB_OPERATION *Operation)
{
    ExFreeToLookasideListEx(&WskbOperationLookaside, Operation);
}

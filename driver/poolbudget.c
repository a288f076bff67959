/* SPDX-License-Identifier: MIT
 *
 * The driver-wide bound on the NonPaged pool that handles can make it hold. Each handle takes a
 * socket table when it is opened and an event ring at HELLO (up to WSKB_EVENT_BUDGET_MAX plus
 * the control reserve): without a bound, every process that can open \\.\WskBridge could pin
 * another quarter GiB of NonPaged pool. Both are charged here before they are allocated and
 * given back when they are freed; past WSKB_DRIVER_POOL_BUDGET the open or the HELLO fails with
 * STATUS_QUOTA_EXCEEDED (user mode can retry HELLO with a smaller budget). Smaller allocations
 * (sockets, operations, pended inspections) are bounded per handle by the socket table and
 * the event budget.
 */
#include "driver.h"

static volatile LONG64 WskbPoolCharged;

_Use_decl_annotations_
BOOLEAN
WskbPoolBudgetCharge(ULONG64 Bytes)
{
    LONG64 Before, After;

    /* A compare-exchange loop rather than add-then-undo: a transient overshoot would make a
     * concurrent charge that fits fail. */
    do {
        Before = InterlockedCompareExchange64(&WskbPoolCharged, 0, 0);
        if (Bytes > WSKB_DRIVER_POOL_BUDGET || (ULONG64)Before > WSKB_DRIVER_POOL_BUDGET - Bytes)
            return FALSE;
        After = Before + (LONG64)Bytes;
    } while (InterlockedCompareExchange64(&WskbPoolCharged, After, Before) != Before);
    return TRUE;
}

_Use_decl_annotations_
VOID
WskbPoolBudgetRelease(ULONG64 Bytes)
{
    /* InterlockedExchangeAdd64 (the value before): an intrinsic on x64 and ARM64 alike. */
    LONG64 Before = InterlockedExchangeAdd64(&WskbPoolCharged, -(LONG64)Bytes);
    NT_ASSERT(Before >= (LONG64)Bytes);
    UNREFERENCED_PARAMETER(Before);
}

_Use_decl_annotations_
ULONG64
WskbPoolBudgetCharged(VOID)
{
    return (ULONG64)InterlockedCompareExchange64(&WskbPoolCharged, 0, 0);
}

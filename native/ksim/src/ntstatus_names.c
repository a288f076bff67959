/* SPDX-License-Identifier: MIT
 *
 * KsimNtStatusNames: every STATUS_* of ksim's ntddk.h with its value, generated from the
 * header's KSIM_NTSTATUS_LIST so that the table cannot drift from the definitions.
 */
#include "ksim_internal.h"

#define KSIM_STATUS_ENTRY(Name) { #Name, (int32_t)(Name) },

static const KSIM_NAMED_STATUS NtStatusNames[] = { KSIM_NTSTATUS_LIST(KSIM_STATUS_ENTRY) };

const KSIM_NAMED_STATUS *KsimNtStatusNames(uint32_t *Count)
{
    if (Count)
        *Count = (uint32_t)(sizeof(NtStatusNames) / sizeof(NtStatusNames[0]));
    return NtStatusNames;
}

/* SPDX-License-Identifier: MIT
 *
 * The core's tests link ksim without the WSK provider (src/wsk_*.c), which owns
 * KsimWskGetCounters: with no provider there are no sockets.
 */
#include "ksim_internal.h"

void KsimWskGetCounters(uint64_t *HostSockets, uint64_t *WskSockets)
{
    *HostSockets = 0;
    *WskSockets = 0;
}

uint64_t KsimWskHostDatagramsDropped(void)
{
    return 0;
}

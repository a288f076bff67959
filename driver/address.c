/* SPDX-License-Identifier: MIT
 *
 * WSKB_SOCKADDR (wire: port and flow info in host order, fixed 32 bytes) <-> SOCKADDR_IN /
 * SOCKADDR_IN6 (network order). Windows is little-endian on every architecture it runs on, so
 * the byte swaps are unconditional.
 */
#include "driver.h"

_IRQL_requires_max_(DISPATCH_LEVEL)
static BOOLEAN
WskbBytesAreZero(_In_reads_bytes_(Length) CONST UINT8 *Bytes, _In_ ULONG Length)
{
    ULONG i;

    for (i = 0; i < Length; ++i) {
        if (Bytes[i])
            return FALSE;
    }
    return TRUE;
}

_Use_decl_annotations_
NTSTATUS
WskbSockaddrFromWire(CONST WSKB_SOCKADDR *Wire, SOCKADDR_STORAGE *Address)
{
    RtlZeroMemory(Address, sizeof(*Address));
    if (Wire->Reserved)
        return STATUS_INVALID_PARAMETER;
    switch (Wire->Family) {
    case AF_INET: {
        SOCKADDR_IN *In = (SOCKADDR_IN *)Address;
        /* An IPv4 address has nowhere to put these: a non-zero value is a caller bug. */
        if (Wire->FlowInfo || Wire->ScopeId || !WskbBytesAreZero(Wire->Address + 4, sizeof(Wire->Address) - 4))
            return STATUS_INVALID_PARAMETER;
        In->sin_family = AF_INET;
        In->sin_port = RtlUshortByteSwap(Wire->Port);
        RtlCopyMemory(&In->sin_addr, Wire->Address, 4);
        return STATUS_SUCCESS;
    }
    case AF_INET6: {
        SOCKADDR_IN6 *In6 = (SOCKADDR_IN6 *)Address;
        In6->sin6_family = AF_INET6;
        In6->sin6_port = RtlUshortByteSwap(Wire->Port);
        In6->sin6_flowinfo = RtlUlongByteSwap(Wire->FlowInfo);
        RtlCopyMemory(&In6->sin6_addr, Wire->Address, 16);
        In6->sin6_scope_id = Wire->ScopeId;
        return STATUS_SUCCESS;
    }
    default:
        return STATUS_INVALID_PARAMETER;
    }
}

_Use_decl_annotations_
VOID
WskbSockaddrToWire(CONST SOCKADDR *Address, WSKB_SOCKADDR *Wire)
{
    RtlZeroMemory(Wire, sizeof(*Wire));
    if (!Address)
        return;
    switch (Address->sa_family) {
    case AF_INET: {
        CONST SOCKADDR_IN *In = (CONST SOCKADDR_IN *)Address;
        Wire->Family = AF_INET;
        Wire->Port = RtlUshortByteSwap(In->sin_port);
        RtlCopyMemory(Wire->Address, &In->sin_addr, 4);
        break;
    }
    case AF_INET6: {
        CONST SOCKADDR_IN6 *In6 = (CONST SOCKADDR_IN6 *)Address;
        Wire->Family = AF_INET6;
        Wire->Port = RtlUshortByteSwap(In6->sin6_port);
        Wire->FlowInfo = RtlUlongByteSwap(In6->sin6_flowinfo);
        RtlCopyMemory(Wire->Address, &In6->sin6_addr, 16);
        Wire->ScopeId = In6->sin6_scope_id;
        break;
    }
    default:
        break;
    }
}

/* SPDX-License-Identifier: MIT
 *
 * The raw-control allowlist (controltable.h). Each entry cites where its sizes and IRP rule
 * come from; docs/controls.md is the same table for readers, docs/ksim-fidelity.md ("Control
 * allowlist and IRP rules") says which choices Microsoft leaves open and the Windows test that
 * settles each.
 *
 * Sources ("Learn" = learn.microsoft.com/windows-hardware/drivers/network/<page>):
 *  - WSK_TRANSPORT_LIST_QUERY, WSK_SET_STATIC_EVENT_CALLBACKS, WSK_TDI_BEHAVIOR: Learn's page of
 *    each: "The Irp parameter must be NULL for this client control operation"; wsk.h on
 *    PFN_WSK_CONTROL_CLIENT: WSK_TRANSPORT_LIST_QUERY "Irp must be NULL and pOutputSize must be
 *    Non-NULL".
 *  - SO_BROADCAST, SO_CONDITIONAL_ACCEPT, SO_EXCLUSIVEADDRUSE, SO_KEEPALIVE, SO_RCVBUF,
 *    SO_REUSEADDR (the options of Learn's "WSK Socket Options"): each page: "A WSK application
 *    must specify a pointer to an IRP when calling the WskControlSocket function to set or
 *    retrieve" it; input sizeof(ULONG) to set, output sizeof(ULONG) to get, OutputSizeReturned
 *    NULL.
 *  - SO_WSK_EVENT_CALLBACK: Learn's page: InputSize sizeof(WSK_EVENT_CALLBACK_CONTROL), no
 *    output, OutputSizeReturned NULL, no IRP to enable, optional to disable.
 *  - SIO_WSK_QUERY_IDEAL_SEND_BACKLOG, SIO_WSK_QUERY_RECEIVE_BACKLOG: output sizeof(SIZE_T),
 *    "must specify a pointer to an IRP". SIO_WSK_SET_REMOTE_ADDRESS, SIO_WSK_SET_SENDTO_ADDRESS:
 *    input a SOCKADDR of the socket's family (or none, to clear), "must specify a pointer to an
 *    IRP ... to set or clear". SIO_WSK_SET_TCP_SILENT_MODE: no input or output, "must specify a
 *    pointer to an IRP".
 *  - The other scalar options (SO_SNDBUF, SO_OOBINLINE, SO_LINGER, SO_TYPE, SO_ERROR and the
 *    IPPROTO_IP / IPV6 / TCP / UDP ones): Learn documents no WSK page for them ("see the Windows
 *    Sockets 2 section"); they get the rule of every scalar option it does document (an IRP,
 *    ULONG-sized values). ksim-fidelity.md lists this as a choice.
 *
 * Left out, so refused (docs/controls.md says why for each): SO_WSK_SECURITY (a security
 * descriptor pointer), SIO_WSK_REGISTER_EXTENSION and SIO_WSK_SET_RECEIVE_EX_CALLBACK (dispatch
 * tables, callbacks), SIO_WSK_QUERY_INSPECT_ID (WSK_INSPECT_ID.Key is a ULONG_PTR netio may fill
 * with an object address), SIO_ADDRESS_LIST_QUERY (SOCKET_ADDRESS_LIST.lpSockaddr points into
 * the kernel buffer), SIO_ADDRESS_LIST_SORT (pointers as input), SIO_ADDRESS_LIST_CHANGE (not
 * modelled by ksim, so no test could show it completes at close), WSK_CACHE_SD / WSK_RELEASE_SD /
 * WSK_TDI_DEVICENAME_MAPPING (pointers), WSK_TRANSPORT_LIST_CHANGE (its IRP is cancelled only by
 * WskDeregister, Learn: "The WSK subsystem will cancel any pending IRPs if the WSK application
 * calls WskDeregister", which EvtFileCleanup reaches only after the rundown that waits for that
 * IRP: a hang at CloseHandle).
 */
#include "controltable.h"

/* Values of ws2ipdef.h / ws2tcpip.h, which wsk.h does not include; named here so the table does
 * not depend on a user-mode header. */
#define WSKB_IP_TOS 3u              /* ws2ipdef.h IP_TOS */
#define WSKB_IP_TTL 4u              /* ws2ipdef.h IP_TTL */
#define WSKB_IP_MULTICAST_TTL 10u   /* ws2ipdef.h IP_MULTICAST_TTL */
#define WSKB_IP_MULTICAST_LOOP 11u  /* ws2ipdef.h IP_MULTICAST_LOOP */
#define WSKB_IP_DONTFRAGMENT 14u    /* ws2ipdef.h IP_DONTFRAGMENT */
#define WSKB_IP_UNICAST_IF 31u      /* ws2ipdef.h IP_UNICAST_IF */
#define WSKB_IPV6_UNICAST_HOPS 4u   /* ws2ipdef.h IPV6_UNICAST_HOPS */
#define WSKB_IPV6_MULTICAST_HOPS 10u/* ws2ipdef.h IPV6_MULTICAST_HOPS */
#define WSKB_IPV6_MULTICAST_LOOP 11u/* ws2ipdef.h IPV6_MULTICAST_LOOP */
#define WSKB_IPV6_V6ONLY 27u        /* ws2ipdef.h IPV6_V6ONLY */
#define WSKB_IPV6_UNICAST_IF 31u    /* ws2ipdef.h IPV6_UNICAST_IF */
#define WSKB_TCP_KEEPALIVE 3u       /* ws2ipdef.h TCP_KEEPALIVE (= TCP_KEEPIDLE) */
#define WSKB_TCP_KEEPCNT 16u        /* ws2ipdef.h TCP_KEEPCNT */
#define WSKB_TCP_KEEPINTVL 17u      /* ws2ipdef.h TCP_KEEPINTVL */
#define WSKB_UDP_NOCHECKSUM 1u      /* ws2tcpip.h UDP_NOCHECKSUM */
#define WSKB_UDP_CHECKSUM_COVERAGE 20u /* ws2tcpip.h UDP_CHECKSUM_COVERAGE */

#define WSKB_ULONG ((ULONG)sizeof(ULONG))
#define WSKB_SIZE_T ((ULONG)sizeof(SIZE_T))

/* A scalar option: set takes a ULONG, get returns one, an IRP either way. */
#define WSKB_SCALAR(Level, Code)                                                                  \
    { WSKB_CONTROL_SET_OPTION, (Level), (ULONG)(Code), WSKB_ULONG, WSKB_ULONG, 0, 0, WskbIrpRequired, FALSE, FALSE }, \
    { WSKB_CONTROL_GET_OPTION, (Level), (ULONG)(Code), 0, 0, WSKB_ULONG, WSKB_ULONG, WskbIrpRequired, FALSE, FALSE }
/* A read-only scalar option. */
#define WSKB_SCALAR_GET(Level, Code) \
    { WSKB_CONTROL_GET_OPTION, (Level), (ULONG)(Code), 0, 0, WSKB_ULONG, WSKB_ULONG, WskbIrpRequired, FALSE, FALSE }

static CONST WSKB_CONTROL_ENTRY WskbControlTable[] = {
    /* ---- WskControlClient ---- */
    { WSKB_CONTROL_CLIENT, 0, WSK_TRANSPORT_LIST_QUERY, 0, 0, 0, WSKB_MAX_CONTROL_BYTES, WskbIrpMustBeNull, TRUE, FALSE },
    { WSKB_CONTROL_CLIENT, 0, WSK_SET_STATIC_EVENT_CALLBACKS, WSKB_ULONG, WSKB_ULONG, 0, 0, WskbIrpMustBeNull, FALSE, TRUE },
    { WSKB_CONTROL_CLIENT, 0, WSK_TDI_BEHAVIOR, WSKB_ULONG, WSKB_ULONG, 0, 0, WskbIrpMustBeNull, FALSE, FALSE },

    /* ---- SOL_SOCKET options ---- */
    { WSKB_CONTROL_SET_OPTION, SOL_SOCKET, SO_WSK_EVENT_CALLBACK, WSKB_ULONG, WSKB_ULONG, 0, 0, WskbIrpNullToEnable, FALSE, TRUE },
    WSKB_SCALAR(SOL_SOCKET, SO_BROADCAST),
    WSKB_SCALAR(SOL_SOCKET, SO_CONDITIONAL_ACCEPT),
    WSKB_SCALAR(SOL_SOCKET, SO_EXCLUSIVEADDRUSE),
    WSKB_SCALAR(SOL_SOCKET, SO_KEEPALIVE),
    WSKB_SCALAR(SOL_SOCKET, SO_RCVBUF),
    WSKB_SCALAR(SOL_SOCKET, SO_REUSEADDR),
    WSKB_SCALAR(SOL_SOCKET, SO_SNDBUF),
    WSKB_SCALAR(SOL_SOCKET, SO_OOBINLINE),
    WSKB_SCALAR(SOL_SOCKET, SO_LINGER), /* struct linger: two USHORTs, ULONG-sized */
    WSKB_SCALAR_GET(SOL_SOCKET, SO_TYPE),
    WSKB_SCALAR_GET(SOL_SOCKET, SO_ERROR),

    /* ---- IPPROTO_IP / IPPROTO_IPV6 / IPPROTO_TCP / IPPROTO_UDP options ---- */
    WSKB_SCALAR(IPPROTO_IP, WSKB_IP_TOS),
    WSKB_SCALAR(IPPROTO_IP, WSKB_IP_TTL),
    WSKB_SCALAR(IPPROTO_IP, WSKB_IP_MULTICAST_TTL),
    WSKB_SCALAR(IPPROTO_IP, WSKB_IP_MULTICAST_LOOP),
    WSKB_SCALAR(IPPROTO_IP, WSKB_IP_DONTFRAGMENT),
    WSKB_SCALAR(IPPROTO_IP, WSKB_IP_UNICAST_IF),
    WSKB_SCALAR(IPPROTO_IPV6, WSKB_IPV6_UNICAST_HOPS),
    WSKB_SCALAR(IPPROTO_IPV6, WSKB_IPV6_MULTICAST_HOPS),
    WSKB_SCALAR(IPPROTO_IPV6, WSKB_IPV6_MULTICAST_LOOP),
    WSKB_SCALAR(IPPROTO_IPV6, WSKB_IPV6_V6ONLY),
    WSKB_SCALAR(IPPROTO_IPV6, WSKB_IPV6_UNICAST_IF),
    WSKB_SCALAR(IPPROTO_TCP, TCP_NODELAY),
    WSKB_SCALAR(IPPROTO_TCP, WSKB_TCP_KEEPALIVE),
    WSKB_SCALAR(IPPROTO_TCP, WSKB_TCP_KEEPCNT),
    WSKB_SCALAR(IPPROTO_TCP, WSKB_TCP_KEEPINTVL),
    WSKB_SCALAR(IPPROTO_UDP, WSKB_UDP_NOCHECKSUM),
    WSKB_SCALAR(IPPROTO_UDP, WSKB_UDP_CHECKSUM_COVERAGE),

    /* ---- socket IOCTLs (Level ignored) ---- */
    { WSKB_CONTROL_IOCTL, 0, SIO_WSK_QUERY_IDEAL_SEND_BACKLOG, 0, 0, WSKB_SIZE_T, WSKB_SIZE_T, WskbIrpRequired, FALSE, FALSE },
    { WSKB_CONTROL_IOCTL, 0, SIO_WSK_QUERY_RECEIVE_BACKLOG, 0, 0, WSKB_SIZE_T, WSKB_SIZE_T, WskbIrpRequired, FALSE, FALSE },
    { WSKB_CONTROL_IOCTL, 0, SIO_WSK_SET_REMOTE_ADDRESS, 0, (ULONG)sizeof(SOCKADDR_STORAGE), 0, 0, WskbIrpRequired, FALSE, FALSE },
    { WSKB_CONTROL_IOCTL, 0, SIO_WSK_SET_SENDTO_ADDRESS, 0, (ULONG)sizeof(SOCKADDR_STORAGE), 0, 0, WskbIrpRequired, FALSE, FALSE },
    { WSKB_CONTROL_IOCTL, 0, SIO_WSK_SET_TCP_SILENT_MODE, 0, 0, 0, 0, WskbIrpRequired, FALSE, FALSE },
};

_Use_decl_annotations_
CONST WSKB_CONTROL_ENTRY *
WskbControlLookup(ULONG Kind, ULONG Level, ULONG Code)
{
    ULONG Index;

    for (Index = 0; Index < RTL_NUMBER_OF(WskbControlTable); Index++) {
        CONST WSKB_CONTROL_ENTRY *Entry = &WskbControlTable[Index];
        if (Entry->Kind != Kind || Entry->Code != Code)
            continue;
        /* WSK ignores Level for IOCTLs and the client has none; options match on it. */
        if (Kind == WSKB_CONTROL_SET_OPTION || Kind == WSKB_CONTROL_GET_OPTION) {
            if (Entry->Level != Level)
                continue;
        }
        return Entry;
    }
    return NULL;
}

_Use_decl_annotations_
NTSTATUS
WskbControlCheck(CONST WSKB_CONTROL_ENTRY *Entry, ULONG InputLength, ULONG OutputLength, BOOLEAN UseIrp, ULONG Mask)
{
    BOOLEAN IrpAllowed, IrpNeeded;

    if (InputLength < Entry->InputMin || InputLength > Entry->InputMax || OutputLength < Entry->OutputMin ||
        OutputLength > Entry->OutputMax)
        return STATUS_INVALID_BUFFER_SIZE;
    switch (Entry->Irp) {
    case WskbIrpRequired:
        IrpAllowed = TRUE;
        IrpNeeded = TRUE;
        break;
    case WskbIrpNullToEnable:
        IrpAllowed = (Mask & WSK_EVENT_DISABLE) != 0;
        IrpNeeded = FALSE;
        break;
    default:
        IrpAllowed = FALSE;
        IrpNeeded = FALSE;
        break;
    }
    /* An IRP WSK ignores is never completed, and one it requires but lacks cannot report a
     * result: refused either way, before WSK sees the call. */
    if ((UseIrp && !IrpAllowed) || (!UseIrp && IrpNeeded))
        return STATUS_INVALID_PARAMETER_MIX;
    return STATUS_SUCCESS;
}

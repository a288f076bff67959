/* SPDX-License-Identifier: MIT
 *
 * ksim WSK provider: host error to NTSTATUS, Windows socket addresses to host addresses,
 * WSK_BUF / MDL chains to host I/O vectors, and the blocks the provider indicates.
 */
#include "wsk_internal.h"

/* The NTSTATUS Windows' transport returns for each host failure; the table is repeated in
 * docs/ksim-fidelity.md. */
NTSTATUS
KsimWskStatusFromHost(_In_ int HostError)
{
    switch (HostError) {
    case HOST_NET_OK:
        return STATUS_SUCCESS;
    case HOST_NET_E_CONNREFUSED:
        return STATUS_CONNECTION_REFUSED;
    case HOST_NET_E_CONNRESET:
    case HOST_NET_E_PIPE:
        return STATUS_CONNECTION_RESET;
    case HOST_NET_E_CONNABORTED:
        return STATUS_CONNECTION_ABORTED;
    case HOST_NET_E_ADDRINUSE:
        return STATUS_ADDRESS_ALREADY_EXISTS;
    case HOST_NET_E_ADDRNOTAVAIL:
        return STATUS_INVALID_ADDRESS_COMPONENT;
    case HOST_NET_E_NETUNREACH:
        return STATUS_NETWORK_UNREACHABLE;
    case HOST_NET_E_HOSTUNREACH:
        return STATUS_HOST_UNREACHABLE;
    case HOST_NET_E_TIMEDOUT:
        return STATUS_IO_TIMEOUT;
    case HOST_NET_E_INVAL:
        return STATUS_INVALID_PARAMETER;
    case HOST_NET_E_NOMEM:
    case HOST_NET_E_MFILE:
        return STATUS_INSUFFICIENT_RESOURCES;
    case HOST_NET_E_AFNOSUPPORT:
    case HOST_NET_E_PROTONOSUPPORT:
    case HOST_NET_E_NOPROTOOPT:
        return STATUS_NOT_SUPPORTED;
    case HOST_NET_E_NOTCONN:
        return STATUS_INVALID_CONNECTION;
    case HOST_NET_E_ISCONN:
        return STATUS_CONNECTION_ACTIVE;
    case HOST_NET_E_ACCES:
        return STATUS_ACCESS_DENIED;
    case HOST_NET_E_MSGSIZE:
        return STATUS_INVALID_BUFFER_SIZE;
    default:
        return STATUS_UNSUCCESSFUL;
    }
}

static USHORT
KsimWskLoadNetShort(_In_ CONST VOID *P)
{
    CONST UCHAR *B = (CONST UCHAR *)P;
    return (USHORT)((B[0] << 8) | B[1]);
}

static VOID
KsimWskStoreNetShort(_Out_ VOID *P, _In_ USHORT Value)
{
    UCHAR *B = (UCHAR *)P;
    B[0] = (UCHAR)(Value >> 8);
    B[1] = (UCHAR)Value;
}

NTSTATUS
KsimWskAddressToHost(_In_ CONST SOCKADDR *Address, _In_ USHORT ExpectedFamily, _Out_ HOST_NET_ADDRESS *Host)
{
    RtlZeroMemory(Host, sizeof(*Host));
    if (!Address)
        return STATUS_INVALID_PARAMETER;
    if (Address->sa_family != ExpectedFamily)
        return STATUS_INVALID_PARAMETER;
    if (Address->sa_family == AF_INET) {
        CONST SOCKADDR_IN *In = (CONST SOCKADDR_IN *)Address;
        Host->Family = HOST_NET_AF_INET;
        Host->Port = KsimWskLoadNetShort(&In->sin_port);
        RtlCopyMemory(Host->Address, &In->sin_addr, 4);
        return STATUS_SUCCESS;
    }
    if (Address->sa_family == AF_INET6) {
        CONST SOCKADDR_IN6 *In6 = (CONST SOCKADDR_IN6 *)Address;
        Host->Family = HOST_NET_AF_INET6;
        Host->Port = KsimWskLoadNetShort(&In6->sin6_port);
        Host->FlowInfo = In6->sin6_flowinfo;
        RtlCopyMemory(Host->Address, &In6->sin6_addr, 16);
        Host->ScopeId = In6->sin6_scope_id;
        return STATUS_SUCCESS;
    }
    return STATUS_INVALID_PARAMETER;
}

VOID
KsimWskAddressFromHost(_In_ CONST HOST_NET_ADDRESS *Host, _Out_ PSOCKADDR Address)
{
    if (Host->Family == HOST_NET_AF_INET6) {
        SOCKADDR_IN6 *In6 = (SOCKADDR_IN6 *)Address;
        RtlZeroMemory(In6, sizeof(*In6));
        In6->sin6_family = AF_INET6;
        KsimWskStoreNetShort(&In6->sin6_port, Host->Port);
        In6->sin6_flowinfo = Host->FlowInfo;
        RtlCopyMemory(&In6->sin6_addr, Host->Address, 16);
        In6->sin6_scope_id = Host->ScopeId;
        return;
    }
    {
        SOCKADDR_IN *In = (SOCKADDR_IN *)Address;
        RtlZeroMemory(In, sizeof(*In));
        In->sin_family = AF_INET;
        KsimWskStoreNetShort(&In->sin_port, Host->Port);
        RtlCopyMemory(&In->sin_addr, Host->Address, 4);
    }
}

NTSTATUS
KsimWskBufValidate(_In_ CONST WSK_BUF *Buffer, _In_z_ PCSTR Routine)
{
    PMDL Mdl;
    SIZE_T Available;

    if (!Buffer) {
        KsimVerifierFail("%s: WSK_BUF is NULL", Routine);
        return STATUS_INVALID_PARAMETER;
    }
    if (!Buffer->Mdl) {
        if (Buffer->Length == 0)
            return STATUS_SUCCESS;
        KsimVerifierFail("%s: WSK_BUF.Mdl is NULL with Length %llu", Routine, (unsigned long long)Buffer->Length);
        return STATUS_INVALID_PARAMETER;
    }
    /* The WDK: Offset must lie within the first MDL of the chain. */
    if (Buffer->Offset > MmGetMdlByteCount(Buffer->Mdl) ||
        (Buffer->Offset == MmGetMdlByteCount(Buffer->Mdl) && Buffer->Length != 0)) {
        KsimVerifierFail("%s: WSK_BUF.Offset %u is outside the first MDL (%u bytes)", Routine, Buffer->Offset,
                         MmGetMdlByteCount(Buffer->Mdl));
        return STATUS_INVALID_PARAMETER;
    }
    Available = MmGetMdlByteCount(Buffer->Mdl) - Buffer->Offset;
    for (Mdl = Buffer->Mdl->Next; Mdl && Available < Buffer->Length; Mdl = Mdl->Next)
        Available += MmGetMdlByteCount(Mdl);
    /* Windows crashes here (Wine's WSK test notes it); ksim reports the client's bug. */
    if (Available < Buffer->Length) {
        KsimVerifierFail("%s: WSK_BUF.Length %llu exceeds the MDL chain (%llu bytes after Offset)", Routine,
                         (unsigned long long)Buffer->Length, (unsigned long long)Available);
        return STATUS_INVALID_PARAMETER;
    }
    return STATUS_SUCCESS;
}

int
KsimWskBufToIovec(_In_ CONST WSK_BUF *Buffer, _In_ SIZE_T Skip, _In_ SIZE_T MaxBytes, _Out_ HOST_NET_IOVEC *Vector)
{
    PMDL Mdl = Buffer->Mdl;
    SIZE_T Position = Buffer->Offset + Skip;
    SIZE_T Remaining = Buffer->Length > Skip ? Buffer->Length - Skip : 0;
    int Count = 0;

    if (Remaining > MaxBytes)
        Remaining = MaxBytes;
    while (Mdl && Remaining && Count < HOST_NET_MAX_IOVEC) {
        SIZE_T Bytes = MmGetMdlByteCount(Mdl);
        if (Position >= Bytes) {
            Position -= Bytes;
            Mdl = Mdl->Next;
            continue;
        }
        {
            PUCHAR Va = (PUCHAR)MmGetSystemAddressForMdlSafe(Mdl, NormalPagePriority | MdlMappingNoExecute);
            SIZE_T Take = Bytes - Position;
            if (!Va)
                break;
            if (Take > Remaining)
                Take = Remaining;
            Vector[Count].Base = Va + Position;
            Vector[Count].Length = Take;
            Count++;
            Remaining -= Take;
            Position = 0;
            Mdl = Mdl->Next;
        }
    }
    return Count;
}

VOID
KsimWskBufCopyIn(_In_ CONST WSK_BUF *Buffer, _In_ SIZE_T Skip, _In_reads_bytes_(Length) CONST VOID *Source,
                 _In_ SIZE_T Length)
{
    HOST_NET_IOVEC Vector[HOST_NET_MAX_IOVEC];
    CONST UCHAR *From = (CONST UCHAR *)Source;

    while (Length) {
        int Count = KsimWskBufToIovec(Buffer, Skip, Length, Vector), i;
        if (!Count)
            return;
        for (i = 0; i < Count; i++) {
            RtlCopyMemory(Vector[i].Base, From, Vector[i].Length);
            From += Vector[i].Length;
            Skip += Vector[i].Length;
            Length -= Vector[i].Length;
        }
    }
}

KSIM_WSK_BLOCK *
KsimWskBlockAllocate(_In_ SIZE_T Length)
{
    KSIM_WSK_BLOCK *Block =
        (KSIM_WSK_BLOCK *)ExAllocatePool2(POOL_FLAG_NON_PAGED | POOL_FLAG_UNINITIALIZED, sizeof(*Block) + Length,
                                          KSIM_WSK_TAG_BLOCK);
    if (!Block)
        return NULL;
    RtlZeroMemory(Block, sizeof(*Block));
    Block->Length = Length;
    InitializeListHead(&Block->Link);
    if (Length) {
        Block->Mdl = IoAllocateMdl(Block->Data, (ULONG)Length, FALSE, FALSE, NULL);
        if (!Block->Mdl) {
            ExFreePoolWithTag(Block, KSIM_WSK_TAG_BLOCK);
            return NULL;
        }
        MmBuildMdlForNonPagedPool(Block->Mdl);
    }
    return Block;
}

VOID
KsimWskBlockFree(_In_ KSIM_WSK_BLOCK *Block)
{
    if (Block->Mdl)
        IoFreeMdl(Block->Mdl);
    ExFreePoolWithTag(Block, KSIM_WSK_TAG_BLOCK);
}

VOID
KsimWskBlockFreeChain(_In_opt_ KSIM_WSK_BLOCK *Block)
{
    while (Block) {
        KSIM_WSK_BLOCK *Next = Block->NextBlock;
        KsimWskBlockFree(Block);
        Block = Next;
    }
}

/* ---- control rules ----
 *
 * Learn gives, per control code, whether WskControlSocket / WskControlClient take an IRP
 * ("must specify a pointer to an IRP", "does not specify a pointer to an IRP", "The Irp
 * parameter must be NULL") and whether OutputSizeReturned is passed (PFN_WSK_CONTROL_SOCKET:
 * NULL "except when all of the following are true: the Irp parameter is set to NULL, the
 * operation ... returns output data ..., the number of bytes of output data ... is unknown").
 * An IRP where the rule says NULL is ignored by netio ("ignored (and must be NULL)", wsk.h):
 * it never completes, so a client that waits for it hangs. ksim records each such call as a
 * verifier failure; in strict mode (KSIM_WSK_STRICT=1 or KsimSetStrictWsk(1)) it also does
 * what the worst conforming netio may do and leaves the IRP alone, so that the hang shows. The
 * same worst case applies in strict mode to codes Learn documents no IRP rule for. */

typedef enum _KSIM_WSK_IRP_RULE {
    KsimWskIrpRequired = 1,
    KsimWskIrpNull,
    KsimWskIrpNullToEnable /* SO_WSK_EVENT_CALLBACK: none to enable, optional to disable */
} KSIM_WSK_IRP_RULE;

typedef struct _KSIM_WSK_CONTROL_RULE {
    ULONG Kind;
    ULONG Level;      /* options only */
    ULONG Code;
    KSIM_WSK_IRP_RULE Irp;
    BOOLEAN OutputSizeReturned; /* may be passed (the output size is not known beforehand) */
} KSIM_WSK_CONTROL_RULE;

/* Learn's page of each code (network/<code>.md); codes Learn has no page for are not listed
 * and only the general OutputSizeReturned rule applies to them. */
static CONST KSIM_WSK_CONTROL_RULE KsimWskControlRuleTable[] = {
    { KSIM_WSK_CONTROL_CLIENT, 0, WSK_TRANSPORT_LIST_QUERY, KsimWskIrpNull, TRUE },
    { KSIM_WSK_CONTROL_CLIENT, 0, WSK_TRANSPORT_LIST_CHANGE, KsimWskIrpRequired, FALSE },
    { KSIM_WSK_CONTROL_CLIENT, 0, WSK_SET_STATIC_EVENT_CALLBACKS, KsimWskIrpNull, FALSE },
    { KSIM_WSK_CONTROL_CLIENT, 0, WSK_TDI_BEHAVIOR, KsimWskIrpNull, FALSE },
    { WskSetOption, SOL_SOCKET, SO_WSK_EVENT_CALLBACK, KsimWskIrpNullToEnable, FALSE },
    { WskSetOption, SOL_SOCKET, SO_BROADCAST, KsimWskIrpRequired, FALSE },
    { WskGetOption, SOL_SOCKET, SO_BROADCAST, KsimWskIrpRequired, FALSE },
    { WskSetOption, SOL_SOCKET, SO_CONDITIONAL_ACCEPT, KsimWskIrpRequired, FALSE },
    { WskGetOption, SOL_SOCKET, SO_CONDITIONAL_ACCEPT, KsimWskIrpRequired, FALSE },
    { WskSetOption, SOL_SOCKET, (ULONG)SO_EXCLUSIVEADDRUSE, KsimWskIrpRequired, FALSE },
    { WskGetOption, SOL_SOCKET, (ULONG)SO_EXCLUSIVEADDRUSE, KsimWskIrpRequired, FALSE },
    { WskSetOption, SOL_SOCKET, SO_KEEPALIVE, KsimWskIrpRequired, FALSE },
    { WskGetOption, SOL_SOCKET, SO_KEEPALIVE, KsimWskIrpRequired, FALSE },
    { WskSetOption, SOL_SOCKET, SO_RCVBUF, KsimWskIrpRequired, FALSE },
    { WskGetOption, SOL_SOCKET, SO_RCVBUF, KsimWskIrpRequired, FALSE },
    { WskSetOption, SOL_SOCKET, SO_REUSEADDR, KsimWskIrpRequired, FALSE },
    { WskGetOption, SOL_SOCKET, SO_REUSEADDR, KsimWskIrpRequired, FALSE },
    { WskIoctl, 0, SIO_WSK_QUERY_IDEAL_SEND_BACKLOG, KsimWskIrpRequired, FALSE },
    { WskIoctl, 0, SIO_WSK_QUERY_RECEIVE_BACKLOG, KsimWskIrpRequired, FALSE },
    { WskIoctl, 0, SIO_WSK_SET_REMOTE_ADDRESS, KsimWskIrpRequired, FALSE },
    { WskIoctl, 0, SIO_WSK_SET_SENDTO_ADDRESS, KsimWskIrpRequired, FALSE },
    { WskIoctl, 0, SIO_WSK_SET_TCP_SILENT_MODE, KsimWskIrpRequired, FALSE },
    { WskIoctl, 0, SIO_ADDRESS_LIST_QUERY, KsimWskIrpNull, TRUE },
    { WskIoctl, 0, SIO_ADDRESS_LIST_CHANGE, KsimWskIrpRequired, FALSE },
};

static volatile int KsimWskStrictOverride = -1;

void
KsimSetStrictWsk(int Strict)
{
    __atomic_store_n(&KsimWskStrictOverride, Strict ? 1 : 0, __ATOMIC_RELEASE);
}

/* Read at each call, so a test can switch it with setenv (Node's process.env does). */
BOOLEAN
KsimWskStrict(VOID)
{
    int Override = __atomic_load_n(&KsimWskStrictOverride, __ATOMIC_ACQUIRE);
    const char *Text;
    if (Override >= 0)
        return Override != 0;
    Text = KsimHostGetEnv("KSIM_WSK_STRICT");
    return Text && Text[0] == '1';
}

BOOLEAN
KsimWskControlRules(_In_z_ PCSTR Routine, _In_ ULONG Kind, _In_ ULONG Level, _In_ ULONG Code, _In_ SIZE_T InputSize,
                    _In_reads_bytes_opt_(InputSize) CONST VOID *InputBuffer, _In_ SIZE_T OutputSize,
                    _In_opt_ CONST SIZE_T *OutputSizeReturned, _Inout_ PIRP *IrpInOut)
{
    PIRP Irp = *IrpInOut;
    CONST KSIM_WSK_CONTROL_RULE *Rule = NULL;
    BOOLEAN IrpMustBeNull = FALSE;
    ULONG Index;

    for (Index = 0; Index < RTL_NUMBER_OF(KsimWskControlRuleTable); Index++) {
        CONST KSIM_WSK_CONTROL_RULE *Candidate = &KsimWskControlRuleTable[Index];
        BOOLEAN Option = Kind == WskSetOption || Kind == WskGetOption;
        /* Level matters for options only (ignored for IOCTLs, absent for the client). */
        if (Candidate->Kind == Kind && Candidate->Code == Code && (!Option || Candidate->Level == Level)) {
            Rule = Candidate;
            break;
        }
    }

    /* Never with an IRP; for a listed code, only where its page has it (WSK_TRANSPORT_LIST_QUERY
     * and SIO_ADDRESS_LIST_QUERY, also for the size probe with OutputSize 0); for others, only
     * with output. */
    if (OutputSizeReturned && (Irp || (Rule ? !Rule->OutputSizeReturned : OutputSize == 0)))
        KsimVerifierFail("%s(code 0x%x, level 0x%x): OutputSizeReturned passed where the rule says NULL (%s)",
                         Routine, (unsigned)Code, (unsigned)Level,
                         Irp ? "an IRP reports the size" : OutputSize == 0 ? "no output" : "the output size is known");
    /* A code Learn gives no IRP rule for (SO_TYPE, TCP_NODELAY, ... "see the Windows Sockets 2
     * section"): a conforming netio may treat its IRP as "ignored (and must be NULL)". Not the
     * client's fault, so no failure; strict mode takes that worst case too. */
    if (!Rule) {
        if (Irp && KsimWskStrict())
            *IrpInOut = NULL;
        return TRUE;
    }

    switch (Rule->Irp) {
    case KsimWskIrpRequired:
        return Irp != NULL;
    case KsimWskIrpNull:
        IrpMustBeNull = TRUE;
        break;
    case KsimWskIrpNullToEnable: {
        CONST WSK_EVENT_CALLBACK_CONTROL *Control = (CONST WSK_EVENT_CALLBACK_CONTROL *)InputBuffer;
        IrpMustBeNull = !Control || InputSize < sizeof(*Control) || !(Control->EventMask & WSK_EVENT_DISABLE);
        break;
    }
    }
    if (!Irp || !IrpMustBeNull)
        return TRUE;
    KsimVerifierFail("%s(code 0x%x, level 0x%x): an IRP where Learn says it must be NULL (netio ignores it: it is never "
                     "completed)",
                     Routine, (unsigned)Code, (unsigned)Level);
    if (KsimWskStrict())
        *IrpInOut = NULL;
    return TRUE;
}

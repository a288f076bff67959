/* SPDX-License-Identifier: MIT
 *
 * wsk-bridge wire protocol: the only definition of every IOCTL code, request, reply and
 * event record exchanged between user mode (native/) and the driver (driver/).
 *
 * Rules that keep it safe to parse in the kernel:
 *  - every field is fixed-width and little-endian; every struct is padded by hand to a
 *    multiple of 8 bytes and its size is static_assert'ed below;
 *  - no pointers ever cross the boundary; sockets are opaque 64-bit ids;
 *  - every IOCTL's input is METHOD_BUFFERED (or the system buffer of METHOD_OUT_DIRECT), so
 *    the driver only ever reads the I/O manager's copy of the caller's bytes, and validates
 *    every length before using it;
 *  - READ_EVENTS alone is METHOD_OUT_DIRECT: the driver writes event records straight into the
 *    caller's buffer through the MDL the I/O manager locks over it (no system buffer to fill,
 *    zero and copy back: one copy of every event byte fewer, and the caller can reuse its
 *    buffers). The driver only writes to that buffer, never reads it back: user mode can
 *    change it at any time.
 *
 * lib/protocol.ts mirrors this file; test/protocol.test.ts checks the mirror against the
 * values printed from this header (shared test vectors).
 */
#ifndef WSKBRIDGE_PROTOCOL_H
#define WSKBRIDGE_PROTOCOL_H

#if defined(_NTDDK_) || defined(_WDMDDK_) || defined(_WINDOWS_) || defined(_WINDEF_) || defined(KSIM_KERNEL_HEADERS)
/* UINT8 .. UINT64 come from basetsd.h (WDK, Windows SDK) or from ksim's ntddk.h. */
#else
#include <stdint.h>
typedef uint8_t UINT8;
typedef uint16_t UINT16;
typedef uint32_t UINT32;
typedef uint64_t UINT64;
typedef int32_t INT32;
typedef int64_t INT64;
#endif

#ifndef CTL_CODE
#define CTL_CODE(DeviceType, Function, Method, Access) \
    (((DeviceType) << 16) | ((Access) << 14) | ((Function) << 2) | (Method))
#endif
#ifndef METHOD_BUFFERED
#define METHOD_BUFFERED 0
#endif
#ifndef METHOD_OUT_DIRECT
#define METHOD_OUT_DIRECT 2
#endif
#ifndef FILE_READ_DATA
#define FILE_READ_DATA 0x0001
#endif
#ifndef FILE_WRITE_DATA
#define FILE_WRITE_DATA 0x0002
#endif

#ifdef __cplusplus
#define WSKB_STATIC_ASSERT(e, m) static_assert(e, m)
#else
#define WSKB_STATIC_ASSERT(e, m) _Static_assert(e, m)
#endif

#define WSKB_DEVICE_NAME L"\\Device\\WskBridge"
#define WSKB_SYMBOLIC_NAME L"\\DosDevices\\WskBridge"
#define WSKB_USER_PATH L"\\\\.\\WskBridge"

#define WSKB_MAGIC 0x424B5357u /* 'WSKB' little-endian */
/* 2: READ_EVENTS became METHOD_OUT_DIRECT (a new IOCTL code); SOCKET_FLOW, SOCKET_PAUSED/RESUMED.
 * 3: STATS reports EventsWrittenDirect (WSKB_STATS_OUT grew to 96 bytes). */
#define WSKB_PROTOCOL_VERSION 3u

/* Device type in the customer range (0x8000-0xFFFF); functions from 0x800 (customer range). */
#define WSKB_DEVICE_TYPE 0x9A57u
#define WSKB_IOCTL(Function) CTL_CODE(WSKB_DEVICE_TYPE, (Function), METHOD_BUFFERED, FILE_READ_DATA | FILE_WRITE_DATA)
#define WSKB_IOCTL_OUT_DIRECT(Function) \
    CTL_CODE(WSKB_DEVICE_TYPE, (Function), METHOD_OUT_DIRECT, FILE_READ_DATA | FILE_WRITE_DATA)

#define WSKB_IOCTL_HELLO WSKB_IOCTL(0x800)
#define WSKB_IOCTL_CONTROL_CLIENT WSKB_IOCTL(0x801)
#define WSKB_IOCTL_SOCKET_CREATE WSKB_IOCTL(0x802)
#define WSKB_IOCTL_BIND WSKB_IOCTL(0x803)
#define WSKB_IOCTL_CONNECT WSKB_IOCTL(0x804)
#define WSKB_IOCTL_ACCEPT WSKB_IOCTL(0x805)
#define WSKB_IOCTL_SEND WSKB_IOCTL(0x806)
#define WSKB_IOCTL_RECEIVE WSKB_IOCTL(0x807)
#define WSKB_IOCTL_SEND_TO WSKB_IOCTL(0x808)
#define WSKB_IOCTL_RECEIVE_FROM WSKB_IOCTL(0x809)
#define WSKB_IOCTL_DISCONNECT WSKB_IOCTL(0x80A)
#define WSKB_IOCTL_GET_ADDRESS WSKB_IOCTL(0x80B)
#define WSKB_IOCTL_CONTROL_SOCKET WSKB_IOCTL(0x80C)
#define WSKB_IOCTL_CLOSE WSKB_IOCTL(0x80D)
#define WSKB_IOCTL_READ_EVENTS WSKB_IOCTL_OUT_DIRECT(0x80E)
#define WSKB_IOCTL_INSPECT_COMPLETE WSKB_IOCTL(0x80F)
#define WSKB_IOCTL_STATS WSKB_IOCTL(0x810)
#define WSKB_IOCTL_SOCKET_FLOW WSKB_IOCTL(0x811)
#define WSKB_IOCTL_SOCKET_CONNECT WSKB_IOCTL(0x818) /* WskSocketConnect: create, bind, connect */

/* Largest payload of one SEND / RECEIVE / SEND_TO / RECEIVE_FROM / DISCONNECT request. */
#define WSKB_MAX_IO_BYTES (1024u * 1024u)
/* Largest input or output of one CONTROL_CLIENT / CONTROL_SOCKET request. */
#define WSKB_MAX_CONTROL_BYTES 4096u
/* Event queue budget (bytes of event records) chosen at HELLO; bounds are enforced. */
#define WSKB_EVENT_BUDGET_DEFAULT (4u * 1024u * 1024u)
#define WSKB_EVENT_BUDGET_MIN (64u * 1024u)
#define WSKB_EVENT_BUDGET_MAX (256u * 1024u * 1024u)
/* NonPaged pool that all handles together may make the driver hold in their socket tables
 * (128 KiB each, charged at open) and event rings (budget + 128 KiB each, charged at HELLO):
 * past it, opening a handle or HELLO fails with STATUS_QUOTA_EXCEEDED. Two sessions with the
 * largest budget fit. */
#define WSKB_DRIVER_POOL_BUDGET (640u * 1024u * 1024u)
/* Smallest READ_EVENTS output buffer: must hold the largest single record. */
#define WSKB_READ_EVENTS_MIN_OUTPUT (64u * 1024u + 256u)
/* Most bytes of records one READ_EVENTS completion carries, whatever its buffer's size: bounds
 * the copy the driver makes per completion (possibly inside a WSK callback at DISPATCH_LEVEL). */
#define WSKB_READ_EVENTS_BATCH_MAX (256u * 1024u)

/* ---- addresses ------------------------------------------------------------------------ */

/* Family values are Windows' (AF_INET = 2, AF_INET6 = 23); the port is in host order. */
typedef struct _WSKB_SOCKADDR {
    UINT16 Family;
    UINT16 Port;
    UINT32 FlowInfo;      /* IPv6 only */
    UINT8 Address[16];    /* IPv4 uses the first 4 bytes */
    UINT32 ScopeId;       /* IPv6 only */
    UINT32 Reserved;      /* must be 0 */
} WSKB_SOCKADDR;          /* 32 */

/* ---- HELLO: version handshake and session options ------------------------------------ */

typedef struct _WSKB_HELLO_IN {
    UINT32 Magic;           /* WSKB_MAGIC */
    UINT32 ClientVersion;   /* WSKB_PROTOCOL_VERSION */
    UINT32 EventBudgetBytes;/* 0 = default; else within [MIN, MAX] */
    UINT32 Reserved;        /* must be 0 */
} WSKB_HELLO_IN;            /* 16 */

/* A ClientVersion the driver does not speak completes HELLO with STATUS_REVISION_MISMATCH and
 * Information = the driver's WSKB_PROTOCOL_VERSION (no output is copied on an error status).
 * Windows writes no status block for an IRP that fails synchronously, so there user mode sees
 * Information 0 and can only say "another version"; ksim passes it through. */
typedef struct _WSKB_HELLO_OUT {
    UINT32 Magic;
    UINT32 DriverVersion;
    UINT32 EventBudgetBytes;  /* effective */
    UINT32 MaxIoBytes;        /* WSKB_MAX_IO_BYTES */
    UINT16 WskHighestVersion; /* from WskQueryProviderCharacteristics */
    UINT16 WskLowestVersion;
    UINT32 Reserved;
} WSKB_HELLO_OUT;             /* 24 */

/* ---- raw control: WskControlClient and WskControlSocket -------------------------------- */

/* Input: this header followed by InputLength bytes. For WSK_SET_STATIC_EVENT_CALLBACKS the
 * input is a UINT32 event mask: the driver builds WSK_EVENT_CALLBACK_CONTROL and fills NpiId. */
typedef struct _WSKB_CONTROL_CLIENT_IN {
    UINT32 ControlCode;
    UINT32 InputLength;
    UINT32 OutputLength;
    UINT32 Flags;           /* WSKB_CONTROL_FLAG_* */
} WSKB_CONTROL_CLIENT_IN;   /* 16 */

#define WSKB_CONTROL_FLAG_USE_IRP 0x1u  /* pass an IRP to WSK (else NULL) */
#define WSKB_CONTROL_FLAGS_VALID 0x1u

/* Input: this header followed by InputLength bytes. For SO_WSK_EVENT_CALLBACK the input is a
 * UINT32 event mask (passed to WSK unchanged); the driver fills NpiId. */
typedef struct _WSKB_CONTROL_SOCKET_IN {
    UINT64 SocketId;
    UINT32 RequestType;     /* WskSetOption / WskGetOption / WskIoctl; else STATUS_INVALID_PARAMETER */
    UINT32 ControlCode;
    UINT32 Level;
    UINT32 InputLength;
    UINT32 OutputLength;
    UINT32 Flags;           /* WSKB_CONTROL_FLAG_* */
} WSKB_CONTROL_SOCKET_IN;   /* 32 */

/* Output of both control IOCTLs: what WSK did, exactly. The request itself completes with
 * STATUS_SUCCESS when the WSK call was made, so user mode sees both statuses. */
typedef struct _WSKB_CONTROL_OUT {
    INT32 CallStatus;       /* what the Wsk* call returned (e.g. STATUS_PENDING, STATUS_EVENT_PENDING) */
    INT32 IrpStatus;        /* the IRP's final status when an IRP was used, else == CallStatus */
    UINT64 OutputSizeReturned;
} WSKB_CONTROL_OUT;         /* 16; followed by OutputSizeReturned bytes of output */

/* ---- sockets ---------------------------------------------------------------------------- */

typedef struct _WSKB_SOCKET_CREATE_IN {
    UINT16 Family;          /* passed to WSK unchanged */
    UINT16 SocketType;      /* SOCK_STREAM = 1, SOCK_DGRAM = 2 */
    UINT32 Protocol;        /* IPPROTO_TCP = 6, IPPROTO_UDP = 17 */
    UINT32 WskFlags;        /* WSK_FLAG_{BASIC,LISTEN,CONNECTION,DATAGRAM}_SOCKET */
    UINT32 Options;         /* WSKB_SOCKET_OPTION_* */
} WSKB_SOCKET_CREATE_IN;    /* 16 */

#define WSKB_SOCKET_OPTION_NO_DISPATCH 0x1u /* create with a NULL client dispatch table */
#define WSKB_SOCKET_OPTIONS_VALID 0x1u

/* SOCKET_CONNECT: a connection socket from WskSocketConnect, which creates, binds and
 * connects in one call. The family is the addresses' (both must have the same). */
typedef struct _WSKB_SOCKET_CONNECT_IN {
    UINT16 SocketType;      /* passed to WSK unchanged (SOCK_STREAM = 1) */
    UINT16 Reserved;        /* 0 */
    UINT32 Protocol;        /* passed to WSK unchanged (IPPROTO_TCP = 6) */
    UINT32 Options;         /* WSKB_SOCKET_OPTION_* */
    UINT32 Reserved2;       /* 0 (WskSocketConnect's Flags are reserved: the driver passes 0) */
    WSKB_SOCKADDR LocalAddress;
    WSKB_SOCKADDR RemoteAddress;
} WSKB_SOCKET_CONNECT_IN;   /* 80; output WSKB_SOCKET_ID */

typedef struct _WSKB_SOCKET_ID {
    UINT64 SocketId;        /* opaque: (generation << 32) | (session tag << 16) | slot; 0 is never valid */
} WSKB_SOCKET_ID;           /* 8: SOCKET_CREATE output, CLOSE input */

typedef struct _WSKB_ADDRESS_IN {
    UINT64 SocketId;
    WSKB_SOCKADDR Address;
    UINT32 Flags;           /* passed to WSK unchanged */
    UINT32 Reserved;
} WSKB_ADDRESS_IN;          /* 48: BIND, CONNECT */

typedef struct _WSKB_ACCEPT_IN {
    UINT64 SocketId;
    UINT32 Flags;
    UINT32 Reserved;
} WSKB_ACCEPT_IN;           /* 16 */

typedef struct _WSKB_ACCEPT_OUT {
    UINT64 AcceptedSocketId;
    WSKB_SOCKADDR LocalAddress;
    WSKB_SOCKADDR RemoteAddress;
} WSKB_ACCEPT_OUT;          /* 72 */

/* SEND, DISCONNECT: header followed by Length data bytes. RECEIVE: output is the data. */
typedef struct _WSKB_DATA_IN {
    UINT64 SocketId;
    UINT32 Flags;           /* WSK_FLAG_* for WskSend / WskReceive / WskDisconnect, unchanged */
    UINT32 Length;          /* <= WSKB_MAX_IO_BYTES */
} WSKB_DATA_IN;             /* 16 */

/* Optional output of SEND, SEND_TO and DISCONNECT: with an output buffer of at least 8 bytes
 * the driver writes the byte count WSK completed the IRP with (IoStatus.Information) and
 * completes with Information = 8; with a smaller one (0 is fine) Information is 0. */
typedef struct _WSKB_TRANSFER_OUT {
    UINT64 BytesTransferred;
} WSKB_TRANSFER_OUT;        /* 8 */

typedef struct _WSKB_SEND_TO_IN {
    UINT64 SocketId;
    WSKB_SOCKADDR RemoteAddress;
    UINT32 Flags;
    UINT32 Length;
} WSKB_SEND_TO_IN;          /* 48; followed by Length bytes */

typedef struct _WSKB_RECEIVE_FROM_OUT {
    WSKB_SOCKADDR RemoteAddress;
    UINT32 ControlFlags;
    UINT32 Length;
} WSKB_RECEIVE_FROM_OUT;    /* 40; followed by Length bytes */

#define WSKB_ADDRESS_LOCAL 0u
#define WSKB_ADDRESS_REMOTE 1u

typedef struct _WSKB_GET_ADDRESS_IN {
    UINT64 SocketId;
    UINT32 Which;           /* WSKB_ADDRESS_LOCAL / WSKB_ADDRESS_REMOTE */
    UINT32 Reserved;
} WSKB_GET_ADDRESS_IN;      /* 16; output WSKB_SOCKADDR */

typedef struct _WSKB_INSPECT_COMPLETE_IN {
    UINT64 SocketId;        /* the listening socket */
    UINT64 InspectToken;    /* from the INSPECT event's Param */
    UINT32 Action;          /* WskInspectReject = 0 or WskInspectAccept = 1; else STATUS_INVALID_PARAMETER */
    UINT32 Reserved;
} WSKB_INSPECT_COMPLETE_IN; /* 24 */

/* SOCKET_FLOW: user mode holds back (Pause = 1) or lets go (Pause = 0) one socket whose events
 * nobody reads, so that it slows only itself. While held, every data-class event of the socket
 * is refused as if the budget were spent: receive indications get STATUS_DATA_NOT_ACCEPTED
 * (FLOW_PAUSED; re-armed after release), datagrams are counted in DATAGRAMS_DROPPED for the
 * socket, accept and inspect indications are refused and counted in ACCEPTS_REFUSED (WSK
 * turns the connection away). Those counts are reported behind delivered records as usual, and
 * at the latest just before SOCKET_RESUMED. Each change queues SOCKET_PAUSED / SOCKET_RESUMED;
 * asking for the state the socket is already in queues nothing. No output. */
typedef struct _WSKB_SOCKET_FLOW_IN {
    UINT64 SocketId;
    UINT32 Pause;           /* 0 or 1; else STATUS_INVALID_PARAMETER */
    UINT32 Reserved;        /* 0; else STATUS_INVALID_PARAMETER */
} WSKB_SOCKET_FLOW_IN;      /* 16 */

/* ---- statistics ------------------------------------------------------------------------- */

typedef struct _WSKB_STATS_OUT {
    UINT64 EventsQueued;
    UINT64 EventsDelivered;
    UINT64 EventBytesQueued;       /* bytes currently held in the event queue */
    UINT64 EventBytesHighWater;
    UINT64 DatagramsDropped;       /* receive-from indications refused for want of budget */
    UINT64 AcceptsRefused;         /* accept indications refused for want of budget */
    UINT64 InspectsRejected;       /* inspect indications rejected for want of budget */
    UINT64 ReceivePauses;          /* STATUS_DATA_NOT_ACCEPTED / partial accepts returned */
    UINT64 ReceiveResumes;         /* zero-length WskReceive re-arms completed */
    UINT64 ReadEventsCompleted;
    UINT32 SocketsOpen;
    UINT32 EventBudgetBytes;
    UINT64 EventsWrittenDirect;    /* of EventsDelivered: written by the WSK callback straight into a
                                    * waiting READ_EVENTS buffer, never held in the queue */
} WSKB_STATS_OUT;                  /* 96 */

/* ---- events ----------------------------------------------------------------------------- */

/* READ_EVENTS output: whole records back to back; Information = total bytes. Each record is
 * WSKB_EVENT_HEADER + body, Size rounded up to a multiple of 8. */
typedef struct _WSKB_EVENT_HEADER {
    UINT32 Size;            /* whole record, header included, multiple of 8 */
    UINT32 Type;            /* WSKB_EVENT_* */
    UINT64 Sequence;        /* per session, starts at 1, no gaps */
    UINT64 Timestamp;       /* kernel interrupt time, 100 ns units */
    UINT64 SocketId;
    UINT32 WskFlags;        /* the Flags argument WSK passed to the callback */
    UINT32 DataLength;      /* payload bytes in the body (after any fixed body part) */
    UINT64 Param;           /* per type, see below */
} WSKB_EVENT_HEADER;        /* 48 */

/* WSK event callbacks */
#define WSKB_EVENT_RECEIVE 1u        /* body: data; Param = BytesIndicated by WSK */
#define WSKB_EVENT_RECEIVE_CLOSED 2u /* WskReceiveEvent with DataIndication == NULL */
#define WSKB_EVENT_DISCONNECT 3u     /* WskFlags has WSK_FLAG_ABORTIVE for a reset */
#define WSKB_EVENT_SEND_BACKLOG 4u   /* Param = IdealBacklogSize */
#define WSKB_EVENT_ACCEPT 5u         /* Param = accepted socket id (0: AcceptSocket was NULL); body: WSKB_ADDRESS_PAIR */
#define WSKB_EVENT_INSPECT 6u        /* Param = inspect token; body: WSKB_INSPECT_BODY */
#define WSKB_EVENT_ABORT 7u          /* Param = inspect token; body: WSKB_INSPECT_BODY */
#define WSKB_EVENT_RECEIVE_FROM 8u   /* body: WSKB_SOCKADDR remote, then data; one record per datagram */
/* bridge events: what the driver itself did */
#define WSKB_EVENT_FLOW_PAUSED 32u   /* receive returned DATA_NOT_ACCEPTED/partial; Param = bytes left with WSK */
#define WSKB_EVENT_FLOW_RESUMED 33u  /* zero-length WskReceive re-armed indications; Param = its status */
#define WSKB_EVENT_DATAGRAMS_DROPPED 34u /* Param = datagrams dropped since the last such event */
#define WSKB_EVENT_ACCEPTS_REFUSED 35u   /* Param = accept/inspect indications refused since last */
#define WSKB_EVENT_SOCKET_CLOSED 36u /* WskCloseSocket completed; last event of the socket */
#define WSKB_EVENT_SOCKET_PAUSED 37u /* SOCKET_FLOW held the socket back (user mode does not read it) */
#define WSKB_EVENT_SOCKET_RESUMED 38u /* SOCKET_FLOW let it go */
#define WSKB_EVENT_PAD 0xFFFFu       /* never delivered */

typedef struct _WSKB_ADDRESS_PAIR {
    WSKB_SOCKADDR LocalAddress;
    WSKB_SOCKADDR RemoteAddress;
} WSKB_ADDRESS_PAIR;        /* 64 */

typedef struct _WSKB_INSPECT_BODY {
    WSKB_SOCKADDR LocalAddress;  /* zero for ABORT */
    WSKB_SOCKADDR RemoteAddress; /* zero for ABORT */
    UINT64 Reserved0;            /* always 0: WSK_INSPECT_ID.Key is never exported (a ULONG_PTR
                                  * netio may fill with an object address); Param, the driver's
                                  * own token, names the inspection */
    UINT32 InspectSerialNumber;  /* WSK_INSPECT_ID.SerialNumber */
    UINT32 Reserved;
} WSKB_INSPECT_BODY;             /* 80 */

WSKB_STATIC_ASSERT(sizeof(WSKB_SOCKADDR) == 32, "WSKB_SOCKADDR");
WSKB_STATIC_ASSERT(sizeof(WSKB_HELLO_IN) == 16, "WSKB_HELLO_IN");
WSKB_STATIC_ASSERT(sizeof(WSKB_HELLO_OUT) == 24, "WSKB_HELLO_OUT");
WSKB_STATIC_ASSERT(sizeof(WSKB_CONTROL_CLIENT_IN) == 16, "WSKB_CONTROL_CLIENT_IN");
WSKB_STATIC_ASSERT(sizeof(WSKB_CONTROL_SOCKET_IN) == 32, "WSKB_CONTROL_SOCKET_IN");
WSKB_STATIC_ASSERT(sizeof(WSKB_CONTROL_OUT) == 16, "WSKB_CONTROL_OUT");
WSKB_STATIC_ASSERT(sizeof(WSKB_SOCKET_CREATE_IN) == 16, "WSKB_SOCKET_CREATE_IN");
WSKB_STATIC_ASSERT(sizeof(WSKB_SOCKET_ID) == 8, "WSKB_SOCKET_ID");
WSKB_STATIC_ASSERT(sizeof(WSKB_SOCKET_CONNECT_IN) == 80, "WSKB_SOCKET_CONNECT_IN");
WSKB_STATIC_ASSERT(sizeof(WSKB_ADDRESS_IN) == 48, "WSKB_ADDRESS_IN");
WSKB_STATIC_ASSERT(sizeof(WSKB_ACCEPT_IN) == 16, "WSKB_ACCEPT_IN");
WSKB_STATIC_ASSERT(sizeof(WSKB_ACCEPT_OUT) == 72, "WSKB_ACCEPT_OUT");
WSKB_STATIC_ASSERT(sizeof(WSKB_DATA_IN) == 16, "WSKB_DATA_IN");
WSKB_STATIC_ASSERT(sizeof(WSKB_TRANSFER_OUT) == 8, "WSKB_TRANSFER_OUT");
WSKB_STATIC_ASSERT(sizeof(WSKB_SEND_TO_IN) == 48, "WSKB_SEND_TO_IN");
WSKB_STATIC_ASSERT(sizeof(WSKB_RECEIVE_FROM_OUT) == 40, "WSKB_RECEIVE_FROM_OUT");
WSKB_STATIC_ASSERT(sizeof(WSKB_GET_ADDRESS_IN) == 16, "WSKB_GET_ADDRESS_IN");
WSKB_STATIC_ASSERT(sizeof(WSKB_INSPECT_COMPLETE_IN) == 24, "WSKB_INSPECT_COMPLETE_IN");
WSKB_STATIC_ASSERT(sizeof(WSKB_SOCKET_FLOW_IN) == 16, "WSKB_SOCKET_FLOW_IN");
WSKB_STATIC_ASSERT(sizeof(WSKB_STATS_OUT) == 96, "WSKB_STATS_OUT");
WSKB_STATIC_ASSERT(sizeof(WSKB_EVENT_HEADER) == 48, "WSKB_EVENT_HEADER");
WSKB_STATIC_ASSERT(sizeof(WSKB_ADDRESS_PAIR) == 64, "WSKB_ADDRESS_PAIR");
WSKB_STATIC_ASSERT(sizeof(WSKB_INSPECT_BODY) == 80, "WSKB_INSPECT_BODY");

#endif /* WSKBRIDGE_PROTOCOL_H */

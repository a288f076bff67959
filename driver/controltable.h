/* SPDX-License-Identifier: MIT
 *
 * The raw-control allowlist: the one table of every WskControlClient code and every
 * WskControlSocket (request type, level, code) that CONTROL_CLIENT / CONTROL_SOCKET may hand
 * to WSK, with the sizes each takes and the IRP rule Microsoft documents for it. Anything not
 * in the table is refused with STATUS_NOT_SUPPORTED before it reaches WSK: netio's protocols
 * may accept further codes (PFN_WSK_CONTROL_SOCKET: "The underlying network protocol might
 * support additional socket options / socket I/O control operations"), and some of those take
 * or return pointers, which no byte string from user mode can validly be and which must never
 * travel back (a kernel address in user mode). docs/controls.md lists the table.
 *
 * Inside the table, values reach WSK unchanged (options, masks, addresses): the table decides
 * only whether a call may be made, never what it says.
 */
#pragma once

#include "driver.h"

/* What kind of call an entry describes. The socket kinds are WSK_CONTROL_SOCKET_TYPE's values,
 * so a RequestType from user mode (checked < WskControlMax) is used as is. */
#define WSKB_CONTROL_SET_OPTION ((ULONG)WskSetOption)
#define WSKB_CONTROL_GET_OPTION ((ULONG)WskGetOption)
#define WSKB_CONTROL_IOCTL ((ULONG)WskIoctl)
#define WSKB_CONTROL_CLIENT 0x100u

/* The Irp parameter, per code, as Microsoft Learn's page of each code states it (the wsk.h
 * comment of PFN_WSK_CONTROL_SOCKET: "a required parameter or ignored (and must be NULL), or
 * optional based on the ControlCode"). No code of the table is optional throughout; the one
 * optional case, disabling with SO_WSK_EVENT_CALLBACK, is WskbIrpNullToEnable. */
typedef enum _WSKB_IRP_RULE {
    WskbIrpRequired = 1,
    WskbIrpMustBeNull,
    /* SO_WSK_EVENT_CALLBACK: no IRP to enable, an optional one to disable (Learn,
     * SO_WSK_EVENT_CALLBACK: "does not specify a pointer to an IRP when calling the
     * WskControlSocket function to enable ... can optionally specify a pointer to an IRP when
     * calling the WskControlSocket function to disable"). */
    WskbIrpNullToEnable
} WSKB_IRP_RULE;

typedef struct _WSKB_CONTROL_ENTRY {
    ULONG Kind;          /* WSKB_CONTROL_* */
    ULONG Level;         /* options only; IOCTLs ignore Level (PFN_WSK_CONTROL_SOCKET) */
    ULONG Code;
    ULONG InputMin;      /* bytes of input user mode passes (for an event mask: the 4-byte mask) */
    ULONG InputMax;
    ULONG OutputMin;     /* OutputLength user mode asks WSK for */
    ULONG OutputMax;
    WSKB_IRP_RULE Irp;
    /* OutputSizeReturned is passed (with a NULL IRP) only where the code returns output of a
     * size the caller cannot know: PFN_WSK_CONTROL_SOCKET says to set it to NULL "except when
     * all of the following are true: the Irp parameter is set to NULL, the operation ...
     * returns output data ..., the number of bytes of output data ... is unknown". */
    BOOLEAN OutputSizeReturned;
    /* The input is a ULONG event mask that the driver wraps into WSK_EVENT_CALLBACK_CONTROL
     * (user mode cannot name NPI_WSK_INTERFACE_ID's address). */
    BOOLEAN EventMask;
} WSKB_CONTROL_ENTRY;

/* Finds the entry for a call, or NULL: the caller refuses with STATUS_NOT_SUPPORTED. Kind is
 * WSKB_CONTROL_CLIENT or a WSK_CONTROL_SOCKET_TYPE value below WskControlMax. */
_IRQL_requires_max_(DISPATCH_LEVEL)
_Must_inspect_result_
CONST WSKB_CONTROL_ENTRY *
WskbControlLookup(_In_ ULONG Kind, _In_ ULONG Level, _In_ ULONG Code);

/* Checks a call against its entry, in this order: the sizes (STATUS_INVALID_BUFFER_SIZE: "the
 * size of the buffer is invalid for the specified operation"), then the IRP rule
 * (STATUS_INVALID_PARAMETER_MIX: an IRP where the rule says NULL, or none where it says
 * required). Mask is the event mask (read only for WskbIrpNullToEnable). */
_IRQL_requires_max_(DISPATCH_LEVEL)
_Must_inspect_result_
NTSTATUS
WskbControlCheck(_In_ CONST WSKB_CONTROL_ENTRY *Entry, _In_ ULONG InputLength, _In_ ULONG OutputLength,
                 _In_ BOOLEAN UseIrp, _In_ ULONG Mask);

/* SPDX-License-Identifier: MIT
 *
 * ksim: the netioddk.h subset WSK needs: the Network Programming Interface identifier type.
 * (C11 allows the same typedef twice, so ntddk.h may also declare NPIID.)
 */
#ifndef _NETIODDK_
#define _NETIODDK_

#include <ntddk.h>

typedef GUID NPIID;
typedef NPIID *PNPIID;
typedef CONST NPIID *PCNPIID;

#endif /* _NETIODDK_ */

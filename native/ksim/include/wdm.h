/* SPDX-License-Identifier: MIT
 *
 * ksim: wdm.h. ksim keeps the wdm.h-level declarations in ntddk.h (which the WDK's ntddk.h
 * includes); this file exists so that either spelling of the include works.
 */
#ifndef _KSIM_WDM_H_
#define _KSIM_WDM_H_
#include <ntddk.h>
#endif

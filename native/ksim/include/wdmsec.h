/* SPDX-License-Identifier: MIT
 *
 * ksim: wdmsec.h, the SDDL strings for device objects (the WDK defines them as selectany
 * UNICODE_STRING constants). ksim records the descriptor a device was created with but does
 * not evaluate it: every KsimOpen acts as an administrator.
 */
#ifndef _WDMSEC_H_
#define _WDMSEC_H_

#include <ntddk.h>

#ifdef __cplusplus
extern "C" {
#endif

DECLSPEC_SELECTANY const UNICODE_STRING SDDL_DEVOBJ_KERNEL_ONLY = RTL_CONSTANT_STRING(L"D:P");
DECLSPEC_SELECTANY const UNICODE_STRING SDDL_DEVOBJ_INF_SUPPLIED = RTL_CONSTANT_STRING(L"D:P");
DECLSPEC_SELECTANY const UNICODE_STRING SDDL_DEVOBJ_SYS_ALL = RTL_CONSTANT_STRING(L"D:P(A;;GA;;;SY)");
DECLSPEC_SELECTANY const UNICODE_STRING SDDL_DEVOBJ_SYS_ALL_ADM_ALL =
    RTL_CONSTANT_STRING(L"D:P(A;;GA;;;SY)(A;;GA;;;BA)");
DECLSPEC_SELECTANY const UNICODE_STRING SDDL_DEVOBJ_SYS_ALL_ADM_RX =
    RTL_CONSTANT_STRING(L"D:P(A;;GA;;;SY)(A;;GRGX;;;BA)");
DECLSPEC_SELECTANY const UNICODE_STRING SDDL_DEVOBJ_SYS_ALL_ADM_RWX_WORLD_R =
    RTL_CONSTANT_STRING(L"D:P(A;;GA;;;SY)(A;;GRGWGX;;;BA)(A;;GR;;;WD)");

#ifdef __cplusplus
}
#endif

#endif /* _WDMSEC_H_ */

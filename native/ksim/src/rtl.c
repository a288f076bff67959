/* SPDX-License-Identifier: MIT
 *
 * ksim: the Rtl routines of the subset that are not macros.
 */
#include "ksim_internal.h"

SIZE_T
RtlCompareMemory(const VOID *Source1, const VOID *Source2, SIZE_T Length)
{
    const UCHAR *a = Source1, *b = Source2;
    SIZE_T i = 0;
    while (i < Length && a[i] == b[i])
        ++i;
    return i;
}

VOID
RtlInitUnicodeString(PUNICODE_STRING DestinationString, PCWSTR SourceString)
{
    SIZE_T Length = 0;
    DestinationString->Buffer = (PWSTR)SourceString;
    if (SourceString == NULL) {
        DestinationString->Length = DestinationString->MaximumLength = 0;
        return;
    }
    while (SourceString[Length])
        ++Length;
    /* UNICODE_STRING lengths are USHORT byte counts: longer strings are clamped as the WDK's
     * RtlInitUnicodeString does (UNICODE_STRING_MAX_BYTES). */
    if (Length * sizeof(WCHAR) > 0xFFFC - sizeof(WCHAR))
        Length = (0xFFFC - sizeof(WCHAR)) / sizeof(WCHAR);
    DestinationString->Length = (USHORT)(Length * sizeof(WCHAR));
    DestinationString->MaximumLength = (USHORT)(DestinationString->Length + sizeof(WCHAR));
}

static WCHAR UpcaseAscii(WCHAR c)
{
    return (c >= L'a' && c <= L'z') ? (WCHAR)(c - (L'a' - L'A')) : c;
}

BOOLEAN
RtlEqualUnicodeString(PCUNICODE_STRING String1, PCUNICODE_STRING String2, BOOLEAN CaseInSensitive)
{
    USHORT Count;
    if (String1->Length != String2->Length)
        return FALSE;
    Count = (USHORT)(String1->Length / sizeof(WCHAR));
    for (USHORT i = 0; i < Count; ++i) {
        WCHAR a = String1->Buffer[i], b = String2->Buffer[i];
        if (CaseInSensitive) {
            a = UpcaseAscii(a);
            b = UpcaseAscii(b);
        }
        if (a != b)
            return FALSE;
    }
    return TRUE;
}

/* SPDX-License-Identifier: MIT
 *
 * bench instrument (LD_PRELOAD): counts the bytes moved by memcpy / memmove calls of at least
 * 1 KiB, and filled by memset calls of at least 1 KiB, in the process it is loaded into, and
 * writes "<pid> <copied> <filled> <calls>" to the file named by WSKB_COPY_COUNT_FILE at exit.
 * The "copies per received byte" of bench/run.ts: the bytes that pass through user-space copies
 * divided by the bytes received (the host kernel's own copy into the first buffer is not a
 * user-space copy and is not counted, for the bridge or for Node). Calls V8 makes without going
 * through the C library are not seen; small copies (headers, addresses) are left out on purpose.
 * Built by bench/run.ts with cc at run time (into .cache/bench).
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define LARGE 1024

static _Atomic unsigned long long Copied, Filled, Calls;
static void *(*RealMemcpy)(void *, const void *, size_t);
static void *(*RealMemmove)(void *, const void *, size_t);
static void *(*RealMemset)(void *, int, size_t);

static void Resolve(void)
{
    RealMemcpy = dlsym(RTLD_NEXT, "memcpy");
    RealMemmove = dlsym(RTLD_NEXT, "memmove");
    RealMemset = dlsym(RTLD_NEXT, "memset");
}

/* dlsym may itself copy before the real routines are known: plain loops until then. */
void *memcpy(void *Destination, const void *Source, size_t Length)
{
    if (!RealMemcpy) {
        for (size_t i = 0; i < Length; ++i)
            ((char *)Destination)[i] = ((const char *)Source)[i];
        return Destination;
    }
    if (Length >= LARGE) {
        atomic_fetch_add_explicit(&Copied, Length, memory_order_relaxed);
        atomic_fetch_add_explicit(&Calls, 1, memory_order_relaxed);
    }
    return RealMemcpy(Destination, Source, Length);
}

void *memmove(void *Destination, const void *Source, size_t Length)
{
    if (!RealMemmove) {
        char *d = Destination;
        const char *s = Source;
        if (d < s)
            for (size_t i = 0; i < Length; ++i)
                d[i] = s[i];
        else
            for (size_t i = Length; i > 0; --i)
                d[i - 1] = s[i - 1];
        return Destination;
    }
    if (Length >= LARGE) {
        atomic_fetch_add_explicit(&Copied, Length, memory_order_relaxed);
        atomic_fetch_add_explicit(&Calls, 1, memory_order_relaxed);
    }
    return RealMemmove(Destination, Source, Length);
}

void *memset(void *Destination, int Fill, size_t Length)
{
    if (!RealMemset) {
        for (size_t i = 0; i < Length; ++i)
            ((char *)Destination)[i] = (char)Fill;
        return Destination;
    }
    if (Length >= LARGE)
        atomic_fetch_add_explicit(&Filled, Length, memory_order_relaxed);
    return RealMemset(Destination, Fill, Length);
}

__attribute__((constructor)) static void Start(void)
{
    Resolve();
}

__attribute__((destructor)) static void Report(void)
{
    const char *Name = getenv("WSKB_COPY_COUNT_FILE");
    FILE *Out;
    if (!Name || !(Out = fopen(Name, "a")))
        return;
    fprintf(Out, "%d %llu %llu %llu\n", (int)getpid(), (unsigned long long)Copied, (unsigned long long)Filled,
            (unsigned long long)Calls);
    fclose(Out);
}

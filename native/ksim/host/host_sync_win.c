/* SPDX-License-Identifier: MIT
 *
 * ksim host services on Win32 (the sim backend on Windows, and under Wine): SRW locks and
 * condition variables, CRT threads, QueryPerformanceCounter. The only ksim file besides
 * host_net_win.c that includes Windows headers; see host_sync.h. Mirrors host_sync_posix.c.
 */
#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#include "host_sync.h"

#include <windows.h>
#include <errno.h>
#include <process.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef _MSC_VER
#define KSIM_HOST_THREAD_LOCAL __declspec(thread)
#else
#define KSIM_HOST_THREAD_LOCAL _Thread_local
#endif

#ifndef CREATE_WAITABLE_TIMER_HIGH_RESOLUTION
#define CREATE_WAITABLE_TIMER_HIGH_RESOLUTION 0x00000002
#endif

struct _KSIM_HOST_MUTEX {
    SRWLOCK Lock;
};

struct _KSIM_HOST_COND {
    CONDITION_VARIABLE Cond;
};

struct _KSIM_HOST_THREAD {
    HANDLE Handle;
};

/* Owned by the new thread, which frees it: the caller may detach (and free its
 * KSIM_HOST_THREAD) before the thread has even started. */
typedef struct _KSIM_HOST_THREAD_START {
    KSIM_HOST_THREAD_ROUTINE *Routine;
    void *Context;
} KSIM_HOST_THREAD_START;

static void
KsimHostDie(const char *What)
{
    char Text[160];
    _snprintf(Text, sizeof(Text), "ksim: %s failed (Win32 error %lu)\n", What, (unsigned long)GetLastError());
    Text[sizeof(Text) - 1] = 0;
    KsimHostWriteStderr(Text);
    KsimHostAbort();
}

KSIM_HOST_MUTEX *
KsimHostMutexCreate(void)
{
    KSIM_HOST_MUTEX *Mutex = malloc(sizeof(*Mutex));
    if (!Mutex)
        KsimHostDie("allocating a host mutex");
    InitializeSRWLock(&Mutex->Lock);
    return Mutex;
}

void
KsimHostMutexDestroy(KSIM_HOST_MUTEX *Mutex)
{
    /* SRW locks need no teardown. */
    free(Mutex);
}

void
KsimHostMutexLock(KSIM_HOST_MUTEX *Mutex)
{
    AcquireSRWLockExclusive(&Mutex->Lock);
}

void
KsimHostMutexUnlock(KSIM_HOST_MUTEX *Mutex)
{
    ReleaseSRWLockExclusive(&Mutex->Lock);
}

KSIM_HOST_COND *
KsimHostCondCreate(void)
{
    KSIM_HOST_COND *Cond = malloc(sizeof(*Cond));
    if (!Cond)
        KsimHostDie("allocating a host condition variable");
    InitializeConditionVariable(&Cond->Cond);
    return Cond;
}

void
KsimHostCondDestroy(KSIM_HOST_COND *Cond)
{
    free(Cond);
}

void
KsimHostCondWait(KSIM_HOST_COND *Cond, KSIM_HOST_MUTEX *Mutex)
{
    if (!SleepConditionVariableSRW(&Cond->Cond, &Mutex->Lock, INFINITE, 0))
        KsimHostDie("SleepConditionVariableSRW");
}

int
KsimHostCondWaitUntil(KSIM_HOST_COND *Cond, KSIM_HOST_MUTEX *Mutex, uint64_t DeadlineNs)
{
    uint64_t Now = KsimHostMonotonicNs();
    uint64_t Milliseconds;
    if (Now >= DeadlineNs)
        return 1;
    /* Rounded up, so a wake-up "at the deadline" is never early. */
    Milliseconds = (DeadlineNs - Now + 999999u) / 1000000u;
    if (Milliseconds >= INFINITE)
        Milliseconds = INFINITE - 1;
    if (SleepConditionVariableSRW(&Cond->Cond, &Mutex->Lock, (DWORD)Milliseconds, 0))
        return 0;
    if (GetLastError() != ERROR_TIMEOUT)
        KsimHostDie("SleepConditionVariableSRW");
    return KsimHostMonotonicNs() >= DeadlineNs ? 1 : 0;
}

void
KsimHostCondBroadcast(KSIM_HOST_COND *Cond)
{
    WakeAllConditionVariable(&Cond->Cond);
}

static unsigned __stdcall
KsimHostThreadStart(void *Parameter)
{
    KSIM_HOST_THREAD_START *Start = Parameter;
    KSIM_HOST_THREAD_ROUTINE *Routine = Start->Routine;
    void *Context = Start->Context;
    free(Start);
    Routine(Context);
    return 0;
}

int
KsimHostThreadCreate(KSIM_HOST_THREAD_ROUTINE *Routine, void *Context, KSIM_HOST_THREAD **Thread)
{
    KSIM_HOST_THREAD *T;
    KSIM_HOST_THREAD_START *Start;
    unsigned Id;
    HANDLE Handle;

    *Thread = NULL;
    T = calloc(1, sizeof(*T));
    Start = calloc(1, sizeof(*Start));
    if (!T || !Start) {
        free(T);
        free(Start);
        return ENOMEM;
    }
    Start->Routine = Routine;
    Start->Context = Context;
    Handle = (HANDLE)_beginthreadex(NULL, 0, KsimHostThreadStart, Start, 0, &Id);
    if (!Handle) {
        int Error = errno ? errno : EAGAIN;
        free(Start);
        free(T);
        return Error;
    }
    T->Handle = Handle;
    *Thread = T;
    return 0;
}

void
KsimHostThreadJoin(KSIM_HOST_THREAD *Thread)
{
    if (WaitForSingleObject(Thread->Handle, INFINITE) != WAIT_OBJECT_0)
        KsimHostDie("WaitForSingleObject on a host thread");
    CloseHandle(Thread->Handle);
    free(Thread);
}

void
KsimHostThreadDetach(KSIM_HOST_THREAD *Thread)
{
    CloseHandle(Thread->Handle);
    free(Thread);
}

void
KsimHostThreadExit(void)
{
    _endthreadex(0);
    KsimHostAbort(); /* not reached */
}

uint64_t
KsimHostThreadId(void)
{
    return GetCurrentThreadId();
}

void
KsimHostYield(void)
{
    SwitchToThread();
}

void
KsimHostSleepNs(uint64_t Nanoseconds)
{
    /* Sleep() rounds up to the scheduler tick (up to 15.6 ms); a high-resolution waitable
     * timer (Windows 10 1803+) sleeps for close to what was asked. One per thread, kept. */
    static KSIM_HOST_THREAD_LOCAL HANDLE Timer;
    static KSIM_HOST_THREAD_LOCAL int TimerUnavailable;
    LARGE_INTEGER Due;

    if (Nanoseconds == 0) {
        SwitchToThread();
        return;
    }
    if (!Timer && !TimerUnavailable) {
        Timer = CreateWaitableTimerExW(NULL, NULL, CREATE_WAITABLE_TIMER_HIGH_RESOLUTION, TIMER_ALL_ACCESS);
        if (!Timer)
            TimerUnavailable = 1;
    }
    if (Timer) {
        Due.QuadPart = -(LONGLONG)((Nanoseconds + 99u) / 100u); /* relative, 100 ns units */
        if (SetWaitableTimer(Timer, &Due, 0, NULL, NULL, FALSE) &&
            WaitForSingleObject(Timer, INFINITE) == WAIT_OBJECT_0)
            return;
    }
    Sleep((DWORD)((Nanoseconds + 999999u) / 1000000u));
}

/* The slot's value is ksim's per-thread state, allocated with KsimHostAlloc and owned by the
 * slot: it is freed when its thread exits, as host_sync_posix.c's pthread key destructor does.
 * A fiber-local slot, because only FlsAlloc takes a callback that runs at thread exit. */
static INIT_ONCE KsimHostTlsOnce = INIT_ONCE_STATIC_INIT;
static DWORD KsimHostTlsIndex = FLS_OUT_OF_INDEXES;

static VOID WINAPI
KsimHostTlsFree(PVOID Value)
{
    free(Value);
}

static BOOL CALLBACK
KsimHostTlsInit(PINIT_ONCE Once, PVOID Parameter, PVOID *Context)
{
    (void)Once;
    (void)Parameter;
    (void)Context;
    KsimHostTlsIndex = FlsAlloc(KsimHostTlsFree);
    return TRUE;
}

static DWORD
KsimHostTlsSlot(void)
{
    InitOnceExecuteOnce(&KsimHostTlsOnce, KsimHostTlsInit, NULL, NULL);
    if (KsimHostTlsIndex == FLS_OUT_OF_INDEXES)
        KsimHostDie("FlsAlloc");
    return KsimHostTlsIndex;
}

void *
KsimHostTlsGet(void)
{
    return FlsGetValue(KsimHostTlsSlot());
}

void
KsimHostTlsSet(void *Value)
{
    if (!FlsSetValue(KsimHostTlsSlot(), Value))
        KsimHostDie("FlsSetValue");
}

uint64_t
KsimHostMonotonicNs(void)
{
    static LARGE_INTEGER Frequency;
    LARGE_INTEGER Counter;
    uint64_t Seconds, Rest;

    if (!Frequency.QuadPart)
        QueryPerformanceFrequency(&Frequency); /* never fails on Windows XP and later */
    QueryPerformanceCounter(&Counter);
    /* Split so that Counter * 1e9 cannot overflow 64 bits. */
    Seconds = (uint64_t)Counter.QuadPart / (uint64_t)Frequency.QuadPart;
    Rest = (uint64_t)Counter.QuadPart % (uint64_t)Frequency.QuadPart;
    return Seconds * 1000000000u + Rest * 1000000000u / (uint64_t)Frequency.QuadPart;
}

void *
KsimHostAlloc(size_t Size)
{
    return malloc(Size ? Size : 1);
}

void *
KsimHostAllocZero(size_t Size)
{
    return calloc(1, Size ? Size : 1);
}

void
KsimHostFree(void *Block)
{
    free(Block);
}

size_t
KsimHostPageBytes(void)
{
    SYSTEM_INFO Info;

    GetSystemInfo(&Info);
    return Info.dwPageSize;
}

/* A guard page, the block's pages, a guard page (host_sync.h). */
static size_t
HostPagesSpan(size_t Size)
{
    size_t Page = KsimHostPageBytes();
    return ((Size + Page - 1) & ~(Page - 1)) + 2 * Page;
}

void *
KsimHostPagesAlloc(size_t Size, int Zero)
{
    size_t Page = KsimHostPageBytes();
    size_t Span = HostPagesSpan(Size);
    DWORD Old;
    char *Base = VirtualAlloc(NULL, Span, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE);

    (void)Zero; /* committed pages are zero */
    if (!Base)
        return NULL;
    if (!VirtualProtect(Base, Page, PAGE_NOACCESS, &Old) || !VirtualProtect(Base + Span - Page, Page, PAGE_NOACCESS, &Old)) {
        VirtualFree(Base, 0, MEM_RELEASE);
        return NULL;
    }
    return Base + Page;
}

void
KsimHostPagesFree(void *Block, size_t Size)
{
    (void)Size;
    if (Block)
        VirtualFree((char *)Block - KsimHostPageBytes(), 0, MEM_RELEASE);
}

int
KsimHostFormatV(char *Buffer, size_t Size, const char *Format, va_list Arguments)
{
#ifdef __MINGW32__
    /* msvcrt's vsnprintf knows neither %zu nor %llu everywhere; mingw-w64's own is C99. */
    return __mingw_vsnprintf(Buffer, Size, Format, Arguments);
#else
    return vsnprintf(Buffer, Size, Format, Arguments);
#endif
}

void
KsimHostWriteStderr(const char *Text)
{
    /* Straight to the handle: the addon's C runtime may be a static copy whose stderr
     * buffer Node never flushes. */
    HANDLE Handle = GetStdHandle(STD_ERROR_HANDLE);
    DWORD Written;
    if (Handle && Handle != INVALID_HANDLE_VALUE)
        WriteFile(Handle, Text, (DWORD)strlen(Text), &Written, NULL);
}

/* getenv would read the C runtime's copy of the environment, taken when the addon loaded
 * (a static runtime has its own); Node changes the process environment, so read that. Values
 * are kept for the life of the process, since callers may hold the pointer: one block per
 * distinct name and value. */
typedef struct _KSIM_HOST_ENV_ENTRY {
    struct _KSIM_HOST_ENV_ENTRY *Next;
    char *Name;
    char *Value;
} KSIM_HOST_ENV_ENTRY;

static SRWLOCK KsimHostEnvLock = SRWLOCK_INIT;
static KSIM_HOST_ENV_ENTRY *KsimHostEnvEntries;

const char *
KsimHostGetEnv(const char *Name)
{
    char Small[512];
    char *Value = Small;
    DWORD Length = GetEnvironmentVariableA(Name, Small, sizeof(Small));
    KSIM_HOST_ENV_ENTRY *Entry;
    const char *Result = NULL;

    if (Length == 0)
        return NULL; /* unset (an empty value reads the same, as with most getenv users) */
    if (Length >= sizeof(Small)) {
        Value = malloc(Length);
        if (!Value)
            return NULL;
        if (GetEnvironmentVariableA(Name, Value, Length) >= Length) {
            free(Value);
            return NULL;
        }
    }
    AcquireSRWLockExclusive(&KsimHostEnvLock);
    for (Entry = KsimHostEnvEntries; Entry; Entry = Entry->Next)
        if (strcmp(Entry->Name, Name) == 0 && strcmp(Entry->Value, Value) == 0) {
            Result = Entry->Value;
            break;
        }
    if (!Result) {
        Entry = calloc(1, sizeof(*Entry));
        if (Entry) {
            Entry->Name = _strdup(Name);
            Entry->Value = _strdup(Value);
            if (Entry->Name && Entry->Value) {
                Entry->Next = KsimHostEnvEntries;
                KsimHostEnvEntries = Entry;
                Result = Entry->Value;
            } else {
                free(Entry->Name);
                free(Entry->Value);
                free(Entry);
            }
        }
    }
    ReleaseSRWLockExclusive(&KsimHostEnvLock);
    if (Value != Small)
        free(Value);
    return Result;
}

void
KsimHostAbort(void)
{
    /* Like a bugcheck: stop here, without the C runtime's "abnormal termination" dialog or
     * Windows Error Reporting (which would hang an unattended test run). */
    TerminateProcess(GetCurrentProcess(), 3);
    abort();
}

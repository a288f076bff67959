/* SPDX-License-Identifier: MIT
 *
 * End-to-end smoke test of the driver's socket half on ksim, through ksim.h only (what the
 * addon does): load, open, HELLO, malformed IOCTLs with their exact NTSTATUS, a listening
 * socket accepting a host TCP connection, data both ways, a connection socket connecting to a
 * host listener, UDP both ways, cancellation of a pended receive, close semantics (stale ids),
 * a second session that cannot touch the first one's sockets, closing a session with live
 * sockets and pended requests, and unload with nothing left: no pool block, IRP, MDL, host
 * socket or verifier failure.
 *
 * Build and run (from the package root, ksim complete):
 *   cc -std=gnu11 -Wall -Wextra -Wno-unused-parameter -Wno-multichar -Wno-missing-field-initializers \
 *      -Inative/ksim/include -Inative/ksim -Idriver driver/test/socket_smoke_test.c \
 *      $(node scripts/gyp-sources.js driver) $(node scripts/gyp-sources.js ksim) -lpthread \
 *      -o .cache/socket_smoke_test && .cache/socket_smoke_test
 * Exit status 0 on success; each failed check prints its line.
 *
 * This file is user-mode code: it includes host headers and ksim.h, never the simulated kernel
 * headers, exactly like the addon.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "ksim.h"
#include "protocol.h"

/* The NTSTATUS values this test expects (Windows values). */
#define S_SUCCESS 0x00000000
#define S_PENDING 0x00000103
#define S_INVALID_HANDLE ((int32_t)0xC0000008)
#define S_INVALID_PARAMETER ((int32_t)0xC000000D)
#define S_INVALID_DEVICE_REQUEST ((int32_t)0xC0000010)
#define S_BUFFER_TOO_SMALL ((int32_t)0xC0000023)
#define S_REVISION_MISMATCH ((int32_t)0xC0000059)
#define S_NOT_SUPPORTED ((int32_t)0xC00000BB)
#define S_CANCELLED ((int32_t)0xC0000120)
#define S_INVALID_DEVICE_STATE ((int32_t)0xC0000184)
#define S_INVALID_BUFFER_SIZE ((int32_t)0xC0000206)
#define S_INVALID_PARAMETER_MIX ((int32_t)0xC0000030)
#define S_INSUFFICIENT_RESOURCES ((int32_t)0xC000009A)

/* The driver's socket table (driver.h, kernel side): its limit, its first size, its pool tag,
 * and the id layout (generation << 32) | (session tag << 16) | slot. */
#define TABLE_MAX_SLOTS 8192u
#define TABLE_INITIAL_SLOTS 64u
#define TABLE_POOL_TAG 0x74426B57u /* 'tBkW' */
#define OPERATION_POOL_TAG 0x6F426B57u /* 'oBkW', the operation lookaside list's entries */
#define ID_SLOT(Id) ((uint32_t)((Id) & 0xFFFFu))
#define ID_GENERATION(Id) ((uint32_t)((Id) >> 32))

#define W_AF_INET 2
#define W_AF_INET6 23
#define W_SOCK_STREAM 1
#define W_SOCK_DGRAM 2
#define W_IPPROTO_TCP 6
#define W_IPPROTO_UDP 17
#define W_FLAG_BASIC 0
#define W_FLAG_LISTEN 1
#define W_FLAG_CONNECTION 2
#define W_FLAG_DATAGRAM 4
#define W_SOL_SOCKET 0xffff
#define W_SO_WSK_SECURITY 0x4001
#define W_SO_RCVBUF 0x1002
#define W_WSK_CACHE_SD 4
#define W_WSK_TRANSPORT_LIST_QUERY 2

static int Failures;
static int Checks;

#define CHECK(Condition)                                                                  \
    do {                                                                                  \
        ++Checks;                                                                         \
        if (!(Condition)) {                                                               \
            ++Failures;                                                                   \
            printf("FAIL %s:%d: %s\n", __FILE__, __LINE__, #Condition);                   \
        }                                                                                 \
    } while (0)

#define CHECK_STATUS(Actual, Expected)                                                                      \
    do {                                                                                                    \
        int32_t A_ = (Actual), E_ = (Expected);                                                             \
        ++Checks;                                                                                           \
        if (A_ != E_) {                                                                                     \
            ++Failures;                                                                                     \
            printf("FAIL %s:%d: %s = 0x%08X, expected 0x%08X\n", __FILE__, __LINE__, #Actual, (unsigned)A_, \
                   (unsigned)E_);                                                                           \
        }                                                                                                   \
    } while (0)

/* ---- one DeviceIoControl, waited for or not ---- */

typedef struct _CALL {
    pthread_mutex_t Mutex;
    pthread_cond_t Cond;
    int Done;
    int32_t Status;
    uint64_t Information;
    uint8_t *Output;
    uint32_t OutputCapacity;
    uint32_t OutputLength;
} CALL;

static void
OnComplete(void *Context, int32_t Status, uint64_t Information, const void *Output, uint32_t OutputLength)
{
    CALL *Call = Context;

    pthread_mutex_lock(&Call->Mutex);
    Call->Status = Status;
    Call->Information = Information;
    if (OutputLength > Call->OutputCapacity)
        OutputLength = Call->OutputCapacity; /* never: ksim clamps to the output length */
    if (OutputLength)
        memcpy(Call->Output, Output, OutputLength);
    Call->OutputLength = OutputLength;
    Call->Done = 1;
    pthread_cond_broadcast(&Call->Cond);
    pthread_mutex_unlock(&Call->Mutex);
}

static CALL *
Start(KSIM_FILE *File, uint32_t Code, const void *Input, uint32_t InputLength, uint32_t OutputLength)
{
    CALL *Call = calloc(1, sizeof(*Call));

    pthread_mutex_init(&Call->Mutex, NULL);
    pthread_cond_init(&Call->Cond, NULL);
    Call->Output = calloc(1, OutputLength ? OutputLength : 1);
    Call->OutputCapacity = OutputLength;
    KsimDeviceIoControl(File, Code, Input, InputLength, OutputLength, OnComplete, Call);
    return Call;
}

/* 1 when completed within TimeoutMs. */
static int
Wait(CALL *Call, int TimeoutMs)
{
    struct timespec Deadline;
    int Done;

    clock_gettime(CLOCK_REALTIME, &Deadline);
    Deadline.tv_sec += TimeoutMs / 1000;
    Deadline.tv_nsec += (long)(TimeoutMs % 1000) * 1000000L;
    if (Deadline.tv_nsec >= 1000000000L) {
        Deadline.tv_sec++;
        Deadline.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&Call->Mutex);
    while (!Call->Done) {
        if (pthread_cond_timedwait(&Call->Cond, &Call->Mutex, &Deadline) == ETIMEDOUT)
            break;
    }
    Done = Call->Done;
    pthread_mutex_unlock(&Call->Mutex);
    return Done;
}

static void
Free(CALL *Call)
{
    pthread_mutex_destroy(&Call->Mutex);
    pthread_cond_destroy(&Call->Cond);
    free(Call->Output);
    free(Call);
}

/* Synchronous: returns the status; copies up to OutputLength bytes to Output. */
static int32_t
Ioctl(KSIM_FILE *File, uint32_t Code, const void *Input, uint32_t InputLength, void *Output, uint32_t OutputLength,
      uint64_t *Information)
{
    CALL *Call = Start(File, Code, Input, InputLength, OutputLength);
    int32_t Status;

    if (!Wait(Call, 10000)) {
        printf("FAIL: IOCTL 0x%08X did not complete in 10 s\n", Code);
        ++Failures;
        abort(); /* the call still references Call */
    }
    Status = Call->Status;
    if (Output && Call->OutputLength)
        memcpy(Output, Call->Output, Call->OutputLength);
    if (Information)
        *Information = Call->Information;
    Free(Call);
    return Status;
}

/* ---- protocol helpers ---- */

static WSKB_SOCKADDR
Ipv4(uint8_t A, uint8_t B, uint8_t C, uint8_t D, uint16_t Port)
{
    WSKB_SOCKADDR Address;

    memset(&Address, 0, sizeof(Address));
    Address.Family = W_AF_INET;
    Address.Port = Port;
    Address.Address[0] = A;
    Address.Address[1] = B;
    Address.Address[2] = C;
    Address.Address[3] = D;
    return Address;
}

static int32_t
DoHello(KSIM_FILE *File)
{
    WSKB_HELLO_IN In = { WSKB_MAGIC, WSKB_PROTOCOL_VERSION, 0, 0 };
    WSKB_HELLO_OUT Out;
    int32_t Status;

    memset(&Out, 0, sizeof(Out));
    Status = Ioctl(File, WSKB_IOCTL_HELLO, &In, sizeof(In), &Out, sizeof(Out), NULL);
    if (Status == S_SUCCESS) {
        CHECK(Out.Magic == WSKB_MAGIC);
        CHECK(Out.DriverVersion == WSKB_PROTOCOL_VERSION);
        CHECK(Out.EventBudgetBytes == WSKB_EVENT_BUDGET_DEFAULT);
        CHECK(Out.MaxIoBytes == WSKB_MAX_IO_BYTES);
        CHECK(Out.WskHighestVersion >= 0x0100);
    }
    return Status;
}

static int32_t
SocketCreate(KSIM_FILE *File, uint16_t Family, uint16_t Type, uint32_t Protocol, uint32_t Flags, uint64_t *Id)
{
    WSKB_SOCKET_CREATE_IN In = { Family, Type, Protocol, Flags, 0 };
    WSKB_SOCKET_ID Out = { 0 };
    int32_t Status = Ioctl(File, WSKB_IOCTL_SOCKET_CREATE, &In, sizeof(In), &Out, sizeof(Out), NULL);

    *Id = Out.SocketId;
    return Status;
}

static int32_t
AddressCall(KSIM_FILE *File, uint32_t Code, uint64_t Id, WSKB_SOCKADDR Address)
{
    WSKB_ADDRESS_IN In;

    memset(&In, 0, sizeof(In));
    In.SocketId = Id;
    In.Address = Address;
    return Ioctl(File, Code, &In, sizeof(In), NULL, 0, NULL);
}

static int32_t
GetAddress(KSIM_FILE *File, uint64_t Id, uint32_t Which, WSKB_SOCKADDR *Address)
{
    WSKB_GET_ADDRESS_IN In = { Id, Which, 0 };

    memset(Address, 0, sizeof(*Address));
    return Ioctl(File, WSKB_IOCTL_GET_ADDRESS, &In, sizeof(In), Address, sizeof(*Address), NULL);
}

static int32_t
Send(KSIM_FILE *File, uint64_t Id, const void *Data, uint32_t Length, uint64_t *Sent)
{
    uint8_t *In = malloc(sizeof(WSKB_DATA_IN) + Length);
    WSKB_DATA_IN Header = { Id, 0, Length };
    WSKB_TRANSFER_OUT Out = { 0 };
    int32_t Status;

    memcpy(In, &Header, sizeof(Header));
    memcpy(In + sizeof(Header), Data, Length);
    Status = Ioctl(File, WSKB_IOCTL_SEND, In, sizeof(Header) + Length, &Out, sizeof(Out), NULL);
    free(In);
    *Sent = Out.BytesTransferred;
    return Status;
}

static int32_t
CloseSocket(KSIM_FILE *File, uint64_t Id)
{
    WSKB_SOCKET_ID In = { Id };

    return Ioctl(File, WSKB_IOCTL_CLOSE, &In, sizeof(In), NULL, 0, NULL);
}

/* ---- host sockets ---- */

static int
HostListen(uint16_t *Port)
{
    struct sockaddr_in Address;
    socklen_t Length = sizeof(Address);
    int Fd = socket(AF_INET, SOCK_STREAM, 0);

    memset(&Address, 0, sizeof(Address));
    Address.sin_family = AF_INET;
    Address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(Fd, (struct sockaddr *)&Address, sizeof(Address)) || listen(Fd, 8))
        return -1;
    getsockname(Fd, (struct sockaddr *)&Address, &Length);
    *Port = ntohs(Address.sin_port);
    return Fd;
}

static int
HostConnect(uint16_t Port)
{
    struct sockaddr_in Address;
    int Fd = socket(AF_INET, SOCK_STREAM, 0);

    memset(&Address, 0, sizeof(Address));
    Address.sin_family = AF_INET;
    Address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    Address.sin_port = htons(Port);
    if (connect(Fd, (struct sockaddr *)&Address, sizeof(Address))) {
        close(Fd);
        return -1;
    }
    return Fd;
}

/* Reads exactly Length bytes (5 s bound). */
static int
HostReadAll(int Fd, uint8_t *Buffer, size_t Length)
{
    size_t Got = 0;

    while (Got < Length) {
        struct pollfd Poll = { Fd, POLLIN, 0 };
        ssize_t n;
        if (poll(&Poll, 1, 5000) <= 0)
            return -1;
        n = read(Fd, Buffer + Got, Length - Got);
        if (n <= 0)
            return -1;
        Got += (size_t)n;
    }
    return 0;
}

static int
HostWriteAll(int Fd, const uint8_t *Buffer, size_t Length)
{
    size_t Done = 0;

    while (Done < Length) {
        ssize_t n = write(Fd, Buffer + Done, Length - Done);
        if (n <= 0)
            return -1;
        Done += (size_t)n;
    }
    return 0;
}

static void
Fill(uint8_t *Buffer, size_t Length, uint32_t Seed)
{
    size_t i;

    for (i = 0; i < Length; ++i) {
        Seed = Seed * 1103515245u + 12345u;
        Buffer[i] = (uint8_t)(Seed >> 16);
    }
}

/* ---- the test phases ---- */

static void
TestMalformed(KSIM_FILE *File)
{
    uint8_t Junk[64];
    WSKB_HELLO_IN Hello;
    WSKB_HELLO_OUT HelloOut;
    uint64_t Id;

    memset(Junk, 0, sizeof(Junk));
    /* Before HELLO. */
    CHECK_STATUS(SocketCreate(File, W_AF_INET, W_SOCK_STREAM, W_IPPROTO_TCP, W_FLAG_LISTEN, &Id), S_INVALID_DEVICE_STATE);
    CHECK_STATUS(Ioctl(File, WSKB_IOCTL_READ_EVENTS, NULL, 0, NULL, 0, NULL), S_INVALID_DEVICE_STATE);
    CHECK_STATUS(Ioctl(File, WSKB_IOCTL(0x8FF), Junk, 16, NULL, 0, NULL), S_INVALID_DEVICE_REQUEST);
    CHECK_STATUS(Ioctl(File, 0x00220000, NULL, 0, NULL, 0, NULL), S_INVALID_DEVICE_REQUEST);
    /* Malformed HELLOs. */
    CHECK_STATUS(Ioctl(File, WSKB_IOCTL_HELLO, Junk, 15, &HelloOut, sizeof(HelloOut), NULL), S_INVALID_PARAMETER);
    CHECK_STATUS(Ioctl(File, WSKB_IOCTL_HELLO, Junk, 17, &HelloOut, sizeof(HelloOut), NULL), S_INVALID_PARAMETER);
    Hello = (WSKB_HELLO_IN){ WSKB_MAGIC + 1, WSKB_PROTOCOL_VERSION, 0, 0 };
    CHECK_STATUS(Ioctl(File, WSKB_IOCTL_HELLO, &Hello, sizeof(Hello), &HelloOut, sizeof(HelloOut), NULL), S_INVALID_PARAMETER);
    Hello = (WSKB_HELLO_IN){ WSKB_MAGIC, WSKB_PROTOCOL_VERSION + 1, 0, 0 };
    CHECK_STATUS(Ioctl(File, WSKB_IOCTL_HELLO, &Hello, sizeof(Hello), &HelloOut, sizeof(HelloOut), NULL), S_REVISION_MISMATCH);
    Hello = (WSKB_HELLO_IN){ WSKB_MAGIC, WSKB_PROTOCOL_VERSION, 1, 0 };
    CHECK_STATUS(Ioctl(File, WSKB_IOCTL_HELLO, &Hello, sizeof(Hello), &HelloOut, sizeof(HelloOut), NULL), S_INVALID_PARAMETER);
    Hello = (WSKB_HELLO_IN){ WSKB_MAGIC, WSKB_PROTOCOL_VERSION, 0, 7 };
    CHECK_STATUS(Ioctl(File, WSKB_IOCTL_HELLO, &Hello, sizeof(Hello), &HelloOut, sizeof(HelloOut), NULL), S_INVALID_PARAMETER);
    Hello = (WSKB_HELLO_IN){ WSKB_MAGIC, WSKB_PROTOCOL_VERSION, 0, 0 };
    CHECK_STATUS(Ioctl(File, WSKB_IOCTL_HELLO, &Hello, sizeof(Hello), &HelloOut, sizeof(HelloOut) - 1, NULL), S_BUFFER_TOO_SMALL);

    CHECK_STATUS(DoHello(File), S_SUCCESS);
    /* Only one HELLO per session. */
    CHECK_STATUS(Ioctl(File, WSKB_IOCTL_HELLO, &Hello, sizeof(Hello), &HelloOut, sizeof(HelloOut), NULL), S_INVALID_DEVICE_STATE);

    /* SOCKET_CREATE: exact length, options, kind, output. */
    {
        WSKB_SOCKET_CREATE_IN In = { W_AF_INET, W_SOCK_STREAM, W_IPPROTO_TCP, W_FLAG_LISTEN, 0 };
        WSKB_SOCKET_ID Out;
        CHECK_STATUS(Ioctl(File, WSKB_IOCTL_SOCKET_CREATE, &In, sizeof(In) - 1, &Out, sizeof(Out), NULL), S_INVALID_PARAMETER);
        CHECK_STATUS(Ioctl(File, WSKB_IOCTL_SOCKET_CREATE, &In, sizeof(In), &Out, sizeof(Out) - 1, NULL), S_BUFFER_TOO_SMALL);
        In.Options = 2;
        CHECK_STATUS(Ioctl(File, WSKB_IOCTL_SOCKET_CREATE, &In, sizeof(In), &Out, sizeof(Out), NULL), S_INVALID_PARAMETER);
        In.Options = 0;
        In.WskFlags = 8; /* stream sockets: a table the driver does not drive */
        CHECK_STATUS(Ioctl(File, WSKB_IOCTL_SOCKET_CREATE, &In, sizeof(In), &Out, sizeof(Out), NULL), S_INVALID_PARAMETER);
        In.WskFlags = 3;
        CHECK_STATUS(Ioctl(File, WSKB_IOCTL_SOCKET_CREATE, &In, sizeof(In), &Out, sizeof(Out), NULL), S_INVALID_PARAMETER);
    }
    /* Ids that never existed. */
    CHECK_STATUS(CloseSocket(File, 0), S_INVALID_HANDLE);
    CHECK_STATUS(CloseSocket(File, 0x0000000100000000ull), S_INVALID_HANDLE);
    CHECK_STATUS(CloseSocket(File, 0x00000001FFFFFFFFull), S_INVALID_HANDLE);
    CHECK_STATUS(AddressCall(File, WSKB_IOCTL_BIND, 0x1234, Ipv4(127, 0, 0, 1, 0)), S_INVALID_HANDLE);
    /* SEND: header + Length exactly; Length bounded before the sum. */
    {
        uint8_t Buffer[sizeof(WSKB_DATA_IN) + 8];
        WSKB_DATA_IN In = { 0x1234, 0, 8 };
        memset(Buffer, 0, sizeof(Buffer));
        memcpy(Buffer, &In, sizeof(In));
        CHECK_STATUS(Ioctl(File, WSKB_IOCTL_SEND, Buffer, sizeof(Buffer) - 1, NULL, 0, NULL), S_INVALID_PARAMETER);
        CHECK_STATUS(Ioctl(File, WSKB_IOCTL_SEND, Buffer, sizeof(In) - 1, NULL, 0, NULL), S_INVALID_PARAMETER);
        In.Length = 0xFFFFFFF8u;
        memcpy(Buffer, &In, sizeof(In));
        CHECK_STATUS(Ioctl(File, WSKB_IOCTL_SEND, Buffer, sizeof(Buffer), NULL, 0, NULL), S_INVALID_BUFFER_SIZE);
        In.Length = 8;
        memcpy(Buffer, &In, sizeof(In));
        CHECK_STATUS(Ioctl(File, WSKB_IOCTL_SEND, Buffer, sizeof(Buffer), NULL, 0, NULL), S_INVALID_HANDLE);
    }
    /* Control: refused codes, flags, limits. */
    {
        struct { WSKB_CONTROL_CLIENT_IN H; uint8_t Data[8]; } In;
        uint8_t Out[sizeof(WSKB_CONTROL_OUT) + 64];
        memset(&In, 0, sizeof(In));
        In.H.ControlCode = W_WSK_CACHE_SD;
        In.H.InputLength = 8;
        CHECK_STATUS(Ioctl(File, WSKB_IOCTL_CONTROL_CLIENT, &In, sizeof(In), Out, sizeof(Out), NULL), S_NOT_SUPPORTED);
        In.H.ControlCode = W_WSK_TRANSPORT_LIST_QUERY;
        In.H.Flags = 2;
        CHECK_STATUS(Ioctl(File, WSKB_IOCTL_CONTROL_CLIENT, &In, sizeof(In), Out, sizeof(Out), NULL), S_INVALID_PARAMETER);
        In.H.Flags = 0;
        In.H.OutputLength = WSKB_MAX_CONTROL_BYTES + 1;
        CHECK_STATUS(Ioctl(File, WSKB_IOCTL_CONTROL_CLIENT, &In, sizeof(In), Out, sizeof(Out), NULL), S_INVALID_BUFFER_SIZE);
        /* The allowlist: the transport query takes no input, and no IRP (Learn: "Irp: NULL"). */
        In.H.OutputLength = 64;
        CHECK_STATUS(Ioctl(File, WSKB_IOCTL_CONTROL_CLIENT, &In, sizeof(In), Out, sizeof(Out), NULL), S_INVALID_BUFFER_SIZE);
        In.H.InputLength = 0;
        In.H.Flags = WSKB_CONTROL_FLAG_USE_IRP;
        CHECK_STATUS(Ioctl(File, WSKB_IOCTL_CONTROL_CLIENT, &In.H, sizeof(In.H), Out, sizeof(Out), NULL),
                     S_INVALID_PARAMETER_MIX);
        In.H.Flags = 0;
        In.H.OutputLength = 65;
        CHECK_STATUS(Ioctl(File, WSKB_IOCTL_CONTROL_CLIENT, &In.H, sizeof(In.H), Out, sizeof(Out), NULL), S_BUFFER_TOO_SMALL);
    }
    /* READ_EVENTS with a buffer too small for the largest record. */
    {
        uint8_t Out[64];
        CHECK_STATUS(Ioctl(File, WSKB_IOCTL_READ_EVENTS, NULL, 0, Out, sizeof(Out), NULL), S_BUFFER_TOO_SMALL);
    }
}

/* A kernel listening socket accepts a host connection; data both ways; the kind checks; close. */
static void
TestListenAccept(KSIM_FILE *File)
{
    uint64_t Listener, Accepted, Sent = 0, Information = 0;
    WSKB_SOCKADDR Local;
    WSKB_ACCEPT_IN AcceptIn;
    WSKB_ACCEPT_OUT AcceptOut;
    CALL *Accept;
    int Peer;
    static uint8_t Data[200000], Back[200000];

    CHECK_STATUS(SocketCreate(File, W_AF_INET, W_SOCK_STREAM, W_IPPROTO_TCP, W_FLAG_LISTEN, &Listener), S_SUCCESS);
    CHECK(Listener != 0);
    /* The listener has no WskSend: the driver refuses; a second bind is WSK's to judge. */
    CHECK_STATUS(Send(File, Listener, "x", 1, &Sent), S_INVALID_DEVICE_REQUEST);
    CHECK_STATUS(AddressCall(File, WSKB_IOCTL_CONNECT, Listener, Ipv4(127, 0, 0, 1, 9)), S_INVALID_DEVICE_REQUEST);
    CHECK_STATUS(GetAddress(File, Listener, WSKB_ADDRESS_REMOTE, &Local), S_INVALID_DEVICE_REQUEST);
    {
        WSKB_SOCKADDR Bad = Ipv4(127, 0, 0, 1, 0);
        Bad.Address[5] = 1; /* an IPv4 address with IPv6 bytes */
        CHECK_STATUS(AddressCall(File, WSKB_IOCTL_BIND, Listener, Bad), S_INVALID_PARAMETER);
        Bad = Ipv4(127, 0, 0, 1, 0);
        Bad.Family = 99;
        CHECK_STATUS(AddressCall(File, WSKB_IOCTL_BIND, Listener, Bad), S_INVALID_PARAMETER);
    }
    CHECK_STATUS(AddressCall(File, WSKB_IOCTL_BIND, Listener, Ipv4(127, 0, 0, 1, 0)), S_SUCCESS);
    CHECK_STATUS(GetAddress(File, Listener, WSKB_ADDRESS_LOCAL, &Local), S_SUCCESS);
    CHECK(Local.Family == W_AF_INET && Local.Port != 0 && Local.Address[0] == 127);

    AcceptIn = (WSKB_ACCEPT_IN){ Listener, 0, 0 };
    Accept = Start(File, WSKB_IOCTL_ACCEPT, &AcceptIn, sizeof(AcceptIn), sizeof(AcceptOut));
    CHECK(!Wait(Accept, 100)); /* pends until a peer comes */
    Peer = HostConnect(Local.Port);
    CHECK(Peer >= 0);
    CHECK(Wait(Accept, 5000));
    CHECK_STATUS(Accept->Status, S_SUCCESS);
    CHECK(Accept->Information == sizeof(AcceptOut));
    memcpy(&AcceptOut, Accept->Output, sizeof(AcceptOut));
    Free(Accept);
    Accepted = AcceptOut.AcceptedSocketId;
    CHECK(Accepted != 0 && Accepted != Listener);
    CHECK(AcceptOut.LocalAddress.Port == Local.Port);
    CHECK(AcceptOut.RemoteAddress.Family == W_AF_INET && AcceptOut.RemoteAddress.Port != 0);

    /* Kernel -> host. */
    Fill(Data, sizeof(Data), 1);
    {
        size_t Offset = 0;
        while (Offset < sizeof(Data)) {
            uint32_t Chunk = (uint32_t)(sizeof(Data) - Offset < 65536 ? sizeof(Data) - Offset : 65536);
            CHECK_STATUS(Send(File, Accepted, Data + Offset, Chunk, &Sent), S_SUCCESS);
            CHECK(Sent == Chunk);
            Offset += Chunk;
        }
    }
    CHECK(HostReadAll(Peer, Back, sizeof(Data)) == 0);
    CHECK(memcmp(Data, Back, sizeof(Data)) == 0);

    /* Host -> kernel, through IRP-style RECEIVE. */
    Fill(Data, sizeof(Data), 2);
    CHECK(HostWriteAll(Peer, Data, sizeof(Data)) == 0);
    {
        size_t Got = 0;
        while (Got < sizeof(Data)) {
            WSKB_DATA_IN In = { Accepted, 0, 65536 };
            uint8_t *Out = malloc(65536);
            int32_t Status = Ioctl(File, WSKB_IOCTL_RECEIVE, &In, sizeof(In), Out, 65536, &Information);
            CHECK_STATUS(Status, S_SUCCESS);
            if (Status != S_SUCCESS || Information == 0 || Got + Information > sizeof(Data)) {
                free(Out);
                break;
            }
            memcpy(Back + Got, Out, Information);
            Got += Information;
            free(Out);
        }
        CHECK(Got == sizeof(Data));
        CHECK(memcmp(Data, Back, sizeof(Data)) == 0);
    }
    /* RECEIVE output smaller than Length. */
    {
        WSKB_DATA_IN In = { Accepted, 0, 100 };
        uint8_t Out[99];
        CHECK_STATUS(Ioctl(File, WSKB_IOCTL_RECEIVE, &In, sizeof(In), Out, sizeof(Out), NULL), S_BUFFER_TOO_SMALL);
    }
    /* A pended RECEIVE is cancelled by CancelIo with STATUS_CANCELLED. */
    {
        WSKB_DATA_IN In = { Accepted, 0, 16 };
        CALL *Receive = Start(File, WSKB_IOCTL_RECEIVE, &In, sizeof(In), 16);
        CHECK(!Wait(Receive, 100));
        KsimCancelIo(File);
        CHECK(Wait(Receive, 5000));
        CHECK_STATUS(Receive->Status, S_CANCELLED);
        Free(Receive);
    }
    /* The peer's close reaches a RECEIVE as success with 0 bytes. */
    {
        WSKB_DATA_IN In = { Accepted, 0, 16 };
        uint8_t Out[16];
        close(Peer);
        CHECK_STATUS(Ioctl(File, WSKB_IOCTL_RECEIVE, &In, sizeof(In), Out, sizeof(Out), &Information), S_SUCCESS);
        CHECK(Information == 0);
    }
    /* Raw control on a socket: SO_WSK_SECURITY refused; a get without the IRP Learn requires
     * refused; with it, answered. */
    {
        struct { WSKB_CONTROL_SOCKET_IN H; uint8_t Data[8]; } In;
        uint8_t Out[sizeof(WSKB_CONTROL_OUT) + 8];
        WSKB_CONTROL_OUT Result;
        uint64_t Info = 0;
        memset(&In, 0, sizeof(In));
        In.H.SocketId = Accepted;
        In.H.RequestType = 0; /* WskSetOption */
        In.H.ControlCode = W_SO_WSK_SECURITY;
        In.H.Level = W_SOL_SOCKET;
        In.H.InputLength = 8;
        CHECK_STATUS(Ioctl(File, WSKB_IOCTL_CONTROL_SOCKET, &In, sizeof(In), Out, sizeof(Out), NULL), S_NOT_SUPPORTED);
        In.H.RequestType = 1; /* WskGetOption */
        In.H.ControlCode = W_SO_RCVBUF;
        In.H.InputLength = 0;
        In.H.OutputLength = 4;
        CHECK_STATUS(Ioctl(File, WSKB_IOCTL_CONTROL_SOCKET, &In.H, sizeof(In.H), Out, sizeof(Out), &Info),
                     S_INVALID_PARAMETER_MIX);
        In.H.Flags = WSKB_CONTROL_FLAG_USE_IRP;
        CHECK_STATUS(Ioctl(File, WSKB_IOCTL_CONTROL_SOCKET, &In.H, sizeof(In.H), Out, sizeof(Out), &Info), S_SUCCESS);
        memcpy(&Result, Out, sizeof(Result));
        CHECK(Info == sizeof(WSKB_CONTROL_OUT) + 4);
        CHECK(Result.IrpStatus == S_SUCCESS && Result.OutputSizeReturned == 4);
        printf("  SO_RCVBUF get (IRP): CallStatus 0x%08X, %llu bytes\n", (unsigned)Result.CallStatus,
               (unsigned long long)Result.OutputSizeReturned);
    }

    CHECK_STATUS(CloseSocket(File, Accepted), S_SUCCESS);
    /* Closed ids are stale forever. */
    CHECK_STATUS(CloseSocket(File, Accepted), S_INVALID_HANDLE);
    CHECK_STATUS(Send(File, Accepted, "x", 1, &Sent), S_INVALID_HANDLE);
    CHECK_STATUS(CloseSocket(File, Listener), S_SUCCESS);
    CHECK_STATUS(GetAddress(File, Listener, WSKB_ADDRESS_LOCAL, &Local), S_INVALID_HANDLE);
}

/* A kernel connection socket connects to a host listener. */
static void
TestConnect(KSIM_FILE *File)
{
    uint64_t Socket, Sent = 0;
    uint16_t Port = 0;
    int Listener = HostListen(&Port), Peer;
    uint8_t Buffer[1000], Back[1000];
    WSKB_SOCKADDR Remote;

    CHECK(Listener >= 0);
    CHECK_STATUS(SocketCreate(File, W_AF_INET, W_SOCK_STREAM, W_IPPROTO_TCP, W_FLAG_CONNECTION, &Socket), S_SUCCESS);
    /* WSK's own answer, passed through: connect before bind. */
    CHECK_STATUS(AddressCall(File, WSKB_IOCTL_CONNECT, Socket, Ipv4(127, 0, 0, 1, Port)), S_INVALID_DEVICE_STATE);
    CHECK_STATUS(AddressCall(File, WSKB_IOCTL_BIND, Socket, Ipv4(0, 0, 0, 0, 0)), S_SUCCESS);
    CHECK_STATUS(AddressCall(File, WSKB_IOCTL_CONNECT, Socket, Ipv4(127, 0, 0, 1, Port)), S_SUCCESS);
    Peer = accept(Listener, NULL, NULL);
    CHECK(Peer >= 0);
    CHECK_STATUS(GetAddress(File, Socket, WSKB_ADDRESS_REMOTE, &Remote), S_SUCCESS);
    CHECK(Remote.Port == Port);
    Fill(Buffer, sizeof(Buffer), 3);
    CHECK_STATUS(Send(File, Socket, Buffer, sizeof(Buffer), &Sent), S_SUCCESS);
    CHECK(HostReadAll(Peer, Back, sizeof(Back)) == 0);
    CHECK(memcmp(Buffer, Back, sizeof(Buffer)) == 0);
    /* Graceful disconnect: the peer reads EOF. */
    {
        WSKB_DATA_IN In = { Socket, 0, 0 };
        uint8_t One;
        CHECK_STATUS(Ioctl(File, WSKB_IOCTL_DISCONNECT, &In, sizeof(In), NULL, 0, NULL), S_SUCCESS);
        CHECK(read(Peer, &One, 1) == 0);
    }
    CHECK_STATUS(CloseSocket(File, Socket), S_SUCCESS);
    close(Peer);
    close(Listener);
}

/* UDP both ways with a host datagram socket. */
static void
TestDatagram(KSIM_FILE *File)
{
    uint64_t Socket, Information = 0;
    WSKB_SOCKADDR Local;
    struct sockaddr_in Host, From;
    socklen_t Length = sizeof(Host);
    int Fd = socket(AF_INET, SOCK_DGRAM, 0);
    uint8_t Buffer[512];

    memset(&Host, 0, sizeof(Host));
    Host.sin_family = AF_INET;
    Host.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    CHECK(bind(Fd, (struct sockaddr *)&Host, sizeof(Host)) == 0);
    getsockname(Fd, (struct sockaddr *)&Host, &Length);

    CHECK_STATUS(SocketCreate(File, W_AF_INET, W_SOCK_DGRAM, W_IPPROTO_UDP, W_FLAG_DATAGRAM, &Socket), S_SUCCESS);
    CHECK_STATUS(AddressCall(File, WSKB_IOCTL_BIND, Socket, Ipv4(127, 0, 0, 1, 0)), S_SUCCESS);
    CHECK_STATUS(GetAddress(File, Socket, WSKB_ADDRESS_LOCAL, &Local), S_SUCCESS);
    /* No WskSend on a datagram socket. */
    CHECK_STATUS(Send(File, Socket, "x", 1, &Information), S_INVALID_DEVICE_REQUEST);

    /* Kernel -> host. */
    {
        struct { WSKB_SEND_TO_IN H; uint8_t Data[5]; } In;
        WSKB_TRANSFER_OUT Out = { 0 };
        memset(&In, 0, sizeof(In));
        In.H.SocketId = Socket;
        In.H.RemoteAddress = Ipv4(127, 0, 0, 1, ntohs(Host.sin_port));
        In.H.Length = 5;
        memcpy(In.Data, "hello", 5);
        CHECK_STATUS(Ioctl(File, WSKB_IOCTL_SEND_TO, &In, sizeof(In.H) + 5, &Out, sizeof(Out), &Information), S_SUCCESS);
        CHECK(Information == sizeof(Out) && Out.BytesTransferred == 5);
        Length = sizeof(From);
        CHECK(recvfrom(Fd, Buffer, sizeof(Buffer), 0, (struct sockaddr *)&From, &Length) == 5);
        CHECK(memcmp(Buffer, "hello", 5) == 0);
        CHECK(ntohs(From.sin_port) == Local.Port);
    }
    /* Host -> kernel, through IRP-style RECEIVE_FROM. */
    {
        WSKB_DATA_IN In = { Socket, 0, 64 };
        WSKB_RECEIVE_FROM_OUT Header;
        uint8_t Out[sizeof(WSKB_RECEIVE_FROM_OUT) + 64];
        CALL *Receive = Start(File, WSKB_IOCTL_RECEIVE_FROM, &In, sizeof(In), sizeof(Out));
        struct sockaddr_in To = Host;
        To.sin_port = htons(Local.Port);
        CHECK(sendto(Fd, "world!", 6, 0, (struct sockaddr *)&To, sizeof(To)) == 6);
        CHECK(Wait(Receive, 5000));
        CHECK_STATUS(Receive->Status, S_SUCCESS);
        CHECK(Receive->Information == sizeof(Header) + 6);
        memcpy(&Header, Receive->Output, sizeof(Header));
        CHECK(Header.Length == 6 && Header.RemoteAddress.Port == ntohs(Host.sin_port));
        CHECK(memcmp(Receive->Output + sizeof(Header), "world!", 6) == 0);
        Free(Receive);
        /* Output too small for header + Length. */
        CHECK_STATUS(Ioctl(File, WSKB_IOCTL_RECEIVE_FROM, &In, sizeof(In), Out, sizeof(Out) - 1, NULL), S_BUFFER_TOO_SMALL);
    }
    CHECK_STATUS(CloseSocket(File, Socket), S_SUCCESS);
    close(Fd);
}

/* Two sessions: ids do not cross; closing a handle with live sockets and pended requests
 * completes everything and leaves nothing. */
static void
TestSessions(void)
{
    KSIM_FILE *A = NULL, *B = NULL;
    uint64_t Listener, Connection;
    WSKB_ACCEPT_IN AcceptIn;
    CALL *Accept, *Receive, *Read;
    WSKB_SOCKADDR Local;
    int Peer;

    CHECK_STATUS(KsimOpen(WSKB_USER_PATH, &A), S_SUCCESS);
    CHECK_STATUS(KsimOpen(WSKB_USER_PATH, &B), S_SUCCESS);
    if (!A || !B)
        return;
    CHECK_STATUS(DoHello(A), S_SUCCESS);
    CHECK_STATUS(DoHello(B), S_SUCCESS);
    CHECK_STATUS(SocketCreate(A, W_AF_INET, W_SOCK_STREAM, W_IPPROTO_TCP, W_FLAG_LISTEN, &Listener), S_SUCCESS);
    /* Session B cannot use or close A's socket. */
    CHECK_STATUS(CloseSocket(B, Listener), S_INVALID_HANDLE);
    CHECK_STATUS(AddressCall(B, WSKB_IOCTL_BIND, Listener, Ipv4(127, 0, 0, 1, 0)), S_INVALID_HANDLE);
    CHECK_STATUS(AddressCall(A, WSKB_IOCTL_BIND, Listener, Ipv4(127, 0, 0, 1, 0)), S_SUCCESS);
    CHECK_STATUS(GetAddress(A, Listener, WSKB_ADDRESS_LOCAL, &Local), S_SUCCESS);

    /* A has: a pended accept, an accepted socket with a pended receive, a basic socket, a
     * pended READ_EVENTS. Closing A must complete all of them. */
    CHECK_STATUS(SocketCreate(A, W_AF_INET, W_SOCK_STREAM, W_IPPROTO_TCP, W_FLAG_BASIC, &Connection), S_SUCCESS);
    AcceptIn = (WSKB_ACCEPT_IN){ Listener, 0, 0 };
    Accept = Start(A, WSKB_IOCTL_ACCEPT, &AcceptIn, sizeof(AcceptIn), sizeof(WSKB_ACCEPT_OUT));
    Peer = HostConnect(Local.Port);
    CHECK(Wait(Accept, 5000));
    CHECK_STATUS(Accept->Status, S_SUCCESS);
    {
        WSKB_ACCEPT_OUT Out;
        WSKB_DATA_IN In;
        memcpy(&Out, Accept->Output, sizeof(Out));
        In = (WSKB_DATA_IN){ Out.AcceptedSocketId, 0, 32 };
        Receive = Start(A, WSKB_IOCTL_RECEIVE, &In, sizeof(In), 32);
    }
    Free(Accept);
    Accept = Start(A, WSKB_IOCTL_ACCEPT, &AcceptIn, sizeof(AcceptIn), sizeof(WSKB_ACCEPT_OUT));
    Read = Start(A, WSKB_IOCTL_READ_EVENTS, NULL, 0, WSKB_READ_EVENTS_MIN_OUTPUT);
    CHECK(!Wait(Receive, 50));
    KsimClose(A);
    /* KsimClose returns after every completion of A was made. */
    CHECK(Accept->Done && Receive->Done && Read->Done);
    CHECK_STATUS(Accept->Status, S_CANCELLED);
    CHECK_STATUS(Receive->Status, S_CANCELLED);
    /* The pended READ_EVENTS either carries the SOCKET_CLOSED events of the cleanup or is
     * cancelled by the framework's flush; both complete it. */
    CHECK(Read->Status == S_SUCCESS || Read->Status == S_CANCELLED);
    Free(Accept);
    Free(Receive);
    Free(Read);
    close(Peer);
    KsimClose(B);
}

/* The socket table starts small and doubles up to WSKB_MAX_SOCKETS_PER_SESSION: every socket up
 * to the limit gets a distinct slot, one past it is STATUS_INSUFFICIENT_RESOURCES, ids stay
 * valid across each growth (a stale slot or one past the table is STATUS_INVALID_HANDLE), the
 * table stays one block, and the close sweep closes every socket of a full table. On the
 * in-memory network: 8192 host sockets would exceed a process's descriptors. */
static void
TestTableGrowth(void)
{
    static uint64_t Ids[TABLE_MAX_SLOTS];
    static uint8_t Seen[TABLE_MAX_SLOTS];
    KSIM_FILE *File = NULL;
    KSIM_COUNTERS Before, After;
    uint32_t Count = 0, Distinct = 0, Index;
    uint64_t Extra = 0, Reused = 0;

    KsimGetCounters(&Before);
    CHECK_STATUS(KsimOpenOnNetwork(WSKB_USER_PATH, "memory", &File), S_SUCCESS);
    if (!File)
        return;
    /* A fresh handle holds one small table, not a full one (8192 slots were 128 KiB). */
    KsimGetCounters(&After);
    CHECK(KsimPoolOutstandingByTag(TABLE_POOL_TAG) == 1);
    /* Signed: a block the previous tests' host sockets free meanwhile must not wrap the difference. */
    CHECK((int64_t)(After.PoolBytes - Before.PoolBytes) < 16 * 1024);
    CHECK_STATUS(DoHello(File), S_SUCCESS);
    for (Count = 0; Count < TABLE_MAX_SLOTS; ++Count) {
        int32_t Status;
        if (Count == TABLE_INITIAL_SLOTS) {
            /* The first growth, with each allocation of that SOCKET_CREATE failing in turn (the
             * socket, its close IRP, ..., the new table): each fails cleanly and leaves the table
             * as it was, until one gets through. */
            uint64_t Nth, Refused = 0;
            KSIM_COUNTERS During;
            for (Nth = 1; Nth < 32; ++Nth) {
                uint64_t DuringBlocks;
                KsimGetCounters(&During);
                DuringBlocks = During.PoolAllocations - KsimPoolOutstandingByTag(OPERATION_POOL_TAG);
                KsimFailAllocationAfter(Nth);
                Status = SocketCreate(File, W_AF_INET, W_SOCK_DGRAM, W_IPPROTO_UDP, W_FLAG_DATAGRAM, &Ids[Count]);
                KsimFailAllocationAfter(0);
                if (Status == S_SUCCESS)
                    break;
                CHECK_STATUS(Status, S_INSUFFICIENT_RESOURCES);
                ++Refused;
                /* Every pool block is back at its count of before the call, but for the operation
                 * lookaside list's cache (driver/lookaside.c), which keeps freed entries. */
                KsimGetCounters(&After);
                CHECK(After.PoolAllocations - KsimPoolOutstandingByTag(OPERATION_POOL_TAG) == DuringBlocks);
                CHECK(After.WskSockets == During.WskSockets);
                CHECK(KsimPoolOutstandingByTag(TABLE_POOL_TAG) == 1);
                CHECK_STATUS(CloseSocket(File, (Ids[0] & ~0xFFFFull) | TABLE_INITIAL_SLOTS), S_INVALID_HANDLE);
            }
            CHECK(Refused >= 3); /* at least the socket, its IRP and the table */
            printf("  the 65th socket: %llu injected allocation failures refused cleanly, then created\n",
                   (unsigned long long)Refused);
            if (Status == S_SUCCESS)
                goto created;
        }
        Status = SocketCreate(File, W_AF_INET, W_SOCK_DGRAM, W_IPPROTO_UDP, W_FLAG_DATAGRAM, &Ids[Count]);
    created:
        if (Status != S_SUCCESS) {
            CHECK_STATUS(Status, S_SUCCESS);
            break;
        }
        /* The first socket (bound) is found through its id after every growth. */
        if (Count == 0) {
            CHECK_STATUS(AddressCall(File, WSKB_IOCTL_BIND, Ids[0], Ipv4(127, 0, 0, 1, 0)), S_SUCCESS);
            /* The first slot past the table as it is now (generation 1, this session's tag). */
            CHECK_STATUS(CloseSocket(File, (Ids[0] & ~0xFFFFull) | TABLE_INITIAL_SLOTS), S_INVALID_HANDLE);
        }
        if ((Count & (Count - 1)) == 0) {
            WSKB_SOCKADDR Local;
            CHECK_STATUS(GetAddress(File, Ids[0], WSKB_ADDRESS_LOCAL, &Local), S_SUCCESS);
        }
    }
    CHECK(Count == TABLE_MAX_SLOTS);
    for (Index = 0; Index < Count; ++Index) {
        uint32_t Slot = ID_SLOT(Ids[Index]);
        CHECK(Slot < TABLE_MAX_SLOTS);
        if (Slot < TABLE_MAX_SLOTS && !Seen[Slot]) {
            Seen[Slot] = 1;
            ++Distinct;
        }
    }
    CHECK(Distinct == TABLE_MAX_SLOTS);
    CHECK(KsimPoolOutstandingByTag(TABLE_POOL_TAG) == 1);
    /* Full: the next socket is refused, and nothing of it remains. */
    CHECK_STATUS(SocketCreate(File, W_AF_INET, W_SOCK_DGRAM, W_IPPROTO_UDP, W_FLAG_DATAGRAM, &Extra),
                 S_INSUFFICIENT_RESOURCES);
    /* A slot given back is reused with a new generation; the old id names nothing. */
    CHECK_STATUS(CloseSocket(File, Ids[5000]), S_SUCCESS);
    CHECK_STATUS(SocketCreate(File, W_AF_INET, W_SOCK_DGRAM, W_IPPROTO_UDP, W_FLAG_DATAGRAM, &Reused), S_SUCCESS);
    CHECK(ID_SLOT(Reused) == ID_SLOT(Ids[5000]));
    CHECK(ID_GENERATION(Reused) == ID_GENERATION(Ids[5000]) + 1);
    CHECK_STATUS(CloseSocket(File, Ids[5000]), S_INVALID_HANDLE);
    /* The cleanup sweep closes the 8192 sockets still open. */
    KsimClose(File);
    KsimGetCounters(&After);
    CHECK(After.WskSockets == Before.WskSockets);
    CHECK(After.PoolAllocations == Before.PoolAllocations);
    CHECK(KsimPoolOutstandingByTag(TABLE_POOL_TAG) == 0);
}

/* Close with a pended RECEIVE and a pended ACCEPT: both complete with STATUS_CANCELLED (the
 * close cancels the socket's IRPs); CancelIo cancels a pended ACCEPT; IPv6 loopback. */
static void
TestCloseCancels(KSIM_FILE *File)
{
    uint64_t Listener, Accepted;
    WSKB_SOCKADDR Local, Any6;
    WSKB_ACCEPT_IN AcceptIn;
    WSKB_ACCEPT_OUT AcceptOut;
    CALL *Accept, *Receive;
    int Peer = -1;
    struct sockaddr_in6 To;

    CHECK_STATUS(SocketCreate(File, W_AF_INET6, W_SOCK_STREAM, W_IPPROTO_TCP, W_FLAG_LISTEN, &Listener), S_SUCCESS);
    memset(&Any6, 0, sizeof(Any6));
    Any6.Family = W_AF_INET6;
    Any6.Address[15] = 1; /* ::1 */
    CHECK_STATUS(AddressCall(File, WSKB_IOCTL_BIND, Listener, Any6), S_SUCCESS);
    CHECK_STATUS(GetAddress(File, Listener, WSKB_ADDRESS_LOCAL, &Local), S_SUCCESS);
    CHECK(Local.Family == W_AF_INET6 && Local.Address[15] == 1 && Local.Port != 0);

    /* CancelIo on a pended ACCEPT. */
    AcceptIn = (WSKB_ACCEPT_IN){ Listener, 0, 0 };
    Accept = Start(File, WSKB_IOCTL_ACCEPT, &AcceptIn, sizeof(AcceptIn), sizeof(AcceptOut));
    CHECK(!Wait(Accept, 50));
    KsimCancelIo(File);
    CHECK(Wait(Accept, 5000));
    CHECK_STATUS(Accept->Status, S_CANCELLED);
    Free(Accept);

    /* Accept over IPv6, then close the accepted socket under a pended RECEIVE. */
    Accept = Start(File, WSKB_IOCTL_ACCEPT, &AcceptIn, sizeof(AcceptIn), sizeof(AcceptOut));
    Peer = socket(AF_INET6, SOCK_STREAM, 0);
    memset(&To, 0, sizeof(To));
    To.sin6_family = AF_INET6;
    To.sin6_addr = in6addr_loopback;
    To.sin6_port = htons(Local.Port);
    CHECK(connect(Peer, (struct sockaddr *)&To, sizeof(To)) == 0);
    CHECK(Wait(Accept, 5000));
    CHECK_STATUS(Accept->Status, S_SUCCESS);
    memcpy(&AcceptOut, Accept->Output, sizeof(AcceptOut));
    Free(Accept);
    Accepted = AcceptOut.AcceptedSocketId;
    CHECK(AcceptOut.RemoteAddress.Family == W_AF_INET6);
    {
        WSKB_DATA_IN In = { Accepted, 0, 16 };
        Receive = Start(File, WSKB_IOCTL_RECEIVE, &In, sizeof(In), 16);
    }
    CHECK(!Wait(Receive, 50));
    CHECK_STATUS(CloseSocket(File, Accepted), S_SUCCESS);
    CHECK(Wait(Receive, 5000));
    CHECK_STATUS(Receive->Status, S_CANCELLED);
    Free(Receive);

    /* Close the listener under a pended ACCEPT. */
    Accept = Start(File, WSKB_IOCTL_ACCEPT, &AcceptIn, sizeof(AcceptIn), sizeof(AcceptOut));
    CHECK(!Wait(Accept, 50));
    CHECK_STATUS(CloseSocket(File, Listener), S_SUCCESS);
    CHECK(Wait(Accept, 5000));
    CHECK_STATUS(Accept->Status, S_CANCELLED);
    Free(Accept);
    close(Peer);
}

/* Raw control: the event mask conversion and WSK's own statuses. */
static void
TestControl(KSIM_FILE *File)
{
    uint64_t Listener, Information = 0;
    struct { WSKB_CONTROL_SOCKET_IN H; uint32_t Mask; uint32_t Pad; } In;
    struct { WSKB_CONTROL_CLIENT_IN H; uint32_t Mask; } Client;
    uint8_t Out[sizeof(WSKB_CONTROL_OUT) + 256];
    WSKB_CONTROL_OUT Result;

    CHECK_STATUS(SocketCreate(File, W_AF_INET, W_SOCK_STREAM, W_IPPROTO_TCP, W_FLAG_LISTEN, &Listener), S_SUCCESS);
    CHECK_STATUS(AddressCall(File, WSKB_IOCTL_BIND, Listener, Ipv4(127, 0, 0, 1, 0)), S_SUCCESS);
    memset(&In, 0, sizeof(In));
    In.H.SocketId = Listener;
    In.H.RequestType = 0; /* WskSetOption */
    In.H.ControlCode = 0x4002; /* SO_WSK_EVENT_CALLBACK */
    In.H.Level = W_SOL_SOCKET;
    In.H.InputLength = 8; /* the mask is exactly 4 bytes (the allowlist's size) */
    CHECK_STATUS(Ioctl(File, WSKB_IOCTL_CONTROL_SOCKET, &In, sizeof(In.H) + 8, Out, sizeof(Out), NULL), S_INVALID_BUFFER_SIZE);
    In.H.InputLength = 4;
    In.Mask = 0x200; /* WSK_EVENT_ACCEPT */
    CHECK_STATUS(Ioctl(File, WSKB_IOCTL_CONTROL_SOCKET, &In, sizeof(In.H) + 4, Out, sizeof(Out), &Information), S_SUCCESS);
    memcpy(&Result, Out, sizeof(Result));
    CHECK(Information == sizeof(Result));
    CHECK_STATUS(Result.CallStatus, S_SUCCESS);
    /* With an IRP: CallStatus is what WskControlSocket returned, IrpStatus the IRP's. */
    In.H.Flags = WSKB_CONTROL_FLAG_USE_IRP;
    In.Mask = 0x200 | 0x80000000u; /* disable ACCEPT */
    CHECK_STATUS(Ioctl(File, WSKB_IOCTL_CONTROL_SOCKET, &In, sizeof(In.H) + 4, Out, sizeof(Out), &Information), S_SUCCESS);
    memcpy(&Result, Out, sizeof(Result));
    CHECK(Result.CallStatus == S_SUCCESS || Result.CallStatus == S_PENDING);
    CHECK_STATUS(Result.IrpStatus, S_SUCCESS);
    printf("  disable ACCEPT with IRP: CallStatus 0x%08X IrpStatus 0x%08X\n", (unsigned)Result.CallStatus,
           (unsigned)Result.IrpStatus);

    /* WSK_TRANSPORT_LIST_QUERY: a size probe with no output buffer, then the list. */
    {
        WSKB_CONTROL_CLIENT_IN Query = { W_WSK_TRANSPORT_LIST_QUERY, 0, 0, 0 };
        uint64_t Needed;
        CHECK_STATUS(Ioctl(File, WSKB_IOCTL_CONTROL_CLIENT, &Query, sizeof(Query), Out, sizeof(Out), &Information), S_SUCCESS);
        memcpy(&Result, Out, sizeof(Result));
        CHECK(Information == sizeof(Result));
        CHECK(Result.CallStatus < 0 || (uint32_t)Result.CallStatus == 0x80000005u); /* too small / overflow */
        Needed = Result.OutputSizeReturned;
        printf("  transport list probe: CallStatus 0x%08X, %llu bytes needed\n", (unsigned)Result.CallStatus,
               (unsigned long long)Needed);
        CHECK(Needed > 0 && Needed <= 256);
        Query.OutputLength = (uint32_t)Needed;
        CHECK_STATUS(Ioctl(File, WSKB_IOCTL_CONTROL_CLIENT, &Query, sizeof(Query), Out, sizeof(Out), &Information), S_SUCCESS);
        memcpy(&Result, Out, sizeof(Result));
        CHECK_STATUS(Result.CallStatus, S_SUCCESS);
        CHECK(Result.OutputSizeReturned == Needed && Information == sizeof(Result) + Needed);
    }
    /* WSK_SET_STATIC_EVENT_CALLBACKS after sockets exist: WSK's own answer comes back. */
    memset(&Client, 0, sizeof(Client));
    Client.H.ControlCode = 7;
    Client.H.InputLength = 4;
    Client.Mask = 0x40;
    CHECK_STATUS(Ioctl(File, WSKB_IOCTL_CONTROL_CLIENT, &Client, sizeof(Client), Out, sizeof(Out), &Information), S_SUCCESS);
    memcpy(&Result, Out, sizeof(Result));
    CHECK(Result.CallStatus < 0);
    printf("  static callbacks after a socket: CallStatus 0x%08X\n", (unsigned)Result.CallStatus);
    CHECK_STATUS(CloseSocket(File, Listener), S_SUCCESS);
}

/* Random IOCTLs (valid codes, random lengths and bytes, real socket ids half of the time):
 * nothing crashes, every request completes by the time the handle is closed, nothing leaks. */
static void
TestRandom(void)
{
    enum { Count = 3000 };
    static CALL *Calls[Count];
    KSIM_FILE *File = NULL;
    uint64_t Ids[4];
    uint32_t Seed = 12345, i, Completed = 0;
    uint8_t Input[256];

    CHECK_STATUS(KsimOpen(WSKB_USER_PATH, &File), S_SUCCESS);
    if (!File)
        return;
    CHECK_STATUS(DoHello(File), S_SUCCESS);
    CHECK_STATUS(SocketCreate(File, W_AF_INET, W_SOCK_STREAM, W_IPPROTO_TCP, W_FLAG_LISTEN, &Ids[0]), S_SUCCESS);
    CHECK_STATUS(SocketCreate(File, W_AF_INET, W_SOCK_STREAM, W_IPPROTO_TCP, W_FLAG_CONNECTION, &Ids[1]), S_SUCCESS);
    CHECK_STATUS(SocketCreate(File, W_AF_INET, W_SOCK_DGRAM, W_IPPROTO_UDP, W_FLAG_DATAGRAM, &Ids[2]), S_SUCCESS);
    CHECK_STATUS(SocketCreate(File, W_AF_INET, W_SOCK_STREAM, W_IPPROTO_TCP, W_FLAG_BASIC, &Ids[3]), S_SUCCESS);
    for (i = 0; i < Count; ++i) {
        uint32_t Code, InputLength, OutputLength, j;
        Seed = Seed * 1103515245u + 12345u;
        Code = WSKB_IOCTL(0x801 + (Seed >> 16) % 16); /* everything but HELLO */
        if (Code == WSKB_IOCTL_READ_EVENTS)
            Code = WSKB_IOCTL_STATS;
        Seed = Seed * 1103515245u + 12345u;
        InputLength = (Seed >> 16) % 7 == 0 ? (Seed >> 8) % 256 : 8u * ((Seed >> 16) % 8);
        Seed = Seed * 1103515245u + 12345u;
        OutputLength = (Seed >> 16) % 300;
        for (j = 0; j < sizeof(Input); ++j) {
            Seed = Seed * 1103515245u + 12345u;
            /* Mostly small values, so that lengths, kinds and flags are often plausible. */
            Input[j] = (uint8_t)((Seed >> 16) % 4 == 0 ? (Seed >> 8) : (Seed >> 16) % 3);
        }
        if ((Seed >> 20) % 2)
            memcpy(Input, &Ids[(Seed >> 21) % 4], 8);
        /* Keep addresses on loopback: this machine has no network. */
        if (Code == WSKB_IOCTL_CONNECT || Code == WSKB_IOCTL_SEND_TO || Code == WSKB_IOCTL_BIND) {
            WSKB_SOCKADDR Loop = Ipv4(127, 0, 0, 1, (uint16_t)(40000 + (Seed >> 16) % 1000));
            memcpy(Input + 8, &Loop, sizeof(Loop));
        }
        Calls[i] = Start(File, Code, Input, InputLength, OutputLength);
    }
    KsimClose(File);
    for (i = 0; i < Count; ++i) {
        Completed += Calls[i]->Done ? 1 : 0;
        Free(Calls[i]);
    }
    CHECK(Completed == Count);
}

/* Slots are reused, ids never: a closed id stays stale after its slot holds a new socket. */
static void
TestIdReuse(KSIM_FILE *File)
{
    uint64_t First, Second, Third;
    WSKB_SOCKADDR Address;

    CHECK_STATUS(SocketCreate(File, W_AF_INET, W_SOCK_DGRAM, W_IPPROTO_UDP, W_FLAG_DATAGRAM, &First), S_SUCCESS);
    CHECK_STATUS(CloseSocket(File, First), S_SUCCESS);
    CHECK_STATUS(SocketCreate(File, W_AF_INET, W_SOCK_DGRAM, W_IPPROTO_UDP, W_FLAG_DATAGRAM, &Second), S_SUCCESS);
    CHECK((uint32_t)Second == (uint32_t)First);          /* the slot came back... */
    CHECK((Second >> 32) != (First >> 32));                /* ...with a new generation */
    CHECK_STATUS(AddressCall(File, WSKB_IOCTL_BIND, First, Ipv4(127, 0, 0, 1, 0)), S_INVALID_HANDLE);
    CHECK_STATUS(AddressCall(File, WSKB_IOCTL_BIND, Second, Ipv4(127, 0, 0, 1, 0)), S_SUCCESS);
    CHECK_STATUS(GetAddress(File, Second + (1ull << 32), WSKB_ADDRESS_LOCAL, &Address), S_INVALID_HANDLE);
    CHECK_STATUS(GetAddress(File, Second, WSKB_ADDRESS_LOCAL, &Address), S_SUCCESS);
    CHECK_STATUS(SocketCreate(File, W_AF_INET, W_SOCK_DGRAM, W_IPPROTO_UDP, W_FLAG_DATAGRAM, &Third), S_SUCCESS);
    CHECK(Third != Second && Third != First);
    CHECK_STATUS(CloseSocket(File, Second), S_SUCCESS);
    CHECK_STATUS(CloseSocket(File, Third), S_SUCCESS);
}

typedef struct _RACE {
    KSIM_FILE *File;
    int Peer;
    volatile int Stop;
} RACE;

static void *
RaceThread(void *Context)
{
    RACE *Race = Context;
    unsigned n = 0;

    while (!__atomic_load_n(&Race->Stop, __ATOMIC_ACQUIRE)) {
        if (write(Race->Peer, "r", 1) != 1)
            break;
        if (++n % 3 == 0)
            KsimCancelIo(Race->File);
        usleep(50);
    }
    return NULL;
}

/* Completion and cancellation racing on many pended RECEIVEs: each completes exactly once,
 * with data or STATUS_CANCELLED, and every byte the peer wrote is received or still queued. */
static void
TestCancelRace(void)
{
    enum { Count = 2000 };
    static CALL *Calls[Count];
    KSIM_FILE *File = NULL;
    uint64_t Listener, Accepted = 0, Received = 0;
    WSKB_SOCKADDR Local;
    WSKB_ACCEPT_IN AcceptIn;
    CALL *Accept;
    RACE Race;
    pthread_t Thread;
    uint32_t i, Done = 0, Cancelled = 0;

    CHECK_STATUS(KsimOpen(WSKB_USER_PATH, &File), S_SUCCESS);
    if (!File)
        return;
    CHECK_STATUS(DoHello(File), S_SUCCESS);
    CHECK_STATUS(SocketCreate(File, W_AF_INET, W_SOCK_STREAM, W_IPPROTO_TCP, W_FLAG_LISTEN, &Listener), S_SUCCESS);
    CHECK_STATUS(AddressCall(File, WSKB_IOCTL_BIND, Listener, Ipv4(127, 0, 0, 1, 0)), S_SUCCESS);
    CHECK_STATUS(GetAddress(File, Listener, WSKB_ADDRESS_LOCAL, &Local), S_SUCCESS);
    AcceptIn = (WSKB_ACCEPT_IN){ Listener, 0, 0 };
    Accept = Start(File, WSKB_IOCTL_ACCEPT, &AcceptIn, sizeof(AcceptIn), sizeof(WSKB_ACCEPT_OUT));
    Race.Peer = HostConnect(Local.Port);
    CHECK(Wait(Accept, 5000) && Accept->Status == S_SUCCESS);
    if (Accept->Done && Accept->Status == S_SUCCESS)
        Accepted = ((WSKB_ACCEPT_OUT *)Accept->Output)->AcceptedSocketId;
    Free(Accept);
    Race.File = File;
    Race.Stop = 0;
    pthread_create(&Thread, NULL, RaceThread, &Race);
    for (i = 0; i < Count; ++i) {
        WSKB_DATA_IN In = { Accepted, 0, 1 };
        Calls[i] = Start(File, WSKB_IOCTL_RECEIVE, &In, sizeof(In), 1);
        if (i % 64 == 63)
            usleep(200);
    }
    __atomic_store_n(&Race.Stop, 1, __ATOMIC_RELEASE);
    pthread_join(Thread, NULL);
    KsimCancelIo(File);
    for (i = 0; i < Count; ++i) {
        CHECK(Wait(Calls[i], 5000));
        if (Calls[i]->Done) {
            ++Done;
            if (Calls[i]->Status == S_CANCELLED)
                ++Cancelled;
            else if (Calls[i]->Status == S_SUCCESS)
                Received += Calls[i]->Information;
            else
                CHECK_STATUS(Calls[i]->Status, S_SUCCESS);
        }
        Free(Calls[i]);
    }
    CHECK(Done == Count);
    printf("  %u receives: %llu bytes, %u cancelled\n", Count, (unsigned long long)Received, Cancelled);
    CHECK(Received > 0 && Cancelled > 0);
    close(Race.Peer);
    KsimClose(File);
}

typedef struct _WORKER {
    KSIM_FILE *File;
    int Index;
    int Failures;
    int Rounds;
} WORKER;

/* One thread's loop: a datagram socket that sends to itself and receives it, then closes. */
static void *
WorkerThread(void *Context)
{
    WORKER *Worker = Context;
    int Round;

    for (Round = 0; Round < 150; ++Round) {
        uint64_t Id;
        WSKB_SOCKADDR Local;
        WSKB_DATA_IN ReceiveIn;
        CALL *Receive;
        struct { WSKB_SEND_TO_IN H; uint8_t Data[8]; } In;

        if (SocketCreate(Worker->File, W_AF_INET, W_SOCK_DGRAM, W_IPPROTO_UDP, W_FLAG_DATAGRAM, &Id) != S_SUCCESS) {
            Worker->Failures++;
            continue;
        }
        if (AddressCall(Worker->File, WSKB_IOCTL_BIND, Id, Ipv4(127, 0, 0, 1, 0)) != S_SUCCESS ||
            GetAddress(Worker->File, Id, WSKB_ADDRESS_LOCAL, &Local) != S_SUCCESS) {
            Worker->Failures++;
            (void)CloseSocket(Worker->File, Id);
            continue;
        }
        ReceiveIn = (WSKB_DATA_IN){ Id, 0, 8 };
        Receive = Start(Worker->File, WSKB_IOCTL_RECEIVE_FROM, &ReceiveIn, sizeof(ReceiveIn),
                        sizeof(WSKB_RECEIVE_FROM_OUT) + 8);
        memset(&In, 0, sizeof(In));
        In.H.SocketId = Id;
        In.H.RemoteAddress = Local;
        In.H.Length = 8;
        memcpy(In.Data, &Id, 8);
        if (Ioctl(Worker->File, WSKB_IOCTL_SEND_TO, &In, sizeof(In), NULL, 0, NULL) != S_SUCCESS)
            Worker->Failures++;
        if (!Wait(Receive, 5000) || Receive->Status != S_SUCCESS ||
            memcmp(Receive->Output + sizeof(WSKB_RECEIVE_FROM_OUT), &Id, 8) != 0)
            Worker->Failures++;
        /* Round 2k: close under the (already completed) receive; 2k+1: a second receive pended
         * at close time must come back cancelled. */
        if (Round % 2) {
            CALL *Pending = Start(Worker->File, WSKB_IOCTL_RECEIVE_FROM, &ReceiveIn, sizeof(ReceiveIn),
                                  sizeof(WSKB_RECEIVE_FROM_OUT) + 8);
            if (CloseSocket(Worker->File, Id) != S_SUCCESS)
                Worker->Failures++;
            if (!Wait(Pending, 5000) || Pending->Status != S_CANCELLED)
                Worker->Failures++;
            Free(Pending);
        } else if (CloseSocket(Worker->File, Id) != S_SUCCESS) {
            Worker->Failures++;
        }
        if (Receive->Done)
            Free(Receive);
        Worker->Rounds++;
    }
    return NULL;
}

/* Four threads creating, using and closing sockets of one session at once. */
static void
TestConcurrent(void)
{
    KSIM_FILE *File = NULL;
    WORKER Workers[4];
    pthread_t Threads[4];
    int i;

    CHECK_STATUS(KsimOpen(WSKB_USER_PATH, &File), S_SUCCESS);
    if (!File)
        return;
    CHECK_STATUS(DoHello(File), S_SUCCESS);
    for (i = 0; i < 4; ++i) {
        Workers[i] = (WORKER){ File, i, 0, 0 };
        pthread_create(&Threads[i], NULL, WorkerThread, &Workers[i]);
    }
    for (i = 0; i < 4; ++i) {
        pthread_join(Threads[i], NULL);
        CHECK(Workers[i].Failures == 0);
        CHECK(Workers[i].Rounds == 150);
    }
    KsimClose(File);
}

/* One session's life, tolerating a failure at any step: every allocation it makes (driver and
 * ksim) is failed in turn by the caller. */
static void
FaultScenario(void)
{
    KSIM_FILE *File = NULL;
    uint64_t Listener = 0, Accepted = 0, Sent = 0, Information = 0;
    WSKB_SOCKADDR Local;
    WSKB_ACCEPT_IN AcceptIn;
    CALL *Accept;
    int Peer = -1;

    if (KsimOpen(WSKB_USER_PATH, &File) != S_SUCCESS || !File)
        return;
    if (DoHello(File) != S_SUCCESS)
        goto close;
    if (SocketCreate(File, W_AF_INET, W_SOCK_STREAM, W_IPPROTO_TCP, W_FLAG_LISTEN, &Listener) != S_SUCCESS)
        goto close;
    if (AddressCall(File, WSKB_IOCTL_BIND, Listener, Ipv4(127, 0, 0, 1, 0)) != S_SUCCESS)
        goto close;
    if (GetAddress(File, Listener, WSKB_ADDRESS_LOCAL, &Local) != S_SUCCESS)
        goto close;
    AcceptIn = (WSKB_ACCEPT_IN){ Listener, 0, 0 };
    Accept = Start(File, WSKB_IOCTL_ACCEPT, &AcceptIn, sizeof(AcceptIn), sizeof(WSKB_ACCEPT_OUT));
    Peer = HostConnect(Local.Port);
    if (!Wait(Accept, 5000)) {
        /* Pended and never completed by the peer: the close below must complete it. */
        KsimClose(File);
        CHECK(Accept->Done);
        Free(Accept);
        File = NULL;
        goto close;
    }
    if (Accept->Status == S_SUCCESS)
        Accepted = ((WSKB_ACCEPT_OUT *)Accept->Output)->AcceptedSocketId;
    Free(Accept);
    if (!Accepted)
        goto close;
    if (Send(File, Accepted, "fault", 5, &Sent) == S_SUCCESS) {
        uint8_t Back[5];
        CHECK(HostReadAll(Peer, Back, 5) == 0);
    }
    if (Peer >= 0 && HostWriteAll(Peer, (const uint8_t *)"again", 5) == 0) {
        WSKB_DATA_IN In = { Accepted, 0, 5 };
        uint8_t Out[5];
        (void)Ioctl(File, WSKB_IOCTL_RECEIVE, &In, sizeof(In), Out, sizeof(Out), &Information);
    }
    {
        struct { WSKB_CONTROL_SOCKET_IN H; uint32_t Mask; } In;
        uint8_t Out[sizeof(WSKB_CONTROL_OUT)];
        memset(&In, 0, sizeof(In));
        In.H.SocketId = Accepted;
        In.H.ControlCode = 0x4002;
        In.H.Level = W_SOL_SOCKET;
        In.H.InputLength = 4;
        In.H.Flags = WSKB_CONTROL_FLAG_USE_IRP;
        In.Mask = 0x40;
        (void)Ioctl(File, WSKB_IOCTL_CONTROL_SOCKET, &In, sizeof(In), Out, sizeof(Out), NULL);
    }
    (void)CloseSocket(File, Accepted);
close:
    if (Peer >= 0)
        close(Peer);
    if (File)
        KsimClose(File);
}

/* Fails the 1st, 2nd, ... allocation of the scenario until one run no longer reaches the
 * failure point: after each run, the pool, IRPs, MDLs and WSK sockets are back at baseline and
 * the verifier saw nothing. */
static void
TestFaultInjection(void)
{
    KSIM_COUNTERS Before, After;
    uint64_t Nth, Runs = 0;

    for (Nth = 1; Nth < 2000; ++Nth) {
        KsimGetCounters(&Before);
        KsimFailAllocationAfter(Nth);
        FaultScenario();
        KsimFailAllocationAfter(0);
        KsimGetCounters(&After);
        ++Runs;
        CHECK(After.PoolAllocations == Before.PoolAllocations);
        CHECK(After.Irps == Before.Irps && After.Mdls == Before.Mdls);
        CHECK(After.WskSockets == Before.WskSockets);
        CHECK(After.VerifierFailures == Before.VerifierFailures);
        if (After.PoolAllocations != Before.PoolAllocations || After.VerifierFailures != Before.VerifierFailures) {
            printf("  fault at allocation %llu: pool %llu -> %llu, verifier %llu -> %llu\n", (unsigned long long)Nth,
                   (unsigned long long)Before.PoolAllocations, (unsigned long long)After.PoolAllocations,
                   (unsigned long long)Before.VerifierFailures, (unsigned long long)After.VerifierFailures);
            break;
        }
        if (After.PoolAllocationsTotal - Before.PoolAllocationsTotal < Nth)
            break; /* the whole scenario ran without reaching the failure point */
    }
    printf("  %llu fault-injection runs\n", (unsigned long long)Runs);
    CHECK(Runs > 10);
}

int
main(void)
{
    KSIM_FILE *File = NULL;
    KSIM_COUNTERS Counters;
    char Message[512];

    setvbuf(stdout, NULL, _IONBF, 0);
    CHECK_STATUS(KsimDriverLoad(), S_SUCCESS);
    CHECK_STATUS(KsimOpen(WSKB_USER_PATH, &File), S_SUCCESS);
    if (!File)
        return 1;
    printf("malformed IOCTLs\n");
    TestMalformed(File);
    printf("listen / accept / data\n");
    TestListenAccept(File);
    printf("connect\n");
    TestConnect(File);
    printf("datagram\n");
    TestDatagram(File);
    printf("close cancels, IPv6\n");
    TestCloseCancels(File);
    printf("raw control\n");
    TestControl(File);
    printf("id reuse\n");
    TestIdReuse(File);
    KsimClose(File);
    printf("random IOCTLs\n");
    TestRandom();
    printf("sessions\n");
    TestSessions();
    printf("socket table growth\n");
    TestTableGrowth();
    printf("concurrent sessions use\n");
    TestConcurrent();
    printf("cancel race\n");
    TestCancelRace();
    printf("fault injection\n");
    TestFaultInjection();

    KsimGetCounters(&Counters);
    CHECK(Counters.WskSockets == 0);
    CHECK(Counters.Irps == 0);
    CHECK(Counters.Mdls == 0);
    CHECK(Counters.HostSockets == 0);
    KsimDriverUnload();
    KsimGetCounters(&Counters);
    CHECK(Counters.PoolAllocations == 0);
    CHECK(Counters.Irps == 0);
    CHECK(Counters.Mdls == 0);
    CHECK(Counters.HostSockets == 0);
    CHECK(Counters.VerifierFailures == 0);
    if (KsimVerifierLastFailure(Message, sizeof(Message)))
        printf("last verifier failure: %s\n", Message);
    printf("%d checks, %d failures; pool %llu blocks, irps %llu, mdls %llu, host sockets %llu\n", Checks, Failures,
           (unsigned long long)Counters.PoolAllocations, (unsigned long long)Counters.Irps,
           (unsigned long long)Counters.Mdls, (unsigned long long)Counters.HostSockets);
    return Failures ? 1 : 0;
}

/* SPDX-License-Identifier: MIT
 *
 * Helpers over the bridge's protocol for the driver's C tests on ksim (user-mode code: host
 * headers, ksim.h and protocol.h only): check counters and macros, socket creation, a loopback
 * bind, a ULONG socket option, a host TCP connect. Header-only, every function static; include
 * after ksim_call.h and the WSK values the file spells out (SOL_SOCKET_WSK, WSK_SET_OPTION,
 * ST_SUCCESS).
 */
#ifndef BRIDGE_TEST_H
#define BRIDGE_TEST_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "ksim_call.h"
#include "protocol.h"

static int Failures, Checks;
#define CHECK(c)                                                                   \
    do {                                                                           \
        ++Checks;                                                                  \
        if (!(c)) {                                                                \
            ++Failures;                                                            \
            fprintf(stderr, "FAIL %s:%d: %s\n", __FILE__, __LINE__, #c);           \
        }                                                                          \
    } while (0)
#define REQUIRE(c)                                                                 \
    do {                                                                           \
        int Ok_ = (c); /* once: the condition may have side effects */             \
        CHECK(Ok_ && #c);                                                          \
        if (!Ok_) {                                                                \
            fprintf(stderr, "cannot go on after %s:%d: %s\n", __FILE__, __LINE__, #c); \
            exit(1);                                                               \
        }                                                                          \
    } while (0)

static uint64_t
SocketCreate(KSIM_FILE *File, uint16_t Type, uint32_t Protocol, uint32_t Kind)
{
    WSKB_SOCKET_CREATE_IN In = {.Family = 2, .SocketType = Type, .Protocol = Protocol, .WskFlags = Kind};
    WSKB_SOCKET_ID Out = {0};
    REQUIRE(Ioctl(File, WSKB_IOCTL_SOCKET_CREATE, &In, sizeof(In), &Out, sizeof(Out), NULL) == ST_SUCCESS);
    REQUIRE(Out.SocketId != 0);
    return Out.SocketId;
}

static uint16_t
BindLoopback(KSIM_FILE *File, uint64_t Id)
{
    WSKB_ADDRESS_IN In;
    WSKB_GET_ADDRESS_IN Get = {.SocketId = Id, .Which = WSKB_ADDRESS_LOCAL};
    WSKB_SOCKADDR Local;

    memset(&In, 0, sizeof(In));
    In.SocketId = Id;
    In.Address.Family = 2;
    In.Address.Address[0] = 127;
    In.Address.Address[3] = 1;
    REQUIRE(Ioctl(File, WSKB_IOCTL_BIND, &In, sizeof(In), NULL, 0, NULL) == ST_SUCCESS);
    REQUIRE(Ioctl(File, WSKB_IOCTL_GET_ADDRESS, &Get, sizeof(Get), &Local, sizeof(Local), NULL) == ST_SUCCESS);
    REQUIRE(Local.Port != 0);
    return Local.Port;
}

/* WskControlSocket(WskSetOption, Code, SOL_SOCKET) with a ULONG; returns the call's status
 * (or the IRP's, when one is used). */
static int32_t
SetOptionU32(KSIM_FILE *File, uint64_t Id, uint32_t Code, uint32_t Value, int UseIrp)
{
    struct {
        WSKB_CONTROL_SOCKET_IN In;
        uint32_t Value;
        uint32_t Pad;
    } Request;
    WSKB_CONTROL_OUT Out;

    memset(&Request, 0, sizeof(Request));
    Request.In.SocketId = Id;
    Request.In.RequestType = WSK_SET_OPTION;
    Request.In.ControlCode = Code;
    Request.In.Level = SOL_SOCKET_WSK;
    Request.In.InputLength = sizeof(uint32_t);
    Request.In.Flags = UseIrp ? WSKB_CONTROL_FLAG_USE_IRP : 0;
    Request.Value = Value;
    REQUIRE(Ioctl(File, WSKB_IOCTL_CONTROL_SOCKET, &Request, sizeof(WSKB_CONTROL_SOCKET_IN) + sizeof(uint32_t), &Out,
                  sizeof(Out), NULL) == ST_SUCCESS);
    return UseIrp ? Out.IrpStatus : Out.CallStatus;
}

/* A host socket of Type (SOCK_STREAM, SOCK_DGRAM) connected to 127.0.0.1:Port. */
static int
HostConnectSocket(int Type, uint16_t Port)
{
    struct sockaddr_in To;
    int Fd = socket(AF_INET, Type, 0);
    REQUIRE(Fd >= 0);
    memset(&To, 0, sizeof(To));
    To.sin_family = AF_INET;
    To.sin_port = htons(Port);
    To.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(connect(Fd, (struct sockaddr *)&To, sizeof(To)) == 0);
    return Fd;
}

static int
HostConnect(uint16_t Port)
{
    return HostConnectSocket(SOCK_STREAM, Port);
}

#endif /* BRIDGE_TEST_H */

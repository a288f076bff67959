// SPDX-License-Identifier: MIT
//
// ksim.memoryNet: test peers on ksim's in-memory network (ksim.h "KsimMemoryNet*"), for the
// sessions opened with open({ backend: 'sim', network: 'memory' }), which Node's net and dgram
// cannot reach. Non-blocking calls; failures throw an Error whose `code` is the errno-style name
// ("ECONNREFUSED"); "would block" is a null result, never an error.
#include <napi.h>

#include <cstring>
#include <string>

#include "ksim/ksim.h"
#include "memory_net.h"

namespace wskb {
namespace {

int64_t HandleArg(const Napi::CallbackInfo& info, size_t index, const char* what) {
  if (info.Length() <= index || !info[index].IsNumber()) {
    throw Napi::TypeError::New(info.Env(), std::string("ksim.memoryNet.") + what + ": the handle must be a number");
  }
  return info[index].As<Napi::Number>().Int64Value();
}

// (family, port, address bytes) at index..index+2.
KSIM_MEMORY_ADDRESS AddressArg(const Napi::CallbackInfo& info, size_t index, const char* what) {
  KSIM_MEMORY_ADDRESS address;
  std::memset(&address, 0, sizeof(address));
  if (info.Length() < index + 3 || !info[index].IsNumber() || !info[index + 1].IsNumber() || !info[index + 2].IsBuffer()) {
    throw Napi::TypeError::New(info.Env(), std::string("ksim.memoryNet.") + what + ": expected (family 4|6, port, address bytes)");
  }
  const int family = info[index].As<Napi::Number>().Int32Value();
  const int port = info[index + 1].As<Napi::Number>().Int32Value();
  Napi::Buffer<uint8_t> bytes = info[index + 2].As<Napi::Buffer<uint8_t>>();
  const size_t need = family == 4 ? 4 : 16;
  if ((family != 4 && family != 6) || port < 0 || port > 65535 || bytes.Length() != need) {
    throw Napi::RangeError::New(info.Env(), std::string("ksim.memoryNet.") + what +
                                                ": family must be 4 or 6, port 0..65535, and the address 4 or 16 bytes");
  }
  address.Family = static_cast<uint16_t>(family);
  address.Port = static_cast<uint16_t>(port);
  std::memcpy(address.Address, bytes.Data(), need);
  return address;
}

Napi::Object AddressObject(Napi::Env env, const KSIM_MEMORY_ADDRESS& address) {
  Napi::Object result = Napi::Object::New(env);
  result.Set("family", Napi::Number::New(env, address.Family));
  result.Set("port", Napi::Number::New(env, address.Port));
  result.Set("address", Napi::Buffer<uint8_t>::Copy(env, address.Address, address.Family == 4 ? 4 : 16));
  return result;
}

void Check(Napi::Env env, int error, const char* what) {
  if (error == 0) return;
  Napi::Error failure = Napi::Error::New(env, std::string("ksim.memoryNet.") + what + ": " + KsimMemoryNetErrorName(error));
  failure.Set("code", Napi::String::New(env, KsimMemoryNetErrorName(error)));
  throw failure;
}

Napi::Value Socket(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsNumber() || !info[1].IsString()) {
    throw Napi::TypeError::New(env, "ksim.memoryNet.socket(family 4|6, 'tcp'|'udp')");
  }
  const std::string kind = info[1].As<Napi::String>();
  if (kind != "tcp" && kind != "udp") throw Napi::RangeError::New(env, "ksim.memoryNet.socket: kind must be 'tcp' or 'udp'");
  int64_t handle = -1;
  Check(env, KsimMemoryNetSocket(info[0].As<Napi::Number>().Int32Value(), kind == "tcp", &handle), "socket");
  return Napi::Number::New(env, static_cast<double>(handle));
}

Napi::Value Bind(const Napi::CallbackInfo& info) {
  const int64_t h = HandleArg(info, 0, "bind");
  KSIM_MEMORY_ADDRESS a = AddressArg(info, 1, "bind");
  Check(info.Env(), KsimMemoryNetBind(h, &a), "bind");
  return info.Env().Undefined();
}

Napi::Value Listen(const Napi::CallbackInfo& info) {
  const int64_t h = HandleArg(info, 0, "listen");
  const int backlog = info.Length() > 1 && info[1].IsNumber() ? info[1].As<Napi::Number>().Int32Value() : 64;
  Check(info.Env(), KsimMemoryNetListen(h, backlog), "listen");
  return info.Env().Undefined();
}

Napi::Value Accept(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int64_t created = -1;
  KSIM_MEMORY_ADDRESS remote;
  const int error = KsimMemoryNetAccept(HandleArg(info, 0, "accept"), &created, &remote);
  if (error == KSIM_MEMORY_NET_E_WOULDBLOCK) return env.Null();
  Check(env, error, "accept");
  Napi::Object result = AddressObject(env, remote);
  result.Set("handle", Napi::Number::New(env, static_cast<double>(created)));
  return result;
}

Napi::Value Connect(const Napi::CallbackInfo& info) {
  const int64_t h = HandleArg(info, 0, "connect");
  KSIM_MEMORY_ADDRESS a = AddressArg(info, 1, "connect");
  const int error = KsimMemoryNetConnect(h, &a);
  if (error != KSIM_MEMORY_NET_E_INPROGRESS) Check(info.Env(), error, "connect");
  return info.Env().Undefined();
}

Napi::Value ConnectResult(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), KsimMemoryNetErrorName(KsimMemoryNetConnectResult(HandleArg(info, 0, "connectResult"))));
}

Napi::Value Send(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const int64_t h = HandleArg(info, 0, "send");
  if (info.Length() < 2 || !info[1].IsBuffer()) throw Napi::TypeError::New(env, "ksim.memoryNet.send(handle, buffer)");
  Napi::Buffer<uint8_t> data = info[1].As<Napi::Buffer<uint8_t>>();
  size_t sent = 0;
  const int error = KsimMemoryNetSend(h, data.Data(), data.Length(), &sent);
  if (error == KSIM_MEMORY_NET_E_WOULDBLOCK) return Napi::Number::New(env, 0);
  Check(env, error, "send");
  return Napi::Number::New(env, static_cast<double>(sent));
}

Napi::Value Receive(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const int64_t h = HandleArg(info, 0, "receive");
  const size_t max = info.Length() > 1 && info[1].IsNumber() ? info[1].As<Napi::Number>().Uint32Value() : 65536;
  std::string buffer(max ? max : 1, '\0');
  size_t got = 0;
  const int error = KsimMemoryNetReceive(h, &buffer[0], max, &got);
  if (error == KSIM_MEMORY_NET_E_WOULDBLOCK) return env.Null();
  Check(env, error, "receive");
  return Napi::Buffer<char>::Copy(env, buffer.data(), got);
}

Napi::Value SendTo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const int64_t h = HandleArg(info, 0, "sendTo");
  if (info.Length() < 2 || !info[1].IsBuffer()) throw Napi::TypeError::New(env, "ksim.memoryNet.sendTo(handle, buffer, family, port, address)");
  Napi::Buffer<uint8_t> data = info[1].As<Napi::Buffer<uint8_t>>();
  KSIM_MEMORY_ADDRESS a = AddressArg(info, 2, "sendTo");
  Check(env, KsimMemoryNetSendTo(h, data.Data(), data.Length(), &a), "sendTo");
  return env.Undefined();
}

Napi::Value ReceiveFrom(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const int64_t h = HandleArg(info, 0, "receiveFrom");
  std::string buffer(65536, '\0');
  size_t got = 0;
  int truncated = 0;
  KSIM_MEMORY_ADDRESS from;
  const int error = KsimMemoryNetReceiveFrom(h, &buffer[0], buffer.size(), &got, &from, &truncated);
  if (error == KSIM_MEMORY_NET_E_WOULDBLOCK) return env.Null();
  Check(env, error, "receiveFrom");
  Napi::Object result = AddressObject(env, from);
  result.Set("data", Napi::Buffer<char>::Copy(env, buffer.data(), got));
  return result;
}

Napi::Value Shutdown(const Napi::CallbackInfo& info) {
  Check(info.Env(), KsimMemoryNetShutdownSend(HandleArg(info, 0, "shutdown")), "shutdown");
  return info.Env().Undefined();
}

Napi::Value SetOption(const Napi::CallbackInfo& info) {
  const int64_t h = HandleArg(info, 0, "setOption");
  if (info.Length() < 3 || !info[1].IsString() || !info[2].IsNumber()) {
    throw Napi::TypeError::New(info.Env(), "ksim.memoryNet.setOption(handle, 'rcvbuf'|'sndbuf', value)");
  }
  const std::string name = info[1].As<Napi::String>();
  Check(info.Env(), KsimMemoryNetSetOption(h, name.c_str(), info[2].As<Napi::Number>().Int32Value()), "setOption");
  return info.Env().Undefined();
}

Napi::Value Close(const Napi::CallbackInfo& info) {
  const int64_t h = HandleArg(info, 0, "close");
  KsimMemoryNetClose(h, info.Length() > 1 && info[1].ToBoolean().Value() ? 1 : 0);
  return info.Env().Undefined();
}

Napi::Value LocalAddress(const Napi::CallbackInfo& info) {
  KSIM_MEMORY_ADDRESS a;
  Check(info.Env(), KsimMemoryNetLocalAddress(HandleArg(info, 0, "localAddress"), &a), "localAddress");
  return AddressObject(info.Env(), a);
}

Napi::Value RemoteAddress(const Napi::CallbackInfo& info) {
  KSIM_MEMORY_ADDRESS a;
  Check(info.Env(), KsimMemoryNetRemoteAddress(HandleArg(info, 0, "remoteAddress"), &a), "remoteAddress");
  return AddressObject(info.Env(), a);
}

Napi::Value Readiness(const Napi::CallbackInfo& info) {
  unsigned events = 0;
  Check(info.Env(), KsimMemoryNetReadiness(HandleArg(info, 0, "readiness"), &events), "readiness");
  return Napi::Number::New(info.Env(), events);
}

Napi::Value Dropped(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(KsimMemoryNetDatagramsDropped()));
}

}  // namespace

Napi::Object MemoryNetObject(Napi::Env env) {
  Napi::Object net = Napi::Object::New(env);
  net.Set("socket", Napi::Function::New<Socket>(env, "socket"));
  net.Set("bind", Napi::Function::New<Bind>(env, "bind"));
  net.Set("listen", Napi::Function::New<Listen>(env, "listen"));
  net.Set("accept", Napi::Function::New<Accept>(env, "accept"));
  net.Set("connect", Napi::Function::New<Connect>(env, "connect"));
  net.Set("connectResult", Napi::Function::New<ConnectResult>(env, "connectResult"));
  net.Set("send", Napi::Function::New<Send>(env, "send"));
  net.Set("receive", Napi::Function::New<Receive>(env, "receive"));
  net.Set("sendTo", Napi::Function::New<SendTo>(env, "sendTo"));
  net.Set("receiveFrom", Napi::Function::New<ReceiveFrom>(env, "receiveFrom"));
  net.Set("shutdown", Napi::Function::New<Shutdown>(env, "shutdown"));
  net.Set("setOption", Napi::Function::New<SetOption>(env, "setOption"));
  net.Set("close", Napi::Function::New<Close>(env, "close"));
  net.Set("localAddress", Napi::Function::New<LocalAddress>(env, "localAddress"));
  net.Set("remoteAddress", Napi::Function::New<RemoteAddress>(env, "remoteAddress"));
  net.Set("readiness", Napi::Function::New<Readiness>(env, "readiness"));
  net.Set("datagramsDropped", Napi::Function::New<Dropped>(env, "datagramsDropped"));
  return net;
}

}  // namespace wskb

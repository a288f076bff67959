// SPDX-License-Identifier: MIT
//
// The N-API module: moves request bytes into a Device and completions back out, and nothing
// else. Every decision about what the bytes mean lives in TypeScript (lib/); see
// native/README.md for the JavaScript-facing surface this file implements.
//
// Threading model, in one paragraph: ioctl() runs on the JavaScript thread and hands the request
// to the backend. The backend completes it on any thread (inline, a ksim worker, the Windows I/O
// thread) by calling the CompletionSink, which only appends to a mutex-protected vector and, when
// that vector was empty, makes one non-blocking thread-safe-function call. The JavaScript-thread
// side of that call drains the whole vector, so a burst of completions costs one wake-up.
// Everything that touches JavaScript (pending callbacks, ref counts, the TSFN's ref state) is
// owned by the JavaScript thread alone.
//
// ksim's host-loop mode (native/ksim/src/ksim_sched_hostloop.c) adds a shorter path for the sim
// backend: the simulated network runs on this thread's event loop (a uv_poll on ksim's epoll
// descriptor; where there is none, a wake-up from ksim's watchdog through a second TSFN), and
// the completions it makes on this thread while the loop runs it are delivered at the end of
// that same callback, without a thread hop (HostLoop below). Completions made anywhere else,
// or inside ioctl(), still take the TSFN, so a callback still never runs before ioctl() returns.

#include <napi.h>
#ifndef _WIN32
#include <uv.h>
#endif

#include <cinttypes>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "device.h"
#include "ksim/ksim.h"
#include "memory_net.h"
#include "protocol.h"

namespace {

class DeviceWrap;
struct DeviceCore;

// ksim's host-loop mode, per environment (JavaScript thread): see the header comment.
struct HostLoop {
  napi_env env = nullptr;
  int users = 0;                                   // open sim devices attached to ksim's loop
  bool running = false;                            // inside Run(): completions here are collected
  std::vector<std::shared_ptr<DeviceCore>> ready;  // devices with collected completions
  napi_ref resource = nullptr;                     // async resource of the callback scope
  napi_async_context asyncContext = nullptr;
  napi_threadsafe_function notify = nullptr;       // ksim's watchdog -> this loop (no descriptor)
#ifndef _WIN32
  uv_poll_t* poll = nullptr;                       // on ksim's descriptor, while users > 0
  int closing = 0;                                 // poll handles whose close has not finished
  napi_async_cleanup_hook_handle cleanupHook = nullptr;
  bool tearingDown = false;
#endif
};

void HostLoopCollect(HostLoop* loop, DeviceCore* core);

// Per-environment state, so that the module is safe to load in several worker threads at once.
struct InstanceData {
  Napi::FunctionReference deviceConstructor;
  std::unordered_set<DeviceWrap*> openDevices;
  // ksim.load() calls not yet balanced by ksim.unload() in this environment; released when the
  // environment goes away so that a worker cannot leave the driver loaded behind it.
  uint64_t ksimLoads = 0;
  HostLoop hostLoop;
};

// Shared between the JavaScript thread and whichever thread completes a request. Kept alive by
// the DeviceWrap, by the backend's sink, and by the thread-safe function (released in its
// finalizer), so that whichever of the three goes last frees it.
struct DeviceCore : std::enable_shared_from_this<DeviceCore> {
  std::mutex mutex;
  std::vector<wskb::Completion> queue;  // guarded by mutex
  bool callable = false;                // guarded by mutex: tsfn may be called
  napi_threadsafe_function tsfn = nullptr;

  // JavaScript thread only.
  DeviceWrap* owner = nullptr;
  bool tsfnFinalized = false;
  bool tsfnReleased = false;
  bool tsfnRefed = true;  // napi_create_threadsafe_function starts referenced

  // Host-loop mode: set before the first request, constant afterwards.
  std::thread::id jsThread;
  HostLoop* hostLoop = nullptr;
  bool readyListed = false;  // JavaScript thread only: in hostLoop->ready

  void Push(wskb::Completion&& completion) {
    // Made on the JavaScript thread while its loop runs ksim's network: delivered at the end of
    // that callback (HostLoopRun), no TSFN call.
    if (hostLoop != nullptr && std::this_thread::get_id() == jsThread && hostLoop->running) {
      {
        std::lock_guard<std::mutex> lock(mutex);
        queue.push_back(std::move(completion));
      }
      HostLoopCollect(hostLoop, this);
      return;
    }
    std::lock_guard<std::mutex> lock(mutex);
    const bool wasEmpty = queue.empty();
    queue.push_back(std::move(completion));
    // Calling while holding the lock is what makes it safe against the finalizer, which clears
    // `callable` under the same lock before the TSFN's memory goes away. Unbounded queue, so a
    // non-blocking call can only fail with napi_closing, and then nobody is left to deliver to.
    if (wasEmpty && callable) {
      napi_call_threadsafe_function(tsfn, nullptr, napi_tsfn_nonblocking);
    }
  }

  // Stops further calls and drops any completion no one will deliver. JavaScript thread.
  void Release(bool discardQueued) {
    {
      std::lock_guard<std::mutex> lock(mutex);
      callable = false;
      if (discardQueued) queue.clear();
    }
    if (!tsfnFinalized && !tsfnReleased) {
      tsfnReleased = true;
      napi_release_threadsafe_function(tsfn, napi_tsfn_release);
    }
  }

  void SetRef(napi_env env, bool wanted) {
    if (tsfnFinalized || tsfnReleased || tsfnRefed == wanted) return;
    tsfnRefed = wanted;
    if (wanted) {
      napi_ref_threadsafe_function(env, tsfn);
    } else {
      napi_unref_threadsafe_function(env, tsfn);
    }
  }
};

struct PendingRequest {
  Napi::FunctionReference callback;
  bool weak;
  // ioctl(code, input, outputBuffer, ...): the caller's buffer the device writes into, held
  // until the completion is delivered (the backend writes it until then), then handed back.
  Napi::ObjectReference output;
};

// Private token: the constructor is reachable from JavaScript (Device.prototype.constructor),
// but only Device.open() holds one of these.
struct OpenToken {
  std::unique_ptr<wskb::Device> device;
  std::shared_ptr<DeviceCore> core;
  KSIM_HOST_LOOP* hostLoopAttachment;
};

KSIM_HOST_LOOP* HostLoopAttach(napi_env env, DeviceCore* core);
void HostLoopDetach(napi_env env, KSIM_HOST_LOOP* attachment);

class DeviceWrap : public Napi::ObjectWrap<DeviceWrap> {
 public:
  static Napi::Function DefineClass(Napi::Env env) {
    return ObjectWrap<DeviceWrap>::DefineClass(
        env, "Device",
        {
            StaticMethod<&DeviceWrap::Open>("open"),
            InstanceMethod<&DeviceWrap::Ioctl>("ioctl"),
            InstanceMethod<&DeviceWrap::CancelAll>("cancelAll"),
            InstanceMethod<&DeviceWrap::Close>("close"),
            InstanceMethod<&DeviceWrap::JsRef>("ref"),
            InstanceMethod<&DeviceWrap::JsUnref>("unref"),
            InstanceAccessor<&DeviceWrap::GetBackend>("backend"),
            InstanceAccessor<&DeviceWrap::GetPending>("pending"),
        });
  }

  explicit DeviceWrap(const Napi::CallbackInfo& info) : ObjectWrap<DeviceWrap>(info) {
    Napi::Env env = info.Env();
    if (info.Length() != 1 || !info[0].IsExternal()) {
      throw Napi::TypeError::New(env, "Device cannot be constructed directly; use Device.open()");
    }
    auto* token = info[0].As<Napi::External<OpenToken>>().Data();
    if (token == nullptr || !token->device) {
      throw Napi::TypeError::New(env, "Device cannot be constructed directly; use Device.open()");
    }
    device_ = std::move(token->device);
    core_ = std::move(token->core);
    hostLoopAttachment_ = token->hostLoopAttachment;
    token->hostLoopAttachment = nullptr;
    core_->owner = this;
    backend_ = device_->Backend();
    env.GetInstanceData<InstanceData>()->openDevices.insert(this);
  }

  ~DeviceWrap() override {
    // Reached only when no request is pending (a pending request holds a reference to this
    // object) or at environment teardown, after the cleanup hook closed us.
    Shutdown(Env(), /*discard=*/true);
    core_->owner = nullptr;
  }

  // Environment teardown: close without ever calling JavaScript again.
  void CloseForTeardown(napi_env env) {
    Shutdown(env, /*discard=*/true);
    pending_.clear();
    strongPending_ = 0;
  }

 private:
  static Napi::Value Open(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsString()) {
      throw Napi::TypeError::New(env, "Device.open(backend): backend must be 'sim' or 'kernel'");
    }
    const std::string backend = info[0].As<Napi::String>();
    if (backend != "sim" && backend != "kernel") {
      throw Napi::TypeError::New(env, "Device.open(backend): backend must be 'sim' or 'kernel', not '" +
                                          backend + "'");
    }
    // The sim backend's network: ksim's default, the host's sockets, or its in-memory network.
    std::string network;
    if (info.Length() > 1 && !info[1].IsUndefined()) {
      if (!info[1].IsString()) throw Napi::TypeError::New(env, "Device.open(backend, network): network must be a string");
      network = info[1].As<Napi::String>();
      if (network != "host" && network != "memory") {
        throw Napi::TypeError::New(env, "Device.open(backend, network): network must be 'host' or 'memory', not '" + network + "'");
      }
      if (backend != "sim") throw Napi::TypeError::New(env, "Device.open(backend, network): a network is chosen on the sim backend only");
    }

    auto core = std::make_shared<DeviceCore>();
    // The TSFN holds its own reference to the core, dropped in its finalizer.
    auto* tsfnReference = new std::shared_ptr<DeviceCore>(core);
    napi_value resourceName;
    napi_status status = napi_create_string_utf8(env, "wskbridge.Device", NAPI_AUTO_LENGTH, &resourceName);
    if (status == napi_ok) {
      status = napi_create_threadsafe_function(env, nullptr, nullptr, resourceName, 0, 1, tsfnReference,
                                               &DeviceWrap::FinalizeTsfn, core.get(), &DeviceWrap::CallJs,
                                               &core->tsfn);
    }
    if (status != napi_ok) {
      delete tsfnReference;
      throw Napi::Error::New(env, "cannot create the completion channel (napi status " +
                                      std::to_string(status) + ")");
    }
    {
      std::lock_guard<std::mutex> lock(core->mutex);
      core->callable = true;
    }
    // Nothing is pending yet: an idle device never keeps the event loop alive.
    core->SetRef(env, false);

    std::shared_ptr<DeviceCore> sinkCore = core;
    wskb::CompletionSink sink = [sinkCore](wskb::Completion&& completion) {
      sinkCore->Push(std::move(completion));
    };
    std::string error;
    std::unique_ptr<wskb::Device> device;
    if (backend == "sim") {
      device = wskb::OpenSimDevice(std::move(sink), &error, network);
    } else {
#ifdef _WIN32
      device = wskb::OpenKernelDevice(std::move(sink), &error);
#else
      error = "the kernel backend needs Windows, where the WskBridge driver runs; the 'sim' backend runs the same driver here";
#endif
    }
    if (!device) {
      core->Release(/*discardQueued=*/true);
      throw Napi::Error::New(env, error.empty() ? "cannot open the " + backend + " device" : error);
    }

    // ksim's host-loop mode: this thread's loop runs the simulated network while the device
    // is open (KsimHostLoopAttach fails in the other modes, and the TSFN alone is used).
    KSIM_HOST_LOOP* attachment = nullptr;
    if (backend == "sim") attachment = HostLoopAttach(env, core.get());

    OpenToken token{std::move(device), core, attachment};
    Napi::External<OpenToken> external = Napi::External<OpenToken>::New(env, &token);
    InstanceData* instance = env.GetInstanceData<InstanceData>();
    try {
      return instance->deviceConstructor.New({external});
    } catch (...) {
      // The constructor did not take the device (it only throws before taking it).
      HostLoopDetach(env, token.hostLoopAttachment);
      if (token.device) token.device->Close();
      core->Release(/*discardQueued=*/true);
      throw;
    }
  }

  void Ioctl(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!device_) {
      throw Napi::Error::New(env, "device is closed");
    }
    if (info.Length() < 4) {
      throw Napi::TypeError::New(env, "ioctl(code, input, outputLength | outputBuffer, callback, weak?): too few arguments");
    }
    const uint32_t code = ToUint32(env, info[0], "code");
    const uint8_t* input = nullptr;
    uint32_t inputLength = 0;
    if (!info[1].IsNull() && !info[1].IsUndefined()) {
      if (!info[1].IsTypedArray() || info[1].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
        throw Napi::TypeError::New(env, "ioctl: input must be a Uint8Array or null");
      }
      auto bytes = info[1].As<Napi::Uint8Array>();
      if (bytes.ByteLength() > UINT32_MAX) {
        throw Napi::RangeError::New(env, "ioctl: input is longer than 4 GiB - 1 bytes");
      }
      input = bytes.Data();
      inputLength = static_cast<uint32_t>(bytes.ByteLength());
    }
    // A number: the backend allocates the output and the callback gets it as a new Buffer. A
    // Uint8Array: the output is written into it (DeviceIoControl's own output buffer; for a
    // METHOD_OUT_DIRECT code the driver writes there directly), and the callback gets it back.
    uint8_t* outputBuffer = nullptr;
    uint32_t outputLength = 0;
    const bool intoBuffer = info[2].IsTypedArray();
    if (intoBuffer) {
      if (info[2].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
        throw Napi::TypeError::New(env, "ioctl: an output buffer must be a Uint8Array");
      }
      auto bytes = info[2].As<Napi::Uint8Array>();
      if (bytes.ByteLength() > UINT32_MAX) {
        throw Napi::RangeError::New(env, "ioctl: output buffer is longer than 4 GiB - 1 bytes");
      }
      outputBuffer = bytes.Data();
      outputLength = static_cast<uint32_t>(bytes.ByteLength());
    } else {
      outputLength = ToUint32(env, info[2], "outputLength");
    }
    if (!info[3].IsFunction()) {
      throw Napi::TypeError::New(env, "ioctl: callback must be a function");
    }
    bool weak = false;
    if (info.Length() > 4 && !info[4].IsUndefined()) {
      if (!info[4].IsBoolean()) {
        throw Napi::TypeError::New(env, "ioctl: weak must be a boolean");
      }
      weak = info[4].As<Napi::Boolean>().Value();
    }

    const uint64_t cookie = nextCookie_++;
    pending_.emplace(cookie, PendingRequest{Napi::Persistent(info[3].As<Napi::Function>()), weak,
                                            intoBuffer ? Napi::Persistent(info[2].As<Napi::Object>())
                                                       : Napi::ObjectReference()});
    if (!selfReferenced_) {
      // Pending callbacks need this object alive to reach them: no collection until they ran.
      Ref();
      selfReferenced_ = true;
    }
    if (!weak) ++strongPending_;
    UpdateRef(env);
    // Any completion, even an inline one, only reaches the callback through the TSFN, so the
    // callback is never called before ioctl() returns.
    try {
      if (intoBuffer) {
        device_->IoctlInto(code, input, inputLength, outputBuffer, outputLength, cookie);
      } else {
        device_->Ioctl(code, input, inputLength, outputLength, cookie);
      }
    } catch (const std::exception& error) {
      // Only allocation can fail before the request reaches the driver; then it never will, so
      // it must not stay pending (a strong one would keep the process alive forever).
      pending_.erase(cookie);
      if (!weak) --strongPending_;
      UpdateRef(env);
      throw Napi::Error::New(env, std::string("ioctl: the request was not issued: ") + error.what());
    }
  }

  void CancelAll(const Napi::CallbackInfo& info) {
    if (!device_) {
      throw Napi::Error::New(info.Env(), "device is closed");
    }
    device_->CancelAll();
  }

  void Close(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!device_) return;  // idempotent
    CloseDevice(env);
    if (pending_.empty()) {
      core_->Release(/*discardQueued=*/false);
    } else {
      // Every pending request has completed into the queue by now (Device::Close blocks until
      // then); keep the loop alive just long enough to deliver them, weak ones included.
      UpdateRef(env);
    }
  }

  void JsRef(const Napi::CallbackInfo& info) {
    ++userRefs_;
    UpdateRef(info.Env());
  }

  void JsUnref(const Napi::CallbackInfo& info) {
    --userRefs_;
    UpdateRef(info.Env());
  }

  Napi::Value GetBackend(const Napi::CallbackInfo& info) { return Napi::String::New(info.Env(), backend_); }

  Napi::Value GetPending(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), static_cast<double>(pending_.size()));
  }

  static uint32_t ToUint32(Napi::Env env, const Napi::Value& value, const char* name) {
    if (!value.IsNumber()) {
      throw Napi::TypeError::New(env, std::string("ioctl: ") + name + " must be a number");
    }
    const double number = value.As<Napi::Number>().DoubleValue();
    if (!(number >= 0 && number <= 4294967295.0) || number != static_cast<double>(static_cast<uint64_t>(number))) {
      throw Napi::RangeError::New(env, std::string("ioctl: ") + name + " must be an integer in [0, 2^32 - 1]");
    }
    return static_cast<uint32_t>(number);
  }

  void CloseDevice(napi_env env) {
    if (!device_) return;
    // The loop stops watching ksim before the session goes (the last one stops the network).
    HostLoopDetach(env, hostLoopAttachment_);
    hostLoopAttachment_ = nullptr;
    // Blocks until every outstanding completion has been pushed into core_->queue.
    device_->Close();
    device_.reset();
    InstanceData* instance = Napi::Env(env).GetInstanceData<InstanceData>();
    if (instance != nullptr) instance->openDevices.erase(this);
  }

  void Shutdown(napi_env env, bool discard) {
    CloseDevice(env);
    core_->Release(discard);
  }

  void UpdateRef(napi_env env) {
    const bool draining = !device_ && !pending_.empty();
    core_->SetRef(env, strongPending_ > 0 || userRefs_ > 0 || draining);
  }

  // JavaScript thread: deliver everything completed so far.
  void Deliver(Napi::Env env, std::vector<wskb::Completion>& batch) {
    for (wskb::Completion& completion : batch) {
      auto found = pending_.find(completion.cookie);
      if (found == pending_.end()) {
        // A backend completed a request twice or invented a cookie: a backend bug, loudly.
        std::fprintf(stderr, "wskbridge: completion for unknown request %" PRIu64 " ignored\n", completion.cookie);
        continue;
      }
      Napi::FunctionReference callback = std::move(found->second.callback);
      Napi::ObjectReference callerOutput = std::move(found->second.output);
      if (!found->second.weak) --strongPending_;
      pending_.erase(found);

      Napi::Value output;
      if (!callerOutput.IsEmpty()) {
        output = callerOutput.Value();  // written in place; information says how much
      } else if (completion.output.empty()) {
        output = Napi::Buffer<uint8_t>::New(env, 0);
      } else {
        // The Buffer takes the vector's storage: no copy on the way to JavaScript. V8 is told
        // how much memory the Buffer holds outside its heap, so that a stream of event batches
        // makes it collect them as soon as they are garbage, not when its own heap fills up.
        auto* bytes = new std::vector<uint8_t>(std::move(completion.output));
        const int64_t external = static_cast<int64_t>(bytes->capacity());
        Napi::MemoryManagement::AdjustExternalMemory(env, external);
        output = Napi::Buffer<uint8_t>::NewOrCopy(env, bytes->data(), bytes->size(), [bytes, external](Napi::Env finalizeEnv, uint8_t*) {
          Napi::MemoryManagement::AdjustExternalMemory(finalizeEnv, -external);
          delete bytes;
        });
      }
      try {
        callback.Call({Napi::Number::New(env, completion.status),
                       Napi::Number::New(env, static_cast<double>(completion.information)), output});
      } catch (const Napi::Error& error) {
        Napi::Value thrown = error.Value();
        if (thrown.IsEmpty() || thrown.IsUndefined()) {
          return;  // nothing was thrown by JavaScript: the environment can no longer run it
        }
        // Like an exception thrown from any other I/O callback: 'uncaughtException'. The other
        // completions of the batch are still delivered if the process survives it.
        napi_fatal_exception(env, thrown);
      }
    }
    UpdateRef(env);
    // A callback may have issued new requests, or closed the device, while the batch ran.
    if (pending_.empty()) {
      if (!device_) {
        core_->Release(/*discardQueued=*/false);
      }
      if (selfReferenced_) {
        selfReferenced_ = false;
        Unref();  // may let this object be collected once we return
      }
    }
  }

  static void CallJs(napi_env env, napi_value, void* context, void*) {
    // env is NULL when Node empties the queue of a TSFN being finalized; the context may
    // already be gone then, so it must not be touched.
    if (env == nullptr) return;
    DeliverQueued(env, static_cast<DeviceCore*>(context));
  }

 public:
  // JavaScript thread: delivers what the core's queue holds (the TSFN's call, or HostLoopRun).
  static void DeliverQueued(napi_env env, DeviceCore* core) {
    std::vector<wskb::Completion> batch;
    {
      std::lock_guard<std::mutex> lock(core->mutex);
      batch.swap(core->queue);
    }
    if (core->owner == nullptr || batch.empty()) return;
    try {
      Napi::HandleScope scope(env);
      core->owner->Deliver(Napi::Env(env), batch);
    } catch (...) {
      // Only reachable when JavaScript can no longer run (a terminating worker) or memory ran
      // out: nobody is left to deliver to, and no C++ exception may cross into Node.
    }
  }

 private:
  static void FinalizeTsfn(napi_env, void* data, void*) {
    auto* reference = static_cast<std::shared_ptr<DeviceCore>*>(data);
    {
      std::lock_guard<std::mutex> lock((*reference)->mutex);
      (*reference)->callable = false;
    }
    (*reference)->tsfnFinalized = true;
    delete reference;
  }

  std::unique_ptr<wskb::Device> device_;
  std::shared_ptr<DeviceCore> core_;
  std::string backend_;
  std::unordered_map<uint64_t, PendingRequest> pending_;
  uint64_t nextCookie_ = 1;
  uint64_t strongPending_ = 0;
  int64_t userRefs_ = 0;
  bool selfReferenced_ = false;
  KSIM_HOST_LOOP* hostLoopAttachment_ = nullptr;
};

// ---- ksim's host-loop mode ------------------------------------------------------------------

void HostLoopCollect(HostLoop* loop, DeviceCore* core) {
  if (core->readyListed) return;
  core->readyListed = true;
  loop->ready.push_back(core->shared_from_this());
}

// The loop's turn: ksim's ready network work on this thread, then the completions it made here,
// inside one callback scope per round so that the microtasks they resolve (and the requests
// those issue, whose queued work runs before ioctl() returns) run before the next round.
void HostLoopRun(HostLoop* loop) {
  napi_env env = loop->env;
  Napi::HandleScope scope(env);
  napi_value resource;
  if (napi_get_reference_value(env, loop->resource, &resource) != napi_ok) return;
  loop->running = true;
  // ksim's turns run again only when it said work was left; the requests issued by the
  // callbacks ran their own queued work before their ioctl() returned.
  bool more = true;
  for (int round = 0; round < 8; ++round) {
    if (more) more = KsimHostLoopRun() != 0;
    if (loop->ready.empty()) {
      if (!more) break;
      continue;
    }
    napi_callback_scope callbackScope = nullptr;
    if (napi_open_callback_scope(env, resource, loop->asyncContext, &callbackScope) != napi_ok) break;
    std::vector<std::shared_ptr<DeviceCore>> ready;
    ready.swap(loop->ready);
    for (auto& core : ready) {
      core->readyListed = false;
      DeviceWrap::DeliverQueued(env, core.get());
    }
    napi_close_callback_scope(env, callbackScope);
  }
  loop->running = false;
  // Completions collected by the last round's microtasks: the TSFN path delivers them.
  std::vector<std::shared_ptr<DeviceCore>> left;
  left.swap(loop->ready);
  for (auto& core : left) {
    core->readyListed = false;
    std::lock_guard<std::mutex> lock(core->mutex);
    if (!core->queue.empty() && core->callable) {
      napi_call_threadsafe_function(core->tsfn, nullptr, napi_tsfn_nonblocking);
    }
  }
}

void HostLoopNotifyJs(napi_env env, napi_value, void* context, void*) {
  if (env == nullptr) return;
  HostLoopRun(static_cast<HostLoop*>(context));
}

void HostLoopNotify(void* context) {
  // ksim's watchdog thread, under its lock: never blocks.
  napi_call_threadsafe_function(static_cast<HostLoop*>(context)->notify, nullptr, napi_tsfn_nonblocking);
}

#ifndef _WIN32
void HostLoopOnPoll(uv_poll_t* handle, int status, int) {
  auto* loop = static_cast<HostLoop*>(handle->data);
  if (status < 0) {
    // The descriptor failed (it never should while a session is open): stop rather than spin;
    // ksim's watchdog keeps the network running.
    std::fprintf(stderr, "wskbridge: polling ksim's network failed (%s); the watchdog runs it\n", uv_strerror(status));
    uv_poll_stop(handle);
    return;
  }
  HostLoopRun(loop);
}

void HostLoopOnClosed(uv_handle_t* handle) {
  auto* loop = static_cast<HostLoop*>(handle->data);
  delete reinterpret_cast<uv_poll_t*>(handle);
  if (--loop->closing == 0 && loop->tearingDown && loop->cleanupHook != nullptr) {
    napi_remove_async_cleanup_hook(loop->cleanupHook);
    loop->cleanupHook = nullptr;
  }
}

void HostLoopClosePoll(HostLoop* loop) {
  if (loop->poll == nullptr) return;
  uv_poll_stop(loop->poll);
  ++loop->closing;
  uv_close(reinterpret_cast<uv_handle_t*>(loop->poll), HostLoopOnClosed);
  loop->poll = nullptr;
}

// Environment teardown: the poll handle must be closed before the loop is.
void HostLoopAsyncCleanup(napi_async_cleanup_hook_handle handle, void* data) {
  auto* loop = static_cast<HostLoop*>(data);
  loop->tearingDown = true;
  HostLoopClosePoll(loop);
  if (loop->closing == 0) {
    napi_remove_async_cleanup_hook(handle);
    loop->cleanupHook = nullptr;
  }
}
#endif

// Once per environment, on the first attach.
bool HostLoopInitialize(napi_env env, HostLoop* loop) {
  if (loop->env != nullptr) return true;
  napi_value resource, name;
  if (napi_create_object(env, &resource) != napi_ok ||
      napi_create_string_utf8(env, "wskbridge.HostLoop", NAPI_AUTO_LENGTH, &name) != napi_ok ||
      napi_create_reference(env, resource, 1, &loop->resource) != napi_ok) {
    return false;
  }
  if (napi_async_init(env, resource, name, &loop->asyncContext) != napi_ok) return false;
#ifndef _WIN32
  if (napi_add_async_cleanup_hook(env, HostLoopAsyncCleanup, loop, &loop->cleanupHook) != napi_ok) return false;
#endif
  loop->env = env;
  return true;
}

KSIM_HOST_LOOP* HostLoopAttach(napi_env env, DeviceCore* core) {
  InstanceData* instance = Napi::Env(env).GetInstanceData<InstanceData>();
  HostLoop* loop = &instance->hostLoop;
  KSIM_HOST_LOOP* attachment = nullptr;
  int64_t descriptor = -1;
  if (!HostLoopInitialize(env, loop)) return nullptr;
  if (KsimHostLoopAttach(HostLoopNotify, loop, &attachment, &descriptor) < 0) return nullptr;
#ifndef _WIN32
  if (descriptor >= 0 && loop->poll == nullptr) {
    uv_loop_t* uvLoop = nullptr;
    auto* poll = new uv_poll_t();
    if (napi_get_uv_event_loop(env, &uvLoop) != napi_ok ||
        uv_poll_init(uvLoop, poll, static_cast<int>(descriptor)) != 0) {
      delete poll;
      KsimHostLoopDetach(attachment);
      return nullptr;
    }
    poll->data = loop;
    uv_poll_start(poll, UV_READABLE, HostLoopOnPoll);
    // Never keeps the process alive: pending strong requests do that, through the TSFN's ref.
    uv_unref(reinterpret_cast<uv_handle_t*>(poll));
    loop->poll = poll;
  }
#endif
  if (descriptor < 0 && loop->notify == nullptr) {
    napi_value name;
    if (napi_create_string_utf8(env, "wskbridge.HostLoop", NAPI_AUTO_LENGTH, &name) != napi_ok ||
        napi_create_threadsafe_function(env, nullptr, nullptr, name, 0, 1, nullptr, nullptr, loop, HostLoopNotifyJs,
                                        &loop->notify) != napi_ok) {
      loop->notify = nullptr;
      KsimHostLoopDetach(attachment);
      return nullptr;
    }
    napi_unref_threadsafe_function(env, loop->notify);
  }
  ++loop->users;
  core->jsThread = std::this_thread::get_id();
  core->hostLoop = loop;
  return attachment;
}

void HostLoopDetach(napi_env env, KSIM_HOST_LOOP* attachment) {
  if (attachment == nullptr) return;
  KsimHostLoopDetach(attachment);
  InstanceData* instance = Napi::Env(env).GetInstanceData<InstanceData>();
  if (instance == nullptr) return;
  HostLoop* loop = &instance->hostLoop;
  if (--loop->users > 0) return;
#ifndef _WIN32
  // ksim may close the descriptor once this session goes: stop watching it first.
  HostLoopClosePoll(loop);
#endif
}

// ---- protocolConstants() --------------------------------------------------------------------

Napi::Value ProtocolConstants(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object result = Napi::Object::New(env);
  auto set = [&](const char* name, double value) { result.Set(name, Napi::Number::New(env, value)); };

#define WSKB_CONSTANT(name) set(#name, static_cast<double>(name))
#define WSKB_SIZE(type) set("sizeof." #type, static_cast<double>(sizeof(type)))
#define WSKB_FIELD(type, field)                                                  \
  set("offsetof." #type "." #field, static_cast<double>(offsetof(type, field))); \
  set("sizeof." #type "." #field, static_cast<double>(sizeof(static_cast<type*>(nullptr)->field)))

  WSKB_CONSTANT(WSKB_MAGIC);
  WSKB_CONSTANT(WSKB_PROTOCOL_VERSION);
  WSKB_CONSTANT(WSKB_DEVICE_TYPE);

  WSKB_CONSTANT(WSKB_IOCTL_HELLO);
  WSKB_CONSTANT(WSKB_IOCTL_CONTROL_CLIENT);
  WSKB_CONSTANT(WSKB_IOCTL_SOCKET_CREATE);
  WSKB_CONSTANT(WSKB_IOCTL_BIND);
  WSKB_CONSTANT(WSKB_IOCTL_CONNECT);
  WSKB_CONSTANT(WSKB_IOCTL_ACCEPT);
  WSKB_CONSTANT(WSKB_IOCTL_SEND);
  WSKB_CONSTANT(WSKB_IOCTL_RECEIVE);
  WSKB_CONSTANT(WSKB_IOCTL_SEND_TO);
  WSKB_CONSTANT(WSKB_IOCTL_RECEIVE_FROM);
  WSKB_CONSTANT(WSKB_IOCTL_DISCONNECT);
  WSKB_CONSTANT(WSKB_IOCTL_GET_ADDRESS);
  WSKB_CONSTANT(WSKB_IOCTL_CONTROL_SOCKET);
  WSKB_CONSTANT(WSKB_IOCTL_CLOSE);
  WSKB_CONSTANT(WSKB_IOCTL_READ_EVENTS);
  WSKB_CONSTANT(WSKB_IOCTL_INSPECT_COMPLETE);
  WSKB_CONSTANT(WSKB_IOCTL_STATS);
  WSKB_CONSTANT(WSKB_IOCTL_SOCKET_FLOW);
  WSKB_CONSTANT(WSKB_IOCTL_SOCKET_CONNECT);

  WSKB_CONSTANT(WSKB_MAX_IO_BYTES);
  WSKB_CONSTANT(WSKB_MAX_CONTROL_BYTES);
  WSKB_CONSTANT(WSKB_EVENT_BUDGET_DEFAULT);
  WSKB_CONSTANT(WSKB_EVENT_BUDGET_MIN);
  WSKB_CONSTANT(WSKB_EVENT_BUDGET_MAX);
  WSKB_CONSTANT(WSKB_READ_EVENTS_MIN_OUTPUT);
  WSKB_CONSTANT(WSKB_READ_EVENTS_BATCH_MAX);
  WSKB_CONSTANT(WSKB_DRIVER_POOL_BUDGET);
  WSKB_CONSTANT(WSKB_CONTROL_FLAG_USE_IRP);
  WSKB_CONSTANT(WSKB_CONTROL_FLAGS_VALID);
  WSKB_CONSTANT(WSKB_SOCKET_OPTION_NO_DISPATCH);
  WSKB_CONSTANT(WSKB_SOCKET_OPTIONS_VALID);
  WSKB_CONSTANT(WSKB_ADDRESS_LOCAL);
  WSKB_CONSTANT(WSKB_ADDRESS_REMOTE);

  WSKB_CONSTANT(WSKB_EVENT_RECEIVE);
  WSKB_CONSTANT(WSKB_EVENT_RECEIVE_CLOSED);
  WSKB_CONSTANT(WSKB_EVENT_DISCONNECT);
  WSKB_CONSTANT(WSKB_EVENT_SEND_BACKLOG);
  WSKB_CONSTANT(WSKB_EVENT_ACCEPT);
  WSKB_CONSTANT(WSKB_EVENT_INSPECT);
  WSKB_CONSTANT(WSKB_EVENT_ABORT);
  WSKB_CONSTANT(WSKB_EVENT_RECEIVE_FROM);
  WSKB_CONSTANT(WSKB_EVENT_FLOW_PAUSED);
  WSKB_CONSTANT(WSKB_EVENT_FLOW_RESUMED);
  WSKB_CONSTANT(WSKB_EVENT_DATAGRAMS_DROPPED);
  WSKB_CONSTANT(WSKB_EVENT_ACCEPTS_REFUSED);
  WSKB_CONSTANT(WSKB_EVENT_SOCKET_CLOSED);
  WSKB_CONSTANT(WSKB_EVENT_SOCKET_PAUSED);
  WSKB_CONSTANT(WSKB_EVENT_SOCKET_RESUMED);
  WSKB_CONSTANT(WSKB_EVENT_PAD);

  WSKB_SIZE(WSKB_SOCKADDR);
  WSKB_FIELD(WSKB_SOCKADDR, Family);
  WSKB_FIELD(WSKB_SOCKADDR, Port);
  WSKB_FIELD(WSKB_SOCKADDR, FlowInfo);
  WSKB_FIELD(WSKB_SOCKADDR, Address);
  WSKB_FIELD(WSKB_SOCKADDR, ScopeId);
  WSKB_FIELD(WSKB_SOCKADDR, Reserved);

  WSKB_SIZE(WSKB_HELLO_IN);
  WSKB_FIELD(WSKB_HELLO_IN, Magic);
  WSKB_FIELD(WSKB_HELLO_IN, ClientVersion);
  WSKB_FIELD(WSKB_HELLO_IN, EventBudgetBytes);
  WSKB_FIELD(WSKB_HELLO_IN, Reserved);

  WSKB_SIZE(WSKB_HELLO_OUT);
  WSKB_FIELD(WSKB_HELLO_OUT, Magic);
  WSKB_FIELD(WSKB_HELLO_OUT, DriverVersion);
  WSKB_FIELD(WSKB_HELLO_OUT, EventBudgetBytes);
  WSKB_FIELD(WSKB_HELLO_OUT, MaxIoBytes);
  WSKB_FIELD(WSKB_HELLO_OUT, WskHighestVersion);
  WSKB_FIELD(WSKB_HELLO_OUT, WskLowestVersion);
  WSKB_FIELD(WSKB_HELLO_OUT, Reserved);

  WSKB_SIZE(WSKB_CONTROL_CLIENT_IN);
  WSKB_FIELD(WSKB_CONTROL_CLIENT_IN, ControlCode);
  WSKB_FIELD(WSKB_CONTROL_CLIENT_IN, InputLength);
  WSKB_FIELD(WSKB_CONTROL_CLIENT_IN, OutputLength);
  WSKB_FIELD(WSKB_CONTROL_CLIENT_IN, Flags);

  WSKB_SIZE(WSKB_CONTROL_SOCKET_IN);
  WSKB_FIELD(WSKB_CONTROL_SOCKET_IN, SocketId);
  WSKB_FIELD(WSKB_CONTROL_SOCKET_IN, RequestType);
  WSKB_FIELD(WSKB_CONTROL_SOCKET_IN, ControlCode);
  WSKB_FIELD(WSKB_CONTROL_SOCKET_IN, Level);
  WSKB_FIELD(WSKB_CONTROL_SOCKET_IN, InputLength);
  WSKB_FIELD(WSKB_CONTROL_SOCKET_IN, OutputLength);
  WSKB_FIELD(WSKB_CONTROL_SOCKET_IN, Flags);

  WSKB_SIZE(WSKB_CONTROL_OUT);
  WSKB_FIELD(WSKB_CONTROL_OUT, CallStatus);
  WSKB_FIELD(WSKB_CONTROL_OUT, IrpStatus);
  WSKB_FIELD(WSKB_CONTROL_OUT, OutputSizeReturned);

  WSKB_SIZE(WSKB_SOCKET_CREATE_IN);
  WSKB_FIELD(WSKB_SOCKET_CREATE_IN, Family);
  WSKB_FIELD(WSKB_SOCKET_CREATE_IN, SocketType);
  WSKB_FIELD(WSKB_SOCKET_CREATE_IN, Protocol);
  WSKB_FIELD(WSKB_SOCKET_CREATE_IN, WskFlags);
  WSKB_FIELD(WSKB_SOCKET_CREATE_IN, Options);

  WSKB_SIZE(WSKB_SOCKET_CONNECT_IN);
  WSKB_FIELD(WSKB_SOCKET_CONNECT_IN, SocketType);
  WSKB_FIELD(WSKB_SOCKET_CONNECT_IN, Reserved);
  WSKB_FIELD(WSKB_SOCKET_CONNECT_IN, Protocol);
  WSKB_FIELD(WSKB_SOCKET_CONNECT_IN, Options);
  WSKB_FIELD(WSKB_SOCKET_CONNECT_IN, Reserved2);
  WSKB_FIELD(WSKB_SOCKET_CONNECT_IN, LocalAddress);
  WSKB_FIELD(WSKB_SOCKET_CONNECT_IN, RemoteAddress);

  WSKB_SIZE(WSKB_SOCKET_ID);
  WSKB_FIELD(WSKB_SOCKET_ID, SocketId);

  WSKB_SIZE(WSKB_ADDRESS_IN);
  WSKB_FIELD(WSKB_ADDRESS_IN, SocketId);
  WSKB_FIELD(WSKB_ADDRESS_IN, Address);
  WSKB_FIELD(WSKB_ADDRESS_IN, Flags);
  WSKB_FIELD(WSKB_ADDRESS_IN, Reserved);

  WSKB_SIZE(WSKB_ACCEPT_IN);
  WSKB_FIELD(WSKB_ACCEPT_IN, SocketId);
  WSKB_FIELD(WSKB_ACCEPT_IN, Flags);
  WSKB_FIELD(WSKB_ACCEPT_IN, Reserved);

  WSKB_SIZE(WSKB_ACCEPT_OUT);
  WSKB_FIELD(WSKB_ACCEPT_OUT, AcceptedSocketId);
  WSKB_FIELD(WSKB_ACCEPT_OUT, LocalAddress);
  WSKB_FIELD(WSKB_ACCEPT_OUT, RemoteAddress);

  WSKB_SIZE(WSKB_DATA_IN);
  WSKB_FIELD(WSKB_DATA_IN, SocketId);
  WSKB_FIELD(WSKB_DATA_IN, Flags);
  WSKB_FIELD(WSKB_DATA_IN, Length);

  WSKB_SIZE(WSKB_TRANSFER_OUT);
  WSKB_FIELD(WSKB_TRANSFER_OUT, BytesTransferred);

  WSKB_SIZE(WSKB_SEND_TO_IN);
  WSKB_FIELD(WSKB_SEND_TO_IN, SocketId);
  WSKB_FIELD(WSKB_SEND_TO_IN, RemoteAddress);
  WSKB_FIELD(WSKB_SEND_TO_IN, Flags);
  WSKB_FIELD(WSKB_SEND_TO_IN, Length);

  WSKB_SIZE(WSKB_RECEIVE_FROM_OUT);
  WSKB_FIELD(WSKB_RECEIVE_FROM_OUT, RemoteAddress);
  WSKB_FIELD(WSKB_RECEIVE_FROM_OUT, ControlFlags);
  WSKB_FIELD(WSKB_RECEIVE_FROM_OUT, Length);

  WSKB_SIZE(WSKB_GET_ADDRESS_IN);
  WSKB_FIELD(WSKB_GET_ADDRESS_IN, SocketId);
  WSKB_FIELD(WSKB_GET_ADDRESS_IN, Which);
  WSKB_FIELD(WSKB_GET_ADDRESS_IN, Reserved);

  WSKB_SIZE(WSKB_INSPECT_COMPLETE_IN);
  WSKB_FIELD(WSKB_INSPECT_COMPLETE_IN, SocketId);
  WSKB_FIELD(WSKB_INSPECT_COMPLETE_IN, InspectToken);
  WSKB_FIELD(WSKB_INSPECT_COMPLETE_IN, Action);
  WSKB_FIELD(WSKB_INSPECT_COMPLETE_IN, Reserved);

  WSKB_SIZE(WSKB_SOCKET_FLOW_IN);
  WSKB_FIELD(WSKB_SOCKET_FLOW_IN, SocketId);
  WSKB_FIELD(WSKB_SOCKET_FLOW_IN, Pause);
  WSKB_FIELD(WSKB_SOCKET_FLOW_IN, Reserved);

  WSKB_SIZE(WSKB_STATS_OUT);
  WSKB_FIELD(WSKB_STATS_OUT, EventsQueued);
  WSKB_FIELD(WSKB_STATS_OUT, EventsDelivered);
  WSKB_FIELD(WSKB_STATS_OUT, EventBytesQueued);
  WSKB_FIELD(WSKB_STATS_OUT, EventBytesHighWater);
  WSKB_FIELD(WSKB_STATS_OUT, DatagramsDropped);
  WSKB_FIELD(WSKB_STATS_OUT, AcceptsRefused);
  WSKB_FIELD(WSKB_STATS_OUT, InspectsRejected);
  WSKB_FIELD(WSKB_STATS_OUT, ReceivePauses);
  WSKB_FIELD(WSKB_STATS_OUT, ReceiveResumes);
  WSKB_FIELD(WSKB_STATS_OUT, ReadEventsCompleted);
  WSKB_FIELD(WSKB_STATS_OUT, SocketsOpen);
  WSKB_FIELD(WSKB_STATS_OUT, EventBudgetBytes);
  WSKB_FIELD(WSKB_STATS_OUT, EventsWrittenDirect);

  WSKB_SIZE(WSKB_EVENT_HEADER);
  WSKB_FIELD(WSKB_EVENT_HEADER, Size);
  WSKB_FIELD(WSKB_EVENT_HEADER, Type);
  WSKB_FIELD(WSKB_EVENT_HEADER, Sequence);
  WSKB_FIELD(WSKB_EVENT_HEADER, Timestamp);
  WSKB_FIELD(WSKB_EVENT_HEADER, SocketId);
  WSKB_FIELD(WSKB_EVENT_HEADER, WskFlags);
  WSKB_FIELD(WSKB_EVENT_HEADER, DataLength);
  WSKB_FIELD(WSKB_EVENT_HEADER, Param);

  WSKB_SIZE(WSKB_ADDRESS_PAIR);
  WSKB_FIELD(WSKB_ADDRESS_PAIR, LocalAddress);
  WSKB_FIELD(WSKB_ADDRESS_PAIR, RemoteAddress);

  WSKB_SIZE(WSKB_INSPECT_BODY);
  WSKB_FIELD(WSKB_INSPECT_BODY, LocalAddress);
  WSKB_FIELD(WSKB_INSPECT_BODY, RemoteAddress);
  WSKB_FIELD(WSKB_INSPECT_BODY, Reserved0);
  WSKB_FIELD(WSKB_INSPECT_BODY, InspectSerialNumber);
  WSKB_FIELD(WSKB_INSPECT_BODY, Reserved);

#undef WSKB_FIELD
#undef WSKB_SIZE
#undef WSKB_CONSTANT
  return result;
}

// ---- ntstatusNames() ------------------------------------------------------------------------

Napi::Value NtStatusNames(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint32_t count = 0;
  const KSIM_NAMED_STATUS* names = KsimNtStatusNames(&count);
  Napi::Array result = Napi::Array::New(env, count);
  for (uint32_t i = 0; i < count; ++i) {
    Napi::Array pair = Napi::Array::New(env, 2);
    pair.Set(0u, Napi::String::New(env, names[i].Name));
    pair.Set(1u, Napi::Number::New(env, names[i].Value));
    result.Set(i, pair);
  }
  return result;
}

// ---- ksim: the verifier's knobs, for tests ----------------------------------------------------

Napi::Value KsimLoad(const Napi::CallbackInfo& info) {
  const int32_t status = KsimDriverLoad();
  if (status >= 0) {
    ++info.Env().GetInstanceData<InstanceData>()->ksimLoads;
  }
  return Napi::Number::New(info.Env(), status);
}

void KsimUnload(const Napi::CallbackInfo& info) {
  InstanceData* instance = info.Env().GetInstanceData<InstanceData>();
  // An unbalanced unload would unload the driver under an open device.
  if (instance->ksimLoads == 0) {
    throw Napi::Error::New(info.Env(), "ksim.unload() without a successful ksim.load() to balance");
  }
  --instance->ksimLoads;
  KsimDriverUnload();
}

Napi::Value KsimCountersJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  KSIM_COUNTERS counters;
  std::memset(&counters, 0, sizeof(counters));
  KsimGetCounters(&counters);
  Napi::Object result = Napi::Object::New(env);
  auto set = [&](const char* name, uint64_t value) {
    result.Set(name, Napi::Number::New(env, static_cast<double>(value)));
  };
  set("poolAllocations", counters.PoolAllocations);
  set("poolBytes", counters.PoolBytes);
  set("poolAllocationsTotal", counters.PoolAllocationsTotal);
  set("irps", counters.Irps);
  set("mdls", counters.Mdls);
  set("hostSockets", counters.HostSockets);
  set("wskSockets", counters.WskSockets);
  set("verifierFailures", counters.VerifierFailures);
  set("hostDatagramsDropped", counters.HostDatagramsDropped);
  return result;
}

Napi::Value KsimPoolByTag(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsString()) {
    throw Napi::TypeError::New(env, "ksim.poolByTag(tag): tag must be a string of 4 ASCII characters");
  }
  const std::string tag = info[0].As<Napi::String>();
  if (tag.size() != 4) {
    throw Napi::RangeError::New(env, "ksim.poolByTag(tag): tag must be exactly 4 ASCII characters, got '" + tag + "'");
  }
  uint32_t value = 0;
  for (unsigned char c : tag) {
    if (c < 0x20 || c > 0x7E) {
      throw Napi::RangeError::New(env, "ksim.poolByTag(tag): tag must be printable ASCII");
    }
    // The value of the multi-character literal 'sBkW' as gcc, clang and MSVC compute it: the
    // first character lands in the highest byte.
    value = (value << 8) | c;
  }
  return Napi::Number::New(env, static_cast<double>(KsimPoolOutstandingByTag(value)));
}

void KsimFailAllocationAfterJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsNumber()) {
    throw Napi::TypeError::New(env, "ksim.failAllocationAfter(n): n must be a number");
  }
  const double n = info[0].As<Napi::Number>().DoubleValue();
  if (!(n >= 0 && n <= 9007199254740991.0) || n != static_cast<double>(static_cast<uint64_t>(n))) {
    throw Napi::RangeError::New(env, "ksim.failAllocationAfter(n): n must be a non-negative integer (0 disables)");
  }
  KsimFailAllocationAfter(static_cast<uint64_t>(n));
}

Napi::Value KsimVerifierLastFailureJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  char message[4096];
  message[0] = '\0';
  const uint64_t count = KsimVerifierLastFailure(message, sizeof(message));
  message[sizeof(message) - 1] = '\0';
  Napi::Object result = Napi::Object::New(env);
  result.Set("count", Napi::Number::New(env, static_cast<double>(count)));
  result.Set("message", Napi::String::New(env, message));
  return result;
}

void KsimSetAbortOnFailureJs(const Napi::CallbackInfo& info) {
  if (info.Length() < 1 || !info[0].IsBoolean()) {
    throw Napi::TypeError::New(info.Env(), "ksim.setAbortOnFailure(on): on must be a boolean");
  }
  KsimVerifierSetAbortOnFailure(info[0].As<Napi::Boolean>().Value() ? 1 : 0);
}

// ksim.scheduler(): the execution model in force; ksim.selectScheduler(mode): KsimSchedulerSelect,
// whose NTSTATUS comes back (STATUS_INVALID_DEVICE_STATE while the driver is loaded).
Napi::Value KsimSchedulerJs(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), KsimSchedulerName());
}

Napi::Value KsimSelectSchedulerJs(const Napi::CallbackInfo& info) {
  if (info.Length() < 1 || !info[0].IsString()) {
    throw Napi::TypeError::New(info.Env(), "ksim.selectScheduler(mode): mode must be a string");
  }
  const std::string mode = info[0].As<Napi::String>();
  return Napi::Number::New(info.Env(), KsimSchedulerSelect(mode.c_str(), 0));
}

// ---- module lifetime --------------------------------------------------------------------------

// Runs when this environment (the main thread or a worker) is torn down, before the napi_env
// itself goes: close what JavaScript left open, without calling back into it.
void CleanupEnvironment(void* arg) {
  auto* context = static_cast<std::pair<napi_env, InstanceData*>*>(arg);
  InstanceData* instance = context->second;
  // CloseForTeardown removes the device from the set, so iterate over a copy.
  std::vector<DeviceWrap*> open(instance->openDevices.begin(), instance->openDevices.end());
  for (DeviceWrap* device : open) {
    device->CloseForTeardown(context->first);
  }
  instance->openDevices.clear();
  if (instance->hostLoop.notify != nullptr) {
    napi_release_threadsafe_function(instance->hostLoop.notify, napi_tsfn_release);
    instance->hostLoop.notify = nullptr;
  }
  for (; instance->ksimLoads > 0; --instance->ksimLoads) {
    KsimDriverUnload();
  }
  delete context;
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  auto* instance = new InstanceData();
  env.SetInstanceData<InstanceData>(instance);
  Napi::Function device = DeviceWrap::DefineClass(env);
  instance->deviceConstructor = Napi::Persistent(device);

  napi_status status = napi_add_env_cleanup_hook(env, CleanupEnvironment,
                                                 new std::pair<napi_env, InstanceData*>(env, instance));
  if (status != napi_ok) {
    throw Napi::Error::New(env, "cannot register the environment cleanup hook");
  }

  // The sim backend's execution model (ksim_sched.h), chosen once per process before the driver
  // first loads: WSKB_KSIM_SCHED=thread|host-loop, else host-loop. An unknown name is an error
  // here rather than a silent fallback; a loaded driver (another environment's sessions) keeps
  // the model it runs with.
  const char* mode = std::getenv("WSKB_KSIM_SCHED");
  if (mode == nullptr || *mode == '\0') mode = "host-loop";
  const int32_t selected = KsimSchedulerSelect(mode, 0);
  if (selected < 0 && selected != static_cast<int32_t>(0xC0000184u) /* STATUS_INVALID_DEVICE_STATE */) {
    throw Napi::Error::New(env, std::string("WSKB_KSIM_SCHED=") + mode +
                                    ": not an execution model of ksim (thread, host-loop)");
  }

  exports.Set("Device", device);
  exports.Set("protocolConstants", Napi::Function::New<ProtocolConstants>(env, "protocolConstants"));
  exports.Set("ntstatusNames", Napi::Function::New<NtStatusNames>(env, "ntstatusNames"));

  Napi::Object ksim = Napi::Object::New(env);
  ksim.Set("load", Napi::Function::New<KsimLoad>(env, "load"));
  ksim.Set("unload", Napi::Function::New<KsimUnload>(env, "unload"));
  ksim.Set("counters", Napi::Function::New<KsimCountersJs>(env, "counters"));
  ksim.Set("poolByTag", Napi::Function::New<KsimPoolByTag>(env, "poolByTag"));
  ksim.Set("failAllocationAfter", Napi::Function::New<KsimFailAllocationAfterJs>(env, "failAllocationAfter"));
  ksim.Set("verifierLastFailure", Napi::Function::New<KsimVerifierLastFailureJs>(env, "verifierLastFailure"));
  ksim.Set("setAbortOnFailure", Napi::Function::New<KsimSetAbortOnFailureJs>(env, "setAbortOnFailure"));
  ksim.Set("memoryNet", wskb::MemoryNetObject(env));
  ksim.Set("scheduler", Napi::Function::New<KsimSchedulerJs>(env, "scheduler"));
  ksim.Set("selectScheduler", Napi::Function::New<KsimSelectSchedulerJs>(env, "selectScheduler"));
  exports.Set("ksim", ksim);
  return exports;
}

}  // namespace

NODE_API_MODULE(wskbridge, Init)

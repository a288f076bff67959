// SPDX-License-Identifier: MIT
//
// The Windows device: the real driver behind \\.\WskBridge, driven with overlapped
// DeviceIoControl. One I/O completion port and one dedicated thread service every request of
// this handle (never the libuv pool, whose four threads a pended READ_EVENTS would starve).
//
// Why NtDeviceIoControlFile and not DeviceIoControl: DeviceIoControl folds the request's
// NTSTATUS into a Win32 error, and when a driver fails a request synchronously the I/O
// manager neither writes the I/O status block nor queues a completion packet, so the only
// place the driver's exact NTSTATUS (STATUS_INVALID_HANDLE vs STATUS_INVALID_PARAMETER, which
// both matter to the conformance suite) survives is the native call's return value. This is
// the documented ntdll entry point that DeviceIoControl itself calls, with the same arguments.
//
// Which completions reach the port (the I/O manager's rule, which the code below relies on
// only through what it can observe): a request that returned STATUS_PENDING always queues a
// packet; a request completed at once queues one exactly when the I/O manager wrote the I/O
// status block (success and warnings such as STATUS_BUFFER_OVERFLOW), and none when it did not
// (synchronous NT_ERROR failures). The issuing thread tells the two apart by whether
// OVERLAPPED.Internal still holds the STATUS_PENDING it stored before the call, and posts a
// packet itself when the kernel did not, so that every completion is delivered by the I/O
// thread and exactly once. FILE_SKIP_COMPLETION_PORT_ON_SUCCESS is not used.

#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#ifndef NOMINMAX
#define NOMINMAX
#endif
#include <windows.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <memory>
#include <mutex>
#include <new>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "device.h"
#include "protocol.h"

namespace wskb {
namespace {

// NTSTATUS values used here (ntstatus.h is not part of every SDK include set).
constexpr int32_t kStatusPending = 0x00000103;
constexpr int32_t kStatusInvalidHandle = static_cast<int32_t>(0xC0000008);
constexpr int32_t kStatusInsufficientResources = static_cast<int32_t>(0xC000009A);
constexpr int32_t kStatusInvalidParameter = static_cast<int32_t>(0xC000000D);

// NT_ERROR: severity 3. Only then does the I/O manager skip copying the buffered output.
inline bool NtError(int32_t status) { return (static_cast<uint32_t>(status) >> 30) == 3; }

// Completion keys: the file's key for packets queued by the kernel, another for the packets
// this file posts itself (synchronous failures), and one that tells the thread to leave.
constexpr ULONG_PTR kKeyIo = 1;
constexpr ULONG_PTR kKeySynthetic = 2;
constexpr ULONG_PTR kKeyQuit = 3;

// The I/O status block the native call writes; OVERLAPPED.Internal/InternalHigh alias it.
struct NativeIoStatusBlock {
  union {
    LONG Status;
    PVOID Pointer;
  };
  ULONG_PTR Information;
};
static_assert(offsetof(OVERLAPPED, Internal) == 0, "OVERLAPPED.Internal aliases IO_STATUS_BLOCK.Status");
static_assert(offsetof(OVERLAPPED, InternalHigh) == sizeof(PVOID), "OVERLAPPED.InternalHigh aliases Information");

using NtDeviceIoControlFileFn = LONG(NTAPI*)(HANDLE FileHandle, HANDLE Event, PVOID ApcRoutine, PVOID ApcContext,
                                            NativeIoStatusBlock* IoStatusBlock, ULONG IoControlCode,
                                            PVOID InputBuffer, ULONG InputBufferLength, PVOID OutputBuffer,
                                            ULONG OutputBufferLength);

NtDeviceIoControlFileFn ResolveNtDeviceIoControlFile() {
  HMODULE ntdll = GetModuleHandleW(L"ntdll.dll");
  if (ntdll == nullptr) return nullptr;
  return reinterpret_cast<NtDeviceIoControlFileFn>(
      reinterpret_cast<void*>(GetProcAddress(ntdll, "NtDeviceIoControlFile")));
}

std::string Win32Message(DWORD code) {
  wchar_t* text = nullptr;
  DWORD length = FormatMessageW(FORMAT_MESSAGE_ALLOCATE_BUFFER | FORMAT_MESSAGE_FROM_SYSTEM |
                                    FORMAT_MESSAGE_IGNORE_INSERTS,
                                nullptr, code, 0, reinterpret_cast<LPWSTR>(&text), 0, nullptr);
  std::string result;
  if (length != 0 && text != nullptr) {
    int bytes = WideCharToMultiByte(CP_UTF8, 0, text, static_cast<int>(length), nullptr, 0, nullptr, nullptr);
    if (bytes > 0) {
      result.resize(static_cast<size_t>(bytes));
      WideCharToMultiByte(CP_UTF8, 0, text, static_cast<int>(length), &result[0], bytes, nullptr, nullptr);
    }
  }
  if (text != nullptr) LocalFree(text);
  while (!result.empty() && (result.back() == '\n' || result.back() == '\r' || result.back() == ' ' ||
                             result.back() == '.'))
    result.pop_back();
  return result.empty() ? std::string("unknown error") : result;
}

std::string Win32Error(const char* what, DWORD code) {
  return std::string(what) + " failed: Win32 error " + std::to_string(code) + ": " + Win32Message(code);
}

// One DeviceIoControl in flight. The kernel writes ov and output until the completion packet
// is dequeued, so the record lives until then. Two references: the issuing thread's (it may
// still read ov.Internal after the call returns, while the I/O thread already holds the
// packet) and the completion's.
struct Operation {
  OVERLAPPED ov;
  uint64_t cookie;
  std::vector<uint8_t> input;
  std::vector<uint8_t> output;
  uint8_t* callerOutput = nullptr;  // IoctlInto: the caller's buffer, written in place
  uint32_t callerOutputLength = 0;
  std::atomic<int> refs{2};
};

void ReleaseOperation(Operation* op) {
  if (op->refs.fetch_sub(1, std::memory_order_acq_rel) == 1) delete op;
}

// Everything the I/O thread touches. Shared with the thread so that a Device destroyed from
// inside the sink (the last reference dropped on the I/O thread) cannot pull it away.
struct Core {
  HANDLE file = INVALID_HANDLE_VALUE;
  HANDLE port = nullptr;
  NtDeviceIoControlFileFn ntDeviceIoControlFile = nullptr;
  CompletionSink sink;

  std::mutex mutex;  // issue vs. close; outstanding
  std::condition_variable drained;
  uint64_t outstanding = 0;
  bool closing = false;
  bool quitRequested = false;  // leave once outstanding reaches 0

  ~Core() {
    if (file != INVALID_HANDLE_VALUE) CloseHandle(file);
    if (port != nullptr) CloseHandle(port);
  }
};

void DeliverOperation(Core& core, Operation* op) {
  Completion completion;
  completion.cookie = op->cookie;
  completion.status = static_cast<int32_t>(static_cast<LONG>(op->ov.Internal));
  completion.information = static_cast<uint64_t>(op->ov.InternalHigh);
  // METHOD_BUFFERED: the I/O manager copied min(Information, OutputLength) bytes back unless
  // the status is an error. Informational and warning statuses (STATUS_EVENT_PENDING,
  // STATUS_BUFFER_OVERFLOW) keep their data.
  if (!NtError(completion.status) && op->callerOutput == nullptr) {
    size_t copied = completion.information < op->output.size() ? static_cast<size_t>(completion.information)
                                                               : op->output.size();
    op->output.resize(copied);
    completion.output = std::move(op->output);
  }
  core.sink(std::move(completion));
}

void RunCompletionThread(std::shared_ptr<Core> core) {
  OVERLAPPED_ENTRY entries[64];
  for (;;) {
    ULONG count = 0;
    if (!GetQueuedCompletionStatusEx(core->port, entries, 64, &count, INFINITE, FALSE)) {
      // Only a closed or broken port gets here; nothing more can be delivered through it.
      std::fprintf(stderr, "wskbridge: %s\n", Win32Error("GetQueuedCompletionStatusEx", GetLastError()).c_str());
      return;
    }
    for (ULONG i = 0; i < count; i++) {
      if (entries[i].lpCompletionKey == kKeyQuit) {
        std::lock_guard<std::mutex> lock(core->mutex);
        core->quitRequested = true;
        continue;
      }
      auto* op = reinterpret_cast<Operation*>(entries[i].lpOverlapped);
      DeliverOperation(*core, op);
      ReleaseOperation(op);
      std::lock_guard<std::mutex> lock(core->mutex);
      if (--core->outstanding == 0) core->drained.notify_all();
    }
    // A quit request waits for the requests still in the kernel: their buffers must stay
    // alive until their packets are dequeued, and their completions still go to the sink.
    std::lock_guard<std::mutex> lock(core->mutex);
    if (core->quitRequested && core->outstanding == 0) return;
  }
}

class WinDevice final : public Device {
 public:
  explicit WinDevice(std::shared_ptr<Core> core) : core_(std::move(core)) {
    thread_ = std::thread(RunCompletionThread, core_);
  }
  ~WinDevice() override { Close(); }

  void Ioctl(uint32_t code, const uint8_t* input, uint32_t inputLength, uint32_t outputLength,
             uint64_t cookie) override {
    Issue(code, input, inputLength, nullptr, outputLength, cookie);
  }

  void IoctlInto(uint32_t code, const uint8_t* input, uint32_t inputLength, uint8_t* output,
                 uint32_t outputLength, uint64_t cookie) override {
    if (output == nullptr && outputLength != 0) {
      Fail(cookie, kStatusInvalidParameter);
      return;
    }
    Issue(code, input, inputLength, output, outputLength, cookie);
  }

  void Issue(uint32_t code, const uint8_t* input, uint32_t inputLength, uint8_t* callerOutput,
             uint32_t outputLength, uint64_t cookie) {
    Operation* op = nullptr;
    try {
      op = new Operation();
      op->input.assign(input, input + (input != nullptr ? inputLength : 0));
      // Into the caller's buffer (IoctlInto): no buffer of ours, and so no zero-filled
      // vector per request; the I/O manager locks (METHOD_OUT_DIRECT) or copies back into it.
      if (callerOutput == nullptr) op->output.resize(outputLength);
      op->callerOutput = callerOutput;
      op->callerOutputLength = callerOutput != nullptr ? outputLength : 0;
    } catch (const std::bad_alloc&) {
      delete op;
      Fail(cookie, kStatusInsufficientResources);
      return;
    }
    op->cookie = cookie;
    std::memset(&op->ov, 0, sizeof(op->ov));
    if (input == nullptr && inputLength != 0) {
      delete op;
      Fail(cookie, kStatusInvalidParameter);
      return;
    }

    // Issued under the lock so that Close cannot cancel and close the handle between the check
    // and the call (a request issued after CancelIoEx would otherwise pend forever). The call
    // itself never blocks: the handle is overlapped.
    std::unique_lock<std::mutex> lock(core_->mutex);
    if (core_->closing) {
      lock.unlock();
      delete op;
      Fail(cookie, kStatusInvalidHandle);
      return;
    }
    core_->outstanding++;
    op->ov.Internal = static_cast<ULONG_PTR>(kStatusPending);
    LONG status = core_->ntDeviceIoControlFile(
        core_->file, nullptr, nullptr, &op->ov, reinterpret_cast<NativeIoStatusBlock*>(&op->ov), code,
        op->input.empty() ? nullptr : op->input.data(), static_cast<ULONG>(op->input.size()),
        op->callerOutput != nullptr ? op->callerOutput : (op->output.empty() ? nullptr : op->output.data()),
        static_cast<ULONG>(op->callerOutput != nullptr ? op->callerOutputLength : op->output.size()));
    lock.unlock();

    if (status != kStatusPending && static_cast<LONG>(op->ov.Internal) == kStatusPending) {
      // Completed at once without touching the status block: no packet was queued. Hand the
      // status to the I/O thread so the sink sees every completion from the same place.
      op->ov.Internal = static_cast<ULONG_PTR>(static_cast<ULONG>(status));
      op->ov.InternalHigh = 0;
      if (!PostQueuedCompletionStatus(core_->port, 0, kKeySynthetic, &op->ov)) {
        // The port is ours and open, so this means the system is out of resources; deliver
        // here rather than lose the completion.
        DeliverOperation(*core_, op);
        ReleaseOperation(op);
        std::lock_guard<std::mutex> relock(core_->mutex);
        if (--core_->outstanding == 0) core_->drained.notify_all();
      }
    }
    ReleaseOperation(op);
  }

  void CancelAll() override {
    std::lock_guard<std::mutex> lock(core_->mutex);
    if (!core_->closing) CancelIoEx(core_->file, nullptr);  // ERROR_NOT_FOUND: nothing pending
  }

  void Close() override {
    HANDLE file;
    {
      // Once closing is set under the lock no Ioctl can be issuing, and none will start.
      std::lock_guard<std::mutex> lock(core_->mutex);
      if (core_->closing) return;
      core_->closing = true;
      file = core_->file;
      core_->file = INVALID_HANDLE_VALUE;
    }
    // CancelIoEx reaches the requests the driver left cancelable; closing the handle then sends
    // IRP_MJ_CLEANUP, on which the driver completes whatever it still holds. The file object,
    // and with it the port association, outlives the handle until the last request completes,
    // so every completion still arrives at the port below. Outside the lock: cleanup runs the
    // driver's EvtFileCleanup in this thread, while the I/O thread must keep draining.
    CancelIoEx(file, nullptr);
    CloseHandle(file);

    if (std::this_thread::get_id() == thread_.get_id()) {
      // Called from the sink (the contract forbids it, but a Device may be destroyed there when
      // the last reference goes). The thread cannot wait for itself: it is told to stop after
      // the remaining completions and left to finish on its own; Core stays alive with it.
      PostQueuedCompletionStatus(core_->port, 0, kKeyQuit, nullptr);
      thread_.detach();
      return;
    }

    {
      std::unique_lock<std::mutex> lock(core_->mutex);
      auto started = std::chrono::steady_clock::now();
      while (core_->outstanding != 0) {
        if (core_->drained.wait_for(lock, std::chrono::seconds(10)) == std::cv_status::timeout) {
          // Freeing the buffers now would let the kernel write into freed memory later, so
          // the only safe thing is to keep waiting; say why the process is stuck.
          auto seconds = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - started);
          std::fprintf(stderr,
                       "wskbridge: closing \\\\.\\WskBridge: still waiting after %llds for %llu request(s) "
                       "the driver has not completed\n",
                       static_cast<long long>(seconds.count()), static_cast<unsigned long long>(core_->outstanding));
        }
      }
    }
    PostQueuedCompletionStatus(core_->port, 0, kKeyQuit, nullptr);
    if (thread_.joinable()) thread_.join();
  }

  const char* Backend() const override { return "kernel"; }

 private:
  // A completion that never reached the kernel, delivered on the caller's thread (nothing is
  // in flight for it, so there is no ordering to keep with the I/O thread).
  void Fail(uint64_t cookie, int32_t status) {
    Completion completion;
    completion.cookie = cookie;
    completion.status = status;
    completion.information = 0;
    core_->sink(std::move(completion));
  }

  std::shared_ptr<Core> core_;
  std::thread thread_;
};

std::unique_ptr<Device> WrapHandle(HANDLE file, CompletionSink sink, std::string* error) {
  auto core = std::make_shared<Core>();
  core->file = file;  // owned by core from here on, also on the error paths below
  core->sink = std::move(sink);
  core->ntDeviceIoControlFile = ResolveNtDeviceIoControlFile();
  if (core->ntDeviceIoControlFile == nullptr) {
    *error = Win32Error("GetProcAddress(ntdll.dll, NtDeviceIoControlFile)", GetLastError());
    return nullptr;
  }
  core->port = CreateIoCompletionPort(INVALID_HANDLE_VALUE, nullptr, 0, 1);
  if (core->port == nullptr) {
    *error = Win32Error("CreateIoCompletionPort", GetLastError());
    return nullptr;
  }
  if (CreateIoCompletionPort(file, core->port, kKeyIo, 0) == nullptr) {
    *error = Win32Error("associating \\\\.\\WskBridge with a completion port", GetLastError());
    return nullptr;
  }
  try {
    return std::unique_ptr<Device>(new WinDevice(std::move(core)));
  } catch (const std::exception& e) {
    *error = std::string("starting the wsk-bridge I/O thread failed: ") + e.what();
    return nullptr;
  }
}

}  // namespace

std::unique_ptr<Device> OpenKernelDevice(CompletionSink sink, std::string* error) {
  HANDLE file = CreateFileW(WSKB_USER_PATH, GENERIC_READ | GENERIC_WRITE, 0, nullptr, OPEN_EXISTING,
                            FILE_FLAG_OVERLAPPED, nullptr);
  if (file == INVALID_HANDLE_VALUE) {
    DWORD code = GetLastError();
    switch (code) {
      case ERROR_FILE_NOT_FOUND:
      case ERROR_PATH_NOT_FOUND:
        *error = "the WskBridge driver is not installed or not started: run scripts/install-driver.ps1 "
                 "(see docs/windows.md) (CreateFileW(\\\\.\\WskBridge): Win32 error " +
                 std::to_string(code) + ")";
        break;
      case ERROR_ACCESS_DENIED:
        *error = "opening \\\\.\\WskBridge needs an elevated (Administrator) process: the device admits "
                 "only Administrators and SYSTEM (Win32 error 5)";
        break;
      default:
        *error = Win32Error("CreateFileW(\\\\.\\WskBridge)", code);
        break;
    }
    return nullptr;
  }
  return WrapHandle(file, std::move(sink), error);
}

namespace testing {
// For the Wine test program only (test/wine/device_win_test.cc): runs the same machinery on
// any overlapped handle (a named pipe stands in for the driver there). Takes the handle.
std::unique_ptr<Device> OpenWinDeviceOnHandle(HANDLE file, CompletionSink sink, std::string* error) {
  return WrapHandle(file, std::move(sink), error);
}
}  // namespace testing

}  // namespace wskb

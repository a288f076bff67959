// SPDX-License-Identifier: MIT
//
// The seam between the N-API binding (binding.cc) and the two backends: the simulated device
// (device_sim.cc: ksim in-process, running the driver sources) and the Windows device
// (device_win.cc: overlapped DeviceIoControl on \\.\WskBridge through one completion port).
// A Device only moves bytes and completions; everything else lives in TypeScript.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace wskb {

struct Completion {
  uint64_t cookie;               // chosen by the caller of Ioctl()
  int32_t status;                // NTSTATUS of the request
  uint64_t information;          // IoStatus.Information
  std::vector<uint8_t> output;   // bytes copied back (empty on error, and for IoctlInto)
};

// Called from any thread, once per Ioctl(). Must not block and must not call back into the
// Device. The binding batches these into one thread-safe-function call.
using CompletionSink = std::function<void(Completion&&)>;

class Device {
 public:
  virtual ~Device() = default;
  // Issues one DeviceIoControl. Never blocks on the driver: the result arrives at the sink.
  virtual void Ioctl(uint32_t code, const uint8_t* input, uint32_t inputLength,
                     uint32_t outputLength, uint64_t cookie) = 0;
  // The same into the caller's buffer, as DeviceIoControl takes it: the output (METHOD_BUFFERED:
  // copied back by the I/O manager; METHOD_OUT_DIRECT: written by the driver through the MDL
  // locked over it) lands in output[0, min(information, outputLength)), and Completion.output
  // stays empty. output must stay valid until the completion has reached the sink.
  virtual void IoctlInto(uint32_t code, const uint8_t* input, uint32_t inputLength, uint8_t* output,
                         uint32_t outputLength, uint64_t cookie) = 0;
  // CancelIoEx(handle, NULL).
  virtual void CancelAll() = 0;
  // CloseHandle. Blocks until every outstanding completion has reached the sink.
  virtual void Close() = 0;
  virtual const char* Backend() const = 0;  // "sim" or "kernel"
};

// Each returns nullptr and sets *error (a human sentence, with the NTSTATUS or Win32 code)
// when the device cannot be opened.
// network: "" (ksim's default), "host" or "memory" (ksim's in-memory network; KsimOpenOnNetwork).
std::unique_ptr<Device> OpenSimDevice(CompletionSink sink, std::string* error, const std::string& network = "");
std::unique_ptr<Device> OpenKernelDevice(CompletionSink sink, std::string* error);  // Windows only

}  // namespace wskb

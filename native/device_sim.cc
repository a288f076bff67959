// SPDX-License-Identifier: MIT
//
// The simulated device: the same driver sources as the .sys, running in this process on ksim.
// ksim plays the I/O manager: KsimOpen is CreateFile, KsimDeviceIoControl an overlapped
// DeviceIoControl, KsimCancelIo CancelIoEx, KsimClose CloseHandle. This file only adapts those
// calls to the wskb::Device seam; it neither interprets nor checks the bytes it moves.

#include <atomic>
#include <cinttypes>
#include <cstdio>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "device.h"
#include "ksim/ksim.h"
#include "protocol.h"

namespace wskb {
namespace {

// The Windows value; what DeviceIoControl on a closed handle amounts to.
constexpr int32_t kStatusInvalidHandle = static_cast<int32_t>(0xC0000008u);

std::string DescribeStatus(int32_t status) {
  char hex[16];
  std::snprintf(hex, sizeof(hex), "0x%08" PRIX32, static_cast<uint32_t>(status));
  std::string text = hex;
  uint32_t count = 0;
  const KSIM_NAMED_STATUS* names = KsimNtStatusNames(&count);
  for (uint32_t i = 0; names != nullptr && i < count; ++i) {
    if (names[i].Value == status) {
      text += std::string(" (") + names[i].Name + ")";
      break;
    }
  }
  return text;
}

class SimDevice final : public Device {
 public:
  SimDevice(CompletionSink sink, KSIM_FILE* file) : sink_(std::move(sink)), file_(file) {}

  ~SimDevice() override { Close(); }

  void Ioctl(uint32_t code, const uint8_t* input, uint32_t inputLength, uint32_t outputLength,
             uint64_t cookie) override {
    if (file_ == nullptr) {
      sink_(Completion{cookie, kStatusInvalidHandle, 0, {}});
      return;
    }
    auto* request = new Request{this, cookie};
    outstanding_.fetch_add(1, std::memory_order_relaxed);
    // METHOD_BUFFERED: ksim copies the input into the request's system buffer before
    // returning, so the caller's bytes need not outlive this call.
    KsimDeviceIoControl(file_, code, input, inputLength, outputLength, &SimDevice::OnComplete, request);
  }

  void IoctlInto(uint32_t code, const uint8_t* input, uint32_t inputLength, uint8_t* output,
                 uint32_t outputLength, uint64_t cookie) override {
    if (file_ == nullptr) {
      sink_(Completion{cookie, kStatusInvalidHandle, 0, {}});
      return;
    }
    auto* request = new Request{this, cookie, /*intoCaller=*/true};
    outstanding_.fetch_add(1, std::memory_order_relaxed);
    KsimDeviceIoControlEx(file_, code, input, inputLength, output, outputLength, &SimDevice::OnComplete, request);
  }

  void CancelAll() override {
    if (file_ != nullptr) KsimCancelIo(file_);
  }

  void Close() override {
    if (file_ == nullptr) return;
    KSIM_FILE* file = file_;
    file_ = nullptr;
    // Cleanup cancels what the driver still holds; KsimClose returns only after every
    // completion callback of this file has run, so no Request outlives this line.
    KsimClose(file);
    const uint64_t left = outstanding_.load(std::memory_order_acquire);
    if (left != 0) {
      // ksim broke its own contract; the contexts still out there now point at freed memory.
      std::fprintf(stderr, "wskbridge: KsimClose returned with %" PRIu64 " completion(s) not made\n", left);
    }
    KsimDriverUnload();
  }

  const char* Backend() const override { return "sim"; }

 private:
  struct Request {
    SimDevice* device;
    uint64_t cookie;
    bool intoCaller = false;  // IoctlInto: the output is in the caller's buffer already
  };

  static void OnComplete(void* context, int32_t status, uint64_t information, const void* output,
                         uint32_t outputLength) {
    std::unique_ptr<Request> request(static_cast<Request*>(context));
    Completion completion{request->cookie, status, information, {}};
    if (!request->intoCaller && output != nullptr && outputLength != 0) {
      const auto* bytes = static_cast<const uint8_t*>(output);
      completion.output.assign(bytes, bytes + outputLength);
    }
    SimDevice* device = request->device;
    device->sink_(std::move(completion));
    device->outstanding_.fetch_sub(1, std::memory_order_release);
  }

  CompletionSink sink_;
  KSIM_FILE* file_;
  std::atomic<uint64_t> outstanding_{0};
};

}  // namespace

std::unique_ptr<Device> OpenSimDevice(CompletionSink sink, std::string* error, const std::string& network) {
  const int32_t loadStatus = KsimDriverLoad();
  if (loadStatus < 0) {
    if (error != nullptr) {
      *error = "cannot load the WskBridge driver on ksim: DriverEntry returned " + DescribeStatus(loadStatus);
    }
    return nullptr;
  }
  KSIM_FILE* file = nullptr;
  const int32_t openStatus = KsimOpenOnNetwork(WSKB_USER_PATH, network.c_str(), &file);
  if (openStatus < 0 || file == nullptr) {
    KsimDriverUnload();
    if (error != nullptr) {
      *error = "cannot open \\\\.\\WskBridge on ksim: " + DescribeStatus(openStatus);
    }
    return nullptr;
  }
  return std::make_unique<SimDevice>(std::move(sink), file);
}

}  // namespace wskb

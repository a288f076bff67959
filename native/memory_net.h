// SPDX-License-Identifier: MIT
//
// ksim.memoryNet (memory_net.cc): peers on ksim's in-memory network for tests.
#pragma once

#include <napi.h>

namespace wskb {
Napi::Object MemoryNetObject(Napi::Env env);
}  // namespace wskb

// Per-environment state of the addon (main thread, worker threads each have
// their own): N-API allows one instance-data slot, so everything lives here.
#pragma once

#include <napi.h>

#include <memory>

namespace ib {

class Completions;

struct AddonData {
  Napi::FunctionReference cluster_class;
  Napi::FunctionReference writer_class;
  std::unique_ptr<Completions> completions;
  ~AddonData();
};

// Main thread: this environment's data, created on first use.
AddonData& GetAddonData(Napi::Env env);

}  // namespace ib

// The one thread that talks to liblvm2cmd. The library keeps global state
// (config, device cache, memory pools, the log callback), so every call runs
// on this thread, one at a time, in the order queued. The thread starts with
// the first job and stops when the last Node.js environment that used it is
// cleaned up (after the job it is running; queued jobs fail with ECANCELED).
#pragma once

#include <node_api.h>

#include <future>
#include <string>
#include <utility>
#include <vector>

namespace ib::lvm {

struct Result {
  int status = 0;  // lvm2_run's return, or 0 when it did not run
  int err = 0;     // negative errno when it did not run (ECANCELED, init failure)
  std::vector<std::pair<int, std::string>> messages;
};

// Any thread: queues `cmdline` and returns the future of its result.
std::future<Result> Submit(std::string cmdline);

// Main thread, when an environment loads the addon: counts it as a user and
// registers its cleanup hook, which releases it; the last release stops the
// thread.
void AddUser(napi_env env);

}  // namespace ib::lvm

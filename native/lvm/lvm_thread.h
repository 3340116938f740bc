// The one thread that talks to liblvm2cmd. The library keeps global state
// (config, device cache, memory pools, the log callback), so every call runs
// on this thread, one at a time, in the order posted. The thread starts with
// the first task and stops when the last Node.js environment that used it is
// cleaned up (after the task it is running; tasks still queued then run with
// Run() answering ECANCELED, so every promise settles).
//
// Work reaches the thread as PoolWorker tasks (common/pool_worker.h): the
// LVM thread runs Execute() itself and completes through the environment's
// thread-safe function, like RBD work; no libuv thread waits on a command.
#pragma once

#include <node_api.h>

#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace ib::lvm {

struct Result {
  int status = 0;  // lvm2_run's return, or 0 when it did not run
  int err = 0;     // negative errno when it did not run (ECANCELED, init failure)
  std::vector<std::pair<int, std::string>> messages;
};

// Any thread: runs `task` on the LVM thread after the tasks posted before
// it. While the thread is stopping, the task runs at once on the caller's
// thread (where Run() answers ECANCELED). A PoolWorker::Post.
void Post(std::function<void()> task);

// Inside a posted task: runs one lvm2 command line on the LVM thread, with
// the process umask put back afterwards. Anywhere else, or after the thread
// began stopping: err = -ECANCELED, nothing run.
Result Run(const std::string& cmdline);

// Main thread, when an environment loads the addon: counts it as a user and
// registers its cleanup hook, which releases it; the last release stops the
// thread.
void AddUser(napi_env env);

}  // namespace ib::lvm

#include "lvm/lvm_thread.h"

#include "lvm/liblvm2cmd_loader.h"

#include <lvm2cmd.h>
#include <sys/stat.h>

#include <cerrno>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

namespace ib::lvm {

namespace {

struct Job {
  std::string cmdline;
  std::promise<Result> promise;
};

// Process-wide; never destroyed (a static destructor would race with a
// running command at exit), stopped by the last environment's cleanup hook.
struct State {
  std::mutex mutex;
  std::condition_variable wake;
  std::deque<Job> queue;
  std::thread thread;
  bool running = false;
  bool stopping = false;
  int users = 0;
};

State& state() {
  static State* s = new State();
  return *s;
}

// LVM thread only: the messages of the command being run.
std::vector<std::pair<int, std::string>>* current = nullptr;

void LogFn(int level, const char* file, int line, int dm_errno, const char* message) {
  // Debug and verbose lines (levels 5-7) arrive too; only the ones the lvm
  // command would print matter.
  if (current != nullptr && level <= LVM2_LOG_PRINT && message != nullptr) current->emplace_back(level, message);
}

// lvm2 sets the process umask (global/umask, 077) and leaves it: put it back
// so files Node creates meanwhile are not affected for longer than a command.
struct UmaskGuard {
  mode_t saved;
  UmaskGuard() : saved(::umask(0)) { ::umask(saved); }
  ~UmaskGuard() { ::umask(saved); }
};

void Loop() {
  State& s = state();
  void* handle = nullptr;
  // Jobs are submitted only after the library loaded (run.cc); never call
  // into an unloaded one, whatever the caller did.
  if (EnsureLiblvm2cmd(nullptr)) {
    UmaskGuard guard;
    lvm2_log_fn(LogFn);
    handle = lvm2_init();
  }
  for (;;) {
    Job job;
    {
      std::unique_lock<std::mutex> lock(s.mutex);
      s.wake.wait(lock, [&] { return s.stopping || !s.queue.empty(); });
      if (s.stopping) break;
      job = std::move(s.queue.front());
      s.queue.pop_front();
    }
    Result result;
    if (handle == nullptr) {
      result.err = -EIO;
    } else {
      UmaskGuard guard;
      current = &result.messages;
      result.status = lvm2_run(handle, job.cmdline.c_str());
      current = nullptr;
    }
    job.promise.set_value(std::move(result));
  }
  if (handle != nullptr) lvm2_exit(handle);
  // Whatever is still queued will never run.
  std::lock_guard<std::mutex> lock(s.mutex);
  for (Job& job : s.queue) {
    Result result;
    result.err = -ECANCELED;
    job.promise.set_value(std::move(result));
  }
  s.queue.clear();
}

void Stop() {
  State& s = state();
  std::thread thread;
  {
    std::lock_guard<std::mutex> lock(s.mutex);
    if (!s.running) return;
    s.stopping = true;
    thread = std::move(s.thread);
  }
  s.wake.notify_all();
  thread.join();
  std::lock_guard<std::mutex> lock(s.mutex);
  s.running = false;
  s.stopping = false;
}

void ReleaseUser(void*) {
  State& s = state();
  bool last;
  {
    std::lock_guard<std::mutex> lock(s.mutex);
    last = --s.users == 0;
  }
  if (last) Stop();
}

}  // namespace

std::future<Result> Submit(std::string cmdline) {
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  Job job{std::move(cmdline), {}};
  std::future<Result> future = job.promise.get_future();
  if (s.stopping) {
    Result result;
    result.err = -ECANCELED;
    job.promise.set_value(std::move(result));
    return future;
  }
  s.queue.push_back(std::move(job));
  if (!s.running) {
    s.running = true;
    s.thread = std::thread(Loop);
  }
  s.wake.notify_one();
  return future;
}

void AddUser(napi_env env) {
  State& s = state();
  {
    std::lock_guard<std::mutex> lock(s.mutex);
    ++s.users;
  }
  napi_add_env_cleanup_hook(env, ReleaseUser, nullptr);
}

}  // namespace ib::lvm

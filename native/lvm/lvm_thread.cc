#include "lvm/lvm_thread.h"

#include <lvm2cmd.h>
#include <sys/stat.h>

#include <cerrno>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

#include "lvm/liblvm2cmd_loader.h"

namespace ib::lvm {

namespace {

// Process-wide; never destroyed (a static destructor would race with a
// running command at exit), stopped by the last environment's cleanup hook.
struct State {
  std::mutex mutex;
  std::condition_variable wake;
  std::deque<std::function<void()>> queue;
  std::thread thread;
  bool running = false;
  bool stopping = false;
  int users = 0;
};

State& state() {
  static State* s = new State();
  return *s;
}

// LVM thread only: the lvm2 handle while commands may run (null before
// lvm2_init, after a failed one, and once the thread is draining its queue
// to stop), whether this thread is the LVM thread, and the messages of the
// command being run.
thread_local bool on_lvm_thread = false;
void* handle = nullptr;
bool init_failed = false;
std::vector<std::pair<int, std::string>>* current = nullptr;

void LogFn(int level, const char* file, int line, int dm_errno, const char* message) {
  // Debug and verbose lines (levels 5-7) arrive too; only the ones the lvm
  // command would print matter.
  if (current != nullptr && level <= LVM2_LOG_PRINT && message != nullptr) current->emplace_back(level, message);
}

// lvm2 sets the process umask (global/umask, 077) and leaves it: put it back
// so files Node creates meanwhile are not affected for longer than a command.
// (Files this library creates get explicit modes anyway: the umask is
// process-wide and a command takes a while.)
struct UmaskGuard {
  mode_t saved;
  UmaskGuard() : saved(::umask(0)) { ::umask(saved); }
  ~UmaskGuard() { ::umask(saved); }
};

void Loop() {
  State& s = state();
  on_lvm_thread = true;
  // Without liblvm2cmd (a host without lvm2) the thread still runs its
  // tasks, which fail with ELIBACC before touching lvm2 (run.cc).
  if (EnsureLiblvm2cmd(nullptr)) {
    UmaskGuard guard;
    lvm2_log_fn(LogFn);
    handle = lvm2_init();
    init_failed = handle == nullptr;
  }
  for (;;) {
    std::function<void()> task;
    {
      std::unique_lock<std::mutex> lock(s.mutex);
      s.wake.wait(lock, [&] { return s.stopping || !s.queue.empty(); });
      if (s.stopping) break;
      task = std::move(s.queue.front());
      s.queue.pop_front();
    }
    task();
  }
  if (handle != nullptr) lvm2_exit(handle);
  handle = nullptr;
  // Whatever is still queued runs now, without lvm2: each task's Run()
  // answers ECANCELED and its promise settles (or, with its environment
  // gone, is dropped by the completion channel).
  std::deque<std::function<void()>> rest;
  {
    std::lock_guard<std::mutex> lock(s.mutex);
    rest.swap(s.queue);
  }
  for (auto& task : rest) task();
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

void Post(std::function<void()> task) {
  State& s = state();
  {
    std::lock_guard<std::mutex> lock(s.mutex);
    if (!s.stopping) {
      s.queue.push_back(std::move(task));
      if (!s.running) {
        s.running = true;
        s.thread = std::thread(Loop);
      }
      s.wake.notify_one();
      return;
    }
  }
  task();  // stopping: Run() inside answers ECANCELED
}

Result Run(const std::string& cmdline) {
  Result result;
  if (!on_lvm_thread || handle == nullptr) {
    result.err = on_lvm_thread && init_failed ? -EIO : -ECANCELED;
    return result;
  }
  UmaskGuard guard;
  current = &result.messages;
  result.status = lvm2_run(handle, cmdline.c_str());
  current = nullptr;
  return result;
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

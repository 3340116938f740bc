// The addon's own threads for operations that wait on the network (librbd,
// librados). libuv's pool has 4 threads shared with Node's fs, dns and zlib;
// a storm of RBD clones there makes every fs call wait behind them, and caps
// the clones at 4 in flight. These threads are created on first use, sized
// by IMAGEBACKEND_THREADS (default 16), and live as long as the process.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>

namespace ib {

class Executor {
 public:
  static Executor& Shared();

  // Any thread: run `task` on one of the executor's threads.
  void Submit(std::function<void()> task);

  // Any thread: wait until no task is queued or running, at most `timeout`.
  // Used at process exit so no task runs while the C++ runtime is destroyed.
  bool WaitIdle(std::chrono::milliseconds timeout);

  size_t threads() const { return threads_; }

 private:
  explicit Executor(size_t threads);
  void Loop();

  size_t threads_;
  size_t started_ = 0;
  size_t busy_ = 0;
  std::mutex mutex_;
  std::condition_variable work_;
  std::condition_variable idle_;
  std::deque<std::function<void()>> queue_;
};

}  // namespace ib

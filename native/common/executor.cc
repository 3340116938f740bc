#include "common/executor.h"

#include <cstdlib>
#include <string>
#include <thread>

namespace ib {

static size_t ConfiguredThreads() {
  const char* value = std::getenv("IMAGEBACKEND_THREADS");
  if (value != nullptr) {
    long n = std::strtol(value, nullptr, 10);
    if (n >= 1 && n <= 1024) return static_cast<size_t>(n);
  }
  return 16;
}

Executor& Executor::Shared() {
  // Never destroyed: detached threads may still hold it while exit() runs.
  static Executor* shared = new Executor(ConfiguredThreads());
  return *shared;
}

Executor::Executor(size_t threads) : threads_(threads) {}

void Executor::Submit(std::function<void()> task) {
  std::lock_guard<std::mutex> guard(mutex_);
  queue_.push_back(std::move(task));
  // Grow one thread at a time, only while every thread is busy.
  if (started_ < threads_ && busy_ + queue_.size() > started_) {
    started_++;
    std::thread([this] { Loop(); }).detach();
  }
  work_.notify_one();
}

bool Executor::WaitIdle(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mutex_);
  return idle_.wait_for(lock, timeout, [this] { return busy_ == 0 && queue_.empty(); });
}

void Executor::Loop() {
  std::unique_lock<std::mutex> lock(mutex_);
  for (;;) {
    work_.wait(lock, [this] { return !queue_.empty(); });
    std::function<void()> task = std::move(queue_.front());
    queue_.pop_front();
    busy_++;
    lock.unlock();
    task();
    lock.lock();
    busy_--;
    if (busy_ == 0 && queue_.empty()) idle_.notify_all();
  }
}

}  // namespace ib

#include "common/pool_worker.h"

#include <exception>
#include <memory>
#include <mutex>
#include <new>

#include "common/addon_data.h"
#include "common/executor.h"

namespace ib {

namespace {

void Deliver(Napi::Env env, Napi::Function, struct Channel* channel, PoolWorker* worker);
using Tsfn = Napi::TypedThreadSafeFunction<struct Channel, PoolWorker, &Deliver>;

// One environment's way back to its main thread. Shared by the environment
// and every task in flight: an executor thread may finish after the
// environment is gone, and must then find `closed` set, not freed memory.
struct Channel {
  std::mutex mutex;
  bool closed = false;  // set by the thread-safe function's finalizer
  Tsfn tsfn;
  size_t pending = 0;  // main thread only
};

// Main thread.
void Deliver(Napi::Env env, Napi::Function, Channel* channel, PoolWorker* worker) {
  if (worker == nullptr) return;
  if (env == nullptr) {  // the environment is being torn down: see Work::Abandon
    worker->Abandon();
    return;
  }
  worker->Complete();
  delete worker;
  if (--channel->pending == 0) channel->tsfn.Unref(env);
}

}  // namespace

class Completions {
 public:
  explicit Completions(Napi::Env env) : channel_(std::make_shared<Channel>()) {
    auto* keep = new std::shared_ptr<Channel>(channel_);
    channel_->tsfn = Tsfn::New(
        env, "imagebackend:completions", 0, 1, channel_.get(),
        [](Napi::Env, std::shared_ptr<Channel>* keep, Channel*) {
          {
            std::lock_guard<std::mutex> guard((*keep)->mutex);
            (*keep)->closed = true;
          }
          delete keep;
        },
        keep);
    channel_->tsfn.Unref(env);  // idle: do not keep the process alive
  }

  std::shared_ptr<Channel> channel() const { return channel_; }

 private:
  std::shared_ptr<Channel> channel_;
};

AddonData::~AddonData() = default;

AddonData& GetAddonData(Napi::Env env) {
  AddonData* data = env.GetInstanceData<AddonData>();
  if (data == nullptr) {
    data = new AddonData();
    env.SetInstanceData<AddonData>(data);
  }
  return *data;
}

Napi::Promise PoolWorker::QueuePromise(Post post) {
  AddonData& data = GetAddonData(env_);
  if (!data.completions) data.completions = std::make_unique<Completions>(env_);
  std::shared_ptr<Channel> channel = data.completions->channel();
  if (channel->pending++ == 0) channel->tsfn.Ref(env_);
  Napi::Promise promise = deferred_.Promise();
  std::function<void()> task = [this, channel] {
    try {
      Execute();
    } catch (const std::bad_alloc&) {
      Fail(-ENOMEM, "operator new");
    } catch (const std::exception& e) {
      Fail(-EIO, "execute", e.what());
    }
    std::lock_guard<std::mutex> guard(channel->mutex);
    // After the environment is gone the worker is leaked on purpose: its
    // N-API references may only be freed on a main thread that no longer
    // exists. What it holds besides them is released now (Work::Abandon).
    if (channel->closed || channel->tsfn.NonBlockingCall(this) != napi_ok) Abandon();
  };
  if (post != nullptr)
    post(std::move(task));
  else
    Executor::Shared().Submit(std::move(task));
  return promise;
}

}  // namespace ib

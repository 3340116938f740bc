// lvm2Run(cmdline): a PoolWorker posted to the LVM thread (lvm_thread.h),
// which runs Execute() itself and completes through the environment's
// thread-safe function, like RBD work: no libuv pool thread waits for a
// command, so Node's fs calls never queue behind lvm2.
#include <cerrno>

#include "common/args.h"
#include "common/pool_worker.h"
#include "lvm/liblvm2cmd_loader.h"
#include "lvm/lvm.h"
#include "lvm/lvm_thread.h"

namespace ib {

namespace {

class RunWorker : public PoolWorker {
 public:
  RunWorker(Napi::Env env, std::string cmdline) : PoolWorker(env), cmdline_(std::move(cmdline)) {}

 private:
  // The LVM thread (or, while it stops, the thread that posted the work).
  void Execute() override {
    // The first command of the process opens liblvm2cmd: a host without it
    // gets a typed error naming the package instead of failing to load.
    std::string missing;
    if (!lvm::EnsureLiblvm2cmd(&missing)) {
      Fail(-ELIBACC, "dlopen", missing);
      return;
    }
    result_ = lvm::Run(cmdline_);
    if (result_.err != 0)
      Fail(result_.err, "lvm2_run", result_.err == -ECANCELED ? "the LVM thread stopped" : "lvm2_init failed");
  }

  Napi::Value Resolve(Napi::Env env) override {
    Napi::Object out = Napi::Object::New(env);
    out.Set("status", Napi::Number::New(env, result_.status));
    Napi::Array messages = Napi::Array::New(env, result_.messages.size());
    for (size_t i = 0; i < result_.messages.size(); i++) {
      Napi::Array pair = Napi::Array::New(env, 2);
      pair.Set(0u, Napi::Number::New(env, result_.messages[i].first));
      pair.Set(1u, Napi::String::New(env, result_.messages[i].second));
      messages.Set(static_cast<uint32_t>(i), pair);
    }
    out.Set("messages", messages);
    return out;
  }

  std::string cmdline_;
  lvm::Result result_;
};

Napi::Value Lvm2Run(const Napi::CallbackInfo& info) {
  std::string cmdline = ArgString(info, 0, "cmdline");
  return (new RunWorker(info.Env(), std::move(cmdline)))->QueuePromise(lvm::Post);
}

}  // namespace

void InitLvm(Napi::Env env, Napi::Object exports) {
  lvm::AddUser(env);
  exports.Set("lvm2Run", Napi::Function::New(env, Lvm2Run, "lvm2Run"));
}

}  // namespace ib

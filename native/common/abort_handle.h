// A cancellation flag JS can set and a worker thread can poll. TypeScript ties
// an AbortSignal to it; long operations check it between chunks.
#pragma once

#include <napi.h>

#include <atomic>
#include <memory>

namespace ib {

using AbortFlag = std::shared_ptr<std::atomic<bool>>;

class AbortHandle : public Napi::ObjectWrap<AbortHandle> {
 public:
  static Napi::Function Define(Napi::Env env);
  explicit AbortHandle(const Napi::CallbackInfo& info);
  // Main thread: the flag behind options[key], or a fresh unset one when absent.
  static AbortFlag From(const Napi::Object& options, const char* key);

 private:
  Napi::Value Abort(const Napi::CallbackInfo& info);
  Napi::Value Aborted(const Napi::CallbackInfo& info);
  AbortFlag flag_ = std::make_shared<std::atomic<bool>>(false);
};

void InitAbortHandle(Napi::Env env, Napi::Object exports);

}  // namespace ib

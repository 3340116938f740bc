#include "common/abort_handle.h"

#include <vector>

#include "common/errors.h"

namespace ib {

static const napi_type_tag kAbortTag = {0x3b8e5f0a9c1d4a62ULL, 0x8f7e6d5c4b3a2910ULL};

Napi::Function AbortHandle::Define(Napi::Env env) {
  return DefineClass(
      env, "AbortHandle",
      {InstanceMethod<&AbortHandle::Abort>("abort"), InstanceAccessor<&AbortHandle::Aborted>("aborted")});
}

AbortHandle::AbortHandle(const Napi::CallbackInfo& info) : Napi::ObjectWrap<AbortHandle>(info) {
  napi_status status = napi_type_tag_object(info.Env(), info.This(), &kAbortTag);
  NAPI_THROW_IF_FAILED_VOID(info.Env(), status);
}

Napi::Value AbortHandle::Abort(const Napi::CallbackInfo& info) {
  flag_->store(true);
  return info.Env().Undefined();
}

Napi::Value AbortHandle::Aborted(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), flag_->load());
}

AbortFlag AbortHandle::From(const Napi::Object& options, const char* key) {
  Napi::Value v = options.Get(key);
  if (v.IsUndefined() || v.IsNull()) return std::make_shared<std::atomic<bool>>(false);
  bool tagged = false;
  if (v.IsObject()) napi_check_object_type_tag(options.Env(), v, &kAbortTag, &tagged);
  if (!tagged) ThrowArgError(options.Env(), "an AbortHandle", key, v);
  return Unwrap(v.As<Napi::Object>())->flag_;
}

void InitAbortHandle(Napi::Env env, Napi::Object exports) { exports.Set("AbortHandle", AbortHandle::Define(env)); }

}  // namespace ib

#include "common/errors.h"

#include <cstring>

namespace ib {

std::string ErrnoName(int err) {
  int positive = err < 0 ? -err : err;
  const char* name = strerrorname_np(positive);
  if (name != nullptr) return name;
  return "E" + std::to_string(positive);
}

static std::string Describe(const ErrorContext& ctx) {
  std::string object;
  if (!ctx.pool.empty() || !ctx.image.empty()) {
    object = ctx.pool + "/" + ctx.image;
    if (!ctx.snapshot.empty()) object += "@" + ctx.snapshot;
  } else if (!ctx.path.empty()) {
    object = ctx.path;
  }
  return object;
}

Napi::Error MakeError(Napi::Env env, const Failure& failure, const ErrorContext& ctx) {
  int positive = failure.err < 0 ? -failure.err : failure.err;
  std::string code = ErrnoName(positive);
  // Same shape as Node's own: "ENOENT: no such file or directory, open 'x'".
  std::string message = code + ": " + std::strerror(positive) + ", " + failure.syscall;
  std::string object = failure.path.empty() ? Describe(ctx) : failure.path;
  if (!object.empty()) message += " '" + object + "'";
  if (!failure.detail.empty()) message += " (" + failure.detail + ")";

  Napi::Error error = Napi::Error::New(env, message);
  Napi::Object obj = error.Value();
  obj.Set("code", code);
  obj.Set("errno", Napi::Number::New(env, -positive));
  obj.Set("syscall", failure.syscall);
  if (!ctx.pool.empty()) obj.Set("pool", ctx.pool);
  if (!ctx.image.empty()) obj.Set("image", ctx.image);
  if (!ctx.snapshot.empty()) obj.Set("snapshot", ctx.snapshot);
  if (!failure.path.empty()) {
    obj.Set("path", failure.path);
  } else if (!ctx.path.empty()) {
    obj.Set("path", ctx.path);
  }
  if (!failure.detail.empty()) obj.Set("detail", failure.detail);
  return error;
}

static std::string Show(const Napi::Value& v) {
  if (v.IsUndefined()) return "undefined";
  if (v.IsNull()) return "null";
  if (v.IsString()) return "'" + v.As<Napi::String>().Utf8Value() + "'";
  if (v.IsNumber() || v.IsBoolean()) return v.ToString().Utf8Value();
  if (v.IsArray()) return "an array";
  if (v.IsFunction()) return "a function";
  return "an object";
}

void ThrowArgError(Napi::Env env, const std::string& what, const std::string& name, const Napi::Value& received) {
  Napi::TypeError error =
      Napi::TypeError::New(env, "Expected " + what + " for " + name + " but received " + Show(received));
  error.Value().Set("code", "ERR_INVALID_ARG_TYPE");
  throw error;
}

}  // namespace ib

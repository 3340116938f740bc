// Argument readers for the exported functions. They run on the main thread and
// throw one TypeError wording (see ThrowArgError) so every function rejects bad
// input the same way before any work is queued.
#pragma once

#include <napi.h>

#include <cmath>
#include <cstdint>
#include <string>

#include "common/errors.h"

namespace ib {

inline std::string ArgString(const Napi::CallbackInfo& info, size_t i, const char* name) {
  Napi::Value v = info[i];
  if (!v.IsString() || v.As<Napi::String>().Utf8Value().empty())
    ThrowArgError(info.Env(), "a non-empty string", name, v);
  return v.As<Napi::String>().Utf8Value();
}

inline std::string OptString(const Napi::Object& obj, const char* key, const std::string& fallback = "") {
  Napi::Value v = obj.Get(key);
  if (v.IsUndefined() || v.IsNull()) return fallback;
  if (!v.IsString()) ThrowArgError(obj.Env(), "a string", key, v);
  return v.As<Napi::String>().Utf8Value();
}

// Sizes and offsets arrive as JS numbers (exact to 2^53) or bigints.
inline uint64_t ToUint64(Napi::Env env, const Napi::Value& v, const char* name) {
  if (v.IsBigInt()) {
    bool lossless = false;
    uint64_t out = v.As<Napi::BigInt>().Uint64Value(&lossless);
    if (!lossless) ThrowArgError(env, "a non-negative integer below 2^64", name, v);
    return out;
  }
  if (v.IsNumber()) {
    double d = v.As<Napi::Number>().DoubleValue();
    if (d >= 0 && std::floor(d) == d && d <= 9007199254740991.0) return static_cast<uint64_t>(d);
  }
  ThrowArgError(env, "a non-negative integer", name, v);
}

inline uint64_t ArgUint64(const Napi::CallbackInfo& info, size_t i, const char* name) {
  return ToUint64(info.Env(), info[i], name);
}

inline uint64_t OptUint64(const Napi::Object& obj, const char* key, uint64_t fallback) {
  Napi::Value v = obj.Get(key);
  if (v.IsUndefined() || v.IsNull()) return fallback;
  return ToUint64(obj.Env(), v, key);
}

inline bool OptBool(const Napi::Object& obj, const char* key, bool fallback) {
  Napi::Value v = obj.Get(key);
  if (v.IsUndefined() || v.IsNull()) return fallback;
  if (!v.IsBoolean()) ThrowArgError(obj.Env(), "a boolean", key, v);
  return v.As<Napi::Boolean>().Value();
}

inline Napi::Object ArgOptions(const Napi::CallbackInfo& info, size_t i) {
  Napi::Value v = info[i];
  if (v.IsUndefined() || v.IsNull()) return Napi::Object::New(info.Env());
  if (!v.IsObject()) ThrowArgError(info.Env(), "an options object", "options", v);
  return v.As<Napi::Object>();
}

// Numbers above 2^53 lose precision as doubles; return a bigint then.
inline Napi::Value FromUint64(Napi::Env env, uint64_t v) {
  if (v <= 9007199254740991ULL) return Napi::Number::New(env, static_cast<double>(v));
  return Napi::BigInt::New(env, v);
}

// Always a bigint: for values that are bigints in the TypeScript types
// whatever their size (RBD image and transfer sizes), so callers see one type.
inline Napi::Value BigIntFromUint64(Napi::Env env, uint64_t v) { return Napi::BigInt::New(env, v); }

}  // namespace ib

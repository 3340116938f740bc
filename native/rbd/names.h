// Argument readers for pool, image and snapshot names: the native re-check of
// src/rbd/names.ts (same rules, same limit). librbd takes names as C strings,
// so a NUL byte would silently truncate a name ("victim\0junk" -> "victim");
// '/' and '@' are the rbd CLI's spec separators; a leading '-' reads as an
// option; control characters break logs and listings. Main thread only.
#pragma once

#include <napi.h>

#include <string>

#include "common/args.h"

namespace ib {

// Longest accepted name in bytes: RBD_NAME_MAX_BYTES (1000) in
// src/rbd/names.ts plus room for the staging suffix the library adds to names
// it imports under (src/rbd/staging.ts, 20 bytes).
constexpr size_t kRbdNameMaxBytes = 1024;

// Empty when `name` is acceptable, else what is wrong with it.
inline std::string RbdNameProblem(const std::string& name) {
  if (name.empty()) return "must not be empty";
  for (unsigned char c : name)
    if (c < 0x20 || c == 0x7f) return "must not contain NUL, newlines or other control characters";
  if (name.find_first_of("/@") != std::string::npos) return "must not contain '/' or '@'";
  if (name[0] == '-') return "must not start with '-'";
  if (name == "." || name == "..") return "must not be '.' or '..'";
  if (name.size() > kRbdNameMaxBytes) return "must be at most 1024 bytes";
  return "";
}

// Throws a TypeError (code ERR_INVALID_ARG_VALUE) naming the rule broken.
inline std::string CheckRbdName(Napi::Env env, const std::string& name, const char* arg, const char* kind) {
  std::string problem = RbdNameProblem(name);
  if (problem.empty()) return name;
  Napi::TypeError error = Napi::TypeError::New(
      env, std::string("Expected a valid RBD ") + kind + " name (" + problem + ") for " + arg + " but received '" +
               (name.find('\0') == std::string::npos ? name : "a name with a NUL byte") + "'");
  error.Value().Set("code", "ERR_INVALID_ARG_VALUE");
  throw error;
}

// Argument i (called `arg` in errors) as a `kind` name: "pool", "image" or "snapshot".
inline std::string ArgRbdName(const Napi::CallbackInfo& info, size_t i, const char* arg, const char* kind) {
  return CheckRbdName(info.Env(), ArgString(info, i, arg), arg, kind);
}

// An optional name in an options object; empty when absent.
inline std::string OptRbdName(const Napi::Object& obj, const char* key, const char* kind) {
  std::string value = OptString(obj, key);
  return value.empty() ? value : CheckRbdName(obj.Env(), value, key, kind);
}

}  // namespace ib

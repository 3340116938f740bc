// Error values that cross into JavaScript. Every native failure becomes an
// Error shaped like a Node.js system error (code, errno, syscall) plus the
// object it concerned (pool, image, snapshot, path), so callers can branch on
// `code` and operators can read the message.
#pragma once

#include <napi.h>

#include <string>

namespace ib {

// What an operation was working on when it failed; empty fields are omitted.
struct ErrorContext {
  std::string pool;
  std::string image;
  std::string snapshot;
  std::string path;
};

// A failure recorded on a worker thread, turned into a JS error on the main
// thread. `err` is a negative errno as librbd/librados return them.
struct Failure {
  int err = 0;
  std::string syscall;
  std::string detail;  // optional extra words, e.g. "timed out after 5000 ms"
  std::string path;    // a local file the call failed on; named instead of the image
  explicit operator bool() const { return err != 0; }
};

// "ENOENT" for -2; "E<number>" when the libc does not know the value.
std::string ErrnoName(int err);

// Builds the JS Error. Main thread only.
Napi::Error MakeError(Napi::Env env, const Failure& failure, const ErrorContext& ctx);

// One wording for argument errors: Expected <what> for <name> but received <value>.
[[noreturn]] void ThrowArgError(Napi::Env env, const std::string& what, const std::string& name,
                                const Napi::Value& received);

}  // namespace ib

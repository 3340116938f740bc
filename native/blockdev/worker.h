// Base of the blockdev operations: a PromiseWorker whose first argument is a
// path (also the error context), plus the offset/length range most of them take.
// The constructor runs on the main thread; Run() on a libuv pool thread.
#pragma once

#include <napi.h>
#include <sys/stat.h>

#include <string>

#include "blockdev/target.h"
#include "common/args.h"
#include "common/promise_worker.h"

namespace ib::blockdev {

// Why OpenTarget failed, as a Fail() takes it. A path of the wrong type
// fails as EINVAL with the pseudo-syscall 'filetype', which
// src/blockdev/native-error.ts maps to UNSUPPORTED_FILE_TYPE; a directory
// stays a plain EINVAL from 'open', as it always was.
struct OpenError {
  int err;
  const char* syscall;
  std::string detail;
};
inline OpenError DescribeOpenError(int r, const Target& target) {
  if (r == kWrongFileType && S_ISDIR(target.mode)) return {-EINVAL, "open", "not a regular file or block device"};
  if (r == kWrongFileType) return {-EINVAL, "filetype", WrongFileTypeDetail(target.mode, FileKinds::kRegularOrBlock)};
  return {r, "open", ""};
}

class BlockdevWorker : public PromiseWorker {
 public:
  BlockdevWorker(const Napi::CallbackInfo& info, const char* name) : PromiseWorker(info.Env(), name), name_(name) {
    path_ = ArgString(info, 0, "path");
    context_.path = path_;
  }

 protected:
  virtual void Run() = 0;

  // Worker thread: opens path_ into `target`, recording a failure.
  bool Open(Target* target, int flags) { return Opened(OpenTarget(path_, flags, target), *target); }

  // Worker thread: records the outcome of OpenTarget.
  bool Opened(int r, const Target& target) {
    if (r == 0) return true;
    OpenError e = DescribeOpenError(r, target);
    return Fail(e.err, e.syscall, e.detail);
  }

  std::string path_;
  const char* name_;

 private:
  void Execute() override { Run(); }
};

// { offset = 0, length = to the end } read on the main thread, checked against
// the target on the worker thread.
struct Range {
  uint64_t offset = 0, length = 0;
  bool has_length = false;

  static Range From(const Napi::Object& opts) {
    Range range;
    range.offset = OptUint64(opts, "offset", 0);
    Napi::Value length = opts.Get("length");
    if (!length.IsUndefined() && !length.IsNull()) {
      range.length = ToUint64(opts.Env(), length, "length");
      range.has_length = true;
    }
    return range;
  }

  // Worker thread. Block devices take 512-byte aligned ranges; the length is
  // capped at the end of the target. Returns "" or why the range is refused.
  std::string Fit(const Target& target) {
    if (target.block && (offset % 512 != 0 || (has_length && length % 512 != 0)))
      return "offset and length must be multiples of 512 on a block device";
    if (offset > target.size)
      return "offset " + std::to_string(offset) + " is beyond the end (" + std::to_string(target.size) + " bytes)";
    uint64_t room = target.size - offset;
    length = has_length ? std::min(length, room) : room;
    return "";
  }
};

// Main thread: construct worker W from the call's arguments and return its promise.
template <typename W>
Napi::Value StartWorker(const Napi::CallbackInfo& info) {
  return (new W(info))->QueuePromise();
}

}  // namespace ib::blockdev

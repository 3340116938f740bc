// fileLockTry(path, shared) -> Promise<number>
//   Opens `path` (creating it, mode 0666 & ~umask, as Python's open('a') in
//   oslo.concurrency/fasteners does) and tries once to take an
//   open-file-description (OFD) byte-range lock over the whole file:
//   F_OFD_SETLK with F_RDLCK when `shared`, F_WRLCK otherwise. Resolves the
//   descriptor (O_CLOEXEC; the caller owns it and releases the lock by closing
//   it) or -1 when another holder's lock conflicts.
//
// Why OFD locks: nova takes its lock with Python's fcntl.lockf(f, LOCK_EX),
// i.e. a traditional POSIX record lock (F_SETLK, whole file). OFD locks live
// in the same kernel lock table and conflict with POSIX locks of any other
// owner, locally and through NFS (the Linux NFS client sends both as NLM/NFSv4
// byte-range locks). Unlike POSIX locks they belong to the open file, not the
// process: two holders in this process conflict with each other, and closing
// some other descriptor of the same file elsewhere in the process does not
// silently drop the lock (the POSIX rule).
//
// Never blocks: F_OFD_SETLKW would park a thread until the holder lets go,
// could not be aborted, and would starve the thread pool. The caller polls,
// with backoff, as fasteners does.
//
// After locking, the path must still name the file that was locked: another
// process may have removed the lock file (oslo's remove_external_lock_file,
// nova's image cache manager) between our open and our fcntl, and a lock on
// an unlinked file excludes nobody. Then the attempt starts over (a few
// times, then it reports busy so the caller backs off).
//
// Runs on the addon's executor threads, not libuv's pool: on NFS each attempt
// is a round trip to the server, and a slow server must not hold up Node's fs.
#include "fsutil/lock.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <string>

#include "common/args.h"
#include "common/pool_worker.h"

namespace ib {

namespace {

constexpr int kBusy = -1;
constexpr int kAttempts = 5;  // replaced-file retries before reporting busy

class FileLockTryWorker : public PoolWorker {
 public:
  explicit FileLockTryWorker(const Napi::CallbackInfo& info) : PoolWorker(info.Env()) {
    path_ = ArgString(info, 0, "path");
    Napi::Value shared = info[1];
    if (!shared.IsBoolean()) ThrowArgError(info.Env(), "a boolean", "shared", shared);
    shared_ = shared.As<Napi::Boolean>().Value();
    context_.path = path_;
  }

 private:
  // Executor thread.
  void Execute() override {
    for (int attempt = 0; attempt < kAttempts; attempt++) {
      int fd = ::open(path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0666);
      if (fd < 0) {
        Fail(-errno, "open");
        return;
      }
      Outcome outcome = Lock(fd);
      if (outcome == Outcome::kHeld) {
        result_ = fd;  // JavaScript owns it now and closes it to release the lock
        return;
      }
      ::close(fd);
      if (outcome != Outcome::kReplaced) return;
    }
    result_ = kBusy;
  }

  enum class Outcome { kHeld, kBusy, kReplaced, kFailed };

  // Executor thread: one non-blocking attempt on the open file `fd`.
  Outcome Lock(int fd) {
    struct flock lock = {};
    lock.l_type = shared_ ? F_RDLCK : F_WRLCK;
    lock.l_whence = SEEK_SET;
    lock.l_start = 0;
    lock.l_len = 0;  // to the end of the file, however large it grows
    int r;
    do {
      r = ::fcntl(fd, F_OFD_SETLK, &lock);
    } while (r < 0 && errno == EINTR);
    if (r < 0) {
      if (errno == EAGAIN || errno == EACCES) return Outcome::kBusy;
      Fail(-errno, "fcntl", "F_OFD_SETLK");
      return Outcome::kFailed;
    }
    struct stat held, named;
    if (::fstat(fd, &held) < 0) {
      Fail(-errno, "fstat");
      return Outcome::kFailed;
    }
    if (::stat(path_.c_str(), &named) < 0) {
      if (errno == ENOENT) return Outcome::kReplaced;  // removed under us: lock the new one
      Fail(-errno, "stat");
      return Outcome::kFailed;
    }
    if (held.st_dev != named.st_dev || held.st_ino != named.st_ino) return Outcome::kReplaced;
    return Outcome::kHeld;
  }

  Napi::Value Resolve(Napi::Env env) override { return Napi::Number::New(env, result_); }

  std::string path_;
  bool shared_ = false;
  int result_ = kBusy;
};

Napi::Value FileLockTry(const Napi::CallbackInfo& info) {
  auto* worker = new FileLockTryWorker(info);
  return worker->QueuePromise();
}

}  // namespace

void InitFileLock(Napi::Env env, Napi::Object exports) {
  exports.Set("fileLockTry", Napi::Function::New(env, FileLockTry, "fileLockTry"));
}

}  // namespace ib

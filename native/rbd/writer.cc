// An image held open for writing from JavaScript, for streaming sources (an
// image service download) that are not a local file.
//
//   rbdWriterOpen(h, pool, image) -> Promise<writer>     rbd_open (worker thread)
//   rbdWriterWrite(writer, offset, bytes, { skipZeros }) -> Promise<{ written, skipped }>
//     rbd_aio_write of each non-zero 64 KiB run of `bytes` (all of it without
//     skipZeros), submitted on the main thread; librbd completes them on its
//     own threads, which come back to JS only through the writer's
//     thread-safe function. `bytes` must not change until the promise settles.
//   rbdWriterClose(writer) -> Promise<void>              waits for the writes
//     in flight, rbd_flush, rbd_close (worker thread). Idempotent.
//
// The writer holds a claim on the connection (ClusterState::Acquire) from
// open to close, so the connection cannot shut down under an open image.
// Released by close, by the finalizer (closes off the main thread) or by the
// env cleanup hook (closes in place, bounded).
#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>

#include "common/addon_data.h"
#include "common/executor.h"
#include "rbd/image_worker.h"

namespace ib {

namespace {

constexpr uint64_t kWriterZeroGranule = 64 << 10;

bool AllZeroBytes(const uint8_t* p, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (p[i] != 0) return false;
  return true;
}

// What the JS handle, its writes in flight and the close share.
struct WriterCore {
  std::shared_ptr<ClusterState> state;
  ErrorContext context;
  rbd_image_t image = nullptr;  // owned from open until closed
  std::mutex mutex;
  std::condition_variable idle;
  size_t in_flight = 0;  // aio writes submitted and not completed
  bool closing = false;  // main thread: no new writes

  void Started(size_t n) {
    std::lock_guard<std::mutex> guard(mutex);
    in_flight += n;
  }
  void Finished() {
    std::lock_guard<std::mutex> guard(mutex);
    if (--in_flight == 0) idle.notify_all();
  }
  // Waits for the writes in flight (at most `bound`), then flushes, closes the
  // image and releases the claim. Any thread but librbd's. False when the
  // bound passed first (the image and the claim are abandoned then).
  bool Close(std::chrono::milliseconds bound, int* result) {
    std::unique_lock<std::mutex> lock(mutex);
    auto none = [this] { return in_flight == 0; };
    if (bound == std::chrono::milliseconds::max()) {
      idle.wait(lock, none);
    } else if (!idle.wait_for(lock, bound, none)) {
      return false;
    }
    if (image == nullptr) return true;
    rbd_image_t closing_image = image;
    image = nullptr;
    lock.unlock();
    int r = rbd_flush(closing_image);
    int c = rbd_close(closing_image);
    if (result != nullptr) *result = r < 0 ? r : c;
    state->Release();
    return true;
  }
};

struct PendingWrite;
void DeliverWrite(Napi::Env env, Napi::Function, void*, PendingWrite* pending);
using WriteTsfn = Napi::TypedThreadSafeFunction<void, PendingWrite, &DeliverWrite>;

// One rbdWriterWrite call: its aio runs, their outcome, and what JS must keep alive.
struct PendingWrite {
  std::shared_ptr<WriterCore> core;
  Napi::Promise::Deferred deferred;
  Napi::ObjectReference writer;        // the JS handle, kept alive while writes are in flight
  Napi::Reference<Napi::Value> bytes;  // the caller's buffer, read by librbd until completion
  WriteTsfn tsfn;
  std::atomic<int> remaining{1};  // aio runs not completed, plus the submitter's own hold
  std::atomic<int> error{0};      // the first negative return
  uint64_t offset = 0, written = 0, skipped = 0;
  std::string error_syscall = "rbd_aio_write";

  explicit PendingWrite(Napi::Env env) : deferred(Napi::Promise::Deferred::New(env)) {}
  void Record(int r) {
    int expected = 0;
    if (r < 0) error.compare_exchange_strong(expected, r);
  }
};

}  // namespace

static const napi_type_tag kWriterTag = {0x2f7c1d9e4b6a4c13ULL, 0x8e5b7a3c9d1f6e24ULL};

class WriterHandle : public Napi::ObjectWrap<WriterHandle> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "RbdWriterHandle", std::vector<Napi::ClassPropertyDescriptor<WriterHandle>>{});
  }

  explicit WriterHandle(const Napi::CallbackInfo& info) : Napi::ObjectWrap<WriterHandle>(info), env_(info.Env()) {
    if (info.Length() != 1 || !info[0].IsExternal())
      throw Napi::TypeError::New(info.Env(), "RbdWriterHandle is created by rbdWriterOpen()");
    core_ = *info[0].As<Napi::External<std::shared_ptr<WriterCore>>>().Data();
    NAPI_THROW_IF_FAILED_VOID(env_, napi_type_tag_object(env_, info.This(), &kWriterTag));
    tsfn_ = WriteTsfn::New(env_, "imagebackend:rbdWriter", 0, 1);
    tsfn_.Unref(env_);
    napi_add_env_cleanup_hook(env_, CleanupHook, this);
  }

  // Finalizer: no write can be in flight (each holds a reference to this
  // object), so the image is closed off the main thread and nothing waits.
  ~WriterHandle() override {
    napi_remove_env_cleanup_hook(env_, CleanupHook, this);
    ReleaseTsfn();
    std::shared_ptr<WriterCore> core = std::move(core_);
    if (core && !closed_) Executor::Shared().Submit([core] { core->Close(std::chrono::milliseconds::max(), nullptr); });
  }

  static WriterHandle* From(const Napi::CallbackInfo& info, size_t i) {
    Napi::Value v = info[i];
    bool tagged = false;
    if (v.IsObject()) napi_check_object_type_tag(info.Env(), v, &kWriterTag, &tagged);
    if (!tagged) ThrowArgError(info.Env(), "an RBD writer handle", "writer", v);
    return Unwrap(v.As<Napi::Object>());
  }

  Napi::Value Write(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    uint64_t offset = ArgUint64(info, 1, "offset");
    Napi::Value bytes = info[2];
    if (!bytes.IsTypedArray() || bytes.As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array)
      ThrowArgError(env, "a Uint8Array or Buffer", "bytes", bytes);
    bool skip_zeros = OptBool(ArgOptions(info, 3), "skipZeros", true);
    Napi::Uint8Array array = bytes.As<Napi::Uint8Array>();
    const uint8_t* data = array.Data();
    size_t length = array.ElementLength();

    auto* pending = new PendingWrite(env);
    Napi::Promise promise = pending->deferred.Promise();
    pending->core = core_;
    pending->offset = offset;
    Failure refused;
    if (closed_ || core_->closing) {
      refused = {-EBADF, "rbd_aio_write", "the writer is closed", ""};
    } else if (core_->state->aborting()) {
      refused = {-ECANCELED, "rbd_aio_write", "the connection is shutting down", ""};
    }
    if (refused) {
      pending->deferred.Reject(MakeError(env, refused, core_->context).Value());
      delete pending;
      return promise;
    }
    pending->writer = Napi::Persistent(info[0].As<Napi::Object>());
    pending->bytes = Napi::Persistent(bytes);
    pending->tsfn = tsfn_;
    if (pending_js_++ == 0) tsfn_.Ref(env);

    // One aio per run of non-zero granules (a fresh image reads zeros).
    size_t pos = 0;
    while (pos < length) {
      size_t granule = std::min<size_t>(kWriterZeroGranule, length - pos);
      if (skip_zeros && AllZeroBytes(data + pos, granule)) {
        pending->skipped += granule;
        pos += granule;
        continue;
      }
      size_t end = pos + granule;
      while (end < length) {
        size_t next = std::min<size_t>(kWriterZeroGranule, length - end);
        if (skip_zeros && AllZeroBytes(data + end, next)) break;
        end += next;
      }
      rbd_completion_t c = nullptr;
      int r = rbd_aio_create_completion(pending, OnComplete, &c);
      if (r == 0) {
        pending->remaining++;
        core_->Started(1);
        r = rbd_aio_write(core_->image, offset + pos, end - pos, reinterpret_cast<const char*>(data + pos), c);
        if (r < 0) {
          rbd_aio_release(c);
          core_->Finished();
          pending->remaining--;
        }
      }
      if (r < 0) {
        pending->Record(r);
        break;
      }
      pending->written += end - pos;
      pos = end;
    }
    // The submitter's hold: the last of it and the completions delivers.
    if (--pending->remaining == 0) Settle(env, pending);
    return promise;
  }

  Napi::Value Close(const Napi::CallbackInfo& info);

  // Main thread: one write has settled.
  void Done(Napi::Env env) {
    if (--pending_js_ == 0 && !tsfn_released_) tsfn_.Unref(env);
  }

  static void Settle(Napi::Env env, PendingWrite* pending) {
    std::unique_ptr<PendingWrite> owned(pending);
    WriterHandle* self = Unwrap(owned->writer.Value());
    try {
      Napi::HandleScope scope(env);
      int err = owned->error.load();
      if (err < 0) {
        Failure failure{err, owned->error_syscall, "at offset " + std::to_string(owned->offset), ""};
        owned->deferred.Reject(MakeError(env, failure, owned->core->context).Value());
      } else {
        Napi::Object out = Napi::Object::New(env);
        out.Set("written", FromUint64(env, owned->written));
        out.Set("skipped", FromUint64(env, owned->skipped));
        owned->deferred.Resolve(out);
      }
    } catch (const Napi::Error&) {
    }
    self->Done(env);
  }

 private:
  // librbd's thread: record the outcome; the last completion hands the write
  // to the main thread. Nothing here touches N-API but the thread-safe call.
  static void OnComplete(rbd_completion_t c, void* arg) {
    auto* pending = static_cast<PendingWrite*>(arg);
    pending->Record(static_cast<int>(rbd_aio_get_return_value(c)));
    rbd_aio_release(c);
    std::shared_ptr<WriterCore> core = pending->core;
    bool last = --pending->remaining == 0;
    // Delivered after the count drops so Close() never waits on a write the
    // main thread is about to settle; `core` keeps the state alive meanwhile.
    if (last && pending->tsfn.NonBlockingCall(pending) != napi_ok) {
      // The environment is gone: nobody can settle it; keep the leak small.
      pending->bytes.SuppressDestruct();
      pending->writer.SuppressDestruct();
    }
    core->Finished();
  }

  // Env teardown: close in place, bounded; abandon when librbd does not return.
  static void CleanupHook(void* arg) {
    auto* self = static_cast<WriterHandle*>(arg);
    self->closed_ = true;
    bool closed = true;
    if (self->core_) {
      self->core_->closing = true;
      closed = self->core_->Close(self->core_->state->TeardownBound(), nullptr);
    }
    // Writes librbd never completed would still call the thread-safe
    // function: then it is left to the environment's teardown, not released.
    if (closed) self->ReleaseTsfn();
    self->tsfn_released_ = true;
  }

  void ReleaseTsfn() {
    if (!tsfn_released_) tsfn_.Release();
    tsfn_released_ = true;
  }

  napi_env env_;
  std::shared_ptr<WriterCore> core_;
  WriteTsfn tsfn_;
  bool tsfn_released_ = false;
  bool closed_ = false;
  size_t pending_js_ = 0;  // main thread: writes not yet settled

  friend class WriterCloseWorker;
};

namespace {

void DeliverWrite(Napi::Env env, Napi::Function, void*, PendingWrite* pending) {
  if (pending == nullptr) return;
  if (env == nullptr) {  // teardown: the references die with the environment
    pending->bytes.SuppressDestruct();
    pending->writer.SuppressDestruct();
    return;
  }
  WriterHandle::Settle(env, pending);
}

}  // namespace

// rbdWriterOpen: a claim on the connection and rbd_open, on a worker thread.
class WriterOpenWorker : public ImageWorker {
 public:
  explicit WriterOpenWorker(const Napi::CallbackInfo& info) : ImageWorker(info, "rbdWriterOpen") {}

 private:
  void Run() override {
    rados_ioctx_t ioctx;
    if (!IoCtx(context_.pool, &ioctx)) return;
    core_ = std::make_shared<WriterCore>();
    core_->state = state_;
    core_->context = context_;
    if (!state_->Acquire()) {
      Fail(-ESHUTDOWN, "rados_shutdown", "the cluster connection is closed");
      return;
    }
    int r = rbd_open(ioctx, context_.image.c_str(), &core_->image, nullptr);
    if (r < 0) {
      core_->image = nullptr;
      state_->Release();
      Fail(r, "rbd_open");
    }
  }
  Napi::Value Resolve(Napi::Env env) override {
    std::shared_ptr<WriterCore> core = std::move(core_);
    return GetAddonData(env).writer_class.New({Napi::External<std::shared_ptr<WriterCore>>::New(env, &core)});
  }
  std::shared_ptr<WriterCore> core_;
};

// rbdWriterClose: waits for the writes in flight, flushes, closes.
class WriterCloseWorker : public PoolWorker {
 public:
  WriterCloseWorker(Napi::Env env, std::shared_ptr<WriterCore> core) : PoolWorker(env), core_(std::move(core)) {
    context_ = core_->context;
  }

 private:
  void Execute() override {
    int r = 0;
    core_->Close(std::chrono::milliseconds::max(), &r);
    if (r < 0) Fail(r, "rbd_close");
  }
  void Abandon() override { core_.reset(); }
  std::shared_ptr<WriterCore> core_;
};

Napi::Value WriterHandle::Close(const Napi::CallbackInfo& info) {
  if (closed_) {
    auto deferred = Napi::Promise::Deferred::New(info.Env());
    deferred.Resolve(info.Env().Undefined());
    return deferred.Promise();
  }
  closed_ = true;
  core_->closing = true;
  return (new WriterCloseWorker(info.Env(), core_))->QueuePromise();
}

static Napi::Value WriterWrite(const Napi::CallbackInfo& info) { return WriterHandle::From(info, 0)->Write(info); }
static Napi::Value WriterClose(const Napi::CallbackInfo& info) { return WriterHandle::From(info, 0)->Close(info); }

void InitWriter(Napi::Env env, Napi::Object exports) {
  GetAddonData(env).writer_class = Napi::Persistent(WriterHandle::Define(env));
  exports.Set("rbdWriterOpen", Napi::Function::New(env, Start<WriterOpenWorker>, "rbdWriterOpen"));
  exports.Set("rbdWriterWrite", Napi::Function::New(env, WriterWrite, "rbdWriterWrite"));
  exports.Set("rbdWriterClose", Napi::Function::New(env, WriterClose, "rbdWriterClose"));
}

}  // namespace ib

// Base of operations on one RBD image: carries pool/image/snapshot (also the
// error context) and opens the image on the worker thread.
#pragma once

#include <rbd/librbd.h>

#include "common/args.h"
#include "rbd/cluster.h"
#include "rbd/names.h"

namespace ib {

// Closes an open image when the operation ends, whatever path it takes.
class ImageRef {
 public:
  ImageRef() = default;
  ~ImageRef() { Reset(); }
  ImageRef(const ImageRef&) = delete;
  ImageRef& operator=(const ImageRef&) = delete;
  rbd_image_t* out() { return &image_; }
  rbd_image_t get() const { return image_; }
  int Reset() {
    int r = 0;
    if (image_ != nullptr) r = rbd_close(image_);
    image_ = nullptr;
    return r;
  }

 private:
  rbd_image_t image_ = nullptr;
};

// rbd_image_options_t with RAII.
class ImageOptions {
 public:
  ImageOptions() { rbd_image_options_create(&opts_); }
  ~ImageOptions() { rbd_image_options_destroy(opts_); }
  ImageOptions(const ImageOptions&) = delete;
  ImageOptions& operator=(const ImageOptions&) = delete;
  // 0 leaves librbd's default (features from rbd_default_features, order 22).
  void Set(int key, uint64_t value) {
    if (value != 0) rbd_image_options_set_uint64(opts_, key, value);
  }
  rbd_image_options_t get() const { return opts_; }

 private:
  rbd_image_options_t opts_ = nullptr;
};

// Layout knobs accepted by create/clone/import: { features, order, stripeUnit, stripeCount }.
struct ImageLayout {
  uint64_t features = 0, order = 0, stripe_unit = 0, stripe_count = 0;
  static ImageLayout From(const Napi::Object& opts) {
    ImageLayout layout;
    layout.features = OptUint64(opts, "features", 0);
    layout.order = OptUint64(opts, "order", 0);
    layout.stripe_unit = OptUint64(opts, "stripeUnit", 0);
    layout.stripe_count = OptUint64(opts, "stripeCount", 0);
    return layout;
  }
  void Apply(ImageOptions& options) const {
    options.Set(RBD_IMAGE_OPTION_FEATURES, features);
    options.Set(RBD_IMAGE_OPTION_ORDER, order);
    options.Set(RBD_IMAGE_OPTION_STRIPE_UNIT, stripe_unit);
    options.Set(RBD_IMAGE_OPTION_STRIPE_COUNT, stripe_count);
  }
};

class ImageWorker : public ClusterWorker {
 public:
  // Arguments: (handle, pool, image, ...).
  ImageWorker(const Napi::CallbackInfo& info, const char* name) : ClusterWorker(info, name) {
    context_.pool = ArgRbdName(info, 1, "pool", "pool");
    context_.image = ArgRbdName(info, 2, "image", "image");
  }

 protected:
  // Worker thread. Opens the image (at context_.snapshot when set).
  bool Open(ImageRef& image, bool read_only) {
    rados_ioctx_t ioctx;
    if (!IoCtx(context_.pool, &ioctx)) return false;
    const char* snap = context_.snapshot.empty() ? nullptr : context_.snapshot.c_str();
    int r = read_only ? rbd_open_read_only(ioctx, context_.image.c_str(), image.out(), snap)
                      : rbd_open(ioctx, context_.image.c_str(), image.out(), snap);
    return r < 0 ? Fail(r, read_only ? "rbd_open_read_only" : "rbd_open") : true;
  }
  // Main thread: an optional snapshot name at argument i.
  void OptSnapshot(const Napi::CallbackInfo& info, size_t i) {
    if (!info[i].IsUndefined() && !info[i].IsNull()) context_.snapshot = ArgRbdName(info, i, "snapshot", "snapshot");
  }
};

// Main thread: construct worker W from the call's arguments and return its promise.
template <typename W>
Napi::Value Start(const Napi::CallbackInfo& info) {
  return (new W(info))->QueuePromise();
}

void InitImageOps(Napi::Env env, Napi::Object exports);
void InitSnapshotOps(Napi::Env env, Napi::Object exports);
void InitTransfer(Napi::Env env, Napi::Object exports);
void InitWriter(Napi::Env env, Napi::Object exports);

}  // namespace ib

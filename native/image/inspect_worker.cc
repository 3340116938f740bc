// imageInspect(path, { followBackingChain?: boolean | { maxDepth } }) -> plain object.
//
// Thread use: the constructor copies arguments on the main thread, Execute()
// runs the plain C++ parser (inspect.h) on a pool thread, Resolve() builds the
// result object on the main thread.
//
// Errors: a failed open/fstat/pread rejects with the system error (code
// ENOENT, syscall 'open', ...). A malformed image rejects with errno EINVAL,
// syscall 'inspect' and the parser's reason in `detail`; src/image/inspect.ts
// maps exactly that pair to ImageInvalidError (code IMAGE_INVALID).
#include <errno.h>

#include <new>

#include "common/args.h"
#include "common/promise_worker.h"
#include "image/image.h"
#include "image/inspect.h"

namespace ib {

using image::ImageInfo;

namespace {

void SetString(Napi::Object o, const char* key, const std::string& v) {
  if (!v.empty()) o.Set(key, v);
}

Napi::Array Strings(Napi::Env env, const std::vector<std::string>& v) {
  Napi::Array out = Napi::Array::New(env, v.size());
  for (size_t i = 0; i < v.size(); i++) out.Set(i, v[i]);
  return out;
}

Napi::Object FormatSpecific(Napi::Env env, const ImageInfo& info) {
  Napi::Object d = Napi::Object::New(env);
  if (info.format == "qcow2") {
    d.Set("version", info.qcow2_version);
    d.Set("compat", info.qcow2_version == 2 ? "0.10" : "1.1");
    d.Set("refcountBits", info.refcount_bits);
    d.Set("lazyRefcounts", info.lazy_refcounts);
    d.Set("corrupt", info.corrupt);
    d.Set("extendedL2", info.extended_l2);
    d.Set("compressionType", info.compression_type);
    d.Set("incompatibleFeatures", FromUint64(env, info.incompatible_features));
    d.Set("compatibleFeatures", FromUint64(env, info.compatible_features));
    d.Set("autoclearFeatures", FromUint64(env, info.autoclear_features));
    d.Set("snapshots", info.nb_snapshots);
    d.Set("bitmaps", info.nb_bitmaps);
    SetString(d, "encryptionFormat", info.encryption_format);
    if (!info.data_file.empty()) {
      d.Set("dataFile", info.data_file);
      d.Set("dataFileRaw", info.data_file_raw);
    }
  } else if (info.format == "vmdk") {
    SetString(d, "createType", info.create_type);
    SetString(d, "descriptorCreateType", info.descriptor_create_type);
    if (info.vmdk_version != 0) d.Set("version", info.vmdk_version);
    Napi::Array extents = Napi::Array::New(env, info.extents.size());
    for (size_t i = 0; i < info.extents.size(); i++) {
      const auto& e = info.extents[i];
      Napi::Object x = Napi::Object::New(env);
      x.Set("access", e.access);
      x.Set("sectors", FromUint64(env, e.sectors));
      x.Set("type", e.type);
      SetString(x, "filename", e.filename);
      x.Set("offset", FromUint64(env, e.offset));
      extents.Set(i, x);
    }
    d.Set("extents", extents);
  } else if (info.format == "vpc") {
    d.Set("subformat", info.subformat);
    d.Set("creator", info.creator);
  } else if (info.format == "vhdx") {
    d.Set("subformat", info.subformat);
    d.Set("logicalSectorSize", info.logical_sector_size);
  } else if (info.format == "vdi") {
    d.Set("subformat", info.subformat);
  } else if (info.format == "luks") {
    d.Set("cipherName", info.cipher_name);
    d.Set("cipherMode", info.cipher_mode);
    d.Set("hashSpec", info.hash_spec);
    d.Set("payloadOffset", FromUint64(env, info.payload_offset));
  }
  return d;
}

Napi::Object ToJs(Napi::Env env, const std::string& path, const ImageInfo& info) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("format", info.format);
  o.Set("virtualSize", FromUint64(env, info.virtual_size));
  o.Set("actualSize", FromUint64(env, info.actual_size));
  o.Set("fileSize", FromUint64(env, info.file_size));
  if (info.cluster_size != 0) o.Set("clusterSize", FromUint64(env, info.cluster_size));
  if (!info.backing_file.empty()) {
    o.Set("backingFile", info.backing_file);
    o.Set("fullBackingFile", image::CombineBackingPath(path, info.backing_file));
  }
  SetString(o, "backingFormat", info.backing_format);
  if (!info.data_file.empty()) {
    o.Set("dataFile", info.data_file);
    o.Set("dataFileRaw", info.data_file_raw);
  }
  o.Set("encrypted", info.encrypted);
  o.Set("dirty", info.dirty);
  o.Set("corrupt", info.corrupt);
  if (info.format == "qcow2") {
    o.Set("compressionType", info.compression_type);
    o.Set("extendedL2", info.extended_l2);
  }
  o.Set("contentHints", Strings(env, info.content_hints));
  Napi::Object fs = Napi::Object::New(env);
  fs.Set("type", info.format);
  fs.Set("data", FormatSpecific(env, info));
  o.Set("formatSpecific", fs);
  Napi::Object safety = Napi::Object::New(env);
  safety.Set("safe", info.unsafe_reasons.empty());
  safety.Set("reasons", Strings(env, info.unsafe_reasons));
  o.Set("safety", safety);
  return o;
}

constexpr uint64_t kDefaultMaxDepth = 16;
constexpr uint64_t kMaxMaxDepth = 256;

class InspectWorker : public PromiseWorker {
 public:
  explicit InspectWorker(const Napi::CallbackInfo& info) : PromiseWorker(info.Env(), "imageInspect") {
    path_ = ArgString(info, 0, "path");
    context_.path = path_;
    Napi::Object opts = ArgOptions(info, 1);
    Napi::Value follow = opts.Get("followBackingChain");
    if (follow.IsBoolean()) {
      follow_ = follow.As<Napi::Boolean>().Value();
    } else if (follow.IsObject()) {
      follow_ = true;
      max_depth_ = OptUint64(follow.As<Napi::Object>(), "maxDepth", kDefaultMaxDepth);
      if (max_depth_ > kMaxMaxDepth)
        ThrowArgError(info.Env(), "an integer up to 256", "maxDepth", follow.As<Napi::Object>().Get("maxDepth"));
    } else if (!follow.IsUndefined() && !follow.IsNull()) {
      ThrowArgError(info.Env(), "a boolean or { maxDepth }", "followBackingChain", follow);
    }
  }

 protected:
  // Pool thread: plain C++ only.
  void Execute() override {
    try {
      info_ = image::InspectPath(path_);
      if (follow_) chain_ = image::FollowBackingChain(path_, info_, static_cast<unsigned>(max_depth_));
    } catch (const image::IoFailure& e) {
      context_.path = e.path;
      Fail(-e.err, e.syscall, e.detail);
    } catch (const image::InvalidImage& e) {
      Fail(-EINVAL, "inspect", e.reason);
    } catch (const std::bad_alloc&) {
      Fail(-ENOMEM, "inspect");
    }
  }

  Napi::Value Resolve(Napi::Env env) override {
    Napi::Object out = ToJs(env, path_, info_);
    if (follow_) {
      Napi::Array chain = Napi::Array::New(env, chain_.size());
      for (size_t i = 0; i < chain_.size(); i++) {
        Napi::Object link = ToJs(env, chain_[i].path, chain_[i].info);
        link.Set("path", chain_[i].path);
        chain.Set(i, link);
      }
      out.Set("chain", chain);
    }
    return out;
  }

 private:
  std::string path_;
  bool follow_ = false;
  uint64_t max_depth_ = kDefaultMaxDepth;
  ImageInfo info_;
  std::vector<image::ChainLink> chain_;
};

Napi::Value Inspect(const Napi::CallbackInfo& info) { return (new InspectWorker(info))->QueuePromise(); }

}  // namespace

Napi::Value Qcow2CreateOverlay(const Napi::CallbackInfo& info);  // qcow2_overlay.cc

void InitImage(Napi::Env env, Napi::Object exports) {
  exports.Set("imageInspect", Napi::Function::New(env, Inspect, "imageInspect"));
  exports.Set("qcow2CreateOverlay", Napi::Function::New(env, Qcow2CreateOverlay, "qcow2CreateOverlay"));
}

}  // namespace ib

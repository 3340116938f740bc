// qcow2CreateOverlay(path, { backingFile, backingFormat?, size?, clusterSize?, extendedL2? })
//
// clusterSize defaults to the base's when the base is qcow2 (as nova's
// create_cow_image does), else to 64 KiB.
//
// Writes a new qcow2 v3 image whose reads fall through to backingFile, the
// layout computed by qcow2_layout.cc. The file is created with O_EXCL (never
// clobbers) and removed again if any step fails. The backing file is
// inspected (resolved relative to the overlay's directory, as qemu does) for
// the default size and format, and so that a missing base fails here rather
// than at boot.
//
// Thread use: arguments copied on the main thread; inspection, layout and
// writes on a pool thread. Errors: system errors as usual (open/pwrite/...),
// an unusable argument (e.g. a name too long for the cluster) as EINVAL with
// syscall 'qcow2_overlay' and a detail; a malformed base as EINVAL/'inspect'.
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <new>
#include <stdexcept>

#include "common/args.h"
#include "common/fd.h"
#include "common/promise_worker.h"
#include "image/image.h"
#include "image/inspect.h"
#include "image/qcow2_layout.h"

namespace ib {

namespace {

class OverlayWorker : public PromiseWorker {
 public:
  explicit OverlayWorker(const Napi::CallbackInfo& info) : PromiseWorker(info.Env(), "qcow2CreateOverlay") {
    path_ = ArgString(info, 0, "path");
    context_.path = path_;
    Napi::Object opts = ArgOptions(info, 1);
    params_.backing_file = OptString(opts, "backingFile");
    if (params_.backing_file.empty())
      ThrowArgError(info.Env(), "a non-empty string", "backingFile", opts.Get("backingFile"));
    params_.backing_format = OptString(opts, "backingFormat");
    size_ = OptUint64(opts, "size", 0);
    has_size_ = !opts.Get("size").IsUndefined() && !opts.Get("size").IsNull();
    has_cluster_ = !opts.Get("clusterSize").IsUndefined() && !opts.Get("clusterSize").IsNull();
    const uint64_t cluster = OptUint64(opts, "clusterSize", kDefaultCluster);
    if (!ValidCluster(cluster))
      ThrowArgError(info.Env(), "a power of two in 512..2097152", "clusterSize", opts.Get("clusterSize"));
    params_.cluster_bits = static_cast<uint32_t>(__builtin_ctzll(cluster));
    params_.extended_l2 = OptBool(opts, "extendedL2", false);
  }

 protected:
  void Execute() override {
    try {
      const std::string base = image::CombineBackingPath(path_, params_.backing_file);
      image::ImageInfo info = image::InspectPath(base);
      if (params_.backing_format.empty()) params_.backing_format = info.format;
      // nova's create_cow_image passes the base's cluster size on: a qcow2
      // overlay of a qcow2 base gets the base's clusters unless told otherwise.
      if (!has_cluster_ && info.format == "qcow2" && ValidCluster(info.cluster_size))
        params_.cluster_bits = static_cast<uint32_t>(__builtin_ctzll(info.cluster_size));
      // Like qemu-img create: the size defaults to the base's, rounded up to whole sectors.
      const uint64_t size = has_size_ ? size_ : info.virtual_size;
      params_.size = (size + 511) / 512 * 512;
      Write(image::BuildQcow2Overlay(params_));
    } catch (const image::IoFailure& e) {
      context_.path = e.path;
      Fail(-e.err, e.syscall, e.detail);
    } catch (const image::InvalidImage& e) {
      Fail(-EINVAL, "inspect", "backing file: " + e.reason);
    } catch (const std::invalid_argument& e) {
      Fail(-EINVAL, "qcow2_overlay", e.what());
    } catch (const std::bad_alloc&) {
      Fail(-ENOMEM, "qcow2_overlay");
    }
  }

  Napi::Value Resolve(Napi::Env env) override {
    Napi::Object out = Napi::Object::New(env);
    out.Set("path", path_);
    out.Set("size", FromUint64(env, params_.size));
    out.Set("backingFormat", params_.backing_format);
    return out;
  }

 private:
  // Pool thread. Creates the file exclusively; any failure after creation removes it.
  void Write(const image::OverlayLayout& layout) {
    Fd fd;
    struct stat st;
    // O_EXCL: a new regular file or nothing (EEXIST for a FIFO or anything else there).
    int r = OpenFile(path_, O_WRONLY | O_CREAT | O_EXCL, 0644, FileKinds::kRegular, &fd, &st);
    if (r != 0 && fd.get() < 0) throw image::IoFailure{-r, "open", path_};
    int err = r == kWrongFileType ? EIO : -r;
    const char* syscall = "open";
    // The mode is explicit, not left to the umask: the in-process LVM runner
    // (liblvm2cmd) sets the process umask to 077 while a command runs.
    if (err == 0 && fchmod(fd.get(), 0644) != 0) {
      err = errno;
      syscall = "fchmod";
    }
    for (const auto& [offset, bytes] : layout.writes) {
      if (err != 0) break;
      r = PwriteAll(fd.get(), reinterpret_cast<const char*>(bytes.data()), bytes.size(), offset);
      if (r < 0) {
        err = -r;
        syscall = "pwrite";
      }
    }
    if (err == 0 && ftruncate(fd.get(), static_cast<off_t>(layout.file_size)) != 0) {
      err = errno;
      syscall = "ftruncate";
    }
    r = fd.Close();
    if (r < 0 && err == 0) {
      err = -r;
      syscall = "close";
    }
    if (err != 0) {
      unlink(path_.c_str());
      throw image::IoFailure{err, syscall, path_};
    }
  }

  static constexpr uint64_t kDefaultCluster = 65536;
  static bool ValidCluster(uint64_t c) { return image::IsPow2(c) && c >= 512 && c <= (2u << 20); }

  std::string path_;
  image::OverlayParams params_;
  uint64_t size_ = 0;
  bool has_size_ = false, has_cluster_ = false;
};

}  // namespace

Napi::Value Qcow2CreateOverlay(const Napi::CallbackInfo& info) { return (new OverlayWorker(info))->QueuePromise(); }

}  // namespace ib

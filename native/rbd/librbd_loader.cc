// Every librados/librbd function the addon calls, each bound at run time
// (native/dynlib/library.h). A function used anywhere in native/ must be
// listed here: test/unit/native-optional-libs.test.ts fails on an rbd_ or
// rados_ symbol the binary leaves undefined.
#include "rbd/librbd_loader.h"

#include "dynlib/library.h"

#define IB_LIBRBD_FUNCTIONS(X)     \
  X(rados_buffer_free)             \
  X(rados_cluster_fsid)            \
  X(rados_cluster_stat)            \
  X(rados_conf_get)                \
  X(rados_conf_read_file)          \
  X(rados_conf_set)                \
  X(rados_connect)                 \
  X(rados_create2)                 \
  X(rados_exec)                    \
  X(rados_ioctx_create)            \
  X(rados_ioctx_destroy)           \
  X(rados_ioctx_pool_stat)         \
  X(rados_mon_command)             \
  X(rados_shutdown)                \
  X(rados_stat)                    \
  X(rbd_aio_create_completion)     \
  X(rbd_aio_get_return_value)      \
  X(rbd_aio_read)                  \
  X(rbd_aio_release)               \
  X(rbd_aio_wait_for_complete)     \
  X(rbd_aio_write)                 \
  X(rbd_clone3)                    \
  X(rbd_close)                     \
  X(rbd_create4)                   \
  X(rbd_deep_copy)                 \
  X(rbd_flatten)                   \
  X(rbd_flush)                     \
  X(rbd_get_features)              \
  X(rbd_get_flags)                 \
  X(rbd_get_parent)                \
  X(rbd_get_size)                  \
  X(rbd_image_options_create)      \
  X(rbd_image_options_destroy)     \
  X(rbd_image_options_set_uint64)  \
  X(rbd_image_spec_list_cleanup)   \
  X(rbd_linked_image_spec_cleanup) \
  X(rbd_list2)                     \
  X(rbd_open)                      \
  X(rbd_open_read_only)            \
  X(rbd_remove)                    \
  X(rbd_rename)                    \
  X(rbd_resize2)                   \
  X(rbd_snap_create)               \
  X(rbd_snap_is_protected)         \
  X(rbd_snap_list)                 \
  X(rbd_snap_list_end)             \
  X(rbd_snap_protect)              \
  X(rbd_snap_remove)               \
  X(rbd_snap_rollback)             \
  X(rbd_snap_spec_cleanup)         \
  X(rbd_snap_unprotect)            \
  X(rbd_stat)                      \
  X(rbd_version)

IB_DYNLIB_DEFINE(IB_LIBRBD_FUNCTIONS, kLibrbdSlots)

namespace ib::rbd {

namespace {
// librados first: librbd needs it, and a missing librados is named as such.
const char* const kSonames[] = {"librados.so.2", "librbd.so.1", nullptr};
const dynlib::LibrarySpec kLibrbd{kSonames, kLibrbdSlots, sizeof(kLibrbdSlots) / sizeof(kLibrbdSlots[0]),
                                  "the Ceph client libraries (Debian/Ubuntu: apt-get install librbd1 librados2)"};
}  // namespace

bool EnsureLibrbd(std::string* error) { return dynlib::EnsureLoaded(kLibrbd, error); }

}  // namespace ib::rbd

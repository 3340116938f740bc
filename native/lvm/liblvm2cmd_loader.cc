// Every liblvm2cmd function the addon calls, bound at run time
// (native/dynlib/library.h); test/unit/native-optional-libs.test.ts fails on
// an lvm2_ symbol the binary leaves undefined.
#include "lvm/liblvm2cmd_loader.h"

#include "dynlib/library.h"

#define IB_LIBLVM2CMD_FUNCTIONS(X) \
  X(lvm2_exit)                     \
  X(lvm2_init)                     \
  X(lvm2_log_fn)                   \
  X(lvm2_run)

IB_DYNLIB_DEFINE(IB_LIBLVM2CMD_FUNCTIONS, kLiblvm2cmdSlots)

namespace ib::lvm {

namespace {
const char* const kSonames[] = {"liblvm2cmd.so.2.03", nullptr};
const dynlib::LibrarySpec kLiblvm2cmd{kSonames, kLiblvm2cmdSlots,
                                      sizeof(kLiblvm2cmdSlots) / sizeof(kLiblvm2cmdSlots[0]),
                                      "lvm2's command library (Debian/Ubuntu: apt-get install liblvm2cmd2.03)"};
}  // namespace

bool EnsureLiblvm2cmd(std::string* error) { return dynlib::EnsureLoaded(kLiblvm2cmd, error); }

}  // namespace ib::lvm

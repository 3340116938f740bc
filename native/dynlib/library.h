// Optional system libraries (librbd/librados, liblvm2cmd) opened at run time
// with dlopen, so a host without Ceph or lvm2 can still load the addon and use
// everything else (inspection, overlays, block devices, file backends).
//
// Each optional library's functions are listed once in an X-macro (see
// rbd_symbols.h, lvm2_symbols.h). For each listed function the addon itself
// defines a symbol of the same name: a two-instruction trampoline that jumps
// through a slot filled by dlsym. Call sites keep calling rbd_open() as
// declared in <rbd/librbd.h>; only the linker sees the difference (no -lrbd).
// Until the library is loaded every slot points at NotLoaded(), which aborts
// with a message naming the function: a call before EnsureLoaded() succeeded
// is a bug in this addon, never a user error.
#pragma once

#include <cstddef>
#include <string>

namespace ib::dynlib {

// One function to resolve: its name and the slot its trampoline jumps through.
struct Slot {
  const char* name;
  void** slot;
};

// A set of shared objects opened together (e.g. librados.so.2 then
// librbd.so.1) and the functions resolved from them.
struct LibrarySpec {
  const char* const* sonames;  // nullptr-terminated; opened in order
  const Slot* slots;
  size_t slot_count;
  const char* install_hint;  // "the Debian/Ubuntu packages librbd1 and librados2"
};

// Opens the libraries and fills every slot, once per process (thread-safe;
// the first outcome is kept). False with `error` describing what was missing
// and what to install.
bool EnsureLoaded(const LibrarySpec& spec, std::string* error);

// What every slot holds before loading: reports the call (a bug: callers
// must succeed in EnsureLoaded first) and aborts.
[[noreturn]] void NotLoaded();

}  // namespace ib::dynlib

// The slot of function NAME (a hidden global) and the trampoline defining the
// exported-to-the-addon symbol NAME. x86-64 and AArch64, the Linux targets the
// package builds for.
#define IB_DYNLIB_SLOT(NAME) ib_dynlib_slot_##NAME

// clang-format off
#if defined(__x86_64__)
#define IB_DYNLIB_TRAMPOLINE(NAME)                      \
  asm(".text\n"                                         \
      ".globl " #NAME "\n"                              \
      ".hidden " #NAME "\n"                             \
      ".type " #NAME ", @function\n"                    \
      #NAME ":\n"                                       \
      "  jmp *ib_dynlib_slot_" #NAME "(%rip)\n"         \
      ".size " #NAME ", .-" #NAME "\n");
#elif defined(__aarch64__)
#define IB_DYNLIB_TRAMPOLINE(NAME)                      \
  asm(".text\n"                                         \
      ".globl " #NAME "\n"                              \
      ".hidden " #NAME "\n"                             \
      ".type " #NAME ", %function\n"                    \
      #NAME ":\n"                                       \
      "  adrp x16, ib_dynlib_slot_" #NAME "\n"          \
      "  ldr x16, [x16, :lo12:ib_dynlib_slot_" #NAME "]\n" \
      "  br x16\n"                                      \
      ".size " #NAME ", .-" #NAME "\n");
#else
#error "imagebackend: no dlopen trampoline for this architecture"
#endif
// clang-format on

// Defines, for every function in LIST, its slot (initially NotLoaded) and its
// trampoline, and a Slot table named TABLE for EnsureLoaded.
#define IB_DYNLIB_DEFINE(LIST, TABLE) \
  extern "C" {                        \
  LIST(IB_DYNLIB_DEFINE_SLOT_)        \
  }                                   \
  LIST(IB_DYNLIB_TRAMPOLINE)          \
  static const ::ib::dynlib::Slot TABLE[] = {LIST(IB_DYNLIB_TABLE_ENTRY_)};
#define IB_DYNLIB_DEFINE_SLOT_(NAME) \
  __attribute__((visibility("hidden"))) void* IB_DYNLIB_SLOT(NAME) = reinterpret_cast<void*>(&::ib::dynlib::NotLoaded);
#define IB_DYNLIB_TABLE_ENTRY_(NAME) {#NAME, &IB_DYNLIB_SLOT(NAME)},

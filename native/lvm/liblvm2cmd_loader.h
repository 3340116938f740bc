// liblvm2cmd is opened at run time (native/dynlib/library.h): the in-process
// LVM runner's first command loads it.
#pragma once

#include <string>

namespace ib::lvm {

// Loads liblvm2cmd.so.2.03 and resolves the lvm2_* functions, once per
// process. False with `error` naming what is missing and the package to install.
bool EnsureLiblvm2cmd(std::string* error);

}  // namespace ib::lvm

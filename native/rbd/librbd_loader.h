// librados/librbd are opened at run time (native/dynlib/library.h): the first
// RBD operation of the process (connecting a cluster) loads them.
#pragma once

#include <string>

namespace ib::rbd {

// Loads librados.so.2 and librbd.so.1 and resolves every function the addon
// calls, once per process. False with `error` naming what is missing and the
// packages to install; callers turn that into a -ELIBACC failure.
bool EnsureLibrbd(std::string* error);

}  // namespace ib::rbd

// Image inspection and qcow2 overlay creation exported to JavaScript.
#pragma once

#include <napi.h>

namespace ib {

// imageInspect(path, options) and qcow2CreateOverlay(path, options).
void InitImage(Napi::Env env, Napi::Object exports);

}  // namespace ib

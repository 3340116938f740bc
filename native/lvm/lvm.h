// liblvm2cmd: lvm2 commands run inside this process.
//   lvm2Run(cmdline) -> { status, messages: [[level, text], ...] }
//     lvm2_run(handle, cmdline) on the one LVM thread (lvm_thread.h); status
//     is lvm2_run's return (1 = LVM2_COMMAND_SUCCEEDED), messages are what
//     lvm2_log_fn received at LVM2_LOG_PRINT or more important, in order.
// Not exposed: lvm2_init_threaded (the LVM thread is the only caller, so
// lvm2_init suffices), lvm2_disable_dmeventd_monitoring (the volumes this
// library makes are never monitored), lvm2_log_level (it does not filter
// what lvm2_log_fn receives; the LVM thread filters instead).
#pragma once

#include <napi.h>

namespace ib {

void InitLvm(Napi::Env env, Napi::Object exports);

}  // namespace ib

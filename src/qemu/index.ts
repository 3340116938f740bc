// The qemu-img runner: argv only, resource limits, timeout, AbortSignal, progress.
export { QemuImg, rbdFilename, type RbdSource, type RbdInfoOptions, type ConvertFromRbdOptions, type QemuImgOptions, type ConvertOptions, type CreateOptions, type InfoOptions, type ResizeOptions } from './QemuImg.js';
export { runQemuImg, DEFAULT_TIMEOUT_MS, type RunQemuImgOptions, type RunQemuImgResult } from './run.js';
export { DEFAULT_LIMITS, type ResourceLimits } from './limits.js';
export type { QemuImgInfo, QemuImgSnapshot } from './info.js';
export { supportsDirectIo } from './direct-io.js';
export { ProgressParser } from './progress.js';
export type { ExplicitBacking, Inspector } from './safety.js';

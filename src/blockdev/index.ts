// Block devices and raw files: size, zero/discard/random wipe, preallocation, streaming copy, growing an ext file system.
export { blockDeviceSize } from './size.js';
export { zeroRange, discardRange, overwriteRandom, type RangeOptions, type WipeOptions } from './wipe.js';
export { fallocateFile, type FallocateOptions } from './fallocate.js';
export { copyRawData, type CopyRawOptions, type CopyRawResult } from './copy.js';
export { growFilesystem, type GrowFilesystemOptions, type GrowFilesystemResult } from './grow-filesystem.js';

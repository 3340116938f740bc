// Block devices and raw files: size, zero/discard/random wipe, preallocation, streaming copy.
export { blockDeviceSize } from './size.js';
export { zeroRange, discardRange, overwriteRandom, type RangeOptions, type WipeOptions } from './wipe.js';
export { fallocateFile, type FallocateOptions } from './fallocate.js';
export { copyRawData, type CopyRawOptions, type CopyRawResult } from './copy.js';

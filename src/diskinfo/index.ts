// disk.info: each disk's format, recorded once and trusted afterwards.
export { DiskInfo, DISK_INFO_FILENAME, type DetectFormat, type DiskInfoOptions } from './DiskInfo.js';
export { DISK_FORMATS, isDiskFormat, type DiskFormat } from './formats.js';

// libvirt configuration: the guest disk object and its XML.
export {
  LibvirtDiskConfig,
  type DiskAuth,
  type DiskBus,
  type DiskCacheMode,
  type DiskDeviceType,
  type DiskDiscardMode,
  type DiskIoMode,
  type DiskSource,
  type LibvirtDiskConfigOptions,
  type NetworkHost,
} from './LibvirtDiskConfig.js';
export { ioTuneFromExtraSpecs, checkIoTune, IOTUNE_EXTRA_SPECS, IOTUNE_MAX, type IoTune } from './iotune.js';
export { XmlElement, escapeAttribute, escapeText, type XmlAttributeValue } from './XmlElement.js';
export { effectiveDriverIo, checkDiskConflicts, type DiskCombination } from './diskConflicts.js';

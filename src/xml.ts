/**
 * `imagebackend/xml`: the small, escaping XML builder behind
 * `LibvirtDiskConfig.toXml()`; `LibvirtDiskConfig.toElement` returns
 * one of its elements, to put a disk into a larger libvirt document.
 *
 * @example
 * ```ts
 * import { XmlElement } from 'imagebackend/xml';
 *
 * const devices = new XmlElement('devices');
 * devices.append(config.toElement());
 * console.log(devices.toString());
 * ```
 *
 * @module xml
 */
export { XmlElement, escapeAttribute, escapeText, type XmlAttributeValue } from './libvirt/XmlElement.js';

import { invalidArgument } from '../errors.js';

/** An attribute value; undefined attributes are left out. */
export type XmlAttributeValue = string | number | undefined;

const NAME = /^[A-Za-z_][A-Za-z0-9_.-]*$/;
// Characters XML 1.0 cannot carry at all, escaped or not (C0 controls but
// tab/newline/return, lone surrogates, U+FFFE/U+FFFF).
// eslint-disable-next-line no-control-regex
const FORBIDDEN = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * A minimal XML element builder for libvirt documents: attributes in insertion
 * order, child elements or one text node, escaping done once here. Values
 * that XML cannot represent (NUL and other control characters, lone
 * surrogates) are refused rather than silently altered.
 *
 * @example
 * ```ts
 * const disk = new XmlElement('disk', { type: 'file', device: 'disk' });
 * disk.append(new XmlElement('source', { file: '/var/lib/nova/instances/uuid/disk' }));
 * disk.toString(); // '<disk type="file" device="disk">\n  <source file="…"/>\n</disk>'
 * ```
 */
export class XmlElement {
  /** The element's tag name, e.g. `disk`; checked to be a valid XML name. */
  readonly name: string;
  readonly #attributes: Array<[string, string]> = [];
  readonly #children: XmlElement[] = [];
  #text: string | undefined;

  constructor(name: string, attributes: Record<string, XmlAttributeValue> = {}) {
    if (!NAME.test(name)) throw invalidArgument('an XML element name', 'name', name);
    this.name = name;
    for (const [key, value] of Object.entries(attributes)) this.attribute(key, value);
  }

  /**
   * An element holding only text, e.g. `<serial>abc</serial>`.
   *
   * @example
   * ```ts
   * XmlElement.text('read_bytes_sec', 10485760).toString(); // '<read_bytes_sec>10485760</read_bytes_sec>'
   * ```
   */
  static text(name: string, text: string | number): XmlElement {
    const element = new XmlElement(name);
    element.#text = checkText(String(text), name);
    return element;
  }

  /**
   * Sets an attribute (undefined: leaves it out); returns this element.
   *
   * @example
   * ```ts
   * new XmlElement('target').attribute('dev', 'vda').attribute('bus', 'virtio');
   * ```
   */
  attribute(name: string, value: XmlAttributeValue): this {
    if (!NAME.test(name)) throw invalidArgument('an XML attribute name', 'name', name);
    if (value === undefined) return this;
    this.#attributes.push([name, checkText(String(value), name)]);
    return this;
  }

  /**
   * Appends child elements (undefined ones are skipped); returns this element.
   *
   * @example
   * ```ts
   * disk.append(driver, source, readonly ? new XmlElement('readonly') : undefined);
   * ```
   */
  append(...children: Array<XmlElement | undefined>): this {
    if (this.#text !== undefined) throw invalidArgument('an element without text', 'parent', this.name);
    for (const child of children) if (child !== undefined) this.#children.push(child);
    return this;
  }

  /** Whether the element has no children and no text. */
  get isEmpty(): boolean {
    return this.#children.length === 0 && this.#text === undefined;
  }

  /**
   * The element as indented XML (two spaces per level, no trailing newline).
   *
   * @example
   * ```ts
   * new XmlElement('boot', { order: 1 }).toString(); // '<boot order="1"/>'
   * ```
   */
  toString(indent = 0): string {
    const pad = ' '.repeat(indent);
    const attributes = this.#attributes.map(([k, v]) => ` ${k}="${escapeAttribute(v)}"`).join('');
    if (this.#text !== undefined) return `${pad}<${this.name}${attributes}>${escapeText(this.#text)}</${this.name}>`;
    if (this.#children.length === 0) return `${pad}<${this.name}${attributes}/>`;
    const inner = this.#children.map((c) => c.toString(indent + 2)).join('\n');
    return `${pad}<${this.name}${attributes}>\n${inner}\n${pad}</${this.name}>`;
  }
}

function checkText(value: string, name: string): string {
  if (FORBIDDEN.test(value)) throw invalidArgument('text XML can carry (no control characters)', name, value);
  return value;
}

/** Escapes text content: `&`, `<`, `>` (the last for `]]>`). */
export function escapeText(value: string): string {
  return value.replace(/[&<>]/g, (c) => ENTITIES[c] as string);
}

/**
 * Escapes an attribute value: both quotes too, and tab/newline/return as
 * character references so attribute-value normalization keeps them.
 */
export function escapeAttribute(value: string): string {
  return value.replace(/[&<>"'\t\n\r]/g, (c) => ENTITIES[c] as string);
}

const ENTITIES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&apos;',
  '\t': '&#9;',
  '\n': '&#10;',
  '\r': '&#13;',
};

import { inspect, type ImageInfo } from '../image/inspect.js';
import { humanBytes } from './format.js';

/** Human-readable lines in the spirit of `qemu-img info`. */
export function formatInfoHuman(path: string, info: ImageInfo): string {
  const size = (n: number) => `${humanBytes(n)} (${n} bytes)`;
  const lines = [
    `image: ${path}`,
    `file format: ${info.format}`,
    `virtual size: ${size(info.virtualSize)}`,
    `disk size: ${humanBytes(info.actualSize)}`,
  ];
  if (info.clusterSize !== undefined) lines.push(`cluster_size: ${info.clusterSize}`);
  if (info.backingFile !== undefined) {
    lines.push(`backing file: ${info.backingFile}` + (info.fullBackingFile ? ` (actual path: ${info.fullBackingFile})` : ''));
  }
  if (info.backingFormat !== undefined) lines.push(`backing file format: ${info.backingFormat}`);
  if (info.dataFile !== undefined) lines.push(`data file: ${info.dataFile}${info.dataFileRaw ? ' (raw)' : ''}`);
  if (info.encrypted) lines.push('encrypted: yes');
  if (info.dirty) lines.push('dirty: yes');
  if (info.corrupt) lines.push('corrupt: yes');
  if (info.contentHints.length) lines.push(`content: ${info.contentHints.join(', ')}`);
  const specific = Object.entries(info.formatSpecific.data);
  if (specific.length) {
    lines.push('Format specific information:');
    for (const [k, v] of specific) lines.push(`    ${k}: ${typeof v === 'object' ? JSON.stringify(v) : String(v)}`);
  }
  lines.push(`safe: ${info.safety.safe ? 'yes' : 'no'}`);
  for (const reason of info.safety.reasons) lines.push(`    - ${reason}`);
  for (const link of info.chain ?? []) {
    lines.push('', formatInfoHuman(link.path, link));
  }
  return lines.join('\n');
}

/** `imagebackend info FILE [--output json|human] [--backing-chain]` */
export async function runInfo(file: string, output: 'json' | 'human', backingChain: boolean): Promise<string> {
  const info = await inspect(file, backingChain ? { followBackingChain: true } : {});
  return output === 'json' ? JSON.stringify(info, null, 2) : formatInfoHuman(file, info);
}

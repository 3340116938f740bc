// Validation of generated XML against libvirt's own RelaxNG schema.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A minimal KVM domain holding the given device XML. */
export function domainWith(devicesXml: string): string {
  return [
    "<domain type='kvm'>",
    '  <name>imagebackend-test</name>',
    '  <memory unit="MiB">128</memory>',
    '  <os><type arch="x86_64">hvm</type></os>',
    '  <devices>',
    devicesXml,
    '  </devices>',
    '</domain>',
    '',
  ].join('\n');
}

function tool(command: string, args: string[], packageName: string): { status: number | null; output: string } {
  const run = spawnSync(command, args, { encoding: 'utf8' });
  if ((run.error as { code?: string } | undefined)?.code === 'ENOENT') {
    throw new Error(`${command} is not installed: install the Debian package ${packageName} (scripts/setup.sh does)`);
  }
  if (run.error) throw run.error;
  return { status: run.status, output: `${run.stdout}${run.stderr}` };
}

/**
 * Runs `virt-xml-validate FILE domain` on the document. A missing validator
 * (or its xmllint) fails the test naming the package, never skips it.
 */
export function validateDomain(xml: string): { valid: boolean; output: string } {
  tool('xmllint', ['--version'], 'libxml2-utils');
  const dir = mkdtempSync(join(tmpdir(), 'imagebackend-xml-'));
  try {
    const file = join(dir, 'domain.xml');
    writeFileSync(file, xml);
    const { status, output } = tool('virt-xml-validate', [file, 'domain'], 'libvirt-clients');
    if (/xmllint: not found/.test(output)) throw new Error('virt-xml-validate needs xmllint: install the Debian package libxml2-utils');
    return { valid: status === 0, output };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** `xmllint --xpath` over a document: what a real XML parser reads back. */
export function xpath(xml: string, expression: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'imagebackend-xml-'));
  try {
    const file = join(dir, 'doc.xml');
    writeFileSync(file, xml);
    const run = tool('xmllint', ['--xpath', expression, file], 'libxml2-utils');
    if (run.status !== 0) throw new Error(`xmllint --xpath ${expression}: ${run.output}`);
    return run.output;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

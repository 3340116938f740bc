// virsh and domain XML for the libvirt boot test: every call bounded by a
// timeout, argv only (no shell), the daemon named by LIBVIRT_DEFAULT_URI
// (scripts/libvirt-boot-test.sh points it at its own libvirtd).
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

// Never the system's libvirt: only the test's own daemon, named by its socket.
if (!/[?&]socket=\//.test(process.env.LIBVIRT_DEFAULT_URI ?? '')) {
  throw new Error('LIBVIRT_DEFAULT_URI must name the test libvirtd socket: run scripts/libvirt-boot-test.sh');
}

/** Runs `virsh ARGS`; resolves stdout, rejects with virsh's stderr in the message. */
export async function virsh(args, { timeoutMs = 60_000 } = {}) {
  try {
    const { stdout } = await run('virsh', ['-q', ...args], { timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 16 << 20 });
    return stdout;
  } catch (error) {
    const detail = `${error.stderr ?? ''}`.trim() || (error.killed ? `timed out after ${timeoutMs} ms` : error.message);
    throw Object.assign(new Error(`virsh ${args[0]}: ${detail}`), { virshError: detail });
  }
}

/** Runs a command other than virsh (qemu-img), bounded. */
export async function tool(command, args, { timeoutMs = 60_000 } = {}) {
  const { stdout } = await run(command, args, { timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 16 << 20 });
  return stdout;
}

/** Defines a domain from XML (written to a file under `dir`). */
export async function define(dir, name, xml) {
  const file = join(dir, `${name}.xml`);
  await writeFile(file, xml);
  await virsh(['define', file]);
}

/** Destroys (if running) and undefines a domain; never throws. */
export async function remove(name) {
  await virsh(['destroy', name], { timeoutMs: 30_000 }).catch(() => {});
  await virsh(['undefine', name], { timeoutMs: 30_000 }).catch(() => {});
}

/**
 * A `type='qemu'` (TCG) domain on the pc machine with the given devices, no
 * network, a serial console into `consoleFile`, and, when `kernel` is given,
 * direct kernel boot.
 */
export function domainXml({ name, devices, consoleFile, kernel, initrd, cmdline, memoryMiB = 256 }) {
  const boot = kernel
    ? `<kernel>${kernel}</kernel><initrd>${initrd}</initrd><cmdline>${cmdline}</cmdline>`
    : '';
  return `<domain type='qemu'>
  <name>${name}</name>
  <memory unit='MiB'>${memoryMiB}</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type>${boot}</os>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>destroy</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
${devices}
    ${consoleFile ? `<serial type='file'><source path='${consoleFile}'/><target port='0'/></serial>` : ''}
    <memballoon model='none'/>
  </devices>
</domain>
`;
}

/** Polls `check()` every `everyMs` until it returns a truthy value or `timeoutMs` passes (then throws `what`). */
export async function waitFor(what, check, { timeoutMs, everyMs = 250 }) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}

/** The console file's text, or '' before qemu created it. */
export async function consoleText(file) {
  return readFile(file, 'utf8').catch(() => '');
}

/** `virsh blkdeviotune DOMAIN DEV` as { field: number }. */
export async function blkdeviotune(domain, dev) {
  const out = await virsh(['blkdeviotune', domain, dev]);
  const fields = {};
  for (const line of out.split('\n')) {
    const m = /^\s*([a-z_]+)\s*:\s*(\d+)\s*$/.exec(line);
    if (m) fields[m[1]] = Number(m[2]);
  }
  return fields;
}

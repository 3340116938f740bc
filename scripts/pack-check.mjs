#!/usr/bin/env node
// `npm run pack:check`: asserts what `npm pack` would publish. Consumers get
// the compiled library with its types (dist/), the sources its maps point to
// (src/), what the from-source fallback compiles (binding.gyp, native sources
// and headers, native/sources.json) and the prebuilds; never tests, benches,
// scripts, build leftovers, the fuzz harness or local tooling.
//
// Runs `npm pack --dry-run` without lifecycle scripts, so build dist/ first
// (`npm run build:ts`). With --release, prebuilds/linux-x64/*.node must be in
// the package (scripts/prebuild.sh makes it).
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const release = process.argv.includes('--release');

if (!existsSync(join(root, 'dist/index.js'))) {
  console.error('pack-check: dist/ is not built; run `npm run build:ts` first');
  process.exit(1);
}

const out = execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], {
  cwd: root,
  encoding: 'utf8',
  stdio: ['ignore', 'pipe', 'inherit'],
});
const [pack] = JSON.parse(out);
const files = new Set(pack.files.map((f) => f.path));
const problems = [];

// What must be there.
const required = [
  'package.json',
  'README.md',
  'CHANGELOG.md',
  'LICENSE',
  'binding.gyp',
  'native/sources.json',
  'dist/index.js',
  'dist/index.d.ts',
  'dist/native.js',
  'dist/cli.js',
];
const sources = JSON.parse(readFileSync(join(root, 'native/sources.json'), 'utf8'));
required.push(...sources);
// Every header the addon includes (all of native/ but the fuzz harness).
const walk = (dir) =>
  readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? walk(path) : [relative(root, path)];
  });
required.push(...walk(join(root, 'native')).filter((p) => p.endsWith('.h') && !p.startsWith('native/image/fuzz/')));
for (const path of required) if (!files.has(path)) problems.push(`missing: ${path}`);
// Every subpath package.json "exports" names (imagebackend/nova, ...) is shipped.
const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
for (const [subpath, target] of Object.entries(manifest.exports ?? {})) {
  for (const file of typeof target === 'string' ? [target] : Object.values(target)) {
    if (!files.has(file.replace(/^\.\//, ''))) problems.push(`exports["${subpath}"] names ${file}, which is not packed`);
  }
}

// Types: every module of dist/ has its declaration file.
for (const path of files) {
  if (path.startsWith('dist/') && path.endsWith('.js') && !files.has(path.replace(/\.js$/, '.d.ts'))) {
    problems.push(`no declaration for ${path}`);
  }
}

// Prebuilds: in the package whenever they were built; required for a release.
const prebuilds = [...files].filter((p) => /^prebuilds\/linux-x64\/[^/]+\.node$/.test(p));
if (release && prebuilds.length === 0) problems.push('missing: prebuilds/linux-x64/*.node (run scripts/prebuild.sh)');
if (existsSync(join(root, 'prebuilds/linux-x64')) && prebuilds.length === 0) problems.push('prebuilds/ exists but is not packed');

// What must never be there.
const forbidden = [
  [/^test\//, 'tests'],
  [/^bench\//, 'benchmarks and their results'],
  [/^build(-[^/]+)?\//, 'build leftovers'],
  [/^scripts\//, 'development scripts'],
  [/^docs\//, 'generated API docs'],
  [/^\.ci\//, 'CI'],
  [/^coverage\//, 'coverage'],
  [/^node_modules\//, 'node_modules'],
  [/^native\/image\/fuzz\//, 'the fuzz harness'],
  [/\.(o|a|tgz|log)$/, 'build artefacts'],
  [/(^|\/)\.vitest-tmp\//, 'test scratch'],
  [/\.test\.[cm]?[jt]s$/, 'tests'],
  [/^(tsconfig[^/]*\.json|eslint\.config\.js|vitest\.config\.ts|\.clang-format|\.gitignore)$/, 'tooling config'],
];
for (const path of files) {
  for (const [pattern, what] of forbidden) if (pattern.test(path)) problems.push(`${what} must not ship: ${path}`);
}
if (files.has('native/valgrind.supp')) problems.push('tooling must not ship: native/valgrind.supp');

const mib = (n) => `${(n / 1048576).toFixed(2)} MiB`;
console.log(
  `pack-check: ${pack.filename}: ${pack.entryCount} files, ${mib(pack.size)} packed, ${mib(pack.unpackedSize)} unpacked, ` +
    `${prebuilds.length ? prebuilds.join(', ') : 'no prebuild'}`,
);
if (problems.length) {
  for (const p of problems) console.error(`pack-check: ${p}`);
  process.exit(1);
}
console.log('pack-check: ok');

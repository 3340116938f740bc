#!/usr/bin/env node
/** Entry point of the `imagebackend` command; see src/cli/main.ts. */
import { ImageBackendError } from './errors.js';
import { main } from './cli/main.js';

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    const code = error instanceof ImageBackendError ? ` [${error.code}]` : '';
    process.stderr.write(`imagebackend: ${error instanceof Error ? error.message : String(error)}${code}\n`);
    process.exitCode = 1;
  },
);

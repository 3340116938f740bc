// Running external programs: argv only, one timeout and kill rule, prlimit caps, AbortSignal.
export { runProcess, describeOutcome, processFailure, DEFAULT_KILL_GRACE_MS, type ProcessOutcome, type RunProcessOptions } from './runProcess.js';
export { findProgram } from './findProgram.js';
export { describeLimits, prlimitOptions, type ResourceLimits } from './prlimit.js';

// Loads a module of the compiled library the parent test built (IMAGEBACKEND_DIST).
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

export async function load(module) {
  const dist = process.env.IMAGEBACKEND_DIST;
  if (!dist) throw new Error('IMAGEBACKEND_DIST is not set');
  return import(pathToFileURL(join(dist, module)).href);
}

/**
 * Module resolution hooks for a compiled hilt (harness/run/typescript.ts registers them): an
 * import that resolves to one of hilt's own source files, harness/**.ts or emulator/**.ts,
 * resolves to its compiled twin in dist/ instead, when there is one. Node runs these hooks on a
 * loader thread of their own: they get hilt's package folder as data, not from a module.
 */
import { existsSync } from 'node:fs';
import type { InitializeHook, ResolveHook } from 'node:module';
import { join, relative, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** The compiled twin of one of hilt's source files, or null (not hilt's source, or not built). */
export function compiledTwin(packageDir: string, file: string): string | null {
  if (!file.endsWith('.ts')) return null;
  const source = relative(packageDir, file);
  if (!source.startsWith(`harness${sep}`) && !source.startsWith(`emulator${sep}`)) return null;
  const compiled = join(packageDir, 'dist', source.replace(/\.ts$/, '.js'));
  return existsSync(compiled) ? compiled : null;
}

let packageDir = '';

export const initialize: InitializeHook<{ packageDir: string }> = (data) => {
  packageDir = data.packageDir;
};

export const resolve: ResolveHook = async (specifier, context, nextResolve) => {
  const resolved = await nextResolve(specifier, context);
  if (!resolved.url.startsWith('file:')) return resolved;
  const twin = compiledTwin(packageDir, fileURLToPath(resolved.url));
  return twin ? { ...resolved, url: pathToFileURL(twin).href, format: 'module' } : resolved;
};

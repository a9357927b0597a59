import { readFileSync } from 'node:fs';

/** hilt's version, from package.json (reports and the manifest name the tool that wrote them). */
export const VERSION: string = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;

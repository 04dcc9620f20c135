/** What `lockstep init` prints: the file written and, per repo, what it detected. */
import { relative } from 'node:path';
import type { InitRepo } from '../client/machine/init.ts';
import { DEFAULT_IMAGE } from '../client/machine/detect.ts';

export function renderInit(file: string, repos: InitRepo[]): string {
  const shown = relative(process.cwd(), file) || file;
  const lines = [
    `wrote ${shown} (${repos.length} repo${repos.length === 1 ? '' : 's'}); "lockstep validate --preflight" checks it on this machine`,
  ];
  const width = Math.max(...repos.map((r) => r.name.length));
  for (const r of repos) {
    const s = r.sandbox;
    const parts = [`test: ${s.test ?? 'none found, set it'}`, `image: ${s.image}`];
    if (s.setup) parts.push(`setup: ${s.setup}`);
    lines.push(`  ${r.name.padEnd(width)}  ${r.baseBranch}  ${parts.join('; ')}`);
    if (s.image !== DEFAULT_IMAGE)
      lines.push(`  ${' '.repeat(width)}  ${s.image} is a toolchain image to build: see the comment above its "image"`);
  }
  return lines.join('\n');
}

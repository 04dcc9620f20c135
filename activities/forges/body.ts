/**
 * Pull request bodies of a linked set: the change's description, every sibling with its link
 * and place in the merge order, and a hidden manifest that Lockstep reads back.
 */
import type { PullRequestSibling } from '../../workflows/types.ts';

export interface LinkedBodyInput {
  changeId: string;
  repo: string;
  description: string;
  mergeOrder: string[];
  /** Null while the set is still being created (first phase). */
  siblings: PullRequestSibling[] | null;
}

export interface Manifest {
  changeId: string;
  order: string[];
  repos: { repo: string; number: number; url: string; commit: string }[];
}

const MANIFEST_PREFIX = '<!-- lockstep:manifest ';

export function renderBody(input: LinkedBodyInput): string {
  const lines: string[] = [];
  if (input.description.trim()) lines.push(input.description.trim(), '');
  lines.push(`### Linked change \`${input.changeId}\``, '');
  if (!input.siblings) {
    lines.push('_The linked pull requests of this change are being opened; this list is filled in when all exist._');
    return lines.join('\n') + '\n';
  }
  const byRepo = new Map(input.siblings.map((s) => [s.repo, s]));
  const ordered = input.mergeOrder.filter((r) => byRepo.has(r));
  lines.push('Merge in this order (providers before consumers):', '', '| # | Repository | Pull request | Commit |', '|---|---|---|---|');
  ordered.forEach((repo, i) => {
    const s = byRepo.get(repo);
    if (!s) return;
    const here = repo === input.repo ? ' (this one)' : '';
    lines.push(`| ${i + 1} | ${repo}${here} | [#${s.pullRequest.number}](${s.pullRequest.url}) | \`${s.commit.slice(0, 12)}\` |`);
  });
  const manifest: Manifest = {
    changeId: input.changeId,
    order: ordered,
    repos: ordered.flatMap((repo) => {
      const s = byRepo.get(repo);
      return s ? [{ repo, number: s.pullRequest.number, url: s.pullRequest.url, commit: s.commit }] : [];
    }),
  };
  lines.push('', `_Opened by Lockstep. Do not edit the line below; it links this set._`, `${MANIFEST_PREFIX}${JSON.stringify(manifest)} -->`);
  return lines.join('\n') + '\n';
}

/** Reads the manifest back from a body, or null when there is none (or it was mangled). */
export function parseManifest(body: string): Manifest | null {
  const start = body.lastIndexOf(MANIFEST_PREFIX);
  if (start < 0) return null;
  const end = body.indexOf(' -->', start);
  if (end < 0) return null;
  try {
    return JSON.parse(body.slice(start + MANIFEST_PREFIX.length, end)) as Manifest;
  } catch {
    return null;
  }
}

/**
 * The scout: a small, deterministic index of a repository at its base commit (files, languages,
 * contract files, AGENTS.md, README), cached by commit sha so a second plan costs no clone.
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { extname, join } from 'node:path';
import type { RepoIndex } from '../../workflows/types.ts';
import { git, remoteBranchCommit } from '../git/workspace.ts';

export interface ScoutInput {
  repo: string;
  url: string;
  baseBranch: string;
  testCommand: string;
  contractPaths: string[];
}

const LANGUAGES: Record<string, string> = {
  '.ts': 'TypeScript', '.tsx': 'TypeScript', '.js': 'JavaScript', '.mjs': 'JavaScript', '.cjs': 'JavaScript',
  '.py': 'Python', '.go': 'Go', '.rs': 'Rust', '.java': 'Java', '.kt': 'Kotlin', '.rb': 'Ruby', '.cs': 'C#',
  '.c': 'C', '.h': 'C', '.cpp': 'C++', '.proto': 'Protobuf',
};
const TREE_LIMIT = 150;
const TEXT_LIMIT = 3000;

export async function scoutRepo(stateDir: string, input: ScoutInput): Promise<RepoIndex> {
  const commit = await remoteBranchCommit(input.url, input.baseBranch);
  if (!commit) throw new Error(`branch ${input.baseBranch} not found in ${input.url}`);
  const cache = join(stateDir, 'scout', input.repo, `${commit}.json`);
  const cached = await readFile(cache, 'utf8').then((t) => JSON.parse(t) as RepoIndex, () => null);
  if (cached) return { ...cached, testCommand: input.testCommand };

  const dir = await mkdtemp(join(tmpdir(), `lockstep-scout-${input.repo}-`));
  try {
    await git(undefined, dir).clone(input.url, dir, ['--depth', '1', '--single-branch', '--branch', input.baseBranch, '--no-recurse-submodules']);
    const files = (await git(dir).raw(['ls-files', '-z'])).split('\0').filter(Boolean).sort();
    const languages: Record<string, number> = {};
    for (const f of files) {
      const language = LANGUAGES[extname(f).toLowerCase()];
      if (language) languages[language] = (languages[language] ?? 0) + 1;
    }
    const text = async (name: string): Promise<string | null> => {
      const found = files.find((f) => f.toLowerCase() === name.toLowerCase());
      if (!found) return null;
      const content = await readFile(join(dir, found), 'utf8').catch(() => null);
      return content === null ? null : content.length > TEXT_LIMIT ? `${content.slice(0, TEXT_LIMIT)}\n[…]` : content;
    };
    const index: RepoIndex = {
      repo: input.repo,
      commit,
      files: files.length,
      tree: files.slice(0, TREE_LIMIT),
      languages,
      testCommand: input.testCommand,
      contractFiles: input.contractPaths.filter((p) => files.includes(p)),
      agentsMd: await text('AGENTS.md'),
      readme: await text('README.md'),
    };
    await mkdir(join(stateDir, 'scout', input.repo), { recursive: true });
    await writeFile(cache, JSON.stringify(index));
    return index;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * `lockstep init`: a commented repos.config.json for the remotes given. Each remote's base
 * branch is fetched (one commit, into a temporary bare repository) and its files tell the test
 * command, the toolchain and the setup (client/machine/detect.ts). The file is validated with
 * the loader every command uses before it takes the place of the target.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { git } from '../../activities/git/workspace.ts';
import { InputError, isRemoteUrl, loadReposConfig, type LoadedConfig } from '../../config/load.ts';
import { projectRoot } from '../../config/paths.ts';
import { detectSandbox, type DetectedSandbox, type RepoFiles, type SandboxField } from './detect.ts';

export interface InitOptions {
  /** The repos.config.json to write. */
  file: string;
  /** Git remotes: URLs, or paths of local repositories. */
  remotes: string[];
  /** Overwrite an existing file. */
  force?: boolean;
  /** The base branch of every remote (default: each remote's HEAD). */
  base?: string;
  log?: (line: string) => void;
}

export interface InitRepo {
  name: string;
  url: string;
  baseBranch: string;
  sandbox: DetectedSandbox;
}

/** `text` as the config's Name rule allows it (lowercase, runs of other characters as "-"); empty when nothing is left. */
export function toName(text: string): string {
  return text
    .toLowerCase()
    .replace(/[^a-z0-9._-]+/g, '-')
    .replace(/^[^a-z0-9]+/, '')
    .slice(0, 63);
}

/** A repo's name from its remote: the last path segment without `.git`, as the config allows it. */
export function repoName(remote: string): string {
  return toName(basename(remote.replace(/[/\\]+$/, '').replace(/^.*:/, '')).replace(/\.git$/i, ''));
}

/** The remote's default branch, as its HEAD names it. */
async function defaultBranch(url: string): Promise<string | null> {
  const out = await git(undefined).raw(['ls-remote', '--symref', url, 'HEAD']);
  return /^ref: refs\/heads\/(\S+)\s+HEAD$/m.exec(out)?.[1] ?? null;
}

/** The base branch's top-level files, read from one fetched commit. */
async function fetchFiles(url: string, branch: string, scratch: string): Promise<RepoFiles> {
  const repo = git(scratch);
  await repo.raw(['init', '--quiet', '--bare']);
  await repo.raw(['fetch', '--quiet', '--no-tags', '--depth', '1', url, `refs/heads/${branch}`]);
  const names = (await repo.raw(['ls-tree', '--name-only', 'FETCH_HEAD'])).split('\n').filter(Boolean);
  return {
    names,
    read: async (name) => (names.includes(name) ? repo.raw(['show', `FETCH_HEAD:${name}`]) : null),
  };
}

async function inspectRemote(remote: string, index: number, options: InitOptions): Promise<InitRepo> {
  const file = resolve(options.file);
  const where = `repos[${index}].url`;
  const url = isRemoteUrl(remote) ? remote : resolve(remote);
  const name = repoName(remote);
  if (!name) {
    throw new InputError([
      {
        file,
        path: where,
        message: `cannot name a repo after "${remote}"`,
        fix: 'give the remote with its repository name',
      },
    ]);
  }
  let baseBranch: string | null = options.base ?? null;
  const scratch = await mkdtemp(join(tmpdir(), 'lockstep-init-'));
  try {
    baseBranch ??= await defaultBranch(url).catch(() => null);
    if (!baseBranch) {
      throw new InputError([
        {
          file,
          path: where,
          message: `cannot read the default branch of ${remote} (no answer, or its HEAD names no branch)`,
          fix: 'check the remote and your access to it, or name the branch with --base',
        },
      ]);
    }
    const files = await fetchFiles(url, baseBranch, scratch).catch((err: unknown) => {
      throw new InputError([
        {
          file,
          path: where,
          message: `cannot fetch ${baseBranch ?? ''} from ${remote}: ${(err as Error).message.split('\n')[0] ?? ''}`,
          fix: 'check the remote, the branch (--base) and your access to it',
        },
      ]);
    });
    options.log?.(`${name}: read ${files.names.length} entries of ${baseBranch} at ${remote}`);
    return {
      name,
      url: isRemoteUrl(remote) ? remote : relative(dirname(file), url) || '.',
      baseBranch,
      sandbox: await detectSandbox(files),
    };
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

export const indent = (depth: number): string => '  '.repeat(depth);
export const comment = (depth: number, text: string): string => `${indent(depth)}// ${text}`;

/** The test command of a repo whose tests are not known yet: it fails, saying what to set. */
export const placeholderTest = (by: string): string =>
  `echo '${by} found no test command: set sandbox.test in repos.config.json' >&2; exit 1`;

/** A value on one line, as a person writes it: `["go", "team-payments"]`. */
export const inlineJson = (value: unknown): string =>
  Array.isArray(value) ? `[${value.map(inlineJson).join(', ')}]` : JSON.stringify(value);

/** A repo as the config file holds it; without `sandbox`, the file's `defaults.sandbox` applies. */
export interface RenderedRepo {
  name: string;
  url: string;
  baseBranch: string;
  tags?: string[];
  sandbox?: DetectedSandbox;
}

/** One repo's object at `depth`, its sandbox fields under the comments that explain them. */
export function renderRepo(r: RenderedRepo, depth: number): string {
  const fields = [
    `${indent(depth + 1)}"name": ${JSON.stringify(r.name)}`,
    `${indent(depth + 1)}"url": ${JSON.stringify(r.url)}`,
    `${indent(depth + 1)}"baseBranch": ${JSON.stringify(r.baseBranch)}`,
    ...(r.tags?.length ? [`${indent(depth + 1)}"tags": ${inlineJson(r.tags)}`] : []),
    ...(r.sandbox ? [renderSandbox(r.sandbox, depth + 1).join('\n')] : []),
  ];
  return [`${indent(depth)}{`, fields.join(',\n'), `${indent(depth)}}`].join('\n');
}

/** The repo's sandbox object, each field under the comments that explain it. */
function renderSandbox(sandbox: DetectedSandbox, depth: number): string[] {
  const about = (field: SandboxField) =>
    sandbox.notes.filter((n) => n.field === field).map((n) => comment(depth + 1, n.text));
  const fields: string[][] = [[...about('image'), `${indent(depth + 1)}"image": ${JSON.stringify(sandbox.image)}`]];
  if (sandbox.setup) {
    fields.push([...about('setup'), `${indent(depth + 1)}"setup": ${JSON.stringify(sandbox.setup)}`]);
    fields.push([
      comment(depth + 1, "what setup may download from, through the worker's egress proxy (docs/environments.md)"),
      `${indent(depth + 1)}"egress": { "allow": ${JSON.stringify(sandbox.egress)} }`,
    ]);
  } else if (about('setup').length > 0) {
    fields[0]?.unshift(...about('setup'));
  }
  const test = sandbox.test ?? placeholderTest('lockstep init');
  fields.push([...about('test'), `${indent(depth + 1)}"test": ${JSON.stringify(test)}`]);
  return [`${indent(depth)}"sandbox": {`, fields.map((f) => f.join('\n')).join(',\n'), `${indent(depth)}}`];
}

/** The `$schema` value of a config written at `file`: the project's JSON schema, relative to it. */
export function schemaRef(file: string): string {
  const schema = relative(dirname(resolve(file)), join(projectRoot, 'schemas', 'repos.config.schema.json'));
  return isAbsolute(schema) || schema.startsWith('.') ? schema : `./${schema}`;
}

export function renderConfig(repos: InitRepo[], file: string): string {
  const repoBlocks = repos.map((r) => renderRepo(r, 2));
  return [
    '// The fleet Lockstep changes, written by "lockstep init". JSON with comments: "//" and "/* */"',
    "// comments are allowed, trailing commas are not. Each repo's sandbox was detected from its",
    '// files at the base branch; the comments say from which. Every field: docs/configuration.md.',
    '{',
    `${indent(1)}"$schema": ${JSON.stringify(schemaRef(file))},`,
    comment(1, 'where pull requests go: "local" keeps them as JSON under .lockstep/forge/; github and'),
    comment(1, 'gitlab take a token from the environment (docs/forges.md)'),
    `${indent(1)}"forge": { "type": "local" },`,
    `${indent(1)}"repos": [`,
    repoBlocks.join(',\n'),
    `${indent(1)}]`,
    '}',
    '',
  ].join('\n');
}

/** Writes the config for the remotes; refuses an existing file without `force`. */
export async function initConfig(options: InitOptions): Promise<{ file: string; repos: InitRepo[] }> {
  const file = resolve(options.file);
  if (existsSync(file) && !options.force) {
    throw new InputError([
      { file, path: '', message: 'already exists', fix: 'pass --force to overwrite it, or -c to write another file' },
    ]);
  }
  if (options.remotes.length === 0) {
    throw new InputError([{ file, path: 'repos', message: 'no remote given', fix: 'name at least one git remote' }]);
  }
  const repos: InitRepo[] = [];
  for (const [i, remote] of options.remotes.entries()) repos.push(await inspectRemote(remote, i, options));
  const seen = new Set<string>();
  for (const [i, r] of repos.entries()) {
    if (seen.has(r.name)) {
      throw new InputError([
        {
          file,
          path: `repos[${i}].name`,
          message: `two remotes are named "${r.name}"`,
          fix: 'give each repository once, or rename one in the file after init',
        },
      ]);
    }
    seen.add(r.name);
  }
  await writeValidatedConfig(file, renderConfig(repos, file));
  return { file, repos };
}

/**
 * Writes `text` as the repos.config.json at `file`, atomically: it is validated beside the
 * target (relative urls resolve from its folder) with the loader every command uses, then moved
 * into place; a text that does not load leaves the target as it was. With `check`, it is only
 * validated. Returns the loaded config.
 */
export async function writeValidatedConfig(file: string, text: string, check = false): Promise<LoadedConfig> {
  const draft = join(dirname(file), `.${basename(file)}.draft-${process.pid}.json`);
  await writeFile(draft, text);
  try {
    const loaded = await loadReposConfig(draft).catch((err: unknown) => {
      throw err instanceof InputError ? new InputError(err.issues.map((i) => ({ ...i, file }))) : err;
    });
    if (!check) await rename(draft, file);
    return { ...loaded, file };
  } finally {
    await rm(draft, { force: true });
  }
}

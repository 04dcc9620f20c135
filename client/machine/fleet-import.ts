/**
 * `lockstep fleet import`: the repositories of a GitHub organization or a GitLab group become
 * entries of repos.config.json (name, url, base branch, tags from topics). A new file is written
 * whole; an existing one is edited in place, value by value, so its comments, its formatting and
 * every field the forge does not own (sandbox, provides, consumes, merge) stay as the user left
 * them. Repositories gone from the owner are reported and kept unless `prune` is asked. The file
 * is validated with the loader every command uses before it replaces the old one.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import { GitHubForge } from '../../activities/forges/github/index.ts';
import { GitLabForge } from '../../activities/forges/gitlab/index.ts';
import { OWNER_NOT_FOUND, type ForgeRepository } from '../../activities/forges/listing.ts';
import { slugFromUrl } from '../../config/forge.ts';
import { applyEdits, parseJsoncTree, type JsoncNode } from '../../config/jsonc.ts';
import { InputError, loadReposConfig, type LoadedConfig } from '../../config/load.ts';
import { GitHubForgeConfig, GitLabForgeConfig, Name, type RemoteForgeConfig } from '../../config/repos.ts';
import { EnvironmentError } from '../errors.ts';
import { DEFAULT_IMAGE, type DetectedSandbox } from './detect.ts';
import {
  comment,
  indent,
  inlineJson,
  placeholderTest,
  renderRepo,
  schemaRef,
  toName,
  writeValidatedConfig,
  type RenderedRepo,
} from './init.ts';

export type FleetSource = { forge: 'github'; org: string } | { forge: 'gitlab'; group: string };

export interface FleetImportOptions {
  /** The repos.config.json to write or update. */
  file: string;
  source: FleetSource;
  /** The forge's API root (default: the file's forge when it is of this type, else github.com / gitlab.com). */
  baseUrl?: string;
  includeArchived?: boolean;
  includeForks?: boolean;
  /** Remove entries of the owner that the import no longer lists. */
  prune?: boolean;
  /** Report what would change and write nothing. */
  dryRun?: boolean;
  /** Where the token is read from (`tokenEnv`). */
  env: NodeJS.ProcessEnv;
  /** Base of the forge client's retry backoff in ms (tests shorten it). */
  retryBaseMs?: number;
}

export interface FieldChange {
  field: 'url' | 'baseBranch' | 'tags';
  from: unknown;
  to: unknown;
}

export interface FleetImportReport {
  file: string;
  /** e.g. `GitHub organization acme`. */
  source: string;
  /** The file did not exist and is (or, in a dry run, would be) written whole. */
  created: boolean;
  /** The file was written (false in a dry run, and when nothing changed). */
  written: boolean;
  added: (RenderedRepo & { slug: string })[];
  updated: { name: string; slug: string; changes: FieldChange[] }[];
  unchanged: string[];
  /** Entries of the owner that it no longer lists (or lists as skipped): kept, or removed with `prune`. */
  gone: { name: string; url: string; removed: boolean }[];
  /** Repositories of the owner that get no entry, and why. */
  skipped: { slug: string; reason: string }[];
  /** Topics that cannot be tags, and other things worth knowing. */
  notes: string[];
}

const GITHUB_ORG = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})$/;
const GITLAB_GROUP = /^[A-Za-z0-9_.][A-Za-z0-9_.-]*(?:\/[A-Za-z0-9_.][A-Za-z0-9_.-]*)*$/;

const flagOf = (source: FleetSource): string => (source.forge === 'github' ? '--github-org' : '--gitlab-group');
const ownerOf = (source: FleetSource): string => (source.forge === 'github' ? source.org : source.group);
const describe = (source: FleetSource): string =>
  source.forge === 'github' ? `GitHub organization ${source.org}` : `GitLab group ${source.group}`;

function checkOwner(source: FleetSource): void {
  const owner = ownerOf(source);
  const ok = source.forge === 'github' ? GITHUB_ORG.test(owner) : GITLAB_GROUP.test(owner);
  if (ok) return;
  throw new InputError([
    {
      file: 'command line',
      path: flagOf(source),
      message: `"${owner}" is not a ${source.forge === 'github' ? 'GitHub organization name' : 'GitLab group path'}`,
      fix:
        source.forge === 'github'
          ? 'give the organization\'s login as in its URL (letters, digits and "-"), e.g. --github-org acme'
          : "give the group's full path as in its URL, e.g. --gitlab-group acme/platform",
    },
  ]);
}

/** The forge settings to list with: the file's forge when it is of this type, else the defaults (and `baseUrl`). */
function forgeConfig(options: FleetImportOptions, existing: LoadedConfig | null): RemoteForgeConfig {
  const { forge } = options.source;
  const own = existing?.config.forge.type === forge ? existing.config.forge : null;
  const baseUrl = options.baseUrl ? { baseUrl: options.baseUrl } : {};
  try {
    return forge === 'github'
      ? GitHubForgeConfig.parse({ ...(own ?? { type: 'github' }), ...baseUrl })
      : GitLabForgeConfig.parse({ ...(own ?? { type: 'gitlab' }), ...baseUrl });
  } catch {
    throw new InputError([
      {
        file: 'command line',
        path: '--base-url',
        message: `"${options.baseUrl ?? ''}" is not an http(s) URL`,
        fix:
          forge === 'github'
            ? 'give the API root, e.g. https://github.example.com/api/v3'
            : 'give the server, e.g. https://gitlab.example.com',
      },
    ]);
  }
}

async function listRepositories(options: FleetImportOptions, config: RemoteForgeConfig): Promise<ForgeRepository[]> {
  const token = options.env[config.tokenEnv];
  if (!token) {
    throw new InputError([
      {
        file: 'environment',
        path: config.tokenEnv,
        message: `${config.tokenEnv} is not set: fleet import reads the ${describe(options.source)} with the token in it`,
        fix: `set ${config.tokenEnv} to a token that can read the ${options.source.forge === 'github' ? "organization's repositories" : "group's projects"} (docs/forges.md)`,
      },
    ]);
  }
  const slugOf = (repo: string): string => repo;
  const retry = options.retryBaseMs !== undefined ? { retryBaseMs: options.retryBaseMs } : {};
  try {
    if (options.source.forge === 'github' && config.type === 'github')
      return await new GitHubForge({ config, token, slugOf, ...retry }).listOrganizationRepositories(
        options.source.org,
      );
    if (options.source.forge === 'gitlab' && config.type === 'gitlab')
      return await new GitLabForge({ config, token, slugOf, ...retry }).listGroupProjects(options.source.group);
    throw new Error(`no listing for ${config.type}`);
  } catch (err) {
    if (err instanceof ApplicationFailure && err.type === OWNER_NOT_FOUND) {
      throw new InputError([
        {
          file: 'command line',
          path: flagOf(options.source),
          message: err.message,
          fix: `check the name${options.baseUrl ? '' : ' (and --base-url for a self-hosted server)'} and that the token in ${config.tokenEnv} may read it`,
        },
      ]);
    }
    if (err instanceof ApplicationFailure) throw new EnvironmentError(err.message);
    throw err;
  }
}

/** What the owner's listing makes of each repository: an entry, or a reason to skip it. */
function plan(
  repos: ForgeRepository[],
  options: FleetImportOptions,
  report: FleetImportReport,
): (RenderedRepo & { slug: string; tags: string[] })[] {
  const wanted: (RenderedRepo & { slug: string; tags: string[] })[] = [];
  const byName = new Map<string, string>();
  for (const repo of [...repos].sort((a, b) => a.slug.localeCompare(b.slug))) {
    const skip = (reason: string) => report.skipped.push({ slug: repo.slug, reason });
    if (repo.archived && !options.includeArchived) {
      skip('archived (--include-archived imports it)');
      continue;
    }
    if (repo.fork && !options.includeForks) {
      skip('a fork (--include-forks imports it)');
      continue;
    }
    if (!repo.defaultBranch) {
      skip('empty: it has no branch yet');
      continue;
    }
    const name = toName(repo.name);
    if (!Name.safeParse(name).success) {
      skip(`its name "${repo.name}" cannot be a repo name (1-63 lowercase letters, digits, ".", "_", "-")`);
      continue;
    }
    const taken = byName.get(name);
    if (taken) {
      skip(`its name becomes "${name}", already the name of ${taken}`);
      continue;
    }
    byName.set(name, repo.slug);
    const tags: string[] = [];
    for (const topic of repo.topics) {
      const tag = toName(topic);
      if (!Name.safeParse(tag).success) report.notes.push(`${repo.slug}: topic "${topic}" cannot be a tag, left out`);
      else if (!tags.includes(tag)) tags.push(tag);
    }
    wanted.push({ name, slug: repo.slug, url: repo.cloneUrl, baseBranch: repo.defaultBranch, tags });
  }
  return wanted;
}

const sameSlug = (a: string, b: string): boolean => slugFromUrl(a)?.toLowerCase() === slugFromUrl(b)?.toLowerCase();

/** Whether a config entry's url names a repository of the owner (GitHub: `org/x`; GitLab: under the group). */
function ofOwner(url: string, source: FleetSource): boolean {
  const slug = slugFromUrl(url)?.toLowerCase();
  if (!slug) return false;
  const owner = ownerOf(source).toLowerCase();
  return source.forge === 'github'
    ? slug.split('/').length === 2 && slug.startsWith(`${owner}/`)
    : slug.startsWith(`${owner}/`);
}

const member = (node: JsoncNode, key: string): JsoncNode | undefined => node.members?.find((m) => m.key === key)?.value;

/** The whitespace that starts the line on which `at` stands. */
function lineIndent(text: string, at: number): string {
  const start = text.lastIndexOf('\n', at - 1) + 1;
  return /^[ \t]*/.exec(text.slice(start))?.[0] ?? '';
}

/** The edits that bring the existing file's `repos` to the plan, and what they do. */
function editExisting(
  text: string,
  existing: LoadedConfig,
  wanted: (RenderedRepo & { slug: string; tags: string[] })[],
  options: FleetImportOptions,
  report: FleetImportReport,
): { start: number; end: number; text: string }[] {
  const tree = parseJsoncTree(text);
  const items = member(tree, 'repos')?.items ?? [];
  const entries = existing.config.repos;
  const edits: { start: number; end: number; text: string }[] = [];
  const matched = new Set<string>();
  const toAdd: RenderedRepo[] = [];
  const index = new Map(entries.map((e, i) => [e.name, i]));
  for (const w of wanted) {
    const at = index.get(w.name) ?? -1;
    const entry = entries[at];
    const node = items[at];
    if (!entry || !node) {
      toAdd.push(w);
      report.added.push(w);
      continue;
    }
    if (!sameSlug(entry.url, w.url) && !ofOwner(entry.url, options.source)) {
      // An entry of another owner, or a local path: never taken over by a namesake.
      report.skipped.push({
        slug: w.slug,
        reason: `its name "${w.name}" is taken by the entry of ${entry.url} (rename one of them)`,
      });
      continue;
    }
    matched.add(entry.name);
    const changes: FieldChange[] = [];
    // The same repository by another remote (SSH for HTTPS) stays as the user wrote it.
    if (!sameSlug(entry.url, w.url)) changes.push({ field: 'url', from: entry.url, to: w.url });
    if (entry.baseBranch !== w.baseBranch)
      changes.push({ field: 'baseBranch', from: entry.baseBranch, to: w.baseBranch });
    if (JSON.stringify(entry.tags) !== JSON.stringify(w.tags))
      changes.push({ field: 'tags', from: entry.tags, to: w.tags });
    if (changes.length === 0) {
      report.unchanged.push(entry.name);
      continue;
    }
    report.updated.push({ name: entry.name, slug: w.slug, changes });
    const inserted: string[] = [];
    for (const change of changes) {
      const value = member(node, change.field);
      if (value) edits.push({ start: value.start, end: value.end, text: inlineJson(change.to) });
      else inserted.push(`"${change.field}": ${inlineJson(change.to)}`);
    }
    // Fields the entry lacks go after the last of its name, url and baseBranch, in that order.
    const anchor = (node.members ?? [])
      .filter((m) => ['name', 'url', 'baseBranch'].includes(m.key))
      .map((m) => m.value)
      .sort((a, b) => b.end - a.end)[0];
    if (inserted.length > 0 && anchor) {
      const oneLine = !text.slice(node.start, anchor.start).includes('\n');
      const sep = oneLine ? ', ' : `,\n${lineIndent(text, anchor.start)}`;
      edits.push({ start: anchor.end, end: anchor.end, text: inserted.map((f) => `${sep}${f}`).join('') });
    }
  }
  const removed = new Set<number>();
  entries.forEach((entry, i) => {
    if (matched.has(entry.name) || !ofOwner(entry.url, options.source)) return;
    report.gone.push({ name: entry.name, url: entry.url, removed: Boolean(options.prune) });
    if (options.prune) removed.add(i);
  });
  // Runs of removed entries go with the commas and comments between them and the entry before (or after).
  for (let a = 0; a < items.length; a++) {
    if (!removed.has(a)) continue;
    let b = a;
    while (removed.has(b + 1)) b++;
    const first = items[a];
    const last = items[b];
    if (first && last) {
      const before = items[a - 1];
      const after = items[b + 1];
      if (before) edits.push({ start: before.end, end: last.end, text: '' });
      else if (after) edits.push({ start: first.start, end: after.start, text: '' });
      else edits.push({ start: first.start, end: last.end, text: '' });
    }
    a = b;
  }
  if (toAdd.length > 0) {
    const last = items.at(-1);
    const depth = last ? Math.round(lineIndent(text, last.start).replace(/\t/g, '  ').length / 2) : 2;
    const defaultsTest = existing.config.defaults.sandbox.test !== undefined;
    const blocks = toAdd.map((r) => renderRepo(defaultsTest ? r : { ...r, sandbox: placeholderSandbox() }, depth));
    const kept = items.length > removed.size;
    const at = last ? last.end : (member(tree, 'repos')?.start ?? 0) + 1;
    edits.push({ start: at, end: at, text: `${kept ? ',' : ''}\n${blocks.join(',\n')}` });
  }
  return edits;
}

/** The sandbox of an imported repo in a file whose `defaults.sandbox` sets no test command. */
const placeholderSandbox = (): DetectedSandbox => ({
  image: DEFAULT_IMAGE,
  setup: null,
  egress: [],
  notes: [{ field: 'test', text: 'imported from the forge: set the test command (docs/configuration.md)' }],
  test: placeholderTest('lockstep fleet import'),
});

/** A new file: the forge, a `defaults.sandbox` every imported repo starts from, and the repos. */
function renderNew(file: string, config: RemoteForgeConfig, source: FleetSource, repos: RenderedRepo[]): string {
  const fields = [`"type": ${JSON.stringify(config.type)}`];
  if (config.baseUrl !== (config.type === 'github' ? 'https://api.github.com' : 'https://gitlab.com'))
    fields.push(`"baseUrl": ${JSON.stringify(config.baseUrl)}`);
  return [
    `// The fleet Lockstep changes, imported by "lockstep fleet import" from the ${describe(source)}. JSON with`,
    '// comments: "//" and "/* */" comments are allowed, trailing commas are not. Run the import again',
    '// to add new repositories and refresh url, baseBranch and tags; it keeps every other field and these',
    '// comments. Every field: docs/configuration.md.',
    '{',
    `${indent(1)}"$schema": ${JSON.stringify(schemaRef(file))},`,
    comment(1, `where pull requests go; the token is read from ${config.tokenEnv} (docs/forges.md)`),
    `${indent(1)}"forge": { ${fields.join(', ')} },`,
    comment(1, 'every repo starts from these sandbox settings: set the test command (and the toolchain image)'),
    comment(1, 'here, or in a repo\'s own "sandbox"; "lockstep init <url>" detects them from a repo\'s files'),
    `${indent(1)}"defaults": { "sandbox": { "test": ${JSON.stringify(placeholderTest('lockstep fleet import'))} } },`,
    `${indent(1)}"repos": [`,
    repos.map((r) => renderRepo(r, 2)).join(',\n'),
    `${indent(1)}]`,
    '}',
    '',
  ].join('\n');
}

export async function importFleet(options: FleetImportOptions): Promise<FleetImportReport> {
  const file = resolve(options.file);
  checkOwner(options.source);
  const exists = existsSync(file);
  const existing = exists ? await loadReposConfig(file) : null;
  const config = forgeConfig(options, existing);
  const listed = await listRepositories(options, config);
  const report: FleetImportReport = {
    file,
    source: describe(options.source),
    created: !exists,
    written: false,
    added: [],
    updated: [],
    unchanged: [],
    gone: [],
    skipped: [],
    notes: [],
  };
  const wanted = plan(listed, options, report);
  if (existing && existing.config.forge.type !== config.type) {
    report.notes.push(
      `the file's forge stays "${existing.config.forge.type}": set forge.type to "${config.type}" to open pull requests on ${config.baseUrl}`,
    );
  }
  let text: string;
  if (existing) {
    const before = await readFile(file, 'utf8');
    const edits = editExisting(before, existing, wanted, options, report);
    if (edits.length === 0) return report;
    text = applyEdits(before, edits);
  } else {
    if (wanted.length === 0) {
      throw new InputError([
        {
          file: 'command line',
          path: flagOf(options.source),
          message: `the ${describe(options.source)} lists no repository to import (${report.skipped.length} skipped)`,
          fix: 'check the name, or import archived repositories and forks with --include-archived and --include-forks',
        },
      ]);
    }
    report.added.push(...wanted);
    text = renderNew(file, config, options.source, wanted);
  }
  // A dry run validates what it would write too, and stops short of moving it into place.
  await writeValidatedConfig(file, text, options.dryRun);
  report.written = !options.dryRun;
  return report;
}

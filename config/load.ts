/**
 * Reads and validates `repos.config.json` and change files. Every problem is collected and
 * reported at once, each with its file, dot-path and a fix; nothing is started on bad input.
 */
import { existsSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, isAbsolute, relative, resolve } from 'node:path';
import { parseDocument } from 'yaml';
import type { z } from 'zod';
import { Change, type TargetQuery } from './change.ts';
import { parseJsonc } from './jsonc.ts';
import { requiredEgress } from '../core/inputs.ts';
import { EvalSuite } from './eval.ts';
import { recipeTag } from '../activities/sandbox/image.ts';
import { repoSlug } from './forge.ts';
import { ForgeConfig, ReposConfig, SandboxConfig, type ContractKind } from './repos.ts';

/** Contract kinds whose provider keeps a document at `path`. */
const DOCUMENT_KINDS: readonly ContractKind[] = ['openapi', 'protobuf', 'json-schema'];

/** What a fleet repo is called on each remote forge, for the message when its URL does not say. */
const FORGE_REPO: Record<Exclude<ForgeConfig['type'], 'local'>, string> = {
  github: 'GitHub repository (owner/repo)',
  gitlab: 'GitLab project (group/project)',
  gitea: 'Gitea repository (owner/repo)',
};

export interface InputIssue {
  file: string;
  /** Dot-path of the field, e.g. `repos[1].sandbox.test`; empty for the whole file. */
  path: string;
  message: string;
  fix: string;
}

/** Bad configuration or change file: exit code 2, nothing started. */
export class InputError extends Error {
  constructor(readonly issues: InputIssue[]) {
    super(issues.map(formatIssue).join('\n'));
    this.name = 'InputError';
  }
}

/** A file as messages name it: relative to the current directory when it lies below it. */
function shownPath(file: string): string {
  const rel = relative(process.cwd(), file);
  return rel && !rel.startsWith('..') && !isAbsolute(rel) ? rel : file;
}

export function formatIssue(issue: InputIssue): string {
  const file = shownPath(issue.file);
  const where = issue.path ? `${file}: ${issue.path}` : file;
  return `${where}: ${issue.message}\n    fix: ${issue.fix}`;
}

export interface LoadedConfig {
  file: string;
  config: ReposConfig;
}

export function dotPath(path: readonly PropertyKey[]): string {
  return path.reduce<string>(
    (acc, key) => (typeof key === 'number' ? `${acc}[${key}]` : acc ? `${acc}.${String(key)}` : String(key)),
    '',
  );
}

function zodIssues(file: string, error: z.ZodError, prefix: readonly PropertyKey[] = []): InputIssue[] {
  return error.issues.map((issue) => {
    const path = dotPath([...prefix, ...issue.path]);
    let fix = 'correct the value';
    let message = issue.message;
    switch (issue.code) {
      case 'unrecognized_keys':
        message = `unknown field${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `"${k}"`).join(', ')}`;
        fix = 'remove it or check its spelling (see docs/configuration.md)';
        break;
      case 'invalid_type':
        if (/received undefined/.test(issue.message)) {
          message = `missing required field (${issue.expected})`;
          fix = `add "${String(issue.path.at(-1) ?? '')}"`;
        } else {
          fix = `use a value of type ${issue.expected}`;
        }
        break;
      case 'invalid_value':
        fix = `use one of: ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`;
        break;
      case 'too_small':
      case 'too_big':
        fix = 'bring the value within the stated bounds';
        break;
      case 'invalid_format':
        fix = 'use the format the message describes';
        break;
      case 'invalid_union':
        fix = 'use one of the forms the schema allows (see schemas/repos.config.schema.json)';
        break;
      case 'custom':
      case 'invalid_element':
      case 'invalid_key':
      case 'not_multiple_of':
        break;
    }
    return { file, path, message, fix };
  });
}

/** Parses JSON (with comments) or YAML (by extension), reporting syntax errors with line and column. */
async function readStructured(file: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new InputError([
      {
        file,
        path: '',
        message: code === 'ENOENT' ? 'file not found' : `cannot read: ${(err as Error).message}`,
        fix:
          code === 'ENOENT'
            ? 'check the path (relative paths are from the current directory)'
            : 'check the file permissions',
      },
    ]);
  }
  if (/\.json$/i.test(file)) {
    try {
      return parseJsonc(text);
    } catch (err) {
      throw new InputError([
        {
          file,
          path: '',
          message: `invalid JSON at ${(err as Error).message}`,
          fix: 'fix the syntax there (comments // and /* */ are allowed, trailing commas are not)',
        },
      ]);
    }
  }
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new InputError(
      doc.errors.map((e) => ({
        file,
        path: '',
        message: `invalid YAML at line ${e.linePos?.[0].line ?? '?'}, column ${e.linePos?.[0].col ?? '?'}: ${e.message.split('\n')[0] ?? ''}`,
        fix: 'fix the YAML syntax there',
      })),
    );
  }
  try {
    return doc.toJS() as unknown;
  } catch (err) {
    // The yaml package refuses documents whose aliases would expand without bound (a "billion
    // laughs" file) with a ReferenceError; that is bad input, not a crash.
    throw new InputError([
      {
        file,
        path: '',
        message: `YAML cannot be loaded: ${(err as Error).message}`,
        fix: 'use fewer aliases (*name), or write the values out',
      },
    ]);
  }
}

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

function mergeSandbox(defaults: unknown, own: unknown): unknown {
  if (!isPlainObject(defaults)) return own;
  if (own === undefined) return defaults;
  if (!isPlainObject(own)) return own;
  const merged: Record<string, unknown> = { ...defaults };
  for (const [key, value] of Object.entries(own)) {
    // Defined, not assigned: a "__proto__" key stays a key, reported as unknown by the schema,
    // instead of becoming the merged object's prototype and lending it fields the file never set.
    Object.defineProperty(merged, key, {
      value: isPlainObject(value) && isPlainObject(defaults[key]) ? { ...defaults[key], ...value } : value,
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return merged;
}

/** True for a remote git URL (scheme or scp-like); false for a local path. */
export function isRemoteUrl(url: string): boolean {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(url) || /^[^/\\]+@[^/\\]+:/.test(url);
}

/**
 * Only the `forge` section of a fleet config, for a worker that serves that forge's queue. A
 * worker does not clone from the config, so unlike loadReposConfig it does not require the
 * repos' local remotes to exist (the demo's are created by "npm run demo").
 */
export async function loadForgeConfig(file: string): Promise<ForgeConfig> {
  const absolute = resolve(file);
  const raw = await readStructured(absolute);
  const parsed = ForgeConfig.default({ type: 'local' }).safeParse(isPlainObject(raw) ? raw.forge : undefined);
  if (!parsed.success) throw new InputError(zodIssues(absolute, parsed.error, ['forge']));
  return parsed.data;
}

export async function loadReposConfig(file: string): Promise<LoadedConfig> {
  const absolute = resolve(file);
  const raw = await readStructured(absolute);
  const issues: InputIssue[] = [];
  if (!isPlainObject(raw)) {
    throw new InputError([
      {
        file: absolute,
        path: '',
        message: 'expected a JSON object with a "repos" list',
        fix: 'see repos.config.json in the project for an example',
      },
    ]);
  }
  const defaults = isPlainObject(raw.defaults) ? raw.defaults.sandbox : undefined;
  if (defaults !== undefined) {
    const checked = SandboxConfig.partial().safeParse(defaults);
    if (!checked.success) issues.push(...zodIssues(absolute, checked.error, ['defaults', 'sandbox']));
  }
  const withDefaults = {
    ...raw,
    repos: Array.isArray(raw.repos)
      ? raw.repos.map((repo: unknown) =>
          isPlainObject(repo) ? { ...repo, sandbox: mergeSandbox(defaults, repo.sandbox) } : repo,
        )
      : raw.repos,
  };
  const parsed = ReposConfig.safeParse(withDefaults);
  if (!parsed.success) {
    issues.push(...zodIssues(absolute, parsed.error));
    throw new InputError(dedupe(issues));
  }
  const config = parsed.data;
  const base = dirname(absolute);

  const seen = new Map<string, number>();
  config.repos.forEach((repo, i) => {
    const first = seen.get(repo.name);
    if (first !== undefined) {
      issues.push({
        file: absolute,
        path: `repos[${i}].name`,
        message: `duplicate repo name "${repo.name}" (also repos[${first}])`,
        fix: 'give every repo a unique name',
      });
    } else seen.set(repo.name, i);
    if (!isRemoteUrl(repo.url)) {
      const path = isAbsolute(repo.url) ? repo.url : resolve(base, repo.url);
      if (!existsSync(path) || !statSync(path).isDirectory()) {
        issues.push({
          file: absolute,
          path: `repos[${i}].url`,
          message: `no git repository at ${repo.url}`,
          fix: 'use a git URL, or a path to a repository relative to this config file (the demo remotes are created by "npm run demo")',
        });
      }
      repo.url = path;
    }
  });

  // A recipe's image is named by its content hash here, so every task and the gate name the same
  // image; `lockstep run` builds it (client/machine/images.ts) when the engine does not have it.
  for (const [i, repo] of config.repos.entries()) {
    const build = repo.sandbox.build;
    if (!build) continue;
    const dockerfile = resolve(base, build.dockerfile);
    const context = resolve(base, build.context ?? dirname(build.dockerfile));
    if (!existsSync(dockerfile) || !statSync(dockerfile).isFile()) {
      issues.push({
        file: absolute,
        path: `repos[${i}].sandbox.build.dockerfile`,
        message: `no Dockerfile at ${build.dockerfile}`,
        fix: 'give the path of the Dockerfile relative to this config file',
      });
      continue;
    }
    if (!existsSync(context) || !statSync(context).isDirectory() || !dockerfile.startsWith(`${context}/`)) {
      issues.push({
        file: absolute,
        path: `repos[${i}].sandbox.build.context`,
        message: `${build.context ?? dirname(build.dockerfile)} is not a folder that holds ${build.dockerfile}`,
        fix: 'give the build context folder relative to this config file; the Dockerfile must be inside it',
      });
      continue;
    }
    repo.sandbox.build = { dockerfile, context };
    repo.sandbox.image = await recipeTag({ dockerfile, context });
  }

  const forge = config.forge;
  if (forge.type !== 'local') {
    const names = new Set(config.repos.map((r) => r.name));
    for (const name of Object.keys(forge.repos)) {
      if (!names.has(name))
        issues.push({
          file: absolute,
          path: `forge.repos.${name}`,
          message: `"${name}" is not a repo of this fleet`,
          fix: `use one of: ${[...names].join(', ')}`,
        });
    }
    config.repos.forEach((repo, i) => {
      const slug = repoSlug(forge, repo.name, repo.url);
      // Every repo's slug is then explicit in the change's input: workers need no fleet config.
      if (slug) {
        forge.repos[repo.name] = slug;
        return;
      }
      issues.push({
        file: absolute,
        path: `repos[${i}].url`,
        message: `cannot tell the ${FORGE_REPO[forge.type]} of "${repo.name}" from its url`,
        fix: `use the repository's ${forge.type} URL, or add "forge.repos": { "${repo.name}": "owner/repo" }`,
      });
    });
  }

  const providers = new Map<string, number>();
  config.repos.forEach((repo, i) =>
    repo.provides.forEach((c, j) => {
      const other = providers.get(c.name);
      if (other !== undefined) {
        issues.push({
          file: absolute,
          path: `repos[${i}].provides[${j}].name`,
          message: `contract "${c.name}" is already provided by repos[${other}]`,
          fix: 'a contract has exactly one provider: rename one of them',
        });
      } else providers.set(c.name, i);
      if (c.kind === 'command' && !c.command) {
        issues.push({
          file: absolute,
          path: `repos[${i}].provides[${j}].command`,
          message: 'a "command" contract needs a command',
          fix: 'add "command": the check to run in the provider\'s sandbox',
        });
      }
      if (c.kind === 'command' && c.repo && !config.repos.some((r) => r.name === c.repo)) {
        issues.push({
          file: absolute,
          path: `repos[${i}].provides[${j}].repo`,
          message: `unknown repo "${c.repo}"`,
          fix: `run the check in one of: ${config.repos.map((r) => r.name).join(', ')}`,
        });
      }
      if (c.kind === 'pact' && !c.verify) {
        issues.push({
          file: absolute,
          path: `repos[${i}].provides[${j}].verify`,
          message: 'a "pact" contract needs the provider\'s verification command',
          fix: 'add "verify": a command that checks the pact file named by $PACT_FILE against the provider',
        });
      }
      if (DOCUMENT_KINDS.includes(c.kind) && !c.path) {
        issues.push({
          file: absolute,
          path: `repos[${i}].provides[${j}].path`,
          message: `a "${c.kind}" contract needs the path of its document`,
          fix: 'add "path", relative to the provider repository',
        });
      }
    }),
  );
  const kindOf = new Map(config.repos.flatMap((r) => r.provides.map((c) => [c.name, c.kind] as const)));
  config.repos.forEach((repo, i) =>
    repo.consumes.forEach((c, j) => {
      const provider = providers.get(c.name);
      if (provider === undefined) {
        issues.push({
          file: absolute,
          path: `repos[${i}].consumes[${j}].name`,
          message: `no repo provides contract "${c.name}"`,
          fix: `declare it under "provides" of the provider repo, or fix the name (provided: ${[...providers.keys()].join(', ') || 'none'})`,
        });
      } else if (provider === i) {
        issues.push({
          file: absolute,
          path: `repos[${i}].consumes[${j}].name`,
          message: `"${repo.name}" consumes its own contract "${c.name}"`,
          fix: 'a consumer cannot also be the provider: remove this entry',
        });
      }
      const kind = kindOf.get(c.name);
      if (kind === 'openapi' && !c.path && !c.uses) {
        issues.push({
          file: absolute,
          path: `repos[${i}].consumes[${j}]`,
          message: `the consumer of "${c.name}" does not say what it uses`,
          fix: 'add "path" (its copy of the OpenAPI document, a Pact file or a {"uses": [...]} file in the repo) or "uses" (operations and fields)',
        });
      }
      if (kind === 'pact' && !c.path) {
        issues.push({
          file: absolute,
          path: `repos[${i}].consumes[${j}].path`,
          message: `the consumer of pact contract "${c.name}" needs the path its tests write the pact file to`,
          fix: 'add "path", relative to the consumer repository',
        });
      }
      if (kind !== undefined && kind !== 'openapi' && c.uses) {
        issues.push({
          file: absolute,
          path: `repos[${i}].consumes[${j}].uses`,
          message: `"uses" applies to openapi contracts; "${c.name}" is ${kind}`,
          fix: 'remove "uses"',
        });
      }
    }),
  );
  config.gate.waive.forEach((w, i) => {
    if (w.repo && !seen.has(w.repo)) {
      issues.push({
        file: absolute,
        path: `gate.waive[${i}].repo`,
        message: `unknown repo "${w.repo}"`,
        fix: `use one of: ${[...seen.keys()].join(', ')}, or leave "repo" out to waive the rule everywhere`,
      });
    }
  });

  if (issues.length > 0) throw new InputError(issues);
  return { file: absolute, config };
}

export async function loadChange(file: string, loaded: LoadedConfig): Promise<Change> {
  const absolute = resolve(file);
  const parsed = Change.safeParse(await readStructured(absolute));
  if (!parsed.success) throw new InputError(dedupe(zodIssues(absolute, parsed.error)));
  const change = parsed.data;
  const known = loaded.config.repos.map((r) => r.name);
  const issues: InputIssue[] = [];
  const seen = new Set<string>();
  change.repos.forEach((target, i) => {
    if (!known.includes(target.name)) {
      issues.push({
        file: absolute,
        path: `repos[${i}].name`,
        message: `unknown repo "${target.name}"`,
        fix: `use one of: ${known.join(', ')} (from ${loaded.file})`,
      });
    }
    if (seen.has(target.name)) {
      issues.push({
        file: absolute,
        path: `repos[${i}].name`,
        message: `repo "${target.name}" is listed twice`,
        fix: 'merge its steps into one entry',
      });
    }
    seen.add(target.name);
  });
  if (change.targets) issues.push(...targetQueryIssues(absolute, change.targets, loaded));
  issues.push(...egressIssues(absolute, change, loaded));
  if (issues.length > 0) throw new InputError(issues);
  return change;
}

/** A query naming a tag, contract or repo the fleet does not have would select nothing, silently. */
function targetQueryIssues(file: string, query: TargetQuery, loaded: LoadedConfig): InputIssue[] {
  const { repos } = loaded.config;
  const issues: InputIssue[] = [];
  const tags = [...new Set(repos.flatMap((r) => r.tags))].sort();
  query.tags?.forEach((tag, i) => {
    if (!tags.includes(tag))
      issues.push({
        file,
        path: `targets.tags[${i}]`,
        message: `no repo of the fleet has tag "${tag}"`,
        fix: tags.length
          ? `use one of: ${tags.join(', ')} (from ${loaded.file})`
          : `add "tags" to the repos in ${loaded.file}`,
      });
  });
  for (const field of ['consumersOf', 'providersOf'] as const) {
    const name = query[field];
    if (name === undefined) continue;
    const contracts = [...new Set(repos.flatMap((r) => r.provides.map((c) => c.name)))].sort();
    if (!contracts.includes(name))
      issues.push({
        file,
        path: `targets.${field}`,
        message: `no repo of the fleet provides contract "${name}"`,
        fix: `use one of: ${contracts.join(', ') || '(none declared)'} (from ${loaded.file})`,
      });
  }
  const known = repos.map((r) => r.name);
  query.exclude.forEach((name, i) => {
    if (!known.includes(name))
      issues.push({
        file,
        path: `targets.exclude[${i}]`,
        message: `unknown repo "${name}"`,
        fix: `use one of: ${known.join(', ')} (from ${loaded.file})`,
      });
  });
  return issues;
}

/**
 * A change that asks for egress a target repo's fleet config does not grant: one issue per repo
 * and phase. A bump's targets may be known only after its manifests are read (client/machine/bump.ts), which
 * checks them again then.
 */
export function egressIssues(file: string, change: Change, loaded: LoadedConfig): InputIssue[] {
  const needed = requiredEgress(change);
  const issues: InputIssue[] = [];
  for (const phase of ['steps', 'agent'] as const) {
    if (!needed[phase]) continue;
    for (const target of change.repos) {
      const i = loaded.config.repos.findIndex((r) => r.name === target.name);
      const repo = loaded.config.repos[i];
      if (!repo || repo.sandbox.egress?.[phase]) continue;
      const what = repo.sandbox.egress ? `sandbox.egress.${phase}` : `sandbox.egress (with "${phase}")`;
      const byBump = phase === 'steps' && !change.egress?.steps && change.bump !== undefined;
      issues.push({
        file,
        path: byBump ? 'bump' : `egress.${phase}`,
        message: byBump
          ? `a bump runs ${change.bump?.ecosystem ?? 'the package manager'}'s own tool with the steps phase's egress, but the fleet does not grant it to repo "${repo.name}"`
          : `the change asks for ${phase} egress, but the fleet does not grant it to repo "${repo.name}"`,
        fix: `set repos[${i}].${what} in ${shownPath(loaded.file)}, where repos[${i}].name is "${repo.name}" (e.g. "${phase}": {} for the setup hosts and GET, HEAD, OPTIONS)${byBump ? '' : `, or remove egress.${phase} from the change file`}`,
      });
    }
  }
  return issues;
}

function dedupe(issues: InputIssue[]): InputIssue[] {
  const seen = new Set<string>();
  return issues.filter((i) => {
    const key = `${i.path}\n${i.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/** Loads an evaluation suite; every task's repos, reference steps and checks must fit the fleet. */
export async function loadEvalSuite(file: string, loaded: LoadedConfig): Promise<EvalSuite> {
  const absolute = resolve(file);
  const parsed = EvalSuite.safeParse(await readStructured(absolute));
  if (!parsed.success) throw new InputError(dedupe(zodIssues(absolute, parsed.error)));
  const suite = parsed.data;
  const known = loaded.config.repos.map((r) => r.name);
  const issues: InputIssue[] = [];
  const ids = new Set<string>();
  suite.tasks.forEach((task, i) => {
    if (ids.has(task.id))
      issues.push({
        file: absolute,
        path: `tasks[${i}].id`,
        message: `task id "${task.id}" is used twice`,
        fix: 'give every task its own id',
      });
    ids.add(task.id);
    const targets = task.repos.map((r) => r.name);
    task.repos.forEach((r, j) => {
      if (!known.includes(r.name))
        issues.push({
          file: absolute,
          path: `tasks[${i}].repos[${j}].name`,
          message: `unknown repo "${r.name}"`,
          fix: `use one of: ${known.join(', ')}`,
        });
      if (!task.reference[r.name])
        issues.push({
          file: absolute,
          path: `tasks[${i}].reference`,
          message: `no reference steps for "${r.name}"`,
          fix: 'add the steps that solve the task in this repo',
        });
    });
    for (const repo of Object.keys(task.reference)) {
      if (!targets.includes(repo))
        issues.push({
          file: absolute,
          path: `tasks[${i}].reference.${repo}`,
          message: `"${repo}" is not a target of this task`,
          fix: `list it under repos, or remove its steps`,
        });
    }
    task.checks.forEach((c, j) => {
      if (!targets.includes(c.repo))
        issues.push({
          file: absolute,
          path: `tasks[${i}].checks[${j}].repo`,
          message: `"${c.repo}" is not a target of this task`,
          fix: `check one of: ${targets.join(', ')}`,
        });
    });
  });
  if (issues.length > 0) throw new InputError(issues);
  return suite;
}

/**
 * The repos, checkouts and sandboxes of one gate check. Repos are cloned at the commits the
 * change pushed (a repo outside the change at the tip of its base branch); documents are read
 * from git objects, never through the work tree, so a symlink cannot point a check at a host
 * file; commands and tools run only in throwaway sandboxes that see the gate's tools read-only.
 * `dispose` removes every sandbox and checkout, also after a failure.
 */
import type Docker from 'dockerode';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { CommandResult } from '../../core/commands.ts';
import type { GateRepo, GateRevision } from '../../core/gate.ts';
import { activityContext } from '../context.ts';
import { chownTree, git, type GitCredentials } from '../git/workspace.ts';
import { openCache } from '../sandbox/cache.ts';
import { ownerAlive } from '../sandbox/owner.ts';
import {
  LABEL_CHANGE,
  LABEL_OWNER,
  LABEL_REPO,
  createSandbox,
  removeSandbox,
  runInSandbox,
  type SandboxDeps,
} from '../sandbox/docker.ts';
import { removeEgressDir } from '../egress/sandbox.ts';
import { sandboxGateExec, type GateExec } from './exec.ts';
import { gateMounts } from './tools.ts';

/** A gate command's result; `setupFailed` when it did not run because the repo's setup failed (this is setup's result). */
export type GateCommandResult = CommandResult & { setupFailed?: true };

/** Names the worker process (`host:pid`) whose attempt made a check's checkouts. */
const OWNER_FILE = '.owner';

/** Documents larger than this are not contracts; reading them is refused. */
export const MAX_DOCUMENT_BYTES = 4 * 1024 * 1024;

/** A document over MAX_DOCUMENT_BYTES: a problem of the input, which no retry can fix. */
export class DocumentTooLargeError extends Error {
  constructor(
    readonly path: string,
    readonly size: number,
  ) {
    super(`${path} is ${size} bytes; contract documents are limited to ${MAX_DOCUMENT_BYTES}`);
  }
}

export interface GateDeps {
  stateDir: string;
  docker: Docker;
  sandbox: Omit<SandboxDeps, 'heartbeat'>;
  workspaceOwner: { uid: number; gid: number } | null;
  /** How git authenticates to the remotes (remote forges over HTTPS). */
  gitCredentials?: GitCredentials | undefined;
}

interface Checkout {
  repo: GateRepo;
  dir: string;
  base: string;
  head: string;
}

/**
 * The repos, checkouts and sandboxes of one gate check. Checkouts and sandboxes are named after
 * the change, the key (the round and the contract, or the round and the scanned repo) and the
 * activity's attempt: no two activities that may run at once share a folder or a sandbox. An
 * attempt the server gave up on can still be running on its worker; the retry must not delete
 * the checkout under it, nor it the retry's when it disposes.
 */
export class GateWork {
  private readonly checkouts = new Map<string, Promise<Checkout>>();
  private readonly sandboxes = new Set<string>();
  /** Each repo's setup, run once per check before its first command. */
  private readonly setups = new Map<string, Promise<CommandResult | null>>();
  private commandIndex = 0;
  private readonly key: string;
  private readonly baseKey: string;
  private cleared: Promise<void> | null = null;
  readonly root: string;

  constructor(
    private readonly deps: GateDeps,
    private readonly changeId: string,
    /** Unique within the change: `<round>-<contract>` or `<round>-scan-<repo>`. */
    key: string,
    private readonly repos: readonly GateRepo[],
    private readonly revisions: readonly GateRevision[],
  ) {
    this.baseKey = key;
    this.key = `${key}-a${activityContext()?.info.attempt ?? 1}`;
    this.root = join(deps.stateDir, 'gate', changeId, this.key);
  }

  repo(name: string): GateRepo {
    const repo = this.repos.find((r) => r.repo === name);
    if (!repo) throw new Error(`gate: repo "${name}" is not part of this check`);
    return repo;
  }

  /** The repo cloned and checked out at its head (once per check). */
  checkout(name: string): Promise<Checkout> {
    let pending = this.checkouts.get(name);
    if (!pending) {
      const repo = this.repo(name);
      pending = this.clearEarlierAttempts().then(() => this.clone(repo));
      this.checkouts.set(name, pending);
    }
    return pending;
  }

  /**
   * The checkouts and sandboxes an earlier attempt of this check left on this host when its
   * worker died: no one waits for its result, so they go before this attempt makes its own, and
   * the change does not end with them. An earlier attempt whose worker still runs (the server
   * gave up on it, the worker did not) may still be using them: it removes its own when it ends,
   * and the reconciler removes whatever is left once the change closes.
   */
  private clearEarlierAttempts(): Promise<void> {
    this.cleared ??= (async () => {
      const attempt = activityContext()?.info.attempt ?? 1;
      if (attempt <= 1) return;
      const earlier = Array.from({ length: attempt - 1 }, (_, i) => `${this.baseKey}-a${i + 1}`);
      const dead = new Set<string>();
      for (const k of earlier) {
        const owner = await readFile(join(this.deps.stateDir, 'gate', this.changeId, k, OWNER_FILE), 'utf8').catch(
          () => null,
        );
        if (owner !== null && !ownerAlive(owner.trim())) dead.add(k);
      }
      const found = await this.deps.docker.listContainers({
        all: true,
        filters: { label: [`${LABEL_CHANGE}=${this.changeId}`] },
      });
      for (const c of found) {
        const repo = c.Labels[LABEL_REPO] ?? '';
        const of = earlier.find((k) => repo.startsWith(`gate-${k}-`));
        if (of && (dead.has(of) || !ownerAlive(c.Labels[LABEL_OWNER] ?? ''))) {
          await this.deps.docker
            .getContainer(c.Id)
            .remove({ force: true, v: true })
            .catch(() => undefined);
        }
      }
      await Promise.all(
        [...dead].map((k) => rm(join(this.deps.stateDir, 'gate', this.changeId, k), { recursive: true, force: true })),
      );
    })();
    return this.cleared;
  }

  private async clone(repo: GateRepo): Promise<Checkout> {
    const dir = join(this.root, repo.repo);
    await rm(dir, { recursive: true, force: true });
    await mkdir(this.root, { recursive: true });
    // Whose checkouts these are: a later attempt clears them only once this worker is gone.
    await writeFile(join(this.root, OWNER_FILE), this.deps.sandbox.owner);
    await git(undefined, dir, this.deps.gitCredentials?.(repo.url)).clone(repo.url, dir, [
      '--no-hardlinks',
      '--no-checkout',
      '--no-recurse-submodules',
    ]);
    const g = git(dir);
    const revision = this.revisions.find((r) => r.repo === repo.repo);
    const tip = (await g.revparse([`refs/remotes/origin/${repo.baseBranch}`])).trim();
    const base = revision?.base ?? tip;
    const head = revision?.head ?? base;
    await g.raw(['checkout', '--quiet', '--detach', head]);
    if (this.deps.workspaceOwner) await chownTree(dir, this.deps.workspaceOwner.uid, this.deps.workspaceOwner.gid);
    return { repo, dir, base, head };
  }

  /** A file of the repo at `which` revision, from git objects; null when it is not there. */
  async read(name: string, which: 'base' | 'head', path: string): Promise<string | null> {
    const c = await this.checkout(name);
    const rev = which === 'base' ? c.base : c.head;
    const g = git(c.dir);
    const type = await g.raw(['cat-file', '-t', `${rev}:${path}`]).catch(() => '');
    if (type.trim() !== 'blob') return null;
    const size = Number((await g.raw(['cat-file', '-s', `${rev}:${path}`])).trim());
    if (size > MAX_DOCUMENT_BYTES) throw new DocumentTooLargeError(`${name}:${path}`, size);
    return g.raw(['cat-file', 'blob', `${rev}:${path}`]);
  }

  /** The repo's sandbox at its head, created on first use, with the gate's tools mounted read-only. */
  private async sandbox(name: string) {
    const c = await this.checkout(name);
    const ref = { changeId: this.changeId, repo: `gate-${this.key}-${name}` };
    const ctx = activityContext();
    const deps: SandboxDeps = { ...this.deps.sandbox, readOnlyMounts: gateMounts(), heartbeat: ctx };
    if (!this.sandboxes.has(ref.repo)) {
      this.sandboxes.add(ref.repo);
      // The repo's own cache: the gate's setup installs from what the repo's run fetched.
      const cacheDir = await openCache(this.deps.stateDir, name, c.dir, c.repo.sandbox.cache, this.deps.workspaceOwner);
      await createSandbox(deps, { ...ref, workspace: c.dir, sandbox: c.repo.sandbox, cacheDir, configName: name });
    }
    return { c, ref, deps, signal: ctx?.cancellationSignal };
  }

  /**
   * Runs a shell command of the fleet's config in the repo's sandbox at its head, after the
   * repo's setup, so the check sees what the repo's own tests saw. When setup failed the command
   * does not run: the result says so (`setupFailed`), and the check could not run.
   */
  async run(name: string, label: string, command: string, timeoutSeconds: number): Promise<GateCommandResult> {
    const { c, ref, deps, signal } = await this.sandbox(name);
    const setup = await this.setup(name);
    if (setup && (setup.exitCode !== 0 || setup.timedOut)) return { ...setup, setupFailed: true };
    return runInSandbox(
      deps,
      {
        ...ref,
        kind: 'gate',
        name: label,
        index: this.commandIndex++,
        command,
        timeoutSeconds,
        outputBytes: c.repo.sandbox.limits.outputBytes,
      },
      signal,
    );
  }

  /** The repo's `sandbox.setup`, as a repo's own run does it (kind 'setup': the egress applies). */
  private setup(name: string): Promise<CommandResult | null> {
    let pending = this.setups.get(name);
    if (!pending) {
      pending = (async () => {
        const { c, ref, deps, signal } = await this.sandbox(name);
        const { setup, timeouts, limits } = c.repo.sandbox;
        if (!setup) return null;
        return runInSandbox(
          deps,
          {
            ...ref,
            kind: 'setup',
            name: 'setup',
            index: this.commandIndex++,
            command: setup,
            timeoutSeconds: timeouts.setupSeconds,
            outputBytes: limits.outputBytes,
          },
          signal,
        );
      })();
      this.setups.set(name, pending);
    }
    return pending;
  }

  /** How the gate's tools (buf, gitleaks, semgrep) run in the repo's sandbox. */
  async tools(name: string): Promise<GateExec> {
    const { ref, deps, signal } = await this.sandbox(name);
    return sandboxGateExec(deps, ref, { firstIndex: 500 + this.commandIndex++ * 10, ...(signal ? { signal } : {}) });
  }

  /** Gives files the host wrote into a checkout to the sandbox user. */
  async handOver(path: string): Promise<void> {
    if (this.deps.workspaceOwner) await chownTree(path, this.deps.workspaceOwner.uid, this.deps.workspaceOwner.gid);
  }

  async dispose(): Promise<void> {
    await Promise.allSettled(
      [...this.sandboxes].map(async (repo) => {
        await removeSandbox(this.deps.docker, { changeId: this.changeId, repo });
        await removeEgressDir(this.deps.sandbox.egress, { changeId: this.changeId, repo });
      }),
    );
    // The owner file goes last: a worker killed half-way through leaves it with what remains, so
    // a later attempt still knows the rest for a dead worker's and removes it.
    const entries = await readdir(this.root).catch(() => []);
    await Promise.all(
      entries
        .filter((name) => name !== OWNER_FILE)
        .map((name) => rm(join(this.root, name), { recursive: true, force: true })),
    );
    await rm(this.root, { recursive: true, force: true });
  }
}

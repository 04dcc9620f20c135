/**
 * The hostile repository corpus, as data: each case says what its repository holds, how the
 * attack is carried out on Lockstep's real parts, and the outcome it must have. Repositories are
 * generated at test time (symbolic and hard links to host paths, hooks, names that are not
 * UTF-8, archives with traversal entries, files of megabytes) and never committed to Lockstep.
 *
 * The runner (repos.test.ts) gives every case the same host around it: a secret file, an empty
 * canary folder and a hook marker outside the workspace. After every case it checks that the
 * marker was never created, the canary folder is still empty, the secret file is unchanged and
 * the secret appears in nothing the case saw (tool results, command output, logs).
 */
import type { ToolOutcome } from '../../activities/agent/tools/index.ts';
import type { CommandResult } from '../../core/commands.ts';
import type { CommitAndPushResult } from '../../core/workspace.ts';

/** What stopped an attack (or that nothing did: `allowed`, which no case expects). */
export type Outcome = 'refused' | 'contained' | 'killed' | 'allowed';

export interface Observation {
  outcome: Outcome;
  /** Messages and output the expectation's pattern is matched against. */
  detail: string;
}

export interface HostPaths {
  /** A folder outside every workspace: the host the sandbox must not reach. */
  dir: string;
  /** A file holding `secret`, which nothing may read. */
  secretFile: string;
  secret: string;
  /** A folder that must stay empty. */
  canary: string;
  /** Created by any planted hook or filter that runs on the host. */
  marker: string;
}

export interface Seed {
  host: HostPaths;
  /** Where the workspace will be cloned on the host (for relative links that aim outside). */
  workspace: string;
  file(path: string | Buffer, content: string | Buffer, mode?: number): void;
  symlink(path: string, target: string): void;
  /** A submodule entry (mode 160000) pointing at `sha`. */
  gitlink(path: string, sha: string): void;
}

export interface Run {
  host: HostPaths;
  workspace: string;
  /** A command in the sandbox (`bash -c`). */
  sh(command: string, options?: { timeoutSeconds?: number; outputBytes?: number }): Promise<CommandResult>;
  /** The repo's test command in the sandbox, with its test timeout. */
  test(): Promise<CommandResult>;
  /** One agent tool call, as the model would make it. */
  tool(name: string, args: Record<string, unknown>): Promise<ToolOutcome>;
  /** Lockstep's host-side commit and push of the work tree. */
  commit(): Promise<CommitAndPushResult>;
  /** Paths on the pushed change branch. */
  pushedFiles(): Promise<string[]>;
}

export interface HostileCase {
  id: string;
  group: 'links' | 'git' | 'bombs' | 'output' | 'names' | 'archive';
  /** One line: what the repository tries. */
  threat: string;
  expected: { outcome: Outcome; detail: RegExp; text: string };
  /** Counted in the "bombs contained" figure. */
  bomb?: true;
  /** Sandbox settings for the case (test command, limits, timeouts). */
  sandbox?: { test?: string; limits?: Record<string, number>; timeouts?: Record<string, number> };
  seed(s: Seed): void;
  /** Runs on the host after the clone, as something on the host (not the repository) could. */
  plant?(workspace: string, host: HostPaths): Promise<void>;
  attack(r: Run): Promise<Observation>;
}

// ---------------------------------------------------------------------------------------------
// Observations

const joinDetail = (parts: string[]): string => parts.join('\n---\n');

/** Every call refused: `refused`; any call allowed: `allowed`, with what it returned. */
export function allRefused(outcomes: ToolOutcome[]): Observation {
  const allowed = outcomes.filter((o) => o.ok);
  if (allowed.length > 0) return { outcome: 'allowed', detail: joinDetail(allowed.map((o) => o.content)) };
  return { outcome: 'refused', detail: joinDetail(outcomes.map((o) => o.content)) };
}

/** A command the sandbox stopped on its own terms: it ran, failed, and changed nothing outside. */
export function contained(results: CommandResult[], extra: string[] = []): Observation {
  return { outcome: 'contained', detail: joinDetail([...results.map(describeResult), ...extra]) };
}

/** A command the sandbox ended: a timeout or a kill (exit code 128 + signal). */
export function killed(result: CommandResult): Observation {
  const ended = result.timedOut || result.exitCode >= 128;
  return { outcome: ended ? 'killed' : 'allowed', detail: describeResult(result) };
}

/**
 * `contained` when the command's leftovers were killed and the next command sees no process but
 * the sandbox's init, its main process and itself; `allowed` when anything else still runs.
 */
export async function leftAlone(result: CommandResult, r: Run): Promise<Observation> {
  const ps = await r.sh(
    // Not itself, nor the shell that runs it and sweeps after it (docker.ts shellArgv).
    'for d in /proc/[0-9]*; do case ${d#/proc/} in $$|$PPID) continue ;; esac; tr "\\0" " " < $d/cmdline; echo; done 2>/dev/null',
  );
  const others = ps.outputTail
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('tr ') && !l.startsWith('mkdir '))
    .map((l) => (/docker-init/.test(l) ? 'init' : l));
  const seen = [...new Set(others)].sort((a, b) => (a === 'init' ? -1 : b === 'init' ? 1 : a.localeCompare(b)));
  const clean = (result.leftovers ?? 0) > 0 && seen.join(', ') === 'init, sleep infinity';
  return {
    outcome: clean ? 'contained' : 'allowed',
    detail: `${describeResult(result)}\n---\nnext command sees: ${seen.join(', ')}`,
  };
}

export function describeResult(result: CommandResult): string {
  return `exit ${result.exitCode}${result.timedOut ? ' (timed out)' : ''}, ${result.outputBytes} bytes${result.truncated ? ' (log truncated)' : ''}\n${result.outputTail.slice(-1500)}`;
}

// ---------------------------------------------------------------------------------------------
// A tar writer: enough ustar for traversal entries and links, built byte by byte so the archive
// holds exactly the names a hostile repository would ship.

export interface TarEntry {
  name: string;
  type: 'file' | 'symlink' | 'hardlink';
  content?: string;
  linkname?: string;
}

export function tar(entries: TarEntry[]): Buffer {
  const blocks: Buffer[] = [];
  for (const entry of entries) {
    const body = Buffer.from(entry.content ?? '', 'utf8');
    const header = Buffer.alloc(512);
    const put = (offset: number, length: number, value: string): void => {
      if (Buffer.byteLength(value) > length) throw new Error(`tar field too long: ${value}`);
      header.write(value, offset, length, 'utf8');
    };
    const octal = (offset: number, length: number, value: number): void =>
      put(offset, length, `${value.toString(8).padStart(length - 1, '0')}\0`);
    // ustar keeps long names as prefix + "/" + name (at most 155 and 100 bytes).
    let [prefix, name] = ['', entry.name];
    if (Buffer.byteLength(name) > 100) {
      const cut = name.lastIndexOf('/', 155);
      [prefix, name] = [name.slice(0, cut), name.slice(cut + 1)];
    }
    put(0, 100, name);
    put(345, 155, prefix);
    octal(100, 8, 0o644);
    octal(108, 8, 0);
    octal(116, 8, 0);
    octal(124, 12, entry.type === 'file' ? body.length : 0);
    octal(136, 12, 0);
    header.fill(' ', 148, 156);
    put(156, 1, entry.type === 'file' ? '0' : entry.type === 'symlink' ? '2' : '1');
    put(157, 100, entry.linkname ?? '');
    put(257, 6, 'ustar\0');
    put(263, 2, '00');
    let sum = 0;
    for (const byte of header) sum += byte;
    put(148, 8, `${sum.toString(8).padStart(6, '0')}\0 `);
    blocks.push(header);
    if (entry.type === 'file') {
      blocks.push(body, Buffer.alloc((512 - (body.length % 512)) % 512));
    }
  }
  blocks.push(Buffer.alloc(1024));
  return Buffer.concat(blocks);
}

// ---------------------------------------------------------------------------------------------
// The cases

const hook = (host: HostPaths): string => `#!/bin/sh\necho "$0 ran" >> '${host.marker}'\n`;
const READ = (path: string): Record<string, unknown> => ({ path, start_line: null, end_line: null });
const BOMB_LIMITS = { memoryMb: 256, pids: 64, cpus: 1, tmpfsMb: 32, fileMb: 64 };

/** A relative path from `from` (a folder) to `to`, through as many `..` as it takes. */
function relativeUp(from: string, to: string): string {
  const depth = from.split('/').filter(Boolean).length;
  return `${'../'.repeat(depth + 2)}${to.replace(/^\/+/, '')}`;
}

export const CASES: HostileCase[] = [
  // ----- links -----
  {
    id: 'symlink-absolute-host-file',
    group: 'links',
    threat: 'a committed symbolic link to a secret file on the host, by absolute path',
    expected: {
      outcome: 'refused',
      detail: /resolves through a symbolic link to outside the workspace/,
      text: 'read_file and edit_file refuse: the link leaves the workspace',
    },
    seed: (s) => s.symlink('notes.txt', s.host.secretFile),
    attack: async (r) =>
      allRefused([
        await r.tool('read_file', READ('notes.txt')),
        await r.tool('edit_file', { path: 'notes.txt', old_text: 'HOST', new_text: 'x' }),
      ]),
  },
  {
    id: 'symlink-relative-escape',
    group: 'links',
    threat: 'a committed relative link (../../..) climbing out of the workspace to the host secret',
    expected: {
      outcome: 'refused',
      detail: /outside the workspace/,
      text: 'read_file refuses: the link leaves the workspace',
    },
    seed: (s) => s.symlink('docs/secret.md', relativeUp(`${s.workspace}/docs`, s.host.secretFile)),
    attack: async (r) => allRefused([await r.tool('read_file', READ('docs/secret.md'))]),
  },
  {
    id: 'symlink-dir-write-escape',
    group: 'links',
    threat: 'a committed link to a host folder, then writes through it',
    expected: {
      outcome: 'refused',
      detail: /outside the workspace/,
      text: 'write_file and list_directory refuse; the host folder stays empty',
    },
    seed: (s) => s.symlink('out', s.host.canary),
    attack: async (r) =>
      allRefused([
        await r.tool('write_file', { path: 'out/pwned.txt', content: 'pwned' }),
        await r.tool('write_file', { path: 'out/a/b/c.txt', content: 'pwned' }),
        await r.tool('list_directory', { path: 'out' }),
      ]),
  },
  {
    id: 'symlink-into-git-config',
    group: 'links',
    threat: 'a committed link to .git/config, to rewrite the host repository config through the tools',
    expected: {
      outcome: 'refused',
      detail: /into \.git/,
      text: 'read_file and write_file refuse: git metadata is off limits',
    },
    seed: (s) => s.symlink('cfg', '.git/config'),
    attack: async (r) =>
      allRefused([
        await r.tool('read_file', READ('cfg')),
        await r.tool('write_file', { path: 'cfg', content: '[core]\n\thooksPath = .githooks\n' }),
      ]),
  },
  {
    id: 'symlink-loop',
    group: 'links',
    threat: 'two links pointing at each other',
    expected: {
      outcome: 'refused',
      detail: /loop of symbolic links/,
      text: 'read_file refuses: a loop of symbolic links',
    },
    seed: (s) => {
      s.symlink('a', 'b');
      s.symlink('b', 'a');
    },
    attack: async (r) => allRefused([await r.tool('read_file', READ('a'))]),
  },
  {
    id: 'symlink-grep-host-secret',
    group: 'links',
    threat: 'a link to the host secret inside a folder, found by a recursive search',
    expected: {
      outcome: 'contained',
      detail: /No matches/,
      text: 'grep_codebase runs in the sandbox, where the host path does not exist: no matches',
    },
    seed: (s) => {
      s.file('config/app.ini', 'name=app\n');
      s.symlink('config/creds', s.host.secretFile);
    },
    attack: async (r) => {
      const grep = await r.tool('grep_codebase', { pattern: 'HOST-SENTINEL', glob: null });
      const cat = await r.sh('cat config/creds');
      return {
        outcome: grep.ok && cat.exitCode !== 0 ? 'contained' : 'allowed',
        detail: `${grep.content}\n${describeResult(cat)}`,
      };
    },
  },
  {
    id: 'sandbox-made-symlink-to-host',
    group: 'links',
    threat: 'a command in the sandbox plants a link to the host secret, then the file tools follow it',
    expected: {
      outcome: 'refused',
      detail: /outside the workspace/,
      text: 'the link is made, but read_file refuses to follow it',
    },
    seed: (s) => s.file('README.md', 'plain\n'),
    attack: async (r) => {
      await r.sh(`ln -sf '${r.host.secretFile}' leak && ln -sfn '${r.host.dir}' hostdir`);
      return allRefused([
        await r.tool('read_file', READ('leak')),
        await r.tool('list_directory', { path: 'hostdir' }),
        await r.tool('write_file', { path: 'hostdir/canary/x', content: 'x' }),
      ]);
    },
  },
  {
    id: 'hardlink-host-file',
    group: 'links',
    threat: 'a hard link to a host file inside the workspace (realpath cannot see that it leaves)',
    expected: {
      outcome: 'refused',
      detail: /hard link/,
      text: 'read_file and edit_file refuse files with more than one hard link',
    },
    seed: (s) => s.file('README.md', 'plain\n'),
    plant: async (workspace, host) => {
      const { link } = await import('node:fs/promises');
      await link(host.secretFile, `${workspace}/hard.txt`);
    },
    attack: async (r) =>
      allRefused([
        await r.tool('read_file', READ('hard.txt')),
        await r.tool('edit_file', { path: 'hard.txt', old_text: 'HOST', new_text: 'x' }),
      ]),
  },
  {
    id: 'sandbox-hardlink-attempts',
    group: 'links',
    threat: 'a command hard-links .git/config and files of the image into the work tree',
    expected: {
      outcome: 'contained',
      detail: /cross-device link/,
      text: 'ln fails with "Invalid cross-device link": the work tree is its own mount',
    },
    seed: (s) => s.file('README.md', 'plain\n'),
    attack: async (r) => {
      const result = await r.sh('ln .git/config cfg; ln .git/HEAD head; ln /etc/passwd pw; ls');
      const files = await r.sh('test ! -e cfg && test ! -e head && test ! -e pw');
      return { outcome: files.exitCode === 0 ? 'contained' : 'allowed', detail: describeResult(result) };
    },
  },

  // ----- git: hooks and config -----
  {
    id: 'hooks-in-work-tree',
    group: 'git',
    threat: 'committed hooks (.githooks/*) and a command that points core.hooksPath at them',
    expected: {
      outcome: 'contained',
      detail: /could not lock config file|Read-only file system/,
      text: 'git config fails (read-only .git); commit and push run no hook',
    },
    seed: (s) => {
      for (const name of [
        'pre-commit',
        'post-commit',
        'pre-push',
        'post-checkout',
        'reference-transaction',
        'commit-msg',
      ])
        s.file(`.githooks/${name}`, hook(s.host), 0o755);
      s.file('.gitconfig', '[core]\n\thooksPath = .githooks\n');
      s.file('README.md', 'hooks\n');
    },
    attack: async (r) => {
      const config = await r.sh(
        'git config core.hooksPath .githooks; git config --get core.hooksPath; echo change >> README.md',
      );
      const pushed = await r.commit();
      return contained([config], [`pushed ${pushed.commit ?? 'nothing'}`]);
    },
  },
  {
    id: 'hooks-planted-in-git-dir',
    group: 'git',
    threat: 'hooks in .git/hooks and core.hooksPath in .git/config (as if .git itself were hostile)',
    expected: {
      outcome: 'contained',
      detail: /pushed [0-9a-f]{40}/,
      text: 'commit and push run with core.hooksPath=/dev/null: no hook runs',
    },
    seed: (s) => {
      s.file('.githooks/pre-commit', hook(s.host), 0o755);
      s.file('README.md', 'hooks\n');
    },
    plant: async (workspace, host) => {
      const { writeFile, appendFile } = await import('node:fs/promises');
      for (const name of [
        'pre-commit',
        'post-commit',
        'pre-push',
        'commit-msg',
        'prepare-commit-msg',
        'reference-transaction',
        'post-index-change',
      ]) {
        await writeFile(`${workspace}/.git/hooks/${name}`, hook(host), { mode: 0o755 });
      }
      await appendFile(`${workspace}/.git/config`, '[core]\n\thooksPath = .githooks\n');
    },
    attack: async (r) => {
      const edit = await r.sh('echo change >> README.md');
      const pushed = await r.commit();
      return contained([edit], [`pushed ${pushed.commit ?? 'nothing'}`]);
    },
  },
  {
    id: 'git-config-fsmonitor',
    group: 'git',
    threat: 'core.fsmonitor in .git/config naming a script of the work tree',
    expected: {
      outcome: 'contained',
      detail: /pushed [0-9a-f]{40}/,
      text: 'every host git call sets core.fsmonitor=false: the script never runs',
    },
    seed: (s) => {
      s.file('fsmonitor.sh', hook(s.host), 0o755);
      s.file('README.md', 'fsmonitor\n');
    },
    plant: async (workspace) => {
      const { appendFile } = await import('node:fs/promises');
      await appendFile(`${workspace}/.git/config`, `[core]\n\tfsmonitor = ${workspace}/fsmonitor.sh\n`);
    },
    attack: async (r) => {
      const edit = await r.sh('echo change >> README.md');
      const pushed = await r.commit();
      return contained([edit], [`pushed ${pushed.commit ?? 'nothing'}`]);
    },
  },
  {
    id: 'gitmodules-ext-url',
    group: 'git',
    threat: '.gitmodules with an ext:: URL that runs a command when the submodule is fetched',
    expected: {
      outcome: 'contained',
      detail: /pushed [0-9a-f]{40}/,
      text: 'clone without submodules, protocol.ext.allow=never: nothing runs',
    },
    seed: (s) => {
      s.file('.gitmodules', `[submodule "evil"]\n\tpath = evil\n\turl = ext::sh -c touch% '${s.host.marker}'\n`);
      s.gitlink('evil', '1111111111111111111111111111111111111111');
      s.file('README.md', 'submodule\n');
    },
    attack: async (r) => {
      const edit = await r.sh('echo change >> README.md; git submodule update --init 2>&1 | tail -2');
      const pushed = await r.commit();
      return contained([edit], [`pushed ${pushed.commit ?? 'nothing'}`]);
    },
  },
  {
    id: 'nested-repo-hostile-config',
    group: 'git',
    threat: 'a command creates a nested repository whose config holds hooks, an fsmonitor and a clean filter',
    expected: {
      outcome: 'contained',
      detail: /nested repository planted[\s\S]*pushed [0-9a-f]{40}/,
      text: 'the host commit treats it as an embedded repository and runs none of its config',
    },
    seed: (s) => s.file('README.md', 'nested\n'),
    attack: async (r) => {
      const script = `${r.workspace}/vendor/evil/run.sh`;
      // The nested repository is made first; its hostile config comes last, aimed at the host's
      // path of the script (the container's git could not run it anyway).
      const made = await r.sh(
        [
          'set -e',
          'mkdir -p vendor/evil && cd vendor/evil && git init -q',
          `printf '#!/bin/sh\\necho "$0 ran" >> ${r.host.marker}\\ncat\\n' > run.sh && chmod +x run.sh`,
          'echo data > data.txt && git -c user.name=x -c user.email=x@x add -A && git -c user.name=x -c user.email=x@x commit -qm x',
          `git config core.fsmonitor '${script}'`,
          'git config core.hooksPath .',
          `git config filter.evil.clean '${script}'`,
          `git config filter.evil.smudge '${script}'`,
          'git config filter.evil.required true',
          `git config diff.evil.command '${script}'`,
          `echo '* filter=evil diff=evil' > .gitattributes`,
          'for h in pre-commit post-checkout post-index-change reference-transaction; do cp run.sh .git/hooks/$h; cp run.sh $h; done',
          'echo more >> data.txt',
          'cd /workspace && echo "* filter=evil diff=evil" > .gitattributes && echo change >> README.md',
          'echo nested repository planted',
        ].join('\n'),
      );
      const pushed = await r.commit();
      return contained([made], [`pushed ${pushed.commit ?? 'nothing'}`]);
    },
  },
  {
    id: 'case-variant-dot-git',
    group: 'git',
    threat: 'writes to .GIT/ and .Git/ (case variants of .git) through the tools',
    expected: { outcome: 'refused', detail: /inside \.git/, text: 'the tools refuse every case variant of .git' },
    seed: (s) => s.file('README.md', 'case\n'),
    attack: async (r) =>
      allRefused([
        await r.tool('write_file', { path: '.GIT/hooks/pre-commit', content: '#!/bin/sh\n' }),
        await r.tool('write_file', { path: 'sub/.Git/config', content: '[core]\n' }),
      ]),
  },
  {
    id: 'sandbox-writes-git-dir',
    group: 'git',
    threat: 'a command rewrites .git/config, installs .git/hooks and deletes .git/objects',
    expected: {
      outcome: 'contained',
      detail: /Read-only file system/,
      text: 'every write fails: .git is mounted read-only',
    },
    seed: (s) => s.file('README.md', 'git dir\n'),
    attack: async (r) => {
      const result = await r.sh(
        `echo '[core]' >> .git/config; cp /bin/true .git/hooks/pre-commit; rm -rf .git/objects; touch .git/index.lock; ls .git/objects | head -1`,
      );
      const pushed = await r.commit();
      return contained([result], [`pushed ${pushed.commit ?? 'nothing'}`]);
    },
  },

  // ----- bombs -----
  {
    id: 'fork-bomb',
    group: 'bombs',
    bomb: true,
    threat: 'a test command that is the classic shell fork bomb (it detaches and exits)',
    sandbox: { test: ':(){ :|:& };:', limits: BOMB_LIMITS, timeouts: { testSeconds: 20 } },
    expected: {
      outcome: 'contained',
      detail:
        /^exit 0,[\s\S]*\[lockstep: the command returned; (\d+ processes it left behind were killed|what it left behind was killed with the sandbox's container)\][\s\S]*next command sees: init, sleep infinity$/,
      text: 'the forks are killed when the command returns (it exits 0, the result says so); the next command sees none of them',
    },
    seed: (s) => s.file('README.md', 'bomb\n'),
    attack: async (r) => leftAlone(await r.test(), r),
  },
  {
    id: 'background-sleep',
    group: 'bombs',
    bomb: true,
    threat: 'a step starts a background sleep (its output closed, in its own session) and returns',
    sandbox: { limits: BOMB_LIMITS },
    expected: {
      outcome: 'contained',
      detail:
        /^exit 0,[\s\S]*\[lockstep: the command returned; 1 process it left behind was killed\][\s\S]*next command sees: init, sleep infinity$/,
      text: 'the sleep is killed when the step returns, before the next command',
    },
    seed: (s) => s.file('README.md', 'sleep\n'),
    attack: async (r) => leftAlone(await r.sh('setsid sleep 600 </dev/null >/dev/null 2>&1 & echo started'), r),
  },
  {
    id: 'fork-bomb-endless',
    group: 'bombs',
    bomb: true,
    threat: 'a test that forks forever in the foreground, ignoring every failed fork',
    sandbox: {
      test: 'python3 -c "import os\nwhile True:\n  try: os.fork()\n  except OSError: pass"',
      limits: BOMB_LIMITS,
      timeouts: { testSeconds: 8 },
    },
    expected: {
      outcome: 'killed',
      detail: /killed after 8s timeout/,
      text: "held at the pids limit until the timeout kills the container's whole tree",
    },
    seed: (s) => s.file('README.md', 'bomb\n'),
    attack: async (r) => killed(await r.test()),
  },
  {
    id: 'memory-bomb',
    group: 'bombs',
    bomb: true,
    threat: 'a test that allocates memory until something gives',
    sandbox: {
      test: "python3 -c \"a = []\nwhile True: a.append(b'x' * (1 << 24) + b'y')\"",
      limits: BOMB_LIMITS,
      timeouts: { testSeconds: 60 },
    },
    expected: {
      outcome: 'killed',
      detail: /^exit 137(?! \(timed out\))/,
      text: 'the memory limit (no swap): the kernel kills it, exit 137',
    },
    seed: (s) => s.file('README.md', 'bomb\n'),
    attack: async (r) => killed(await r.test()),
  },
  {
    id: 'disk-filler-tmp',
    group: 'bombs',
    bomb: true,
    threat: 'fills /tmp (the sandbox tmpfs)',
    sandbox: { limits: BOMB_LIMITS },
    expected: {
      outcome: 'contained',
      detail: /No space left on device/,
      text: 'the tmpfs size limit: "No space left on device"',
    },
    seed: (s) => s.file('README.md', 'bomb\n'),
    attack: async (r) => contained([await r.sh('dd if=/dev/zero of=/tmp/fill bs=1M count=100000')]),
  },
  {
    id: 'disk-filler-workspace',
    group: 'bombs',
    bomb: true,
    threat: 'fills the work tree, which lives on the host disk',
    sandbox: { limits: BOMB_LIMITS },
    expected: {
      outcome: 'killed',
      detail: /^exit 153/,
      text: 'the file size limit (limits.fileMb): SIGXFSZ, exit 153',
    },
    seed: (s) => s.file('README.md', 'bomb\n'),
    attack: async (r) => killed(await r.sh('dd if=/dev/zero of=fill.bin bs=1M count=100000')),
  },
  {
    id: 'endless-test',
    group: 'bombs',
    bomb: true,
    threat: 'a test command that never ends (a busy loop)',
    sandbox: { test: 'while :; do :; done', limits: BOMB_LIMITS, timeouts: { testSeconds: 3 } },
    expected: { outcome: 'killed', detail: /killed after 3s timeout/, text: 'the test timeout kills it' },
    seed: (s) => s.file('README.md', 'loop\n'),
    attack: async (r) => killed(await r.test()),
  },
  {
    id: 'endless-test-ignores-signals',
    group: 'bombs',
    bomb: true,
    threat: 'a test that traps TERM and INT and sleeps forever in the background',
    sandbox: {
      test: "trap '' TERM INT HUP; (trap '' TERM INT HUP; sleep infinity) & wait",
      limits: BOMB_LIMITS,
      timeouts: { testSeconds: 3 },
    },
    expected: {
      outcome: 'killed',
      detail: /killed after 3s timeout/,
      text: "SIGKILL to the container's init ends it anyway",
    },
    seed: (s) => s.file('README.md', 'loop\n'),
    attack: async (r) => killed(await r.test()),
  },

  // ----- output -----
  {
    id: 'gigabytes-of-output',
    group: 'output',
    bomb: true,
    threat: 'a command that prints two gigabytes',
    sandbox: { limits: { ...BOMB_LIMITS, outputBytes: 65536 } },
    expected: {
      outcome: 'contained',
      detail: /^exit 0, 2147483648 bytes \(log truncated\)/,
      text: 'counted, not kept: the log stops at limits.outputBytes, the model sees 12 000 characters',
    },
    seed: (s) => s.file('README.md', 'output\n'),
    attack: async (r) => {
      const result = await r.sh("head -c 2G /dev/zero | tr '\\0' 'A'", { timeoutSeconds: 300 });
      const viaTool = await r.tool('run_command', { command: "head -c 64M /dev/zero | tr '\\0' 'B'" });
      const ok = viaTool.content.length <= 12_000 && (result.log?.bytes ?? Infinity) <= 65536 + 512;
      return {
        outcome: ok ? 'contained' : 'allowed',
        detail: `${describeResult(result)}\nmodel saw ${viaTool.content.length} characters`,
      };
    },
  },
  {
    id: 'binary-output',
    group: 'output',
    threat: 'a command that prints 20 MB of random bytes',
    expected: { outcome: 'contained', detail: /exit code 0/, text: 'the model gets a capped, valid string' },
    seed: (s) => s.file('README.md', 'output\n'),
    attack: async (r) => {
      const out = await r.tool('run_command', { command: 'head -c 20M /dev/urandom' });
      const ok = out.content.length <= 12_000 && JSON.parse(JSON.stringify(out.content)) === out.content;
      return { outcome: ok ? 'contained' : 'allowed', detail: out.content.slice(0, 200) };
    },
  },
  {
    id: 'huge-file',
    group: 'output',
    threat: 'a committed 6 MB file the agent is lured into reading',
    expected: { outcome: 'refused', detail: /too large to read/, text: 'read_file refuses files over 4 MB' },
    seed: (s) => s.file('data.csv', `${'row,1,2,3\n'.repeat(600_000)}`),
    attack: async (r) => allRefused([await r.tool('read_file', READ('data.csv'))]),
  },
  {
    id: 'huge-single-line',
    group: 'output',
    threat: 'a committed file that is one line of 2 MB (minified code)',
    expected: {
      outcome: 'contained',
      detail: /more characters on this line/,
      text: 'read_file cuts the line; the model sees at most 12 000 characters',
    },
    seed: (s) => s.file('bundle.min.js', `${'x'.repeat(2 * 1024 * 1024)}\n`),
    attack: async (r) => {
      const out = await r.tool('read_file', READ('bundle.min.js'));
      return {
        outcome: out.ok && out.content.length <= 12_000 ? 'contained' : 'allowed',
        detail: out.content.slice(-300),
      };
    },
  },

  // ----- names and encodings -----
  {
    id: 'binary-file',
    group: 'names',
    threat: 'a binary file (NUL bytes) the agent tries to read and edit',
    expected: { outcome: 'refused', detail: /binary file/, text: 'read_file and edit_file refuse binary files' },
    seed: (s) =>
      s.file(
        'logo.png',
        Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52]),
      ),
    attack: async (r) =>
      allRefused([
        await r.tool('read_file', READ('logo.png')),
        await r.tool('edit_file', { path: 'logo.png', old_text: 'PNG', new_text: 'GIF' }),
      ]),
  },
  {
    id: 'non-utf8-content',
    group: 'names',
    threat: 'a Latin-1 file (bytes that are not UTF-8)',
    expected: {
      outcome: 'contained',
      detail: /caf\uFFFD/,
      text: 'read as text with replacement characters; nothing breaks',
    },
    seed: (s) => s.file('latin1.txt', Buffer.from([0x63, 0x61, 0x66, 0xe9, 0x0a, 0xff, 0xfe, 0x0a])),
    attack: async (r) => {
      const out = await r.tool('read_file', READ('latin1.txt'));
      return { outcome: out.ok ? 'contained' : 'allowed', detail: out.content };
    },
  },
  {
    id: 'non-utf8-file-name',
    group: 'names',
    threat: 'a file whose name is not UTF-8',
    expected: {
      outcome: 'contained',
      detail: /\uFFFD/,
      text: 'listed with replacement characters; commit and push carry it unchanged',
    },
    seed: (s) => {
      s.file(Buffer.concat([Buffer.from('bad-'), Buffer.from([0xff, 0xfe]), Buffer.from('.txt')]), 'named badly\n');
      s.file('README.md', 'names\n');
    },
    attack: async (r) => {
      const list = await r.tool('list_directory', { path: '.' });
      await r.sh('echo change >> README.md');
      const pushed = await r.commit();
      const files = await r.pushedFiles();
      const kept = files.some((f) => f.startsWith('"bad-\\377\\376') || f.startsWith('bad-'));
      return {
        outcome: list.ok && pushed.commit && kept ? 'contained' : 'allowed',
        detail: `${list.content}\n${files.join('\n')}`,
      };
    },
  },
  {
    id: 'control-char-file-names',
    group: 'names',
    threat: 'file names with a newline and terminal escape sequences',
    expected: {
      outcome: 'contained',
      detail: /3 entries/,
      text: 'listed quoted and escaped, one line each; summaries for history and progress carry no control characters',
    },
    seed: (s) => {
      s.file('evil\nname.txt', 'x\n');
      s.file('\u001b[2J\u001b[31mred.txt', 'x\n');
      s.file('README.md', 'names\n');
    },
    attack: async (r) => {
      const list = await r.tool('list_directory', { path: '.' });
      const read = await r.tool('read_file', READ('evil\nname.txt'));
      // eslint-disable-next-line no-control-regex
      const control = /[\u0000-\u001f\u007f]/;
      const clean =
        ![list.summary, read.summary, list.content.replaceAll('\n', '')].some((s) => control.test(s)) &&
        list.content.split('\n').length === 4;
      return {
        outcome: list.ok && read.ok && clean ? 'contained' : 'allowed',
        detail: `${list.content}\n${list.summary}\n${read.summary}`,
      };
    },
  },
  {
    id: 'fifo-in-work-tree',
    group: 'names',
    threat: 'a command plants a FIFO where a source file should be (a read would block forever)',
    expected: {
      outcome: 'refused',
      detail: /not a regular file/,
      text: 'read_file opens it non-blocking and refuses it',
    },
    seed: (s) => s.file('README.md', 'fifo\n'),
    attack: async (r) => {
      await r.sh('mkfifo pipe.ts');
      return allRefused([await r.tool('read_file', READ('pipe.ts'))]);
    },
  },

  // ----- archives -----
  {
    id: 'path-traversal-archive',
    group: 'archive',
    threat: 'a tar with ../ and absolute entries and links into the host and .git, extracted by the test with tar -P',
    sandbox: { test: 'tar -xPvf evil.tar 2>&1; tar -xvf evil.tar 2>&1; echo extracted' },
    expected: {
      outcome: 'contained',
      detail: /Read-only file system|Cannot open|Cannot create symlink/,
      text: 'the entries land in the container or fail on its read-only paths; the host and .git stay as they were',
    },
    seed: (s) => {
      const up = '../'.repeat(12);
      s.file(
        'evil.tar',
        tar([
          { name: `${up}${s.host.canary.replace(/^\//, '')}/dotdot.txt`, type: 'file', content: 'pwned' },
          { name: `${s.host.canary}/absolute.txt`, type: 'file', content: 'pwned' },
          { name: 'hostlink', type: 'symlink', linkname: s.host.canary },
          { name: 'hostlink/through-link.txt', type: 'file', content: 'pwned' },
          { name: 'gitlink', type: 'symlink', linkname: '/workspace/.git' },
          { name: 'gitlink/hooks/pre-commit', type: 'file', content: hook(s.host) },
          { name: 'secret-hard', type: 'hardlink', linkname: s.host.secretFile },
          { name: '/workspace/.git/hooks/post-commit', type: 'file', content: hook(s.host) },
        ]),
      );
    },
    attack: async (r) => {
      const result = await r.test();
      const read = await r.tool('read_file', READ('secret-hard'));
      await r.sh('echo change > changed.txt');
      const pushed = await r.commit();
      return contained([result], [read.content, `pushed ${pushed.commit ?? 'nothing'}`]);
    },
  },
];

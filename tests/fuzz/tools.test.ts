/**
 * Property-based fuzzing of the agent's tools on a real, hostile workspace (see workspace.ts):
 *
 * - file tools (read_file, write_file, edit_file, list_directory) with generated paths: `..`,
 *   absolute paths, links to outside and into .git, NUL bytes, unicode, very long names. No run
 *   may read a sentinel from outside (or from .git) or change anything outside the workspace.
 * - command tools (run_command, grep_codebase, run_tests) with generated commands, patterns and
 *   globs, against a recording Docker engine: every command goes to the repo's sandbox
 *   container, model text reaches bash only inside it, never a process on the host, and grep
 *   never reads a model string as an option.
 * - grep_codebase against a real sandbox for a few runs: patterns that look like options
 *   (`--version`, `-f/etc/passwd`) are searched for, with exactly the matches a plain
 *   substring search finds.
 */
import Docker from 'dockerode';
import type * as ChildProcess from 'node:child_process';
import fc from 'fast-check';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  MODEL_OUTPUT_CHARS,
  executeTool,
  type ToolContext,
  type ToolOutcome,
} from '../../activities/agent/tools/index.ts';
import {
  LABEL_CHANGE,
  createSandbox,
  removeSandbox,
  shellArgv,
  type SandboxDeps,
} from '../../activities/sandbox/docker.ts';
import { KILL_LEFTOVERS_SCRIPT } from '../../activities/sandbox/leftovers.ts';
import { SandboxConfig } from '../../config/repos.ts';
import { SANDBOX_UID } from '../../workers/worker.ts';
import { RecordingDocker } from './recording-docker.ts';
import {
  FUZZ_RUNS,
  SANDBOX_RUNS,
  fuzzParameters,
  noFigures,
  recordFigures,
  settle,
  type FuzzFigures,
} from './settings.ts';
import { MAX_UPS, changedEntries, createFuzzWorkspace, type FuzzWorkspace } from './workspace.ts';

/** Every process start on the host while a tool runs on generated input is counted here. */
const host = vi.hoisted(() => ({ watching: false, started: [] as string[] }));

vi.mock('node:child_process', async (importOriginal) => {
  const real = await importOriginal<typeof ChildProcess>();
  const names = ['spawn', 'spawnSync', 'exec', 'execSync', 'execFile', 'execFileSync', 'fork'] as const;
  const wrapped: Record<string, unknown> = {};
  for (const name of names) {
    const original = real[name] as (...args: unknown[]) => unknown;
    wrapped[name] = (...args: unknown[]) => {
      if (host.watching) host.started.push(`${name} ${String(args[0])}`);
      return original(...args);
    };
  }
  return { ...real, ...wrapped, default: { ...real, ...wrapped } };
});

const changeId = `fuzz-${process.pid}`;
const repo = 'fuzz';
const container = `lockstep-${changeId}-${repo}`;
const TEST_COMMAND = 'make test';
const figures: Record<string, FuzzFigures> = {};

let ws: FuzzWorkspace;
let recorder: RecordingDocker;
let ctx: ToolContext;
let index = 0;

function contextWith(docker: Docker, workspace: string, logDir: string): ToolContext {
  const sandbox: SandboxDeps = {
    docker,
    user: `${SANDBOX_UID}:${SANDBOX_UID}`,
    owner: `fuzz:${process.pid}`,
    workerEnv: {},
    logDir,
  };
  return {
    workspace,
    sandbox,
    ref: { changeId, repo },
    testCommand: TEST_COMMAND,
    commandTimeoutSeconds: 30,
    testTimeoutSeconds: 30,
    outputBytes: 65_536,
    nextIndex: () => index++,
    owner: null,
  };
}

/** Runs one tool call with host process starts watched; a throw is returned, not raised. */
async function watched(
  name: string,
  args: unknown,
  over: ToolContext = ctx,
): Promise<ToolOutcome | { thrown: unknown }> {
  host.watching = true;
  try {
    return await executeTool(over, name, JSON.stringify(args));
  } catch (err) {
    return { thrown: err };
  } finally {
    host.watching = false;
  }
}

beforeAll(async () => {
  ws = await createFuzzWorkspace();
  recorder = new RecordingDocker();
  ctx = contextWith(recorder.asDocker(), ws.workspace, join(ws.scratch, 'logs'));
});

afterAll(async () => {
  await recordFigures('tools', figures);
  await ws?.cleanup();
});

// ---------------------------------------------------------------------------------------------
// Generators

const NASTY_SEGMENTS = [
  '..',
  '.',
  '',
  '...',
  ' ',
  '~',
  '$HOME',
  '%2e%2e',
  '..\\..',
  '\\',
  'a\0b',
  '\0',
  '\n',
  '\u202e',
  'é',
  '名前',
  '🙂',
  '.git',
  '.GIT',
  '.Git',
  '.git ',
  'x'.repeat(256),
  'y'.repeat(4096),
  'new',
  'new.txt',
  'deep',
];

/** One path part: a planted name, a nasty one, or arbitrary text (any code point, no "/"). */
const segment = (planted: readonly string[]): fc.Arbitrary<string> =>
  fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom(...planted) },
    { weight: 3, arbitrary: fc.constantFrom(...NASTY_SEGMENTS) },
    { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 12 }).map((s) => s.replaceAll('/', '_')) },
  );

/** Routes out of the workspace: a way in (or none), enough `..`, and a target outside or in .git. */
function escapeArb(writes: boolean): fc.Arbitrary<string> {
  const entries = [
    '',
    '',
    'src/',
    'inner-link/',
    'self-link/',
    'docs/',
    'new/',
    'out-link/',
    'dir-link/',
    'git-link/',
    'up-link/',
  ];
  const targets = [
    'outside/sentinel.txt',
    'outside/passwd',
    'outside/dir/inner.txt',
    'outside/dir',
    'outside/new.txt',
    'outside',
    'sentinel.txt',
    'inner.txt',
    'new.txt',
    'passwd',
    'w1/workspace/.git/config',
    'w1/workspace/.git/new',
    'workspace/.git/HEAD',
    '.git/config',
    '.git/new',
    'config',
    '',
  ];
  return fc
    .tuple(
      fc.constantFrom(...entries),
      fc.integer({ min: 0, max: MAX_UPS }),
      fc.constantFrom(...targets),
      fc.constantFrom('', '', '/', '/.'),
    )
    .map(([entry, ups, target, suffix]) => `${entry}${'../'.repeat(ups)}${target}${suffix}`)
    .filter((p) => p !== '' && (!writes || !p.endsWith('/')));
}

/**
 * A generated path: an escape route, or parts joined by "/" (maybe absolute: into the
 * fixture's outside folder, or a system file for read-only tools), maybe with a trailing "/"
 * or "/.". At most MAX_UPS `..`.
 */
function pathArb(writes: boolean): fc.Arbitrary<string> {
  const prefixes = [
    '',
    '',
    '',
    './',
    '/',
    '//',
    `${ws.outside}/`,
    `${ws.root}/`,
    `${ws.workspace}/`,
    `${ws.workspace}/../`,
  ];
  const wholes = writes
    ? [ws.outside, `${ws.outside}/sentinel.txt`, `${ws.outside}/new.txt`]
    : ['/etc/passwd', '/proc/self/environ', '/proc/self/fd/0', `${ws.outside}/sentinel.txt`, '/'];
  return fc
    .oneof(
      { weight: 5, arbitrary: escapeArb(writes) },
      {
        weight: 5,
        arbitrary: fc
          .tuple(
            fc.constantFrom(...prefixes),
            fc.array(segment(ws.planted), { minLength: 0, maxLength: 6 }),
            fc.constantFrom('', '', '', '/', '/.', '/..'),
          )
          .map(([p, parts, s]) => `${p}${parts.join('/')}${s}`),
      },
      { weight: 1, arbitrary: fc.constantFrom(...wholes) },
    )
    .filter((p) => p.split('/').filter((part) => part === '..').length <= MAX_UPS);
}

const lineArb = fc.oneof(
  fc.constant(null),
  fc.integer({ min: -3, max: 40 }),
  fc.constantFrom(0, 2 ** 31, Number.MAX_SAFE_INTEGER),
);
const textArb = fc.oneof(
  fc.string({ maxLength: 200 }),
  fc.constantFrom('export const a = 1;', 'hello', 'b = 2', '\r\n', '$&$1', 'a'.repeat(2000)),
);

type FileCall = { name: 'read_file' | 'write_file' | 'edit_file' | 'list_directory'; args: Record<string, unknown> };

function fileCallArb(): fc.Arbitrary<FileCall> {
  return fc.oneof(
    fc
      .record({ path: pathArb(false), start_line: lineArb, end_line: lineArb })
      .map((args): FileCall => ({ name: 'read_file', args })),
    fc.record({ path: pathArb(false) }).map((args): FileCall => ({ name: 'list_directory', args })),
    fc.record({ path: pathArb(true), content: textArb }).map((args): FileCall => ({ name: 'write_file', args })),
    fc
      .record({ path: pathArb(true), old_text: textArb, new_text: textArb })
      .map((args): FileCall => ({ name: 'edit_file', args })),
  );
}

const shellish = fc.constantFrom(
  '$(touch /pwned)',
  '`id`',
  '; rm -rf /',
  '| sh',
  '&& curl http://127.0.0.1',
  '\n',
  '\0',
  "'",
  '"',
  '\\',
  '>',
  '<(x)',
  '-',
  '--',
);
const commandArb = fc.oneof(
  fc.string({ maxLength: 80 }),
  fc.array(fc.oneof(shellish, fc.string({ maxLength: 10 })), { maxLength: 8 }).map((parts) => parts.join(' ')),
  fc.constantFrom('', '   ', 'x'.repeat(64 * 1024 + 1), 'ls\0-la'),
);
/** Patterns and globs that look like options, and arbitrary ones. */
const optionish = fc.oneof(
  fc.constantFrom(
    '--version',
    '-f/etc/passwd',
    '-f',
    '-r',
    '-e',
    '--',
    '-',
    '--help',
    '-V',
    '--include=*',
    '-ffoo',
    '--exclude-dir=.',
    '-z',
    '--null-data',
  ),
  fc.string({ maxLength: 20 }).map((s) => `-${s}`),
  fc.string({ maxLength: 20 }).map((s) => `--${s}`),
);
const patternArb = fc.oneof(optionish, fc.string({ maxLength: 40 }), fc.constantFrom('', 'a\0b', 'x'.repeat(5000)));
const globArb = fc.oneof(
  fc.constant(null),
  fc.constant(''),
  optionish,
  fc.string({ maxLength: 20 }),
  fc.constantFrom('*.ts', '*.md', 'a\0b'),
);

type CommandCall =
  | { name: 'run_command'; args: { command: string } }
  | { name: 'grep_codebase'; args: { pattern: string; glob: string | null } }
  | { name: 'run_tests'; args: Record<string, never> };

const commandCallArb: fc.Arbitrary<CommandCall> = fc.oneof(
  commandArb.map((command): CommandCall => ({ name: 'run_command', args: { command } })),
  fc.record({ pattern: patternArb, glob: globArb }).map((args): CommandCall => ({ name: 'grep_codebase', args })),
  fc.constant<CommandCall>({ name: 'run_tests', args: {} }),
);

// ---------------------------------------------------------------------------------------------
// Oracles

const isOutcome = (o: ToolOutcome | { thrown: unknown }): o is ToolOutcome => !('thrown' in o);

/** What a model gets back is bounded and carries no control characters in its summary line. */
function checkShape(o: ToolOutcome): void {
  expect(typeof o.ok).toBe('boolean');
  expect(o.content.length).toBeLessThanOrEqual(MODEL_OUTPUT_CHARS);
  expect(o.summary.length).toBeLessThanOrEqual(200);
  // eslint-disable-next-line no-control-regex
  expect(o.summary).not.toMatch(/[\u0000-\u001f\u007f]/);
}

/**
 * grep's options as getopt reads them: which argv entries are taken as options. A model string
 * there (anything but the tool's own fixed options) is an option read from model text.
 */
const GREP_OWN_OPTIONS = new Set(['-rnI', '--exclude-dir=.git', '--include', '-e']);
function modelStringsReadAsOptions(argv: string[], modelStrings: string[]): string[] {
  const read: string[] = [];
  for (let i = 1; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    if (arg === '--') break;
    if (arg === '-e' || arg === '--include') {
      i++; // the next entry is this option's argument, whatever it looks like
      continue;
    }
    if (arg.startsWith('-') && (!GREP_OWN_OPTIONS.has(arg) || modelStrings.includes(arg))) read.push(arg);
  }
  return read;
}

describe('fuzzing the agent tools', () => {
  it('file tools never read or write outside the workspace, nor in its .git, whatever the path', async () => {
    const f = (figures['file-tools'] = noFigures());
    const before = await ws.snapshot();
    const details = await fc.check(
      fc.asyncProperty(fileCallArb(), async (call) => {
        f.runs++;
        host.started.length = 0;
        const outcome = await watched(call.name, call.args);
        if (!isOutcome(outcome)) {
          f.crashes++;
          throw new Error(`${call.name} threw: ${String(outcome.thrown)}`);
        }
        checkShape(outcome);
        if (outcome.ok) f.accepted++;
        const leaked = Object.values(ws.secrets).filter(
          (secret) => outcome.content.includes(secret) || outcome.summary.includes(secret),
        );
        const changed = changedEntries(before, await ws.snapshot());
        const strayWrites = [];
        for (const written of outcome.wrote ?? []) if (!(await ws.insideWorkspace(written))) strayWrites.push(written);
        if (leaked.length > 0 || changed.length > 0 || strayWrites.length > 0) {
          f.escapes++;
          throw new Error(
            `escape: leaked ${leaked.join(', ')}; changed ${changed.join('; ')}; wrote ${strayWrites.join(', ')}`,
          );
        }
        if (host.started.length > 0) {
          f.hostProcesses += host.started.length;
          throw new Error(`a file tool started host processes: ${host.started.join('; ')}`);
        }
      }),
      fuzzParameters(FUZZ_RUNS),
    );
    expect(details.failed, settle(f, details)).toBe(false);
    expect(f).toMatchObject({ escapes: 0, crashes: 0, hangs: 0, hostProcesses: 0 });
  });

  it("command tools run only in the repo's sandbox container, never on the host, and grep reads no model string as an option", async () => {
    const f = (figures['command-tools'] = noFigures());
    const details = await fc.check(
      fc.asyncProperty(commandCallArb, fc.integer({ min: 0, max: 2 }), async (call, exitCode) => {
        f.runs++;
        host.started.length = 0;
        recorder.execs.length = 0;
        recorder.next = { exitCode, output: exitCode === 0 ? 'README.md:1:hello fuzz\n' : '' };
        const outcome = await watched(call.name, call.args);
        if (!isOutcome(outcome)) {
          f.crashes++;
          throw new Error(`${call.name} threw: ${String(outcome.thrown)}`);
        }
        checkShape(outcome);
        if (outcome.ok) f.accepted++;
        if (host.started.length > 0) {
          f.hostProcesses += host.started.length;
          throw new Error(`${call.name} started host processes: ${host.started.join('; ')}`);
        }
        // After each command the sandbox layer sweeps what it left running: a fixed script of ours, in an
        // exec of its own here, since this fake engine's shell never reports a sweep of its own.
        const isSweep = (e: { cmd: string[] }): boolean =>
          e.cmd.length === 3 && e.cmd[0] === 'sh' && e.cmd[2] === KILL_LEFTOVERS_SCRIPT;
        const commands = recorder.execs.filter((e) => !isSweep(e));
        for (const exec of recorder.execs) expect(exec.container).toBe(container);
        for (const exec of commands) expect(exec.workingDir).toBe('/workspace');
        expect(recorder.execs.length - commands.length, 'one leftover sweep per command').toBe(commands.length);
        const execs = commands.map((e) => e.cmd);
        switch (call.name) {
          case 'run_command': {
            const { command } = call.args;
            const refused = command.trim() === '' || command.includes('\0') || command.length > 64 * 1024;
            // Model text reaches the shell only inside the sandbox container, as one argument.
            expect(execs).toEqual(refused ? [] : [shellArgv(`mkdir -p "$HOME" 2>/dev/null\n${command}`)]);
            if (refused) expect(outcome.ok).toBe(false);
            break;
          }
          case 'grep_codebase': {
            const { pattern, glob } = call.args;
            const refused =
              pattern === '' || pattern.length > 4096 || pattern.includes('\0') || (glob ?? '').includes('\0');
            const withGlob = glob !== null && glob !== '';
            expect(execs).toEqual(
              refused
                ? []
                : [
                    [
                      'grep',
                      '-rnI',
                      '--exclude-dir=.git',
                      ...(withGlob ? ['--include', glob] : []),
                      '-e',
                      pattern,
                      '--',
                      '.',
                    ],
                  ],
            );
            for (const argv of execs) {
              const read = modelStringsReadAsOptions(argv, [pattern, ...(glob ? [glob] : [])]);
              f.flagsRead += read.length;
              expect(read, 'model strings read as grep options').toEqual([]);
              // No shell: grep itself is the program, so "$(...)" and ";" stay text.
              expect(argv[0]).toBe('grep');
            }
            break;
          }
          case 'run_tests':
            // The test command comes from the fleet config, not from the model.
            expect(execs).toEqual([shellArgv(`mkdir -p "$HOME" 2>/dev/null\n${TEST_COMMAND}`)]);
            break;
        }
      }),
      fuzzParameters(FUZZ_RUNS),
    );
    expect(details.failed, settle(f, details)).toBe(false);
    expect(f).toMatchObject({ crashes: 0, hangs: 0, hostProcesses: 0, flagsRead: 0 });
  });
});

describe('grep_codebase in a real sandbox', () => {
  const docker = new Docker();
  let real: ToolContext;
  let grepRoot = '';

  /** Planted lines that look like options: each must be found as text. */
  const FLAG_LINES = [
    '--version',
    '-f/etc/passwd',
    '-r',
    '--help',
    '-e',
    '--include=x',
    '-v',
    '-V',
    '--null-data',
    '-c',
  ];

  beforeAll(async () => {
    grepRoot = join(ws.scratch, 'grep-workspace');
    await mkdir(join(grepRoot, 'src'), { recursive: true });
    await writeFile(join(grepRoot, 'flags.txt'), `${FLAG_LINES.join('\n')}\n`);
    await writeFile(join(grepRoot, 'src', 'main.ts'), 'const usage = "--version prints the version";\nexport {};\n');
    await writeFile(join(grepRoot, '-dash.txt'), '-f/etc/passwd\n');
    const sandboxDeps: SandboxDeps = {
      docker,
      user: `${SANDBOX_UID}:${SANDBOX_UID}`,
      owner: `fuzz:${process.pid}`,
      workerEnv: {},
      logDir: join(ws.scratch, 'grep-logs'),
    };
    await createSandbox(sandboxDeps, {
      changeId,
      repo,
      workspace: grepRoot,
      sandbox: SandboxConfig.parse({ test: 'true' }),
    });
    real = { ...contextWith(docker, grepRoot, join(ws.scratch, 'grep-logs')), sandbox: sandboxDeps };
  });

  afterAll(async () => {
    await removeSandbox(docker, { changeId, repo }).catch(() => undefined);
    for (const c of await docker.listContainers({ all: true, filters: { label: [`${LABEL_CHANGE}=${changeId}`] } })) {
      await docker
        .getContainer(c.Id)
        .remove({ force: true, v: true })
        .catch(() => undefined);
    }
  });

  /** What a plain substring search over the workspace finds, as grep prints it. */
  async function substringMatches(pattern: string, glob: string | null): Promise<string[]> {
    const found: string[] = [];
    const walk = async (dir: string): Promise<void> => {
      for (const entry of await readdir(dir, { withFileTypes: true })) {
        const path = join(dir, entry.name);
        if (entry.isDirectory()) await walk(path);
        else if (entry.isFile() && (glob === null || globMatches(glob, entry.name))) {
          const lines = (await readFile(path, 'utf8')).split('\n');
          lines.forEach((line, i) => {
            if (line.includes(pattern)) found.push(`${relative(grepRoot, path)}:${i + 1}:${line}`);
          });
        }
      }
    };
    await walk(grepRoot);
    return found.sort();
  }

  /** The globs generated below: "*" plus literal text. */
  const globMatches = (glob: string, name: string): boolean =>
    new RegExp(
      `^${glob
        .split('*')
        .map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
        .join('.*')}$`,
    ).test(name);

  /** Option-looking patterns over characters that are literal in a basic regular expression. */
  const literalOptionish = fc.oneof(
    fc.constantFrom(...FLAG_LINES, '-f', '--', '-', '-rf', '--exclude-dir=src'),
    fc.stringMatching(/^--?[A-Za-z0-9=/_-]{0,12}$/),
  );
  const realGlob = fc.constantFrom(null, '*.txt', '*.ts', '-*', '--version', '-f/etc/passwd');

  it('searches for option-looking patterns as text: exactly the lines a substring search finds', async () => {
    const f = (figures['grep-real-sandbox'] = noFigures());
    const details = await fc.check(
      fc.asyncProperty(literalOptionish, realGlob, fc.boolean(), async (pattern, glob, plant) => {
        f.runs++;
        // Half the runs plant the pattern in a file, so found-as-text is tested, not just no-match.
        await writeFile(join(grepRoot, 'planted.txt'), plant ? `before ${pattern} after\n` : 'nothing here\n');
        const outcome = await watched('grep_codebase', { pattern, glob }, real);
        if (!isOutcome(outcome)) {
          f.crashes++;
          throw new Error(`grep_codebase threw: ${String(outcome.thrown)}`);
        }
        if (outcome.ok) f.accepted++;
        const expected = await substringMatches(pattern, glob);
        const text = outcome.content;
        // What option effects would print: a version, usage, option errors, or passwd lines.
        const effect = /GNU grep|Usage: grep|invalid option|unrecognized option|requires an argument|root:x:0:0/.test(
          text,
        );
        const lines =
          expected.length === 0
            ? []
            : text
                .split('\n')
                .filter((l) => l !== '')
                .sort();
        if (
          effect ||
          !outcome.ok ||
          (expected.length === 0
            ? !text.startsWith('No matches for ')
            : JSON.stringify(lines) !== JSON.stringify(expected))
        ) {
          f.flagsRead++;
          throw new Error(
            `grep ${JSON.stringify(pattern)} in ${String(glob)} did not search as text:\n${text}\nexpected:\n${expected.join('\n')}`,
          );
        }
      }),
      fuzzParameters(SANDBOX_RUNS, 60_000, 170_000),
    );
    expect(details.failed, settle(f, details)).toBe(false);
    expect(f).toMatchObject({ crashes: 0, hangs: 0, flagsRead: 0 });
  });
});

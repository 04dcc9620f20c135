import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { simpleGit } from 'simple-git';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GitSpawner, useGitSpawner, type HelperChild } from '../../activities/git/spawner.ts';
import { gitHelperWanted } from '../../workers/worker.ts';

/** What a command ended with: its output, the events in order, and how it closed. */
function outcome(child: HelperChild): Promise<{
  stdout: Buffer;
  stderr: string;
  events: string[];
  code: number | null;
  signal: string | null;
  error: (Error & { code?: string }) | null;
}> {
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  const events: string[] = [];
  let error: (Error & { code?: string }) | null = null;
  child.stdout.on('data', (d: Buffer) => {
    out.push(d);
    if (events.at(-1) !== 'data') events.push('data');
  });
  child.stderr.on('data', (d: Buffer) => err.push(d));
  child.stdout.on('end', () => events.push('stdout end'));
  child.on('error', (e: Error) => {
    events.push('error');
    error = e;
  });
  child.on('exit', () => events.push('exit'));
  return new Promise((resolve) =>
    child.on('close', (code: number | null, signal: string | null) => {
      events.push('close');
      resolve({ stdout: Buffer.concat(out), stderr: Buffer.concat(err).toString(), events, code, signal, error });
    }),
  );
}

describe('git through the helper process', () => {
  const spawner = new GitSpawner();
  let repo = '';
  let blob = Buffer.alloc(0);

  beforeAll(async () => {
    repo = await mkdtemp(join(tmpdir(), 'lockstep-spawner-'));
    blob = randomBytes(3 * 1024 * 1024);
    await writeFile(join(repo, 'big.bin'), blob);
    const git = (...args: string[]) => execFileSync('git', ['-c', 'init.defaultBranch=main', ...args], { cwd: repo });
    git('init', '-q');
    git('add', 'big.bin');
    git('-c', 'user.name=t', '-c', 'user.email=t@t', 'commit', '-qm', 'big');
  });
  afterAll(async () => {
    spawner.stop();
    await rm(repo, { recursive: true, force: true });
  });

  it('runs git in the given folder and environment, and streams its output back byte for byte', async () => {
    const result = await outcome(
      spawner.spawn('git', ['show', 'HEAD:big.bin'], { cwd: repo, env: { ...process.env, GIT_PAGER: 'cat' } }),
    );
    expect(result.code).toBe(0);
    expect(createHash('sha256').update(result.stdout).digest('hex')).toBe(
      createHash('sha256').update(blob).digest('hex'),
    );
    // As from Node's own child, 'exit' and the output's end come before 'close'; and 'exit' comes
    // after the last output, as simple-git ends a command 50 ms after its 'exit'.
    expect(result.events.at(-1)).toBe('close');
    expect(result.events.indexOf('exit')).toBeGreaterThan(result.events.lastIndexOf('data'));
    expect(result.events).toContain('stdout end');

    // A command whose process exits while its output still comes (here from a child that holds
    // stdout): its 'exit' still comes after that output.
    const late = await outcome(spawner.spawn('sh', ['-c', '(sleep 0.3; echo late) & echo early'], {}));
    expect(late.stdout.toString()).toBe('early\nlate\n');
    expect(late.events.indexOf('exit')).toBeGreaterThan(late.events.lastIndexOf('data'));
    expect(spawner.helperPid).toBeGreaterThan(0);
    expect(spawner.helperPid).not.toBe(process.pid);

    // A command without its own env sees this process's environment as it is now, not as it was
    // when the helper started.
    process.env.GIT_EDITOR = 'lockstep-editor-set-late';
    try {
      const editor = await outcome(spawner.spawn('git', ['var', 'GIT_EDITOR'], { cwd: repo }));
      expect(editor.stdout.toString().trim()).toBe('lockstep-editor-set-late');
    } finally {
      delete process.env.GIT_EDITOR;
    }
  });

  it("reports git's exit code and stderr, a missing program as an error, and a kill as a signal", async () => {
    const failed = await outcome(spawner.spawn('git', ['rev-parse', '--verify', 'no-such-ref'], { cwd: repo }));
    expect(failed.code).toBe(128);
    expect(failed.stderr).toMatch(/no-such-ref|Needed a single revision/);

    const missing = await outcome(spawner.spawn('no-such-program-lockstep', [], { cwd: repo }));
    expect(missing.error?.code).toBe('ENOENT');
    expect(missing.events.at(-1)).toBe('close');

    // cat-file --batch waits for its input, which never comes: only the kill ends it.
    const waiting = spawner.spawn('git', ['cat-file', '--batch'], { cwd: repo });
    const ended = outcome(waiting);
    await new Promise((r) => waiting.once('spawn', r));
    expect(waiting.kill('SIGKILL')).toBe(true);
    expect(waiting.killed).toBe(true);
    expect((await ended).signal).toBe('SIGKILL');
  });

  it('fails the commands of a helper that dies, and starts a new one for the next', async () => {
    const waiting = spawner.spawn('git', ['cat-file', '--batch'], { cwd: repo });
    const ended = outcome(waiting);
    await new Promise((r) => waiting.once('spawn', r));
    const first = spawner.helperPid;
    process.kill(first ?? 0, 'SIGKILL');
    const lost = await ended;
    expect(lost.error?.message).toMatch(/git helper exited/);
    expect(lost.events.at(-1)).toBe('close');

    const next = await outcome(spawner.spawn('git', ['--version'], {}));
    expect(next.stdout.toString()).toMatch(/^git version/);
    expect(spawner.helperPid).not.toBe(first);
  });

  it("routes simple-git's calls in a worker process, and nothing else", async () => {
    const routed = useGitSpawner();
    expect(useGitSpawner()).toBe(routed);
    const before = routed.started;
    const log = await simpleGit({ baseDir: repo }).log();
    expect(log.latest?.message).toBe('big');
    expect(routed.started).toBeGreaterThan(before);
    // execFile and other programs keep Node's own spawn.
    const count = routed.started;
    expect(execFileSync('git', ['--version']).toString()).toMatch(/^git version/);
    expect(execFileSync('true').toString()).toBe('');
    expect(routed.started).toBe(count);
  });

  it('is on unless LOCKSTEP_GIT_HELPER is 0, and a bad value names the variable and the fix', () => {
    expect(gitHelperWanted({})).toBe(true);
    expect(gitHelperWanted({ LOCKSTEP_GIT_HELPER: '1' })).toBe(true);
    expect(gitHelperWanted({ LOCKSTEP_GIT_HELPER: '0' })).toBe(false);
    expect(() => gitHelperWanted({ LOCKSTEP_GIT_HELPER: 'off' })).toThrow(
      /LOCKSTEP_GIT_HELPER is "off": set it to 0 to fork git from the worker itself/,
    );
  });
});

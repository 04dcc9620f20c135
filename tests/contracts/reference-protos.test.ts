/**
 * Lockstep's protobuf copy check measured against buf on real protos: Google's API protos as
 * published in two releases of google-proto-files (installed by scripts/reference-protos.sh).
 * Each measured file of the old release is a consumer's copy, laid out as the gate lays it out
 * (its imports from beside it in the consumer's tree) and checked in a real sandbox against the
 * new release; the reference is buf run directly on the host, old tree against new tree. The
 * figures are printed; docs/contracts.md keeps the last ones.
 */
import Docker from 'dockerode';
import { execFile } from 'node:child_process';
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyLayout, copyProblem, type LaidOut } from '../../core/contracts/copies.ts';
import {
  bufCopyBreaking,
  gateMounts,
  gateToolsDir,
  sandboxGateExec,
  type GateExec,
} from '../../activities/gate/index.ts';
import { createSandbox, removeSandbox } from '../../activities/sandbox/docker.ts';
import { projectRoot } from '../../config/paths.ts';
import { SandboxConfig } from '../../config/repos.ts';
import { SANDBOX_UID } from '../../workers/worker.ts';

const OLD = '4.2.0';
const NEW = '5.0.3';
const reference = join(projectRoot, '.tools', 'reference', 'google-proto-files');
const changeId = `reference-protos-${process.pid}`;
const docker = new Docker();
let root = '';
let workspace = '';
let exec: GateExec;

const read = (dir: string) => async (path: string) => readFile(join(dir, path), 'utf8').catch(() => null);

async function measuredFiles(): Promise<string[]> {
  const text = await readFile(join(projectRoot, 'tests', 'contracts', 'fixtures', 'reference-protos.txt'), 'utf8');
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
}

interface Annotation {
  path: string;
  start_line: number;
  start_column: number;
  type: string;
  message: string;
}

/** buf itself, on the host: the whole new tree against the whole old one. */
async function bufDirect(): Promise<Annotation[]> {
  const config = JSON.stringify({ version: 'v2', modules: [{ path: '.' }], breaking: { use: ['WIRE_JSON'] } });
  const run = await promisify(execFile)(
    join(gateToolsDir(), 'bin', 'buf'),
    [
      'breaking',
      '.',
      '--against',
      join(reference, OLD),
      '--config',
      config,
      '--against-config',
      config,
      '--error-format',
      'json',
    ],
    {
      cwd: join(reference, NEW),
      maxBuffer: 64 * 1024 * 1024,
    },
  ).catch((err: { code?: number; stdout?: string; stderr?: string }) => {
    if (err.code !== 100) throw new Error(`buf failed: ${err.stderr ?? ''}`);
    return { stdout: err.stdout ?? '' };
  });
  return run.stdout
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as Annotation);
}

beforeAll(async () => {
  for (const v of [OLD, NEW]) {
    await readFile(join(reference, '.stamp'), 'utf8').catch(() => {
      throw new Error(
        `${join('.tools', 'reference', 'google-proto-files', v)} is missing: run scripts/reference-protos.sh`,
      );
    });
  }
  root = await mkdtemp(join(tmpdir(), 'lockstep-reference-protos-'));
  workspace = join(root, 'provider');
  await cp(join(reference, NEW), workspace, { recursive: true });
  await chownTree(workspace);
  const deps = {
    docker,
    user: `${SANDBOX_UID}:${SANDBOX_UID}`,
    owner: `test:${process.pid}`,
    workerEnv: {},
    readOnlyMounts: gateMounts(),
    logDir: join(root, 'logs'),
  };
  await createSandbox(deps, { changeId, repo: 'provider', workspace, sandbox: SandboxConfig.parse({ test: 'true' }) });
  exec = sandboxGateExec(deps, { changeId, repo: 'provider' });
});

afterAll(async () => {
  await removeSandbox(docker, { changeId, repo: 'provider' });
  if (root) await rm(root, { recursive: true, force: true });
});

async function chownTree(dir: string): Promise<void> {
  await promisify(execFile)('chown', ['-R', `${SANDBOX_UID}:${SANDBOX_UID}`, dir]);
}

describe(`protobuf copies: google-proto-files ${OLD} as the copy, ${NEW} as the provider`, () => {
  it('agrees with buf on every pair, finding by finding, and places each finding in the copy', async () => {
    const direct = await bufDirect();
    const files = await measuredFiles();
    const rows: string[] = [];
    let findings = 0;
    let agreeingFindings = 0;
    let agreeingVerdicts = 0;
    let located = 0;
    const disagreements: string[] = [];
    for (const [i, file] of files.entries()) {
      const copy = await readFile(join(reference, OLD, file), 'utf8');
      const layout = await copyLayout({ text: copy, path: file }, file, {
        consumer: read(join(reference, OLD)),
        provider: read(join(reference, NEW)),
      });
      if (!layout.ok) throw new Error(`${file}: import ${layout.imported} not found`);
      const folder = join('.lockstep-gate', 'copies', String(i));
      for (const [path, { text }] of layout.files) {
        await mkdir(dirname(join(workspace, folder, path)), { recursive: true });
        await writeFile(join(workspace, folder, path), text);
      }
      await chownTree(join(workspace, '.lockstep-gate'));
      const ours = await bufCopyBreaking({ exec, copies: folder, at: null });
      // buf's own findings for what this copy declares: those in the files of its layout.
      const theirs = direct.filter((a) => layout.files.has(a.path));
      const key = (rule: string, location: string, message: string) => `${rule} ${location} ${message}`;
      const ourKeys = new Set(ours.map((p) => key(p.rule, p.location, p.message)));
      const theirKeys = new Set(
        theirs.map((a) => key(a.type, `${a.path}:${a.start_line}:${a.start_column}`, a.message)),
      );
      for (const k of ourKeys) if (!theirKeys.has(k)) disagreements.push(`${file}: only Lockstep: ${k}`);
      for (const k of theirKeys) if (!ourKeys.has(k)) disagreements.push(`${file}: only buf: ${k}`);
      findings += theirKeys.size;
      agreeingFindings += [...theirKeys].filter((k) => ourKeys.has(k)).length;
      if (ours.length > 0 === theirs.length > 0) agreeingVerdicts++;
      const problems = ours.map((p) =>
        copyProblem(p, layout.files as ReadonlyMap<string, LaidOut>, {
          provider: `google-proto-files@${NEW}`,
          consumer: 'copy',
          copy: file,
        }),
      );
      // Placed: the copy's line declares the field (by name) or the enum value (by number) the finding is about.
      const placed = problems.filter((p) => {
        const text =
          [...layout.files.values()].find((f) => f.from === p.file)?.text.split('\n')[
            Number(p.location.slice(1)) - 1
          ] ?? '';
        const field = /with name "([^"]+)"/.exec(p.message)?.[1];
        const value = /enum value "(\d+)"/.exec(p.message)?.[1];
        if (p.location === '') return false;
        return field !== undefined
          ? new RegExp(`\\b${field}\\s*=`).test(text)
          : value !== undefined && new RegExp(`=\\s*${value}\\b`).test(text);
      });
      located += placed.length;
      rows.push(
        `${file}: ${ours.length === 0 ? 'fits' : `${ours.length} finding(s): ${[...new Set(ours.map((p) => p.rule))].join(', ')}`}; buf ${theirs.length}; placed ${placed.length}/${problems.length}`,
      );
    }
    const ourTotal = rows.length;
    console.log(
      [
        `protobuf copies, google-proto-files ${OLD} -> ${NEW}, rules WIRE_JSON:`,
        ...rows.map((r) => `  ${r}`),
        `  pairs ${ourTotal}; verdicts agreeing with buf ${agreeingVerdicts}/${ourTotal}; findings agreeing ${agreeingFindings}/${findings}; findings placed at the declaring line of the copy ${located}/${findings}`,
        ...disagreements.map((d) => `  disagreement: ${d}`),
      ].join('\n'),
    );
    expect(disagreements).toEqual([]);
    expect(agreeingVerdicts).toBe(files.length);
    // The pairs are chosen so both kinds of verdict are measured.
    expect(rows.filter((r) => r.includes('fits')).length).toBeGreaterThan(0);
    expect(findings).toBeGreaterThan(0);
    expect(located).toBe(findings);
  });
});

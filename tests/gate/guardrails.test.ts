/**
 * The gate's tools for real: gitleaks, semgrep (with our rules) and buf from .tools/gate, run in
 * hardened sandboxes of the real `lockstep-sandbox:latest` image with no network, on real git
 * repositories whose base and head differ by a known change. Every verdict is checked against the
 * exact lines the change added.
 */
import Docker from 'dockerode';
import { randomInt } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { projectRoot } from '../../config/paths.ts';
import { SandboxConfig } from '../../config/repos.ts';
import { cloneWorkspace, git } from '../../activities/git/workspace.ts';
import {
  LABEL_CHANGE,
  containerSpec,
  createSandbox,
  removeSandbox,
  runInSandbox,
  type SandboxDeps,
} from '../../activities/sandbox/docker.ts';
import {
  addedLines,
  bufBreaking,
  bufCopyBreaking,
  gateMounts,
  missingGateTools,
  parseUnifiedZero,
  sandboxGateExec,
  scanInsecure,
  scanSecrets,
  type GateExec,
} from '../../activities/gate/index.ts';
import { SANDBOX_UID } from '../../workers/worker.ts';

const changeId = `gate-${process.pid}`;
const docker = new Docker();
let root = '';
let deps: SandboxDeps;
const created = new Set<string>();

interface Repo {
  name: string;
  workspace: string;
  base: string;
  exec: GateExec;
}

function gitCli(cwd: string, ...args: string[]): string {
  return execFileSync(
    'git',
    ['-c', 'user.name=Lockstep Test', '-c', 'user.email=test@localhost', '-c', 'init.defaultBranch=main', ...args],
    {
      cwd,
      encoding: 'utf8',
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: root, GIT_CONFIG_NOSYSTEM: '1' },
    },
  );
}

async function writeTree(dir: string, files: Record<string, string>): Promise<void> {
  for (const [path, text] of Object.entries(files)) {
    await mkdir(dirname(join(dir, path)), { recursive: true });
    await writeFile(join(dir, path), text);
  }
}

/** A repo whose main holds `baseFiles`, cloned into a workspace owned by the sandbox user, with its sandbox. */
async function repoWithSandbox(name: string, baseFiles: Record<string, string>): Promise<Repo> {
  const remote = join(root, 'remotes', `${name}.git`);
  const seed = join(root, 'seeds', name);
  await mkdir(seed, { recursive: true });
  gitCli(root, 'init', '--quiet', '--bare', remote);
  gitCli(seed, 'init', '--quiet');
  await writeTree(seed, { 'README.md': `${name}\n`, ...baseFiles });
  gitCli(seed, 'add', '--all');
  gitCli(seed, 'commit', '--quiet', '-m', 'base');
  gitCli(seed, 'push', '--quiet', remote, 'HEAD:refs/heads/main');
  const workspace = join(root, 'workspaces', name);
  const base = await cloneWorkspace(remote, 'main', `lockstep/${changeId}`, workspace, {
    owner: { uid: SANDBOX_UID, gid: SANDBOX_UID },
  });
  created.add(name);
  await createSandbox(deps, { changeId, repo: name, workspace, sandbox: SandboxConfig.parse({ test: 'true' }) });
  return { name, workspace, base, exec: sandboxGateExec(deps, { changeId, repo: name }) };
}

/** Commits `files` (and removals) on the change branch, as the agent's commit would. */
async function commitChange(repo: Repo, files: Record<string, string>, message = 'change'): Promise<string> {
  await writeTree(repo.workspace, files);
  execFileSync('chown', ['-R', `${SANDBOX_UID}:${SANDBOX_UID}`, repo.workspace]);
  const g = git(repo.workspace);
  await g.raw(['add', '--all']);
  await g.raw(['commit', '--no-verify', '--quiet', '-m', message]);
  return (await g.revparse(['HEAD'])).trim();
}

const randomFrom = (alphabet: string, n: number): string =>
  Array.from({ length: n }, () => alphabet[randomInt(alphabet.length)]).join('');
/** Made up at run time, so no key-shaped string is ever committed to this project. */
const awsKey = (): string => `AKIA${randomFrom('ABCDEFGHIJKLMNOPQRSTUVWXYZ234567', 16)}`;
const githubToken = (): string =>
  `ghp_${randomFrom('ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789', 36)}`;

async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await filesUnder(path)));
    else out.push(path);
  }
  return out;
}

beforeAll(async () => {
  const missing = await missingGateTools();
  if (missing.length > 0) throw new Error(`gate tools missing: ${missing.join(', ')}; run "npm run bootstrap"`);
  root = await mkdtemp(join(tmpdir(), 'lockstep-gate-test-'));
  deps = {
    docker,
    user: `${SANDBOX_UID}:${SANDBOX_UID}`,
    owner: `test:${process.pid}`,
    workerEnv: {},
    readOnlyMounts: gateMounts(),
    logDir: join(root, 'logs'),
  };
});

afterAll(async () => {
  for (const repo of created) await removeSandbox(docker, { changeId, repo });
  const left = await docker.listContainers({ all: true, filters: { label: [`${LABEL_CHANGE}=${changeId}`] } });
  await rm(root, { recursive: true, force: true });
  expect(left.map((c) => c.Names.join(','))).toEqual([]);
});

describe('the sandbox with the gate mounts', () => {
  it('sees the tools and rules read-only, with the network still off', async () => {
    const repo = await repoWithSandbox('mounts', {});
    const result = await runInSandbox(deps, {
      changeId,
      repo: repo.name,
      kind: 'step',
      name: 'mounts',
      index: 1,
      command: [
        'test -x /opt/lockstep-tools/bin/gitleaks && echo tools-visible',
        'test -f /opt/lockstep-rules/gitleaks.toml && echo rules-visible',
        'touch /opt/lockstep-tools/x 2>/dev/null && echo tools-WRITABLE',
        'touch /opt/lockstep-rules/x 2>/dev/null && echo rules-WRITABLE',
        'ls /sys/class/net',
      ].join('\n'),
      timeoutSeconds: 30,
      outputBytes: 65536,
    });
    expect(result.outputTail).toContain('tools-visible');
    expect(result.outputTail).toContain('rules-visible');
    expect(result.outputTail).not.toContain('WRITABLE');
    expect(result.outputTail.trim().split('\n').at(-1)).toBe('lo');
  });

  it('refuses a read-only mount over the workspace or /tmp', () => {
    const base = {
      changeId,
      repo: 'x',
      workspace: join(root, 'w'),
      sandbox: SandboxConfig.parse({ test: 'true' }),
      user: '1:1',
      owner: 'o',
      workerEnv: {},
    };
    expect(() => containerSpec({ ...base, readOnlyMounts: [{ source: root, target: '/workspace/tools' }] })).toThrow(
      /outside \/workspace/,
    );
    expect(() => containerSpec({ ...base, readOnlyMounts: [{ source: 'relative', target: '/opt/x' }] })).toThrow(
      /absolute/,
    );
    const binds = containerSpec({ ...base, readOnlyMounts: gateMounts() }).HostConfig?.Binds ?? [];
    expect(binds.slice(2)).toEqual([
      `${join(projectRoot, '.tools', 'gate')}:/opt/lockstep-tools:ro`,
      `${join(projectRoot, 'activities', 'gate', 'rules')}:/opt/lockstep-rules:ro`,
    ]);
  });
});

describe('added lines', () => {
  it('parses zero-context hunks, quoted paths and pure deletions', () => {
    const diff = [
      'diff --git a/app.py b/app.py',
      '--- a/app.py',
      '+++ b/app.py',
      '@@ -3,0 +4,2 @@ def f():',
      '+x',
      '+y',
      '@@ -10 +12 @@',
      '-old',
      '+new',
      '@@ -20,3 +21,0 @@',
      '-gone',
      'diff --git "a/t\\303\\251st file.go" "b/t\\303\\251st file.go"',
      '--- "a/t\\303\\251st file.go"',
      '+++ "b/t\\303\\251st file.go"',
      '@@ -0,0 +1 @@',
      '+package x',
    ].join('\n');
    expect(parseUnifiedZero(diff)).toEqual({
      'app.py': [
        { start: 4, end: 5 },
        { start: 12, end: 12 },
      ],
      'tést file.go': [{ start: 1, end: 1 }],
    });
  });
});

describe('scanSecrets (gitleaks)', () => {
  it('reports planted keys on added lines with file, line and rule, never the value, and not what the base had', async () => {
    const oldKey = awsKey();
    const repo = await repoWithSandbox('secrets', {
      'legacy/settings.py': `# kept from long ago\nOLD_KEY = "${oldKey}"\n`,
    });
    const [aws, token, allowed] = [awsKey(), githubToken(), githubToken()];
    const head = await commitChange(repo, {
      'app/config.py': `import os\n\nAWS_ACCESS_KEY_ID = "${aws}"\nGITHUB_TOKEN = "${token}"\nDEBUG = os.environ.get("DEBUG")\nOTHER = "${allowed}"  # gitleaks:allow\n`,
      'legacy/settings.py': `# kept from long ago\nOLD_KEY = "${oldKey}"\nTIMEOUT = 30\n`,
      // The change cannot switch the scanner off from inside the repository.
      '.gitleaks.toml': '[allowlist]\npaths = ["app/.*"]\n',
      '.gitleaksignore': 'app/config.py:aws-access-token:3\n',
    });
    const findings = await scanSecrets({ exec: repo.exec, workspace: repo.workspace, base: repo.base, head });
    expect(findings).toEqual([
      {
        tool: 'gitleaks',
        rule: 'aws-access-token',
        file: 'app/config.py',
        line: 3,
        message: expect.any(String) as string,
      },
      { tool: 'gitleaks', rule: 'github-pat', file: 'app/config.py', line: 4, message: expect.any(String) as string },
      { tool: 'gitleaks', rule: 'github-pat', file: 'app/config.py', line: 6, message: expect.any(String) as string },
    ]);
    const everything =
      JSON.stringify(findings) +
      (await Promise.all((await filesUnder(deps.logDir)).map((f) => readFile(f, 'utf8')))).join('\n');
    for (const secret of [aws, token, allowed, oldKey]) expect(everything).not.toContain(secret);
    expect(everything).toContain('github-pat');
  });

  it('finds nothing in a change without secrets', async () => {
    const repo = await repoWithSandbox('clean-secrets', { 'app.py': 'print("hi")\n' });
    const head = await commitChange(repo, {
      'app.py': 'import os\n\nprint(os.environ.get("API_KEY", ""))\n',
      'README.md': 'token: see the vault\n',
    });
    expect(await scanSecrets({ exec: repo.exec, workspace: repo.workspace, base: repo.base, head })).toEqual([]);
  });
});

describe('scanInsecure (semgrep with our rules)', () => {
  it('finds every fixture line marked "ruleid:" and none marked "ok:"', async () => {
    const fixtures = join(projectRoot, 'tests', 'gate', 'fixtures', 'rules');
    const files: Record<string, string> = {};
    const expected: Array<{ rule: string; file: string; line: number }> = [];
    for (const name of (await readdir(fixtures)).sort()) {
      const text = await readFile(join(fixtures, name), 'utf8');
      files[`fixtures/${name}`] = text;
      text.split('\n').forEach((line, i) => {
        const id = /ruleid: (\S+)/.exec(line)?.[1];
        if (id) expected.push({ rule: id, file: `fixtures/${name}`, line: i + 2 });
      });
    }
    // Every rule in every rule file has at least one fixture line.
    const ruleIds = (
      await Promise.all(
        (await readdir(join(projectRoot, 'activities', 'gate', 'rules')))
          .filter((f) => f.endsWith('.yaml'))
          .map((f) => readFile(join(projectRoot, 'activities', 'gate', 'rules', f), 'utf8')),
      )
    ).flatMap((text) => [...text.matchAll(/^\s*- id: (\S+)/gm)].map((m) => m[1]));
    expect(ruleIds.length).toBeGreaterThanOrEqual(12);
    expect(new Set(expected.map((e) => e.rule))).toEqual(new Set(ruleIds));

    const repo = await repoWithSandbox('rules', {});
    const head = await commitChange(repo, files);
    const findings = await scanInsecure({ exec: repo.exec, workspace: repo.workspace, base: repo.base, head });
    const key = (f: { rule: string; file: string; line: number }): string => `${f.file}:${f.line} ${f.rule}`;
    expect(findings.map(key).sort()).toEqual(expected.map(key).sort());
    for (const f of findings) expect(f.message.length).toBeGreaterThan(10);
  });

  it('reports SQL built from strings (Python, Go), verify=False and shell=True on added lines only', async () => {
    const repo = await repoWithSandbox('insecure', {
      'catalog/db.py': 'def legacy(cur, name):\n    cur.execute("SELECT 1 FROM t WHERE n = \'" + name + "\'")\n',
      'billing/go.mod': 'module billing\n\ngo 1.19\n',
    });
    const head = await commitChange(repo, {
      'catalog/db.py': [
        'import subprocess',
        '',
        'import requests',
        '',
        '',
        'def legacy(cur, name):',
        '    cur.execute("SELECT 1 FROM t WHERE n = \'" + name + "\'")',
        '',
        '',
        'def product(cur, product_id):',
        '    cur.execute("SELECT * FROM products WHERE id = " + product_id)  # nosemgrep',
        '',
        '',
        'def fetch(url):',
        '    return requests.get(url, verify=False)',
        '',
        '',
        'def archive(name):',
        '    subprocess.run("tar czf /tmp/out.tgz " + name, shell=True)',
        '',
      ].join('\n'),
      'billing/store.go': [
        'package billing',
        '',
        'import (',
        '\t"database/sql"',
        '\t"fmt"',
        ')',
        '',
        'func Invoice(db *sql.DB, id string) (*sql.Rows, error) {',
        '\treturn db.Query(fmt.Sprintf("SELECT * FROM invoices WHERE id = %s", id))',
        '}',
        '',
      ].join('\n'),
      // A change cannot exclude its own files from the scan.
      '.semgrepignore': 'catalog/\nbilling/\n',
    });
    const findings = await scanInsecure({ exec: repo.exec, workspace: repo.workspace, base: repo.base, head });
    expect(findings.map((f) => [f.file, f.line, f.rule])).toEqual([
      ['billing/store.go', 9, 'lockstep.sql.go-built-from-strings'],
      ['catalog/db.py', 11, 'lockstep.sql.python-built-from-strings'],
      ['catalog/db.py', 15, 'lockstep.tls.python-verify-false'],
      ['catalog/db.py', 19, 'lockstep.shell.python-shell-true'],
    ]);
    expect(findings.every((f) => f.tool === 'semgrep' && f.message.length > 0)).toBe(true);
    // The legacy query (line 7) matches too, but it was on the base: only the diff filter drops it.
    const everyLine = await scanInsecure({
      exec: repo.exec,
      workspace: repo.workspace,
      base: repo.base,
      head,
      added: { 'catalog/db.py': [{ start: 1, end: 100 }] },
    });
    expect(everyLine.map((f) => f.line)).toEqual([7, 11, 15, 19]);
    expect(Object.keys(await addedLines({ workspace: repo.workspace, base: repo.base, head })).sort()).toEqual([
      '.semgrepignore',
      'billing/store.go',
      'catalog/db.py',
    ]);
  });

  it('finds nothing in clean code', async () => {
    const repo = await repoWithSandbox('clean-code', {});
    const head = await commitChange(repo, {
      'app/db.py':
        'import subprocess\n\n\ndef product(cur, product_id):\n    cur.execute("SELECT * FROM products WHERE id = %s", (product_id,))\n    return subprocess.run(["ls", "-l", product_id], check=True)\n',
      'app/store.go':
        'package app\n\nimport "database/sql"\n\nfunc Get(db *sql.DB, id string) (*sql.Rows, error) {\n\treturn db.Query("SELECT * FROM t WHERE id = $1", id)\n}\n',
      'app/client.js': "const https = require('https');\nmodule.exports = (ca) => new https.Agent({ ca });\n",
    });
    expect(await scanInsecure({ exec: repo.exec, workspace: repo.workspace, base: repo.base, head })).toEqual([]);
  });

  it('scans a change that adds a symbolic link (semgrep refuses links as targets; the scan used to fail)', async () => {
    const repo = await repoWithSandbox('symlink-change', {});
    await symlink('/etc/hostname', join(repo.workspace, 'host-link'));
    const head = await commitChange(repo, {
      'app/run.py': 'import subprocess\nsubprocess.run("ls " + name, shell=True)\n',
    });
    const findings = await scanInsecure({ exec: repo.exec, workspace: repo.workspace, base: repo.base, head });
    expect(findings.map((f) => f.file)).toEqual(['app/run.py']);
  });
});

describe('bufBreaking', () => {
  const proto = (fields: string): string => `syntax = "proto3";\n\npackage shop.v1;\n\nmessage Product {\n${fields}}\n`;

  it('passes an added field and reports a field deleted without reserved, with rule and location', async () => {
    const repo = await repoWithSandbox('proto', {
      'proto/shop/v1/product.proto': proto('  string id = 1;\n  string name = 2;\n  int64 price_cents = 3;\n'),
      // A repo config that would hide the deletion: ours replaces it.
      'proto/buf.yaml': 'version: v2\nbreaking:\n  use: [WIRE]\n  except: [FIELD_NO_DELETE]\n',
    });
    await commitChange(
      repo,
      {
        'proto/shop/v1/product.proto': proto(
          '  string id = 1;\n  string name = 2;\n  int64 price_cents = 3;\n  string currency = 4;\n',
        ),
      },
      'add currency',
    );
    expect(await bufBreaking({ exec: repo.exec, base: repo.base, module: 'proto' })).toEqual([]);

    await commitChange(
      repo,
      { 'proto/shop/v1/product.proto': proto('  string id = 1;\n  int64 price_cents = 3;\n  string currency = 4;\n') },
      'drop name',
    );
    const problems = await bufBreaking({ exec: repo.exec, base: repo.base, module: 'proto' });
    expect(problems).toEqual([
      {
        kind: 'breaking',
        rule: 'FIELD_NO_DELETE',
        file: 'proto/shop/v1/product.proto',
        location: 'proto/shop/v1/product.proto:5:1',
        message: 'Previously present field "2" with name "name" on message "Product" was deleted.',
      },
    ]);

    // With `reserved`, the deletion is safe on the wire: the WIRE rules accept it.
    await commitChange(
      repo,
      {
        'proto/shop/v1/product.proto': proto(
          '  reserved 2;\n  reserved "name";\n  string id = 1;\n  int64 price_cents = 3;\n  string currency = 4;\n',
        ),
      },
      'reserve name',
    );
    expect(await bufBreaking({ exec: repo.exec, base: repo.base, module: 'proto', rules: ['WIRE'] })).toEqual([]);
  });
});

describe('bufCopyBreaking', () => {
  const proto = (options: string, fields: string): string =>
    `syntax = "proto3";\n\npackage shop.v1;\n${options}\nmessage Product {\n${fields}}\n`;
  const GO = 'option go_package = "example.test/shop/v1;shopv1";\n';

  it("takes a consumer's copy as the baseline: file options, comments and provider-only fields do not matter; a field the copy declares does", async () => {
    const repo = await repoWithSandbox('proto-copy', {
      'proto/shop.proto': proto(GO, '  string id = 1;\n  string name = 2;\n'),
    });
    const lay = async (which: string, text: string) => {
      await writeTree(repo.workspace, { [`.lockstep-gate/copies/${which}/proto/shop.proto`]: text });
      execFileSync('chown', ['-R', `${SANDBOX_UID}:${SANDBOX_UID}`, join(repo.workspace, '.lockstep-gate')]);
      return `.lockstep-gate/copies/${which}`;
    };
    // A copy without go_package, with comments, from before the provider added a field.
    const copy = await lay('fits', proto('', '  // the id\n  string id = 1;\n'));
    expect(await bufCopyBreaking({ exec: repo.exec, copies: copy, at: null })).toEqual([]);

    const head = await commitChange(repo, { 'proto/shop.proto': proto(GO, '  string id = 1;\n') }, 'drop name');
    const stale = await lay('stale', proto('', '  string id = 1;\n  string name = 2;\n'));
    const problems = await bufCopyBreaking({ exec: repo.exec, copies: stale, at: null });
    expect(problems.map((p) => [p.rule, p.location])).toEqual([
      ['FIELD_NO_DELETE_UNLESS_NAME_RESERVED', 'proto/shop.proto:6:1'],
      ['FIELD_NO_DELETE_UNLESS_NUMBER_RESERVED', 'proto/shop.proto:6:1'],
    ]);
    expect(problems[1]?.message).toBe(
      'Previously present field "2" with name "name" on message "Product" was deleted without reserving the number "2".',
    );
    // At the base commit the provider still had the field: the same copy fits there.
    expect(await bufCopyBreaking({ exec: repo.exec, copies: stale, at: repo.base })).toEqual([]);
    expect(head).not.toBe(repo.base);
    await expect(bufCopyBreaking({ exec: repo.exec, copies: '../elsewhere', at: null })).rejects.toThrow(
      /must be inside \.lockstep-gate/,
    );
  });
});

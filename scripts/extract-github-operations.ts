/**
 * Extracts the GitHub REST operations Lockstep's GitHub forge uses from GitHub's own OpenAPI
 * description (the `@octokit/openapi` package) into tests/fixtures/github-operations.json, which
 * the fake GitHub server validates every request against. Run it again after upgrading the
 * package: `npx tsx scripts/extract-github-operations.ts`.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** operationId → why the forge calls it. */
export const OPERATIONS: Record<string, string> = {
  'pulls/list': "find the open PR of a head branch; list a repo's PRs",
  'pulls/create': 'open a PR',
  'pulls/get': 'read a PR (status, node id for ready-for-review, close)',
  'pulls/update': 'write the linked body; close',
  'pulls/list-reviews': 'reviews for lockstep prs and landing',
  'pulls/request-reviewers': 'reviewers from config',
  'issues/add-labels': 'labels from config',
  'issues/add-assignees': 'assignees from config',
  'checks/list-for-ref': 'check runs for lockstep prs and landing',
  'repos/get-combined-status-for-ref': 'commit statuses for lockstep prs and landing',
  'repos/get-branch-protection': "landing: the base branch's required checks and approvals",
  'repos/compare-commits': "landing: how far a PR's head is behind its base",
  'repos/get-commit': "landing: who made a PR's head commit",
  'pulls/merge': 'landing: merge with the head-sha guard',
  'pulls/update-branch': 'landing: bring a PR whose base moved up to date',
  'pulls/create-review': 'tests: what a reviewer does (the fake refuses what GitHub refuses)',
  'repos/create-commit-status': 'tests: what CI reports on a commit',
  'repos/list-for-org': "fleet import: an organization's repositories",
};

type Json = Record<string, unknown>;

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const pkgFile = require.resolve('@octokit/openapi/package.json');
const pkg = JSON.parse(await readFile(pkgFile, 'utf8')) as { version: string };
const spec = JSON.parse(await readFile(join(dirname(pkgFile), 'generated', 'api.github.com.deref.json'), 'utf8')) as {
  info: { version: string };
  paths: Record<string, Record<string, Json>>;
};

const operations: Json[] = [];
for (const [path, item] of Object.entries(spec.paths)) {
  for (const [method, op] of Object.entries(item)) {
    const id = op.operationId as string | undefined;
    if (!id || !(id in OPERATIONS)) continue;
    const body =
      (op.requestBody as { required?: boolean; content?: Record<string, { schema?: Json }> } | undefined) ?? null;
    const responses = op.responses as Record<string, { content?: Record<string, { schema?: Json }> }>;
    const success = Object.entries(responses).find(([code]) => /^2/.test(code));
    const successSchema = success?.[1].content?.['application/json']?.schema;
    // For a list, the fields every item must have.
    const shape = successSchema?.type === 'array' ? (successSchema.items as Json | undefined) : successSchema;
    operations.push({
      operationId: id,
      method: method.toUpperCase(),
      path,
      parameters: ((op.parameters as Json[] | undefined) ?? []).map((p) => ({
        name: p.name,
        in: p.in,
        required: p.required ?? false,
        schema: p.schema,
      })),
      requestBody: body
        ? { required: body.required ?? false, schema: body.content?.['application/json']?.schema ?? null }
        : null,
      responses: Object.keys(responses),
      success: success
        ? {
            status: Number(success[0]),
            required: (shape?.required as string[] | undefined) ?? [],
            type: successSchema?.type ?? null,
          }
        : null,
    });
  }
}
const missing = Object.keys(OPERATIONS).filter((id) => !operations.some((o) => o.operationId === id));
if (missing.length > 0) throw new Error(`not in the OpenAPI description: ${missing.join(', ')}`);
operations.sort((a, b) => String(a.operationId).localeCompare(String(b.operationId)));
const out = join(root, 'tests', 'fixtures', 'github-operations.json');
await writeFile(
  out,
  `${JSON.stringify({ source: `@octokit/openapi ${pkg.version} (api.github.com ${spec.info.version})`, operations }, null, 2)}\n`,
);
console.log(`wrote ${operations.length} operations to tests/fixtures/github-operations.json`);

/**
 * The forge-failure tables: which answers of each forge Temporal retries and which fail at once,
 * and what the message says. The forges' own tests (github-forge, gitlab-forge) reach these
 * through the real clients; here every row is checked, including the ones no fake sends.
 */
import { ApplicationFailure } from '@temporalio/common';
import { describe, expect, it } from 'vitest';
import { ForgeAnswerMalformed, parseAnswer } from '../../activities/forges/answers.ts';
import {
  forgeFailure,
  GITEA_FAILURES,
  GITHUB_FAILURES,
  GITLAB_FAILURES,
  type ForgeFailureTable,
  type ForgeHttpError,
} from '../../activities/forges/failure.ts';
import { PullRequest } from '../../activities/forges/github/schemas.ts';
import { MergeRequests } from '../../activities/forges/gitlab/schemas.ts';

const settings = { tokenEnv: 'ACME_TOKEN', maxRetries: 3, token: 'tok_secret_1234' };
const fail = (table: ForgeFailureTable, error: ForgeHttpError) =>
  forgeFailure(table, 'update pull request #1 of api', error, (e) => e as ForgeHttpError, settings);

type Row = [
  status: number,
  message: string,
  outcome: 'retried' | 'ForgeRequestRejected',
  says: RegExp,
  extra?: Partial<ForgeHttpError>,
];

const github: Row[] = [
  [401, 'Bad credentials', 'ForgeRequestRejected', /rejected the token in ACME_TOKEN \(401\)/],
  [
    403,
    'Resource not accessible by personal access token',
    'ForgeRequestRejected',
    /GitHub answered 403: Resource not accessible/,
  ],
  [403, 'API rate limit exceeded for user ID 1.', 'retried', /GitHub answered 403: API rate limit exceeded/],
  [
    403,
    'You have exceeded a secondary rate limit.',
    'retried',
    /GitHub's rate limit still applied after 3 retries; "lockstep resume"/,
  ],
  [429, 'Too many requests', 'retried', /GitHub's rate limit still applied after 3 retries/],
  [404, 'Not Found', 'ForgeRequestRejected', /the repository does not exist or the token in ACME_TOKEN cannot see it/],
  [410, 'Issues are disabled for this repo', 'ForgeRequestRejected', /GitHub answered 410/],
  [422, 'Validation Failed: base is invalid', 'ForgeRequestRejected', /GitHub answered 422/],
  [
    422,
    'Validation Failed: A pull request already exists for acme:lockstep/x.',
    'retried',
    /GitHub answered 422/,
    { alreadyExists: true },
  ],
  [400, 'Problems parsing JSON', 'retried', /GitHub answered 400/],
  [409, 'Conflict', 'retried', /GitHub answered 409/],
  [502, 'Server Error', 'retried', /GitHub did not answer \(HTTP 502\)/],
  [0, 'fetch failed', 'retried', /GitHub did not answer \(connection failed\): fetch failed/],
];

const gitlab: Row[] = [
  [400, 'title is missing', 'ForgeRequestRejected', /GitLab answered 400/],
  [401, '401 Unauthorized', 'ForgeRequestRejected', /rejected the token in ACME_TOKEN \(401\); .* api scope/],
  [
    403,
    '403 Forbidden',
    'ForgeRequestRejected',
    /GitLab refused \(403\): the token in ACME_TOKEN lacks the api scope or the Developer role/,
  ],
  [
    404,
    '404 Project Not Found',
    'ForgeRequestRejected',
    /the project does not exist or the token in ACME_TOKEN cannot see it/,
  ],
  [422, 'Validation failed', 'ForgeRequestRejected', /GitLab answered 422/],
  [409, 'Another open merge request already exists for this source branch: !1', 'retried', /GitLab answered 409/],
  [429, 'Retry later', 'retried', /GitLab's rate limit still applied after 3 retries; "lockstep resume"/],
  [410, 'Gone', 'retried', /GitLab answered 410/],
  [503, 'Service Unavailable', 'retried', /GitLab did not answer \(HTTP 503\)/],
  [0, 'fetch failed', 'retried', /GitLab did not answer \(connection failed\)/],
];

const gitea: Row[] = [
  [401, 'token is required', 'ForgeRequestRejected', /Gitea rejected the token in ACME_TOKEN \(401\)/],
  [
    403,
    'token does not have at least one of required scope(s): [write:repository]',
    'ForgeRequestRejected',
    /Gitea refused \(403\): the token in ACME_TOKEN lacks the write:repository or write:issue scope/,
  ],
  [404, 'Not Found', 'ForgeRequestRejected', /the repository does not exist or the token in ACME_TOKEN cannot see it/],
  [
    409,
    'pull request already exists for these targets [id: 1, issue_id: 1, head_branch: lockstep/x, base_branch: main]',
    'retried',
    /Gitea answered 409/,
    { alreadyExists: true },
  ],
  [409, 'head out of date', 'ForgeRequestRejected', /Gitea answered 409/],
  [422, 'pull request is already closed', 'ForgeRequestRejected', /Gitea answered 422/],
  [400, 'Invalid JSON', 'ForgeRequestRejected', /Gitea answered 400/],
  [429, 'Too Many Requests', 'retried', /Gitea's rate limit still applied after 3 retries; "lockstep resume"/],
  [500, 'Internal Server Error', 'retried', /Gitea did not answer \(HTTP 500\)/],
  [0, 'fetch failed', 'retried', /Gitea did not answer \(connection failed\)/],
];

describe.each([
  ['GitHub', GITHUB_FAILURES, github],
  ['GitLab', GITLAB_FAILURES, gitlab],
  ['Gitea', GITEA_FAILURES, gitea],
] as const)('%s failures', (_name, table, rows) => {
  it.each(rows)('%i %s: %s', (status, message, outcome, says, extra) => {
    const failure = fail(table, { status, message, route: 'PATCH /repos/acme/api/pulls/1', ...extra });
    expect(failure).toBeInstanceOf(ApplicationFailure);
    expect(failure.nonRetryable).toBe(outcome !== 'retried');
    expect(failure.type).toBe(outcome === 'retried' ? 'ForgeUnavailable' : outcome);
    expect(failure.message).toMatch(says);
    expect(failure.message.startsWith('cannot update pull request #1 of api (PATCH /repos/acme/api/pulls/1): ')).toBe(
      true,
    );
  });

  it('leaves a failure that is already classified as it is, and never quotes the token', () => {
    const fatal = ApplicationFailure.create({
      type: 'InvalidInput',
      message: 'no repository is known for "api"',
      nonRetryable: true,
    });
    expect(
      forgeFailure(table, 'open a pull request for api', fatal, () => ({ status: 0, message: '' }), settings),
    ).toBe(fatal);
    const leaked = fail(table, { status: 401, message: `token ${settings.token} refused\nsecond line` });
    expect(leaked.message).not.toContain(settings.token);
    expect(leaked.message).toContain('token [redacted] refused');
    expect(leaked.message).not.toContain('second line');
  });
});

describe('malformed answers', () => {
  it('name the forge, the endpoint and the field, and fail at once', () => {
    // Everything GitHub sends but the head's sha.
    const pull = {
      number: 1,
      node_id: 'PR_1',
      html_url: 'u',
      state: 'open',
      title: 't',
      body: null,
      user: null,
      labels: [],
      head: { ref: 'h' },
      base: { ref: 'main' },
      merged_at: null,
      created_at: 'c',
      updated_at: 'u',
    };
    const err = (() => {
      try {
        return parseAnswer(PullRequest, pull, 'GitHub', 'GET /repos/{owner}/{repo}/pulls/{pull_number}');
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(ForgeAnswerMalformed);
    expect(err).toMatchObject({
      forge: 'GitHub',
      endpoint: 'GET /repos/{owner}/{repo}/pulls/{pull_number}',
      field: 'head.sha',
    });
    const failure = forgeFailure(
      GITHUB_FAILURES,
      'read pull request #1 of api',
      err,
      () => ({ status: 0, message: '' }),
      settings,
    );
    expect(failure).toMatchObject({ type: 'ForgeAnswerMalformed', nonRetryable: true });
    expect(
      failure.message.startsWith(
        "cannot read pull request #1 of api: GitHub's answer to GET /repos/{owner}/{repo}/pulls/{pull_number}",
      ),
    ).toBe(true);
    expect(failure.message).toContain('does not fit what Lockstep reads: field head.sha: ');
    expect(failure.message).toContain('forge.baseUrl');
  });

  it('name the item of a list, and accept the fields a forge adds', () => {
    const mr = {
      iid: 1,
      title: 't',
      description: null,
      state: 'opened',
      source_branch: 's',
      target_branch: 'main',
      sha: 'e',
      web_url: 'u',
      labels: [],
      created_at: 'c',
      updated_at: 'u',
      extra: { anything: true },
    };
    const list = 'GET /projects/:id/merge_requests';
    expect(parseAnswer(MergeRequests, [mr], 'GitLab', list)).toHaveLength(1);
    expect(() => parseAnswer(MergeRequests, [mr, { ...mr, state: 'draft' }], 'GitLab', list)).toThrow(
      /GitLab's answer to GET \/projects\/:id\/merge_requests does not fit what Lockstep reads: field \[1\]\.state: /,
    );
    expect(() => parseAnswer(MergeRequests, '<html>sign in</html>', 'GitLab', list)).toThrow(
      /does not fit what Lockstep reads: the answer: /,
    );
  });
});

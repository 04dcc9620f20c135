/**
 * How a failed forge request becomes an activity failure, for every remote forge: retried by
 * Temporal (ForgeUnavailable), or failed at once when no retry can change the answer
 * (ForgeRequestRejected, ForgeAnswerMalformed). Which answers are permanent differs per forge,
 * so each has its table below; the first row that matches decides, and an answer no row names
 * is retried. The message names the operation, the request and the forge's answer, never the token.
 */
import { ApplicationFailure } from '@temporalio/common';
import { ForgeAnswerMalformed, type ForgeName } from './answers.ts';
import { redact } from './pacing.ts';

/** A request the forge's client gave up on, in the terms the tables read. */
export interface ForgeHttpError {
  /** The forge's HTTP status; 0 when no answer came (refused, dropped, or not an HTTP error at all). */
  status: number;
  /** The client's error message (its first line goes into the failure's message). */
  message: string;
  /** `METHOD /path` of the request, when the client says. */
  route?: string | undefined;
  /** The forge said an open pull request of the head branch already exists. */
  alreadyExists?: boolean | undefined;
}

/** What a failure's message may name: the setting that holds the token, and how often the client retried. */
export interface ForgeSettings {
  tokenEnv: string;
  maxRetries: number;
}

export interface FailureRow {
  /** The statuses the row covers; empty: any status, decided by `when`. */
  status: readonly number[];
  when?: (error: ForgeHttpError) => boolean;
  permanent: boolean;
  /** What the answer means, for the message; default: "<forge> answered <status>", or "did not answer" for none or 5xx. */
  reason?: (settings: ForgeSettings) => string;
}

export interface ForgeFailureTable {
  forge: ForgeName;
  rows: readonly FailureRow[];
}

const rateLimited = (forge: ForgeName) => (s: ForgeSettings) =>
  `${forge}'s rate limit still applied after ${s.maxRetries} retries; "lockstep resume" continues the change later`;

export const GITHUB_FAILURES: ForgeFailureTable = {
  forge: 'GitHub',
  rows: [
    // The secondary rate limit (GitHub sends it as 403 or 429, naming it) outlasted the client's
    // own waits: it lifts after a while, so a later attempt passes.
    {
      status: [],
      when: (e) => e.status === 429 || /secondary rate limit/i.test(e.message),
      permanent: false,
      reason: rateLimited('GitHub'),
    },
    // The primary rate limit also comes as 403 ("API rate limit exceeded"); it resets within the hour.
    { status: [403], when: (e) => /rate limit/i.test(e.message), permanent: false },
    // A token that is wrong, expired or revoked is refused again on every retry.
    {
      status: [401],
      permanent: true,
      reason: (s) => `GitHub rejected the token in ${s.tokenEnv} (401); check that it is valid and not expired`,
    },
    // Any other 403 is a permission the token lacks (scopes, repository role, a rule): a retry has it no more.
    { status: [403], permanent: true },
    // GitHub answers 404 alike for a repository that does not exist and one the token cannot see.
    {
      status: [404],
      permanent: true,
      reason: (s) => `GitHub answered 404: the repository does not exist or the token in ${s.tokenEnv} cannot see it`,
    },
    // Gone for good: e.g. issues disabled on the repository, which labels and assignees need.
    { status: [410], permanent: true },
    // A pull request of the head already exists: the create resolves it by finding it; anywhere
    // else it is a race with another call, which the next attempt's find-or-create settles.
    { status: [422], when: (e) => e.alreadyExists === true, permanent: false },
    // "Validation Failed": GitHub refuses the request as made (a base branch that does not exist,
    // a reviewer who is no collaborator); the same request is refused again.
    { status: [422], permanent: true },
  ],
};

export const GITLAB_FAILURES: ForgeFailureTable = {
  forge: 'GitLab',
  rows: [
    // GitLab's rate limit (429 with Retry-After) outlasted the requester's own waits: it lifts after a while.
    { status: [429], permanent: false, reason: rateLimited('GitLab') },
    // A parameter missing or invalid: the same request is refused again.
    { status: [400], permanent: true },
    // A token that is wrong, expired or revoked is refused again on every retry.
    {
      status: [401],
      permanent: true,
      reason: (s) =>
        `GitLab rejected the token in ${s.tokenEnv} (401); check that it is valid, not expired, and has the api scope`,
    },
    // GitLab signals rate limits with 429 only, so a 403 is always a permission the token lacks.
    {
      status: [403],
      permanent: true,
      reason: (s) =>
        `GitLab refused (403): the token in ${s.tokenEnv} lacks the api scope or the Developer role on the project`,
    },
    // GitLab answers 404 alike for a project that does not exist and one the token cannot see.
    {
      status: [404],
      permanent: true,
      reason: (s) => `GitLab answered 404: the project does not exist or the token in ${s.tokenEnv} cannot see it`,
    },
    // An open merge request of the source branch exists: the create resolves it by finding it;
    // anywhere else it is a race with another call, which the next attempt's find-or-create settles.
    { status: [409], permanent: false },
    // The merge request as asked fails GitLab's validation; asked again, it fails again.
    { status: [422], permanent: true },
  ],
};

export const GITEA_FAILURES: ForgeFailureTable = {
  forge: 'Gitea',
  rows: [
    // Gitea has no rate limit of its own, but a proxy in front of it may: it lifts after a while.
    { status: [429], permanent: false, reason: rateLimited('Gitea') },
    // A token that is wrong, expired or revoked is refused again on every retry.
    {
      status: [401],
      permanent: true,
      reason: (s) => `Gitea rejected the token in ${s.tokenEnv} (401); check that it is valid and not expired`,
    },
    // A scope the token lacks ("token does not have at least one of required scope(s)") or a
    // permission its user lacks on the repository: a retry has it no more.
    {
      status: [403],
      permanent: true,
      reason: (s) =>
        `Gitea refused (403): the token in ${s.tokenEnv} lacks the write:repository or write:issue scope, or its user lacks write access to the repository`,
    },
    // Gitea answers 404 alike for a repository that does not exist and one the token cannot see.
    {
      status: [404],
      permanent: true,
      reason: (s) => `Gitea answered 404: the repository does not exist or the token in ${s.tokenEnv} cannot see it`,
    },
    // "pull request already exists for these targets": the create resolves it by finding it;
    // anywhere else it is a race with another call, which the next attempt's find-or-create settles.
    { status: [409], when: (e) => e.alreadyExists === true, permanent: false },
    // A request Gitea refuses as made (a base branch that does not exist, a reviewer who is no
    // collaborator, a field it does not accept): the same request is refused again.
    { status: [400, 409, 422], permanent: true },
  ],
};

/** The row of `table` that decides `error`, if any. */
export function failureRow(table: ForgeFailureTable, error: ForgeHttpError): FailureRow | undefined {
  return table.rows.find(
    (row) => (row.status.length === 0 || row.status.includes(error.status)) && (row.when?.(error) ?? true),
  );
}

/**
 * The activity failure for a forge operation (`what`, e.g. "open a pull request for api") that
 * failed with `err`. A failure already classified (an ApplicationFailure) stays as it is; a
 * malformed answer is permanent; anything else is read by `readError` and decided by the table.
 */
export function forgeFailure(
  table: ForgeFailureTable,
  what: string,
  err: unknown,
  readError: (err: unknown) => ForgeHttpError,
  settings: ForgeSettings & { token: string },
): ApplicationFailure {
  if (err instanceof ApplicationFailure) return err;
  if (err instanceof ForgeAnswerMalformed) {
    const message = redact(`cannot ${what}: ${err.message}`.slice(0, 1000), settings.token);
    return ApplicationFailure.create({ type: 'ForgeAnswerMalformed', message, nonRetryable: true });
  }
  const error = readError(err);
  const { forge } = table;
  const { status } = error;
  const row = failureRow(table, error);
  const reason =
    row?.reason?.(settings) ??
    (status === 0 || status >= 500
      ? `${forge} did not answer (${status === 0 ? 'connection failed' : `HTTP ${status}`})`
      : `${forge} answered ${status}`);
  const route = error.route ? ` (${error.route})` : '';
  const message = redact(
    `cannot ${what}${route}: ${reason}: ${error.message.split('\n')[0] ?? ''}`.slice(0, 1000),
    settings.token,
  );
  const permanent = row?.permanent ?? false;
  return ApplicationFailure.create({
    type: permanent ? 'ForgeRequestRejected' : 'ForgeUnavailable',
    message,
    nonRetryable: permanent,
  });
}

/** Runs one forge operation; its failure becomes forgeFailure's message and verdict (never the token). */
export async function callForge<T>(
  table: ForgeFailureTable,
  readError: (err: unknown) => ForgeHttpError,
  settings: ForgeSettings & { token: string },
  what: string,
  fn: () => Promise<T>,
): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw forgeFailure(table, what, err, readError, settings);
  }
}

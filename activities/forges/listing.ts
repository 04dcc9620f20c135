/**
 * The repositories of a GitHub organization or a GitLab group, as `lockstep fleet import` reads
 * them: each forge lists them through its own client (paced, retried, paginated) and answers
 * in this one shape. An owner the forge does not know fails as `ForgeOwnerNotFound`, so the
 * command can name the flag that gave it.
 */
import { ApplicationFailure } from '@temporalio/common';

export interface ForgeRepository {
  /** The repository's name on the forge (GitLab: the project's path, its last segment). */
  name: string;
  /** `owner/repo` (GitLab: `group/subgroup/project`). */
  slug: string;
  /** The HTTPS clone URL. */
  cloneUrl: string;
  /** Null for an empty repository, which has no branch yet. */
  defaultBranch: string | null;
  topics: string[];
  archived: boolean;
  fork: boolean;
}

/** The failure type of an organization or group the forge does not know (or the token cannot see). */
export const OWNER_NOT_FOUND = 'ForgeOwnerNotFound';

export function ownerNotFound(message: string): ApplicationFailure {
  return ApplicationFailure.create({ type: OWNER_NOT_FOUND, message, nonRetryable: true });
}

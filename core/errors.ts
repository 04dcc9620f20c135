/** Failure types shared by activities (which throw them) and workflows (which stop retrying on them). */

/** Activity failure types after which retrying the repo cannot help. */
export const FATAL_ERROR_TYPES = [
  'SandboxImageMissing',
  'RemoteUnreachable',
  'BaseBranchMissing',
  'InvalidInput',
  'ModelNotConfigured',
  'ModelRequestRejected',
] as const;
export type FatalErrorType = (typeof FATAL_ERROR_TYPES)[number];

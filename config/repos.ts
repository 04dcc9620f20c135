/**
 * The fleet: which repositories Lockstep may change, how to sandbox and test each one, and
 * which interface contracts they provide and consume. Read from `repos.config.json`.
 */
import { z } from 'zod';
import { OperationUses } from '../core/contracts/types.ts';
import { allowCovered, allowEntryProblem } from '../activities/egress/policy.ts';

/** Repo and contract names end up in branch names, container names and workflow ids. */
export const Name = z
  .string()
  .regex(
    /^[a-z0-9][a-z0-9._-]{0,62}$/,
    'use 1-63 lowercase letters, digits, ".", "_" or "-", starting with a letter or digit',
  );

const EnvName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'use a valid environment variable name');

/** Environment variables a sandbox never receives, whatever the config says. */
export const FORBIDDEN_PASS_ENV = /(TOKEN|SECRET|PASSWORD|PASSWD|API_KEY|APIKEY|PRIVATE|CREDENTIAL|AUTH)/i;

export const SandboxTimeouts = z
  .object({
    setupSeconds: z.number().int().positive().max(86_400).default(600),
    stepSeconds: z.number().int().positive().max(86_400).default(600),
    testSeconds: z.number().int().positive().max(86_400).default(900),
  })
  .strict();

export const SandboxLimits = z
  .object({
    cpus: z.number().positive().max(64).default(1),
    memoryMb: z.number().int().min(64).max(262_144).default(1024),
    pids: z.number().int().min(16).max(65_536).default(256),
    tmpfsMb: z.number().int().min(16).max(65_536).default(512),
    /**
     * Largest file a sandbox process may write, in MB (RLIMIT_FSIZE). The work tree is a bind
     * mount of the host's disk, which no other limit bounds: a runaway write stops here.
     */
    fileMb: z.number().int().min(1).max(1_048_576).default(2048),
    /** Bytes of command output kept in memory per command; the rest is counted, not kept. */
    outputBytes: z
      .number()
      .int()
      .min(1024)
      .max(16 * 1024 * 1024)
      .default(256 * 1024),
  })
  .strict();

/**
 * The repo's package-manager caches (npm, pip, Go, Maven, cargo), kept on the worker's host
 * across runs and changes and mounted read-write at /cache in its sandboxes.
 */
export const SandboxCache = z
  .object({
    enabled: z.boolean().default(true),
    /** Names the cache instead of the hash of the repo's lockfiles (e.g. when it has none). */
    key: z
      .string()
      .regex(/^[A-Za-z0-9._-]{1,64}$/, 'use 1-64 letters, digits, ".", "_" or "-"')
      .optional(),
    /** The most the repo's caches may hold on a host, in MB; the least recently used keys go first. */
    maxMb: z.number().int().min(64).max(1_048_576).default(4096),
  })
  .strict();
export type SandboxCache = z.infer<typeof SandboxCache>;

/** A recipe Lockstep builds the repo's image from; paths relative to the fleet config's folder. */
export const SandboxBuild = z
  .object({
    /** The Dockerfile, inside `context`. */
    dockerfile: z.string().min(1),
    /** The build context folder (default: the Dockerfile's folder). */
    context: z.string().min(1).optional(),
  })
  .strict();
export type SandboxBuild = z.infer<typeof SandboxBuild>;

const AllowEntry = z.string().superRefine((entry, ctx) => {
  const problem = allowEntryProblem(entry);
  if (problem) ctx.addIssue({ code: 'custom', message: `"${entry}": ${problem}` });
});

/** HTTP methods a phase with a method policy may use (CONNECT is the proxy's own business). */
export const EgressMethod = z.enum(['GET', 'HEAD', 'OPTIONS', 'POST', 'PUT', 'PATCH', 'DELETE']);

/**
 * Egress of a phase beyond setup (`steps`, `agent`): granted here, used only when the change
 * also asks for it. The proxy opens TLS for these phases to judge every request's method.
 */
export const PhaseEgress = z
  .object({
    /** Hosts this phase may reach (default: the setup `allow` list); each must be covered by it. */
    allow: z.array(AllowEntry).min(1, 'name at least one host, or leave "allow" out to use the setup list').optional(),
    /** HTTP methods it may use (default GET, HEAD, OPTIONS: it may download, not send). */
    methods: z
      .array(EgressMethod)
      .min(1, 'name at least one method, or leave "methods" out for GET, HEAD, OPTIONS')
      .optional(),
  })
  .strict();
export type PhaseEgress = z.infer<typeof PhaseEgress>;

/**
 * What the repo's `setup` may download, through the worker's egress proxy; `steps` and
 * `agent` grant those phases their own, narrower policies. Absent: no command of the repo has
 * a network.
 */
export const SandboxEgress = z
  .object({
    /** Hosts setup may reach: `host` or `*.suffix` (subdomains only), optionally `:port`. */
    allow: z
      .array(AllowEntry)
      .min(1, 'name at least one host (for example your package registry), or leave sandbox.egress out'),
    /** Ports an `allow` entry without its own port opens. */
    ports: z.array(z.number().int().min(1).max(65_535)).min(1).default([443, 80]),
    /**
     * CA bundle (a path on the worker) mounted read-only and named in NODE_EXTRA_CA_CERTS,
     * SSL_CERT_FILE, PIP_CERT, REQUESTS_CA_BUNDLE and GIT_SSL_CAINFO for setup. Default: the
     * worker's own system bundle, so a TLS-inspecting proxy the worker trusts is trusted too.
     */
    caBundle: z
      .string()
      .refine((p) => p.startsWith('/'), 'use an absolute path on the worker')
      .optional(),
    /** MB one setup may move through the proxy, up and down together. */
    maxMb: z.number().int().positive().max(1_048_576).default(4096),
    /** Connections one setup may open. */
    maxConnections: z.number().int().positive().max(1_000_000).default(4000),
    /** The change's steps may reach the network when the change asks (`egress: { steps: true }`). Absent: never. */
    steps: PhaseEgress.optional(),
    /** The agent's commands may reach the network when the change asks (`egress: { agent: true }`). Absent: never. */
    agent: PhaseEgress.optional(),
  })
  .strict()
  .superRefine((egress, ctx) => {
    for (const phase of ['steps', 'agent'] as const) {
      egress[phase]?.allow?.forEach((entry, j) => {
        if (allowCovered(entry, egress.allow, egress.ports)) return;
        ctx.addIssue({
          code: 'custom',
          path: [phase, 'allow', j],
          message: `"${entry}" is not covered by sandbox.egress.allow (a phase may reach less than setup, never more): add it there too, or remove it here`,
        });
      });
    }
  });
export type SandboxEgress = z.infer<typeof SandboxEgress>;

export const SandboxConfig = z
  .object({
    image: z.string().min(1).default('lockstep-sandbox:latest'),
    /** Build the image from this recipe (tagged by its content hash) instead of naming one in `image`. */
    build: SandboxBuild.optional(),
    /** Runs once in a fresh sandbox before the change's steps (e.g. a dependency install from a vendored cache). */
    setup: z.string().min(1).optional(),
    /** The repository's test command, run with `bash -c` in the workspace. */
    test: z.string().min(1),
    timeouts: SandboxTimeouts.prefault({}),
    limits: SandboxLimits.prefault({}),
    /** Fixed environment for the sandbox. Values are visible in workflow history: no secrets. */
    env: z.record(EnvName, z.string()).default({}),
    /** Names of worker environment variables copied into the sandbox (secret-looking names are refused). */
    passEnv: z
      .array(EnvName.refine((n) => !FORBIDDEN_PASS_ENV.test(n), 'looks like a secret; sandboxes never receive secrets'))
      .default([]),
    cache: SandboxCache.prefault({}),
    egress: SandboxEgress.optional(),
  })
  .strict();
export type SandboxConfig = z.infer<typeof SandboxConfig>;

export const ContractKind = z.enum(['openapi', 'protobuf', 'pact', 'json-schema', 'command']);
export type ContractKind = z.infer<typeof ContractKind>;

const RepoPath = z
  .string()
  .min(1)
  .refine(
    (p) => !p.startsWith('/') && !p.split(/[\\/]/).includes('..'),
    'use a path relative to the repository, without ".."',
  );

const BufRules = z
  .array(z.string().regex(/^[A-Z0-9_]+$/, 'use buf rule categories or ids such as FILE, PACKAGE, WIRE_JSON'))
  .min(1);

export const ProvidedContract = z
  .object({
    name: Name,
    kind: ContractKind,
    /** The contract document in the provider's repository (openapi, protobuf, json-schema). */
    path: RepoPath.optional(),
    /** `command`: the check, run in the sandbox of `repo` (default: the provider); non-zero = broken. */
    command: z.string().min(1).optional(),
    /** `command`: the repo whose sandbox runs the check (default: the provider). */
    repo: Name.optional(),
    /** `protobuf`: buf breaking rule categories or ids. */
    rules: BufRules.default(['FILE']),
    /** `protobuf`: buf breaking rules a consumer's copy must still satisfy, the copy as baseline. */
    copyRules: BufRules.default(['WIRE_JSON']),
    /** `pact`: the provider's verification command, run in its sandbox with a consumer's pact file. */
    verify: z.string().min(1).optional(),
    /** `pact`: the environment variable that holds the pact file's path during `verify`. */
    pactEnv: EnvName.default('PACT_FILE'),
    /**
     * `public`: clients outside the fleet may use it, so a breaking change no declared consumer
     * uses still blocks. `fleet`: every consumer is declared, so such a change is only a note.
     */
    audience: z.enum(['public', 'fleet']).default('public'),
  })
  .strict();
export type ProvidedContract = z.infer<typeof ProvidedContract>;

export const ConsumedContract = z
  .object({
    name: Name,
    /**
     * What the consumer relies on, in its own repository: a copy of the provider's document
     * (openapi, protobuf, json-schema), a Pact file, or a usage file `{ "uses": [...] }` (openapi);
     * for `pact` contracts, where the consumer's tests write their pact file.
     */
    path: RepoPath.optional(),
    /** `openapi`: operations and fields used, when the consumer keeps no file of its own. */
    uses: OperationUses.optional(),
    /** `pact`: the command that writes the pact file (default: the repo's test command). */
    command: z.string().min(1).optional(),
  })
  .strict();
export type ConsumedContract = z.infer<typeof ConsumedContract>;

/** A guardrail finding accepted on purpose; the reason is printed in every pull request body. */
export const Waiver = z
  .object({
    rule: z.string().min(1),
    /** Only in this repo (default: every repo). */
    repo: Name.optional(),
    reason: z.string().min(5, 'say why this finding is acceptable'),
  })
  .strict();
export type Waiver = z.infer<typeof Waiver>;

/** The gate between green repos and pull requests: contracts and guardrails. */
export const GateConfig = z
  .object({
    /** Check the declared contracts between the changed repositories. */
    contracts: z.boolean().default(true),
    /** Scan each repo's diff for hard-coded secrets. */
    secrets: z.boolean().default(true),
    /** Scan each repo's diff for insecure code patterns. */
    insecure: z.boolean().default(true),
    /** Agent mode: rounds in which the gate's report goes back to the repo agents. */
    rounds: z.number().int().min(0).max(10).default(2),
    /** Block on consumer drift that already existed at the base commits too (default: report it as pre-existing). */
    strict: z.boolean().default(false),
    waive: z.array(Waiver).default([]),
  })
  .strict();
export type GateConfig = z.infer<typeof GateConfig>;

/** `owner/repo` on GitHub and Gitea, `group[/subgroup...]/project` on GitLab. */
const RepoSlug = z
  .string()
  .regex(/^[A-Za-z0-9_.-]+(\/[A-Za-z0-9_.-]+)+$/, 'use "owner/repo" (GitLab: "group/subgroup/project")');

const ForgeUrl = z.url({ protocol: /^https?$/ });

/** Settings every remote forge shares (GitHub, GitLab, Gitea). */
const remoteForgeFields = (defaults: { tokenEnv: string }) => ({
  /** Name of the worker's environment variable that holds the token (never the token itself). */
  tokenEnv: EnvName.default(defaults.tokenEnv),
  /** Open pull requests as drafts; `lockstep publish` turns them ready for review. */
  draft: z.boolean().default(true),
  labels: z.array(z.string().min(1).max(100)).default([]),
  /** User logins (GitHub) or usernames (GitLab, Gitea) asked for review. */
  reviewers: z.array(z.string().min(1).max(100)).default([]),
  assignees: z.array(z.string().min(1).max(100)).default([]),
  /** Minimum milliseconds between two content-creating requests to this forge (host + token). */
  minIntervalMs: z.number().int().min(0).max(600_000).default(1000),
  /** Retries of one request after a rate limit, a 5xx or a dropped connection, before the activity fails. */
  maxRetries: z.number().int().min(0).max(10).default(3),
  /** Explicit `owner/repo` per fleet repo; by default it is read from the repo's URL. */
  repos: z.record(Name, RepoSlug).default({}),
});

export const GitHubForgeConfig = z
  .object({
    type: z.literal('github'),
    /** The API root: GitHub Enterprise is `https://<host>/api/v3`. */
    baseUrl: ForgeUrl.default('https://api.github.com'),
    ...remoteForgeFields({ tokenEnv: 'GITHUB_TOKEN' }),
  })
  .strict();
export type GitHubForgeConfig = z.infer<typeof GitHubForgeConfig>;

export const GitLabForgeConfig = z
  .object({
    type: z.literal('gitlab'),
    /** The server: a self-managed GitLab is its own URL. */
    baseUrl: ForgeUrl.default('https://gitlab.com'),
    ...remoteForgeFields({ tokenEnv: 'GITLAB_TOKEN' }),
  })
  .strict();
export type GitLabForgeConfig = z.infer<typeof GitLabForgeConfig>;

/** Self-hosted Gitea or Forgejo: no default server, so `baseUrl` (the server's root; the API is at /api/v1) is required. */
export const GiteaForgeConfig = z
  .object({
    type: z.literal('gitea'),
    /** The server's root URL, e.g. `https://git.example.com/` (the API is at `<baseUrl>/api/v1`). */
    baseUrl: z
      .url({
        protocol: /^https?$/,
        error: (issue) =>
          issue.input === undefined
            ? 'required: the Gitea server root, e.g. "https://git.example.com/"'
            : 'use an http(s) URL of the Gitea server root, e.g. "https://git.example.com/"',
      })
      .refine((url) => !/\/api\/v1\/?$/.test(url), {
        message: 'use the Gitea server root (e.g. https://git.example.com/); Lockstep adds /api/v1 itself',
      }),
    ...remoteForgeFields({ tokenEnv: 'GITEA_TOKEN' }),
  })
  .strict();
export type GiteaForgeConfig = z.infer<typeof GiteaForgeConfig>;

export const ForgeConfig = z.discriminatedUnion('type', [
  z.object({ type: z.literal('local') }).strict(),
  GitHubForgeConfig,
  GitLabForgeConfig,
  GiteaForgeConfig,
]);
export type ForgeConfig = z.infer<typeof ForgeConfig>;
export type RemoteForgeConfig = GitHubForgeConfig | GitLabForgeConfig | GiteaForgeConfig;

/** Models used by the agents. Any OpenAI-compatible endpoint: OPENAI_BASE_URL and OPENAI_API_KEY. */
export const ModelsConfig = z
  .object({
    /** Plans the change across repos. */
    coordinator: z.string().min(1).default('gpt-4.1'),
    /** Edits and tests each repo; also writes summaries. */
    agent: z.string().min(1).default('gpt-4.1-mini'),
    requestTimeoutSeconds: z.number().int().min(5).max(3600).default(120),
    /** Re-asks of the coordinator when its plan does not validate. */
    planAttempts: z.number().int().min(1).max(10).default(3),
  })
  .strict();
export type ModelsConfig = z.infer<typeof ModelsConfig>;

/** Limits of one repo agent's loop; when one runs out the repo fails with the reason. */
export const AgentBudgets = z
  .object({
    turns: z.number().int().min(1).max(1000).default(40),
    testIterations: z.number().int().min(1).max(100).default(5),
    tokens: z.number().int().min(1000).max(100_000_000).default(500_000),
    wallSeconds: z.number().int().min(10).max(86_400).default(1800),
  })
  .strict();
export type AgentBudgets = z.infer<typeof AgentBudgets>;

/** How a live change involves people: approval gates, and waiting for decisions on failed repos. */
export const OperationsConfig = z
  .object({
    /** Gates that wait for `lockstep approve`: after the plan, before publishing. */
    approve: z.array(z.enum(['plan', 'publish'])).default([]),
    approvalTimeoutSeconds: z
      .number()
      .int()
      .min(1)
      .max(30 * 86_400)
      .default(86_400),
    /** How long a failed repo waits for `lockstep retry|skip|abort` (0: the change ends at once). */
    waitOnFailureSeconds: z
      .number()
      .int()
      .min(0)
      .max(30 * 86_400)
      .default(0),
    /**
     * Repos to a page: a change of more repos runs in pages, so its history stays bounded
     * (docs/performance.md, "Fleet scale").
     */
    pageSize: z.number().int().min(2).max(500).default(100),
  })
  .strict();
export type OperationsConfig = z.infer<typeof OperationsConfig>;

export const RepoConfig = z
  .object({
    name: Name,
    /** A git URL, or a local path relative to the config file. */
    url: z.string().min(1),
    baseBranch: z.string().min(1).default('main'),
    sandbox: SandboxConfig,
    provides: z.array(ProvidedContract).default([]),
    consumes: z.array(ConsumedContract).default([]),
    /** How `lockstep land` merges this repo's pull request (docs/landing.md). */
    merge: z.enum(['merge', 'squash', 'rebase']).default('merge'),
    /** Labels a change file selects repos by (`targets.tags`), e.g. a team, a language, a forge topic. */
    tags: z
      .array(Name)
      .default([])
      .refine((tags) => new Set(tags).size === tags.length, 'list each tag once'),
  })
  .strict();
export type RepoConfig = z.infer<typeof RepoConfig>;

export const ReposConfig = z
  .object({
    $schema: z.string().optional(),
    /** Repos changed at the same time (each holds a sandbox). */
    concurrency: z.number().int().min(1).max(256).default(4),
    forge: ForgeConfig.default({ type: 'local' }),
    models: ModelsConfig.prefault({}),
    budgets: AgentBudgets.prefault({}),
    operations: OperationsConfig.prefault({}),
    gate: GateConfig.prefault({}),
    /** Sandbox settings every repo starts from; a repo's own `sandbox` overrides them field by field. */
    defaults: z
      .object({ sandbox: z.record(z.string(), z.unknown()).default({}) })
      .strict()
      .default({ sandbox: {} }),
    repos: z.array(RepoConfig).min(1, 'list at least one repository'),
  })
  .strict();
export type ReposConfig = z.infer<typeof ReposConfig>;

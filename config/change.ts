/**
 * A change file (YAML or JSON): one change across several repositories. In steps mode each
 * target repo lists the commands that make its part of the change, run inside its sandbox.
 */
import { z } from 'zod';
import { Name } from './repos.ts';

export const ChangeId = z
  .string()
  .regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'use 1-63 lowercase letters, digits or "-", starting with a letter or digit');

export const ChangeStep = z
  .object({
    name: z.string().min(1).max(120),
    /** Run with `bash -c` in the repository's sandbox, in the workspace root. */
    run: z.string().min(1),
    timeoutSeconds: z.number().int().positive().max(86_400).optional(),
  })
  .strict();
export type ChangeStep = z.infer<typeof ChangeStep>;

/**
 * One target repo. Three ways to say what to do, per repo:
 * - `steps`: commands to run (no model at all);
 * - `instructions`: plain-language task for the repo's coding agent (no planning call);
 * - neither: the coordinator model plans this repo's task from the change's description.
 */
export const ChangeTarget = z
  .object({
    name: Name,
    steps: z.array(ChangeStep).min(1, 'give at least one step').optional(),
    instructions: z.string().min(1).max(20_000).optional(),
  })
  .strict()
  .refine((t) => !(t.steps && t.instructions), {
    message: 'give either "steps" or "instructions", not both',
    path: ['instructions'],
  });
export type ChangeTarget = z.infer<typeof ChangeTarget>;

/**
 * Files a content query reads: a glob relative to the repository root (`*` within a folder,
 * `**` across folders, `?`, `{a,b}`), matched against the base branch's tracked paths.
 */
export const PathGlob = z
  .string()
  .min(1)
  .max(300)
  .refine(
    (p) => !p.startsWith('/') && !p.split('/').includes('..'),
    'use a glob relative to the repository root, without ".."',
  );

/** A repo matches when its base branch has a file matching `path` (and, with `text` or `regex`, a line in one that holds it). */
export const ContentQuery = z
  .object({
    path: PathGlob,
    /** A fixed string a line of a matching file contains. */
    text: z.string().min(1).max(1000).optional(),
    /** A JavaScript regular expression a line of a matching file matches. */
    regex: z
      .string()
      .min(1)
      .max(1000)
      .superRefine((source, ctx) => {
        try {
          new RegExp(source);
        } catch (err) {
          ctx.addIssue({ code: 'custom', message: `not a valid regular expression: ${(err as Error).message}` });
        }
      })
      .optional(),
  })
  .strict()
  .refine((q) => !(q.text !== undefined && q.regex !== undefined), {
    message: 'give either "text" or "regex", not both',
    path: ['regex'],
  });
export type ContentQuery = z.infer<typeof ContentQuery>;

/**
 * Targets chosen by query (docs/configuration.md#targets-by-query): the fleet repos that satisfy
 * every query given (an intersection), minus `exclude`. Resolved once before the change starts;
 * the resolved list is what the change's input (its history) records.
 */
export const TargetQuery = z
  .object({
    /** Repos that carry at least one of these tags (repos.config.json `tags`). */
    tags: z.array(Name).min(1, 'name at least one tag, or leave "tags" out').optional(),
    /** Repos that declare this contract under `consumes`. */
    consumersOf: Name.optional(),
    /** The repo that declares this contract under `provides`. */
    providersOf: Name.optional(),
    /** Repos whose base branch holds a matching path, or a matching line in one. */
    contains: ContentQuery.optional(),
    /** Repos never selected, even when they match (or when their base branch cannot be scanned). */
    exclude: z.array(Name).default([]),
    /** What every selected repo runs (a repo listed under `repos` keeps its own). */
    steps: z.array(ChangeStep).min(1, 'give at least one step').optional(),
    /** The task every selected repo's agent gets (a repo listed under `repos` keeps its own). */
    instructions: z.string().min(1).max(20_000).optional(),
  })
  .strict()
  .refine((q) => q.tags || q.consumersOf || q.providersOf || q.contains, {
    message: 'give at least one query: "tags", "consumersOf", "providersOf" or "contains"',
  })
  .refine((q) => !(q.steps && q.instructions), {
    message: 'give either "steps" or "instructions", not both',
    path: ['instructions'],
  });
export type TargetQuery = z.infer<typeof TargetQuery>;

export const BUMP_ECOSYSTEMS = ['npm', 'go', 'pip'] as const;
export type BumpEcosystem = (typeof BUMP_ECOSYSTEMS)[number];

/** What a package name looks like in each ecosystem, and how to say it when it does not. */
const PACKAGE_NAMES: Record<BumpEcosystem, { pattern: RegExp; rule: string }> = {
  // npm's rules for new packages: lowercase, URL-safe, optionally scoped, at most 214 characters.
  npm: {
    pattern: /^(?=.{1,214}$)(@[a-z0-9][a-z0-9._~-]*\/)?[a-z0-9][a-z0-9._~-]*$/,
    rule: 'an npm package name such as "axios" or "@scope/name" (lowercase)',
  },
  // A module path: a first element with a dot (the host), then path elements; a major-version suffix is an element.
  go: {
    pattern: /^[a-z0-9][a-z0-9-]*(\.[a-z0-9-]+)+(\/[A-Za-z0-9][A-Za-z0-9._~+-]*)+$/,
    rule: 'a Go module path such as "google.golang.org/grpc" or "github.com/sirupsen/logrus"',
  },
  // PEP 508 names: letters, digits, ".", "_", "-", starting and ending with a letter or digit.
  pip: {
    pattern: /^([A-Za-z0-9]|[A-Za-z0-9][A-Za-z0-9._-]*[A-Za-z0-9])$/,
    rule: 'a Python distribution name such as "requests" or "PyYAML" (no version, no extras)',
  },
};

/** What `to` may be in each ecosystem (besides "latest"); checked again by the ecosystem's own tool when resolved. */
const TARGETS: Record<BumpEcosystem, { pattern: RegExp; rule: string }> = {
  // A version or an npm semver range: digits, x, *, operators, "||", hyphen ranges, pre-release tags.
  npm: {
    pattern: /^[0-9A-Za-z.^~<>=|*+ -]{1,100}$/,
    rule: 'a version ("1.13.0"), an npm range ("^1.12", ">=1.10 <2") or "latest"',
  },
  // A Go module query: a (partial) version or a comparison with one.
  go: {
    pattern: /^(<=|>=|<|>)?v\d+(\.\d+){0,2}(-[0-9A-Za-z.-]+)?(\+incompatible)?$/,
    rule: 'a Go version or module query ("v1.85.0", "v1.85", ">=v1.80.0") or "latest"',
  },
  // A version or a PEP 440 specifier set.
  pip: {
    pattern:
      /^((===?|~=|!=|<=|>=|<|>)?\s*[0-9][0-9A-Za-z.*+!-]*)(\s*,\s*(===?|~=|!=|<=|>=|<|>)\s*[0-9][0-9A-Za-z.*+!-]*)*$/,
    rule: 'a version ("2.32.3"), a specifier set (">=2,<3", "~=2.31") or "latest"',
  },
};

/**
 * A dependency bump: move `package` to `to` (resolved once, to one concrete version, before any
 * repo starts) in every target repo, with the ecosystem's own tool (docs/bumps.md).
 */
export const Bump = z
  .object({
    ecosystem: z.enum(BUMP_ECOSYSTEMS),
    package: z.string().min(1).max(300),
    to: z.string().min(1).max(100).default('latest'),
  })
  .strict()
  .superRefine((b, ctx) => {
    const name = PACKAGE_NAMES[b.ecosystem];
    if (!name.pattern.test(b.package))
      ctx.addIssue({ code: 'custom', path: ['package'], message: `"${b.package}" is not ${name.rule}` });
    const to = b.to.trim();
    const target = TARGETS[b.ecosystem];
    if (to !== 'latest' && !target.pattern.test(to))
      ctx.addIssue({ code: 'custom', path: ['to'], message: `"${b.to}" is not ${target.rule}` });
  });
export type Bump = z.infer<typeof Bump>;

/**
 * Network beyond setup that this change asks for; every target repo's fleet config must grant
 * it (`sandbox.egress.steps`, `sandbox.egress.agent`), or the change is refused before it starts.
 */
export const ChangeEgress = z
  .object({
    /** The steps may reach the hosts `sandbox.egress.steps` allows, with its methods. */
    steps: z.boolean().default(false),
    /** The agent's commands may reach the hosts `sandbox.egress.agent` allows, with its methods. */
    agent: z.boolean().default(false),
  })
  .strict();
export type ChangeEgress = z.infer<typeof ChangeEgress>;

const DURATION_UNITS = { s: 1, m: 60, h: 3600, d: 86_400 } as const;

/** A duration as a change file writes it ("90m", "3d"), in seconds. */
export const Duration = z
  .string()
  .regex(/^[1-9][0-9]{0,5}[smhd]$/, 'write a whole number and a unit: s, m, h or d (for example "3d" or "12h")')
  .transform((d) => Number(d.slice(0, -1)) * DURATION_UNITS[d.slice(-1) as keyof typeof DURATION_UNITS]);

/** How `lockstep land` lands this change's pull requests (docs/landing.md). */
export const ChangeLanding = z
  .object({
    /** Landing stops (what merged stays merged) when a pull request still waits this long after `lockstep land` started it. */
    timeout: Duration.default(3 * 86_400),
  })
  .strict();
export type ChangeLanding = z.infer<typeof ChangeLanding>;

export const Change = z
  .object({
    id: ChangeId,
    title: z.string().min(1).max(200),
    description: z.string().default(''),
    /** Without `bump` or `targets`, at least one; with `bump`, optional: the repos whose manifests declare the package. */
    repos: z.array(ChangeTarget).default([]),
    /** More targets, chosen by query from the fleet; unioned with `repos`. */
    targets: TargetQuery.optional(),
    bump: Bump.optional(),
    egress: ChangeEgress.optional(),
    /** Land the pull requests right after they open (`lockstep run` goes on to `lockstep land`). */
    land: z.boolean().optional(),
    landing: ChangeLanding.optional(),
  })
  .strict()
  .superRefine((c, ctx) => {
    if (!c.bump && !c.targets && c.repos.length === 0) {
      ctx.addIssue({
        code: 'custom',
        path: ['repos'],
        message:
          'name at least one target repository, or choose them by query under "targets" (or give "bump", whose targets are the repos that declare the package)',
      });
    }
    if (c.bump && c.targets?.steps) {
      ctx.addIssue({
        code: 'custom',
        path: ['targets', 'steps'],
        message: "a bump change runs the ecosystem's own tool in every target; it takes no steps",
      });
    }
    if (c.bump) {
      c.repos.forEach((t, i) => {
        if (t.steps) {
          ctx.addIssue({
            code: 'custom',
            path: ['repos', i, 'steps'],
            message: `a bump change runs the ecosystem's own tool in "${t.name}"; it takes no steps`,
          });
        }
      });
    }
  });
export type Change = z.infer<typeof Change>;

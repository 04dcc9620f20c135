/**
 * The contract half of the gate: one activity per declared contract. It checks the provider
 * and its consumers out at the commits the change pushed (a repo outside the change at its
 * base branch), reads documents straight from git (never through the work tree, so a symlink
 * cannot point a check at a host file), runs commands only in throwaway sandboxes, and returns a
 * small verdict. Everything it created is removed before it returns, also on failure.
 */
import { lstat, mkdir, readFile, realpath, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type {
  CheckContractInput,
  ContractConsumerSpec,
  ContractProblem,
  ContractSpec,
  ContractVerdict,
} from '../../core/gate.ts';
import type { CommandResult } from '../../core/commands.ts';
import { gateVerdict } from '../../core/metrics.ts';
import { activityContext } from '../context.ts';
import {
  bundleExternalRefs,
  checkOpenApiConsumer,
  copyLayout,
  copyProblem,
  describeEntry,
  diffJsonSchema,
  diffOpenApi,
  lineFinder,
  OperationUses,
  parseContractDocument,
  protoHandle,
  readPact,
  splitPreExisting,
  usageOfCopy,
  usageOfPact,
  usageOfProtoCopy,
  usageOfUses,
  type ContractProblem as CheckProblem,
  type DeclaredUsage,
  type LineFinder,
  type OpenApiUsage,
  type PactEntry,
} from '../../core/contracts/index.ts';
import { bufBreaking, bufCopyBreaking, GATE_SCRATCH } from './buf.ts';
import { attributeFindings, consumerNotInChange, consumerVerdicts, unusedFinding } from './consumers.ts';
import { COULD_NOT_RUN, environmentFault, setupFault } from './environment.ts';
import { DocumentTooLargeError, GateWork, MAX_DOCUMENT_BYTES, type GateCommandResult, type GateDeps } from './work.ts';

/** Verdicts travel through workflow history: keep them short. */
const MAX_PROBLEMS = 50;
const MAX_MESSAGE = 600;
/** With hundreds of findings (a real API's release) the cut must not hide who breaks: the provider's own findings give way first, down to this many. */
const MIN_BREAKING = 10;
/** Findings no declared consumer uses, listed beside the verdict (a public contract's also block, in `problems`). */
const MAX_UNUSED = 20;

export function createContractActivities(deps: GateDeps) {
  return {
    async checkContract(input: CheckContractInput): Promise<ContractVerdict> {
      const started = Date.now();
      const work = new GateWork(
        deps,
        input.changeId,
        `${input.round}-${input.contract.name}`,
        input.repos,
        input.revisions,
      );
      try {
        const found = await checkKind(work, input.contract);
        // gate.strict: drift the change did not cause blocks all the same.
        if (input.contract.strict) found.mismatches.push(...found.preExisting.splice(0));
        const verdict = contractVerdict(
          input.contract,
          new Set(input.repos.filter((r) => r.inChange).map((r) => r.repo)),
          found,
          Date.now() - started,
        );
        const meter = activityContext()?.metricMeter;
        if (meter) gateVerdict(meter, verdict.kind, verdict.status);
        return found.preExisting.length > 0 ? { ...verdict, preExisting: shorten(found.preExisting) } : verdict;
      } finally {
        await work.dispose();
      }
    },
  };
}

export interface Found {
  breaking: ContractProblem[];
  mismatches: ContractProblem[];
  failures: ContractProblem[];
  /** Consumer mismatches already there at the base commits: notes, unless gate.strict. */
  preExisting: ContractProblem[];
  /** What each consumer declares it uses (absent: nothing readable). */
  usage: Map<string, DeclaredUsage>;
}

async function checkKind(work: GateWork, spec: ContractSpec): Promise<Found> {
  const found: Found = { breaking: [], mismatches: [], failures: [], preExisting: [], usage: new Map() };
  switch (spec.kind) {
    case 'openapi':
    case 'json-schema':
      await checkDocument(work, spec, found);
      break;
    case 'protobuf':
      await checkProtobuf(work, spec, found);
      break;
    case 'pact':
      await checkPact(work, spec, found);
      break;
    case 'command':
      await checkCommand(work, spec, found);
      break;
  }
  return found;
}

/** The texts a check read, so problems can be given the line their pointer names. */
const sources = new WeakMap<GateWork, Map<string, string>>();
const sourceKey = (repo: string, which: 'base' | 'head', path: string): string => `${repo}\u0000${which}\u0000${path}`;
function sourcesOf(work: GateWork): Map<string, string> {
  let map = sources.get(work);
  if (!map) sources.set(work, (map = new Map<string, string>()));
  return map;
}

/**
 * Adds the line of each pointer to a problem, as a reader opens the files: the consumer's file
 * and, for a mismatch located in the provider's document (`openapi.yaml#/paths/...`), that one
 * too; what the head no longer has is found at the base.
 */
function withLines(work: GateWork, provider: string, problems: ContractProblem[]): ContractProblem[] {
  const texts = sourcesOf(work);
  // One parse per text, however many problems point into it.
  const finders = new Map<string, LineFinder>();
  const finder = (key: string): LineFinder | null => {
    const text = texts.get(key);
    if (text === undefined) return null;
    let f = finders.get(key);
    if (!f) finders.set(key, (f = lineFinder(text)));
    return f;
  };
  const lineIn = (repo: string, file: string, pointerText: string): { line: number; which: 'head' | 'base' } | null => {
    // Where the thing is at the head; else where it was at the base (it is gone); else the
    // nearest place of the head's text.
    for (const [which, exact] of [
      ['head', true],
      ['base', true],
      ['head', false],
    ] as const) {
      const line = finder(sourceKey(repo, which, file))?.(pointerText, { exact }) ?? null;
      if (line !== null) return { line, which };
    }
    return null;
  };
  return problems.map((p) => {
    const hash = p.location.indexOf('#/');
    const places: string[] = [];
    let line: number | undefined;
    if (p.location.startsWith('/')) {
      const found = lineIn(p.repo, p.file, p.location);
      if (found) {
        line = found.line;
        places.push(`${p.file} line ${found.line}${found.which === 'base' ? ' at the base' : ''}`);
      }
    } else if (hash > 0) {
      const providerFile = p.location.slice(0, hash);
      const found = lineIn(provider, providerFile, p.location.slice(hash + 1));
      if (found) places.push(`${providerFile} line ${found.line} in ${provider}`);
    }
    if (places.length === 0) return p;
    return { ...p, ...(line === undefined ? {} : { line }), message: `${p.message} (${places.join('; ')})` };
  });
}

/** A document's text, or null; one too large for the gate is an `invalid` problem, not a retried failure. */
async function readDocument(
  work: GateWork,
  repo: string,
  which: 'base' | 'head',
  path: string,
  found: Found,
): Promise<string | null | false> {
  try {
    const text = await work.read(repo, which, path);
    if (text !== null) sourcesOf(work).set(sourceKey(repo, which, path), text);
    return text;
  } catch (error) {
    if (!(error instanceof DocumentTooLargeError)) throw error;
    found.failures.push({
      kind: 'invalid',
      rule: 'document-too-large',
      file: path,
      location: '',
      message: `${path} (${which} of ${repo}) is ${error.size} bytes, more than the ${MAX_DOCUMENT_BYTES} a contract document may have: split it into files joined by relative $refs (the gate follows them inside the repository)`,
      repo,
    });
    return false;
  }
}

/** A document at a revision, parsed; a missing or unreadable one is a problem, not a crash. */
async function documentAt(
  work: GateWork,
  repo: string,
  which: 'base' | 'head',
  path: string,
  found: Found,
): Promise<unknown> {
  const text = await readDocument(work, repo, which, path, found);
  if (text === false) return undefined;
  if (text === null) {
    if (which === 'base') return undefined;
    found.failures.push({
      kind: 'invalid',
      rule: 'document-missing',
      file: path,
      location: '',
      message: `${path} does not exist at the ${which} of ${repo}`,
      repo,
    });
    return undefined;
  }
  const parsed = parseContractDocument(text, path);
  if (!parsed.ok) {
    found.failures.push({ ...parsed.problem, repo });
    return undefined;
  }
  // `$ref`s into other files of the repo are read at the same revision; a base that was already
  // broken is not this change's fault.
  const bundled = await bundleExternalRefs(parsed.document, path, async (other) => {
    const otherText = await readDocument(work, repo, which, other, found);
    // Too large: already reported; an empty document keeps it from being reported again as missing.
    if (otherText === false) return { ok: true, document: {} };
    return otherText === null ? null : parseContractDocument(otherText, other);
  });
  if (which === 'head')
    found.failures.push(
      ...withLines(
        work,
        repo,
        bundled.problems.map((p) => ({ ...p, repo })),
      ),
    );
  return bundled.document;
}

async function checkDocument(work: GateWork, spec: ContractSpec, found: Found): Promise<void> {
  const path = spec.path ?? '';
  const [base, head] = [
    await documentAt(work, spec.provider, 'base', path, found),
    await documentAt(work, spec.provider, 'head', path, found),
  ];
  if (head === undefined) return;
  // A contract new in this change has no base to break.
  if (base !== undefined) {
    const diff = (spec.kind === 'openapi' ? diffOpenApi(base, head, path) : diffJsonSchema(base, head, path)).filter(
      // A reference already reported as refused or missing is not reported again by each comparison that meets it.
      (p) =>
        p.rule !== 'ref-unresolved' ||
        !found.failures.some((f) => f.rule === 'ref-outside-repo' || f.rule === 'ref-unresolved'),
    );
    found.breaking.push(
      ...withLines(
        work,
        spec.provider,
        diff.map((p) => ({ ...p, repo: spec.provider })),
      ),
    );
  }
  for (const consumer of spec.consumers) {
    const check = (provider: unknown, which: 'base' | 'head', into: Found) =>
      spec.kind === 'openapi'
        ? openApiUsage(work, consumer, base, provider, path, into, which)
        : schemaCopy(work, consumer, provider, path, into, which);
    const placed = (ps: CheckProblem[]) =>
      withLines(
        work,
        spec.provider,
        ps.map((p) => ({ ...p, kind: 'mismatch' as const, repo: consumer.repo, consumer: consumer.repo })),
      );
    const problems = placed(await check(head, 'head', found));
    // The base pair is read only to tell old drift from new; what is unreadable there is no finding.
    const atBase = problems.length > 0 && base !== undefined ? placed(await check(base, 'base', emptyFound())) : [];
    addSplit(found, problems, atBase);
  }
}

const emptyFound = (): Found => ({ breaking: [], mismatches: [], failures: [], preExisting: [], usage: new Map() });

/** Mismatches at head go to the verdict; those the base commits already had are pre-existing. */
function addSplit(found: Found, atHead: ContractProblem[], atBase: readonly ContractProblem[]): void {
  const { introduced, preExisting } = splitPreExisting(atHead, atBase);
  found.mismatches.push(...introduced);
  found.preExisting.push(...preExisting);
}

/** `head` is the provider's document the usage is checked against (its head, or its base to tell old drift); `base` its base, where usage is resolved. */
async function openApiUsage(
  work: GateWork,
  consumer: ContractConsumerSpec,
  base: unknown,
  head: unknown,
  providerFile: string,
  found: Found,
  which: 'base' | 'head',
): Promise<CheckProblem[]> {
  const problems = consumer.uses
    ? atConsumer(
        checkOpenApiConsumer(head, { form: 'uses', uses: consumer.uses }, consumer.repo, {
          provider: providerFile,
          consumer: 'repos.config.json',
        }),
        providerFile,
        'repos.config.json',
      )
    : [];
  const declared: DeclaredUsage[] = consumer.uses ? [usageOfUses(consumer.uses, base, head)] : [];
  if (consumer.path) {
    const doc = await documentAt(work, consumer.repo, which, consumer.path, found);
    if (doc !== undefined) {
      const usage = usageOf(doc, consumer.path, consumer.repo);
      if ('form' in usage) {
        const files = { provider: providerFile, consumer: consumer.path };
        problems.push(
          ...atConsumer(checkOpenApiConsumer(head, usage, consumer.repo, files), providerFile, consumer.path),
        );
        const before = usageOf(
          (await declarationBefore(work, consumer.repo, consumer.path)) ?? doc,
          consumer.path,
          consumer.repo,
        );
        const used = 'form' in before ? before : usage;
        declared.push(
          used.form === 'uses'
            ? usageOfUses(used.uses, base, head)
            : used.form === 'pact'
              ? usageOfPact(used.pact, base, head)
              : usageOfCopy(checkOpenApiConsumer(head, used, consumer.repo, files)),
        );
      } else found.failures.push(usage);
    }
  }
  recordUsage(found, consumer.repo, declared);
  return problems;
}

/**
 * A consumer's declaration before the change, parsed; undefined when it is new or unreadable
 * there. Whom a finding hits is judged by what consumers used before the change: one that moved
 * with the provider already declares the new usage at its head.
 */
async function declarationBefore(work: GateWork, repo: string, path: string): Promise<unknown> {
  const text = await work.read(repo, 'base', path);
  if (text === null) return undefined;
  const parsed = parseContractDocument(text, path);
  return parsed.ok ? parsed.document : undefined;
}

/** What a consumer declares, for the verdict; several declarations (config and file) add up. */
function recordUsage(found: Found, consumer: string, declared: DeclaredUsage[]): void {
  found.usage.set(
    consumer,
    declared.length === 1 && declared[0]
      ? declared[0]
      : declared.length === 0
        ? { form: 'unknown' }
        : { form: 'any-of', of: declared },
  );
}

/**
 * A mismatch is reported against the consumer (its repo, its file): that is where the fix goes
 * when the consumer is the one to follow. Its location still points into the provider's
 * document, prefixed with that document's name so the pair stays unambiguous.
 */
function atConsumer(problems: CheckProblem[], providerFile: string, consumerFile: string): CheckProblem[] {
  return problems.map((p) =>
    p.file === providerFile ? { ...p, file: consumerFile, location: `${providerFile}#${p.location}` } : p,
  );
}

/** What a consumer's file says it uses: a copy of the document, a Pact file, or a `{ "uses": [...] }` list. */
function usageOf(doc: unknown, file: string, repo: string): OpenApiUsage | ContractProblem {
  const record = typeof doc === 'object' && doc !== null ? (doc as Record<string, unknown>) : {};
  if ('openapi' in record) return { form: 'copy', document: doc };
  if ('interactions' in record) return { form: 'pact', pact: doc };
  const uses = OperationUses.safeParse(record.uses);
  if (uses.success) return { form: 'uses', uses: uses.data };
  const issue = uses.error.issues[0];
  return {
    kind: 'invalid',
    rule: 'usage-unreadable',
    file,
    location: `/uses${issue?.path.length ? `/${issue.path.join('/')}` : ''}`,
    message: `${file} is neither an OpenAPI copy, a Pact file nor {"uses": [{"operation": "GET /path", "fields": [...]}]}: ${issue?.message ?? 'unreadable'}`,
    repo,
  };
}

async function schemaCopy(
  work: GateWork,
  consumer: ContractConsumerSpec,
  head: unknown,
  providerFile: string,
  found: Found,
  which: 'base' | 'head',
): Promise<CheckProblem[]> {
  if (!consumer.path) return [];
  const copy = await documentAt(work, consumer.repo, which, consumer.path, found);
  if (copy === undefined) return [];
  // What the consumer's copy promises must still hold in the provider's schema.
  const own = diffJsonSchema(copy, head, providerFile);
  const before = await declarationBefore(work, consumer.repo, consumer.path);
  recordUsage(found, consumer.repo, [
    usageOfCopy(before === undefined ? own : diffJsonSchema(before, head, providerFile)),
  ]);
  return own.map((p) => ({ ...p, message: `${consumer.repo}'s copy ${consumer.path}: ${p.message}` }));
}

async function checkProtobuf(work: GateWork, spec: ContractSpec, found: Found): Promise<void> {
  const path = spec.path ?? '';
  const head = await work.read(spec.provider, 'head', path);
  if (head === null) {
    found.failures.push({
      kind: 'invalid',
      rule: 'document-missing',
      file: path,
      location: '',
      message: `${path} does not exist at the head of ${spec.provider}`,
      repo: spec.provider,
    });
    return;
  }
  const hasBase = (await work.read(spec.provider, 'base', path)) !== null;
  const checkout = await work.checkout(spec.provider);
  const timeoutSeconds = checkout.repo.sandbox.timeouts.testSeconds;
  if (hasBase) {
    const problems = await bufBreaking({
      exec: await work.tools(spec.provider),
      base: checkout.base,
      rules: spec.rules,
      timeoutSeconds,
    });
    // The module is the whole repository; this contract is its one file.
    found.breaking.push(
      ...problems
        .filter((p) => p.file === path)
        .map((p) => {
          const handle = protoHandle(p);
          return {
            ...p,
            location: p.location.slice(p.file.length + 1),
            repo: spec.provider,
            ...(handle ? { handle } : {}),
          };
        }),
    );
  }
  for (const consumer of spec.consumers) {
    if (!consumer.path) continue;
    const copy = await work.read(consumer.repo, 'head', consumer.path);
    if (copy === null) {
      found.mismatches.push({
        kind: 'mismatch',
        rule: 'copy-missing',
        file: consumer.path,
        location: '',
        message: `${consumer.repo} has no copy of ${path} at ${consumer.path}`,
        repo: consumer.repo,
        consumer: consumer.repo,
      });
      continue;
    }
    recordUsage(found, consumer.repo, [
      usageOfProtoCopy((await work.read(consumer.repo, 'base', consumer.path)) ?? copy),
    ]);
    const atHead = await copyFits(work, spec, consumer, 'head', found);
    const atBase = atHead.length > 0 && hasBase ? await copyFits(work, spec, consumer, 'base', emptyFound()) : [];
    addSplit(found, atHead, atBase);
  }
}

/**
 * The consumer's copy (at `which`) as buf's baseline, the provider's file (at the same `which`)
 * as its input: what the copy declares must still hold on the wire and in JSON. The copy is laid
 * out at the provider's path, with the files it imports beside it in the consumer's repository
 * (or, when the consumer keeps none, the provider's own).
 */
async function copyFits(
  work: GateWork,
  spec: ContractSpec,
  consumer: ContractConsumerSpec,
  which: 'base' | 'head',
  found: Found,
): Promise<ContractProblem[]> {
  const path = spec.path ?? '';
  const copyPath = consumer.path ?? '';
  const copy = await work.read(consumer.repo, which, copyPath);
  if (copy === null) return [];
  const checkout = await work.checkout(spec.provider);
  const folder = join(GATE_SCRATCH, 'copies', consumer.repo, which);
  const layout = await copyLayout(
    { text: copy, path: copyPath },
    path,
    { consumer: (p) => work.read(consumer.repo, which, p), provider: (p) => work.read(spec.provider, which, p) },
    spec.provider,
  );
  if (!layout.ok) {
    found.failures.push({
      kind: 'invalid',
      rule: 'copy-import-missing',
      file: layout.from,
      location: '',
      message: layout.beside
        ? `${layout.from} in ${consumer.repo} imports "${layout.imported}", which is neither beside it (${layout.beside}) nor at that path in ${consumer.repo} or ${spec.provider}: add the file to ${consumer.repo}, or fix the import`
        : `${layout.from} in ${consumer.repo} imports "${layout.imported}", a path outside the module: import it by its path inside the module`,
      repo: consumer.repo,
      consumer: consumer.repo,
    });
    return [];
  }
  const files = layout.files;
  // The checkout is the provider's tree: a `.lockstep-gate` it committed (a link out of it, say)
  // is removed, never followed, before the gate writes there.
  await rm(join(checkout.dir, GATE_SCRATCH), { recursive: true, force: true });
  for (const [file, { text }] of files) {
    await mkdir(dirname(join(checkout.dir, folder, file)), { recursive: true });
    await writeFile(join(checkout.dir, folder, file), text);
  }
  await work.handOver(join(checkout.dir, GATE_SCRATCH));
  const problems = await bufCopyBreaking({
    exec: await work.tools(spec.provider),
    copies: folder,
    at: which === 'head' ? null : checkout.base,
    rules: spec.copyRules ?? ['WIRE_JSON'],
    timeoutSeconds: checkout.repo.sandbox.timeouts.testSeconds,
  });
  return problems.map((p) => ({
    ...copyProblem(p, files, { provider: spec.provider, consumer: consumer.repo, copy: copyPath }),
    repo: consumer.repo,
    consumer: consumer.repo,
  }));
}

/** Consumer-driven: each consumer's tests write its pact, the provider verifies it, offline. */
async function checkPact(work: GateWork, spec: ContractSpec, found: Found): Promise<void> {
  for (const consumer of spec.consumers) {
    const pactPath = consumer.path ?? '';
    const c = await work.checkout(consumer.repo);
    const command = consumer.command ?? c.repo.sandbox.test;
    const wrote = await work.run(consumer.repo, `pact ${spec.name}`, command, c.repo.sandbox.timeouts.testSeconds);
    if (wrote.exitCode !== 0 || wrote.setupFailed) {
      found.failures.push(
        couldNotRun(consumer.repo, pactPath, command, wrote, `${consumer.repo}'s pact command`) ??
          commandFailure(consumer.repo, pactPath, command, wrote, `${consumer.repo}'s pact command failed`),
      );
      continue;
    }
    const pact = await readWritten(c.dir, pactPath);
    if (pact === null) {
      found.failures.push({
        kind: 'invalid',
        rule: 'pact-missing',
        file: pactPath,
        location: command,
        message: `${consumer.repo}'s tests did not write ${pactPath}`,
        repo: consumer.repo,
        consumer: consumer.repo,
      });
      continue;
    }
    // A pact its provider cannot read is the consumer's to fix, named with the place in the file.
    const parsed = parseContractDocument(pact, pactPath);
    const read = parsed.ok ? readPact(parsed.document, pactPath) : { entries: [], problems: [parsed.problem] };
    if (read.problems.length > 0) {
      sourcesOf(work).set(sourceKey(consumer.repo, 'head', pactPath), pact);
      found.failures.push(
        ...withLines(
          work,
          spec.provider,
          read.problems.map((p) => ({ ...p, repo: consumer.repo, consumer: consumer.repo })),
        ),
      );
      continue;
    }
    const provider = await work.checkout(spec.provider);
    const handed = join('.lockstep-gate', 'pacts', `${consumer.repo}.json`);
    await mkdir(join(provider.dir, '.lockstep-gate', 'pacts'), { recursive: true });
    await writeFile(join(provider.dir, handed), pact);
    await work.handOver(join(provider.dir, '.lockstep-gate'));
    const verify = `export ${spec.pactEnv}=/workspace/${handed}\n${spec.verify ?? 'false'}`;
    const verified = await work.run(
      spec.provider,
      `verify pact of ${consumer.repo}`,
      verify,
      provider.repo.sandbox.timeouts.testSeconds,
    );
    const notRun = couldNotRun(
      spec.provider,
      pactPath,
      spec.verify ?? '',
      verified,
      `${spec.provider}'s verification of ${consumer.repo}'s pact`,
    );
    if (notRun) found.failures.push({ ...notRun, consumer: consumer.repo });
    else if (verified.exitCode !== 0) {
      found.breaking.push({
        ...commandFailure(
          spec.provider,
          pactPath,
          spec.verify ?? '',
          verified,
          `${spec.provider} does not honour ${consumer.repo}'s pact (${pactSummary(read.entries)})`,
        ),
        kind: 'breaking',
        rule: 'pact-verification-failed',
        consumer: consumer.repo,
      });
    }
  }
}

/** What a pact asks of its provider, in its own words: `message "order created" given "an order was paid"`. */
function pactSummary(entries: readonly PactEntry[]): string {
  const named = entries.slice(0, 3).map(describeEntry).join('; ');
  return entries.length > 3 ? `${named}; and ${entries.length - 3} more` : named;
}

async function checkCommand(work: GateWork, spec: ContractSpec, found: Found): Promise<void> {
  const command = spec.command ?? 'false';
  const c = await work.checkout(spec.runIn);
  const result = await work.run(spec.runIn, `contract ${spec.name}`, command, c.repo.sandbox.timeouts.testSeconds);
  if (result.exitCode !== 0 || result.setupFailed) {
    found.failures.push(
      couldNotRun(spec.runIn, '', command, result, `contract check "${spec.name}"`) ??
        commandFailure(spec.runIn, '', command, result, `contract check "${spec.name}" failed`),
    );
  }
}

/** A command that failed for its environment (or never ran: setup failed) is no verdict on the contract. */
function couldNotRun(
  repo: string,
  file: string,
  command: string,
  r: GateCommandResult,
  what: string,
): ContractProblem | null {
  const fault = r.setupFailed ? setupFault(repo, r) : environmentFault(r);
  if (!fault) return null;
  const tail = r.outputTail.trim().split('\n').slice(-3).join(' | ');
  return {
    kind: 'failed',
    rule: COULD_NOT_RUN,
    file,
    location: firstLine(command),
    message: `${what} could not run: ${fault.why}. Fix: ${fault.fix}.${tail ? ` Output: ${tail}` : ''}`,
    repo,
  };
}

function commandFailure(repo: string, file: string, command: string, r: CommandResult, what: string): ContractProblem {
  const why = r.timedOut ? 'timed out' : `exited with code ${r.exitCode}`;
  // Twelve lines: a verifier's own words can sit above a few closing log lines, and which comes
  // last depends on how its stdout and stderr interleaved.
  const tail = r.outputTail.trim().split('\n').slice(-12).join(' | ');
  return {
    kind: 'failed',
    rule: 'command-failed',
    file,
    location: firstLine(command),
    message: `${what}: ${why}${tail ? `: ${tail}` : ''}`,
    repo,
  };
}

/** A file a sandbox wrote: read on the host only if it is a regular file inside the checkout. */
async function readWritten(dir: string, path: string): Promise<string | null> {
  const full = join(dir, path);
  try {
    const stat = await lstat(full);
    if (!stat.isFile() || stat.size > MAX_DOCUMENT_BYTES) return null;
    const real = await realpath(full);
    if (!real.startsWith((await realpath(dir)) + '/')) return null;
    return await readFile(real, 'utf8');
  } catch {
    return null;
  }
}

/**
 * The verdict. A breaking change of the provider's document blocks when a consumer left out of
 * the change uses what broke, or, for a public contract, when no declared consumer uses it
 * (clients outside the fleet may). It passes when every consumer it hits is part of the change
 * and fits the new contract; while a consumer does not fit, the consumer is the one to move. A
 * failed pact verification always blocks: the provider and the consumer (if it changed) are
 * asked to agree again. Blame says whose work a fix round sends back.
 */
export function contractVerdict(
  spec: ContractSpec,
  inChange: ReadonlySet<string>,
  found: Found,
  durationMs: number,
): ContractVerdict {
  const documentKind = spec.kind !== 'pact' && spec.kind !== 'command';
  const audience = spec.audience ?? 'public';
  const { hits, unused } = attributeFindings(spec, found.breaking, found.usage);
  const used = found.breaking.filter((p) => !unused.includes(p));
  const blame = new Set<string>();
  // A check that could not run is the fleet config's to fix, not a repo agent's.
  for (const p of found.failures) if (p.rule !== COULD_NOT_RUN) blame.add(p.repo);
  for (const p of found.mismatches) blame.add(inChange.has(p.repo) ? p.repo : spec.provider);
  const notInChange = documentKind
    ? spec.consumers
        .filter((c) => !inChange.has(c.repo) && (hits.get(c.repo)?.length ?? 0) > 0)
        .map((c) => consumerNotInChange(spec, c.repo, hits.get(c.repo) ?? []))
    : [];
  // Whole operations gone first: in a long list they say the most.
  const unusedWorded = [...unused]
    .sort((a, b) => Number(a.handle?.field !== '') - Number(b.handle?.field !== ''))
    .map((p) => unusedFinding(p, audience));
  const outsideFleet = documentKind && audience === 'public' ? unusedWorded : [];
  let accepted: ContractProblem[] = [];
  if (notInChange.length > 0 || outsideFleet.length > 0) {
    blame.add(spec.provider);
  } else if (found.breaking.length > 0 && !documentKind) {
    blame.add(spec.provider);
    for (const p of found.breaking) if (p.consumer && inChange.has(p.consumer)) blame.add(p.consumer);
  } else if (used.length > 0 && found.mismatches.length === 0 && found.failures.length === 0) {
    accepted = used;
  }
  const blockingBreaking = !documentKind ? found.breaking : accepted.length > 0 ? [] : [...used, ...outsideFleet];
  const status =
    found.failures.length > 0
      ? 'failed'
      : notInChange.length > 0 || outsideFleet.length > 0 || (!documentKind && blockingBreaking.length > 0)
        ? 'breaking'
        : found.mismatches.length > 0
          ? 'mismatch'
          : 'passed';
  const short = (ps: ContractProblem[], max = MAX_PROBLEMS) =>
    ps.slice(0, max).map((p) => ({
      ...p,
      message: p.message.length > MAX_MESSAGE ? `${p.message.slice(0, MAX_MESSAGE)}…` : p.message,
    }));
  return {
    contract: spec.name,
    kind: spec.kind,
    provider: spec.provider,
    consumers: spec.consumers.map((c) => c.repo),
    status,
    problems: short([
      ...found.failures,
      ...blockingBreaking.slice(
        0,
        Math.max(MIN_BREAKING, MAX_PROBLEMS - found.failures.length - notInChange.length - found.mismatches.length),
      ),
      ...notInChange,
      ...found.mismatches,
    ]),
    accepted: short(accepted),
    blame: status === 'passed' ? [] : [...blame].filter((r) => inChange.has(r)),
    durationMs,
    audience,
    verdicts: consumerVerdicts(spec, inChange, [...found.mismatches, ...found.failures], hits),
    unused: short(unusedWorded, MAX_UNUSED),
    unusedCount: unused.length,
  };
}

function shorten(ps: ContractProblem[]): ContractProblem[] {
  return ps.slice(0, MAX_PROBLEMS).map((p) => ({
    ...p,
    message: p.message.length > MAX_MESSAGE ? `${p.message.slice(0, MAX_MESSAGE)}…` : p.message,
  }));
}

function firstLine(text: string): string {
  const line = text.split('\n').find((l) => l.trim()) ?? '';
  return line.length > 120 ? `${line.slice(0, 120)}…` : line;
}

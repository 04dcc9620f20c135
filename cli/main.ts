/** The `lockstep` command line. */
import { Command, Option } from 'commander';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { loadChange, loadForgeConfig, loadReposConfig, InputError } from '../config/load.ts';
import { resolveTasks } from '../core/inputs.ts';
import { ChangeId, Duration } from '../config/change.ts';
import { Name } from '../config/repos.ts';
import { defaultConfigFile, projectRoot, stateDir, taskQueue } from '../config/paths.ts';
import { loadTemporalSettings } from '../config/temporal.ts';
import { reposConfigJsonSchema } from '../config/schema.ts';
import { startDevServer, TemporalUnavailableError, temporalAnswers } from '../workers/dev-server.ts';
import { renderDryRun } from './bump.ts';
import {
  buildAudit,
  exportHistories,
  renderAuditHtml,
  renderAuditMarkdown,
  renderAuditText,
  renderEgressLogs,
} from './audit/index.ts';
import { changeExitCode, EXIT, exitCodeFor, renderError } from './errors.ts';
import { renderPullRequests } from './pulls.ts';
import { jsonResult, printResult, progressOnStderr } from './run.ts';
import { landingProgressOnStderr, renderLanding } from './landing.ts';
import type { LandingView } from '../core/landing-plan.ts';
import { changeStatus, renderFailures, renderRepo } from './status.ts';
import { readFailures, readRepo } from '../client/repo-status.ts';
import { renderCaches } from './caches.ts';
import { openTemporal } from '../client/connection.ts';
import { dryRunBump } from '../client/machine/bump.ts';
import { planIssues, planTargets, withChangeTargets } from '../client/machine/targets.ts';
import { renderTargetPlan } from './targets.ts';
import { listCaches, pruneCaches } from '../client/machine/caches.ts';
import { demoChangeFile, demoConfigFor, seedDemoRemotes } from '../client/machine/demo.ts';
import { readEgressLogs } from '../client/machine/egress-logs.ts';
import { initConfig } from '../client/machine/init.ts';
import { runSetup } from '../client/machine/setup.ts';
import { renderDoctor } from './doctor.ts';
import { renderInit } from './init.ts';
import { renderFleetImport } from './fleet.ts';
import { importFleet, type FleetSource } from '../client/machine/fleet-import.ts';
import { listChanges } from '../client/queries.ts';
import type { ChangeResult } from '../core/change.ts';
import { lineWriter, type LogContext } from '../workers/log.ts';
import { workerSettings } from './worker.ts';

// The commands that start, drive or serve changes load Temporal's worker SDK, Docker's client and
// the model client where they run (`await import`), so that the ones that only read (status,
// list, audit, validate) start without them.

const log = (line: string): void => {
  process.stderr.write(`lockstep: ${line}\n`);
};

let jsonMode = false;

function gates(values: string[]): ('plan' | 'publish')[] {
  const bad = values.filter((v) => v !== 'plan' && v !== 'publish');
  if (bad.length > 0)
    throw new InputError([
      {
        file: 'command line',
        path: '--approve/--gate',
        message: `unknown gate ${bad.map((b) => `"${b}"`).join(', ')}`,
        fix: 'use plan and/or publish',
      },
    ]);
  return values as ('plan' | 'publish')[];
}

/** Asks on a terminal whether to go on; without one, refuses (nothing done) and says to add --yes. */
async function confirmed(command: string, what: string, question: string): Promise<boolean> {
  if (!process.stdin.isTTY)
    throw new InputError([
      { file: 'command line', path: command, message: `${what} needs a confirmation`, fix: 'add --yes' },
    ]);
  const { createInterface } = await import('node:readline/promises');
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  const answer = await rl.question(`${question} [y/N] `);
  rl.close();
  return /^y(es)?$/i.test(answer.trim());
}

async function main(argv: string[]): Promise<number> {
  const program = new Command('lockstep')
    .description('One change across many git repositories as a single durable unit of work.')
    .showHelpAfterError()
    .exitOverride();

  let exitCode: number = EXIT.ok;
  const configOption = () =>
    new Option('-c, --config <file>', 'fleet config').default(defaultConfigFile(), './repos.config.json');

  program
    .command('run')
    .description('run a change file across its repositories, then open linked pull requests')
    .argument('<change-file>', 'YAML or JSON change file')
    .addOption(configOption())
    .option('--json', 'print exactly one JSON document (the result) on stdout')
    .option('--rerun', 'run again even if this change already finished (branches and PRs are reused)')
    .option(
      '--dry-run',
      'a bump change: list its target repos, their current versions and the version "to" resolves to; start nothing',
    )
    .option('--plan', 'list the target repos (those its "targets" query selects, and why) and start nothing')
    .option('--no-worker', 'do not run a worker in this process; rely on "lockstep worker" processes')
    .option('--no-preflight', 'skip the reachability checks of remotes and images')
    .option('--concurrency <n>', 'repos worked on at once (default: from the config)', (v) => Number.parseInt(v, 10))
    .option(
      '--approve <gates...>',
      'wait for "lockstep approve" at these gates: plan, publish (default: from the config)',
    )
    .option('--wait-on-failure <seconds>', 'let a failed repo wait this long for "lockstep retry|skip|abort"', (v) =>
      Number.parseInt(v, 10),
    )
    .option('--land', 'once the pull requests are open, land them in merge order (as "lockstep land" does)')
    .action(
      async (
        changeFile: string,
        opts: {
          config: string;
          land?: boolean;
          json?: boolean;
          rerun?: boolean;
          dryRun?: boolean;
          plan?: boolean;
          worker: boolean;
          preflight: boolean;
          concurrency?: number;
          approve?: string[];
          waitOnFailure?: number;
        },
      ) => {
        jsonMode = Boolean(opts.json);
        if (opts.plan) {
          exitCode = await showTargets(changeFile, opts.config);
          return;
        }
        if (opts.dryRun) {
          const loaded = await loadReposConfig(opts.config);
          const change = await loadChange(changeFile, loaded);
          // A bump's targets chosen by query: the dry run reads the manifests of those repos only.
          const targeted =
            change.bump && change.targets
              ? (await withChangeTargets(loaded, change, resolve(changeFile), stateDir())).change
              : change;
          const dry = await dryRunBump(loaded, targeted, resolve(changeFile));
          if (jsonMode) process.stdout.write(`${JSON.stringify(dry, null, 2)}\n`);
          else process.stdout.write(`${renderDryRun(dry)}\n`);
          return;
        }
        const { runChange } = await import('../client/start.ts');
        const result = await runChange({
          configFile: opts.config,
          changeFile,
          stateDir: stateDir(),
          rerun: Boolean(opts.rerun),
          worker: opts.worker ? 'auto' : 'never',
          preflight: opts.preflight,
          log,
          ...(jsonMode ? {} : { onProgress: progressOnStderr() }),
          ...(opts.concurrency ? { concurrency: opts.concurrency } : {}),
          ...(opts.approve ? { approve: gates(opts.approve) } : {}),
          ...(opts.waitOnFailure !== undefined ? { waitOnFailureSeconds: opts.waitOnFailure } : {}),
          ...(opts.land ? { land: true } : {}),
        });
        // The coordinator itself starts the landing of a change that asks for it (so it lands
        // even when nothing follows it); here it is only followed.
        const land =
          result.status === 'succeeded' &&
          (opts.land || (await loadChange(changeFile, await loadReposConfig(opts.config))).land === true);
        await showResult(result, land, opts.worker);
      },
    );

  /** Prints a change's targets and why each was chosen; the exit code says whether it could start. */
  const showTargets = async (changeFile: string, configFile: string): Promise<number> => {
    const loaded = await loadReposConfig(configFile);
    const change = await loadChange(changeFile, loaded);
    if (change.bump && change.repos.length === 0 && !change.targets)
      throw new InputError([
        {
          file: resolve(changeFile),
          path: 'bump',
          message: "this bump's targets are the repos whose manifests declare the package",
          fix: 'list them with "lockstep run --dry-run", which reads the manifests',
        },
      ]);
    const plan = await planTargets(loaded, change, stateDir());
    const issues = planIssues(resolve(changeFile), change, plan);
    if (jsonMode) process.stdout.write(`${JSON.stringify({ ...plan, issues }, null, 2)}\n`);
    else process.stdout.write(`${renderTargetPlan(plan, issues.length === 0)}\n`);
    if (issues.length === 0) return EXIT.ok;
    if (!jsonMode) process.stderr.write(`${renderError(new InputError(issues))}\n`);
    return EXIT.badInput;
  };

  /** A change's result, and with `land` its landing right after (run --land, revert --land). */
  const showResult = async (result: ChangeResult, land: boolean, worker: boolean): Promise<void> => {
    if (!land || result.status !== 'succeeded') {
      printResult(result, jsonMode);
      exitCode = changeExitCode(result);
      return;
    }
    if (!jsonMode) printResult(result, false);
    const landing = await landSet(result.changeId, worker, undefined, true);
    if (jsonMode) process.stdout.write(`${JSON.stringify({ ...jsonResult(result), landing }, null, 2)}\n`);
    exitCode = landing.status === 'landed' ? EXIT.ok : EXIT.changeFailed;
  };

  /** Lands a change's linked set, showing its progress unless in JSON mode. */
  const landSet = async (
    changeId: string,
    worker: boolean,
    timeoutSeconds?: number,
    started = false,
  ): Promise<LandingView> => {
    const { landChange } = await import('../client/landing.ts');
    const view = await landChange({
      stateDir: stateDir(),
      changeId,
      worker: worker ? 'auto' : 'never',
      log,
      startedByChange: started,
      ...(jsonMode ? {} : { onProgress: landingProgressOnStderr() }),
      ...(timeoutSeconds !== undefined ? { timeoutSeconds } : {}),
    });
    if (!jsonMode) process.stderr.write(`${renderLanding(view)}\n`);
    return view;
  };

  program
    .command('land')
    .description(
      'merge the linked pull requests of a change in merge order as the forge reports them ready (again: resume)',
    )
    .argument('<change-id>')
    .option('--json', 'print exactly one JSON document (where the landing ended) on stdout')
    .option('--no-worker', 'do not run a worker in this process')
    .option(
      '--timeout <duration>',
      "stop when a pull request still waits this long (e.g. 12h, 3d; default: the change file's landing.timeout, else 3d)",
    )
    .action(async (changeId: string, opts: { json?: boolean; worker: boolean; timeout?: string }) => {
      jsonMode = Boolean(opts.json);
      let timeoutSeconds: number | undefined;
      if (opts.timeout !== undefined) {
        const parsed = Duration.safeParse(opts.timeout);
        if (!parsed.success)
          throw new InputError([
            {
              file: 'command line',
              path: '--timeout',
              message: `"${opts.timeout}" is not a duration`,
              fix: 'write a whole number and a unit: s, m, h or d (for example 3d or 12h)',
            },
          ]);
        timeoutSeconds = parsed.data;
      }
      const view = await landSet(changeId, opts.worker, timeoutSeconds);
      if (jsonMode) process.stdout.write(`${JSON.stringify(view, null, 2)}\n`);
      exitCode = view.status === 'landed' ? EXIT.ok : EXIT.changeFailed;
    });

  program
    .command('revert')
    .description(
      'open linked pull requests that revert the merged part of a landed change, consumers before providers (asks first)',
    )
    .argument('<change-id>')
    .option('--yes', 'do not ask for confirmation')
    .option('--land', 'once the revert pull requests are open, land them (as "lockstep land <change-id>-revert" does)')
    .option('--json', 'print exactly one JSON document (the result) on stdout')
    .option('--no-worker', 'do not run a worker in this process; rely on "lockstep worker" processes')
    .action(async (changeId: string, opts: { yes?: boolean; land?: boolean; json?: boolean; worker: boolean }) => {
      jsonMode = Boolean(opts.json);
      if (
        !opts.yes &&
        !(await confirmed(
          'revert',
          'reverting a landed change',
          `open pull requests that revert what change ${changeId} merged?`,
        ))
      )
        return;
      const { revertChange } = await import('../client/revert.ts');
      const result = await revertChange({
        stateDir: stateDir(),
        changeId,
        worker: opts.worker ? 'auto' : 'never',
        log,
        land: Boolean(opts.land),
        ...(jsonMode ? {} : { onProgress: progressOnStderr() }),
      });
      await showResult(result, Boolean(opts.land), opts.worker);
    });

  program
    .command('demo')
    .description('seed the demo fleet (examples/) and run the demo change on the embedded defaults')
    .option('--json', 'print exactly one JSON document (the result) on stdout')
    .action(async (opts: { json?: boolean }) => {
      jsonMode = Boolean(opts.json);
      const started = Date.now();
      await seedDemoRemotes(stateDir(), log);
      const { runChange } = await import('../client/start.ts');
      const result = await runChange({
        configFile: await demoConfigFor(stateDir()),
        changeFile: demoChangeFile,
        stateDir: stateDir(),
        rerun: true,
        worker: 'auto',
        preflight: true,
        log,
        ...(jsonMode ? {} : { onProgress: progressOnStderr() }),
      });
      printResult(result, jsonMode);
      if (!jsonMode) {
        log(
          `demo finished in ${((Date.now() - started) / 1000).toFixed(1)} s; pull request records are under ${join(stateDir(), 'forge', 'local')}`,
        );
      }
      exitCode = changeExitCode(result);
    });

  program
    .command('eval')
    .description('run an evaluation suite: resolve rate, turns, tokens per resolved task, regressions')
    .argument('<suite-file>', 'YAML or JSON suite (e.g. examples/eval/demo-fleet.yaml)')
    .addOption(configOption())
    .option('--json', 'print the report as one JSON document on stdout')
    .option('--reference', "run the suite's reference solutions instead of the agents (every task must resolve)")
    .option('--baseline', 'run the hidden checks on the untouched base (no task may pass)')
    .option('--task <id...>', 'only these tasks')
    .option('--no-worker', 'do not run a worker in this process')
    .action(
      async (
        suiteFile: string,
        opts: {
          config: string;
          json?: boolean;
          reference?: boolean;
          baseline?: boolean;
          task?: string[];
          worker: boolean;
        },
      ) => {
        jsonMode = Boolean(opts.json);
        const { renderEval, runEval } = await import('./eval.ts');
        const { report, exitCode: code } = await runEval({
          suiteFile,
          configFile: opts.config,
          stateDir: stateDir(),
          mode: opts.reference ? 'reference' : opts.baseline ? 'baseline' : 'agent',
          worker: opts.worker ? 'auto' : 'never',
          only: opts.task ?? [],
          log,
        });
        if (jsonMode) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
        else process.stdout.write(`${renderEval(report)}\n`);
        exitCode = code;
      },
    );

  program
    .command('validate')
    .description('check the fleet config (and a change file) without running anything')
    .argument('[change-file]', 'YAML or JSON change file')
    .addOption(configOption())
    .option('--preflight', 'also check that remotes and sandbox images are reachable')
    .option('--targets', 'also resolve the change\'s targets (as "run --plan" does) and list them')
    .option('--json', 'with --targets: print the targets as one JSON document')
    .action(
      async (
        changeFile: string | undefined,
        opts: { config: string; preflight?: boolean; targets?: boolean; json?: boolean },
      ) => {
        const loaded = await loadReposConfig(opts.config);
        if (changeFile && opts.targets) {
          jsonMode = Boolean(opts.json);
          exitCode = await showTargets(changeFile, opts.config);
          return;
        }
        if (changeFile) {
          const change = await loadChange(changeFile, loaded);
          const { preflight } = await import('../client/machine/preflight.ts');
          if (opts.preflight) await preflight(loaded, resolveTasks(loaded, change));
          log(
            `${changeFile}: valid (${change.targets ? `${change.repos.length} repos listed, more chosen by query at run time (see --targets)` : change.bump && change.repos.length === 0 ? `bump of ${change.bump.package}: targets chosen by manifest at run time` : `${change.repos.length} repos`})`,
          );
        }
        log(`${loaded.file}: valid (${loaded.config.repos.length} repos)`);
      },
    );

  program
    .command('resume')
    .description('continue a failed, blocked or cancelled change: green repos whose branch is unchanged are not redone')
    .argument('<change-id>')
    .addOption(configOption())
    .option('--change <file>', 'apply this (changed) change file to the repos still to run')
    .option('--redo-changed', 'with --change: also redo finished repos whose task changed')
    .option('--json', 'print exactly one JSON document (the result) on stdout')
    .option('--no-worker', 'do not run a worker in this process')
    .action(
      async (
        changeId: string,
        opts: { config: string; change?: string; redoChanged?: boolean; json?: boolean; worker: boolean },
      ) => {
        jsonMode = Boolean(opts.json);
        const { resumeChange } = await import('../client/resume.ts');
        const result = await resumeChange({
          changeId,
          configFile: opts.config,
          ...(opts.change ? { changeFile: opts.change } : {}),
          redoChanged: Boolean(opts.redoChanged),
          stateDir: stateDir(),
          worker: opts.worker ? 'auto' : 'never',
          log,
          ...(jsonMode ? {} : { onProgress: progressOnStderr() }),
        });
        printResult(result, jsonMode);
        exitCode = changeExitCode(result);
      },
    );

  for (const action of ['retry', 'skip'] as const) {
    program
      .command(action)
      .description(
        action === 'retry'
          ? 'run a failed repo of a live change again'
          : 'publish a live change without one of its failed repos',
      )
      .argument('<change-id>')
      .argument('<repo>')
      .option('--reason <text>', 'why (recorded in history)', '')
      .action(async (changeId: string, repo: string, opts: { reason: string }) => {
        const { actor, sendHuman } = await import('../client/updates.ts');
        const ack = await sendHuman(
          stateDir(),
          changeId,
          { decision: { action, repo, by: actor(), reason: opts.reason } },
          log,
        );
        log(ack.message);
      });
  }
  program
    .command('abort')
    .description('end a live change that waits for a decision; no pull request opens')
    .argument('<change-id>')
    .option('--reason <text>', 'why (recorded in history)', '')
    .action(async (changeId: string, opts: { reason: string }) => {
      const { actor, sendHuman } = await import('../client/updates.ts');
      const ack = await sendHuman(
        stateDir(),
        changeId,
        { decision: { action: 'abort', repo: null, by: actor(), reason: opts.reason } },
        log,
      );
      log(ack.message);
    });
  for (const verb of ['approve', 'reject'] as const) {
    program
      .command(verb)
      .description(
        verb === 'approve'
          ? 'approve the plan or the publishing of a change waiting at a gate'
          : 'reject at a gate: the change ends, its branches are kept',
      )
      .argument('<change-id>')
      .option('--gate <gate>', 'plan or publish (default: the gate the change waits at)')
      .option('--reason <text>', 'why (recorded in history)', '')
      .action(async (changeId: string, opts: { gate?: string; reason: string }) => {
        const gate = opts.gate ? (gates([opts.gate])[0] ?? null) : null;
        const { actor, sendHuman } = await import('../client/updates.ts');
        const ack = await sendHuman(
          stateDir(),
          changeId,
          { approval: { gate, approved: verb === 'approve', by: actor(), reason: opts.reason } },
          log,
        );
        log(ack.message);
      });
  }
  program
    .command('cancel')
    .description(
      'cancel a change and its repos (their sandboxes are removed); branches are kept unless --delete-branches',
    )
    .argument('<change-id>')
    .option('--delete-branches', "also delete the change's branch in every repo")
    .option('--yes', 'do not ask for confirmation')
    .action(async (changeId: string, opts: { deleteBranches?: boolean; yes?: boolean }) => {
      if (
        !opts.yes &&
        !(await confirmed(
          'cancel',
          'cancelling',
          `cancel change ${changeId}${opts.deleteBranches ? ' and delete its branches' : ''}?`,
        ))
      )
        return;
      const { cancelChange } = await import('../client/updates.ts');
      await cancelChange(stateDir(), changeId, Boolean(opts.deleteBranches), log);
    });

  /** prs, publish and close: one action over the linked set, then the set as it is now. */
  const showPullRequests = async (
    changeId: string,
    action: 'status' | 'ready' | 'close',
    worker: boolean,
    all = false,
  ) => {
    const { pullRequests } = await import('../client/pulls.ts');
    const report = await pullRequests({
      stateDir: stateDir(),
      changeId,
      action,
      worker: worker ? 'auto' : 'never',
      log,
    });
    process.stdout.write(`${jsonMode ? JSON.stringify(report, null, 2) : renderPullRequests(report, all)}\n`);
  };

  program
    .command('prs')
    .description('show the linked pull requests of a change: state, checks, reviews, and which is next in merge order')
    .argument('<change-id>')
    .option('--json', 'print exactly one JSON document on stdout')
    .option('--all', 'a line for every pull request (more than 20 are otherwise summed up)')
    .option('--no-worker', 'do not run a worker in this process')
    .action(async (changeId: string, opts: { json?: boolean; all?: boolean; worker: boolean }) => {
      jsonMode = Boolean(opts.json);
      await showPullRequests(changeId, 'status', opts.worker, Boolean(opts.all));
    });

  program
    .command('publish')
    .description('turn the draft pull requests of a change ready for review')
    .argument('<change-id>')
    .option('--json', 'print exactly one JSON document on stdout')
    .option('--no-worker', 'do not run a worker in this process')
    .action(async (changeId: string, opts: { json?: boolean; worker: boolean }) => {
      jsonMode = Boolean(opts.json);
      await showPullRequests(changeId, 'ready', opts.worker);
    });

  program
    .command('close')
    .description('close every pull request of a change and delete its branches (asks first)')
    .argument('<change-id>')
    .option('--yes', 'do not ask for confirmation')
    .option('--json', 'print exactly one JSON document on stdout')
    .option('--no-worker', 'do not run a worker in this process')
    .action(async (changeId: string, opts: { yes?: boolean; json?: boolean; worker: boolean }) => {
      jsonMode = Boolean(opts.json);
      if (
        !opts.yes &&
        !(await confirmed(
          'close',
          'closing pull requests',
          `close every pull request of change ${changeId} and delete its branches?`,
        ))
      )
        return;
      await showPullRequests(changeId, 'close', opts.worker);
    });

  program
    .command('audit')
    .description("a change's timeline from its workflow histories: plan, model and tool calls, tests, PRs, people")
    .argument('<change-id>')
    .option('--json', 'print the report as one JSON document on stdout')
    .option('--markdown', 'print the report as Markdown')
    .option('--html <file>', 'write a self-contained HTML page with a per-repo timeline chart')
    .option('--export <dir>', 'write the raw histories (JSON), e.g. for replay tests')
    .option(
      '--repo <names...>',
      "a change in pages: also read these repos' workflow runs (its pages started them; by default only the pages are read)",
    )
    .option(
      '--egress [repo]',
      "list every request and connection of the change's egress logs on this host (of one repo when named)",
    )
    .action(
      async (
        changeId: string,
        opts: {
          json?: boolean;
          markdown?: boolean;
          html?: string;
          export?: string;
          egress?: string | boolean;
          repo?: string[];
        },
      ) => {
        jsonMode = Boolean(opts.json);
        if (opts.egress !== undefined) {
          const repo = typeof opts.egress === 'string' ? opts.egress : null;
          if (!ChangeId.safeParse(changeId).success || (repo !== null && !Name.safeParse(repo).success)) {
            throw new InputError([
              {
                file: 'command line',
                path: repo !== null && ChangeId.safeParse(changeId).success ? '--egress' : '<change-id>',
                message: `"${repo ?? changeId}" is not a ${repo !== null && ChangeId.safeParse(changeId).success ? 'repo' : 'change'} name`,
                fix: 'use the name as `lockstep list` and repos.config.json spell it',
              },
            ]);
          }
          const lines = await readEgressLogs(
            join(stateDir(), 'logs'),
            changeId,
            typeof opts.egress === 'string' ? opts.egress : undefined,
          );
          process.stdout.write(jsonMode ? `${JSON.stringify(lines, null, 2)}\n` : `${renderEgressLogs(lines)}\n`);
          return;
        }
        const session = await openTemporal({ stateDir: stateDir(), startServer: true, log });
        try {
          const only = { repos: opts.repo ?? [] };
          const report = await buildAudit(session, changeId, only);
          if (opts.export) {
            const paths = await exportHistories(session, changeId, opts.export, only);
            log(`wrote ${paths.length} histories to ${opts.export}`);
          }
          if (opts.html) {
            await writeFile(opts.html, renderAuditHtml(report));
            log(`wrote ${opts.html}`);
          }
          if (jsonMode) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
          else if (opts.markdown) process.stdout.write(renderAuditMarkdown(report));
          else process.stdout.write(`${renderAuditText(report)}\n`);
        } finally {
          await session.close();
        }
      },
    );

  program
    .command('status')
    .description(
      'show a change: per-repo step, tests, branch, pull request (a change in pages: counts, failures first)',
    )
    .argument('<change-id>')
    .option('--json', 'print exactly one JSON document on stdout')
    .option('--failed', 'list every failed repo (a change in pages shows only the first ones otherwise)')
    .option('--repo <name>', "one repo: its result, pull request and workflow (found in the change's pages)")
    .action(async (changeId: string, opts: { json?: boolean; failed?: boolean; repo?: string }) => {
      jsonMode = Boolean(opts.json);
      const session = await openTemporal({ stateDir: stateDir(), startServer: true, log });
      const print = (json: unknown, text: string) =>
        process.stdout.write(jsonMode ? `${JSON.stringify(json, null, 2)}\n` : `${text}\n`);
      try {
        if (opts.repo !== undefined) {
          const reading = await readRepo(session, changeId, opts.repo);
          print(reading, renderRepo(reading));
          return;
        }
        if (opts.failed) {
          const failures = await readFailures(session, changeId);
          print({ changeId, failed: failures }, renderFailures(changeId, failures));
          exitCode = failures.length > 0 ? EXIT.changeFailed : EXIT.ok;
          return;
        }
        const report = await changeStatus(session, changeId);
        print(report.json, report.text);
        exitCode = report.exitCode;
      } finally {
        await session.close();
      }
    });

  program
    .command('list')
    .description('list changes, newest first')
    .option('--json', 'print a JSON array on stdout')
    .option('--limit <n>', 'at most this many', (v) => Number.parseInt(v, 10), 50)
    .option('--status <status>', 'only changes with this outcome: running, succeeded, failed, rejected, cancelled')
    .option('--repo <name>', 'only changes that touch this repo (changes in pages record no repo names: not searched)')
    .action(async (opts: { json?: boolean; limit: number; status?: string; repo?: string }) => {
      jsonMode = Boolean(opts.json);
      const session = await openTemporal({ stateDir: stateDir(), startServer: true, log });
      try {
        const changes = await listChanges(session, opts.limit, { status: opts.status, repo: opts.repo });
        if (jsonMode) process.stdout.write(`${JSON.stringify(changes, null, 2)}\n`);
        else if (changes.length === 0) process.stdout.write('no changes yet\n');
        else {
          const w = Math.max(...changes.map((c) => c.changeId.length));
          for (const c of changes)
            process.stdout.write(
              `${c.changeId.padEnd(w)}  ${c.status.padEnd(10)} ${c.startedAt}  ${c.paged ? `${c.total} repos` : c.repos.join(', ')}  ${c.title}\n`,
            );
        }
        // A change in pages records how many repos, not which: a search by repo cannot find it.
        if (opts.repo && !jsonMode)
          log(
            `changes in pages (more repos than operations.pageSize) are not searched by repo; "lockstep status <change-id> --repo ${opts.repo}" looks in one`,
          );
      } finally {
        await session.close();
      }
    });

  program
    .command('worker')
    .description(
      "run a worker (shared queue + this host's sandbox queue + the fleet's forge queue) until SIGTERM or SIGINT",
    )
    .addOption(configOption())
    .addOption(
      new Option(
        '--log-format <format>',
        'text on stderr, or one JSON object per line on stdout (LOCKSTEP_LOG_FORMAT)',
      ),
    )
    .option(
      '--metrics-port <port>',
      'serve Prometheus metrics on this port at /metrics (LOCKSTEP_METRICS_PORT; off unless set)',
    )
    .option('--metrics-host <host>', 'the address the metrics endpoint binds to', '127.0.0.1')
    .option(
      '--shutdown-grace <seconds>',
      'on SIGTERM/SIGINT, how long running activities may finish before they are cancelled',
      '60',
    )
    .action(
      async (opts: {
        config: string;
        logFormat?: string;
        metricsPort?: string;
        metricsHost: string;
        shutdownGrace: string;
      }) => {
        const settings = workerSettings(opts);
        const context: LogContext = { taskQueue: taskQueue() };
        const write = lineWriter(settings.logFormat, context);
        const info = (line: string): void => write('INFO', line);
        const { installRuntime } = await import('../workers/runtime.ts');
        installRuntime({
          write,
          level: settings.logFormat === 'json' ? 'INFO' : 'WARN',
          ...(settings.metricsAddress ? { metricsAddress: settings.metricsAddress } : {}),
        });
        // The fleet config names the remote forge whose request queue this worker also serves.
        const forges = existsSync(opts.config) ? [await loadForgeConfig(opts.config)] : [];
        const session = await openTemporal({ stateDir: stateDir(), startServer: false, log: info });
        const { startInProcessWorker } = await import('../client/worker.ts');
        const worker = await startInProcessWorker(session, stateDir(), info, forges, {
          shutdownGraceSeconds: settings.shutdownGraceSeconds,
        });
        context.hostId = worker.worker.hostId;
        // The SDK's runtime catches these signals and shuts every worker down: polling stops, running
        // activities get the grace time, then the reconciler stops and the command returns (exit 0).
        for (const signal of ['SIGTERM', 'SIGINT'] as const)
          process.once(signal, () =>
            info(
              `${signal}: stopping; running activities have ${settings.shutdownGraceSeconds}s to finish, then they are cancelled`,
            ),
          );
        const forgeQueues =
          worker.worker.forgeQueues.length > 0 ? `, forge queue ${worker.worker.forgeQueues.join(', ')}` : '';
        const metrics = settings.metricsAddress ? `, metrics at http://${settings.metricsAddress}/metrics` : '';
        info(
          `worker polling at ${session.address} (namespace ${session.namespace}, host queue ${worker.worker.hostQueue}${forgeQueues}${metrics}); SIGTERM or Ctrl-C stops it`,
        );
        await worker.done;
        await worker.stop();
        await session.close();
        info('worker stopped');
      },
    );

  program
    .command('server')
    .description('run the embedded Temporal dev server (SQLite in the state folder) until interrupted')
    .action(async () => {
      // The address and namespace every other command reaches (a profile's included).
      const { address, namespace } = loadTemporalSettings();
      if (await temporalAnswers(address.value))
        throw new TemporalUnavailableError(`a Temporal server already answers at ${address.value}`);
      const server = await startDevServer({
        stateDir: stateDir(),
        address: address.value,
        dbFile: join(stateDir(), 'temporal.db'),
        namespace: namespace.value,
      });
      log(
        `Temporal server at ${server.address}, Web UI ${server.uiUrl ?? '(none)'}, log ${server.logFile}; Ctrl-C stops it`,
      );
      await new Promise<void>((resolve) => {
        process.once('SIGINT', resolve);
        process.once('SIGTERM', resolve);
      });
      await server.stop();
    });

  const cache = program
    .command('cache')
    .description("the repos' package-manager caches on this host (npm, pip, Go, Maven, cargo)");
  cache
    .command('list')
    .description('list the caches, most recently used first')
    .option('--json', 'machine-readable output')
    .action(async (opts: { json?: boolean }) => {
      const entries = await listCaches(stateDir());
      process.stdout.write(opts.json ? `${JSON.stringify(entries, null, 2)}\n` : renderCaches(entries));
    });
  cache
    .command('prune')
    .description("remove caches no setup is filling right now: one repo's (--repo), one key of it (--key), or all")
    .option('--repo <name>', 'only this repo')
    .option('--key <key>', 'only this key (with --repo)')
    .action(async (opts: { repo?: string; key?: string }) => {
      if (opts.key && !opts.repo)
        throw new InputError([
          { file: 'command line', path: '--key', message: '--key names a key of one repo', fix: 'add --repo <name>' },
        ]);
      const removed = await pruneCaches(stateDir(), {
        ...(opts.repo ? { repo: opts.repo } : {}),
        ...(opts.key ? { key: opts.key } : {}),
      });
      log(
        `removed ${removed.length} cache${removed.length === 1 ? '' : 's'}, ${(removed.reduce((s, e) => s + e.bytes, 0) / 1024 / 1024).toFixed(1)} MB`,
      );
    });

  program
    .command('init')
    .description("write a commented repos.config.json for these git remotes, detecting each repo's tests and toolchain")
    .argument('<remotes...>', 'git remotes: URLs or paths of repositories')
    .addOption(configOption())
    .option('--base <branch>', "every remote's base branch (default: each remote's HEAD)")
    .option('--force', 'overwrite an existing file')
    .action(async (remotes: string[], opts: { config: string; base?: string; force?: boolean }) => {
      const { file, repos } = await initConfig({
        file: opts.config,
        remotes,
        force: Boolean(opts.force),
        log,
        ...(opts.base ? { base: opts.base } : {}),
      });
      process.stdout.write(`${renderInit(file, repos)}\n`);
    });

  program
    .command('fleet')
    .description('the fleet in repos.config.json, from a forge')
    .command('import')
    .description(
      "add or refresh repos.config.json entries (name, url, base branch, tags from topics) from a GitHub organization's repositories or a GitLab group's projects",
    )
    .option('--github-org <org>', 'the GitHub organization')
    .option('--gitlab-group <group>', 'the GitLab group (its full path; subgroups are included)')
    .option('--base-url <url>', "the forge's API root (default: the file's forge, else api.github.com / gitlab.com)")
    .addOption(configOption())
    .option('--include-archived', 'import archived repositories too')
    .option('--include-forks', 'import forks too')
    .option('--prune', 'remove entries of the organization or group that it no longer lists')
    .option('--dry-run', 'print what would change and write nothing')
    .option('--json', 'print the report as one JSON document')
    .action(
      async (opts: {
        githubOrg?: string;
        gitlabGroup?: string;
        baseUrl?: string;
        config: string;
        includeArchived?: boolean;
        includeForks?: boolean;
        prune?: boolean;
        dryRun?: boolean;
        json?: boolean;
      }) => {
        if (Boolean(opts.githubOrg) === Boolean(opts.gitlabGroup))
          throw new InputError([
            {
              file: 'command line',
              path: '--github-org/--gitlab-group',
              message: opts.githubOrg ? 'give one source, not both' : 'no source given',
              fix: 'name one: --github-org <org> or --gitlab-group <group>',
            },
          ]);
        const source: FleetSource = opts.githubOrg
          ? { forge: 'github', org: opts.githubOrg }
          : { forge: 'gitlab', group: opts.gitlabGroup ?? '' };
        const report = await importFleet({
          file: opts.config,
          source,
          env: process.env,
          includeArchived: Boolean(opts.includeArchived),
          includeForks: Boolean(opts.includeForks),
          prune: Boolean(opts.prune),
          dryRun: Boolean(opts.dryRun),
          ...(opts.baseUrl ? { baseUrl: opts.baseUrl } : {}),
        });
        process.stdout.write(
          opts.json
            ? `${JSON.stringify({ ...report, dryRun: Boolean(opts.dryRun) }, null, 2)}\n`
            : `${renderFleetImport(report, Boolean(opts.dryRun))}\n`,
        );
      },
    );

  program
    .command('setup')
    .description('install what Lockstep needs on this machine: Temporal CLI, Docker engine, sandbox image, gate tools')
    .option('--quiet', 'print only what changes')
    .action(async (opts: { quiet?: boolean }) => {
      const tools = await runSetup({ quiet: Boolean(opts.quiet) });
      log(`tools are in ${tools}; "lockstep doctor" checks them`);
    });

  program
    .command('doctor')
    .description('check Docker, Temporal, the sandbox image, gate tools, forge token, model endpoint and egress')
    .addOption(configOption())
    .option('--json', 'print the checks as one JSON document')
    .action(async (opts: { config: string; json?: boolean }) => {
      const { doctor, healthy } = await import('../client/machine/doctor.ts');
      const checks = await doctor(existsSync(opts.config) ? { configFile: opts.config } : {});
      if (opts.json) process.stdout.write(`${JSON.stringify({ healthy: healthy(checks), checks }, null, 2)}\n`);
      else process.stdout.write(`${renderDoctor(checks)}\n`);
      if (!healthy(checks)) exitCode = EXIT.unavailable;
    });

  program
    .command('schema')
    .description('print the JSON Schema of repos.config.json (--write updates schemas/)')
    .option('--write', 'write schemas/repos.config.schema.json')
    .action(async (opts: { write?: boolean }) => {
      const text = `${JSON.stringify(reposConfigJsonSchema(), null, 2)}\n`;
      if (opts.write) {
        const file = join(projectRoot, 'schemas', 'repos.config.schema.json');
        await writeFile(file, text);
        log(`wrote ${file}`);
      } else process.stdout.write(text);
    });

  try {
    await program.parseAsync(argv);
    return exitCode;
  } catch (err) {
    if (err && typeof err === 'object' && 'code' in err && String(err.code).startsWith('commander.')) {
      const code = (err as { exitCode?: number }).exitCode ?? EXIT.badInput;
      return code === 0 ? EXIT.ok : EXIT.badInput;
    }
    if (jsonMode && err instanceof InputError) {
      process.stdout.write(`${JSON.stringify({ status: 'invalid', issues: err.issues }, null, 2)}\n`);
    }
    process.stderr.write(`${renderError(err)}\n`);
    return exitCodeFor(err);
  }
}

process.exitCode = await main(process.argv);

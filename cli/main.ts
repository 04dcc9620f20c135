/** The `lockstep` command line. */
import { Command, Option } from 'commander';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { loadChange, loadReposConfig, resolveTasks, InputError } from '../config/load.ts';
import { defaultConfigFile, projectRoot, stateDir, temporalAddress, temporalNamespace } from '../config/paths.ts';
import { reposConfigJsonSchema } from '../config/schema.ts';
import { startDevServer, TemporalUnavailableError, temporalAnswers } from '../workers/dev-server.ts';
import { demoChangeFile, demoConfigFile, seedDemoRemotes } from './demo.ts';
import { renderEval, runEval } from './eval.ts';
import { EXIT, exitCodeFor, renderError } from './errors.ts';
import { preflight } from './preflight.ts';
import { printResult, runChange } from './run.ts';
import { changeStatus, listChanges } from './status.ts';
import { installRuntime } from '../workers/runtime.ts';
import { openTemporal, startInProcessWorker } from './temporal.ts';

const log = (line: string): void => {
  process.stderr.write(`lockstep: ${line}\n`);
};

let jsonMode = false;

async function main(argv: string[]): Promise<number> {
  const program = new Command('lockstep')
    .description('One change across many git repositories as a single durable unit of work.')
    .showHelpAfterError()
    .exitOverride();

  let exitCode: number = EXIT.ok;
  const configOption = () => new Option('-c, --config <file>', 'fleet config').default(defaultConfigFile(), './repos.config.json');

  program
    .command('run')
    .description('run a change file across its repositories, then open linked pull requests')
    .argument('<change-file>', 'YAML or JSON change file')
    .addOption(configOption())
    .option('--json', 'print exactly one JSON document (the result) on stdout')
    .option('--rerun', 'run again even if this change already finished (branches and PRs are reused)')
    .option('--no-worker', 'do not run a worker in this process; rely on "lockstep worker" processes')
    .option('--no-preflight', 'skip the reachability checks of remotes and images')
    .option('--concurrency <n>', 'repos worked on at once (default: from the config)', (v) => Number.parseInt(v, 10))
    .action(async (changeFile: string, opts: { config: string; json?: boolean; rerun?: boolean; worker: boolean; preflight: boolean; concurrency?: number }) => {
      jsonMode = Boolean(opts.json);
      const { result, exitCode: code } = await runChange({
        configFile: opts.config,
        changeFile,
        stateDir: stateDir(),
        json: jsonMode,
        rerun: Boolean(opts.rerun),
        worker: opts.worker ? 'auto' : 'never',
        preflight: opts.preflight,
        log,
        ...(opts.concurrency ? { concurrency: opts.concurrency } : {}),
      });
      printResult(result, jsonMode);
      exitCode = code;
    });

  program
    .command('demo')
    .description('seed the demo fleet (examples/) and run the demo change on the embedded defaults')
    .option('--json', 'print exactly one JSON document (the result) on stdout')
    .action(async (opts: { json?: boolean }) => {
      jsonMode = Boolean(opts.json);
      const started = Date.now();
      await seedDemoRemotes(stateDir(), log);
      const { result, exitCode: code } = await runChange({
        configFile: demoConfigFile,
        changeFile: demoChangeFile,
        stateDir: stateDir(),
        json: jsonMode,
        rerun: true,
        worker: 'auto',
        preflight: true,
        log,
      });
      printResult(result, jsonMode);
      if (!jsonMode) {
        log(`demo finished in ${((Date.now() - started) / 1000).toFixed(1)} s; pull request records are under ${join(stateDir(), 'forge', 'local')}`);
      }
      exitCode = code;
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
    .action(async (suiteFile: string, opts: { config: string; json?: boolean; reference?: boolean; baseline?: boolean; task?: string[]; worker: boolean }) => {
      jsonMode = Boolean(opts.json);
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
    });

  program
    .command('validate')
    .description('check the fleet config (and a change file) without running anything')
    .argument('[change-file]', 'YAML or JSON change file')
    .addOption(configOption())
    .option('--preflight', 'also check that remotes and sandbox images are reachable')
    .action(async (changeFile: string | undefined, opts: { config: string; preflight?: boolean }) => {
      const loaded = await loadReposConfig(opts.config);
      if (changeFile) {
        const change = await loadChange(changeFile, loaded);
        if (opts.preflight) await preflight(loaded, resolveTasks(loaded, change));
        log(`${changeFile}: valid (${change.repos.length} repos)`);
      }
      log(`${loaded.file}: valid (${loaded.config.repos.length} repos)`);
    });

  program
    .command('status')
    .description('show a change: per-repo step, tests, branch, pull request')
    .argument('<change-id>')
    .option('--json', 'print exactly one JSON document on stdout')
    .action(async (changeId: string, opts: { json?: boolean }) => {
      jsonMode = Boolean(opts.json);
      const session = await openTemporal({ stateDir: stateDir(), startServer: true, log });
      try {
        const report = await changeStatus(session, changeId);
        if (jsonMode) process.stdout.write(`${JSON.stringify(report.json, null, 2)}\n`);
        else process.stdout.write(`${report.text}\n`);
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
    .action(async (opts: { json?: boolean; limit: number }) => {
      jsonMode = Boolean(opts.json);
      const session = await openTemporal({ stateDir: stateDir(), startServer: true, log });
      try {
        const changes = await listChanges(session, opts.limit);
        if (jsonMode) process.stdout.write(`${JSON.stringify(changes, null, 2)}\n`);
        else if (changes.length === 0) process.stdout.write('no changes yet\n');
        else {
          const w = Math.max(...changes.map((c) => c.changeId.length));
          for (const c of changes) process.stdout.write(`${c.changeId.padEnd(w)}  ${c.status.padEnd(10)} ${c.startedAt}  ${c.repos.join(', ')}  ${c.title}\n`);
        }
      } finally {
        await session.close();
      }
    });

  program
    .command('worker')
    .description('run a worker (shared queue + this host\'s sandbox queue) until interrupted')
    .action(async () => {
      installRuntime();
      const session = await openTemporal({ stateDir: stateDir(), startServer: false, log });
      const worker = await startInProcessWorker(session, stateDir(), log);
      log(`worker polling at ${session.address} (namespace ${session.namespace}, host queue ${worker.worker.hostQueue}); Ctrl-C stops it`);
      await worker.done;
      await session.close();
    });

  program
    .command('server')
    .description('run the embedded Temporal dev server (SQLite in the state folder) until interrupted')
    .action(async () => {
      const address = temporalAddress();
      if (await temporalAnswers(address)) throw new TemporalUnavailableError(`a Temporal server already answers at ${address}`);
      const server = await startDevServer({ stateDir: stateDir(), address, dbFile: join(stateDir(), 'temporal.db'), namespace: temporalNamespace() });
      log(`Temporal server at ${server.address}, Web UI ${server.uiUrl ?? '(none)'}, log ${server.logFile}; Ctrl-C stops it`);
      await new Promise<void>((resolve) => {
        process.once('SIGINT', resolve);
        process.once('SIGTERM', resolve);
      });
      await server.stop();
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

/**
 * `lockstep doctor`: what this machine has of what Lockstep needs, one check per part, each
 * passing or failing with the fix. Secrets are reported as set or not, never shown. A failed
 * required check makes the command exit non-zero; an optional one (egress, a model) only warns.
 */
import Docker from 'dockerode';
import { access, constants } from 'node:fs/promises';
import { join } from 'node:path';
import { loadForgeConfig } from '../../config/load.ts';
import { setupCommand, stateDir, toolsDir } from '../../config/paths.ts';
import {
  describeTemporalSettings,
  loadTemporalSettings,
  securedConnection,
  TemporalSettingsError,
  type TemporalSettings,
} from '../../config/temporal.ts';
import { missingGateTools } from '../../activities/gate/tools.ts';
import { temporalAnswers, temporalBinary } from '../../workers/dev-server.ts';
import { connectSecured, isLoopback } from '../connection.ts';

export type CheckStatus = 'pass' | 'fail' | 'warn';

export interface DoctorCheck {
  name: string;
  status: CheckStatus;
  /** What was found. */
  detail: string;
  /** What to do about it; absent when it passes. */
  fix?: string;
  /** More lines about it (the Temporal settings in force), never a secret. */
  lines?: string[];
}

export interface DoctorOptions {
  env?: NodeJS.ProcessEnv;
  docker?: Docker;
  /** The fleet config whose forge is checked; absent: the forge tokens found in the environment. */
  configFile?: string;
}

const SANDBOX_IMAGE = 'lockstep-sandbox:latest';

const pass = (name: string, detail: string, lines?: string[]): DoctorCheck => ({
  name,
  status: 'pass',
  detail,
  ...(lines ? { lines } : {}),
});
const fail = (name: string, detail: string, fix: string, lines?: string[]): DoctorCheck => ({
  name,
  status: 'fail',
  detail,
  fix,
  ...(lines ? { lines } : {}),
});
const warn = (name: string, detail: string, fix: string): DoctorCheck => ({ name, status: 'warn', detail, fix });

const firstLine = (err: unknown): string => (err instanceof Error ? err.message : String(err)).split('\n')[0] ?? '';

async function dockerCheck(docker: Docker): Promise<{ check: DoctorCheck; up: boolean }> {
  try {
    const version = await docker.version();
    return { check: pass('docker', `engine ${version.Version} answers`), up: true };
  } catch (err) {
    return {
      check: fail(
        'docker',
        `no Docker engine answers (${firstLine(err)})`,
        `start Docker, set DOCKER_HOST, or run "${setupCommand()}" (as root on Debian it installs and starts one)`,
      ),
      up: false,
    };
  }
}

async function temporalCheck(env: NodeJS.ProcessEnv): Promise<DoctorCheck> {
  let settings: TemporalSettings;
  try {
    settings = loadTemporalSettings(env);
  } catch (err) {
    const fix = err instanceof TemporalSettingsError ? 'correct the setting the message names' : 'check the settings';
    return fail('temporal', firstLine(err), fix);
  }
  const lines = describeTemporalSettings(settings);
  const address = settings.address.value;
  if (securedConnection(settings)) {
    try {
      const connection = await connectSecured(settings);
      await connection.close();
      return pass('temporal', `a secured server answers at ${address}`, lines);
    } catch (err) {
      return fail('temporal', firstLine(err), 'correct the setting the message names', lines);
    }
  }
  if (await temporalAnswers(address)) return pass('temporal', `a server answers at ${address}`, lines);
  if (!isLoopback(address)) {
    return fail(
      'temporal',
      `no Temporal server answers at ${address}`,
      'start the server, or correct TEMPORAL_ADDRESS (or the profile in force)',
      lines,
    );
  }
  try {
    const cli = temporalBinary(env);
    return pass(
      'temporal',
      `nothing answers at ${address} yet: Lockstep starts the dev server there (${cli}) on ${join(stateDir(env), 'temporal.db')}`,
      lines,
    );
  } catch (err) {
    return fail(
      'temporal',
      `nothing answers at ${address} and ${firstLine(err).replace(/; run .*$/, '')}`,
      `run "${setupCommand()}", set LOCKSTEP_TEMPORAL_CLI to a temporal binary, or point TEMPORAL_ADDRESS at a server`,
      lines,
    );
  }
}

async function imageCheck(docker: Docker, up: boolean): Promise<DoctorCheck> {
  if (!up) return fail('sandbox image', `${SANDBOX_IMAGE}: not checked, Docker does not answer`, 'start Docker first');
  try {
    const image = await docker.getImage(SANDBOX_IMAGE).inspect();
    return pass('sandbox image', `${SANDBOX_IMAGE} (${image.Id.slice(7, 19)})`);
  } catch {
    return fail(
      'sandbox image',
      `${SANDBOX_IMAGE} is not on this Docker engine`,
      `run "${setupCommand()}" (it builds the image from Debian packages)`,
    );
  }
}

async function gateCheck(tools: string): Promise<DoctorCheck> {
  const missing = await missingGateTools(tools);
  return missing.length === 0
    ? pass('gate tools', `buf, gitleaks and semgrep in ${join(tools, 'gate')}`)
    : fail('gate tools', `${missing.join(', ')} missing from ${join(tools, 'gate', 'bin')}`, `run "${setupCommand()}"`);
}

async function egressCheck(tools: string): Promise<DoctorCheck> {
  const forwarder = join(tools, 'egress', 'bin', 'egress-forwarder');
  try {
    await access(forwarder, constants.X_OK);
    return pass(
      'egress',
      `the egress forwarder is built (${forwarder}); setup reaches sandbox.egress.allow hosts through the worker's proxy`,
    );
  } catch {
    return warn(
      'egress',
      `no egress forwarder at ${forwarder}: repos with sandbox.egress cannot run setup here`,
      `install Go 1.19+ and run "${setupCommand()}"; repos without sandbox.egress need nothing`,
    );
  }
}

const KNOWN_TOKENS = ['GITHUB_TOKEN', 'GITLAB_TOKEN'];

async function forgeCheck(env: NodeJS.ProcessEnv, configFile: string | undefined): Promise<DoctorCheck> {
  if (configFile) {
    try {
      const forge = await loadForgeConfig(configFile);
      if (forge.type === 'local')
        return pass('forge', 'local: pull requests are JSON records in the state folder, no token');
      return env[forge.tokenEnv]
        ? pass('forge', `${forge.type}: ${forge.tokenEnv} is set (not shown)`)
        : fail(
            'forge',
            `${forge.type}: ${forge.tokenEnv} is not set`,
            `set ${forge.tokenEnv} in the environment of every worker (scopes: docs/forges.md)`,
          );
    } catch (err) {
      return fail('forge', `${configFile}: ${firstLine(err)}`, 'correct the forge section of the fleet config');
    }
  }
  const set = KNOWN_TOKENS.filter((name) => env[name]);
  return pass(
    'forge',
    `no repos.config.json here; ${set.length > 0 ? `${set.join(', ')} set (not shown)` : `${KNOWN_TOKENS.join(', ')} not set`}`,
  );
}

function modelCheck(env: NodeJS.ProcessEnv): DoctorCheck {
  const endpoint = env.OPENAI_BASE_URL ?? 'https://api.openai.com/v1 (the default)';
  return env.OPENAI_API_KEY
    ? pass('model', `OPENAI_API_KEY is set (not shown); endpoint ${endpoint}`)
    : warn(
        'model',
        'OPENAI_API_KEY is not set: changes with instructions (agents) cannot run; steps changes need no model',
        'set OPENAI_API_KEY (and OPENAI_BASE_URL for a non-OpenAI endpoint) on the workers',
      );
}

export async function doctor(options: DoctorOptions = {}): Promise<DoctorCheck[]> {
  const env = options.env ?? process.env;
  const docker = options.docker ?? new Docker();
  const tools = toolsDir(env);
  const { check: dockerResult, up } = await dockerCheck(docker);
  return [
    dockerResult,
    await temporalCheck(env),
    await imageCheck(docker, up),
    await gateCheck(tools),
    await forgeCheck(env, options.configFile),
    modelCheck(env),
    await egressCheck(tools),
  ];
}

/** True when every required check passed (warnings do not count). */
export const healthy = (checks: DoctorCheck[]): boolean => checks.every((c) => c.status !== 'fail');

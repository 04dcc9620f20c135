/**
 * Why a contract command failed for its environment rather than for the contract: a missing
 * command or module, a name that did not resolve, a connection refused, a setup that failed.
 * Such a check could not run, so it says nothing about the contract: it must not blame the
 * provider (a failed verification does) nor send the repos' agents a fix round they cannot win.
 */
import type { CommandResult } from '../../core/commands.ts';

/** The rule of every problem that reports a check that could not run. */
export const COULD_NOT_RUN = 'could-not-run';

export interface EnvironmentFault {
  /** What went wrong, naming the command, module or host the output names. */
  why: string;
  /** What the fleet's owner changes so the check can run. */
  fix: string;
}

const INSTALL =
  "install it in the repo's image (sandbox.image) or in sandbox.setup, which runs before every gate command";

interface Pattern {
  test: RegExp;
  fault: (m: RegExpMatchArray) => EnvironmentFault;
}

const PATTERNS: readonly Pattern[] = [
  // bash: "bash: line 1: jest: command not found"; dash: "sh: 1: jest: not found".
  {
    test: /(?:^|\n)[^\n]*?:\s*(?:line \d+:\s*)?(?:\d+:\s*)?([^\s:]+): (?:command )?not found\s*(?:\n|$)/,
    fault: (m) => ({ why: `the command "${m[1]}" is not installed in the sandbox`, fix: INSTALL }),
  },
  {
    test: /Cannot find (?:module|package) '([^']+)'/,
    fault: (m) => ({
      why: `the Node module "${m[1]}" is not installed`,
      fix: `install the repo's dependencies in sandbox.setup (for example "npm ci")`,
    }),
  },
  {
    test: /ModuleNotFoundError: No module named '([^']+)'/,
    fault: (m) => ({
      why: `the Python module "${m[1]}" is not installed`,
      fix: `install the repo's dependencies in sandbox.setup (for example "pip install -r requirements.txt")`,
    }),
  },
  {
    test: /cannot find module providing package (\S+?):|no required module provides package (\S+?);/,
    fault: (m) => ({
      why: `the Go module of "${m[1] ?? m[2] ?? ''}" is not in the module cache`,
      fix: `download the repo's modules in sandbox.setup ("go mod download")`,
    }),
  },
  {
    test: /getaddrinfo (?:EAI_AGAIN|ENOTFOUND) (\S+)|Temporary failure in name resolution|Could not resolve host:? (\S+)|Name or service not known/,
    fault: (m) => {
      const host = m[1] ?? m[2];
      return {
        why: `${host ? `the name "${host}"` : 'a host name'} did not resolve: gate commands run without network`,
        fix:
          host === 'localhost'
            ? 'the sandbox must resolve localhost (see docs/environments.md)'
            : 'make the check offline: install what it downloads in sandbox.setup, and call services it starts on localhost',
      };
    },
  },
  {
    test: /ECONNREFUSED (\S+)|Connection refused/,
    fault: (m) => ({
      why: `the connection to ${m[1] ?? 'a service'} was refused: nothing listened there in the sandbox`,
      fix: 'start the service the check calls within the command (on localhost), or point the check at the one it starts',
    }),
  },
];

/** The environment fault a failed command's output shows, or null when it failed on its merits. */
export function environmentFault(
  result: Pick<CommandResult, 'exitCode' | 'timedOut' | 'outputTail'>,
): EnvironmentFault | null {
  if (result.exitCode === 0 || result.timedOut) return null;
  for (const p of PATTERNS) {
    const m = result.outputTail.match(p.test);
    if (m) return p.fault(m);
  }
  // The shell's own code for a command it could not find, whatever it printed.
  if (result.exitCode === 127) return { why: 'a command was not found (exit code 127)', fix: INSTALL };
  return null;
}

/** The repo's setup failed in the gate's sandbox, so no command of the check could run. */
export function setupFault(
  repo: string,
  result: Pick<CommandResult, 'exitCode' | 'timedOut' | 'outputTail'>,
): EnvironmentFault {
  const inner = environmentFault(result);
  return {
    why: `${repo}'s sandbox.setup ${result.timedOut ? 'timed out' : `exited with code ${result.exitCode}`}${inner ? ` (${inner.why})` : ''}`,
    fix: inner?.fix ?? `make ${repo}'s sandbox.setup pass in its image; the repo's own run shows the same failure`,
  };
}

/**
 * Which egress each kind of command has. The fleet grants a phase (`sandbox.egress`, `.steps`,
 * `.agent`), the change asks for it (`egress:` in the change file, RepoTask.egress); tests and
 * the gate's commands never have a route, whatever either says.
 */
import type { SandboxEgress } from '../../config/repos.ts';
import type { CommandKind, EgressAsk, EgressPhase } from '../../core/commands.ts';

/** The phase whose policy a command of each kind runs under; null: no forwarder, no proxy. */
const PHASE_OF_KIND: Readonly<Record<CommandKind, EgressPhase | null>> = {
  setup: 'setup',
  step: 'steps',
  // A bump's package-manager command (workflows/bump.ts) runs under the steps phase's policy.
  bump: 'steps',
  agent: 'agent',
  test: null,
  gate: null,
};

export const egressPhase = (kind: CommandKind): EgressPhase | null => PHASE_OF_KIND[kind];

/** The methods a phase with a method policy allows when the fleet names none. */
export const DEFAULT_METHODS: readonly string[] = ['GET', 'HEAD', 'OPTIONS'];

/** What one phase of a sandbox may reach, resolved from its `sandbox.egress`. */
export interface PhasePolicy {
  allow: string[];
  /** Null for setup: tunnels are judged by their target alone, TLS is never opened. */
  methods: string[] | null;
}

/** The fleet's policy of `phase` for a repo's egress, or null when the fleet does not grant it. */
export function grantedPolicy(egress: SandboxEgress, phase: EgressPhase): PhasePolicy | null {
  if (phase === 'setup') return { allow: egress.allow, methods: null };
  const grant = egress[phase];
  if (!grant) return null;
  return { allow: grant.allow ?? egress.allow, methods: grant.methods ?? [...DEFAULT_METHODS] };
}

/** The change-file key and the fleet key that open `phase` (for refusals and hints). */
export const phaseKeys = (phase: Exclude<EgressPhase, 'setup'>): { change: string; fleet: string } => ({
  change: `egress: { ${phase}: true }`,
  fleet: `sandbox.egress.${phase}`,
});

/**
 * Why a phase is closed for this command although the repo has `sandbox.egress`: the reason a
 * deny-all proxy gives for every connection. Null when the phase is open.
 */
export function closedReason(
  repo: string,
  phase: Exclude<EgressPhase, 'setup'>,
  granted: boolean,
  ask: EgressAsk | undefined,
): string | null {
  const asked = ask?.[phase] ?? false;
  if (granted && asked) return null;
  const keys = phaseKeys(phase);
  const fleet = `repos[<i>].${keys.fleet} in repos.config.json, where repos[<i>].name is "${repo}"`;
  return granted
    ? `egress for ${phase} is off in this change: ask with "${keys.change}" in the change file (the fleet grants it with ${fleet})`
    : `egress for ${phase} is off: the fleet does not grant it (set ${fleet}) and the change must ask with "${keys.change}"`;
}

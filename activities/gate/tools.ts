/**
 * Where the gate's tools and rules live on the host and inside a sandbox. Both folders are
 * mounted read-only: the sandbox runs the tools, it can never change them or the rules.
 */
import { access, constants } from 'node:fs/promises';
import { join } from 'node:path';
import { projectRoot, toolsDir } from '../../config/paths.ts';
import type { ReadOnlyMount } from '../sandbox/docker.ts';

/** Where the tools folder's `gate/` (installed by scripts/gate-tools.sh) appears in a sandbox. */
export const GATE_TOOLS_MOUNT = '/opt/lockstep-tools';
/** Where `activities/gate/rules` appears in a sandbox. */
export const GATE_RULES_MOUNT = '/opt/lockstep-rules';

export const gateToolsDir = (tools: string = toolsDir()): string => join(tools, 'gate');
export const gateRulesDir = (root: string = projectRoot): string => join(root, 'activities', 'gate', 'rules');

/** The read-only mounts a sandbox needs to run the gate (give them to `SandboxDeps.readOnlyMounts`). */
export function gateMounts(tools: string = toolsDir(), root: string = projectRoot): ReadOnlyMount[] {
  return [
    { source: gateToolsDir(tools), target: GATE_TOOLS_MOUNT },
    { source: gateRulesDir(root), target: GATE_RULES_MOUNT },
  ];
}

export const GATE_TOOLS = ['buf', 'gitleaks', 'semgrep'] as const;
export type GateTool = (typeof GATE_TOOLS)[number];

/** The tool's path inside a sandbox. */
export const toolPath = (tool: GateTool): string => `${GATE_TOOLS_MOUNT}/bin/${tool}`;

/** Tools of the gate that are not installed on this host (empty when all are). */
export async function missingGateTools(tools: string = toolsDir()): Promise<GateTool[]> {
  const missing: GateTool[] = [];
  for (const tool of GATE_TOOLS) {
    try {
      await access(join(gateToolsDir(tools), 'bin', tool), constants.X_OK);
    } catch {
      missing.push(tool);
    }
  }
  return missing;
}

/** A gate tool failed to run or gave output we cannot read: not a verdict on the code. */
export class GateToolError extends Error {
  constructor(
    readonly tool: GateTool,
    message: string,
  ) {
    super(`${tool}: ${message}`);
    this.name = 'GateToolError';
  }
}

/**
 * The guardrail half of the gate: one activity per changed repo scans what the change added
 * (base → head) for hard-coded secrets (gitleaks) and insecure code (semgrep with the rules in
 * `rules/`), in a throwaway sandbox of the repo at its head. Waivers are applied by the
 * workflow, so the report shows what was found and what was accepted.
 */
import type { GuardrailFinding, ScanRepoInput } from '../../core/gate.ts';
import { addedLines } from './diff.ts';
import { scanInsecure } from './insecure.ts';
import { scanSecrets } from './secrets.ts';
import { GateWork, type GateDeps } from './work.ts';

/** Findings travel through workflow history: a flood of them is cut, with a note that says so. */
const MAX_FINDINGS = 100;

export function createGuardrailActivities(deps: GateDeps) {
  return {
    async scanRepo(input: ScanRepoInput): Promise<Omit<GuardrailFinding, 'waived'>[]> {
      const name = input.repo.repo;
      const work = new GateWork(
        deps,
        input.changeId,
        `${input.round}-scan-${name}`,
        [input.repo],
        [{ repo: name, base: input.base, head: input.head }],
      );
      try {
        const checkout = await work.checkout(name);
        const range = { workspace: checkout.dir, base: input.base, head: input.head };
        const added = await addedLines(range);
        if (Object.keys(added).length === 0) return [];
        const exec = await work.tools(name);
        const timeoutSeconds = input.repo.sandbox.timeouts.testSeconds;
        const found: Omit<GuardrailFinding, 'waived'>[] = [
          ...(input.secrets ? await scanSecrets({ ...range, exec, added, timeoutSeconds }) : []),
          ...(input.insecure ? await scanInsecure({ ...range, exec, added, timeoutSeconds }) : []),
        ].map((f) => ({
          ...f,
          repo: name,
          message: f.message.length > 300 ? `${f.message.slice(0, 300)}…` : f.message,
        }));
        if (found.length <= MAX_FINDINGS) return found;
        const cut = found.slice(0, MAX_FINDINGS);
        cut.push({
          repo: name,
          tool: 'lockstep',
          rule: 'too-many-findings',
          file: '',
          line: 0,
          message: `${found.length - MAX_FINDINGS} more findings not listed`,
        });
        return cut;
      } finally {
        await work.dispose();
      }
    },
  };
}

/**
 * Lockstep's own metrics, recorded through a Temporal metric meter (the workflow's, replay-safe;
 * an activity's; the worker runtime's), so a worker's Prometheus endpoint serves them beside the
 * SDK's. Names carry their unit; the exporter adds `_total` to counters. docs/deployment.md
 * lists them.
 */
import type { MetricMeter } from '@temporalio/common';
import type { RepoStatus } from './repo.ts';

export const METRIC = {
  reposFinished: 'lockstep_repos_finished',
  sandboxSeconds: 'lockstep_sandbox_command_seconds',
  modelTokens: 'lockstep_model_tokens',
  gateVerdicts: 'lockstep_gate_verdicts',
  egressBytes: 'lockstep_egress_bytes',
  reconcilerPasses: 'lockstep_reconciler_passes',
  reconcilerRemovals: 'lockstep_reconciler_removals',
} as const;

/** Buckets of the sandbox command histogram, in seconds (a quick step to a long test suite). */
export const SANDBOX_SECONDS_BUCKETS = [0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800];

export function reposFinished(meter: MetricMeter, status: RepoStatus): void {
  meter.createCounter(METRIC.reposFinished, 'repos', 'Repo workflows ended, by final status').add(1, { status });
}

export function sandboxCommand(meter: MetricMeter, kind: string, seconds: number): void {
  meter
    .createHistogram(METRIC.sandboxSeconds, 'float', 's', 'Time of each command run in a sandbox, by kind')
    .record(seconds, { kind });
}

export function egressBytes(meter: MetricMeter, phase: string, up: number, down: number): void {
  const counter = meter.createCounter(METRIC.egressBytes, 'bytes', 'Bytes through the egress proxy, by direction');
  if (up > 0) counter.add(up, { direction: 'up', phase });
  if (down > 0) counter.add(down, { direction: 'down', phase });
}

export function modelTokens(meter: MetricMeter, model: string, prompt: number, completion: number): void {
  const counter = meter.createCounter(METRIC.modelTokens, 'tokens', 'Model tokens used, prompt and completion');
  if (prompt > 0) counter.add(prompt, { kind: 'prompt', model });
  if (completion > 0) counter.add(completion, { kind: 'completion', model });
}

export function gateVerdict(meter: MetricMeter, kind: string, status: string): void {
  meter
    .createCounter(METRIC.gateVerdicts, 'verdicts', 'Contract checks of the gate, by verdict')
    .add(1, { kind, status });
}

export function reconcilerPass(meter: MetricMeter, outcome: 'ok' | 'failed'): void {
  meter.createCounter(METRIC.reconcilerPasses, 'passes', 'Reconciler passes, by outcome').add(1, { outcome });
}

export function reconcilerRemoval(meter: MetricMeter, kind: 'container' | 'work tree', reason: string): void {
  meter
    .createCounter(METRIC.reconcilerRemovals, 'removals', 'Sandboxes and work trees the reconciler removed')
    .add(1, { kind: kind === 'container' ? 'container' : 'work_tree', reason });
}

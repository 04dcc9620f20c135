/**
 * `lockstep audit <changeId>`: what the workflows of one change did, read back from Temporal's
 * histories (coordinator, repos, agents, every run of a continued-as-new chain) as a timeline
 * in four forms (JSON, text, Markdown, one HTML page), and the raw histories for replay.
 */
export type { AuditEntry, AuditKind, AuditReport, AuditTotals, AuditValue, AuditWorkflowRun } from './report.ts';
export { buildAudit } from './timeline.ts';
export { exportHistories, historyFileName } from '../../client/histories.ts';
export { renderAuditText, renderAuditMarkdown } from './text.ts';
export { renderAuditHtml } from './html.ts';
export { renderEgressLogs } from './egress.ts';

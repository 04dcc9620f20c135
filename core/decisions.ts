/** What people send a live change: decisions on failed repos and approvals at its gates. */

/** A person's decision on a failed repo while the change is live (`lockstep retry|skip|abort`). */
export interface Decision {
  action: 'retry' | 'skip' | 'abort';
  /** The repo it is about; null for `abort` (the whole change). */
  repo: string | null;
  /** Who decided (the CLI sends the local user name). */
  by: string;
  reason: string;
}

/** A person's answer at an approval gate (`lockstep approve|reject`). */
export interface Approval {
  gate: 'plan' | 'publish';
  approved: boolean;
  by: string;
  reason: string;
}

/** What the workflow says back to a decision or an approval. */
export interface DecisionAck {
  accepted: boolean;
  message: string;
}

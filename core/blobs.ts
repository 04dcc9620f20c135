/**
 * Content stored once, by reference: a change's pages of tasks, a page's results, its pull
 * requests. A blob is JSON kept in Temporal itself, as the input of a `blobWorkflow` whose id is
 * the content's sha256, so every worker and client of the namespace can read it and storing the
 * same content twice is one workflow. Blobs live as long as the namespace keeps closed
 * workflows (its retention).
 */

/** What a workflow input carries instead of the content. */
export interface BlobRef {
  /** sha256 of the content's JSON text (hex). */
  sha256: string;
  /** Size of that text, bytes. */
  bytes: number;
}

/** The blob workflow holding content `sha256`. */
export const blobWorkflowId = (sha256: string): string => `lockstep-blob/${sha256}`;

/**
 * The largest blob stored: Temporal refuses payloads over 2 MB; pages are sized to stay well
 * under this (core/pages.ts).
 */
export const MAX_BLOB_BYTES = 1_500_000;

/** Reads and writes blobs; activities receive one (activities/blobs.ts), the client makes one. */
export interface BlobStore {
  put(value: unknown): Promise<BlobRef>;
  get<T>(ref: BlobRef): Promise<T>;
}

/**
 * A blob (core/blobs.ts): its content is this workflow's input, kept in its history; there is
 * nothing to do.
 */
export async function blobWorkflow(content: string): Promise<number> {
  return Promise.resolve(content.length);
}

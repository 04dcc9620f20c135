import { git } from '../git/workspace.ts';

/**
 * The sandbox scans the work tree, so `head` must be what is checked out; returns its commit.
 * A mismatch would put findings on the wrong lines.
 */
export async function checkedOutHead(workspace: string, head = 'HEAD'): Promise<string> {
  const repo = git(workspace);
  const [current, wanted] = await Promise.all([
    repo.revparse(['--verify', 'HEAD^{commit}']),
    repo.revparse(['--verify', '--end-of-options', `${head}^{commit}`]),
  ]);
  if (current.trim() !== wanted.trim()) {
    throw new Error(
      `the workspace has ${current.trim().slice(0, 12)} checked out, not ${head}; check out the head before scanning`,
    );
  }
  return wanted.trim();
}

/** A steps-mode repo task as the CLI builds one, for tests that hand the coordinator its input directly. */
export { stepsTask as repoTask } from '../../bench/tasks.ts';

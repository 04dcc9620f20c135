/**
 * The tools as the model sees them: names, descriptions and parameter schemas. Every model
 * request carries these texts, and the strict fake model server of the tests checks them as the
 * real API would.
 */
import type { ChatCompletionTool } from 'openai/resources/chat/completions';

export const TOOL_NAMES = [
  'read_file',
  'write_file',
  'edit_file',
  'list_directory',
  'grep_codebase',
  'run_command',
  'run_tests',
  'finish',
] as const;
export type ToolName = (typeof TOOL_NAMES)[number];

interface ParamSpec {
  type: 'string' | 'integer';
  /** Optional: the model sends null (strict mode lists every property as required). */
  nullable?: true;
  description: string;
}

export interface ToolSpec {
  description: string;
  params: Record<string, ParamSpec>;
  /** Shown when the model gets the arguments wrong. */
  example: Record<string, unknown>;
}

export const TOOL_SPECS = {
  read_file: {
    description:
      'Read a text file of the repository. Returns numbered lines ("   12| text") and the total line count. For long files, read a range with start_line and end_line (1-based, inclusive).',
    params: {
      path: { type: 'string', description: 'File path relative to the repository root, e.g. "src/index.ts".' },
      start_line: {
        type: 'integer',
        nullable: true,
        description: 'First line to return (1-based), or null for the start of the file.',
      },
      end_line: {
        type: 'integer',
        nullable: true,
        description: 'Last line to return (inclusive), or null for the end of the file.',
      },
    },
    example: { path: 'src/index.ts', start_line: null, end_line: null },
  },
  write_file: {
    description:
      'Create a file or replace its whole content. Missing parent directories are created. To change part of an existing file, prefer edit_file.',
    params: {
      path: { type: 'string', description: 'File path relative to the repository root.' },
      content: { type: 'string', description: 'The complete new content of the file.' },
    },
    example: { path: 'src/new.ts', content: 'export const x = 1;\n' },
  },
  edit_file: {
    description:
      'Replace one exact piece of text in an existing file. old_text must match the file exactly (whitespace and indentation included) and occur exactly once; include surrounding lines to make it unique.',
    params: {
      path: { type: 'string', description: 'File path relative to the repository root.' },
      old_text: { type: 'string', description: 'The exact text to replace; must occur exactly once in the file.' },
      new_text: { type: 'string', description: 'The text to put in its place (empty to delete it).' },
    },
    example: { path: 'src/index.ts', old_text: 'const x = 1;', new_text: 'const x = 2;' },
  },
  list_directory: {
    description:
      'List the entries of a directory of the repository, sorted; directories end with "/". Use "." for the repository root.',
    params: {
      path: { type: 'string', description: 'Directory path relative to the repository root; "." for the root.' },
    },
    example: { path: '.' },
  },
  grep_codebase: {
    description:
      'Search the files of the repository for a pattern (grep basic regular expression, case-sensitive; \\| for alternation). Returns matching lines as path:line:text. Binary files and .git are skipped.',
    params: {
      pattern: {
        type: 'string',
        description: 'The pattern to search for; taken as a pattern even when it starts with "-".',
      },
      glob: {
        type: 'string',
        nullable: true,
        description: 'Only search files whose name matches this glob, e.g. "*.ts"; null for all files.',
      },
    },
    example: { pattern: 'createServer', glob: null },
  },
  run_command: {
    description:
      "Run a shell command with bash in the repository's sandbox: working directory /workspace (the repository root), no network, a time limit. Returns the exit code and the output (start and end when long).",
    params: {
      command: { type: 'string', description: 'The bash command line to run, e.g. "ls -la src && npm run build".' },
    },
    example: { command: 'ls -la' },
  },
  run_tests: {
    description:
      "Run the repository's test suite (its configured test command) in the sandbox and report whether it passed, with the output.",
    params: {},
    example: {},
  },
  finish: {
    description:
      'End your work on this repository. Call it when the task is done and the tests pass, or when it cannot be done; summary says what you changed and why (it goes into the pull request).',
    params: {
      summary: { type: 'string', description: 'What you changed and why, in a few sentences.' },
    },
    example: { summary: 'Renamed the user id field and updated its tests.' },
  },
} as const satisfies Record<ToolName, ToolSpec>;

type Specs = typeof TOOL_SPECS;
type ParamValue<P> = (P extends { type: 'integer' } ? number : string) | (P extends { nullable: true } ? null : never);
export type ArgsOf<N extends ToolName> = {
  -readonly [K in keyof Specs[N]['params']]: ParamValue<Specs[N]['params'][K]>;
};

/** Tool definitions for Chat Completions, strict mode: every property required, optional ones nullable, no extra properties. */
export function toolDefinitions(): ChatCompletionTool[] {
  return TOOL_NAMES.map((name) => {
    const spec: ToolSpec = TOOL_SPECS[name];
    const properties: Record<string, unknown> = {};
    for (const [param, p] of Object.entries(spec.params)) {
      properties[param] = { type: p.nullable ? [p.type, 'null'] : p.type, description: p.description };
    }
    return {
      type: 'function',
      function: {
        name,
        description: spec.description,
        strict: true,
        parameters: { type: 'object', properties, required: Object.keys(spec.params), additionalProperties: false },
      },
    };
  });
}

export const isToolName = (name: string): name is ToolName => (TOOL_NAMES as readonly string[]).includes(name);

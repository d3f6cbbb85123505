/**
 * What README.md shows a reader: the shell commands (in fenced blocks and inline code) and the TypeScript
 * snippets, so that a test can hold each of them to a test that runs it.
 */
export interface ReadmeCommand {
  /** 1-based line in README.md. */
  line: number;
  text: string;
  /** The command without arguments: `deai localnet start`, `npm run bench:ledger`, `dfx deploy`. */
  key: string;
}

export interface ReadmeSnippet {
  line: number;
  lang: string;
  code: string;
}

const PROGRAMS = /^(?:npx\s+)?(deai|npm|dfx|tsx|icp|vllm|llama-server)\s+\S/;
/** `deai` commands with subcommands; the others (deploy, start, explorer) take arguments right away. */
const GROUPS = new Set(['localnet', 'identity', 'runner', 'models', 'runners', 'task', 'ledger', 'gateway']);

export function commandKey(text: string): string | undefined {
  if (!PROGRAMS.test(text.trim())) return undefined;
  const [program, first, second] = text
    .trim()
    .replace(/^npx\s+/, '')
    .split(/\s+/);
  const isWord = (w: string | undefined): w is string => w !== undefined && /^[a-z][a-z0-9:.-]*$/.test(w);
  switch (program) {
    case 'deai':
      if (!isWord(first)) return 'deai';
      return GROUPS.has(first) && isWord(second) ? `deai ${first} ${second}` : `deai ${first}`;
    case 'npm':
      if (first === 'run' && second !== undefined) return `npm run ${second}`;
      return isWord(first) ? `npm ${first}` : 'npm';
    case 'dfx':
    case 'icp':
      if (first === 'canister' && isWord(second)) return `${program} canister ${second}`;
      return isWord(first) ? `${program} ${first}` : program;
    case 'tsx':
      return first === undefined ? 'tsx' : `tsx ${first}`;
    default:
      return program;
  }
}

/** Every command README.md shows, split at `&&`, with comments removed. */
export function readmeCommands(markdown: string): ReadmeCommand[] {
  const commands: ReadmeCommand[] = [];
  const add = (line: number, raw: string): void => {
    for (const part of raw.split('&&')) {
      const text = part.replace(/\s#\s.*$/, '').trim();
      const key = commandKey(text);
      if (key !== undefined) commands.push({ line, text, key });
    }
  };
  let fence: string | undefined;
  markdown.split('\n').forEach((content, index) => {
    const line = index + 1;
    const opening = /^```(\S*)/.exec(content);
    if (opening !== null) {
      fence = fence === undefined ? (opening[1] ?? '') : undefined;
      return;
    }
    if (fence !== undefined) {
      if (fence === '' || fence === 'sh' || fence === 'bash') add(line, content);
      return;
    }
    for (const match of content.matchAll(/`([^`]+)`/g)) add(line, match[1] ?? '');
  });
  return commands;
}

/** The fenced blocks in `lang` (e.g. `ts`, `yaml`), in order. */
export function readmeSnippets(markdown: string, lang: string): ReadmeSnippet[] {
  const snippets: ReadmeSnippet[] = [];
  let current: ReadmeSnippet | undefined;
  let open = false;
  markdown.split('\n').forEach((content, index) => {
    const opening = /^```(\S*)/.exec(content);
    if (opening !== null) {
      if (open) {
        if (current !== undefined) snippets.push(current);
        current = undefined;
        open = false;
      } else {
        open = true;
        current = opening[1] === lang ? { line: index + 2, lang, code: '' } : undefined;
      }
      return;
    }
    if (current !== undefined) current.code += `${content}\n`;
  });
  return snippets;
}

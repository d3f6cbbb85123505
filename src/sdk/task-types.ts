/** The options and results of the client's task methods (shared by `DeaiClient` and `chat({ via: 'task' })`). */

export interface SubmitTaskOptions {
  /** Model id the task needs (a published card). */
  model: string;
  prompt: string;
  /** Total reward escrowed for the task (split between the runners after the protocol fee). */
  rewardE8s: bigint;
  /** How long runners have to answer, from now (default 1 hour, at most 7 days). */
  deadlineMs?: number;
  maxOutputTokens?: number;
  temperature?: number;
  seed?: bigint;
  /** Runners that must each give a result (default 1; above 1 needs temperature 0 and a seed). */
  redundancy?: number;
  /** Repeating a submit with the same key returns the first task instead of paying twice (default: random). */
  idempotencyKey?: string;
}

export interface WaitOptions {
  /** Default 5 minutes. */
  timeoutMs?: number;
  /** Default 1 second. */
  pollMs?: number;
  /** Called with the task's state whenever it changes (first with the state it is in). */
  onProgress?: (state: string) => void;
}

/** The first result of a task in review or accepted. */
export interface TaskResult {
  taskId: string;
  state: string;
  runner: string;
  output?: string;
  outputDigest: string;
  reference?: string;
  inputTokens: bigint;
  outputTokens: bigint;
  totalMs: number;
}

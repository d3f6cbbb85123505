import { StableBTreeMap } from 'azle';

import { StableKeyValue, TextCodec } from '../common/stable-kv.js';
import type { KeyValue } from '../../src/core/kv.js';
import type { Task } from '../../src/core/tasks/index.js';

/** Inline inputs at least this long are stored apart from their task. */
export const SEPARATE_INPUT_CHARS = 1024;

/**
 * Tasks in stable memory, with large inline inputs (up to 256 KiB) in a map of their own. A task is rewritten at
 * every step (escrowed, claimed, completed, accepted, paid), but its input never changes after submit_task: kept
 * apart, it is written once instead of at every step, where rewriting a 250 KiB input cost ~1.1B instructions.
 * Tasks stored before this split keep their input inline until their next write.
 */
export class TaskRecords implements KeyValue<Task> {
  private readonly records: StableKeyValue<Task>;
  private readonly inputs: StableBTreeMap<string, string>;

  constructor(recordsMemoryId: number, inputsMemoryId: number) {
    this.records = new StableKeyValue<Task>(recordsMemoryId);
    this.inputs = new StableBTreeMap<string, string>(inputsMemoryId, TextCodec, TextCodec);
  }

  get(id: string): Task | undefined {
    const task = this.records.get(id);
    return task === undefined ? undefined : this.withInput(id, task);
  }
  /** The task as stored: a separated input stays in its map (`set` of the result keeps it). */
  getWithoutInput(id: string): Task | undefined {
    return this.records.get(id);
  }
  has(id: string): boolean {
    return this.records.has(id);
  }
  size(): number {
    return this.records.size();
  }
  set(id: string, task: Task): void {
    const inline = task.input.inline;
    if (inline === undefined || inline.length < SEPARATE_INPUT_CHARS) {
      this.records.set(id, task);
      return;
    }
    if (!this.inputs.containsKey(id)) this.inputs.insert(id, inline);
    const { inline: _written, ...rest } = task.input;
    this.records.set(id, { ...task, input: rest });
  }
  delete(id: string): void {
    this.records.delete(id);
    this.inputs.remove(id);
  }
  *entries(afterKey?: string): Iterable<[string, Task]> {
    for (const [id, task] of this.records.entries(afterKey)) yield [id, this.withInput(id, task)];
  }

  private withInput(id: string, task: Task): Task {
    if (task.input.inline !== undefined) return task;
    const inline = this.inputs.get(id);
    return inline === undefined ? task : { ...task, input: { ...task.input, inline } };
  }
}

import { isTaskState, type TaskState } from '../core/tasks/states.js';
import { DeaiError } from './errors.js';

/**
 * Every conversion between the registry's and the ledger's wire values (src/interface: snake_case, `[] | [T]`,
 * Principal objects) and the SDK's public types (camelCase, optional fields, principals as text).
 */

/** A task state from the wire; a state this SDK does not know means a newer registry. */
export function parseTaskState(state: string): TaskState {
  if (isTaskState(state)) return state;
  throw new DeaiError('UnexpectedReply', `The registry answered an unknown task state '${state}': update the SDK`, {
    field: 'state',
    value: state
  });
}

import { describe, expect, it } from 'vitest';

import {
  acceptTask,
  migrateReviewVotes,
  saveTask,
  startReviewVoteMigration,
  submitTask,
  type Stores
} from '../../../src/core/tasks/index.ts';
import { addRunner, answer, NOW, okOf, outputsSeenBy, recordOne, REWARD, SECOND, submitted, world } from '../../support/task-world.ts';

/**
 * Tasks that entered review before the vote was recorded at review entry (settlement.ts `enterReview`) get it from the
 * migration after the upgrade (src/core/tasks/review-vote-migration.ts), counted once, so no later decision counts it
 * again with weights moved since. Fails on the registry as it was before (there was no migration: every decision on
 * such a task counted with the weights of that moment).
 */

/** Two honest runners against a Sybil on a redundancy-3 task in review, stored as before the vote was recorded. */
function reviewWithoutVote(store: Stores, n: number): string {
  addRunner(store, `honest-1-${n}`, 0x10 + n);
  addRunner(store, `honest-2-${n}`, 0x30 + n);
  addRunner(store, `sybil-${n}`, 0x50 + n);
  const id = submitted(store, 3);
  answer(store, id, [
    [`honest-1-${n}`, 'Paris'],
    [`honest-2-${n}`, 'Paris'],
    [`sybil-${n}`, 'garbage']
  ]);
  const task = store.tasks.get(id)!;
  expect(task.state).toBe('review');
  delete task.reviewVote;
  saveTask(store, task);
  return id;
}

describe('the review-vote migration', () => {
  it('records the vote of each task in review without one, and every later decision settles by it', () => {
    const store = world();
    const id = reviewWithoutVote(store, 1);
    startReviewVoteMigration(store);
    expect(migrateReviewVotes(store, () => false)).toEqual({ done: true, recorded: 1 });
    expect(store.reviewVoteMigration()).toBeUndefined();
    expect(store.tasks.get(id)!.reviewVote).toMatchObject({ digest: expect.any(String), winners: ['honest-1-1', 'honest-2-1'] });
    // The requester moves weights after the upgrade (its Sybil's record doubles: its weight equals both honest ones')
    // ... and accepting still settles by the vote the migration recorded, not by a recount (which has no majority).
    recordOne(store, 'sybil-1');
    expect(outputsSeenBy(store, 'requester', id)).toEqual(['Paris', 'Paris', undefined]);
    expect(okOf(acceptTask(store, 'requester', NOW, id))).toMatchObject({ state: 'accepted', paidRunners: ['honest-1-1', 'honest-2-1'] });
  });

  it('without the migration the same task recounts at the decision (what the migration prevents)', () => {
    const store = world();
    const id = reviewWithoutVote(store, 1);
    recordOne(store, 'sybil-1');
    expect(okOf(acceptTask(store, 'requester', NOW, id)).state).toBe('review');
  });

  it('is bounded: stops when out of budget at a persisted cursor and resumes from it; idempotent', () => {
    const store = world();
    const ids = [1, 2, 3].map((n) => reviewWithoutVote(store, n));
    // An open task that is not in review is passed over.
    const { task: queued } = okOf(
      submitTask(store, 'requester', NOW, {
        idempotencyKey: 'queued',
        request: { model: store.tasks.get(ids[0]!)!.request.model },
        input: { inline: 'Say hello.' },
        limits: { maxOutputTokens: 64 },
        rewardE8s: REWARD,
        deadlineNs: NOW + 3600n * SECOND,
        redundancy: 1
      })
    );
    // One task already has its vote (entered review after the upgrade): left as it is.
    const recorded = store.tasks.get(ids[2]!)!;
    recorded.reviewVote = { winners: ['kept'], votes: 'kept' };
    saveTask(store, recorded);
    startReviewVoteMigration(store);
    let steps = 0;
    let total = 0;
    for (;;) {
      steps++;
      // Each step is out of budget after its first task.
      const step = migrateReviewVotes(store, () => true);
      total += step.recorded;
      if (step.done) break;
      expect(store.reviewVoteMigration()?.after).toBeDefined();
      expect(steps).toBeLessThan(10);
    }
    expect(total).toBe(2);
    // Every open task once (the 3 in review, the queued one), then the step that finds none left.
    expect(steps).toBe(5);
    expect(ids.map((id) => store.tasks.get(id)!.reviewVote?.winners)).toEqual([
      ['honest-1-1', 'honest-2-1'],
      ['honest-1-2', 'honest-2-2'],
      ['kept']
    ]);
    expect(store.tasks.get(queued.id)!.reviewVote).toBeUndefined();
    // Done: running again records nothing, and a repeated start changes no recorded vote.
    expect(migrateReviewVotes(store, () => false)).toEqual({ done: true, recorded: 0 });
    startReviewVoteMigration(store);
    expect(migrateReviewVotes(store, () => false)).toEqual({ done: true, recorded: 0 });
  });
});

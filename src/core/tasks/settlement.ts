import { ANONYMOUS_PRINCIPAL, err, ok, type Result } from '../registry/errors.js';
import { bondShare, requiredBond, slashBond, voteRecord, voteWeight } from '../rewards/bonds.js';
import { addAcceptedWork, isSelfDealing } from '../rewards/epochs.js';
import { operatorOf } from '../registry/operators.js';
import { recordDisputed, recordIndependentAccepted, recordRejected, recordRequesterRejection } from '../rewards/reputation.js';
import { countRejection, notePaidWork, rejectionWeightOf } from '../rewards/requester-weight.js';
import { meteredCostE8s, perRunnerCostCapE8s } from '../rewards/pricing.js';
import { payWinners, refundTask } from '../rewards/task-payouts.js';
import { escalate } from './escalation.js';
import { MAX_REASON_LENGTH } from './limits.js';
import { saveTask } from './save-task.js';
import type { Stores } from './store.js';
import type { ReviewVote, Task } from './types.js';

/** Who stands behind a result in a vote: its operator, the bond share it holds, its record and weight (bond × record). */
export interface Voter {
  operator: string;
  bond: bigint;
  weight: bigint;
  /** Its track record (bonds.ts voteRecord); absent counts as 1, a new identity's. */
  record?: bigint;
}

/** Voters as the registry weighs them: each runner's effective operator, bond share and weight (bondShare, voteWeight). */
export function votersOf(store: Stores): (runner: string) => Voter {
  const required = requiredBond(store, store.taskConfig().ledger);
  return (runner) => {
    const bond = store.bonds.get(runner);
    return {
      operator: operatorOf(store, runner),
      bond: bondShare(bond, required),
      weight: voteWeight(store.reputation.get(runner), bond, required),
      record: voteRecord(store.reputation.get(runner))
    };
  };
}

interface Tally {
  operators: number;
  bond: bigint;
  weight: bigint;
}

/**
 * Which results hold their bond in the vote (README "States"). The task's own `redundancy` results (the contested
 * ones) always do. A result in a place an escalation opened does unless BOTH: its runner's record is below that of an
 * original result it votes against, and the original results of its digest weigh less (record × bond share) than
 * another digest's. Such a result still adds its weight. New identities filling escalation places (the requester's
 * own operators under other names, say) then cannot carry the bond majority for the side the contested results
 * out-weighed, against a runner with a better record; fresh runners still settle a tie on the side that weighed as
 * much (two fresh honest runners against a Sybil with a bought record), and proven runners settle any.
 */
function bondCounts(task: Task, voterOf: (runner: string) => Voter): (index: number) => boolean {
  const originals = task.results.slice(0, task.redundancy);
  const weighs = new Map<string, bigint>();
  const voted = new Set<string>();
  for (const r of originals) {
    const voter = voterOf(r.runner);
    if (voted.has(voter.operator)) continue;
    voted.add(voter.operator);
    weighs.set(r.outputDigest, (weighs.get(r.outputDigest) ?? 0n) + voter.weight);
  }
  const heaviest = [...weighs.values()].reduce((a, b) => (b > a ? b : a), 0n);
  return (index) => {
    const result = task.results[index];
    if (index < task.redundancy || result === undefined) return true;
    if ((weighs.get(result.outputDigest) ?? 0n) >= heaviest) return true;
    const record = voterOf(result.runner).record ?? 1n;
    return originals.every((o) => o.outputDigest === result.outputDigest || (voterOf(o.runner).record ?? 1n) <= record);
  };
}

/**
 * Each distinct operator's first result, tallied per digest (in the order digests first appear); escalation results
 * that may not carry the bond count without it (bondCounts).
 */
function tally(task: Task, voterOf: (runner: string) => Voter): { digests: Map<string, Tally>; bond: bigint; weight: bigint } {
  const voted = new Set<string>();
  const digests = new Map<string, Tally>();
  let bond = 0n;
  let weight = 0n;
  const withBond = bondCounts(task, voterOf);
  for (const [index, r] of task.results.entries()) {
    const counted = voterOf(r.runner);
    const voter = withBond(index) ? counted : { ...counted, bond: 0n };
    // The operator now and the one behind the lease (a runner that left or switched operators counts for both).
    const operators = r.operator === undefined ? [voter.operator] : [voter.operator, r.operator];
    if (operators.some((o) => voted.has(o))) continue;
    for (const o of operators) voted.add(o);
    const t = digests.get(r.outputDigest) ?? { operators: 0, bond: 0n, weight: 0n };
    digests.set(r.outputDigest, { operators: t.operators + 1, bond: t.bond + voter.bond, weight: t.weight + voter.weight });
    bond += voter.bond;
    weight += voter.weight;
  }
  return { digests, bond, weight };
}

/**
 * The winning digest, if any (README "Operators and redundancy"). Each distinct operator votes once (its first
 * result). A digest wins when the operators behind it hold more than half of the voters' bond AND carry more than
 * half of their vote weight (bond × record): identities of one operator count once, a record bought by wash trading
 * never outweighs bond (Sybils win only with most of the bond), and new identities agreeing on garbage do not outweigh
 * a runner with a record. With equal bonds (or bonds off) the bond condition is a majority of the voting operators.
 */
export function majorityDigest(
  task: Task,
  voterOf: (runner: string) => Voter = (runner) => ({ operator: runner, bond: 1n, weight: 1n })
): string | undefined {
  const { digests, bond, weight } = tally(task, voterOf);
  for (const [digest, t] of digests) if (t.bond * 2n > bond && t.weight * 2n > weight) return digest;
  return undefined;
}

/** How results without a majority voted, for the outcome: each digest (shortened) with its operators, bond and weight. */
function votesOf(task: Task, voterOf: (runner: string) => Voter): string {
  const { digests } = tally(task, voterOf);
  const votes = [...digests].map(([d, t]) => `${d.slice(7, 19)}: ${t.operators} operator(s), bond ${t.bond}, weight ${t.weight}`);
  const withBond = bondCounts(task, voterOf);
  const unbonded = task.results.filter((_r, index) => !withBond(index)).length;
  const left = unbonded === 0 ? '' : `; ${unbonded} escalation result(s) less proven than a result they oppose count no bond`;
  return `no majority of both bond and vote weight (${votes.join('; ')}${left})`;
}

/** The vote's outcome on the results in, by the weights (bond × record) that hold now. */
function countVote(store: Stores, task: Task): ReviewVote {
  const voters = votersOf(store);
  const digest = majorityDigest(task, voters);
  if (digest === undefined) return { winners: [], votes: votesOf(task, voters) };
  return { digest, winners: task.results.filter((r) => r.outputDigest === digest).map((r) => r.runner) };
}

/**
 * Every result the task waits for is in: the review starts, and the vote is counted once, now, because from now on
 * the requester reads the majority's output. Accept, reject and the review's end settle by this outcome: a requester
 * that read the output and then moved weights (accepting its Sybil's work elsewhere, rejecting the winners' other
 * tasks) cannot turn the majority it read into no majority, an escalation and a refund. The caller saves the task.
 */
export function enterReview(store: Stores, task: Task, now: bigint): void {
  delete task.outcome;
  task.state = 'review';
  task.reviewEndsAtNs = now + store.taskConfig().reviewWindowNs;
  task.reviewVote = countVote(store, task);
}

/**
 * The vote the task's review settles by: the one recorded at review entry. Tasks that entered review before it was
 * recorded get theirs from the migration after the upgrade (review-vote-migration.ts); until its step reaches them it
 * is counted here.
 */
export const reviewVoteOf = (store: Stores, task: Task): ReviewVote => task.reviewVote ?? countVote(store, task);

/**
 * Records the vote of a task in review that has none (it entered review before the vote was recorded), counted now,
 * once: every later decision settles by it. Returns whether it recorded one; the caller saves the task.
 */
export function recordMissingReviewVote(store: Stores, task: Task): boolean {
  if (task.state !== 'review' || task.reviewVote !== undefined) return false;
  task.reviewVote = countVote(store, task);
  return true;
}

/**
 * Records what the escrow owes the majority (if any): each winner its metered cost, the treasury its fee, the requester
 * the unused budget. Returns the winners and the protocol fee; no majority: nothing recorded, undefined.
 */
function payMajority(store: Stores, task: Task, now: bigint): { winners: string[]; protocolFeeE8s: bigint } | undefined {
  const { digest } = reviewVoteOf(store, task);
  if (digest === undefined) return undefined;
  const majority = task.results.filter((r) => r.outputDigest === digest);
  const winners = majority.map((r) => r.runner);
  task.paidRunners = winners;
  // An escalated task may have more winners than its redundancy: they share the same escrow (each capped at its share
  // of the runner pool), so the payouts never exceed what was escrowed.
  const paidAs = Math.max(task.redundancy, winners.length);
  // Each winner is paid its OWN counts at its own lease's prices: complete_task bounded them (input by the input's bytes
  // and the served context, output by the inline output's bytes and max_output_tokens), so a colluding winner reporting
  // 0 tokens cannot lower what an honest one is paid, and an inflated report raises only its own pay, within the bounds.
  const protocolFeeE8s = payWinners(
    store,
    now,
    { id: task.id, budgetE8s: task.rewardE8s, redundancy: paidAs, refundTo: task.refundTo },
    // A result stored before metering has no cost: it is paid the per-runner cap, as the flat reward was.
    majority.map((r) => ({
      runner: r.runner,
      costE8s:
        r.prices !== undefined
          ? meteredCostE8s(r.prices, r.inputTokens, r.outputTokens)
          : (r.costE8s ?? perRunnerCostCapE8s(store.taskConfig(), task.rewardE8s, paidAs))
    }))
  );
  return { winners, protocolFeeE8s };
}

/**
 * Ends a task and records what the escrow owes: on `accepted` the majority runners their metered cost, the treasury
 * its fee and the requester the unused budget; on `rejected` the same (the requester read the work it rejects: README
 * "Review"), but the work earns no emission, no vote weight and no affinity; otherwise, or without a majority, the
 * requester the whole budget. Payouts are recorded here, in the same message as the state change, and paid by
 * `duePayouts`.
 */
export function settle(
  store: Stores,
  task: Task,
  now: bigint,
  state: 'accepted' | 'rejected' | 'failed' | 'expired',
  outcome: string
): void {
  task.state = state;
  task.outcome = outcome;
  task.settledAtNs = now;
  task.leases = [];
  const paid = state === 'accepted' || state === 'rejected' ? payMajority(store, task, now) : undefined;
  if (paid === undefined) refundTask(store, now, task.id, task.refundTo, task.rewardE8s);
  else if (state === 'accepted') {
    const { winners, protocolFeeE8s } = paid;
    addAcceptedWork(store, now, task.requester, protocolFeeE8s, winners);
    // Vote weight grows only with work someone else paid a fee for (self-dealt completions would make it free).
    const independent = protocolFeeE8s > 0n ? winners.filter((runner) => !isSelfDealing(store, task.requester, runner)) : [];
    for (const runner of independent) recordIndependentAccepted(store, runner);
    // The requester's recent paid volume, which its rejections weigh by, and its per-runner rejection allowances.
    if (independent.length > 0) notePaidWork(store, task.requester, protocolFeeE8s, independent, now);
    // The session stays on the runner whose work was accepted (src/core/registry/affinity.ts), never on a mere report.
    const first = winners[0];
    if (task.request.affinityKey !== undefined && first !== undefined) store.affinity.bind(task.requester, task.request.affinityKey, first);
  }
  saveTask(store, task);
}

function requesterTask(store: Stores, caller: string, id: string): Result<Task> {
  if (caller === ANONYMOUS_PRINCIPAL) return err({ AnonymousCaller: null });
  const task = store.tasks.get(id);
  if (task === undefined) return err({ NotFound: { kind: { Task: null }, id } });
  if (task.requester !== caller) return err({ Unauthorized: { reason: 'only the requester may accept or reject a task' } });
  return ok(task);
}

/**
 * The requester accepts during review; with redundancy, only the majority is paid. Without a majority the call changes
 * nothing (the task stays in review): the timer escalates it when the review window ends (README "States"), so the
 * requester cannot choose the moment new places open and have its own operators claim them first.
 */
export function acceptTask(store: Stores, caller: string, now: bigint, id: string): Result<Task> {
  const found = requesterTask(store, caller, id);
  if ('Err' in found) return found;
  const task = found.Ok;
  if (task.state === 'accepted') return ok(task);
  if (task.state !== 'review') return err({ NotInReview: { task: id, state: task.state } });
  if (reviewVoteOf(store, task).digest === undefined) return ok(task);
  finishReview(store, task, now, 'accepted by the requester');
  return ok(task);
}

/**
 * Ends a review as accepted: the majority is paid, the out-voted results are punished. No majority escalates (see
 * `noMajority`): only the timer calls this without a majority, when the review window ends.
 */
export function finishReview(store: Stores, task: Task, now: bigint, outcome: string): void {
  const vote = reviewVoteOf(store, task);
  task.reviewVote = vote;
  const digest = vote.digest;
  if (digest === undefined) {
    noMajority(store, task, now, vote);
    return;
  }
  punishOutvoted(store, task, now, digest);
  settle(store, task, now, 'accepted', outcome);
}

/**
 * Results that agree on no majority are never a refund on their own (a requester's Sybil could undo an honest
 * completion with one disagreeing result): the task escalates for more results, offered first to proven runners of
 * operators not in it nor the requester's (escalation.ts). Only once the bound is reached is it a dispute: the task fails (and refunds), its outcome shows how
 * the results voted, and every runner in it loses the completion its result counted.
 */
function noMajority(store: Stores, task: Task, now: bigint, vote: ReviewVote): void {
  const votes = vote.votes ?? votesOf(task, votersOf(store));
  if (escalate(store, task, now, votes)) {
    saveTask(store, task);
    return;
  }
  for (const r of task.results) recordDisputed(store, r.runner);
  settle(store, task, now, 'failed', `disputed: ${votes}; the completions are undone`);
}

/**
 * An escalated task's deadline passed before all the results it asked for came in: a majority among the results in
 * goes to review like any other (the requester accepts or rejects), none is the dispute, with no further escalation.
 */
export function escalationTimedOut(store: Stores, task: Task, now: bigint): void {
  const vote = countVote(store, task);
  if (vote.digest === undefined) {
    for (const r of task.results) recordDisputed(store, r.runner);
    settle(store, task, now, 'failed', `disputed: ${vote.votes ?? ''}; the deadline passed; the completions are undone`);
    return;
  }
  enterReview(store, task, now);
  saveTask(store, task);
}

/** A runner whose output lost the vote against a majority of distinct operators counts as rejected, and its bond is slashed. */
function punishOutvoted(store: Stores, task: Task, now: bigint, digest: string): void {
  for (const r of task.results) {
    if (r.outputDigest === digest) continue;
    recordRejected(store, r.runner);
    slashBond(store, now, r.runner, store.taskConfig().treasury, 'lost vote');
  }
}

/**
 * The requester rejects during review. It read the output, so the work is paid as on acceptance (the majority its
 * metered cost, the treasury its fee, the rest refunded) but earns no emission, vote weight nor affinity. Each winning
 * runner counts a rejection weighted by the requester's recent paid volume (a fresh requester's weighs a tenth), at
 * most 1 + the tasks the requester accepted with it this epoch (past that, only its completion is taken back:
 * requester-weight.ts); a result that lost the vote counts a whole one and is slashed, as on acceptance. Without a
 * majority the call changes nothing, as acceptance (the requester read no output): the timer escalates the task when
 * the review window ends, and the requester decides again once it is back in review.
 */
export function rejectTask(store: Stores, caller: string, now: bigint, id: string, reason: string): Result<Task> {
  const found = requesterTask(store, caller, id);
  if ('Err' in found) return found;
  const task = found.Ok;
  if (task.state === 'rejected') return ok(task);
  if (task.state !== 'review') return err({ NotInReview: { task: id, state: task.state } });
  // Once the window has ended the task is accepted, even if the timer has not run yet.
  if (task.reviewEndsAtNs !== undefined && task.reviewEndsAtNs <= now)
    return err({ ReviewEnded: { task: id, ended_at_ns: task.reviewEndsAtNs } });
  if (reason.length === 0 || reason.length > MAX_REASON_LENGTH)
    return err({ InvalidArgument: { field: 'reason', reason: `must be 1 to ${MAX_REASON_LENGTH} characters` } });
  const vote = reviewVoteOf(store, task);
  const digest = vote.digest;
  if (digest === undefined) return ok(task);
  task.reviewVote = vote;
  punishOutvoted(store, task, now, digest);
  const weight = rejectionWeightOf(store, caller, now);
  for (const r of task.results) {
    if (r.outputDigest !== digest) continue;
    // Past the pair's allowance the rejection only takes back the completion its result counted.
    if (countRejection(store, caller, r.runner, now)) recordRequesterRejection(store, r.runner, weight);
    else recordDisputed(store, r.runner);
  }
  settle(store, task, now, 'rejected', `rejected by the requester: ${reason}`);
  return ok(task);
}

/**
 * Organizing memory (issue 15 §2): in the home of the Mayor and of each crew
 * member, daily logs older than `memory.rollup_after_days` are rolled into
 * weekly files, deterministically (core/memory rollupMemory says why), one
 * commit per home by the agent's identity.
 */
import { memoryOwners, rollupMemory } from '../memory/memory.js';
import type { Dog, DogAction, DogContext } from './types.js';

async function run(ctx: DogContext): Promise<DogAction[]> {
  const { town } = ctx;
  const days = town.config.memory.rollup_after_days;
  const actions: DogAction[] = [];
  for (const identity of await memoryOwners(town)) {
    const rolled = await rollupMemory(town, identity, days, { dryRun: ctx.dryRun });
    for (const week of rolled.weeks)
      actions.push({ action: 'rolled', target: `${identity.address}: ${week.file}`, detail: `${week.days.length} daily log(s): ${week.days.join(', ')}` });
  }
  return actions;
}

export const memoryDog: Dog = {
  name: 'memory',
  description: "Daily memory logs older than memory.rollup_after_days (14) rolled into weekly files in the Mayor's and crew's homes, one commit each",
  idleReason: (town) => (town.config.memory.rollup_after_days > 0 ? undefined : 'memory.rollup_after_days is 0'),
  run,
};

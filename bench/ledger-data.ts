/**
 * The benches' ledger: a deterministic 50,000-issue JSONL of realistic shape
 * (the same generator as bench/ledger.ts), shared by bench/import.ts,
 * bench/daemon.ts and bench/swarm.ts.
 */
/** A deterministic pseudo-random sequence, so every run measures the same ledger. */
export function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/**
 * Realistic shape: epics with children and grandchildren (parent-child), work
 * that depends on earlier work (blocks, always pointing back so the graph stays
 * acyclic), and related/discovered-from links; 45 % closed, 10 % in progress.
 */
export function generateLedgerJsonl(ISSUES: number, options: { edges?: number; prefixes?: string[] } = {}): string {
  const EDGES = options.edges ?? ISSUES * 2;
  const prefixes = options.prefixes ?? ['bench'];
  const random = rng(42);
  // Each epic and its children share a prefix (a rig's beads), epics spread over the prefixes.
  const ids = Array.from({ length: ISSUES }, (_, i) => `${prefixes[Math.floor(i / 12) % prefixes.length] as string}-${i.toString(36)}`);
  const deps: Array<Array<{ depends_on_id: string; type: string }>> = ids.map(() => []);
  const statuses: string[] = ids.map(() => {
    const r = random();
    return r < 0.45 ? 'closed' : r < 0.55 ? 'in_progress' : 'open';
  });
  let edges = 0;
  const has = (i: number, j: number) => deps[i]?.some((d) => d.depends_on_id === ids[j]) ?? false;
  // parent-child: every 12th issue is an epic; the next 11 are its children, some of those get a grandchild edge.
  for (let i = 0; i < ISSUES; i++) {
    const epic = i - (i % 12);
    if (i !== epic) {
      const parent = i % 12 > 8 ? epic + 1 : epic;
      if (parent !== i) {
        deps[i]?.push({ depends_on_id: ids[parent] as string, type: 'parent-child' });
        edges++;
      }
    }
  }
  const types = ['blocks', 'blocks', 'blocks', 'related', 'discovered-from'];
  while (edges < EDGES) {
    const i = 1 + Math.floor(random() * (ISSUES - 1));
    // Mostly near neighbours (chains), sometimes far back: depth grows realistically.
    const back = random() < 0.8 ? 1 + Math.floor(random() * 30) : 1 + Math.floor(random() * i);
    const j = Math.max(0, i - back);
    if (j === i || has(i, j)) continue;
    deps[i]?.push({ depends_on_id: ids[j] as string, type: types[Math.floor(random() * types.length)] as string });
    edges++;
  }
  const lines: string[] = [];
  const base = Date.parse('2026-01-01T00:00:00Z');
  for (let i = 0; i < ISSUES; i++) {
    const created = new Date(base + i * 60_000).toISOString();
    const status = statuses[i] as string;
    const record: Record<string, unknown> = {
      id: ids[i],
      title: `Benchmark issue ${i}: ${i % 12 === 0 ? 'epic' : 'task'} for area ${i % 97}`,
      description: `Generated for the ledger benchmark. Item ${i}.`,
      status,
      priority: Math.floor(random() * 5),
      issue_type: i % 12 === 0 ? 'epic' : random() < 0.2 ? 'bug' : 'task',
      created_at: created,
      updated_at: created,
      labels: [`area:${i % 97}`, ...(random() < 0.3 ? ['backend'] : [])],
      dependencies: (deps[i] ?? []).map((d) => ({ issue_id: ids[i], ...d, created_at: created, created_by: 'bench' })),
    };
    if (status === 'closed') record.closed_at = created;
    if (status === 'in_progress') record.assignee = `agent-${i % 40}`;
    lines.push(JSON.stringify(record));
  }
  return `${lines.join('\n')}\n`;
}

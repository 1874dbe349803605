// B4: cost of the TypeScript ChannelStore (codegen/runtime) applying a one-record patch and building a
// snapshot, against rebuilding the nested state from scratch. Compiled and run by bench/client.py;
// prints one JSON object on stdout. Usage: node store_bench.js <repeats> <patches> <cards...>
import { ChannelStore, feedOf } from "../codegen/runtime/store.js";
import { bigBoard, boardModel, card, event, snapshot } from "../codegen/runtime/testing/board.js";

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

function sample(values: number[]): { median: number; low: number; high: number; runs: number } {
  return { median: median(values), low: Math.min(...values), high: Math.max(...values), runs: values.length };
}

const [repeatsArg, patchesArg, ...sizeArgs] = process.argv.slice(2);
const repeats = Number(repeatsArg ?? "5");
const patches = Number(patchesArg ?? "200");
const sizes = sizeArgs.length ? sizeArgs.map(Number) : [1000, 10000, 100000];
const out: Record<string, unknown> = {};

// "<cards>" boards have 10 columns (10k cards per list at 100k); "<cards>n" boards have columns of 100
// cards, so that the cost of copying the list holding the changed card stays out of the figure.
const boards = [...sizes.map((cards) => ({ name: String(cards), cards, columns: 10 }))];
const largest = Math.max(...sizes);
boards.push({ name: `${largest}n`, cards: largest, columns: Math.max(10, largest / 100) });

for (const { name, cards, columns } of boards) {
  const records = bigBoard(cards, columns);
  const snapshotSeconds: number[] = [];
  const patchSeconds: number[] = [];
  // Small snapshots are timed over several builds per sample, so that a GC pause or a JIT tier-up does
  // not decide the 1k figure the linearity check multiplies by 100.
  const builds = Math.min(20, Math.max(1, Math.round(100_000 / cards / 5)));
  for (let r = 0; r < repeats + 1; r++) {
    let store = new ChannelStore(boardModel);
    const started = performance.now();
    for (let b = 0; b < builds; b++) {
      store = new ChannelStore(boardModel);
      feedOf(store).apply(snapshot("e.1", records));
      if (store.state === null) throw new Error("no state");
    }
    const built = (performance.now() - started) / builds / 1000;
    // Per-patch cost: the median patch of the run (a patch that meets a GC pause is not typical).
    const times: number[] = [];
    for (let i = 0; i < patches; i++) {
      const id = String((i * 7919) % cards);
      const patch = event(`e.${i + 2}`, [card(id, { title: `changed ${r}.${i}`, assignee: "u1", labels: ["l1"] })]);
      const t0 = performance.now();
      feedOf(store).apply(patch);
      if (store.state === null) throw new Error("no state");
      times.push(performance.now() - t0);
    }
    if (r === 0) continue; // warm-up run (JIT)
    snapshotSeconds.push(built);
    patchSeconds.push(median(times) / 1000);
  }
  out[name] = { records: records.length, snapshot: sample(snapshotSeconds), patch: sample(patchSeconds) };
}
process.stdout.write(JSON.stringify(out) + "\n");

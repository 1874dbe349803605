// B4: cost of the TypeScript ChannelStore (codegen/runtime) applying a one-record patch and building a
// snapshot, against rebuilding the nested state from scratch. Compiled and run by bench/client.py;
// prints one JSON object on stdout. Usage: node store_bench.js <repeats> <patches> <cards...>
import { ChannelStore } from "../codegen/runtime/store.js";
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

for (const cards of sizes) {
  const records = bigBoard(cards);
  const snapshotSeconds: number[] = [];
  const patchSeconds: number[] = [];
  for (let r = 0; r < repeats + 1; r++) {
    const store = new ChannelStore(boardModel);
    const started = performance.now();
    store.apply(snapshot("e.1", records));
    if (store.state === null) throw new Error("no state");
    const built = (performance.now() - started) / 1000;
    let total = 0;
    for (let i = 0; i < patches; i++) {
      const id = String((i * 7919) % cards);
      const patch = event(`e.${i + 2}`, [card(id, { title: `changed ${r}.${i}`, assignee: "u1", labels: ["l1"] })]);
      const t0 = performance.now();
      store.apply(patch);
      if (store.state === null) throw new Error("no state");
      total += performance.now() - t0;
    }
    if (r === 0) continue; // warm-up run (JIT)
    snapshotSeconds.push(built);
    patchSeconds.push(total / patches / 1000);
  }
  out[String(cards)] = { records: records.length, snapshot: sample(snapshotSeconds), patch: sample(patchSeconds) };
}
process.stdout.write(JSON.stringify(out) + "\n");

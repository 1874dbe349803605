// Where the board pages keep their last state between reloads (IndexedDB; see runtime/persist.ts).
import { IndexedDBCache } from "./generated";

export const offlineCache = new IndexedDBCache("rxgraphql-example");

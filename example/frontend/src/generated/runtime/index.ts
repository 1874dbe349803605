/**
 * Public API of the rxgraphql client runtime (everything but the React hooks).
 *
 * The React hooks live in `./hooks.js` (`useChannel`, `useConnectionStatus`), the only module that imports
 * `react`, so apps without React compile this runtime with `graphql-ws` alone.
 */

export type {
  ChannelEvent,
  ChannelModel,
  ConnectionStatus,
  FlatRecord,
  RecordRef,
  RefSpec,
  TypeSpec,
} from "./model.js";
export { recordKey } from "./model.js";
export { isStale, parseCursor } from "./cursor.js";
export type { ParsedCursor } from "./cursor.js";
export { CloseCodes, ErrorCodes, RxGraphQLError, ServerErrorCodes } from "./errors.js";
export type { CloseCode, ErrorCode, GraphQLErrorLike, RuntimeErrorCode, ServerErrorCode } from "./errors.js";
export { ValueCell } from "./observable.js";
export type { ReadableValue } from "./observable.js";
export type { GraphStats } from "./graph.js";
export { ChannelStore } from "./store.js";
export type { ChannelStoreOptions, ChannelView, StoredState, StoreStats } from "./store.js";
export type {
  FlatRecordPatch,
  OptimisticChange,
  OptimisticHandle,
  OptimisticOptions,
  OptimisticStatus,
  RefInsert,
  RefRemoval,
} from "./optimistic.js";
export { IndexedDBCache, MemoryCache, modelVersion, persistStore } from "./persist.js";
export type { CacheEntry, PersistentCache, Persistence, PersistOptions } from "./persist.js";
export { Connection, fullJitterBackoff, UNAUTHORIZED_CLOSE_CODE } from "./transport.js";
export type {
  ChannelSubscription,
  ConnectionOptions,
  RequestOptions,
  SubscribeChannelOptions,
  TokenRequest,
  TokenSource,
  TokenValue,
} from "./transport.js";

import { createSourceEventStream, execute, type ExecutionArgs, type ExecutionResult } from "graphql";
import type { ShelfEvent } from "../events/bus.js";
import type { Context } from "./context.js";

/**
 * Runs a subscription as graphql-js's `subscribe` does, except that the result of one event for
 * one operation is worked out once and shared by every subscriber that sent the same operation
 * (same text, variables and viewer): a change heard by a thousand subscribers is resolved once,
 * not a thousand times. The bus hands every subscriber the same event object, which keys the
 * sharing; results are kept only as long as that object lives.
 *
 * Each result also says when its change was written (`extensions.changedAt`).
 */
export async function sharedSubscribe(args: ExecutionArgs, operationKey: string): Promise<AsyncIterableIterator<ExecutionResult> | ExecutionResult> {
  const source = await createSourceEventStream(args);
  if (!isAsyncIterable(source)) return source as ExecutionResult;
  const viewer = (args.contextValue as Context).viewer;
  const key = `${viewer.ownerId}\n${viewer.admin}\n${operationKey}`;
  return mapEvents(source, (event) => {
    let byOperation = shared.get(event as object);
    if (!byOperation) shared.set(event as object, (byOperation = new Map()));
    let result = byOperation.get(key);
    if (!result) {
      result = Promise.resolve(execute({ ...args, rootValue: event })).then((r) => withChangedAt(r, event as ShelfEvent));
      byOperation.set(key, result);
    }
    return result;
  });
}

const shared = new WeakMap<object, Map<string, Promise<ExecutionResult>>>();

function withChangedAt(result: ExecutionResult, event: ShelfEvent): ExecutionResult {
  if (typeof event?.writtenAt !== "number") return result;
  return { ...result, extensions: { ...result.extensions, changedAt: new Date(event.writtenAt).toISOString() } };
}

function isAsyncIterable(value: unknown): value is AsyncIterable<unknown> {
  return typeof (value as AsyncIterable<unknown>)?.[Symbol.asyncIterator] === "function";
}

/** The source's events mapped; `return()` reaches the source at once, so its listener goes. */
function mapEvents<R>(source: AsyncIterable<unknown>, map: (event: unknown) => Promise<R>): AsyncIterableIterator<R> {
  const iterator = source[Symbol.asyncIterator]();
  const close = async (): Promise<IteratorResult<R>> => {
    await iterator.return?.();
    return { value: undefined, done: true };
  };
  return {
    async next() {
      const next = await iterator.next();
      if (next.done) return { value: undefined, done: true };
      try {
        return { value: await map(next.value), done: false };
      } catch (err) {
        await close().catch(() => {});
        throw err;
      }
    },
    return: close,
    async throw(error?: unknown) {
      await close();
      throw error;
    },
    [Symbol.asyncIterator]() {
      return this;
    },
  };
}

// SPDX-License-Identifier: MIT
//
// once() and collect(), shared by sockets and sessions, in the shape of Node's events.once():
// an AbortSignal rejects with AbortError (ABORT_ERR), a `timeout` with TimeoutError (ETIMEDOUT),
// the session closing with SessionClosedError (ERR_WSKB_SESSION_CLOSED).
//
// They never swallow an event: the subscription behind them claims at most the events asked
// for, and a deadline or an abort releases it synchronously, before any later event can be
// dispatched to it. Events that do not match (another type, a filter that says no) stay
// unclaimed for the next iterator or once().

import { AbortError, checkInteger, checkOptions, invalidArgType, invalidArgValue, TimeoutError } from './errors.js';
import type { EventsOptions, WskBridgeEvent, WskBridgeEventOf, WskBridgeEventType } from './events.js';

/** Every event type, for validating `types`. */
export const EVENT_TYPES: readonly WskBridgeEventType[] = [
  'receive',
  'receiveClosed',
  'disconnect',
  'sendBacklog',
  'accept',
  'inspect',
  'abort',
  'receiveFrom',
  'flowPaused',
  'flowResumed',
  'datagramsDropped',
  'acceptsRefused',
  'socketClosed',
];

export interface OnceOptions<E extends WskBridgeEvent = WskBridgeEvent> {
  /** Rejects with an AbortError (code 'ABORT_ERR', `cause` the signal's reason). Pass node:test's `t.signal`. */
  signal?: AbortSignal;
  /** Milliseconds; rejects with a TimeoutError (code 'ETIMEDOUT'). */
  timeout?: number;
  /** Only an event for which this returns true; the others stay unclaimed. */
  filter?: (event: E) => boolean;
}

export interface CollectOptions extends OnceOptions {
  /** Only events of these types; the others stay unclaimed. */
  types?: readonly WskBridgeEventType[];
}

/** What a source of events (a socket, a session) offers once() and collect(). */
export interface EventSource {
  /** `socket 0x10001`, `session`: for messages. */
  what: string;
  subscribe(options: EventsOptions, extra: { filter?: (event: WskBridgeEvent) => boolean; limit?: number }): AsyncIterableIterator<WskBridgeEvent>;
  /** The error for events that ended (the socket or the session closed) before enough came. */
  ended(message: string): Error;
}

const EVENTS_OPTION_KEYS = ['signal', 'types', 'highWaterMark', 'lowWaterMark', 'overflow', 'batch'] as const;

/** Validates events() options (unknown keys and types are refused with Node-style codes). */
export function checkEventsOptions(options: EventsOptions | undefined): EventsOptions {
  checkOptions('options', options, EVENTS_OPTION_KEYS);
  const o = options ?? {};
  checkTypes(o.types);
  if (o.signal !== undefined && !(o.signal instanceof AbortSignal)) throw invalidArgType('options.signal', 'an AbortSignal', o.signal);
  if (o.highWaterMark !== undefined) checkInteger('options.highWaterMark', o.highWaterMark, 1, 2 ** 31 - 1);
  if (o.lowWaterMark !== undefined) checkInteger('options.lowWaterMark', o.lowWaterMark, 0, 2 ** 31 - 1);
  return o;
}

function checkTypes(types: unknown): void {
  if (types === undefined) return;
  if (!Array.isArray(types)) throw invalidArgType('options.types', 'an array of event types', types);
  for (const type of types) {
    if (!EVENT_TYPES.includes(type)) throw invalidArgValue('options.types', type, `must list event types (${EVENT_TYPES.join(', ')})`);
  }
}

function checkWaitOptions(options: CollectOptions | undefined, keys: readonly string[]): CollectOptions {
  checkOptions('options', options, keys);
  const o = options ?? {};
  if (o.signal !== undefined && !(o.signal instanceof AbortSignal)) throw invalidArgType('options.signal', 'an AbortSignal', o.signal);
  if (o.timeout !== undefined) checkInteger('options.timeout', o.timeout, 0, 2 ** 31 - 1);
  if (o.filter !== undefined && typeof o.filter !== 'function') throw invalidArgType('options.filter', 'a function', o.filter);
  checkTypes(o.types);
  return o;
}

/** The next `count` events that match, in order. */
export async function collectFrom(
  source: EventSource,
  what: string,
  count: number,
  options: CollectOptions | undefined,
  keys: readonly string[] = ['signal', 'timeout', 'filter', 'types'],
): Promise<WskBridgeEvent[]> {
  checkInteger('count', count, 1, 2 ** 31 - 1);
  const o = checkWaitOptions(options, keys);
  if (o.signal?.aborted) throw new AbortError(undefined, { cause: o.signal.reason });
  const controller = new AbortController();
  let timedOut = false;
  const onAbort = () => controller.abort(o.signal!.reason);
  o.signal?.addEventListener('abort', onAbort, { once: true });
  const timer =
    o.timeout === undefined
      ? undefined
      : setTimeout(() => {
          timedOut = true;
          controller.abort();
        }, o.timeout);
  const received: WskBridgeEvent[] = [];
  // A filter runs inside the pump's dispatch: one that throws must not break the pump. Its
  // error ends this wait (the event it threw on stays unclaimed).
  let filterError: { error: unknown } | undefined;
  const userFilter = o.filter;
  const filter =
    userFilter &&
    ((event: WskBridgeEvent): boolean => {
      try {
        return userFilter(event);
      } catch (error) {
        filterError ??= { error };
        queueMicrotask(() => controller.abort());
        return false;
      }
    });
  try {
    const iterator = source.subscribe({ signal: controller.signal, ...(o.types ? { types: o.types } : {}) }, { ...(filter ? { filter } : {}), limit: count });
    while (received.length < count) {
      let result: IteratorResult<WskBridgeEvent>;
      try {
        result = await iterator.next();
      } catch (error) {
        if (filterError) throw filterError.error;
        if (timedOut) {
          throw new TimeoutError(`${what}: ${received.length} of ${count} event(s) within ${o.timeout} ms${received.length ? ` (got ${received.map((e) => e.type).join(', ')})` : ''}`, received);
        }
        throw error;
      }
      if (result.done) {
        throw source.ended(`${what}: ${received.length} of ${count} event(s) came before the events ended`);
      }
      received.push(result.value);
    }
    return received;
  } finally {
    if (timer) clearTimeout(timer);
    o.signal?.removeEventListener('abort', onAbort);
  }
}

/** The next event of `type` that passes `filter`. */
export async function onceFrom<T extends WskBridgeEventType>(
  source: EventSource,
  type: T,
  options: OnceOptions<WskBridgeEventOf<T>> | undefined,
): Promise<WskBridgeEventOf<T>> {
  if (!EVENT_TYPES.includes(type)) throw invalidArgValue('type', type, `must be an event type (${EVENT_TYPES.join(', ')})`);
  const o = options ?? {};
  checkOptions('options', options, ['signal', 'timeout', 'filter']);
  const [event] = await collectFrom(
    source,
    `${source.what}.once('${type}')`,
    1,
    { ...o, types: [type], filter: o.filter as ((event: WskBridgeEvent) => boolean) | undefined },
    ['signal', 'timeout', 'filter', 'types'],
  );
  return event as WskBridgeEventOf<T>;
}

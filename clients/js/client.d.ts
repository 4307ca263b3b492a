// Type declarations of @switchboard/client (client.js), written by hand.

/** What a channel runs on; 'auto' tries ws, then sse, then longpoll, and keeps the first that opens. */
export type Transport = 'auto' | 'ws' | 'sse' | 'longpoll';

export type State = 'connecting' | 'open' | 'reconnecting' | 'closed';

export interface ConnectOptions {
  /** The hub's base URL, e.g. `location.origin` or `http://127.0.0.1:8080` (the client adds `/v1/…`). */
  url: string;
  /** Default 'auto'. */
  transport?: Transport;
  /** A bearer token: `Authorization: Bearer …` on HTTP, `?access_token=` on the WebSocket handshake. */
  token?: string;
  /** Called before every connection, reconnection and request, so an expired token is replaced. */
  getToken?: () => string | null | undefined | Promise<string | null | undefined>;
  /** Reconnect backoff in ms: exponential from `initial` to `max` with full jitter (default 250 / 30000). */
  reconnect?: { initial?: number; max?: number };
  /** Retries of a REST publish after 429/502/503/504 or a network failure (default 4). */
  publishAttempts?: number;
  /** Seconds a long poll waits at the hub (default 25, at most 60). */
  wait?: number;
  /** Ms an SSE stream may stay silent, or its request unanswered (the hub answers at once and sends heartbeats, every 15 s by default), before it is reconnected (default 45000; 0: never). */
  idle?: number;
  /** A WebSocket constructor where there is no global one (Node 20: `import WebSocket from 'ws'`). */
  WebSocket?: unknown;
  /** A fetch function (default: the global fetch; needs streaming response bodies for SSE). */
  fetch?: typeof fetch;
}

export interface Message<T = unknown> {
  id: string;
  topic: string;
  /** The event name, if the publisher gave one. */
  event?: string;
  contentType: string;
  /** Parsed JSON for JSON content types, a string for text, a Uint8Array for anything else. */
  data: T;
  /** ISO-8601 time the hub stored it (not carried by SSE). */
  time?: string;
}

export interface SubscribeOptions {
  /** Resume after this id: every message after it that the hub still holds, then live ones. */
  after?: string | null;
  /** History no longer reaches back to the id (reason 'history_gap'): the oldest retained messages follow. */
  onReset?: (reason: string) => void;
  /** The subscription was refused (401, 403, 400 invalid_id…) and has ended. */
  onError?: (error: SwitchboardError) => void;
  /** Called each time the subscription is (re)established on a connection. */
  onSubscribed?: (info: { recovered?: boolean }) => void;
}

export interface Subscription {
  readonly topic: string;
  /** The id of the last message delivered (or `after` until then): keep it to resume later. */
  readonly lastId: string | null;
  readonly active: boolean;
  unsubscribe(): void;
}

export interface PublishOptions {
  /** An event name (SSE `event:`). */
  event?: string;
  /** Default: application/json for values, text/plain; charset=utf-8 for strings, application/octet-stream for bytes. */
  contentType?: string;
  /** Over SSE and long polling (REST): the key that makes retries safe; random if absent. */
  idempotencyKey?: string;
  /** This publish's retries, instead of the channel's publishAttempts. */
  attempts?: number;
}

export interface Published {
  id: string;
  topic: string;
  /** ISO-8601; absent from acks of hubs older than this client. */
  time?: string;
}

export interface Channel {
  /** The transport in use (or being tried while 'auto' decides). */
  readonly transport: 'ws' | 'sse' | 'longpoll' | null;
  readonly state: State;
  /** Why the channel last went down or closed. */
  readonly error: SwitchboardError | null;
  readonly url: string;
  /** 'state' gets (state, error); a state's own name gets (error). Returns a function that removes the listener. */
  on(type: 'state', listener: (state: State, error?: SwitchboardError) => void): () => void;
  on(type: State, listener: (error?: SwitchboardError) => void): () => void;
  /** One subscription per topic per channel; messages of a topic arrive in publish order, exactly once across reconnects. */
  subscribe<T = unknown>(topic: string, onMessage: (message: Message<T>) => void, options?: SubscribeOptions): Subscription;
  /**
   * Bytes (Uint8Array/ArrayBuffer) go as bytes, strings as text, anything else as JSON. Over
   * WebSocket it resolves on the hub's ack (and rejects with status 503 if the connection dropped
   * first: it may or may not be stored); over SSE and long polling it is a POST with an
   * Idempotency-Key, retried safely.
   */
  publish(topic: string, data: unknown, options?: PublishOptions): Promise<Published>;
  close(): void;
}

export class SwitchboardError extends Error {
  /** HTTP-like status: 400, 401, 403, 404, 409, 413, 415, 422, 429, 503… */
  readonly status: number;
  /** The hub's short error code (e.g. 'invalid_topic', 'unauthenticated', 'unavailable'). */
  readonly code: string;
  /** The server's Retry-After, in ms. */
  readonly retryAfter?: number;
  constructor(status: number, code: string, message?: string, retryAfter?: number);
}

export function connect(options: ConnectOptions): Channel;

/**
 * The few parts of ShareDB and @teamwork/websocket-json-stream the consumer tests use (neither ships types).
 */
declare module "sharedb/lib/client/index.js" {
  export type Callback<T = void> = (error: Error | null | undefined, result: T) => void;
  export class Doc {
    readonly version: number | null;
    readonly data: unknown;
    preventCompose: boolean;
    create(data: unknown, callback?: Callback): void;
    fetch(callback: Callback): void;
    subscribe(callback: Callback): void;
    submitOp(op: unknown[], callback?: Callback): void;
    hasPending(): boolean;
    whenNothingPending(callback: () => void): void;
  }
  export class Connection {
    constructor(socket: unknown);
    readonly state: string;
    get(collection: string, id: string): Doc;
    on(event: string, listener: (...args: unknown[]) => void): this;
    close(): void;
  }
}

declare module "sharedb" {
  import type { Duplex } from "node:stream";
  import type { Callback, Connection } from "sharedb/lib/client/index.js";

  interface StoredOp {
    readonly v: number;
    readonly op?: unknown[];
    readonly src: string;
    readonly seq: number;
  }
  class Backend {
    constructor(options?: object);
    readonly db: {
      getOps(
        collection: string,
        id: string,
        from: number,
        to: number | null,
        options: object,
        callback: Callback<StoredOp[]>,
      ): void;
    };
    listen(stream: Duplex): void;
    connect(): Connection;
    close(callback?: () => void): void;
  }
  export = Backend;
}

declare module "@teamwork/websocket-json-stream" {
  import { Duplex } from "node:stream";

  class WebSocketJSONStream extends Duplex {
    constructor(ws: unknown);
  }
  export = WebSocketJSONStream;
}

/**
 * URL checks at creation time: a URL that can never connect (`"not a url"`, `ftp://…`) is a misconfiguration,
 * thrown at once as a TypeError naming the option, not an error retried for ever.
 *
 * WebSocket: an absolute `ws:`, `wss:`, `http:` or `https:` URL (browsers and `ws` turn `http(s)` into
 * `ws(s)`). A relative URL only where the WebSocket constructor itself resolves one: a page or worker with a
 * `location`, against its address. Socket.IO: what socket.io-client's `io()` accepts, and only when it names a
 * host: absolute `http(s):`/`ws(s):`, a scheme-less `host:port/path` (socket.io-client adds the scheme), and,
 * with a `location`, `/path` and `//host/path`.
 */
import { describe } from "../describe.js";

/** Longest part of a bad URL quoted in an error message. */
const MAX_QUOTED = 100;
const PROTOCOLS = new Set(["ws:", "wss:", "http:", "https:"]);
const WANTED = "an absolute ws:, wss:, http: or https: URL";

function pageAddress(): string | undefined {
  const href = (globalThis as { location?: { href?: unknown } }).location?.href;
  return typeof href === "string" ? href : undefined;
}

function parse(value: string, base?: string): URL | undefined {
  try {
    return new URL(value, base);
  } catch {
    return undefined;
  }
}

/**
 * Why `url` cannot be a WebSocket address (`owner: url must be …; got "…"`), or undefined when it can.
 * `what` names the value in the message (`url`, `url()`'s result).
 */
export function webSocketUrlProblem(owner: string, url: string | URL, what = "url"): string | undefined {
  const text = String(url);
  const page = pageAddress();
  const parsed = parse(text) ?? (page === undefined ? undefined : parse(text, page));
  if (parsed !== undefined && PROTOCOLS.has(parsed.protocol)) return undefined;
  const relative = page === undefined ? " (a relative URL needs a page to resolve against)" : "";
  return `${owner}: ${what} must be ${WANTED}${relative}; got ${describe(text, MAX_QUOTED)}`;
}

/** Throws a TypeError saying why, when `url` cannot be a Socket.IO server address (see the module comment). */
export function checkSocketIoUrl(owner: string, url: string, what = "url"): void {
  const page = pageAddress();
  // A path resolves against the page (none: no URL); socket.io-client puts the page's scheme (else https:) in
  // front of a scheme-less `host:port/path`.
  const parsed = parse(/^([a-z][a-z0-9+.-]*:\/)?\//i.test(url) ? url : `https://${url}`, page);
  if (parsed !== undefined && PROTOCOLS.has(parsed.protocol) && parsed.host !== "") return;
  const relative = page === undefined ? ", or host:port/path" : ", host:port/path, or a path on this page";
  throw new TypeError(`${owner}: ${what} must be ${WANTED}${relative}; got ${describe(url, MAX_QUOTED)}`);
}

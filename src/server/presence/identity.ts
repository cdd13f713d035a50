/**
 * Who a sync is from: `authorize` (given the connection, whose `request` is the upgrade request or the
 * handshake) grants a member id and spaces, and names the identity the per-identity limits count against.
 * Without `authorize` the hub trusts the member id a client names, and each connection is its own identity.
 */
import type { PresenceAuthorize, PresenceConnection, SyncRequest } from "./hub-options.js";

/** A refusal reason, or the identity the sync's seat is held by. */
export type SyncDecision = string | { readonly identity: string };

/** Applies `authorize` to one sync. Never throws: an `authorize` that throws refuses. */
export function authorizeSync(
  authorize: PresenceAuthorize | undefined,
  connection: PresenceConnection,
  request: SyncRequest,
  connectionKey: string,
): SyncDecision {
  if (authorize === undefined) return { identity: connectionKey };
  let grant: ReturnType<PresenceAuthorize>;
  try {
    grant = authorize(connection, { space: request.space, member: request.member });
  } catch {
    return "unauthorized";
  }
  if (grant === true) return { identity: connectionKey };
  if (grant === null || typeof grant !== "object") return "unauthorized";
  if (grant.member !== request.member) return "member-not-owned";
  if (grant.spaces !== undefined && !grant.spaces.includes(request.space)) return "unauthorized";
  const identity = grant.identity ?? grant.member;
  return { identity: `=${typeof identity === "string" ? identity : grant.member}` };
}

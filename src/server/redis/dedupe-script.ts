/**
 * The Deduplicator's store on Redis as three Lua scripts (claim, commit, release), each one atomic step at
 * Redis's clock. A session is a hash `<prefix>dd:<digest>` — `last` (highest processed seq, as written),
 * and while a node processes a message `token` and `until` (the claim and its lease) — and each owner's
 * sessions are a sorted set `<prefix>ddo:<owner digest>` (member: the session digest, score: last commit),
 * capped per owner, oldest forgotten first.
 *
 * KEYS[1] the session hash, KEYS[2] the owner's set. Sequence numbers are passed and kept as the decimal
 * strings the Deduplicator wrote (safe integers up to 2^53, which Lua's `tostring` would round).
 */

/** Lua: the current time in ms (`ARGV[n]` when given, for tests; else Redis's TIME). */
const NOW = (arg: number) => `
local now
if ARGV[${arg}] ~= '' then now = tonumber(ARGV[${arg}]) else
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end`;

/** ARGV: seq, token, leaseMs, ttlMs, now. Returns {'duplicate', last} | {'busy', retryInMs} | {'claimed'}. */
export const DEDUPE_CLAIM_SCRIPT = `${NOW(5)}
local seq = tonumber(ARGV[1])
local v = redis.call('HMGET', KEYS[1], 'last', 'token', 'until')
local last = tonumber(v[1]) or 0
if seq <= last then return { 'duplicate', v[1] } end
local untilMs = tonumber(v[3]) or 0
if v[2] and untilMs > now then return { 'busy', tostring(math.ceil(untilMs - now)) } end
local lease = tonumber(ARGV[3])
redis.call('HSET', KEYS[1], 'token', ARGV[2], 'until', tostring(now + lease))
local ttl = redis.call('PTTL', KEYS[1])
if ttl < lease then redis.call('PEXPIRE', KEYS[1], math.max(lease, tonumber(ARGV[4]))) end
return { 'claimed' }
`;

/**
 * ARGV: seq, token, ttlMs, maxPerOwner, session digest, key prefix of sessions (`<prefix>dd:`), now.
 * Records seq (never lowering), ends the claim if it is still the caller's, bounds the owner's set. Returns
 * 1 when the claim was still the caller's, 0 when its lease had run out and another took it.
 */
export const DEDUPE_COMMIT_SCRIPT = `${NOW(7)}
local v = redis.call('HMGET', KEYS[1], 'last', 'token')
if (tonumber(v[1]) or 0) < tonumber(ARGV[1]) then redis.call('HSET', KEYS[1], 'last', ARGV[1]) end
local mine = 0
if v[2] == ARGV[2] then
  redis.call('HDEL', KEYS[1], 'token', 'until')
  mine = 1
end
local ttl = tonumber(ARGV[3])
redis.call('PEXPIRE', KEYS[1], ttl)
redis.call('ZADD', KEYS[2], now, ARGV[5])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - ttl)
local over = redis.call('ZCARD', KEYS[2]) - tonumber(ARGV[4])
if over > 0 then
  local gone = redis.call('ZPOPMIN', KEYS[2], over)
  for i = 1, #gone, 2 do redis.call('DEL', ARGV[6] .. gone[i]) end
end
redis.call('PEXPIRE', KEYS[2], ttl)
return mine
`;

/** ARGV: token. Ends the claim if it is still the caller's; a session never committed is removed. */
export const DEDUPE_RELEASE_SCRIPT = `
local v = redis.call('HMGET', KEYS[1], 'last', 'token')
if v[2] ~= ARGV[1] then return 0 end
if v[1] then redis.call('HDEL', KEYS[1], 'token', 'until') else redis.call('DEL', KEYS[1]) end
return 1
`;

/**
 * The Lua scripts of the Redis roster. Each step that changes a roster is one script, so the member, its
 * owner, the revision, the diff log and the publication to every node happen at once or not at all (two
 * nodes, two reapers, a node and a reaper never see each other half way). Redis's own clock (`TIME`) judges
 * node liveness, so nodes with skewed clocks agree on who is dead.
 *
 * Keys, for prefix P and space S (every key of a space expires `keyTtlMs` after its last write or its
 * owners' last refresh):
 * - `P p:S:h` hash `epoch`, `rev` — the roster's life and revision
 * - `P p:S:m` hash member → state JSON
 * - `P p:S:o` hash member → owner node id
 * - `P p:S:l` list of the latest change JSONs (the last is revision `rev`), at most `maxLogEntries`
 * - `P pn` sorted set node id → the time (ms, Redis clock) its ownership expires
 * - `P pn:N` set of `S\nmember` owned by node N (what the reaper removes when N dies)
 * - channel `P presence` — every change and ownership move, to every node
 *
 * Scripts build key names from the prefix they are given, so they run on one Redis (standalone, or a
 * primary behind Sentinel), not on Redis Cluster.
 */

/** Helpers every script starts with. ARGV[1] is the prefix. */
const COMMON = `
local P = ARGV[1]
local function key(space, part) return P .. 'p:' .. space .. ':' .. part end
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function touch(space, ttl)
  for _, part in ipairs({'h', 'm', 'o', 'l'}) do redis.call('PEXPIRE', key(space, part), ttl) end
end
local function head(space, seed, ttl)
  local h = key(space, 'h')
  local epoch = redis.call('HGET', h, 'epoch')
  if not epoch then
    epoch = seed
    redis.call('HSET', h, 'epoch', epoch, 'rev', 0)
    redis.call('PEXPIRE', h, ttl)
  end
  return epoch, tonumber(redis.call('HGET', h, 'rev'))
end
local function publish(body)
  redis.call('PUBLISH', P .. 'presence', body)
end
-- One change: revision + 1, logged (bounded), told to every node. Returns the new revision.
local function commit(space, change, owner, ttl, maxlog)
  local h = key(space, 'h')
  local epoch = redis.call('HGET', h, 'epoch')
  local rev = redis.call('HINCRBY', h, 'rev', 1)
  if maxlog > 0 then
    redis.call('RPUSH', key(space, 'l'), change)
    redis.call('LTRIM', key(space, 'l'), -maxlog, -1)
  end
  touch(space, ttl)
  local o = 'null'
  if owner then o = cjson.encode(owner) end
  publish('{"t":"c","s":' .. cjson.encode(space) .. ',"e":' .. cjson.encode(epoch) .. ',"r":' .. rev ..
    ',"o":' .. o .. ',"c":' .. change .. '}')
  return rev
end
-- The member leaves: state, owner and index entry gone, the leave committed; an emptied roster ends its life.
local function leave(space, id, ttl, maxlog)
  local owner = redis.call('HGET', key(space, 'o'), id)
  if owner then redis.call('SREM', P .. 'pn:' .. owner, space .. '\\n' .. id) end
  redis.call('HDEL', key(space, 'o'), id)
  if redis.call('HDEL', key(space, 'm'), id) == 0 then return false end
  local rev = commit(space, '{"op":"leave","id":' .. cjson.encode(id) .. '}', false, ttl, maxlog)
  if redis.call('HLEN', key(space, 'm')) == 0 then
    redis.call('DEL', key(space, 'h'), key(space, 'm'), key(space, 'o'), key(space, 'l'))
  end
  return rev
end
-- The member is node's now; the node it was taken from stops indexing it.
local function own(space, id, node, ttl)
  local o = key(space, 'o')
  local before = redis.call('HGET', o, id)
  if before and before ~= node then redis.call('SREM', P .. 'pn:' .. before, space .. '\\n' .. id) end
  redis.call('HSET', o, id, node)
  redis.call('SADD', P .. 'pn:' .. node, space .. '\\n' .. id)
  redis.call('PEXPIRE', P .. 'pn:' .. node, ttl)
  return before
end
`;

/**
 * apply: ARGV prefix, space, op, id, state JSON (whole state after the change; '' for leave), change JSON,
 * node, claim ('1'/'0'), epoch seed, key TTL ms, max log entries, max members.
 * Returns {rev, epoch}, or {-1} when another node owns the member (nothing applied), or an error
 * `space-full`.
 */
export const APPLY = `${COMMON}
local space, op, id, state, change, node = ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7]
local claim, seed, ttl, maxlog, maxmembers = ARGV[8] == '1', ARGV[9], tonumber(ARGV[10]), tonumber(ARGV[11]), tonumber(ARGV[12])
local owner = redis.call('HGET', key(space, 'o'), id)
if not claim and owner and owner ~= node then return {-1, ''} end
if op == 'leave' then
  -- A member nobody owns (a restarted Redis lost its owner) leaves too: this node was the last to hold it.
  local r = leave(space, id, ttl, maxlog)
  if r then return {r, ''} end
  return {tonumber(redis.call('HGET', key(space, 'h'), 'rev') or '0'), ''}
end
local epoch, rev = head(space, seed, ttl)
local m = key(space, 'm')
local stored = redis.call('HGET', m, id)
if not stored and op ~= 'join' then
  -- An update for a member the roster lost (a restarted Redis): it joins again with its whole state.
  change = '{"op":"join","id":' .. cjson.encode(id) .. ',"state":' .. state .. '}'
end
if not stored and redis.call('HLEN', m) >= maxmembers then
  return redis.error_reply('space-full')
end
if claim or not owner then own(space, id, node, ttl) end
if stored == state then
  if claim and owner ~= node then
    publish('{"t":"o","s":' .. cjson.encode(space) .. ',"m":' .. cjson.encode(id) .. ',"o":' .. cjson.encode(node) .. '}')
  end
  touch(space, ttl)
  return {rev, epoch}
end
redis.call('HSET', m, id, state)
local o = false
if claim then o = node end
return {commit(space, change, o, ttl, maxlog), epoch}
`;

/**
 * read: ARGV prefix, space, epoch seed, since epoch ('' = none), since rev, members ('1'/'0'), key TTL ms.
 * Returns {epoch, rev, kind, ...}: kind 'c' then change JSONs; 'm' then member, state pairs; 'h' (head only).
 */
export const READ = `${COMMON}
local space, seed, sinceEpoch, sinceRev, wantMembers = ARGV[2], ARGV[3], ARGV[4], tonumber(ARGV[5]), ARGV[6] == '1'
local epoch, rev = head(space, seed, tonumber(ARGV[7]))
if sinceEpoch == epoch and sinceRev <= rev then
  local behind = rev - sinceRev
  local l = key(space, 'l')
  if behind == 0 then return {epoch, rev, 'c'} end
  if behind <= redis.call('LLEN', l) and behind <= redis.call('HLEN', key(space, 'm')) then
    local out = {epoch, rev, 'c'}
    for _, c in ipairs(redis.call('LRANGE', l, -behind, -1)) do out[#out + 1] = c end
    return out
  end
end
if not wantMembers then return {epoch, rev, 'h'} end
local out = {epoch, rev, 'm'}
for _, v in ipairs(redis.call('HGETALL', key(space, 'm'))) do out[#out + 1] = v end
return out
`;

/**
 * beat: ARGV prefix, node, ownership TTL ms, key TTL ms, then spaces whose keys to refresh.
 * Returns 1 when the node was not registered (first beat, reaped, or a restarted Redis), else 0.
 */
export const BEAT = `${COMMON}
local node, ttl, keyttl = ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
local added = redis.call('ZADD', P .. 'pn', now_ms() + ttl, node)
redis.call('PEXPIRE', P .. 'pn:' .. node, keyttl)
for i = 5, #ARGV do touch(ARGV[i], keyttl) end
return added
`;

/** goodbye: ARGV prefix, node. The node's ownership expires now (its members leave after the grace period). */
export const GOODBYE = `${COMMON}
if redis.call('ZSCORE', P .. 'pn', ARGV[2]) then redis.call('ZADD', P .. 'pn', now_ms(), ARGV[2]) end
return 1
`;

/**
 * reap: ARGV prefix, grace ms, key TTL ms, max log entries, most members to remove in this call.
 * Removes the members of nodes whose ownership expired more than the grace period ago (only those the node
 * still owns), then forgets such a node. Returns the number of leaves committed.
 */
export const REAP = `${COMMON}
local grace, ttl, maxlog, budget = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local dead = redis.call('ZRANGEBYSCORE', P .. 'pn', '-inf', now_ms() - grace, 'LIMIT', 0, 16)
local left = 0
for _, node in ipairs(dead) do
  local index = P .. 'pn:' .. node
  local entries = redis.call('SPOP', index, budget)
  for _, entry in ipairs(entries) do
    local cut = string.find(entry, '\\n', 1, true)
    if cut then
      local space, id = string.sub(entry, 1, cut - 1), string.sub(entry, cut + 1)
      if redis.call('HGET', key(space, 'o'), id) == node and leave(space, id, ttl, maxlog) then left = left + 1 end
    end
  end
  budget = budget - #entries
  if redis.call('SCARD', index) == 0 then redis.call('ZREM', P .. 'pn', node) end
  if budget <= 0 then break end
end
return left
`;

/**
 * restore: ARGV prefix, node, epoch seed, key TTL ms, max log entries, max members, then triples space,
 * member, state JSON of what the node owns. Makes the roster hold them again (a restarted Redis, a node
 * reaped while it was cut off), and removes members indexed as the node's that it no longer holds.
 * Returns the `space\nmember` entries another node owns now (the node lets them go).
 */
export const RESTORE = `${COMMON}
local node, seed, ttl, maxlog, maxmembers = ARGV[2], ARGV[3], tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
local held, lost = {}, {}
for i = 7, #ARGV - 2, 3 do
  local space, id, state = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  local entry = space .. '\\n' .. id
  held[entry] = true
  local owner = redis.call('HGET', key(space, 'o'), id)
  if owner and owner ~= node then
    lost[#lost + 1] = entry
  else
    head(space, seed, ttl)
    local m = key(space, 'm')
    local stored = redis.call('HGET', m, id)
    if stored or redis.call('HLEN', m) < maxmembers then
      own(space, id, node, ttl)
      if stored ~= state then
        redis.call('HSET', m, id, state)
        commit(space, '{"op":"join","id":' .. cjson.encode(id) .. ',"state":' .. state .. '}', node, ttl, maxlog)
      end
    end
  end
end
for _, entry in ipairs(redis.call('SMEMBERS', P .. 'pn:' .. node)) do
  if not held[entry] then
    local cut = string.find(entry, '\\n', 1, true)
    local space, id = string.sub(entry, 1, cut - 1), string.sub(entry, cut + 1)
    redis.call('SREM', P .. 'pn:' .. node, entry)
    if redis.call('HGET', key(space, 'o'), id) == node then leave(space, id, ttl, maxlog) end
  end
end
return lost
`;

/** owner: ARGV prefix, space, member. The owner node id or nil. */
export const OWNER = `${COMMON}
return redis.call('HGET', key(ARGV[2], 'o'), ARGV[3])
`;

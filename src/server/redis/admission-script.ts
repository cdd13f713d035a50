/**
 * The shared admission schedule as one Lua script, so every node's decision is one atomic step on one
 * state: the same token bucket, appointment book and per-key records as {@link AdmissionController} (a
 * line-by-line port of `decide`, checked against it by test/integration/redis-admission-equivalence.test.ts),
 * at Redis's clock (`TIME`) instead of each node's — N nodes together admit `ratePerSecond`, and refused
 * clients get slots in one global order whichever node they asked.
 *
 * Keys (all under the prefix, each with a TTL, so an idle schedule leaves nothing behind):
 * - KEYS[1] `<prefix>adm:s` — hash: tokens, at (last refill), next (first appointment not handed out),
 *   wave (when the herd's current wave began;
 *   absent before the first), wr (refusals since it began); expires once the bucket would be full and the book empty again;
 * - KEYS[2] `<prefix>adm:k` — sorted set of the keys remembered (member: the key's SHA-1, score: when its
 *   record holds nothing any more); its size is the K of the per-key spacing K / rate, capped at `maxKeys`;
 * - KEYS[3] `<prefix>adm:k:<sha1 of key>` — the key's record; KEYS[4] `<prefix>adm:o` — the overflow record
 *   shared by new keys while `maxKeys` are remembered.
 * Numbers are written with 17 significant digits, so a state read back is the state written. ARGV[13] is
 * the prefix of key records (`<prefix>adm:k:`), for the few records idle at exactly this instant; ARGV[14]
 * and ARGV[15] the budget's window and population (`budgetWindowMs`, `budgetPopulation`; '' when not given).
 */
export const ADMISSION_SCRIPT = `
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local spread = tonumber(ARGV[3])
local refusalCost = tonumber(ARGV[4])
local maxHint = tonumber(ARGV[5])
local maxBookAhead = tonumber(ARGV[6])
local keyBurst = tonumber(ARGV[7])
local maxKeys = tonumber(ARGV[8])
local cost = tonumber(ARGV[9])
local keyed = ARGV[10] == '1'
local member = ARGV[11]
local now
if ARGV[12] ~= '' then
  now = tonumber(ARGV[12])
else
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
end
local EARLY = 10
-- The budget the server announces (ARGV[14] window, ARGV[15] population; '' when none): admission-budget.ts.
local budgetWindow = tonumber(ARGV[14])
local budgetPopulation = tonumber(ARGV[15])
local horizon = maxBookAhead
if budgetWindow then
  horizon = math.max(budgetWindow, 20000)
  if budgetPopulation and budgetPopulation * 1000 / rate > horizon then horizon = budgetWindow end
  spread = math.min(spread, math.max(250, 10 * 1000 / rate))
end
horizon = math.min(horizon, maxHint)
local function num(x) return string.format('%.17g', x) end

local sv = redis.call('HMGET', KEYS[1], 'tokens', 'at', 'next', 'wave', 'wr')
local s = {
  tokens = tonumber(sv[1]) or burst, at = tonumber(sv[2]) or now, next = tonumber(sv[3]) or now,
  wave = tonumber(sv[4]), wr = tonumber(sv[5]) or 0,
}

local refusedByKey = 0
local booked = false

local function pastHorizon()
  if budgetWindow then
    local retry = math.max(1, math.min(math.ceil(budgetWindow), maxHint))
    return retry, math.min(spread, maxHint - retry)
  end
  local start = math.floor(math.min(horizon, maxHint * 3 / 4) + 0.5)
  local finish = math.min(horizon * 1.5, maxHint)
  return start, math.floor(finish - start)
end

local function wave()
  if not budgetPopulation or s.tokens >= 0 then return 0 end
  if refusalCost * budgetPopulation * 1000 / budgetWindow < rate then return 0 end
  local w = budgetWindow + 1000 + 1000 / rate
  if w < horizon then return w end
  return 0
end

-- The first wave's end (admission-budget.ts budgetWaveEndMs): the window cut to maxHint, anchored at its start.
local function waveEnd()
  if not s.wave or not budgetPopulation then return -math.huge end
  if s.wr < math.ceil(budgetPopulation * 0.01) then return -math.huge end
  local w = math.min(budgetWindow, maxHint)
  if budgetPopulation * 1000 / w <= rate then return -math.huge end
  if s.wave + w + 1000 - now <= horizon then return s.wave + w + 1000 end
  return -math.huge
end

local function shared()
  booked = false
  local elapsed = math.max(0, now - s.at)
  s.tokens = math.min(burst, s.tokens + elapsed * rate / 1000)
  s.at = math.max(s.at, now)
  if budgetPopulation and s.tokens >= burst and s.next <= now
    and (not s.wave or now > s.wave + math.min(budgetWindow, maxHint) + 1000) then
    s.wave = now
    s.wr = 0
  end
  if s.tokens >= cost then
    s.tokens = s.tokens - cost
    return { admit = true }
  end
  local interval = 1000 / rate
  s.tokens = math.max(s.tokens - refusalCost, -rate)
  if budgetWindow then s.wr = s.wr + 1 end
  local slot = math.max(s.next, now + (1 - s.tokens) * interval, now + wave(), waveEnd())
  if slot - now > horizon then
    local retry, win = pastHorizon()
    return { admit = false, retry = retry, spread = win }
  end
  s.next = slot + interval
  booked = true
  local retry = math.min(math.max(1, math.ceil(slot - now)), maxHint)
  return { admit = false, retry = retry, spread = math.min(spread, maxHint - retry), slot = slot }
end

local function claimFirst(r)
  r.slots = r.slots - 1
  if r.slots == 0 then r.first = r.last else r.first = r.first + (r.last - r.first) / r.slots end
end
local function book(r, at, win)
  if r.slots == 0 then r.first = at end
  r.last = at
  r.win = win
  r.slots = r.slots + 1
end

local function onKey(r, at)
  refusedByKey = 1
  if at - now > horizon then
    local retry, win = pastHorizon()
    return { admit = false, retry = retry, spread = win, cheap = true }
  end
  local retry = math.min(math.max(1, math.ceil(at - now)), maxHint)
  local win = math.min(spread, maxHint - retry)
  book(r, now + retry, win)
  return { admit = false, retry = retry, spread = win, slot = now + retry }
end

local function keyedDecision(r, count)
  local spacing = math.max(1, count) * 1000 / rate
  if r.slots > 0 and now < r.first - EARLY then return onKey(r, r.last + spacing) end
  local claims = r.slots > 0
  if claims then claimFirst(r) end
  local b = keyBurst
  if claims then b = math.max(keyBurst, burst) end
  local tolerance = (b - 1) * spacing
  if now < r.pace - tolerance then
    local at = r.pace - tolerance
    if r.slots > 0 then at = r.last + spacing end
    return onKey(r, at)
  end
  r.pace = math.max(r.pace, now) + spacing
  local d = shared()
  if d.admit or not booked then return d end
  if r.slots == 0 then
    book(r, now + d.retry, d.spread)
    return d
  end
  local at = math.max(now + d.retry, r.last + spacing)
  if at - now > horizon then return d end
  local later = math.min(math.ceil(at - now), maxHint)
  local win = math.min(spread, maxHint - later)
  book(r, now + later, win)
  return { admit = false, retry = later, spread = win, slot = now + later }
end

local d
if not keyed then
  d = shared()
else
  -- Records idle before now go; one whose idle time is exactly now goes only if it is idle by the
  -- controller's own test (a slot is over when now is past its window, a pace when now reaches it).
  -- Their records go with them, not 1 ms later on their TTL: the table never holds more than maxKeys
  -- records, even for a moment (each record is deleted once, so this is O(1) per decision amortised).
  for _, m in ipairs(redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', '(' .. num(now))) do
    redis.call('DEL', ARGV[13] .. m)
  end
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', '(' .. num(now))
  for _, m in ipairs(redis.call('ZRANGEBYSCORE', KEYS[2], num(now), num(now))) do
    local ek = ARGV[13] .. m
    local ev = redis.call('HMGET', ek, 'slots', 'first', 'last', 'win', 'pace')
    local e = {
      slots = tonumber(ev[1]) or 0, first = tonumber(ev[2]) or now, last = tonumber(ev[3]) or now,
      win = tonumber(ev[4]) or 0, pace = tonumber(ev[5]) or now,
    }
    while e.slots > 0 and now > e.first + e.win do claimFirst(e) end
    if e.slots == 0 and e.pace <= now then
      redis.call('ZREM', KEYS[2], m)
      redis.call('DEL', ek)
    end
  end
  local count = redis.call('ZCARD', KEYS[2])
  local known = redis.call('ZSCORE', KEYS[2], member)
  local rkey = KEYS[3]
  local overflow = false
  if not known then
    if count >= maxKeys then
      overflow = true
      rkey = KEYS[4]
    else
      count = count + 1
    end
  end
  local rv = redis.call('HMGET', rkey, 'slots', 'first', 'last', 'win', 'pace')
  local r = {
    slots = tonumber(rv[1]) or 0, first = tonumber(rv[2]) or now, last = tonumber(rv[3]) or now,
    win = tonumber(rv[4]) or 0, pace = tonumber(rv[5]) or now,
  }
  if not known and not overflow then
    r = { slots = 0, first = now, last = now, win = 0, pace = now }
  end
  while r.slots > 0 and now > r.first + r.win do claimFirst(r) end
  d = keyedDecision(r, count)
  while r.slots > 0 and now > r.first + r.win do claimFirst(r) end
  local idleAt = r.pace
  if r.slots > 0 then idleAt = math.max(idleAt, r.last + r.win) end
  if idleAt <= now then
    redis.call('DEL', rkey)
    if not overflow then redis.call('ZREM', KEYS[2], member) end
  else
    redis.call('HSET', rkey, 'slots', r.slots, 'first', num(r.first), 'last', num(r.last), 'win', num(r.win),
      'pace', num(r.pace))
    -- At least 1 s: the logic never needs the TTL (an idle record goes with its member, above), and a TTL
    -- of a few ms could expire between two decisions at one instant of a clock that is not Redis's.
    redis.call('PEXPIRE', rkey, math.max(1000, math.ceil(idleAt - now) + 1))
    if not overflow then redis.call('ZADD', KEYS[2], num(idleAt), member) end
  end
  if count > 0 then redis.call('PEXPIRE', KEYS[2], math.ceil(horizon * 1.5 + maxHint) + 1000) end
end

redis.call('HSET', KEYS[1], 'tokens', num(s.tokens), 'at', num(s.at), 'next', num(s.next))
if s.wave then
  redis.call('HSET', KEYS[1], 'wave', num(s.wave), 'wr', s.wr)
else
  redis.call('HDEL', KEYS[1], 'wave', 'wr')
end
-- Past this the bucket is full again and the book is empty: a fresh state is the same state.
local quiet = math.max(0, s.next - now) + (burst - math.min(s.tokens, burst)) * 1000 / rate + 1000
-- A running wave is kept to its end: a state that expired inside it would begin a new one at the next decision.
if s.wave and budgetWindow then quiet = math.max(quiet, s.wave + math.min(budgetWindow, maxHint) + 1000 - now + 1) end
redis.call('PEXPIRE', KEYS[1], math.ceil(quiet))

local admit = 0
if d.admit then admit = 1 end
local cheap = 0
if d.cheap then cheap = 1 end
return { admit, num(d.retry or 0), num(d.spread or 0), cheap, num(d.slot or -1), num(now), refusedByKey }
`;

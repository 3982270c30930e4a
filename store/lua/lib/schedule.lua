-- lib/schedule.lua: the partition's ready and lease sets, shared by the
-- scripts that say "-- requires: lib/schedule.lua" (cmake/embed_lua.cmake).

-- Puts an endpoint in the ready set (scored by its earliest due delivery,
-- or not_before when that is later: a rate limit's next token) when it is
-- ACTIVE with due work and free capacity, and takes it out otherwise.
-- e: its {status, in_flight, max_in_flight} when the caller already knows
-- them. Returns true when the endpoint is ready.
local function ready_refresh(P, ep, e, not_before)
  local ek = P .. ':ep:' .. ep
  e = e or redis.call('HMGET', ek, 'status', 'in_flight', 'max_in_flight')
  local first = redis.call('ZRANGE', ek .. ':due', 0, 0, 'WITHSCORES')
  if e[1] == EP_ACTIVE and first[1] and tonumber(e[2]) < tonumber(e[3]) then
    local at = first[2]
    if not_before and not_before > tonumber(at) then at = string.format('%d', not_before) end
    redis.call('ZADD', P .. ':ready', at, ep)
    return true
  end
  redis.call('ZREM', P .. ':ready', ep)
  return false
end

-- Leases deliveries until `until_s` (ms); the score is also their fencing
-- token (claim.lua). One variadic ZADD per 500, within Lua's stack limit.
local function lease_add(P, ids, until_s)
  for i = 1, #ids, 500 do
    local args = {}
    for k = i, math.min(i + 499, #ids) do
      args[#args + 1] = until_s
      args[#args + 1] = ids[k]
    end
    redis.call('ZADD', P .. ':lease', unpack(args))
  end
end

-- An endpoint's rate limit (deliveries per second) as a token bucket kept
-- in its hash (rl_tokens, rl_at), shared by every process because only
-- scripts touch it. The bucket holds half a second's worth (at least 1), so
-- over any 10 s the receiver gets at most 10.5 x rate, and a claim every
-- half second is enough to keep up with it. Returns the whole tokens
-- available now and the bucket's level.
local function rate_tokens(rate, tokens, at, now)
  local burst = math.max(1, math.ceil(rate / 2))
  local level = tonumber(tokens) or burst
  level = math.min(burst, level + math.max(0, now - (tonumber(at) or now)) * rate / 1000)
  return math.floor(level), level
end

-- The rate an endpoint is held to: its rate_limit, or lower while a
-- receiver's 429s slowed it (eff_rate, complete.lua); nil for none.
local function held_rate(rate_limit, eff_rate)
  local rate, eff = tonumber(rate_limit), tonumber(eff_rate)
  if eff and (not rate or eff < rate) then return eff end
  return rate
end

-- After taking `took`: the bucket written back, and when the next token is
-- due (ms) if none is left, else nil.
local function rate_spend(ek, rate, level, took, now)
  if took > 0 then -- else the bucket as stored still says the same
    level = level - took
    redis.call('HSET', ek, 'rl_tokens', string.format('%.4f', level), 'rl_at', string.format('%d', now))
  end
  if level >= 1 then return nil end
  return now + math.ceil((1 - level) * 1000 / rate)
end

-- The previous secret while its rotation overlap lasts, else "".
local function prev_secret_in_force(prev, expires, now)
  if prev and prev ~= '' and tonumber(expires) > tonumber(now) then return prev end
  return ''
end


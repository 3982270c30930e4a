-- lib/schedule.lua: the partition's ready and lease sets, shared by the
-- scripts that say "-- requires: lib/schedule.lua" (cmake/embed_lua.cmake).

-- Puts an endpoint in the ready set (scored by its earliest due delivery)
-- when it is ACTIVE with due work and free capacity, and takes it out
-- otherwise. e: its {status, in_flight, max_in_flight} when the caller
-- already knows them. Returns true when the endpoint is ready.
local function ready_refresh(P, ep, e)
  local ek = P .. ':ep:' .. ep
  e = e or redis.call('HMGET', ek, 'status', 'in_flight', 'max_in_flight')
  local first = redis.call('ZRANGE', ek .. ':due', 0, 0, 'WITHSCORES')
  if e[1] == EP_ACTIVE and first[1] and tonumber(e[2]) < tonumber(e[3]) then
    redis.call('ZADD', P .. ':ready', first[2], ep)
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

-- The previous secret while its rotation overlap lasts, else "".
local function prev_secret_in_force(prev, expires, now)
  if prev and prev ~= '' and tonumber(expires) > tonumber(now) then return prev end
  return ''
end


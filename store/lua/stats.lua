-- Gauges of one partition for /metrics. KEYS[1] = P
-- -> {scheduled deliveries (in due sets), leased (in flight), ready endpoints,
--     endpoints with an open circuit, throttled endpoints, and the due
--     deliveries held by a rate limit, a throttle, an open circuit}
-- Flow control keeps its endpoints in P:limited, P:throttled and
-- P:circuits (lib/schedule.lua); the held counts read the first 100 of each.
local P = KEYS[1]
local function held(set)
  local n = 0
  for _, ep in ipairs(redis.call('SRANDMEMBER', set, 100)) do n = n + redis.call('ZCARD', P .. ':ep:' .. ep .. ':due') end
  return n
end
return {tonumber(redis.call('HGET', P .. ':stats', 'due') or 0), redis.call('ZCARD', P .. ':lease'),
        redis.call('ZCARD', P .. ':ready'), redis.call('SCARD', P .. ':circuits'),
        redis.call('SCARD', P .. ':throttled'), held(P .. ':limited'), held(P .. ':throttled'),
        held(P .. ':circuits')}

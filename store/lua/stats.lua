-- Gauges of one partition for /metrics. KEYS[1] = P
-- -> {scheduled deliveries (in due sets), leased (in flight), ready endpoints}
local P = KEYS[1]
return {tonumber(redis.call('HGET', P .. ':stats', 'due') or 0), redis.call('ZCARD', P .. ':lease'),
        redis.call('ZCARD', P .. ':ready')}

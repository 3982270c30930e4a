-- Delete an endpoint and its unsent work; delivery records stay readable.
-- KEYS[1] = P; ARGV: org, id. Returns 0 when not the org's.
local P, org, id = KEYS[1], ARGV[1], ARGV[2]
local k = P .. ':ep:' .. id
if redis.call('HGET', k, 'org_id') ~= org then return 0 end
redis.call('ZREM', P .. ':org:' .. org .. ':eps', id)
redis.call('ZREM', P .. ':ready', id)
local held = redis.call('ZCARD', k .. ':due')
if held > 0 then redis.call('HINCRBY', P .. ':stats', 'due', -held) end
redis.call('DEL', k, k .. ':due', k .. ':failed')
return 1

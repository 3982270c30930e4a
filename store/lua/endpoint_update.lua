-- Change endpoint fields. KEYS[1] = P; ARGV: org, id, now, then field/value pairs
-- (url, description, event_types, max_in_flight). Returns {} when not the org's.
local P, org, id, now = KEYS[1], ARGV[1], ARGV[2], ARGV[3]
local k = P .. ':ep:' .. id
if redis.call('HGET', k, 'org_id') ~= org then return {} end
for i = 4, #ARGV, 2 do redis.call('HSET', k, ARGV[i], ARGV[i + 1]) end
redis.call('HSET', k, 'updated_at', now)
-- a larger max_in_flight may give the endpoint capacity for due work
local e = redis.call('HMGET', k, 'status', 'in_flight', 'max_in_flight')
local first = redis.call('ZRANGE', k .. ':due', 0, 0, 'WITHSCORES')
if e[1] == 'ACTIVE' and first[1] and tonumber(e[2]) < tonumber(e[3]) then
  redis.call('ZADD', P .. ':ready', first[2], id)
else
  redis.call('ZREM', P .. ':ready', id)
end
return redis.call('HGETALL', k)

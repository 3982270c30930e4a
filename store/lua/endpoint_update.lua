-- Change endpoint fields. KEYS[1] = P; ARGV: org, id, now, then field/value pairs
-- (url, description, event_types, max_in_flight). Returns {} when not the org's.
-- requires: lib/schedule.lua
local P, org, id, now = KEYS[1], ARGV[1], ARGV[2], ARGV[3]
local k = P .. ':ep:' .. id
if redis.call('HGET', k, 'org_id') ~= org then return {} end
for i = 4, #ARGV, 2 do redis.call('HSET', k, ARGV[i], ARGV[i + 1]) end
redis.call('HSET', k, 'updated_at', now)
-- a larger max_in_flight may give the endpoint capacity for due work
ready_refresh(P, id)
return redis.call('HGETALL', k)

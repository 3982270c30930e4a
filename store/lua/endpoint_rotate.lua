-- Rotate an endpoint's secret; the old one keeps signing until prev_expires.
-- KEYS[1] = P; ARGV: org, id, new_secret, prev_expires, now
local P, org, id = KEYS[1], ARGV[1], ARGV[2]
local k = P .. ':ep:' .. id
if redis.call('HGET', k, 'org_id') ~= org then return {} end
local old = redis.call('HGET', k, 'secret')
redis.call('HSET', k, 'prev_secret', old, 'prev_expires', ARGV[4], 'secret', ARGV[3],
           'updated_at', ARGV[5])
return redis.call('HGETALL', k)

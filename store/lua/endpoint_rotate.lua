-- Rotate an endpoint's secret; the old one keeps signing until prev_expires.
-- KEYS[1] = P; ARGV: org, id, new_secret, prev_expires, now
local P, org, id = KEYS[1], ARGV[1], ARGV[2]
local k = P .. ':ep:' .. id
if redis.call('HGET', k, 'org_id') ~= org then return {} end
local old = redis.call('HGET', k, 'secret')
redis.call('HSET', k, 'prev_secret', old, 'prev_expires', ARGV[4], 'secret', ARGV[3],
           'updated_at', ARGV[5])
-- ARGV[6], ARGV[7]: a new v1a key pair (sealed private, public); the old
-- one signs beside it until prev_expires, as the secret does
local sk = redis.call('HMGET', k, 'sign_key', 'public_key')
if sk[1] and ARGV[6] then
  redis.call('HSET', k, 'prev_sign_key', sk[1], 'prev_public_key', sk[2] or '', 'sign_key', ARGV[6],
             'public_key', ARGV[7])
end
return redis.call('HGETALL', k)

-- Change an org's record. KEYS[1] = global prefix G; ARGV: id, rate_limit
-- ("" removes it). Returns the org (HGETALL), or {} when there is none.
-- Enforcement lives in the org's partition (org_limit.lua), set next.
local k = KEYS[1] .. ':org:' .. ARGV[1]
if redis.call('EXISTS', k) == 0 then return {} end
if ARGV[2] == '' then
  redis.call('HDEL', k, 'rate_limit')
else
  redis.call('HSET', k, 'rate_limit', ARGV[2])
end
return redis.call('HGETALL', k)

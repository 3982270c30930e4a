-- Delete an endpoint; its unsent deliveries become canceled (prune.lua) and
-- every delivery record stays readable until retention removes it.
-- KEYS[1] = P; ARGV: org, id. Returns 0 when not the org's.
local P, org, id = KEYS[1], ARGV[1], ARGV[2]
-- requires: lib/routes.lua
local k = P .. ':ep:' .. id
if redis.call('HGET', k, 'org_id') ~= org then return 0 end
routes_changed(P, org)
redis.call('ZREM', P .. ':org:' .. org .. ':eps', id)
redis.call('ZREM', P .. ':ready', id)
local held = redis.call('ZCARD', k .. ':due')
if held > 0 then
  -- its queued deliveries will never be sent: prune.lua marks them canceled,
  -- a batch at a time (the set may be large)
  redis.call('HINCRBY', P .. ':stats', 'due', -held)
  redis.call('RENAME', k .. ':due', k .. ':canceling')
  redis.call('SADD', P .. ':canceling', id)
end
-- so are the deliveries held in its fifo queues (lib/fifo.lua)
if redis.call('EXISTS', k .. ':fifos') == 1 then redis.call('SADD', P .. ':canceling', id) end
redis.call('DEL', k, k .. ':failed')
for _, set in ipairs({':limited', ':throttled', ':circuits'}) do redis.call('SREM', P .. set, id) end
return 1

-- Change endpoint fields. KEYS[1] = P; ARGV: org, id, now, then field/value pairs
-- (url, description, event_types, filter, max_in_flight, ...). Returns {} when not the org's.
-- requires: lib/schedule.lua
-- requires: lib/routes.lua
local P, org, id, now = KEYS[1], ARGV[1], ARGV[2], ARGV[3]
local k = P .. ':ep:' .. id
if redis.call('HGET', k, 'org_id') ~= org then return {} end
for i = 4, #ARGV, 2 do
  if ARGV[i] == 'event_types' or ARGV[i] == 'filter' then routes_changed(P, org) end
  if ARGV[i] == 'rate_limit' then -- P:limited: what /metrics counts (stats.lua)
    if ARGV[i + 1] == '' then redis.call('SREM', P .. ':limited', id) else redis.call('SADD', P .. ':limited', id) end
  end
  -- a v1a key pair is made once: a scheme change back and forth keeps it
  if (ARGV[i] ~= 'sign_key' and ARGV[i] ~= 'public_key') or not redis.call('HGET', k, ARGV[i]) then
    redis.call('HSET', k, ARGV[i], ARGV[i + 1])
  end
end
redis.call('HSET', k, 'updated_at', now)
-- a larger max_in_flight may give the endpoint capacity for due work
ready_refresh(P, id)
return redis.call('HGETALL', k)

-- Create an endpoint. KEYS[1] = partition prefix P
-- ARGV: org, id, url, description, event_types (",a,b," or ""), secret, max_in_flight, now
-- Endpoint hash fields: id org_id url description event_types secret prev_secret
-- prev_expires status consecutive_failures failing_since disabled_at disabled_reason
-- max_in_flight in_flight created_at updated_at
-- requires: lib/routes.lua
-- requires: fields
local P = KEYS[1]
-- an event's deliveries are numbered in 16 bits (lib/delivery.lua)
local count = redis.call('ZCARD', P .. ':org:' .. ARGV[1] .. ':eps')
if count >= 65535 then return {'limit'} end
routes_changed(P, ARGV[1])
local k = P .. ':ep:' .. ARGV[2]
redis.call('HSET', k, 'id', ARGV[2], 'org_id', ARGV[1], 'url', ARGV[3], 'description', ARGV[4],
           'event_types', ARGV[5], 'secret', ARGV[6], 'prev_secret', '', 'prev_expires', 0,
           'status', EP_ACTIVE, 'consecutive_failures', 0, 'failing_since', 0, 'disabled_at', 0,
           'disabled_reason', '', 'max_in_flight', ARGV[7], 'in_flight', 0,
           'created_at', ARGV[8], 'updated_at', ARGV[8])
-- then optional field/value pairs (filter, auth_*, signature_scheme, tls_ca, tls_cert, tls_key)
for i = 9, #ARGV, 2 do
  redis.call('HSET', k, ARGV[i], ARGV[i + 1])
  if ARGV[i] == 'rate_limit' and ARGV[i + 1] ~= '' then redis.call('SADD', P .. ':limited', ARGV[2]) end
end
redis.call('ZADD', P .. ':org:' .. ARGV[1] .. ':eps', 0, ARGV[2])
return redis.call('HGETALL', k)

-- One page of an org's endpoints as hookd matches events to them
-- (store/subscriptions.c), in creation order. KEYS[1] = P
-- ARGV: org, after (the last id of the previous page, "" for the first), limit
-- Returns {version, limited, id, event_types, filter, id, ...}: the org's
-- version (lib/routes.lua) as it is now, "1" when the org has a rate_limit
-- (P:org:<org>:limit; setting it bumps the version), then up to `limit`
-- endpoints after `after`. ingest.lua refuses whatever was matched under an older version,
-- so pages read across a change are caught there.
-- requires: lib/routes.lua
local P, org, after, limit = KEYS[1], ARGV[1], ARGV[2], tonumber(ARGV[3])
local from = '-'
if after ~= '' then from = '(' .. after end
local limited = ''
if redis.call('HEXISTS', P .. ':org:' .. org .. ':limit', 'rate') == 1 then limited = '1' end
local out = {routes_version(P, org), limited}
for _, id in ipairs(redis.call('ZRANGEBYLEX', P .. ':org:' .. org .. ':eps', from, '+', 'LIMIT', 0, limit)) do
  local h = redis.call('HMGET', P .. ':ep:' .. id, 'event_types', 'filter')
  out[#out + 1] = id
  out[#out + 1] = h[1] or ''
  out[#out + 1] = h[2] or ''
end
return out

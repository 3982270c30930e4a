-- An endpoint's stats over a window (lib/stats.lua). KEYS[1] = P
-- ARGV: org, endpoint id, window (1h, 24h or 7d), now (ms)
-- -> {bucket_ms, first bucket's start (ms), bucket, bucket, ...} oldest
-- first, each bucket as HGETALL pairs ({} when nothing happened in it);
-- false when the endpoint is not the org's.
-- requires: lib/stats.lua
local P, org, ep, now = KEYS[1], ARGV[1], ARGV[2], tonumber(ARGV[4])
local w = STATS_WINDOWS[ARGV[3]]
if not w then return redis.error_reply('endpoint_stats.lua: unknown window ' .. ARGV[3]) end
local ek = P .. ':ep:' .. ep
if redis.call('HGET', ek, 'org_id') ~= org then return false end
local first = now - now % w.bucket - (w.count - 1) * w.bucket
local out = {string.format('%d', w.bucket), string.format('%d', first)}
for i = 0, w.count - 1 do out[#out + 1] = redis.call('HGETALL', stats_key(ek, w, first + i * w.bucket)) end
return out

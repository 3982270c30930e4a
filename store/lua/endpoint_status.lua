-- Enable or disable an endpoint. KEYS[1] = P
-- ARGV: org, id, 'ACTIVE'|'DISABLED', now, reason
-- Enabling resets the failure count and makes held work ready again;
-- disabling takes the endpoint out of the ready set (its work waits).
-- Returns the endpoint (HGETALL pairs) and, when its status changed, the
-- extra pair 'changed', '1' (the caller announces it: store/notice.h).
-- requires: lib/schedule.lua
-- requires: fields
local P, org, id, status, now = KEYS[1], ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local k = P .. ':ep:' .. id
if redis.call('HGET', k, 'org_id') ~= org then return {} end
local changed = redis.call('HGET', k, 'status') ~= status
if status == EP_ACTIVE then
  redis.call('HSET', k, 'status', EP_ACTIVE, 'consecutive_failures', 0, 'failing_since', 0,
             'disabled_at', 0, 'disabled_reason', '', 'updated_at', now)
  if ready_refresh(P, id) then redis.call('PUBLISH', 'hookd:wake', P) end
else
  if redis.call('HGET', k, 'status') ~= EP_DISABLED then
    redis.call('HSET', k, 'status', EP_DISABLED, 'disabled_at', now, 'disabled_reason', ARGV[5])
  end
  redis.call('HSET', k, 'updated_at', now)
  redis.call('ZREM', P .. ':ready', id)
end
local out = redis.call('HGETALL', k)
if changed then
  out[#out + 1] = 'changed'
  out[#out + 1] = '1'
end
return out

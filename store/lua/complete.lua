-- Record one attempt's outcome. KEYS[1] = P
-- ARGV: id, fence, now, ok (1|0|release), code (or ""), error (or ""), body_head,
--       duration_ms, started_ms, next_at (-1: errored), action
--       (""|"disable"|"abort"), disable_threshold, disable_after_ms
-- Returns {1, disabled (0|1)} or {0} when the fence is stale: the lease
-- expired and the delivery was claimed again, so this result must not win.
local P, id, fence, now = KEYS[1], ARGV[1], ARGV[2], tonumber(ARGV[3])
local ok, code, err, body = ARGV[4] == '1', ARGV[5], ARGV[6], ARGV[7]
local started, next_at, action = tonumber(ARGV[9]), tonumber(ARGV[10]), ARGV[11]
local dk = P .. ':dl:' .. id
local d = redis.call('HMGET', dk, 'fence', 'endpoint_id', 'attempt_count')
if d[1] ~= fence then return {0} end
redis.call('ZREM', P .. ':lease', id)
local ek = P .. ':ep:' .. d[2]
if ARGV[4] == 'release' then
  -- shutting down before an answer came: back to the schedule, no attempt counted
  local st = 'retrying'
  if tonumber(d[3]) == 0 then st = 'pending' end
  redis.call('HSET', dk, 'state', st, 'fence', '', 'next_retry_at', now, 'updated_at', now)
  if redis.call('EXISTS', ek) == 1 then
    if tonumber(redis.call('HINCRBY', ek, 'in_flight', -1)) < 0 then redis.call('HSET', ek, 'in_flight', 0) end
    redis.call('HINCRBY', P .. ':stats', 'due', redis.call('ZADD', ek .. ':due', now, id))
    local e = redis.call('HMGET', ek, 'status', 'in_flight', 'max_in_flight')
    if e[1] == 'ACTIVE' and tonumber(e[2]) < tonumber(e[3]) then redis.call('ZADD', P .. ':ready', 'LT', now, d[2]) end
  end
  return {1, 0}
end
local n = tonumber(d[3]) + 1
local att = {number = n, started_at = started, duration_ms = tonumber(ARGV[8]), response_body = body}
if code ~= '' then att.status_code = tonumber(code) end
if err ~= '' then att.error = err end
redis.call('RPUSH', dk .. ':att', cjson.encode(att))
local msg = err
if msg == '' and not ok then msg = 'HTTP ' .. code end
redis.call('HSET', dk, 'attempt_count', n, 'last_attempt_at', started, 'fence', '',
           'updated_at', now, 'code', code, 'error', err, 'error_message', msg)
local ep = d[2]
local alive = redis.call('EXISTS', ek) == 1
local disabled = 0
if alive and tonumber(redis.call('HINCRBY', ek, 'in_flight', -1)) < 0 then
  redis.call('HSET', ek, 'in_flight', 0)
end
if ok then
  redis.call('HSET', dk, 'state', 'completed', 'delivered_at', now, 'next_retry_at', '')
  redis.call('ZREM', ek .. ':failed', id)
  if alive then redis.call('HSET', ek, 'consecutive_failures', 0, 'failing_since', 0) end
else
  if alive then
    local cf = tonumber(redis.call('HINCRBY', ek, 'consecutive_failures', 1))
    local since = tonumber(redis.call('HGET', ek, 'failing_since'))
    if since == 0 then since = now redis.call('HSET', ek, 'failing_since', now) end
    local reason = nil
    if action == 'disable' then
      reason = 'receiver asked to disable (' .. (code ~= '' and ('HTTP ' .. code) or 'header') .. ')'
    elseif cf >= tonumber(ARGV[12]) and now - since >= tonumber(ARGV[13]) then
      reason = 'failing since ' .. since .. ' (' .. cf .. ' consecutive failures)'
    end
    if reason and redis.call('HGET', ek, 'status') == 'ACTIVE' then
      redis.call('HSET', ek, 'status', 'DISABLED', 'disabled_at', now, 'disabled_reason', reason,
                 'updated_at', now)
      redis.call('ZREM', P .. ':ready', ep)
      disabled = 1
    end
  end
  if action == 'abort' or next_at < 0 or not alive then
    redis.call('HSET', dk, 'state', 'errored', 'next_retry_at', '')
    if alive then redis.call('ZADD', ek .. ':failed', 0, id) end
  else
    redis.call('HSET', dk, 'state', 'retrying', 'next_retry_at', next_at)
    redis.call('HINCRBY', P .. ':stats', 'due', redis.call('ZADD', ek .. ':due', next_at, id))
  end
end
if alive then
  local e = redis.call('HMGET', ek, 'status', 'in_flight', 'max_in_flight')
  local first = redis.call('ZRANGE', ek .. ':due', 0, 0, 'WITHSCORES')
  if e[1] == 'ACTIVE' and first[1] and tonumber(e[2]) < tonumber(e[3]) then
    redis.call('ZADD', P .. ':ready', first[2], ep)
  else
    redis.call('ZREM', P .. ':ready', ep)
  end
end
return {1, disabled}

-- Record a batch of attempt outcomes of one partition. KEYS[1] = P
-- ARGV: now, disable_threshold, disable_after_ms, then 10 per outcome:
--   id, fence, ok (1|0|release), code (or ""), error (or ""), body_head,
--   duration_ms, started_ms, next_at (-1: errored), action (""|disable|abort)
-- Returns 2 per outcome: applied (1, or 0 when the fence is stale: the lease
-- expired and the delivery was claimed again, so this result must not win)
-- and disabled (1 when this outcome disabled the endpoint).
-- "release" hands an unanswered delivery back (shutdown) without counting an attempt.
-- Values are passed to Redis as the strings received: converting Lua numbers
-- costs a float format per call, which profiles showed.
local P, now, threshold, after = KEYS[1], ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local nnow = tonumber(now)
local out, touched = {}, {}

local function one(i)
  local id, fence, ok, code, err = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3], ARGV[i + 4]
  local dk = P .. ':dl:' .. id
  local d = redis.call('HMGET', dk, 'fence', 'endpoint_id', 'attempt_count')
  if d[1] ~= fence then return 0, 0 end
  d[3] = d[3] or '0' -- not yet attempted: claim wrote only what it changed
  redis.call('ZREM', P .. ':lease', id)
  local ep = d[2]
  local ek = P .. ':ep:' .. ep
  local e = redis.call('HMGET', ek, 'status', 'consecutive_failures', 'failing_since')
  local alive = e[1] ~= false
  if alive then
    touched[ep] = true
    if tonumber(redis.call('HINCRBY', ek, 'in_flight', -1)) < 0 then redis.call('HSET', ek, 'in_flight', '0') end
  end
  if ok == 'release' then
    local st = 'retrying'
    if d[3] == '0' then st = 'pending' end
    redis.call('HSET', dk, 'state', st, 'fence', '', 'next_retry_at', now, 'updated_at', now)
    if alive then redis.call('HINCRBY', P .. ':stats', 'due', redis.call('ZADD', ek .. ':due', now, id)) end
    return 1, 0
  end
  local n = tonumber(d[3]) + 1
  local att = {number = n, started_at = tonumber(ARGV[i + 7]), duration_ms = tonumber(ARGV[i + 6]),
               response_body = ARGV[i + 5]}
  if code ~= '' then att.status_code = tonumber(code) end
  if err ~= '' then att.error = err end
  redis.call('RPUSH', dk .. ':att', cjson.encode(att))
  local msg = err
  if msg == '' and ok ~= '1' then msg = 'HTTP ' .. code end
  local disabled = 0
  if ok == '1' then
    redis.call('HSET', dk, 'attempt_count', n, 'last_attempt_at', ARGV[i + 7], 'fence', '', 'updated_at', now,
               'code', code, 'error', err, 'error_message', msg, 'state', 'completed', 'delivered_at', now,
               'next_retry_at', '')
    if alive and e[2] ~= '0' then
      redis.call('HSET', ek, 'consecutive_failures', '0', 'failing_since', '0')
      redis.call('ZREM', ek .. ':failed', id)
    end
    return 1, 0
  end
  local next_at, action = ARGV[i + 8], ARGV[i + 9]
  if alive then
    local cf = tonumber(redis.call('HINCRBY', ek, 'consecutive_failures', 1))
    local since = tonumber(e[3])
    if since == 0 then since = nnow redis.call('HSET', ek, 'failing_since', now) end
    local reason = nil
    if action == 'disable' then
      reason = 'receiver asked to disable (' .. (code ~= '' and ('HTTP ' .. code) or 'header') .. ')'
    elseif cf >= threshold and nnow - since >= after then
      reason = 'failing since ' .. since .. ' (' .. cf .. ' consecutive failures)'
    end
    if reason and e[1] == 'ACTIVE' then
      redis.call('HSET', ek, 'status', 'DISABLED', 'disabled_at', now, 'disabled_reason', reason, 'updated_at', now)
      disabled = 1
    end
  end
  local state = 'retrying'
  if action == 'abort' or next_at == '-1' or not alive then state = 'errored' next_at = '' end
  redis.call('HSET', dk, 'attempt_count', n, 'last_attempt_at', ARGV[i + 7], 'fence', '', 'updated_at', now,
             'code', code, 'error', err, 'error_message', msg, 'state', state, 'next_retry_at', next_at)
  if state == 'errored' then
    if alive then redis.call('ZADD', ek .. ':failed', 0, id) end
  else
    redis.call('HINCRBY', P .. ':stats', 'due', redis.call('ZADD', ek .. ':due', next_at, id))
  end
  return 1, disabled
end

for i = 4, #ARGV, 10 do
  local applied, disabled = one(i)
  out[#out + 1] = applied
  out[#out + 1] = disabled
end

-- each endpoint touched: ready again if ACTIVE with due work and capacity
for ep in pairs(touched) do
  local ek = P .. ':ep:' .. ep
  local e = redis.call('HMGET', ek, 'status', 'in_flight', 'max_in_flight')
  local first = redis.call('ZRANGE', ek .. ':due', 0, 0, 'WITHSCORES')
  if e[1] == 'ACTIVE' and first[1] and tonumber(e[2]) < tonumber(e[3]) then
    redis.call('ZADD', P .. ':ready', first[2], ep)
  else
    redis.call('ZREM', P .. ':ready', ep)
  end
end
return out

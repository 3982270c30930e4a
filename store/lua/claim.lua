-- Claim due deliveries of one partition for sending.
-- KEYS[1] = P; ARGV: now, lease_ms, budget
-- First returns expired leases (a crashed or stalled process's work) to their
-- endpoints' due sets, then walks ready endpoints (ACTIVE, due work, free
-- capacity) in order of earliest due time, taking up to each one's free
-- capacity. Each claimed delivery moves to the lease set, becomes in_progress
-- and gets a fresh fencing token; complete.lua refuses any other token.
-- Returns {earliest_ready_score or "", count, then per delivery 9 fields:
--   id, event_id, endpoint_id, url, secret, prev_secret, payload, tries, fence}
-- where tries counts attempts since the last requeue (it picks the retry delay).
-- requires: lib/delivery.lua
local P, now, lease_ms, budget = KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
-- strings for redis.call: a Lua number would be formatted as a float each time
local now_s, until_s = ARGV[1], string.format('%d', tonumber(ARGV[1]) + tonumber(ARGV[2]))

local function refresh_ready(ep)
  local ek = P .. ':ep:' .. ep
  local e = redis.call('HMGET', ek, 'status', 'in_flight', 'max_in_flight')
  local first = redis.call('ZRANGE', ek .. ':due', 0, 0, 'WITHSCORES')
  if e[1] == 'ACTIVE' and first[1] and tonumber(e[2]) < tonumber(e[3]) then
    redis.call('ZADD', P .. ':ready', first[2], ep)
  else
    redis.call('ZREM', P .. ':ready', ep)
  end
end

local expired = redis.call('ZRANGEBYSCORE', P .. ':lease', '-inf', now, 'LIMIT', 0, 200)
for _, id in ipairs(expired) do
  redis.call('ZREM', P .. ':lease', id)
  local dk = P .. ':dl:' .. id
  local d = redis.call('HMGET', dk, 'endpoint_id', 'attempt_count')
  if d[1] and redis.call('EXISTS', P .. ':ep:' .. d[1]) == 1 then
    local ek = P .. ':ep:' .. d[1]
    if tonumber(redis.call('HINCRBY', ek, 'in_flight', -1)) < 0 then redis.call('HSET', ek, 'in_flight', 0) end
    redis.call('HINCRBY', P .. ':stats', 'due', redis.call('ZADD', ek .. ':due', now_s, id))
    local st = 'retrying'
    if (d[2] or '0') == '0' then st = 'pending' end
    redis.call('HSET', dk, 'state', st, 'fence', '', 'next_retry_at', now_s, 'updated_at', now_s)
    refresh_ready(d[1])
  end
end

local out, n = {'', 0}, 0
local ready = redis.call('ZRANGEBYSCORE', P .. ':ready', '-inf', now, 'LIMIT', 0, budget)
for _, ep in ipairs(ready) do
  if n >= budget then break end
  local ek = P .. ':ep:' .. ep
  local e = redis.call('HMGET', ek, 'status', 'in_flight', 'max_in_flight', 'url', 'secret',
                       'prev_secret', 'prev_expires')
  if e[1] == 'ACTIVE' then
    local prev = ''
    if e[6] ~= '' and tonumber(e[7]) > now then prev = e[6] end
    local take = math.min(tonumber(e[3]) - tonumber(e[2]), budget - n)
    local got = 0
    if take > 0 then
      local due = redis.call('ZRANGEBYSCORE', ek .. ':due', '-inf', now, 'LIMIT', 0, take)
      for _, id in ipairs(due) do
        redis.call('ZREM', ek .. ':due', id)
        local dk = P .. ':dl:' .. id
        local d = redis.call('HMGET', dk, 'event_id', 'attempt_count', 'sched_base')
        -- an original delivery waits without a hash (lib/delivery.lua)
        d[1], d[2] = d[1] or dl_origin(id), d[2] or '0'
        if d[1] then
          -- attempts counted for the retry schedule: since the last requeue
          local tries = d[2]
          if d[3] then tries = tostring(tonumber(d[2]) - tonumber(d[3])) end
          -- the fence only has to differ from this delivery's previous one: a
          -- delivery is claimed again only after its lease (> 1 ms) ran out
          local fence = now_s .. '.' .. n + got
          redis.call('ZADD', P .. ':lease', until_s, id)
          redis.call('HSET', dk, 'state', 'in_progress', 'fence', fence, 'updated_at', now_s, 'endpoint_id', ep)
          local payload = redis.call('GET', P .. ':ev:' .. d[1] .. ':body') or 'null'
          for _, v in ipairs({id, d[1], ep, e[4], e[5], prev, payload, tries, fence}) do
            out[#out + 1] = v
          end
          got = got + 1
        end
      end
      if #due > 0 then redis.call('HINCRBY', P .. ':stats', 'due', -#due) end
      if got > 0 then redis.call('HINCRBY', ek, 'in_flight', got) end
      n = n + got
    end
  end
  refresh_ready(ep)
end
out[2] = n
local nxt = redis.call('ZRANGE', P .. ':ready', 0, 0, 'WITHSCORES')
if nxt[2] then out[1] = nxt[2] end
return out

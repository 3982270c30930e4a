-- Claim due deliveries of one partition for sending.
-- KEYS[1] = P; ARGV: now, lease_ms, budget
-- First returns expired leases (a crashed or stalled process's work) to their
-- endpoints' due sets, then walks ready endpoints (ACTIVE, due work, free
-- capacity) in order of earliest due time, taking up to each one's free
-- capacity. Each claimed delivery moves to the lease set, scored by its lease
-- expiry; that score is also its fencing token: complete.lua refuses an
-- outcome whose token is not the delivery's current score. A delivery is
-- claimed again only after its lease ran out, so a new claim's score always
-- differs from the last one's. Nothing else is written per delivery here.
-- Returns the CLAIM_REPLY_FIELDS of store/fields.h (earliest ready score or
--   "", and how many deliveries, endpoint records and event records follow),
--   then per delivery its CLAIMED_FIELDS, then each endpoint's record
--   (LEASE_FIELDS with the endpoint's own fields and the fence,
--   lib/lease.lua) and each event's (EVENT_RECORD_FIELDS), once each
-- requires: fields
-- requires: lib/lease.lua
-- requires: lib/delivery.lua
-- requires: lib/payload.lua
-- requires: lib/schedule.lua
-- requires: lib/fifo.lua
local P, now, lease_ms, budget = KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
-- strings for redis.call: a Lua number would be formatted as a float each time
local now_s, until_s = ARGV[1], string.format('%d', tonumber(ARGV[1]) + tonumber(ARGV[2]))

local expired = redis.call('ZRANGEBYSCORE', P .. ':lease', '-inf', now, 'LIMIT', 0, 200)
for _, id in ipairs(expired) do
  redis.call('ZREM', P .. ':lease', id)
  local dk = P .. ':dl:' .. id
  local d = redis.call('HMGET', dk, 'endpoint_id', 'attempt_count')
  local ep = d[1] or dl_origin_endpoint(P, id)
  if ep and redis.call('EXISTS', P .. ':ep:' .. ep) == 1 then
    local ek = P .. ':ep:' .. ep
    if tonumber(redis.call('HINCRBY', ek, 'in_flight', -1)) < 0 then redis.call('HSET', ek, 'in_flight', 0) end
    redis.call('HINCRBY', P .. ':stats', 'due', redis.call('ZADD', ek .. ':due', now_s, id))
    local st = DL_RETRYING
    if (d[2] or '0') == '0' then st = DL_PENDING end
    redis.call('HSET', dk, 'state', st, 'next_retry_at', now_s, 'updated_at', now_s)
    ready_refresh(P, ep)
  end
end

local out, n, events = {}, 0, {}
local endpoints_out, events_out, nev = {}, {}, 0 -- the records, once each
out[1 + CLAIM_NEXT_READY], out[1 + CLAIM_LEASED], out[1 + CLAIM_ENDPOINTS], out[1 + CLAIM_EVENTS] = '', 0, 0, 0
local ready = redis.call('ZRANGEBYSCORE', P .. ':ready', '-inf', now, 'LIMIT', 0, budget)
for _, ep in ipairs(ready) do
  if n >= budget then break end
  local ek = P .. ':ep:' .. ep
  local e = redis.call('HMGET', ek, 'status', 'in_flight', 'max_in_flight', 'url', 'secret',
                       'prev_secret', 'prev_expires', 'tls_ca', 'tls_cert', 'tls_key', 'signature_scheme',
                       'sign_key', 'prev_sign_key', 'auth_token_url', 'auth_client_id', 'auth_client_secret',
                       'auth_scope', 'fifo_used', 'headers', 'rate_limit', 'rl_tokens', 'rl_at', 'eff_rate',
                       'paused_until', 'circuit', 'circuit_next_probe')
  -- the rate to hold: rate_limit, or lower while throttled (complete.lua)
  local rate, level, not_before, took = held_rate(e[20], e[23]), nil, nil, 0
  local eff, paused = tonumber(e[23]), tonumber(e[24]) or 0
  if e[1] == EP_ACTIVE then
    local prev = prev_secret_in_force(e[6], e[7], now)
    local take = math.min(tonumber(e[3]) - tonumber(e[2]), budget - n)
    if paused > now then -- a receiver's Retry-After: nothing until then
      take, not_before = 0, paused
    elseif paused > 0 then
      redis.call('HDEL', ek, 'paused_until') -- over
      if not eff then redis.call('SREM', P .. ':throttled', ep) end
    end
    -- an open circuit (complete.lua) sends nothing until its next probe,
    -- then one delivery; half-open until that outcome, or its lease's end
    local probing = false
    if e[25] and e[25] ~= '' and take > 0 then
      local probe_at = tonumber(e[26]) or 0
      if now < probe_at then
        take, not_before = 0, probe_at
      else
        take, probing = 1, true
      end
    end
    if rate and paused <= now then
      local whole
      whole, level = rate_tokens(rate, e[21], e[22], now)
      take = math.min(take, whole)
    end
    if take > 0 then
      -- the lowest scores are the lowest ranks: one range removal takes them all
      local due = redis.call('ZRANGEBYSCORE', ek .. ':due', '-inf', now, 'LIMIT', 0, take)
      local at = #endpoints_out / LEASE_FIELDS -- this endpoint's record, when it leases
      if #due > 0 then
        lease_append(endpoints_out, '', '', ep, e[4], e[5], prev, '', '', until_s, '', '', e[8], e[9], e[10], e[11],
                     e[12], prev_secret_in_force(e[13], e[7], now), e[14], e[15], e[16], e[17], '', e[19])
        redis.call('ZREMRANGEBYRANK', ek .. ':due', 0, #due - 1)
        redis.call('HINCRBY', P .. ':stats', 'due', -#due)
        redis.call('HINCRBY', ek, 'in_flight', #due)
        lease_add(P, due, until_s)
      end
      for i, id in ipairs(due) do
        -- an original delivery waits without a hash (lib/delivery.lua)
        local d = redis.call('HMGET', P .. ':dl:' .. id, 'event_id', 'attempt_count', 'sched_base', 'state')
        local evid, ac = d[1] or dl_origin(id) or '', d[2] or '0'
        -- attempts counted for the retry schedule: since the last requeue
        local tries = ac
        if d[3] then tries = tostring(tonumber(ac) - tonumber(d[3])) end
        -- one read per event: fan-out claims many deliveries of one event
        local ev = events[evid]
        if not ev then
          local ek = P .. ':ev:' .. evid
          local h = redis.call('HMGET', ek, 'b', 'n', 'idempotency_key', 'sync_session_id', 'request_id', 'okey',
                               'test')
          ev = {nev, ev_simple(h[2], h[1], h[3], h[4], h[5]), h[6] or ''}
          events[evid] = ev
          local b = #events_out + 1
          events_out[b + EVREC_ID], events_out[b + EVREC_PAYLOAD] = evid, payload_get(ek, h[1])
          events_out[b + EVREC_TEST] = h[7] and '1' or ''
          nev = nev + 1
        end
        -- simple also needs the delivery to have no hash (every write of one
        -- sets state or event_id): pruning then deletes no delivery key
        local simple = ev[2]
        if d[1] or d[4] then simple = '0' end
        local b = #out + 1
        out[b + CLAIMED_ID], out[b + CLAIMED_ENDPOINT], out[b + CLAIMED_EVENT] = id, at, ev[1]
        out[b + CLAIMED_TRIES], out[b + CLAIMED_ATTEMPT_COUNT], out[b + CLAIMED_SIMPLE] = tries, ac, simple
        out[b + CLAIMED_QUEUE] = fifo_mark(e[18], ev[3])
      end
      n = n + #due
      took = #due
      e[2] = tostring(tonumber(e[2]) + #due)
      if probing and took > 0 then
        local lease_end = now + lease_ms
        redis.call('HSET', ek, 'circuit', 'half_open', 'circuit_next_probe', string.format('%d', lease_end))
        not_before = lease_end
      end
    end
    if rate and paused <= now then
      local next_token = rate_spend(ek, rate, level, took, now)
      not_before = not_before or next_token
    end
  end
  ready_refresh(P, ep, e, not_before)
end
out[1 + CLAIM_LEASED], out[1 + CLAIM_ENDPOINTS], out[1 + CLAIM_EVENTS] = n, #endpoints_out / LEASE_FIELDS, nev
local nxt = redis.call('ZRANGE', P .. ':ready', 0, 0, 'WITHSCORES')
if nxt[2] then out[1 + CLAIM_NEXT_READY] = nxt[2] end
for _, v in ipairs(endpoints_out) do out[#out + 1] = v end
for _, v in ipairs(events_out) do out[#out + 1] = v end
return out

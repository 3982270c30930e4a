-- Record a batch of attempt outcomes of one partition. KEYS[1] = P
-- ARGV: now, disable_threshold, disable_after_ms, circuit_failures,
-- circuit_cooldown_ms, circuit_cooldown_max_ms, then per outcome the
-- OUTCOME_FIELDS of store/fields.h, read by those names (what each holds is
-- said there)
-- An original delivery (one of the first 64 of its event) that succeeds at
-- its first attempt is recorded as the event field "r<index>" =
-- "<delivered_ms>|<compact>" instead of a hash and an attempt list
-- (lib/delivery.lua reads it): a quarter of the memory and two writes fewer;
-- its attempt then comes as "" (the caller builds no JSON for it).
-- Returns the VERDICT_FIELDS of store/fields.h per outcome: applied (1, or 0
-- when the fence is stale: the lease expired and the delivery was claimed
-- again, so this result must not win), disabled (1 when this outcome
-- disabled the endpoint), the endpoint's org when it was disabled or the
-- delivery's attempts are used up (else ""), and the event's type when they
-- are used up (else ""), and "opened"/"closed" when the outcome did that to
-- the endpoint's circuit (else ""): what the caller needs to announce it
-- (operational events, reactor/delivery/pump.c).
-- "release" hands an unanswered delivery back (shutdown) without counting an attempt.
-- The fence is the lease score claim.lua gave; while it holds, nobody else
-- writes the delivery, so the claimed attempt_count is still current.
-- Endpoint reads and in_flight updates are done once per endpoint per batch.
-- Values are passed to Redis as the strings received: converting Lua numbers
-- costs a float format per call, which profiles showed.
-- requires: fields
-- requires: lib/delivery.lua
-- requires: lib/schedule.lua
-- requires: lib/fifo.lua
-- requires: lib/stats.lua
local P, now, threshold, after = KEYS[1], ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local circuit_failures, cooldown, cooldown_max = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
local nnow = tonumber(now)
local FIRST = 7
local THROTTLES_MAX = 100 -- README "Throttling"
local out, eps, done, finished, compacts = {}, {}, {}, {}, {}
local advanced = false

-- each endpoint's attempts and latency bins of this batch, written once at
-- its end (lib/stats.lua)
local stats = {}
local function stat(ek, field, bin)
  local s = stats[ek]
  if not s then
    s = {}
    stats[ek] = s
  end
  if field then s[field] = (s[field] or 0) + 1 end
  if bin ~= '' then s[bin] = (s[bin] or 0) + 1 end
end

-- a delivery of a fifo queue (OUT_QUEUE) finished: the next of its key is
-- scheduled now (lib/fifo.lua); a deleted endpoint's queues are canceled
-- instead (prune.lua)
local function queue_advance(ek, e, queue, id)
  if queue == '' then return end
  if not e then -- deleted: prune.lua cancels the rest; this one is finished already
    redis.call('LREM', ek .. ':fifo:' .. string.sub(queue, 2), 1, id)
    return
  end
  local nxt = fifo_advance(ek, string.sub(queue, 2), id)
  if nxt then
    redis.call('HINCRBY', P .. ':stats', 'due', redis.call('ZADD', ek .. ':due', now, nxt))
    advanced = true
  end
end

-- the endpoint's state, read once per batch; nil when it was deleted
local function endpoint(ep)
  local e = eps[ep]
  if e == nil then
    local h = redis.call('HMGET', P .. ':ep:' .. ep, 'status', 'consecutive_failures', 'failing_since',
                         'max_in_flight', 'org_id', 'eff_rate', 'eff_base', 'eff_at', 'circuit',
                         'circuit_cooldown')
    e = false
    if h[1] then
      e = {ek = P .. ':ep:' .. ep, status = h[1], cf = tonumber(h[2]), since = tonumber(h[3]), max = h[4], org = h[5], freed = 0,
           eff = tonumber(h[6]), base = tonumber(h[7]), eff_at = tonumber(h[8]) or 0, circuit = h[9] or '',
           cooldown = tonumber(h[10])}
    end
    eps[ep] = e
  end
  return e or nil
end

local function failed(ek, e, code, action)
  e.cf = tonumber(redis.call('HINCRBY', ek, 'consecutive_failures', 1))
  if e.since == 0 then
    e.since = nnow
    redis.call('HSET', ek, 'failing_since', now)
  end
  local reason = nil
  if action == 'disable' then
    reason = 'receiver asked to disable (' .. (code ~= '' and ('HTTP ' .. code) or 'header') .. ')'
  elseif e.cf >= threshold and nnow - e.since >= after then
    reason = 'failing since ' .. e.since .. ' (' .. e.cf .. ' consecutive failures)'
  end
  if reason and e.status == EP_ACTIVE then
    redis.call('HSET', ek, 'status', EP_DISABLED, 'disabled_at', now, 'disabled_reason', reason, 'updated_at', now)
    e.status = EP_DISABLED
    return 1
  end
  return 0
end

-- Throttling (store/lease.h ACTION_PAUSE, ACTION_SLOW): the endpoint
-- pauses until next_at, or its effective rate halves (floor 1/s), from its
-- rate_limit or, without one, its current pace by Little's law (deliveries
-- in flight / this attempt's duration); a second after each step, a 2xx
-- raises it by a quarter until it is back (eff_base) and the throttle ends.
local function throttle(ek, e, action, next_at, att)
  redis.call('SADD', P .. ':throttled', string.sub(ek, #P + 5)) -- for /metrics (stats.lua)
  if action == 'pause' then
    local until_ms = tonumber(redis.call('HGET', ek, 'paused_until') or '0')
    if tonumber(next_at) > until_ms then redis.call('HSET', ek, 'paused_until', next_at) end
    return
  end
  if e.eff and nnow - e.eff_at < 1000 then return end -- a burst of 429s halves once a second
  local rate = e.eff
  if not rate then
    local h = redis.call('HMGET', ek, 'rate_limit', 'in_flight')
    rate = tonumber(h[1])
    if not rate then
      local ok, a = pcall(cjson.decode, att)
      local secs = math.max(0.001, ((ok and type(a) == 'table' and tonumber(a.duration_ms)) or 1000) / 1000)
      rate = math.min(100000, math.max(1, (tonumber(h[2]) or 1) / secs))
    end
    e.base = rate
    redis.call('HSET', ek, 'eff_base', string.format('%d', math.ceil(rate)))
  end
  e.eff, e.eff_at = math.max(1, math.floor(rate / 2)), nnow
  redis.call('HSET', ek, 'eff_rate', string.format('%d', e.eff), 'eff_at', now)
end

-- a 2xx on a slowed endpoint: a step back up, at most one a second
local function recover(ek, e)
  if not e.eff or nnow - e.eff_at < 1000 then return end
  e.eff, e.eff_at = math.floor(e.eff * 1.25) + 1, nnow
  if e.eff >= (e.base or 0) then
    redis.call('HDEL', ek, 'eff_rate', 'eff_base', 'eff_at')
    if not redis.call('HGET', ek, 'paused_until') then redis.call('SREM', P .. ':throttled', string.sub(ek, #P + 5)) end
    e.eff = nil
  else
    redis.call('HSET', ek, 'eff_rate', string.format('%d', e.eff), 'eff_at', now)
  end
end

-- The circuit breaker: circuit_failures consecutive failures open it
-- (nothing is claimed until circuit_next_probe, claim.lua); a probe that
-- fails opens it again for twice the cooldown (at most cooldown_max); a 2xx
-- closes it. Returns "opened", "closed" or "" (VERDICT_CIRCUIT).
local function circuit_open(ek, e, again)
  local cd = cooldown
  if again then cd = math.min(cooldown_max, (e.cooldown or cooldown) * 2) end
  e.circuit, e.cooldown = 'open', cd
  redis.call('HSET', ek, 'circuit', 'open', 'circuit_cooldown', string.format('%d', cd),
             'circuit_next_probe', string.format('%d', nnow + cd))
  if again then return '' end
  redis.call('HSET', ek, 'circuit_opened_at', now)
  redis.call('SADD', P .. ':circuits', string.sub(ek, #P + 5))
  return 'opened'
end

local function circuit_close(ek, e)
  if e.circuit == '' then return '' end
  e.circuit = ''
  redis.call('HDEL', ek, 'circuit', 'circuit_cooldown', 'circuit_next_probe', 'circuit_opened_at')
  redis.call('SREM', P .. ':circuits', string.sub(ek, #P + 5))
  return 'closed'
end

local function one(i, score)
  local id, fence, ep, ac = ARGV[i + OUT_ID], ARGV[i + OUT_FENCE], ARGV[i + OUT_ENDPOINT_ID], ARGV[i + OUT_ATTEMPT_COUNT]
  local ok, code, err, att = ARGV[i + OUT_OK], ARGV[i + OUT_CODE], ARGV[i + OUT_ERROR], ARGV[i + OUT_ATTEMPT]
  local started, next_at, action = ARGV[i + OUT_STARTED], ARGV[i + OUT_NEXT_AT], ARGV[i + OUT_ACTION]
  local evid, compact, simple = ARGV[i + OUT_EVENT_ID], ARGV[i + OUT_COMPACT], ARGV[i + OUT_SIMPLE]
  local queue, bin = ARGV[i + OUT_QUEUE], ARGV[i + OUT_LATENCY_BIN]
  -- the same text is the same fence (Redis writes an integral score as its digits): no strtod
  if not score or (score ~= fence and tonumber(score) ~= tonumber(fence)) then return 0, 0 end
  done[#done + 1] = id
  -- keys and numbers made only where used: each string made costs (a
  -- first-attempt success needs neither the delivery's key nor its count)
  local e = endpoint(ep)
  local dk, ek = nil, e and e.ek or P .. ':ep:' .. ep
  if e then e.freed = e.freed + 1 end
  if ok ~= '1' or compact == '' then dk = P .. ':dl:' .. id end
  if ok == 'release' then
    local st = DL_RETRYING
    if ac == '0' then st = DL_PENDING end
    redis.call('HSET', dk, 'state', st, 'next_retry_at', now, 'updated_at', now)
    if e then redis.call('HINCRBY', P .. ':stats', 'due', redis.call('ZADD', ek .. ':due', now, id)) end
    return 1, 0
  end
  local n = compact == '' and tostring(tonumber(ac) + 1) or nil
  local origin, idx = dl_origin(id)
  -- the receiver asked to wait (429/503): not a failure
  local throttled = ok ~= '1' and (action == 'pause' or action == 'slow') and e
  if e then
    if ok == '1' then stat(ek, nil, bin) else stat(ek, throttled and 't' or 'f', bin) end
  end
  if ok == '1' then
    if compact ~= '' then -- pump.c sends one only for an original delivery's first attempt
      -- gathered per event: a fan-out's outcomes share one HSET
      local f = compacts[evid]
      if not f then
        f = {}
        compacts[evid] = f
      end
      f[#f + 1] = record_name(idx)
      f[#f + 1] = now .. '|' .. compact
    else
      redis.call('RPUSH', dk .. ':att', att)
      redis.call('HSET', dk, 'attempt_count', n, 'last_attempt_at', started, 'updated_at', now,
                 'code', code, 'error', err, 'error_message', err, 'state', DL_COMPLETED, 'delivered_at', now,
                 'next_retry_at', '')
    end
    -- retention's clock starts (prune.lua): "c" kept compact, "s" that and
    -- its event is simple (its org comes along: pruning reads nothing)
    if simple == '1' and e then
      finished[#finished + 1] = finished_entry(now, 's', id, e.org)
    elseif compact ~= '' then
      finished[#finished + 1] = finished_entry(now, 'c', id)
    else
      finished[#finished + 1] = finished_entry(now, 'd', id)
    end
    if e and e.cf ~= 0 then
      redis.call('HSET', ek, 'consecutive_failures', '0', 'failing_since', '0')
      redis.call('ZREM', ek .. ':failed', id)
      e.cf, e.since = 0, 0
    end
    local circuit = ''
    if e then
      recover(ek, e)
      circuit = circuit_close(ek, e)
    end
    queue_advance(ek, e, queue, id)
    if circuit ~= '' then return 1, 0, e.org, '', circuit end
    return 1, 0
  end
  redis.call('RPUSH', dk .. ':att', att)
  local msg = err
  if msg == '' then msg = 'HTTP ' .. code end
  -- a receiver that never stops throttling: a delivery throttled
  -- THROTTLES_MAX times gives up (errored) like one whose retries ran out
  if throttled and tonumber(redis.call('HINCRBY', dk, 'throttled', 1)) > THROTTLES_MAX then
    throttled, next_at = false, '-1'
  end
  -- an attempt recorded that uses none of the delivery's retries (sched_base
  -- moves with attempt_count, so claim.lua counts the same tries), due at `at`
  local function keep_retries(at)
    local base = tonumber(redis.call('HGET', dk, 'sched_base') or '0') + 1
    redis.call('HSET', dk, 'attempt_count', n, 'sched_base', tostring(base), 'last_attempt_at', started,
               'updated_at', now, 'code', code, 'error', err, 'error_message', msg, 'state', DL_RETRYING,
               'next_retry_at', at)
    redis.call('HINCRBY', P .. ':stats', 'due', redis.call('ZADD', ek .. ':due', at, id))
  end
  if throttled then -- not a failure
    keep_retries(next_at)
    throttle(ek, e, action, next_at, att)
    return 1, 0
  end
  local disabled = 0
  -- the egress proxy's failure is not the receiver's: no consecutive
  -- failure, no auto-disable (the delivery's schedule still advances)
  if e and err ~= ATTEMPT_PROXY_ERROR then disabled = failed(ek, e, code, action) end
  if e and e.circuit ~= '' and err ~= ATTEMPT_PROXY_ERROR and action ~= 'abort' then
    -- sent before the circuit opened, or its probe: no retry used, nothing
    -- exhausted while it is open; a failed probe opens it for longer
    if e.circuit == 'half_open' then circuit_open(ek, e, true) end
    keep_retries(now)
    if disabled == 1 then return 1, 1, e.org or '', '' end
    return 1, 0
  end
  local circuit = ''
  if e and err ~= ATTEMPT_PROXY_ERROR and e.cf >= circuit_failures then circuit = circuit_open(ek, e, false) end
  local state = DL_RETRYING
  if action == 'abort' or next_at == '-1' or not e then state = DL_ERRORED next_at = '' end
  redis.call('HSET', dk, 'attempt_count', n, 'last_attempt_at', started, 'updated_at', now,
             'code', code, 'error', err, 'error_message', msg, 'state', state, 'next_retry_at', next_at)
  local org, etype = '', ''
  if state == DL_ERRORED then
    if e then redis.call('ZADD', ek .. ':failed', 0, id) end
    finished[#finished + 1] = finished_entry(now, 'd', id)
    etype = redis.call('HGET', P .. ':ev:' .. evid, 'type') or ''
    queue_advance(ek, e, queue, id)
  else
    redis.call('HINCRBY', P .. ':stats', 'due', redis.call('ZADD', ek .. ':due', next_at, id))
  end
  if e and (disabled == 1 or state == DL_ERRORED or circuit ~= '') then org = e.org or '' end
  return 1, disabled, org, etype, circuit
end

-- every fence in one read
local ids = {}
for i = FIRST, #ARGV, OUTCOME_FIELDS do ids[#ids + 1] = ARGV[i + OUT_ID] end
if #ids == 0 then return out end
local scores = redis.call('ZMSCORE', P .. ':lease', unpack(ids))
for k = 1, #ids do
  local applied, disabled, org, etype, circuit = one(FIRST + (k - 1) * OUTCOME_FIELDS, scores[k])
  local b = #out + 1
  out[b + VERDICT_APPLIED], out[b + VERDICT_DISABLED] = applied, disabled
  out[b + VERDICT_ORG], out[b + VERDICT_EVENT_TYPE] = org or '', etype or ''
  out[b + VERDICT_CIRCUIT] = circuit or ''
end
if #done > 0 then redis.call('ZREM', P .. ':lease', unpack(done)) end
if #finished > 0 then redis.call('RPUSH', P .. ':finished', unpack(finished)) end
for evid, f in pairs(compacts) do redis.call('HSET', P .. ':ev:' .. evid, unpack(f)) end
for ek, s in pairs(stats) do stats_add(ek, s, nnow) end

-- each endpoint touched: capacity back, and ready again if ACTIVE with due
-- work and capacity
for ep, e in pairs(eps) do
  if e then
    local ek = P .. ':ep:' .. ep
    local f = tonumber(redis.call('HINCRBY', ek, 'in_flight', -e.freed))
    if f < 0 then f = 0 redis.call('HSET', ek, 'in_flight', '0') end
    ready_refresh(P, ep, {e.status, f, e.max})
  end
end
if advanced then redis.call('PUBLISH', 'hookd:wake', P) end
return out

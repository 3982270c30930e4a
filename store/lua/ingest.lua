-- Accept a batch of events of one partition (group commit: store/ingest.c
-- gathers what arrived in one loop pass): for each, idempotency, fan-out to
-- matching endpoints, scheduling. One atomic step: a batch's events and all
-- their deliveries exist, or none do.
-- KEYS[1] = P
-- ARGV: offer, lease_ms, idem_ttl_s, payload chunk, then per event the INGEST_FIELDS of
--       store/fields.h (org, event_id, type, payload in its stored form,
--       now, idempotency_key, ...), read by those names
-- Returns one entry per event, in order: its INGEST_REPLY_FIELDS of
--   store/fields.h (status INGEST_STORED or INGEST_REPLAYED, event_id,
--   webhook_counter, "dl1,dl2,...", scheduled, n), then n leased
--   deliveries, HANDOFF_FIELDS each; or {INGEST_KEY_REUSED,
--   event_id} when the idempotency key was used for another request; or
--   {INGEST_STALE, event_id} when the org's endpoints changed since hookd
--   matched the event (INGEST_ROUTES_VERSION): nothing of it is written;
--   then one last element: the endpoints of the hand-offs, a LEASE_FIELDS
--   record each with only the endpoint's fields (lib/lease.lua), in the
--   order HANDOFF_ENDPOINT counts them. The caller has each event's id and
--   payload: they are not sent back.
-- Fan-out: hookd matched the event to the org's endpoints in its cache
-- (store/subscriptions.c) and passes their ids; the version it matched under
-- is checked here, once per org per batch, in the same atomic step as the
-- writes, so a stale cache costs a retry and never a wrong fan-out.
-- The idempotency key's value is "<event id>:<fingerprint>".
-- Direct hand-off: up to `offer` deliveries in all whose endpoint is ACTIVE,
-- has free capacity and nothing waiting in its due set are leased here for
-- the calling process (pump_offer), skipping the due set and a claim round
-- trip; the rest are scheduled. Nothing overtakes waiting work: an endpoint
-- with anything due is always served by claim.lua in due order. A test
-- send is always scheduled (claim.lua marks it as one).
-- The event id's low 16 bits are zero; its deliveries are that id with the
-- low 16 bits counting from 1, and get no hash until claimed
-- (lib/delivery.lua), so a scheduled delivery costs two index entries.
-- requires: fields
-- requires: lib/delivery.lua
-- requires: lib/lease.lua
-- requires: lib/payload.lua
-- requires: lib/schedule.lua
-- requires: lib/routes.lua
-- requires: lib/fifo.lua
local P, offer, lease_ms, idem_ttl = KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3]
local chunk = tonumber(ARGV[4]) -- Redis's hash-max-listpack-value as hookd read it (lib/payload.lua)
local FIRST = 5
-- What the events of a batch share is read once and written once: each
-- redis.call costs a few microseconds of conversion on top of its command,
-- which profiles showed to be most of an ingest's Redis time.
local wake, versions, eps, zadds, lease_args, finished, scheduled_all = false, {}, {}, {}, {}, {}, 0
local handed, handed_n = {}, 0 -- the endpoints handed deliveries to: LEASE_FIELDS records, HANDOFF_ENDPOINT's order

-- sorted-set members gathered over the batch: key -> {score, member, ...}
local function zadd_later(key, score, member)
  local t = zadds[key]
  if not t then
    t = {}
    zadds[key] = t
  end
  t[#t + 1] = score
  t[#t + 1] = member
end

-- ZADD key [LT CH] score member ..., 500 pairs a call (Lua's stack
-- limit); how many members were added, or with lt_ch added or lowered
local function zadd_pairs(key, args, lt_ch)
  local changed = 0
  for i = 1, #args, 1000 do
    local j = math.min(i + 999, #args)
    if lt_ch then
      changed = changed + redis.call('ZADD', key, 'LT', 'CH', unpack(args, i, j))
    else
      changed = changed + redis.call('ZADD', key, unpack(args, i, j))
    end
  end
  return changed
end

-- an endpoint as this batch sees it: read once; its in-flight count and
-- whether its due set holds anything kept current here
local function endpoint(ep, now)
  local e = eps[ep]
  if not e then
    local ek = P .. ':ep:' .. ep
    -- what decides a hand-off; the settings a lease needs are read only for
    -- an endpoint handed work (handed_endpoint): a fan-out to 100 endpoints
    -- hands off a few of them
    local h = redis.call('HMGET', ek, 'status', 'in_flight', 'max_in_flight', 'ordering', 'fifo_used', 'rate_limit',
                         'eff_rate', 'paused_until', 'circuit', 'rl_tokens', 'rl_at')
    e = {ek = ek, active = h[1] == EP_ACTIVE, in_flight = tonumber(h[2]) or 0, max = tonumber(h[3]) or 0, added = 0,
         fifo = h[4] == 'fifo', fifo_used = h[5]}
    -- paused or an open circuit: its work goes through claim.lua; a rate
    -- (rate_limit, or lower while slowed) is taken from here too, from the
    -- same bucket (lib/schedule.lua), written back once per batch
    e.blocked = (tonumber(h[8]) or 0) > 0 or (h[9] and h[9] ~= '')
    local rate = held_rate(h[6], h[7])
    if rate then
      local _, level = rate_tokens(rate, h[10], h[11], now)
      e.rl = {level = level, taken = 0, at = string.format('%d', now)}
    end
    eps[ep] = e
  end
  return e
end

local function has_due(e)
  if e.due == nil then e.due = redis.call('EXISTS', e.ek .. ':due') == 1 end
  return e.due
end

-- the endpoint's place in the reply's list of hand-off endpoints, its
-- record added at its first hand-off; a previous secret is in force as of
-- the first event handed to it
local function handed_endpoint(ep, e, now)
  if not e.handed then
    local h = redis.call('HMGET', e.ek, 'url', 'secret', 'prev_secret', 'prev_expires', 'tls_ca', 'tls_cert', 'tls_key',
                         'signature_scheme', 'sign_key', 'prev_sign_key', 'auth_token_url', 'auth_client_id',
                         'auth_client_secret', 'auth_scope', 'headers')
    lease_append(handed, '', '', ep, h[1], h[2], prev_secret_in_force(h[3], h[4], now), '', '', '', '', '', h[5], h[6],
                 h[7], h[8], h[9], prev_secret_in_force(h[10], h[4], now), h[11], h[12], h[13], h[14], '', h[15])
    e.handed, handed_n = handed_n, handed_n + 1
  end
  return e.handed
end

-- the org's routes version, read once per batch
local function version(org)
  local v = versions[org]
  if not v then
    v = routes_version(P, org)
    versions[org] = v
  end
  return v
end

-- a field and its value appended to an HSET argument list
local function field(args, k, v)
  args[#args + 1] = k
  args[#args + 1] = v
end

-- a count as text: '1' (nearly every event's fan-out) without formatting
local function count_text(n)
  if n == 1 then return '1' end
  return string.format('%d', n)
end

-- an event's entry of the reply, its INGEST_REPLY_FIELDS by name
local function entry(status, evid, counter, ids, scheduled, leased, retry_after)
  local e = {}
  e[1 + INGR_STATUS], e[1 + INGR_EVENT_ID], e[1 + INGR_WEBHOOK_COUNTER] = status, evid, counter
  e[1 + INGR_DELIVERY_IDS], e[1 + INGR_SCHEDULED], e[1 + INGR_LEASED] = ids, scheduled, leased
  e[1 + INGR_RETRY_AFTER] = retry_after or 0
  return e
end

-- An org's rate_limit (events per second), a token bucket in
-- P:org:<org>:limit read once per batch and written back at its end
-- (lib/schedule.lua's rate_tokens: half a second deep). Only an org hookd
-- knows to be limited (INGEST_ORG_LIMITED) is read.
local limits = {}
local function org_admits(O, now)
  local l = limits[O]
  if not l then
    local h = redis.call('HMGET', O .. ':limit', 'rate', 'tokens', 'at')
    l = {rate = tonumber(h[1]), taken = 0, at = string.format('%d', now)}
    if l.rate then
      local _, level = rate_tokens(l.rate, h[2], h[3], now)
      l.level = level
    end
    limits[O] = l
  end
  if not l.rate then return true, 0 end
  if l.level - l.taken >= 1 then
    l.taken = l.taken + 1
    return true, 0
  end
  return false, math.max(1, math.ceil((1 - (l.level - l.taken)) / l.rate))
end

local function ingest_one(a)
  local org, evid, etype, payload = ARGV[a + INGEST_ORG], ARGV[a + INGEST_EVENT_ID], ARGV[a + INGEST_TYPE],
                                    ARGV[a + INGEST_PAYLOAD]
  local now, idem, sess = ARGV[a + INGEST_NOW], ARGV[a + INGEST_IDEMPOTENCY_KEY], ARGV[a + INGEST_SYNC_SESSION_ID]
  local reqid, uid, fp = ARGV[a + INGEST_REQUEST_ID], ARGV[a + INGEST_USER_ID], ARGV[a + INGEST_FINGERPRINT]
  local okey = ARGV[a + INGEST_ORDERING_KEY]
  -- numbers read and written once an event: each tonumber is a strtod, each
  -- tostring of a Lua number a %.14g (Redis profiles show both)
  local nnow = tonumber(now)
  local until_s = string.format('%d', nnow + lease_ms)
  local O = P .. ':org:' .. org
  local test = ARGV[a + INGEST_TEST_ENDPOINT]
  if test ~= '' then -- a test send goes to its endpoint whatever it subscribes to, if it is the org's
    if redis.call('HGET', P .. ':ep:' .. test, 'org_id') ~= org then return {INGEST_GONE, evid} end
  elseif ARGV[a + INGEST_ROUTES_VERSION] ~= version(org) then
    return {INGEST_STALE, evid}
  end
  if idem ~= '' then
    local prev = redis.call('GET', O .. ':idem:' .. idem)
    if prev then
      local prev_fp = string.sub(prev, 38)
      prev = string.sub(prev, 1, 36)
      if prev_fp ~= '' and prev_fp ~= fp then return {INGEST_KEY_REUSED, prev} end
      local e = redis.call('HMGET', P .. ':ev:' .. prev, 'webhook_counter', 'n')
      return entry(INGEST_REPLAYED, prev, e[1] or '', ev_dl_ids(prev, tonumber(e[2]) or 0), 0, 0)
    end
  end
  -- the org's rate_limit, after the idempotency key: a replayed request is
  -- answered as before and takes no token
  if ARGV[a + INGEST_ORG_LIMITED] == '1' then
    local ok, wait = org_admits(O, nnow)
    if not ok then return entry(INGEST_LIMITED, evid, '', '', 0, 0, wait) end
  end
  local counter = ''
  if sess ~= '' then counter = tostring(redis.call('INCR', O .. ':sess:' .. sess)) end
  local head = string.sub(evid, 1, 32)
  local ids, to, leased, scheduled = {}, {}, 0, 0
  local list, dls_key = ARGV[a + INGEST_ENDPOINTS], O .. ':dls'
  -- known before the fan-out, so each lease goes straight into the entry
  local simple = ev_simple(count_text(#list / 36), #payload <= PAYLOAD_INLINE_MAX, idem ~= '', sess ~= '', reqid ~= '')
  local out = entry(INGEST_STORED, evid, counter, '', 0, 0)
  for at = 1, #list, 36 do
    local ep = string.sub(list, at, at + 35)
    local e = endpoint(ep, nnow)
    if #ids == 65535 then return redis.error_reply('fan-out over 65535 endpoints') end
    local id = head .. string.format('%04x', #ids + 1)
    ids[#ids + 1] = id
    to[#to + 1] = ep
    zadd_later(dls_key, 0, id)
    if sess ~= '' then zadd_later(O .. ':sess:' .. sess .. ':dls', 0, id) end
    if reqid ~= '' then zadd_later(O .. ':req:' .. reqid .. ':dls', 0, id) end
    local free = e.active and e.in_flight < e.max
    if e.fifo and not fifo_push(e.ek, okey, id) then
      -- held behind an earlier delivery of its key (lib/fifo.lua)
    elseif free and offer > 0 and not e.blocked and test == '' and not has_due(e) and
           (not e.rl or e.rl.level - e.rl.taken >= 1) then
      if e.rl then e.rl.taken = e.rl.taken + 1 end
      offer = offer - 1
      e.in_flight, e.added = e.in_flight + 1, e.added + 1
      lease_args[#lease_args + 1] = until_s
      lease_args[#lease_args + 1] = id
      leased = leased + 1
      handoff_append(out, id, handed_endpoint(ep, e, now), until_s, simple, fifo_mark(e.fifo_used, okey))
    else
      zadd_later(e.ek .. ':due', now, id)
      e.due = true
      scheduled = scheduled + 1
      if free and (not e.ready_at or nnow < e.ready_ms) then e.ready_at, e.ready_ms = now, nnow end
    end
  end
  scheduled_all = scheduled_all + scheduled
  out[1 + INGR_DELIVERY_IDS], out[1 + INGR_SCHEDULED], out[1 + INGR_LEASED] = table.concat(ids, ','), scheduled, leased
  -- no 'id' field: the key names it (record_get.lua adds it for the API)
  local ev = {'org_id', org, 'type', etype, 'created_at', now, 'user_id', uid, 'n', count_text(#ids)}
  -- the payload in the hash when it is small enough (lib/payload.lua)
  if not payload_fields(ev, payload, chunk) then redis.call('SET', P .. ':ev:' .. evid .. ':body', payload) end
  -- one endpoint fits the hash; more go to a fixed-width string read by GETRANGE
  if #to == 1 then field(ev, 'ep', to[1]) end
  if #to > 1 then redis.call('SET', P .. ':ev:' .. evid .. ':eps', table.concat(to)) end
  -- optional fields only when set: every byte is multiplied by the backlog
  if sess ~= '' then field(ev, 'sync_session_id', sess) field(ev, 'webhook_counter', counter) end
  if reqid ~= '' then field(ev, 'request_id', reqid) end
  if idem ~= '' then field(ev, 'idempotency_key', idem) end
  if okey ~= '' then field(ev, 'okey', okey) end
  if test ~= '' then field(ev, 'test', '1') end
  redis.call('HSET', P .. ':ev:' .. evid, unpack(ev))
  if idem ~= '' then redis.call('SET', O .. ':idem:' .. idem, evid .. ':' .. fp, 'EX', idem_ttl) end
  -- an event that went nowhere is finished at once (prune.lua)
  if #ids == 0 then finished[#finished + 1] = finished_entry(now, 'e', evid) end
  return out
end

local results = {}
for a = FIRST, #ARGV, INGEST_FIELDS do results[#results + 1] = ingest_one(a) end

-- the batch's gathered writes
for O, l in pairs(limits) do
  if l.rate and l.taken > 0 then
    redis.call('HSET', O .. ':limit', 'tokens', string.format('%.4f', l.level - l.taken), 'at', l.at)
  end
end
for key, args in pairs(zadds) do zadd_pairs(key, args) end
if #lease_args > 0 then zadd_pairs(P .. ':lease', lease_args) end
local ready = {} -- one ZADD for every endpoint made ready: a fan-out makes many
for ep, e in pairs(eps) do
  if e.added > 0 then redis.call('HINCRBY', e.ek, 'in_flight', e.added) end
  if e.rl and e.rl.taken > 0 then
    redis.call('HSET', e.ek, 'rl_tokens', string.format('%.4f', e.rl.level - e.rl.taken), 'rl_at', e.rl.at)
  end
  if e.ready_at then
    ready[#ready + 1] = e.ready_at
    ready[#ready + 1] = ep
  end
end
if zadd_pairs(P .. ':ready', ready, true) > 0 then wake = true end
if scheduled_all > 0 then redis.call('HINCRBY', P .. ':stats', 'due', scheduled_all) end
if #finished > 0 then redis.call('RPUSH', P .. ':finished', unpack(finished)) end
if wake then redis.call('PUBLISH', 'hookd:wake', P) end
results[#results + 1] = handed
return results

-- lib/delivery.lua: reading a delivery record (put in front of each script
-- that says "-- requires: lib/delivery.lua"; see cmake/embed_lua.cmake).
--
-- An original delivery (made at ingest) is named by its event's id with the
-- low 16 bits set to its 1-based index among the event's deliveries, and it
-- has no hash while it waits: its org, type, time and user are its event's,
-- its endpoint is the event's i-th (field `ep` when there is one, else the
-- fixed-width string P:ev:<ev>:eps), its state is pending. A scheduled
-- delivery so costs its two index entries and nothing else. A claim writes
-- no hash either (the lease set says it is in progress); the hash is written
-- when an attempt's outcome is recorded and holds only what changed. A
-- replay has a hash from the start, naming its event_id and endpoint_id.

local ID_LEN = 36
-- An original delivery may be kept as the event field "r<index>"
-- (complete.lua; pump.c keeps it to an event's first 64, so the event hash
-- stays a listpack).

-- "<delivered_ms>|<code>|<started_ms>|<duration_ms>|<body>" -> a table
local function compact_decode(s)
  local done, code, started, ms, body = string.match(s, '^(%d+)|(%d*)|(%d+)|(%d+)|(.*)$')
  if not done then return nil end
  return {delivered_at = done, code = code, started = started, ms = ms, body = body}
end

-- An entry of P:finished, the list retention prunes from (prune.lua):
-- "<finished_ms, 13 digits><kind: s|c|d|e><id, 36>[<org, 36> for s]"
local function finished_entry(ms, kind, id, org)
  return string.rep('0', 13 - #ms) .. ms .. kind .. id .. (org or '')
end

-- "1" when an event is simple: one delivery, its payload in its hash
-- (lib/payload.lua), no idempotency key, session or request id. The one
-- entry of its delivery in P:finished then carries the org and pruning
-- removes the event without reading it, unless a replay pinned it
-- (P:pinned). Arguments: the event's fields n, b, idempotency_key,
-- sync_session_id, request_id as read (false when absent).
local function ev_simple(n, inline, idem, sess, req)
  if n == '1' and inline and not idem and not sess and not req then return '1' end
  return '0'
end

-- the event id and index of an original delivery's id, or nil
local function dl_origin(id)
  local i = tonumber(string.sub(id, 33, 36), 16)
  if #id ~= ID_LEN or not i or i == 0 then return nil end
  return string.sub(id, 1, 32) .. '0000', i
end

-- "r<index>", the event hash's field of an original delivery's compact
-- record (only the first 64 of an event have one): made once per index
-- (the prelude runs once in a function library, so they are kept for its
-- lifetime; in a script, for the call)
local record_names = {}
local function record_name(idx)
  local name = record_names[idx]
  if not name then
    name = 'r' .. idx
    if idx <= 64 then record_names[idx] = name end
  end
  return name
end

-- the ids of an event's n original deliveries, comma-joined
local function ev_dl_ids(evid, n)
  local ids, head = {}, string.sub(evid, 1, 32)
  for i = 1, n do ids[i] = head .. string.format('%04x', i) end
  return table.concat(ids, ',')
end

-- the endpoint of an event's i-th delivery (one_ep: the event's `ep` field)
local function ev_endpoint(P, evid, one_ep, n, i)
  if not i or i > n then return nil end
  if n == 1 then return one_ep end
  local s = redis.call('GETRANGE', P .. ':ev:' .. evid .. ':eps', (i - 1) * ID_LEN, i * ID_LEN - 1)
  if #s == ID_LEN then return s end
  return nil
end

-- the endpoint of an original delivery, from its event; nil for any other id
-- (a replay names its endpoint in its hash)
local function dl_origin_endpoint(P, id)
  local evid, idx = dl_origin(id)
  if not evid then return nil end
  local e = redis.call('HMGET', P .. ':ev:' .. evid, 'n', 'ep')
  return ev_endpoint(P, evid, e[2], tonumber(e[1]) or 0, idx)
end

-- The delivery a held one waits behind in its fifo queue (lib/fifo.lua),
-- or nil (it heads its queue, or is in none). Looks no further than the
-- first 10,000 of the queue.
local function fifo_held_by(ek, okey, id)
  local q = ek .. ':fifo:' .. okey
  local at = redis.call('LPOS', q, id, 'MAXLEN', 10000)
  if not at or at == 0 then return nil end
  return redis.call('LINDEX', q, at - 1) or nil
end

-- A delivery of org as a field table, or nil when there is none: another
-- org's delivery reads exactly like a missing one.
local function dl_get(P, id, org)
  local h = redis.call('HGETALL', P .. ':dl:' .. id)
  local d, idx = {}, nil
  for i = 1, #h, 2 do d[h[i]] = h[i + 1] end
  if not d.event_id then
    d.event_id, idx = dl_origin(id)
    if not d.event_id then return nil end
  end
  local cfield = 'n' -- a field read anyway: a placeholder when there is no compact one to read
  if idx then cfield = record_name(idx) end
  local e = redis.call('HMGET', P .. ':ev:' .. d.event_id, 'org_id', 'type', 'created_at', 'user_id', 'n', 'ep',
                       'sync_session_id', 'webhook_counter', 'request_id', cfield, 'okey', 'test')
  if e[1] ~= org then return nil end
  -- an original delivery without a hash exists while its org lists it:
  -- retention (prune.lua) may have removed it while its event, still
  -- holding other deliveries, stays
  if idx and not redis.call('ZSCORE', P .. ':org:' .. org .. ':dls', id) then return nil end
  if not d.endpoint_id then
    d.endpoint_id = ev_endpoint(P, d.event_id, e[6], tonumber(e[5]), idx)
    if not d.endpoint_id then return nil end
  end
  d.id, d.org_id, d.event_type = id, org, e[2]
  d.created_at = d.created_at or e[3]
  d.user_id = d.user_id or e[4]
  d.sync_session_id, d.webhook_counter, d.request_id = e[7] or nil, e[8] or nil, e[9] or nil
  d.state = d.state or DL_PENDING
  d.ordering_key = e[11] or nil
  d.test = e[12] or nil
  local c = cfield ~= 'n' and e[10] and compact_decode(e[10])
  if c then -- succeeded at its first attempt, kept compact: it wins over a
    -- hash left by a shutdown's release before that attempt
    d.compact = c
    d.state, d.attempt_count, d.code, d.error, d.error_message = DL_COMPLETED, '1', c.code, '', ''
    d.last_attempt_at, d.delivered_at, d.updated_at, d.next_retry_at = c.started, c.delivered_at, c.delivered_at, ''
  end
  -- a claim writes nothing to the hash: a leased delivery is being attempted
  if d.state ~= DL_COMPLETED and d.state ~= DL_ERRORED and d.state ~= DL_CANCELED and
     redis.call('ZSCORE', P .. ':lease', id) then
    d.state = DL_IN_PROGRESS
  end
  if d.state == DL_PENDING or d.state == DL_RETRYING then
    local ek = P .. ':ep:' .. d.endpoint_id
    local ep = redis.call('HMGET', ek, 'org_id', 'fifo_used')
    if not ep[1] then
      -- its endpoint was deleted: canceled now, whenever prune.lua's
      -- round writes it so
      d.state, d.next_retry_at = DL_CANCELED, ''
    elseif d.state == DL_PENDING and ep[2] == '1' then
      d.held_by = fifo_held_by(ek, d.ordering_key or '', id)
    end
  end
  d.attempt_count = d.attempt_count or '0'
  d.next_retry_at = d.next_retry_at or d.created_at
  d.updated_at = d.updated_at or d.created_at
  return d
end

-- a field table as HGETALL would return it
local function dl_flat(d)
  local out = {}
  for k, v in pairs(d) do
    if type(v) == 'string' then
      out[#out + 1] = k
      out[#out + 1] = v
    end
  end
  return out
end

-- the attempt of a compact delivery as the attempt list holds it
local function compact_attempt_json(c)
  local a = {number = 1, started_at = tonumber(c.started), duration_ms = tonumber(c.ms), response_body = c.body}
  if c.code ~= '' then a.status_code = tonumber(c.code) end
  return cjson.encode(a)
end

-- Turn a compact delivery (d from dl_get) into a hash and an attempt list,
-- before something changes it (a requeue).
local function dl_expand(P, id, d)
  local c = d.compact
  if not c then return end
  local dk = P .. ':dl:' .. id
  redis.call('DEL', dk, dk .. ':att')
  redis.call('HSET', dk, 'attempt_count', '1', 'last_attempt_at', c.started, 'updated_at', c.delivered_at,
             'code', c.code, 'error', '', 'error_message', '', 'state', DL_COMPLETED,
             'delivered_at', c.delivered_at, 'next_retry_at', '')
  redis.call('RPUSH', dk .. ':att', compact_attempt_json(c))
  local _, idx = dl_origin(id)
  redis.call('HDEL', P .. ':ev:' .. d.event_id, record_name(idx))
  d.compact = nil
end


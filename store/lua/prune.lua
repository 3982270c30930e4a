-- Retention: remove what finished longer ago than `retention`, a bounded
-- batch per call. KEYS[1] = P
-- ARGV: now, cutoff (now - retention, ms), limit (work units, below)
-- Returns {deliveries pruned, events pruned, deliveries canceled, more (0|1),
--          oldest finished time still kept (ms, or "")}
--
-- P:finished (list) names what may be pruned, in the order it finished
-- (lib/delivery.lua, finished_entry):
--   s  an original delivery kept compact, with no hash, whose event is simple
--      (ev_simple): the entry names the org, and pruning removes the delivery
--      and its event without reading either, unless a replay pinned the event since
--      (P:pinned: then as c). Most records are these: what they cost to
--      prune is what retention costs.
--   c  an original delivery kept as its event's compact record: no attempt
--      list, and pruning needs no read of a hash
--   d  any other finished delivery: completed, errored, canceled; it has a hash
--   e  an event that matched no endpoint
-- Appended as records finish, the list is oldest first up to the clock skew
-- between processes, which can only delay a prune: a call takes entries from
-- the head while they are older than the cutoff. A list rather than a sorted
-- set: an entry costs ~52 bytes instead of ~135, and taking a batch is one
-- LRANGE and one LTRIM instead of a skiplist removal per record.
-- A requeue makes a finished delivery unfinished again and cannot reach its
-- entry, so it counts it in the hash P:requeued; pruning skips as many of
-- that delivery's entries as are counted (its earliest, the stale ones).
-- Unfinished work is never in the list. An event goes when its last
-- delivery does (its `live` field counts deliveries not pruned, replays
-- included; absent, `n` stands for it), taking its payload, endpoint list
-- and idempotency key; a sync session's counter goes with its last delivery.
--
-- Deleting an endpoint renames its due set to P:ep:<ep>:canceling and lists
-- it in P:canceling; each call here also cancels up to limit/4 of those
-- deliveries (state canceled, finished now), so no call walks a whole set.
-- A call does at most `limit` units of work: an "s" entry is one, those that
-- need reads cost three or four (measured: ~3 us against ~9 and ~11 of
-- Redis CPU), so a call stays far under a millisecond whatever the mix,
-- and the common case is pruned in few, large calls.
-- Scripts run one at a time, so processes pruning side by side never remove
-- a record twice. Each redis.call costs a few microseconds of fixed
-- overhead, so deletions and index removals are gathered over the batch and
-- issued once each.
-- requires: lib/delivery.lua
-- requires: fields
local P, now, cutoff, limit = KEYS[1], ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local UNITS = {s = 1, c = 3, e = 3, d = 4}
local R = P .. ':finished'

local dels, zrems, sessions, events = {}, {}, {}, {}

local function zrem(key, member)
  local t = zrems[key]
  if not t then
    t = {}
    zrems[key] = t
  end
  t[#t + 1] = member
end

-- the event's fields that pruning needs, read once per batch; nil when gone
local function event(evid)
  local e = events[evid]
  if e == nil then
    local h = redis.call('HMGET', P .. ':ev:' .. evid, 'org_id', 'idempotency_key', 'sync_session_id',
                         'request_id', 'n', 'ep', 'live', 'b')
    e = false
    if h[1] then
      e = {org = h[1], idem = h[2], sess = h[3], req = h[4], n = tonumber(h[5]) or 0, ep = h[6],
           inline = h[8]}
      e.live = tonumber(h[7]) or e.n
      e.was = e.live
    end
    events[evid] = e
  end
  return e or nil
end

local function prune_delivery(kind, id)
  local dk = P .. ':dl:' .. id
  -- a compact one may still have a hash a shutdown's release left (never an
  -- attempt list): deleting a missing key is only a lookup
  dels[#dels + 1] = dk
  local evid, idx = dl_origin(id)
  local ep, state = nil, DL_COMPLETED
  if kind == 'd' then
    dels[#dels + 1] = dk .. ':att'
    local h = redis.call('HMGET', dk, 'event_id', 'endpoint_id', 'state')
    ep, state = h[2], h[3] or state
    if h[1] then evid, idx = h[1], nil end -- a replay names its event
  end
  local e = evid and event(evid)
  if not e then return end
  local O = P .. ':org:' .. e.org
  zrem(O .. ':dls', id)
  if state ~= DL_COMPLETED then -- errored and canceled ones may be in a failed set
    ep = ep or ev_endpoint(P, evid, e.ep, e.n, idx)
    if ep then zrem(P .. ':ep:' .. ep .. ':failed', id) end
  end
  if e.req then zrem(O .. ':req:' .. e.req .. ':dls', id) end
  if e.sess then
    zrem(O .. ':sess:' .. e.sess .. ':dls', id)
    sessions[O .. ':sess:' .. e.sess] = true
  end
  e.live = e.live - 1
  if idx then -- its compact record, if any, when the event stays
    e.fields = e.fields or {}
    e.fields[#e.fields + 1] = record_name(idx)
  end
end

-- entries of the retain set of earlier versions (a sorted set), moved to the
-- head of the list, newest first so the oldest ends up in front
local legacy = redis.call('ZREVRANGE', P .. ':retain', 0, limit / 4 - 1, 'WITHSCORES')
for i = 1, #legacy, 2 do
  local kind = string.sub(legacy[i], 1, 1)
  if kind == 'c' then kind = 'd' end -- it meant "completed", hash or not
  redis.call('LPUSH', R, finished_entry(legacy[i + 1], kind, string.sub(legacy[i], 3)))
  redis.call('ZREM', P .. ':retain', legacy[i])
end

-- cancel the queued deliveries of deleted endpoints, a batch at a time
local canceled, finished = 0, {}
local cep = redis.call('SRANDMEMBER', P .. ':canceling')
if cep then
  local ck = P .. ':ep:' .. cep .. ':canceling'
  -- first its fifo queues (lib/fifo.lua): a queue's held deliveries join
  -- the canceling set; its first was due (already there) or in flight
  -- (complete.lua records it), so it is left alone
  local fk = P .. ':ep:' .. cep .. ':fifos'
  local okey = redis.call('SRANDMEMBER', fk)
  if okey then
    local q = P .. ':ep:' .. cep .. ':fifo:' .. okey
    local moved = redis.call('LPOP', q, math.max(1, math.floor(limit / 4))) or {}
    for _, id in ipairs(moved) do
      if not redis.call('ZSCORE', P .. ':lease', id) and not redis.call('ZSCORE', ck, id) then
        redis.call('ZADD', ck, 0, id)
      end
    end
    if redis.call('EXISTS', q) == 0 then redis.call('SREM', fk, okey) end
  end
  -- the canceling set once every queue is in it: a queue's first, in the
  -- set, is so seen by the check above before it is canceled
  local ids = {}
  if not okey then ids = redis.call('ZRANGE', ck, 0, limit / 4 - 1) end
  for _, id in ipairs(ids) do
    local dk = P .. ':dl:' .. id
    redis.call('HSET', dk, 'state', DL_CANCELED, 'next_retry_at', '', 'updated_at', now, 'endpoint_id', cep)
    if not redis.call('HGET', dk, 'event_id') then redis.call('HSET', dk, 'event_id', (dl_origin(id))) end
    finished[#finished + 1] = finished_entry(now, 'd', id)
  end
  canceled = #ids
  if #ids > 0 then
    redis.call('ZREMRANGEBYRANK', ck, 0, #ids - 1)
    redis.call('RPUSH', R, unpack(finished))
  end
  if redis.call('EXISTS', ck) == 0 and redis.call('EXISTS', fk) == 0 then redis.call('SREM', P .. ':canceling', cep) end
end

-- the head of the list, as far as it is older than the cutoff and the
-- call's work units go
local head = redis.call('LRANGE', R, 0, limit - 1)
local take, units, full = 0, 0, #head == limit
for i, m in ipairs(head) do
  if tonumber(string.sub(m, 1, 13)) > cutoff then
    full = false
    break
  end
  units = units + (UNITS[string.sub(m, 14, 14)] or 4)
  if units > limit and take > 0 then
    full = true
    break
  end
  take = i
end

-- requeues and replays are rare: one call says whether either must be looked at
local rare = take > 0 and redis.call('EXISTS', P .. ':requeued', P .. ':pinned') > 0

-- stale entries (a requeue made their delivery unfinished since)
local stale = nil
if rare and redis.call('EXISTS', P .. ':requeued') == 1 then
  local ids = {}
  for i = 1, take do ids[i] = string.sub(head[i], 15, 50) end
  local counts, left = redis.call('HMGET', P .. ':requeued', unpack(ids)), {}
  stale = {}
  for i = 1, take do
    local id = ids[i]
    if counts[i] and left[id] == nil then left[id] = tonumber(counts[i]) end
    if left[id] and left[id] > 0 then
      stale[i], left[id] = true, left[id] - 1
    end
  end
  for id, n in pairs(left) do
    if n > 0 then redis.call('HSET', P .. ':requeued', id, tostring(n)) else redis.call('HDEL', P .. ':requeued', id) end
  end
end

-- simple events a replay pinned since their entry was written
local pinned, any_pinned = {}, rare and redis.call('EXISTS', P .. ':pinned') == 1
if any_pinned then
  local evids = {}
  for i = 1, take do evids[i] = dl_origin(string.sub(head[i], 15, 50)) or '' end
  local is = redis.call('SMISMEMBER', P .. ':pinned', unpack(evids))
  for i = 1, take do if is[i] == 1 then pinned[i] = true end end
end

local dls, evs, gone, org_dls = 0, 0, {}, {}
for i = 1, take do
  if not (stale and stale[i]) then
    local m = head[i]
    local kind, id = string.sub(m, 14, 14), string.sub(m, 15, 50)
    if kind == 's' and not pinned[i] then
      -- the delivery and its event, with no read (see above)
      local org = string.sub(m, 51)
      local ok = org_dls[org]
      if not ok then
        ok = P .. ':org:' .. org .. ':dls'
        org_dls[org] = ok
      end
      zrem(ok, id)
      dels[#dels + 1] = P .. ':ev:' .. string.sub(id, 1, 32) .. '0000'
      dls, evs = dls + 1, evs + 1
    elseif kind == 'e' then
      event(id) -- read, so the sweep below removes it (its live count is 0)
    else
      dls = dls + 1
      prune_delivery(kind, id)
    end
  end
end
for evid, e in pairs(events) do
  if e and e.live <= 0 then
    local ek = P .. ':ev:' .. evid
    gone[#gone + 1] = evid
    dels[#dels + 1] = ek
    if not e.inline then dels[#dels + 1] = ek .. ':body' end
    if e.n > 1 then dels[#dels + 1] = ek .. ':eps' end
    if e.idem then
      local ik = P .. ':org:' .. e.org .. ':idem:' .. e.idem
      if string.sub(redis.call('GET', ik) or '', 1, 36) == evid then dels[#dels + 1] = ik end
    end
    evs = evs + 1
  elseif e and e.live ~= e.was then
    redis.call('HSET', P .. ':ev:' .. evid, 'live', tostring(e.live))
    if e.fields then redis.call('HDEL', P .. ':ev:' .. evid, unpack(e.fields)) end
  end
end
for key, members in pairs(zrems) do redis.call('ZREM', key, unpack(members)) end
for sk in pairs(sessions) do
  if redis.call('EXISTS', sk .. ':dls') == 0 then dels[#dels + 1] = sk end
end
if #dels > 0 then redis.call('DEL', unpack(dels)) end
if #gone > 0 and any_pinned then redis.call('SREM', P .. ':pinned', unpack(gone)) end
if take > 0 then redis.call('LTRIM', R, take, -1) end
local more = 0
if full or canceled >= limit / 4 or #legacy > 0 then more = 1 end
local oldest = redis.call('LINDEX', R, 0)
if oldest then oldest = tostring(tonumber(string.sub(oldest, 1, 13))) end
return {dls, evs, canceled, more, oldest or ''}

-- Retention: remove what finished longer ago than `retention`, a bounded
-- batch per call. KEYS[1] = P
-- ARGV: now, cutoff (now - retention, ms), limit
-- Returns {deliveries pruned, events pruned, deliveries canceled, more (0|1),
--          oldest finished time still kept (ms, or "")}
--
-- P:retain (zset) scores what may be pruned by when it finished:
--   "c:<id>"  an original delivery that completed (complete.lua): its event
--             id is in its own id and it sits in no failed set, so pruning
--             needs no read of its hash
--   "d:<id>"  any other finished delivery: completed replay, errored, canceled
--   "e:<id>"  an event that matched no endpoint
-- Unfinished work is never in it. An event goes when its last delivery does
-- (its `live` field counts deliveries not pruned, replays included; absent,
-- `n` stands for it), taking its payload, endpoint list and idempotency key;
-- a sync session's counter goes with its last delivery.
--
-- Deleting an endpoint renames its due set to P:ep:<ep>:canceling and lists
-- it in P:canceling; each call here also cancels up to `limit` of those
-- deliveries (state canceled, finished now), so no call walks a whole set.
-- Scripts run one at a time, so processes pruning side by side never remove
-- a record twice. Each redis.call costs a few microseconds of fixed
-- overhead, so deletions and index removals are gathered over the batch and
-- issued once each: pruning a record should cost a small part of what making
-- and delivering it did.
-- requires: lib/delivery.lua
local P, now, cutoff, limit = KEYS[1], ARGV[1], ARGV[2], tonumber(ARGV[3])
local R = P .. ':retain'

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
                         'request_id', 'n', 'ep', 'live')
    e = false
    if h[1] then
      e = {org = h[1], idem = h[2], sess = h[3], req = h[4], n = tonumber(h[5]) or 0, ep = h[6]}
      e.live = tonumber(h[7]) or e.n
      e.was = e.live
    end
    events[evid] = e
  end
  return e or nil
end

local function prune_delivery(kind, id)
  local dk = P .. ':dl:' .. id
  dels[#dels + 1] = dk
  dels[#dels + 1] = dk .. ':att'
  local evid, idx, ep, state = nil, nil, nil, 'completed'
  if kind == 'c' then
    evid, idx = dl_origin(id)
  else
    local h = redis.call('HMGET', dk, 'event_id', 'endpoint_id', 'state')
    evid, ep, state = h[1], h[2], h[3]
    if not evid then evid, idx = dl_origin(id) end
  end
  local e = evid and event(evid)
  if not e then return end
  local O = P .. ':org:' .. e.org
  zrem(O .. ':dls', id)
  if state ~= 'completed' then -- errored and canceled ones may be in a failed set
    ep = ep or ev_endpoint(P, evid, e.ep, e.n, idx)
    if ep then zrem(P .. ':ep:' .. ep .. ':failed', id) end
  end
  if e.req then zrem(O .. ':req:' .. e.req .. ':dls', id) end
  if e.sess then
    zrem(O .. ':sess:' .. e.sess .. ':dls', id)
    sessions[O .. ':sess:' .. e.sess] = true
  end
  e.live = e.live - 1
  if kind == 'c' and idx then -- its compact record, if any, when the event stays
    e.fields = e.fields or {}
    e.fields[#e.fields + 1] = 'r' .. idx
  end
end

-- cancel the queued deliveries of deleted endpoints, a batch at a time
local canceled = 0
local cep = redis.call('SRANDMEMBER', P .. ':canceling')
if cep then
  local ck = P .. ':ep:' .. cep .. ':canceling'
  local ids = redis.call('ZRANGE', ck, 0, limit - 1)
  for _, id in ipairs(ids) do
    local dk = P .. ':dl:' .. id
    redis.call('HSET', dk, 'state', 'canceled', 'next_retry_at', '', 'updated_at', now, 'endpoint_id', cep)
    if not redis.call('HGET', dk, 'event_id') then redis.call('HSET', dk, 'event_id', (dl_origin(id))) end
    redis.call('ZADD', R, now, 'd:' .. id)
  end
  canceled = #ids
  if #ids > 0 then redis.call('ZREMRANGEBYRANK', ck, 0, #ids - 1) end
  if redis.call('EXISTS', ck) == 0 then redis.call('SREM', P .. ':canceling', cep) end
end

local due = redis.call('ZRANGEBYSCORE', R, '-inf', cutoff, 'LIMIT', 0, limit)
local dls, evs = 0, 0
for _, m in ipairs(due) do
  local kind, id = string.sub(m, 1, 1), string.sub(m, 3)
  if kind == 'e' then
    event(id) -- read, so the sweep below removes it (its live count is 0)
  else
    dls = dls + 1
    prune_delivery(kind, id)
  end
end
for evid, e in pairs(events) do
  if e and e.live <= 0 then
    local ek = P .. ':ev:' .. evid
    dels[#dels + 1] = ek
    dels[#dels + 1] = ek .. ':body'
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
if #due > 0 then redis.call('ZREM', R, unpack(due)) end
local more = 0
if #due >= limit or canceled >= limit then more = 1 end
local oldest = redis.call('ZRANGE', R, 0, 0, 'WITHSCORES')
return {dls, evs, canceled, more, oldest[2] or ''}

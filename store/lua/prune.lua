-- Retention: remove what finished longer ago than `retention`, a bounded
-- batch per call. KEYS[1] = P
-- ARGV: now, cutoff (now - retention, ms), limit
-- Returns {deliveries pruned, events pruned, deliveries canceled, more (0|1),
--          oldest finished time still kept (ms, or "")}
--
-- P:retain (zset) scores what may be pruned by when it finished: "d:<id>"
-- a delivery that completed, errored or was canceled; "e:<id>" an event that
-- matched no endpoint. Unfinished work is never in it. An event goes when
-- its last delivery does (its `live` field counts deliveries not pruned,
-- replays included), taking its payload, endpoint list and idempotency key;
-- a sync session's counter goes with its last delivery.
--
-- Deleting an endpoint renames its due set to P:ep:<ep>:canceling and lists
-- it in P:canceling; each call here also cancels up to `limit` of those
-- deliveries (state canceled, finished now), so no call walks a whole set.
-- Scripts run one at a time, so two processes pruning at once never remove
-- the same record twice.
-- requires: lib/delivery.lua
local P, now, cutoff, limit = KEYS[1], ARGV[1], ARGV[2], tonumber(ARGV[3])
local R = P .. ':retain'

-- `also` (optional): a delivery's keys to delete in the same call
local function drop_event(evid, e, also)
  local ek = P .. ':ev:' .. evid
  if e.n > 1 then
    if also then redis.call('DEL', ek, ek .. ':body', ek .. ':eps', also, also .. ':att')
    else redis.call('DEL', ek, ek .. ':body', ek .. ':eps') end
  elseif also then
    redis.call('DEL', ek, ek .. ':body', also, also .. ':att')
  else
    redis.call('DEL', ek, ek .. ':body')
  end
  if e.org and e.idem then
    local ik = P .. ':org:' .. e.org .. ':idem:' .. e.idem
    if redis.call('GET', ik) == evid then redis.call('DEL', ik) end
  end
end

-- the event's fields that pruning needs, or nil when it is gone
local function event(evid)
  local h = redis.call('HMGET', P .. ':ev:' .. evid, 'org_id', 'idempotency_key', 'sync_session_id', 'request_id',
                       'n', 'ep', 'live')
  if not h[1] then return nil end
  return {org = h[1], idem = h[2], sess = h[3], req = h[4], n = tonumber(h[5]) or 0, ep = h[6],
          live = tonumber(h[7] or h[5]) or 0}
end

-- Few calls per record: pruning should cost a small part of what making
-- and delivering the record cost.
local function prune_delivery(id)
  local dk = P .. ':dl:' .. id
  local h = redis.call('HMGET', dk, 'event_id', 'endpoint_id', 'state')
  local evid, idx = h[1], nil
  if not evid then evid, idx = dl_origin(id) end
  local e = evid and event(evid)
  if not e then
    redis.call('DEL', dk, dk .. ':att')
    return 0
  end
  local O = P .. ':org:' .. e.org
  redis.call('ZREM', O .. ':dls', id)
  if h[3] ~= 'completed' then -- only errored and canceled ones may be in a failed set
    local ep = h[2] or ev_endpoint(P, evid, e.ep, e.n, idx)
    if ep then redis.call('ZREM', P .. ':ep:' .. ep .. ':failed', id) end
  end
  if e.req then redis.call('ZREM', O .. ':req:' .. e.req .. ':dls', id) end
  if e.sess then
    local sk = O .. ':sess:' .. e.sess
    redis.call('ZREM', sk .. ':dls', id)
    if redis.call('EXISTS', sk .. ':dls') == 0 then redis.call('DEL', sk) end
  end
  if e.live <= 1 then
    drop_event(evid, e, dk)
    return 1
  end
  redis.call('DEL', dk, dk .. ':att')
  redis.call('HSET', P .. ':ev:' .. evid, 'live', tostring(e.live - 1))
  return 0
end

-- cancel the queued deliveries of deleted endpoints, a batch at a time
local canceled = 0
local ep = redis.call('SRANDMEMBER', P .. ':canceling')
if ep then
  local ck = P .. ':ep:' .. ep .. ':canceling'
  local ids = redis.call('ZRANGE', ck, 0, limit - 1)
  for _, id in ipairs(ids) do
    local dk = P .. ':dl:' .. id
    redis.call('HSET', dk, 'state', 'canceled', 'next_retry_at', '', 'updated_at', now, 'endpoint_id', ep)
    if not redis.call('HGET', dk, 'event_id') then redis.call('HSET', dk, 'event_id', (dl_origin(id))) end
    redis.call('ZADD', R, now, 'd:' .. id)
  end
  canceled = #ids
  if #ids > 0 then redis.call('ZREMRANGEBYRANK', ck, 0, #ids - 1) end
  if redis.call('EXISTS', ck) == 0 then redis.call('SREM', P .. ':canceling', ep) end
end

local due = redis.call('ZRANGEBYSCORE', R, '-inf', cutoff, 'LIMIT', 0, limit)
local dls, evs = 0, 0
for _, m in ipairs(due) do
  local kind, id = string.sub(m, 1, 1), string.sub(m, 3)
  if kind == 'd' then
    dls = dls + 1
    evs = evs + prune_delivery(id)
  else
    local e = event(id)
    if e and e.live == 0 then
      drop_event(id, e)
      evs = evs + 1
    end
  end
end
if #due > 0 then redis.call('ZREM', R, unpack(due)) end
local more = 0
if #due >= limit or canceled >= limit then more = 1 end
local oldest = redis.call('ZRANGE', R, 0, 0, 'WITHSCORES')
return {dls, evs, canceled, more, oldest[2] or ''}

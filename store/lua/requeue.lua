-- Contract 004: put deliveries of one endpoint back on the schedule (the same
-- delivery, not a copy), with a fresh retry schedule (sched_base).
-- KEYS[1] = P; ARGV: org, endpoint_id, now, delivery_id ('' = every errored
-- one), batch
-- -> {'no_endpoint'} | {'no_delivery'} | {'ok', requeued, more (0|1), endpoint}
-- Without a delivery id at most `batch` are requeued per call; the caller
-- calls again while `more` is 1, so no call walks an unbounded set.
-- requires: lib/delivery.lua
-- requires: lib/schedule.lua
-- requires: lib/fifo.lua
-- requires: fields
local P, org, ep, now, did, batch = KEYS[1], ARGV[1], ARGV[2], ARGV[3], ARGV[4], tonumber(ARGV[5])
local ek = P .. ':ep:' .. ep
local owner = redis.call('HMGET', ek, 'org_id', 'ordering', 'fifo_used')
if owner[1] ~= org then return {'no_endpoint'} end
local fifo, fifo_used = owner[2] == 'fifo', owner[3] == '1'

-- the delivery's ordering key (its event's)
local function ordering_key(id, dk)
  local evid = redis.call('HGET', dk, 'event_id') or dl_origin(id)
  return redis.call('HGET', P .. ':ev:' .. evid, 'okey') or ''
end

-- finished: the delivery was completed, errored or canceled, so
-- P:finished names it; that entry is now stale (prune.lua skips it).
-- 1 when requeued; 0 when being attempted right now, or waiting in its
-- fifo queue already (it goes when its turn comes, whatever the ordering
-- is now). On a fifo endpoint a requeued delivery goes to the back of its
-- key's queue (lib/fifo.lua), out of the due set if it sat there from
-- before the endpoint was fifo.
local function requeue(id, finished)
  if redis.call('ZSCORE', P .. ':lease', id) then return 0 end
  local dk = P .. ':dl:' .. id
  local okey, held = nil, false
  if fifo_used then
    okey = ordering_key(id, dk)
    if redis.call('LPOS', ek .. ':fifo:' .. okey, id) then
      redis.call('ZREM', ek .. ':failed', id)
      return 0
    end
  end
  if fifo then
    if redis.call('ZREM', ek .. ':due', id) == 1 then redis.call('HINCRBY', P .. ':stats', 'due', -1) end
    held = not fifo_push(ek, okey, id)
  end
  local ac = tonumber(redis.call('HGET', dk, 'attempt_count') or '0')
  local st = DL_RETRYING
  if ac == 0 or held then st = DL_PENDING end
  redis.call('HSET', dk, 'state', st, 'next_retry_at', now, 'sched_base', ac, 'updated_at', now)
  if not held then redis.call('HINCRBY', P .. ':stats', 'due', redis.call('ZADD', ek .. ':due', now, id)) end
  redis.call('ZREM', ek .. ':failed', id)
  if finished then redis.call('HINCRBY', P .. ':requeued', id, 1) end -- unfinished again: never pruned
  return 1
end

local n, more = 0, 0
if did ~= '' then
  local d = dl_get(P, did, org)
  if not d or d.endpoint_id ~= ep then return {'no_delivery'} end
  local finished = d.state == DL_COMPLETED or d.state == DL_ERRORED or d.state == DL_CANCELED
  dl_expand(P, did, d) -- a compact record becomes a hash it can change
  requeue(did, finished)
  n = 1 -- the contract counts the one it was asked for, as before
else
  local ids = redis.call('ZRANGEBYLEX', ek .. ':failed', '-', '+', 'LIMIT', 0, batch)
  for _, id in ipairs(ids) do n = n + requeue(id, true) end -- errored, all of them
  if redis.call('ZCARD', ek .. ':failed') > 0 then more = 1 end
end
if ready_refresh(P, ep) then redis.call('PUBLISH', 'hookd:wake', P) end
return {'ok', n, more, redis.call('HGETALL', ek)}

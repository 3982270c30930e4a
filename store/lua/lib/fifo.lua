-- lib/fifo.lua: ordered delivery, for endpoints with "ordering": "fifo"
-- (put in front of each script that says "-- requires: lib/fifo.lua").
--
-- A fifo endpoint keeps, per ordering key, a queue of its deliveries in the
-- order their events were accepted:
--   P:ep:<ep>:fifo:<key>   list  delivery ids; the first is scheduled, leased
--                                or retrying like any delivery, the others
--                                are held: in no due set, state pending
--   P:ep:<ep>:fifos        set   the keys that have a queue (so deleting the
--                                endpoint can cancel them, prune.lua)
-- Events without an ordering_key share the key "". When the first finishes
-- (completed, or errored with its attempts used up) complete.lua pops it and
-- schedules the next. The endpoint field fifo_used ("1" once ordering was
-- fifo, never cleared) makes claims mark deliveries with their queue
-- (LEASE_QUEUE), so queues made under fifo still drain, in order, after the
-- endpoint goes back to "none". A held delivery's reads name the one it
-- waits behind (held_by, lib/delivery.lua).

-- Appends a delivery to its queue: true when it heads it (schedule it now),
-- false when it waits behind another.
local function fifo_push(ek, okey, id)
  if redis.call('RPUSH', ek .. ':fifo:' .. okey, id) > 1 then return false end
  redis.call('SADD', ek .. ':fifos', okey)
  return true
end

-- A delivery of the queue finished: when it heads it, it leaves, and the
-- next one (to be scheduled by the caller) is returned; else nil.
local function fifo_advance(ek, okey, id)
  local q = ek .. ':fifo:' .. okey
  if redis.call('LINDEX', q, 0) ~= id then return nil end
  redis.call('LPOP', q)
  local nxt = redis.call('LINDEX', q, 0)
  if not nxt then
    redis.call('SREM', ek .. ':fifos', okey)
    return nil
  end
  return nxt
end

-- LEASE_QUEUE of a delivery: "q" .. key when its endpoint keeps queues
local function fifo_mark(fifo_used, okey)
  if fifo_used == '1' then return 'q' .. (okey or '') end
  return ''
end

-- lib/subs.lua: an org's endpoints indexed by the event types they take,
-- so an ingest reads only the endpoints an event goes to, however many the
-- org has.
--   P:org:<org>:sub:<type>  lex zset  endpoints subscribed to <type>
--   P:org:<org>:sub:*       lex zset  endpoints that take every type ('*' is
--                                     not a valid event type)
--   P:org:<org>:subs        string    "ready" once the index covers every
--                                     endpoint of the org; while data written
--                                     before the index exists, the id of the
--                                     last endpoint indexed so far
-- Endpoint ids are UUIDv7, so each index is in creation order.
-- hookd's own event types (hookd.*, operational events) go only to the
-- endpoints that name them: an endpoint taking every type opted into the
-- org's events, not into hookd's notices about itself.

local function sub_opt_in_only(etype) return string.sub(etype, 1, 6) == 'hookd.' end

local SUB_BUILD_BATCH = 256

local function sub_keys(P, org, types)
  local O = P .. ':org:' .. org .. ':sub:'
  if not types or types == '' then return {O .. '*'} end
  local keys = {}
  for t in string.gmatch(types, '[^,]+') do keys[#keys + 1] = O .. t end
  return keys
end

local function sub_add(P, org, id, types)
  for _, k in ipairs(sub_keys(P, org, types)) do redis.call('ZADD', k, 0, id) end
end

local function sub_remove(P, org, id, types)
  for _, k in ipairs(sub_keys(P, org, types)) do redis.call('ZREM', k, id) end
end

-- The org's endpoints an event of `etype` goes to, in creation order, or nil
-- while the index is still being built for data older than it (then one
-- bounded step of the build runs, and the caller scans every endpoint).
local function sub_endpoints(P, org, etype)
  local O = P .. ':org:' .. org
  local state = redis.call('GET', O .. ':subs')
  if state ~= 'ready' then
    local from = '-'
    if state then from = '(' .. state end
    local ids = redis.call('ZRANGEBYLEX', O .. ':eps', from, '+', 'LIMIT', 0, SUB_BUILD_BATCH)
    for _, id in ipairs(ids) do sub_add(P, org, id, redis.call('HGET', P .. ':ep:' .. id, 'event_types')) end
    if #ids < SUB_BUILD_BATCH then redis.call('SET', O .. ':subs', 'ready')
    else redis.call('SET', O .. ':subs', ids[#ids]) end
    return nil
  end
  local a = redis.call('ZRANGEBYLEX', O .. ':sub:' .. etype, '-', '+')
  if sub_opt_in_only(etype) then return a end
  local b = redis.call('ZRANGEBYLEX', O .. ':sub:*', '-', '+')
  if #b == 0 then return a end
  if #a == 0 then return b end
  local out, i, j = {}, 1, 1 -- merge two sorted lists
  while i <= #a or j <= #b do
    if j > #b or (i <= #a and a[i] < b[j]) then
      out[#out + 1] = a[i]
      i = i + 1
    else
      out[#out + 1] = b[j]
      j = j + 1
    end
  end
  return out
end

-- A page of an org's deliveries, newest first, through the narrowest index.
-- KEYS[1] = P
-- ARGV: org, cursor (exclusive, an id), limit, endpoint (one id, or several
--       "id,id" for a portal session limited to them), state, event_type,
--       sync_session_id, since_id (inclusive), until_id (exclusive), scan_max
-- Returns {next_cursor, delivery...}; next_cursor is "" at the end. At most
-- scan_max index entries are read per call, so a sparse filter returns a short
-- page with a cursor rather than walking an unbounded set.
-- Returns false when the endpoint filter names an endpoint not in the org.
-- requires: lib/delivery.lua
local P, org, cursor, limit = KEYS[1], ARGV[1], ARGV[2], tonumber(ARGV[3])
local ep, state, etype, sess = ARGV[4], ARGV[5], ARGV[6], ARGV[7]
local since, untl, scan_max = ARGV[8], ARGV[9], tonumber(ARGV[10])
local O = P .. ':org:' .. org
local idx = O .. ':dls'
-- an endpoint filter reads the org's index and keeps that endpoint's ids:
-- a per-endpoint index would cost a ZADD and ~150 bytes per delivery
local eps = nil -- several endpoints: a set, each checked when read
if string.find(ep, ',', 1, true) then
  eps = {}
  for id in string.gmatch(ep, '[^,]+') do eps[id] = true end
elseif ep ~= '' and redis.call('HGET', P .. ':ep:' .. ep, 'org_id') ~= org then
  return false
end
if sess ~= '' then idx = O .. ':sess:' .. sess .. ':dls' end
local max = '+'
if untl ~= '' then max = '(' .. untl end
if cursor ~= '' and (max == '+' or cursor < string.sub(max, 2)) then max = '(' .. cursor end
local min = '-'
if since ~= '' then min = '[' .. since end
local out, scanned, last, done = {''}, 0, nil, false
while #out - 1 < limit and scanned < scan_max do
  local ids = redis.call('ZREVRANGEBYLEX', idx, max, min, 'LIMIT', 0, math.min(100, scan_max - scanned))
  if #ids == 0 then done = true break end
  for _, id in ipairs(ids) do
    scanned = scanned + 1
    last = id
    local d = dl_get(P, id, org)
    if d and (state == '' or d.state == state) and (etype == '' or d.event_type == etype)
       and (ep == '' or d.endpoint_id == ep or (eps and eps[d.endpoint_id])) then
      out[#out + 1] = dl_flat(d)
      if #out - 1 == limit then break end
    end
  end
  max = '(' .. last
end
if not done and last then out[1] = last end
return out

-- Read one record of an org. KEYS[1] = P; ARGV: kind (ep|ev|dl|att), id, org
-- Another org's record reads exactly like a missing one: {}.
-- requires: lib/delivery.lua
-- requires: lib/payload.lua
local P, kind, id, org = KEYS[1], ARGV[1], ARGV[2], ARGV[3]
if kind == 'att' then
  local d = dl_get(P, id, org)
  if not d then return false end
  if d.compact then return {compact_attempt_json(d.compact)} end
  return redis.call('LRANGE', P .. ':dl:' .. id .. ':att', 0, 199)
end
if kind == 'dl' then
  local d = dl_get(P, id, org)
  if not d then return {} end
  return dl_flat(d)
end
local k = P .. ':' .. kind .. ':' .. id
if redis.call('HGET', k, 'org_id') ~= org then return {} end
local h = redis.call('HGETALL', k)
if kind == 'ev' then
  -- the payload's chunks are taken out of the fields and joined
  local fields, chunks, inline = {}, {}, false
  for i = 1, #h, 2 do
    local c = payload_chunk(h[i])
    if c then
      chunks[c] = h[i + 1]
    elseif h[i] == 'b' then
      inline = true
    else
      fields[#fields + 1] = h[i]
      fields[#fields + 1] = h[i + 1]
    end
  end
  h = fields
  h[#h + 1] = 'id' -- not stored: the key names it
  h[#h + 1] = id
  h[#h + 1] = 'payload'
  if inline then h[#h + 1] = table.concat(chunks) else h[#h + 1] = payload_get(k, nil) end
  local n = tonumber(redis.call('HGET', k, 'n')) or 0
  h[#h + 1] = 'dls'
  h[#h + 1] = ev_dl_ids(id, n)
  -- the deliveries' endpoints, 36 bytes each in the same order (a portal
  -- session limited to endpoints sees only theirs: handlers/events.c)
  h[#h + 1] = 'dl_eps'
  if n == 1 then h[#h + 1] = redis.call('HGET', k, 'ep') or '' else h[#h + 1] = redis.call('GET', k .. ':eps') or '' end
end
return h

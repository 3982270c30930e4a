-- Read one record of an org. KEYS[1] = P; ARGV: kind (ep|ev|dl|att), id, org
-- Another org's record reads exactly like a missing one: {}.
-- requires: lib/delivery.lua
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
  h[#h + 1] = 'id' -- not stored: the key names it
  h[#h + 1] = id
  h[#h + 1] = 'payload'
  h[#h + 1] = redis.call('GET', k .. ':body') or 'null'
  h[#h + 1] = 'dls'
  h[#h + 1] = ev_dl_ids(id, tonumber(redis.call('HGET', k, 'n')) or 0)
end
return h

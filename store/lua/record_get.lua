-- Read one record of an org. KEYS[1] = P; ARGV: kind (ep|ev|dl|att), id, org
-- Another org's record reads exactly like a missing one: {}.
local P, kind, id, org = KEYS[1], ARGV[1], ARGV[2], ARGV[3]
if kind == 'att' then
  if redis.call('HGET', P .. ':dl:' .. id, 'org_id') ~= org then return false end
  return redis.call('LRANGE', P .. ':dl:' .. id .. ':att', 0, 199)
end
local k = P .. ':' .. kind .. ':' .. id
if redis.call('HGET', k, 'org_id') ~= org then return {} end
local h = redis.call('HGETALL', k)
if kind == 'ev' then
  h[#h + 1] = 'payload'
  h[#h + 1] = redis.call('GET', k .. ':body') or 'null'
end
return h

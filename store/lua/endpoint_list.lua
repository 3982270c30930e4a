-- An org's endpoints in creation order. KEYS[1] = P; ARGV: org, cursor (last id seen), limit,
-- and optionally "id,id": only these (a portal session limited to them; one page)
-- Returns {next_cursor, endpoint...} with each endpoint as HGETALL pairs.
local P, org, cursor, limit = KEYS[1], ARGV[1], ARGV[2], tonumber(ARGV[3])
if ARGV[4] then
  local out = {''}
  for id in string.gmatch(ARGV[4], '[^,]+') do
    if id > cursor and redis.call('HGET', P .. ':ep:' .. id, 'org_id') == org then
      out[#out + 1] = redis.call('HGETALL', P .. ':ep:' .. id)
    end
  end
  return out
end
local min = '-'
if cursor ~= '' then min = '(' .. cursor end
local ids = redis.call('ZRANGEBYLEX', P .. ':org:' .. org .. ':eps', min, '+', 'LIMIT', 0, limit + 1)
local out = {''}
for i = 1, math.min(#ids, limit) do
  out[#out + 1] = redis.call('HGETALL', P .. ':ep:' .. ids[i])
end
if #ids > limit then out[1] = ids[limit] end
return out

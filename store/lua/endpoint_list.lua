-- An org's endpoints in creation order. KEYS[1] = P; ARGV: org, cursor (last id seen), limit
-- Returns {next_cursor, endpoint...} with each endpoint as HGETALL pairs.
local P, org, cursor, limit = KEYS[1], ARGV[1], ARGV[2], tonumber(ARGV[3])
local min = '-'
if cursor ~= '' then min = '(' .. cursor end
local ids = redis.call('ZRANGEBYLEX', P .. ':org:' .. org .. ':eps', min, '+', 'LIMIT', 0, limit + 1)
local out = {''}
for i = 1, math.min(#ids, limit) do
  out[#out + 1] = redis.call('HGETALL', P .. ':ep:' .. ids[i])
end
if #ids > limit then out[1] = ids[limit] end
return out

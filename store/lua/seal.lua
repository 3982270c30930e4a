-- Endpoint secrets at rest (store/secrets.h): one batch of the start-up
-- walk that seals what is still clear, or under the previous key.
-- KEYS[1] = P
-- ARGV[1] = 'scan': cursor, count, then the field names -> {next cursor,
--   then per endpoint hash of this partition: id and each field's value
--   ("" when absent)} (SCAN MATCH P:ep:*, so in a cluster only this
--   partition's keys, all in this node's slot)
-- ARGV[1] = 'write': then triples of id, field, old value, new value ->
--   fields written. A field changes only if it still holds the old value:
--   a rotation in between wins (and the next pass sees what it wrote).
local P, mode = KEYS[1], ARGV[1]
if mode == 'scan' then
  local r = redis.call('SCAN', ARGV[2], 'MATCH', P .. ':ep:*', 'COUNT', ARGV[3])
  local out = {r[1]}
  local prefix = #P + 5 -- P .. ':ep:'
  local fields = {}
  for i = 4, #ARGV do fields[#fields + 1] = ARGV[i] end
  for _, k in ipairs(r[2]) do
    local id = string.sub(k, prefix)
    if #id == 36 and not string.find(id, ':', 1, true) then
      local h = redis.call('HMGET', k, unpack(fields))
      out[#out + 1] = id
      for i = 1, #fields do out[#out + 1] = h[i] or '' end
    end
  end
  return out
end
if mode == 'write' then
  local n = 0
  for i = 2, #ARGV, 4 do
    local k = P .. ':ep:' .. ARGV[i]
    if redis.call('HGET', k, ARGV[i + 1]) == ARGV[i + 2] then
      redis.call('HSET', k, ARGV[i + 1], ARGV[i + 3])
      n = n + 1
    end
  end
  return n
end
return redis.error_reply('seal.lua: unknown mode')

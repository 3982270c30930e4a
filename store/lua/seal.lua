-- Endpoint secrets at rest (store/secrets.h): one batch of the start-up
-- walk that seals what is still clear, or under the previous key.
-- KEYS[1] = P
-- ARGV[1] = 'scan': cursor, count -> {next cursor, then per endpoint hash of
--   this partition: id, secret, prev_secret} (SCAN MATCH P:ep:*, so in a
--   cluster only this partition's keys, all in this node's slot)
-- ARGV[1] = 'write': then per endpoint id, old secret, new secret, old
--   prev_secret, new prev_secret -> fields written. A field changes only if
--   it still holds the old value: a rotation in between wins.
local P, mode = KEYS[1], ARGV[1]
if mode == 'scan' then
  local r = redis.call('SCAN', ARGV[2], 'MATCH', P .. ':ep:*', 'COUNT', ARGV[3])
  local out = {r[1]}
  local prefix = #P + 5 -- P .. ':ep:'
  for _, k in ipairs(r[2]) do
    local id = string.sub(k, prefix)
    if #id == 36 and not string.find(id, ':', 1, true) then
      local h = redis.call('HMGET', k, 'secret', 'prev_secret')
      if h[1] then
        out[#out + 1] = id
        out[#out + 1] = h[1]
        out[#out + 1] = h[2] or ''
      end
    end
  end
  return out
end
if mode == 'write' then
  local n = 0
  for i = 2, #ARGV, 5 do
    local k = P .. ':ep:' .. ARGV[i]
    local h = redis.call('HMGET', k, 'secret', 'prev_secret')
    if h[1] and h[1] == ARGV[i + 1] and ARGV[i + 2] ~= ARGV[i + 1] then
      redis.call('HSET', k, 'secret', ARGV[i + 2])
      n = n + 1
    end
    if h[2] and h[2] == ARGV[i + 3] and ARGV[i + 4] ~= ARGV[i + 3] then
      redis.call('HSET', k, 'prev_secret', ARGV[i + 4])
      n = n + 1
    end
  end
  return n
end
return redis.error_reply('seal.lua: unknown mode')

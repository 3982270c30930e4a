-- A fixed-window counter. KEYS[1] = global prefix; ARGV: name, window_s, limit
-- -> 1 when this call is within the limit, 0 when over it.
local k = KEYS[1] .. ':rl:' .. ARGV[1] .. ':' .. math.floor(redis.call('TIME')[1] / tonumber(ARGV[2]))
local n = redis.call('INCR', k)
if n == 1 then redis.call('EXPIRE', k, tonumber(ARGV[2]) * 2) end
if n > tonumber(ARGV[3]) then return 0 end
return 1

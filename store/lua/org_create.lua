-- Create an org. KEYS[1] = global prefix; ARGV: id, name, now
redis.call('HSET', KEYS[1] .. ':org:' .. ARGV[1], 'id', ARGV[1], 'name', ARGV[2], 'created_at', ARGV[3])
redis.call('ZADD', KEYS[1] .. ':orgs', 0, ARGV[1]) -- for GET /v1/orgs (admin.lua)
return 1

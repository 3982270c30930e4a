-- Store a token and its OAuth2 client by hash; the clear values never reach Redis.
-- KEYS[1] = global prefix
-- ARGV: token_sha, client_id, client_secret_sha, id, org_id, user_id, scopes, admin, name, now
-- Returns 0 when the org does not exist.
local G = KEYS[1]
if redis.call('EXISTS', G .. ':org:' .. ARGV[5]) == 0 then return 0 end
local rec = {'id', ARGV[4], 'org_id', ARGV[5], 'user_id', ARGV[6], 'scopes', ARGV[7],
             'admin', ARGV[8], 'name', ARGV[9], 'created_at', ARGV[10], 'client_id', ARGV[2]}
redis.call('HSET', G .. ':token:' .. ARGV[1], unpack(rec))
redis.call('HSET', G .. ':client:' .. ARGV[2], 'secret_sha256', ARGV[3], unpack(rec))
-- for listing and revoking by id (admin.lua)
redis.call('HSET', G .. ':tokref:' .. ARGV[4], 'sha', ARGV[1], 'client_id', ARGV[2], 'org_id', ARGV[5])
redis.call('ZADD', G .. ':tokens', 0, ARGV[4])
redis.call('ZADD', G .. ':org:' .. ARGV[5] .. ':tokens', 0, ARGV[4])
return 1

-- OAuth2 client credentials: mint an expiring access token.
-- KEYS[1] = global prefix; ARGV: client_id, secret_sha, new_token_sha, ttl_ms, now, new_id
-- Returns 0 for an unknown client or a wrong secret (the caller cannot tell which).
local G = KEYS[1]
local c = redis.call('HMGET', G .. ':client:' .. ARGV[1], 'secret_sha256', 'org_id', 'user_id',
                     'scopes', 'admin', 'name')
if not c[1] or c[1] ~= ARGV[2] then return 0 end
if redis.call('EXISTS', G .. ':org:' .. c[2]) == 0 then return 0 end
local k = G .. ':token:' .. ARGV[3]
redis.call('HSET', k, 'id', ARGV[6], 'org_id', c[2], 'user_id', c[3], 'scopes', c[4],
           'admin', c[5], 'name', c[6], 'created_at', ARGV[5], 'kind', 'access', 'client_id', ARGV[1])
redis.call('PEXPIRE', k, ARGV[4])
return 1

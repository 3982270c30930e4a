-- Resolve a presented token by the SHA-256 of its text. KEYS[1] = G; ARGV: sha
-- -> the token record (HGETALL pairs), or {} when unknown, expired, or an
-- access token whose OAuth2 client was revoked since it was minted.
local G, sha = KEYS[1], ARGV[1]
local rec = redis.call('HGETALL', G .. ':token:' .. sha)
if #rec == 0 then return rec end
local kind, client
for i = 1, #rec, 2 do
  if rec[i] == 'kind' then kind = rec[i + 1] end
  if rec[i] == 'client_id' then client = rec[i + 1] end
end
if kind == 'access' and client and redis.call('EXISTS', G .. ':client:' .. client) == 0 then return {} end
return rec

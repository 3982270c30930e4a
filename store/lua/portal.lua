-- Portal links and sessions (handlers/portal.c). Codes and session tokens
-- reach Redis only as SHA-256 hashes. KEYS[1] = P for 'owned', else the
-- global prefix G; ARGV[1] = mode.
--   G:portalcode:<sha>   hash  a link's one-time code: org_id, endpoint_ids, read_only,
--                              ttl_ms (the session's lifetime); expires with the code
--   G:token:<sha>        hash  a session's token record (auth.lua reads it): kind "portal",
--                              expires_at, endpoint_ids, read_only, ...; expires with it
--   G:portal:<id>        hash  a session by id (listing, revoking): sha, org_id, ...
--   G:org:<org>:portals  zset  session id -> expires_at (ms)
--
--  'owned':    org, id... -> how many of the ids are endpoints of the org
--  'link':     code_sha, org, endpoint_ids ("id,id" or ""), read_only ("1"/"0"),
--              ttl_ms, code_ttl_ms -> 1, or 0 when the org does not exist
--  'exchange': code_sha, token_sha, session id, now -> the session's record
--              (HGETALL pairs) or {} when the code is unknown, expired or used:
--              a code is deleted by the exchange that takes it, so it works once
--  'list':     org, now, limit -> live sessions' records, soonest to expire first
--  'revoke':   org ("" = root: any org), id -> 1, or 0 when unknown or another org's
local K, mode = KEYS[1], ARGV[1]

if mode == 'owned' then
  local org, n = ARGV[2], 0
  for i = 3, #ARGV do
    if redis.call('HGET', K .. ':ep:' .. ARGV[i], 'org_id') == org then n = n + 1 end
  end
  return n
end

local G = K
if mode == 'link' then
  local sha, org = ARGV[2], ARGV[3]
  if redis.call('EXISTS', G .. ':org:' .. org) == 0 then return 0 end
  local k = G .. ':portalcode:' .. sha
  redis.call('HSET', k, 'org_id', org, 'endpoint_ids', ARGV[4], 'read_only', ARGV[5], 'ttl_ms', ARGV[6])
  redis.call('PEXPIRE', k, ARGV[7])
  return 1
end

if mode == 'exchange' then
  local ck, sha, id, now = G .. ':portalcode:' .. ARGV[2], ARGV[3], ARGV[4], tonumber(ARGV[5])
  local c = redis.call('HMGET', ck, 'org_id', 'endpoint_ids', 'read_only', 'ttl_ms')
  if not c[1] then return {} end
  redis.call('DEL', ck)
  local org, ttl = c[1], tonumber(c[4])
  if redis.call('EXISTS', G .. ':org:' .. org) == 0 then return {} end
  local expires = string.format('%d', now + ttl)
  local scopes = 'webhooks:manage,webhooks:read'
  if c[3] == '1' then scopes = 'webhooks:read' end
  local rec = {'id', id, 'org_id', org, 'user_id', '0', 'scopes', scopes, 'admin', '0', 'kind', 'portal',
               'endpoint_ids', c[2], 'read_only', c[3], 'created_at', ARGV[5], 'expires_at', expires}
  local tk, pk, idx = G .. ':token:' .. sha, G .. ':portal:' .. id, G .. ':org:' .. org .. ':portals'
  redis.call('HSET', tk, unpack(rec))
  redis.call('PEXPIRE', tk, ttl)
  redis.call('HSET', pk, 'sha', sha, unpack(rec))
  redis.call('PEXPIRE', pk, ttl)
  redis.call('ZREMRANGEBYSCORE', idx, '-inf', ARGV[5]) -- the ended ones
  redis.call('ZADD', idx, expires, id)
  return rec
end

if mode == 'list' then
  local org, now, limit = ARGV[2], ARGV[3], tonumber(ARGV[4])
  local ids = redis.call('ZRANGEBYSCORE', G .. ':org:' .. org .. ':portals', '(' .. now, '+inf', 'LIMIT', 0, limit)
  local out = {}
  for _, id in ipairs(ids) do
    local rec = redis.call('HGETALL', G .. ':portal:' .. id)
    if #rec > 0 then out[#out + 1] = rec end
  end
  return out
end

if mode == 'revoke' then
  local org, id = ARGV[2], ARGV[3]
  local pk = G .. ':portal:' .. id
  local p = redis.call('HMGET', pk, 'sha', 'org_id')
  if not p[1] or (org ~= '' and p[2] ~= org) then return 0 end
  redis.call('DEL', G .. ':token:' .. p[1], pk)
  redis.call('ZREM', G .. ':org:' .. p[2] .. ':portals', id)
  return 1
end
return redis.error_reply('portal.lua: unknown mode ' .. tostring(mode))

-- Operators' records in the global slot: listing tokens and orgs, revoking
-- tokens. KEYS[1] = global prefix G ("hookd:{g}")
--   G:tokens               lex   every long-lived token id
--   G:org:<org>:tokens     lex   an org's token ids
--   G:tokref:<id>          hash  token id -> sha (of the secret), client_id, org_id
--   G:orgs                 lex   every org id
-- ARGV[1] = mode
--  'tokens': org ("" = every org, for root), cursor ("" = from the start), limit
--            -> {next_cursor or "", record, record, ...}, each record HGETALL pairs
--  'revoke': org ("" = root: any org), id -> 1, or 0 when unknown (or another org's)
--  'orgs':   cursor, limit -> {next_cursor or "", org, org, ...}
local G, mode = KEYS[1], ARGV[1]

local function page(key, cursor, limit)
  local lo = '-'
  if cursor ~= '' then lo = '(' .. cursor end
  local ids = redis.call('ZRANGEBYLEX', key, lo, '+', 'LIMIT', 0, limit + 1)
  local nxt = ''
  if #ids > limit then
    ids[#ids] = nil
    nxt = ids[#ids]
  end
  return ids, nxt
end

if mode == 'tokens' then
  local org, cursor, limit = ARGV[2], ARGV[3], tonumber(ARGV[4])
  local key = G .. ':tokens'
  if org ~= '' then key = G .. ':org:' .. org .. ':tokens' end
  local ids, nxt = page(key, cursor, limit)
  local out = {nxt}
  for _, id in ipairs(ids) do
    local sha = redis.call('HGET', G .. ':tokref:' .. id, 'sha')
    local rec = sha and redis.call('HGETALL', G .. ':token:' .. sha) or {}
    if #rec > 0 then out[#out + 1] = rec end
  end
  return out
end

if mode == 'revoke' then
  local org, id = ARGV[2], ARGV[3]
  local ref = redis.call('HMGET', G .. ':tokref:' .. id, 'sha', 'client_id', 'org_id')
  if not ref[1] or (org ~= '' and ref[3] ~= org) then return 0 end
  -- the client goes too: access tokens it minted stop resolving (auth.lua)
  redis.call('DEL', G .. ':token:' .. ref[1], G .. ':client:' .. ref[2], G .. ':tokref:' .. id)
  redis.call('ZREM', G .. ':tokens', id)
  redis.call('ZREM', G .. ':org:' .. ref[3] .. ':tokens', id)
  return 1
end

if mode == 'orgs' then
  local ids, nxt = page(G .. ':orgs', ARGV[2], tonumber(ARGV[3]))
  local out = {nxt}
  for _, id in ipairs(ids) do
    local rec = redis.call('HGETALL', G .. ':org:' .. id)
    if #rec > 0 then out[#out + 1] = rec end
  end
  return out
end
return redis.error_reply('admin.lua: unknown mode ' .. tostring(mode))

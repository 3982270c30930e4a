-- Accept one event: idempotency, fan-out to matching endpoints, scheduling.
-- One atomic step: the event and all its deliveries exist, or none do.
-- KEYS[1] = P
-- ARGV: org, event_id, type, payload, now, idempotency_key, sync_session_id,
--       request_id, user_id, delivery_id_base, idem_ttl_s
-- Returns {replayed (0|1), event_id, webhook_counter, "dl1,dl2,..."}
-- Delivery ids are the base UUIDv7 with its last 32 bits counting up, so
-- they sort with the event's time and need no round trip to mint.
local P, org, evid, etype, payload, now = KEYS[1], ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local idem, sess, reqid, uid, base = ARGV[6], ARGV[7], ARGV[8], ARGV[9], ARGV[10]
local O = P .. ':org:' .. org
if idem ~= '' then
  local prev = redis.call('GET', O .. ':idem:' .. idem)
  if prev then
    local e = redis.call('HMGET', P .. ':ev:' .. prev, 'webhook_counter', 'dls')
    return {1, prev, e[1] or '', e[2] or ''}
  end
end
local counter = ''
if sess ~= '' then counter = tostring(redis.call('INCR', O .. ':sess:' .. sess)) end
local head, tail = string.sub(base, 1, 28), tonumber(string.sub(base, 29, 36), 16)
local ids, wake = {}, false
local eps = redis.call('ZRANGEBYLEX', O .. ':eps', '-', '+')
for _, ep in ipairs(eps) do
  local ek = P .. ':ep:' .. ep
  local e = redis.call('HMGET', ek, 'event_types', 'status', 'in_flight', 'max_in_flight')
  if e[1] == '' or string.find(e[1], ',' .. etype .. ',', 1, true) then
    local id = head .. string.format('%08x', (tail + #ids) % 4294967296)
    ids[#ids + 1] = id
    redis.call('HSET', P .. ':dl:' .. id, 'id', id, 'org_id', org, 'event_id', evid,
               'endpoint_id', ep, 'event_type', etype, 'user_id', uid, 'state', 'pending',
               'attempt_count', '0', 'next_retry_at', now, 'created_at', now, 'updated_at', now)
    -- optional fields only when set: every byte of a delivery is multiplied by the backlog
    if sess ~= '' then
      redis.call('HSET', P .. ':dl:' .. id, 'sync_session_id', sess, 'webhook_counter', counter)
    end
    if reqid ~= '' then redis.call('HSET', P .. ':dl:' .. id, 'request_id', reqid) end
    redis.call('ZADD', O .. ':dls', 0, id)
    if sess ~= '' then redis.call('ZADD', O .. ':sess:' .. sess .. ':dls', 0, id) end
    if reqid ~= '' then redis.call('ZADD', O .. ':req:' .. reqid .. ':dls', 0, id) end
    redis.call('ZADD', ek .. ':due', now, id)
    if e[2] == 'ACTIVE' and tonumber(e[3]) < tonumber(e[4]) then
      if redis.call('ZADD', P .. ':ready', 'LT', 'CH', now, ep) == 1 then wake = true end
    end
  end
end
if #ids > 0 then redis.call('HINCRBY', P .. ':stats', 'due', #ids) end
local dls = table.concat(ids, ',')
-- the payload gets a string key of its own: a value over 64 bytes would turn
-- the whole hash from Redis's compact listpack into a hashtable (slower, larger)
redis.call('SET', P .. ':ev:' .. evid .. ':body', payload)
redis.call('HSET', P .. ':ev:' .. evid, 'id', evid, 'org_id', org, 'type', etype, 'created_at', now,
           'user_id', uid, 'dls', dls)
if sess ~= '' then redis.call('HSET', P .. ':ev:' .. evid, 'sync_session_id', sess, 'webhook_counter', counter) end
if reqid ~= '' then redis.call('HSET', P .. ':ev:' .. evid, 'request_id', reqid) end
if idem ~= '' then redis.call('HSET', P .. ':ev:' .. evid, 'idempotency_key', idem) end
if idem ~= '' then redis.call('SET', O .. ':idem:' .. idem, evid, 'EX', ARGV[11]) end
if wake then redis.call('PUBLISH', 'hookd:wake', P) end
return {0, evid, counter, dls}

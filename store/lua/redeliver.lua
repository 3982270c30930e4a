-- Redelivery core shared by every contract. KEYS[1] = P
-- A replay is a new delivery of the same event to the same endpoint
-- (replay_of set, state pending, signed afresh when sent); it is never
-- deduplicated: asking twice sends twice.
--
-- ARGV[1] = mode
--  'ids':   org, now, user_id, base_id, endpoint_filter, id...
--           -> one entry per id: the new delivery (HGETALL pairs), or {} when
--              the id is unknown, another org's, another endpoint's, or its
--              endpoint is gone.
--  'job':   the JOB_FIELDS of store/fields.h
--           -> creates the job record, leased to `owner` until lease_until
--  'range': the JOB_STEP_FIELDS of store/fields.h
--           one step of a job: walks at most `limit` ids (and for at most
--           STEP_BUDGET_US, below) of the job's index
--           ('org', 'sess:<sid>', 'req:<rid>') in [min_id, max_id), ascending
--           after the job's cursor; replays (or, dry_run, counts) the original
--           (non-replay) ones matching its status ('success'|'fail'|'all') and
--           counters (",1,2," or ""); the cursor, the counts and the lease
--           move in the same atomic step, so a step is applied once or not at
--           all, whichever process runs it.
--           -> {'ok', next_cursor, matched, created}, {'done', ...} when the walk
--              ended, {'stop', state} when the job is no longer running
--              (canceled), or {'lost'} when another process holds its lease
--  'claim': now, owner, lease_until[, job_id] -> {job_id, org} of a running job whose
--           lease expired (its process died), now leased to `owner`; else {}
--           ({0}: the named job is not running; {lease}: it is, leased until then)
--  'cancel': org, job_id, now -> 1, or 0 when unknown (or another org's) or finished
-- Jobs being run: P:jobs (zset) job id -> lease expiry (ms).
-- requires: fields
-- requires: lib/delivery.lua
-- requires: lib/fifo.lua
local P, mode = KEYS[1], ARGV[1]
-- a field of the 'job' and 'range' modes by its store/fields.h name
local function arg(f) return ARGV[2 + f] end

-- A step stops walking once it has run STEP_BUDGET_US (Redis's clock,
-- read every STEP_CLOCK_EVERY ids), job_batch or not: a replay costs tens of
-- microseconds, so a step of job_batch ids could hold Redis (and every call
-- queued behind it, the live API's among them) for milliseconds on a slow
-- machine. The cursor then stops at the last id walked.
local STEP_BUDGET_US, STEP_CLOCK_EVERY = 1000, 4
local function step_clock()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000000 + tonumber(t[2])
end

-- Endpoints are read once per call, whatever the number of replays to them.
local eps, added = {}, 0

-- the endpoint's {status, in_flight, max_in_flight, ordering, readied = bool},
-- or false when it is gone
local function endpoint(ep)
  if eps[ep] == nil then
    local e = redis.call('HMGET', P .. ':ep:' .. ep, 'status', 'in_flight', 'max_in_flight', 'ordering')
    eps[ep] = e[1] and e or false
  end
  return eps[ep]
end

-- a replay's hash holds what differs from its event (lib/delivery.lua);
-- true when its endpoint became ready (a wake-up is due)
local function replay(src, d, org, now, uid, id)
  local ek = P .. ':ep:' .. d.endpoint_id
  local O = P .. ':org:' .. org
  redis.call('HSET', P .. ':dl:' .. id, 'event_id', d.event_id, 'endpoint_id', d.endpoint_id,
             'user_id', uid, 'created_at', now, 'replay_of', src)
  redis.call('ZADD', O .. ':dls', 0, id)
  if d.sync_session_id then redis.call('ZADD', O .. ':sess:' .. d.sync_session_id .. ':dls', 0, id) end
  if d.request_id then redis.call('ZADD', O .. ':req:' .. d.request_id .. ':dls', 0, id) end
  local e = endpoint(d.endpoint_id)
  -- on a fifo endpoint it goes to the back of its key's queue
  local held = e[4] == 'fifo' and not fifo_push(ek, d.ordering_key or '', id)
  if not held then
    redis.call('ZADD', ek .. ':due', now, id)
    added = added + 1
  end
  -- the event stays while any of its deliveries does (prune.lua); `live`
  -- is absent until the first replay, and then n stands for it
  local evk = P .. ':ev:' .. d.event_id
  local lv = redis.call('HMGET', evk, 'live', 'n')
  redis.call('HSET', evk, 'live', tostring((tonumber(lv[1] or lv[2]) or 0) + 1))
  -- its original's entry may say "simple" (prune.lua): no longer
  if not lv[1] and lv[2] == '1' then redis.call('SADD', P .. ':pinned', d.event_id) end
  if not held and e[1] == EP_ACTIVE and not e.readied and tonumber(e[2]) < tonumber(e[3]) then
    e.readied = true -- every replay of this call has the same due time
    return redis.call('ZADD', P .. ':ready', 'LT', 'CH', now, d.endpoint_id) == 1
  end
  return false
end

local function count_added()
  if added > 0 then redis.call('HINCRBY', P .. ':stats', 'due', added) end
end

local function status_matches(d, status)
  return status == 'all' or (status == 'success' and d.state == DL_COMPLETED)
         or (status == 'fail' and d.state == DL_ERRORED)
end

local function counter_matches(d, counters)
  return counters == '' or (d.webhook_counter and string.find(counters, ',' .. d.webhook_counter .. ',', 1, true))
end

local function id_maker(base)
  local head, tail, n = string.sub(base, 1, 28), tonumber(string.sub(base, 29, 36), 16), 0
  return function()
    n = n + 1
    return head .. string.format('%08x', (tail + n - 1) % 4294967296)
  end
end

if mode == 'ids' then
  local org, now, uid, epf = ARGV[2], ARGV[3], ARGV[4], ARGV[6]
  local next_id, out, wake = id_maker(ARGV[5]), {}, false
  for i = 7, #ARGV do
    local d = dl_get(P, ARGV[i], org)
    if d and (epf == '' or d.endpoint_id == epf) and endpoint(d.endpoint_id) then
      local id = next_id()
      if replay(ARGV[i], d, org, now, uid, id) then wake = true end
      out[#out + 1] = dl_flat(dl_get(P, id, org))
    else
      out[#out + 1] = {}
    end
  end
  count_added()
  if wake then redis.call('PUBLISH', 'hookd:wake', P) end
  return out
end

if mode == 'job' then
  local id, now = arg(JOB_ID), arg(JOB_NOW)
  local jk = P .. ':job:' .. id
  redis.call('HSET', jk, 'id', id, 'org_id', arg(JOB_ORG), 'state', JOB_STATE_RUNNING,
             'matched', 0, 'done', 0, 'search_type', arg(JOB_SEARCH_TYPE), 'dry_run', arg(JOB_DRY_RUN),
             'created_at', now, 'updated_at', now, 'owner', arg(JOB_OWNER), 'owner_since', now,
             'index', arg(JOB_INDEX), 'min_id', arg(JOB_MIN_ID), 'max_id', arg(JOB_MAX_ID), 'cursor', '',
             'status', arg(JOB_STATUS), 'counters', arg(JOB_COUNTERS), 'user_id', arg(JOB_USER_ID),
             'endpoint_id', arg(JOB_ENDPOINT_ID))
  redis.call('PEXPIRE', jk, 7 * 86400 * 1000)
  redis.call('ZADD', P .. ':jobs', arg(JOB_LEASE_UNTIL), id)
  return 1
end

if mode == 'claim' then
  local now, owner, lease_until, want = ARGV[2], ARGV[3], ARGV[4], ARGV[5]
  local ids
  if want and want ~= '' then
    -- one job named by the global hint: its lease as it stands when not
    -- orphaned ({0}: not running here), so the hint can be corrected
    local lease = redis.call('ZSCORE', P .. ':jobs', want)
    if not lease then return {0} end
    if tonumber(lease) > tonumber(now) then return {tonumber(lease)} end
    ids = {want}
  else
    ids = redis.call('ZRANGEBYSCORE', P .. ':jobs', '-inf', now, 'LIMIT', 0, 1)
    if #ids == 0 then return {} end
  end
  local jk = P .. ':job:' .. ids[1]
  local j = redis.call('HMGET', jk, 'state', 'org_id')
  if j[1] ~= JOB_STATE_RUNNING then
    redis.call('ZREM', P .. ':jobs', ids[1])
    return {0}
  end
  redis.call('HSET', jk, 'owner', owner, 'owner_since', now, 'updated_at', now)
  redis.call('ZADD', P .. ':jobs', lease_until, ids[1])
  return {ids[1], j[2]}
end

if mode == 'cancel' then
  local jk = P .. ':job:' .. ARGV[3]
  local j = redis.call('HMGET', jk, 'org_id', 'state')
  if j[1] ~= ARGV[2] or j[2] ~= JOB_STATE_RUNNING then return 0 end
  redis.call('HSET', jk, 'state', JOB_STATE_CANCELED, 'updated_at', ARGV[4])
  redis.call('ZREM', P .. ':jobs', ARGV[3])
  return 1
end

if mode == 'range' then
  local org, now, job, owner = arg(STEP_ORG), arg(STEP_NOW), arg(STEP_JOB_ID), arg(STEP_OWNER)
  local lease_until, limit, keep = arg(STEP_LEASE_UNTIL), tonumber(arg(STEP_LIMIT)), arg(STEP_RETENTION_MS)
  local jk = P .. ':job:' .. job
  local j = redis.call('HMGET', jk, 'state', 'owner', 'index', 'min_id', 'max_id', 'cursor', 'status',
                       'counters', 'dry_run', 'user_id', 'org_id', 'endpoint_id')
  if j[11] ~= org then return {'stop', 'gone'} end
  if j[1] ~= JOB_STATE_RUNNING then return {'stop', j[1]} end
  if j[2] ~= owner then return {'lost'} end -- taken over: this process must not step it
  local index, min_id, max_id, cursor, status, counters = j[3], j[4], j[5], j[6], j[7], j[8]
  local dry, uid, only_ep = j[9] == '1', j[10], j[12] or ''
  local O = P .. ':org:' .. org
  local key = O .. ':dls'
  if index ~= 'org' then key = O .. ':' .. index .. ':dls' end
  local lo = '[' .. min_id
  if cursor ~= '' then lo = '(' .. cursor end
  local ids = redis.call('ZRANGEBYLEX', key, lo, '(' .. max_id, 'LIMIT', 0, limit)
  local full, first = #ids >= limit and #ids > 0, 1
  -- a request id may also name one delivery directly (contracts 000 and 003)
  if cursor == '' and string.sub(index, 1, 4) == 'req:' then
    local rid = string.sub(index, 5)
    if dl_get(P, rid, org) then
      table.insert(ids, 1, rid)
      first = 2
    end
  end
  local next_id, matched, created, wake = id_maker(arg(STEP_BASE_ID)), 0, 0, false
  local walked, started = 0, step_clock()
  for k, src in ipairs(ids) do
    -- past the step's time budget: the rest is the next step's (never
    -- before a first id of the index itself, which the cursor needs)
    if k > first and k % STEP_CLOCK_EVERY == 1 and step_clock() - started >= STEP_BUDGET_US then break end
    walked = k
    local d = dl_get(P, src, org)
    -- a search selects original deliveries only: replays made by earlier
    -- resends would otherwise be matched again and multiply on every resend
    if d and not d.replay_of and status_matches(d, status) and counter_matches(d, counters) and
       (only_ep == '' or d.endpoint_id == only_ep) then
      matched = matched + 1
      if not dry and endpoint(d.endpoint_id) then
        if replay(src, d, org, now, uid, next_id()) then wake = true end
        created = created + 1
      end
    end
  end
  count_added()
  if wake then redis.call('PUBLISH', 'hookd:wake', P) end
  local nxt = ''
  if walked < #ids then nxt = ids[walked] elseif full then nxt = ids[#ids] end
  redis.call('HINCRBY', jk, 'matched', matched)
  redis.call('HINCRBY', jk, 'done', created)
  redis.call('HSET', jk, 'updated_at', now, 'cursor', nxt)
  if nxt == '' then
    redis.call('HSET', jk, 'state', JOB_STATE_COMPLETED)
    redis.call('ZREM', P .. ':jobs', job)
    redis.call('PEXPIRE', jk, keep) -- a finished job is kept for `retention`
    return {'done', '', matched, created}
  end
  redis.call('ZADD', P .. ':jobs', lease_until, job)
  return {'ok', nxt, matched, created}
end

return redis.error_reply('redeliver.lua: unknown mode ' .. tostring(mode))

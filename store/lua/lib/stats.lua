-- lib/stats.lua: an endpoint's health over time (put in front of each
-- script that says "-- requires: lib/stats.lua"; see cmake/embed_lua.cmake).
--
-- Per endpoint and window, one hash per bucket,
--   P:ep:<ep>:st:<code>:<bucket start, ms>
-- with fields b<bin> (attempts whose duration fell in latency bin <bin>,
-- store/latency.h), x (attempts that got no response: no latency to
-- count), which together are the attempts, f (of them failed) and t
-- (throttled by the receiver; the rest succeeded). complete.lua adds a
-- batch's counts once per endpoint; each bucket expires when it has left
-- its window, so retention needs no walk and a deleted endpoint's buckets go
-- by themselves. Cost per batch and endpoint: per window one HINCRBY per
-- field present (a steady receiver's attempts fall in one or two bins), and
-- a PEXPIRE only when the first of them shows a new field (so always for a
-- new bucket).
local STATS_WINDOWS = {
  ['1h'] = {code = 'm', bucket = 60000, count = 60},
  ['24h'] = {code = 'q', bucket = 900000, count = 96},
  ['7d'] = {code = 'h', bucket = 7200000, count = 84},
}
local STATS_ORDER = {'1h', '24h', '7d'}

local function stats_key(ek, w, start)
  return ek .. ':st:' .. w.code .. ':' .. string.format('%d', start)
end

-- counts: field -> count, of endpoint key ek, at now (ms, a number)
local function stats_add(ek, counts, now)
  for _, name in ipairs(STATS_ORDER) do
    local w = STATS_WINDOWS[name]
    local k, fresh = stats_key(ek, w, now - now % w.bucket), nil
    for f, c in pairs(counts) do
      local v = redis.call('HINCRBY', k, f, c)
      if fresh == nil then fresh = v == c end
    end
    if fresh then redis.call('PEXPIRE', k, w.bucket * (w.count + 1)) end
  end
end

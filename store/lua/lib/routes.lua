-- lib/routes.lua: an org's routes version. hookd matches events to an
-- org's endpoints in a cache of its own (store/subscriptions.c) and passes
-- the version it matched under; every script that adds, removes or retypes
-- an endpoint bumps it, and ingest.lua refuses an event matched under
-- another (INGEST_STALE), in the same atomic step as the write.
--   P:org:<org>:ver  string  a counter; absent reads as "0"

local function routes_version(P, org)
  return redis.call('GET', P .. ':org:' .. org .. ':ver') or '0'
end

local function routes_changed(P, org)
  redis.call('INCR', P .. ':org:' .. org .. ':ver')
end

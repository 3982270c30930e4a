-- An org's ingest rate_limit where ingest.lua enforces it: the token bucket
-- P:org:<org>:limit (rate, tokens, at). KEYS[1] = P; ARGV: org, rate ("" for
-- none). The routes version moves, so every process's cache learns that
-- the org is (or is no longer) limited before its next event is stored.
-- requires: lib/routes.lua
local P, org, rate = KEYS[1], ARGV[1], ARGV[2]
local k = P .. ':org:' .. org .. ':limit'
if rate == '' then
  redis.call('DEL', k)
else
  redis.call('HSET', k, 'rate', rate)
end
routes_changed(P, org)
return 1

-- lib/payload.lua: where an event's stored payload lives (put in front of
-- each script that says "-- requires: lib/payload.lua").
--
-- The stored form (JSON, or a zstd frame of it: store/payload.h) of up to
-- PAYLOAD_INLINE_MAX bytes is kept inside the event hash, cut into fields
-- "b1".."b<k>" of at most `chunk` bytes each, with "b" = k. The chunk is
-- Redis's hash-max-listpack-value as hookd read it (64 by default, up to
-- 2048: store/redis_config.h): the hash stays a compact listpack, and
-- the event is one key instead of two (a key costs ~110 bytes of Redis
-- memory and ~1.3 us to delete, which retention pays once per event).
-- 32 chunks plus the event's other fields (at most 12) and its compact
-- records (at most 64) stay under hash-max-listpack-entries (128).
-- A larger payload, or one written before this layout, is the string key
-- P:ev:<ev>:body.
local PAYLOAD_CHUNK, PAYLOAD_INLINE_MAX = 64, 2048

-- "b1", "b2", ...: made when first needed, and kept for the rest of the
-- call (a script runs its top level at every call: 32 names made up front
-- cost every caller of this library ~6 us, bench/script_cost.py) or, in a
-- function library (cmake/embed_lua.cmake), for the server's lifetime; an
-- event's chunk names cost a concatenation each otherwise
local payload_names, payload_sub = {}, string.sub

-- append the payload's fields to an HSET argument list; true when it fits
-- there, false when it needs the body key
local function payload_fields(args, payload, chunk)
  local n, size = #payload, chunk or PAYLOAD_CHUNK
  if n > PAYLOAD_INLINE_MAX then return false end
  local k, a = 0, #args
  for at = 1, n, size do
    k = k + 1
    local name = payload_names[k]
    if not name then
      name = 'b' .. k
      payload_names[k] = name
    end
    args[a + 1] = name
    args[a + 2] = n <= size and payload or payload_sub(payload, at, at + size - 1) -- one chunk: the string itself
    a = a + 2
  end
  if k == 0 then -- an empty stored payload still needs a chunk to say so
    k = 1
    args[a + 1] = 'b1'
    args[a + 2] = ''
    a = a + 2
  end
  args[a + 1] = 'b'
  args[a + 2] = tostring(k)
  return true
end

-- the stored payload of an event whose chunk count field "b" read as k
-- (nil: the body key holds it); 'null' when there is none
local function payload_get(ek, k)
  k = tonumber(k)
  if not k then return redis.call('GET', ek .. ':body') or 'null' end
  local names = {}
  for i = 1, k do names[i] = 'b' .. i end
  local parts = redis.call('HMGET', ek, unpack(names))
  for i = 1, k do parts[i] = parts[i] or '' end
  return table.concat(parts)
end

-- the chunk number of an event hash field "b<i>", else nil
local function payload_chunk(name)
  return tonumber(string.match(name, '^b(%d+)$'))
end

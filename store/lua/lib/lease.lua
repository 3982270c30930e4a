-- lib/lease.lua: what claim.lua and ingest.lua return of a lease, each
-- value at its position of store/fields.h (the script requires "fields"
-- too), so C reads it by the same names. lease_append writes LEASE_FIELDS:
-- both scripts use it for an endpoint's record (the delivery's fields "").
local function lease_append(out, id, evid, ep, url, secret, prev, payload, tries, fence, ac, simple, ca, cert, key,
                            scheme, sk, psk, au, ai, as, asc, queue, headers)
  local b = #out + 1
  out[b + LEASE_AUTH_URL], out[b + LEASE_AUTH_CLIENT_ID] = au or '', ai or ''
  out[b + LEASE_AUTH_SECRET], out[b + LEASE_AUTH_SCOPE] = as or '', asc or ''
  out[b + LEASE_TLS_CA], out[b + LEASE_TLS_CERT], out[b + LEASE_TLS_KEY] = ca or '', cert or '', key or ''
  out[b + LEASE_SCHEME], out[b + LEASE_SIGN_KEY], out[b + LEASE_PREV_SIGN_KEY] = scheme or '', sk or '', psk or ''
  out[b + LEASE_ID], out[b + LEASE_EVENT_ID], out[b + LEASE_ENDPOINT_ID] = id, evid, ep
  out[b + LEASE_URL], out[b + LEASE_SECRET], out[b + LEASE_PREV_SECRET] = url, secret, prev
  out[b + LEASE_PAYLOAD], out[b + LEASE_TRIES], out[b + LEASE_FENCE] = payload, tries, fence
  out[b + LEASE_ATTEMPT_COUNT], out[b + LEASE_SIMPLE], out[b + LEASE_QUEUE] = ac, simple, queue or ''
  out[b + LEASE_HEADERS] = headers or ''
end

-- a delivery ingest.lua handed off, its HANDOFF_FIELDS appended to its
-- event's entry (endpoint_at: a number, its endpoint's record in the reply)
local function handoff_append(out, id, endpoint_at, fence, simple, queue)
  local b = #out + 1
  out[b + HANDOFF_ID], out[b + HANDOFF_ENDPOINT], out[b + HANDOFF_FENCE] = id, endpoint_at, fence
  out[b + HANDOFF_SIMPLE], out[b + HANDOFF_QUEUE] = simple, queue or ''
end

"""The Lua scripts of ``RedisStore``: each compare-and-set runs atomically on the server.

Only Redis 6.2 commands (``XADD``/``XTRIM MINID``, exclusive ``XRANGE`` bounds,
``ZPOPMIN``). Numbers cross as strings; ids are formatted with ``%.0f`` because Lua 5.1
prints large integers in exponent form.
"""

from __future__ import annotations

from typing import Final

__all__ = ["PUBLISH_VERSIONED", "REPORT", "SAVE_STATE", "WRITE_SCALE"]

# Tombstones: KEYS[a] the docs, KEYS[b] a companion hash, KEYS[z] the tombstone zset,
# KEYS[n] its insertion counter. Shared by the two versioned-by-revision scripts.
_TOMBSTONES: Final = """
local function tombstones(docs, meta, zset, seq, field, removed, limit)
  if removed == '1' then
    redis.call('ZADD', zset, redis.call('INCR', seq), field)
    local excess = redis.call('ZCARD', zset) - tonumber(limit)
    if excess > 0 then
      local old = redis.call('ZPOPMIN', zset, excess)
      for i = 1, #old, 2 do
        redis.call('HDEL', docs, old[i])
        redis.call('HDEL', meta, old[i])
      end
    end
  else
    redis.call('ZREM', zset, field)
  end
end
"""

# KEYS: stream, last id, newest trimmed id. ARGV: ms of the report's now, retention in
# ms, max reports, the report document. The id grows with report time (or by sequence
# within the newest ms when a report is not newer), so MINID trims by report time.
REPORT: Final = """
local ms = math.max(0, tonumber(ARGV[1]))
local id_ms, id_seq = ms, 0
local last = redis.call('GET', KEYS[2])
if last then
  local lms, lseq = string.match(last, '^(%d+)-(%d+)$')
  lms = tonumber(lms)
  if ms <= lms then
    id_ms = lms
    id_seq = tonumber(lseq) + 1
  end
end
if id_ms == 0 and id_seq == 0 then id_seq = 1 end
local id = string.format('%.0f-%.0f', id_ms, id_seq)
redis.call('XADD', KEYS[1], id, 'r', ARGV[4])
redis.call('SET', KEYS[2], id)
local minid = math.floor(id_ms - tonumber(ARGV[2]))
if minid > 0 then
  local oldest = redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', 1)
  local oms = tonumber(string.match(oldest[1][1], '^(%d+)-'))
  if oms < minid then
    local bound = string.format('(%.0f-0', minid)
    local dropped = redis.call('XREVRANGE', KEYS[1], bound, '-', 'COUNT', 1)
    redis.call('XTRIM', KEYS[1], 'MINID', string.format('%.0f-0', minid))
    redis.call('SET', KEYS[3], dropped[1][1])
  end
end
local cap = tonumber(ARGV[3])
local len = redis.call('XLEN', KEYS[1])
if len > cap then
  local over = redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', len - cap)
  redis.call('XTRIM', KEYS[1], 'MAXLEN', cap)
  redis.call('SET', KEYS[3], over[#over][1])
end
return id
"""

# KEYS: docs hash, versions hash, tombstone zset, tombstone counter.
# ARGV: field, version, document, removed ('1'/'0'), max tombstones, channel.
PUBLISH_VERSIONED: Final = (
    _TOMBSTONES
    + """
local current = redis.call('HGET', KEYS[2], ARGV[1])
if current and tonumber(current) >= tonumber(ARGV[2]) then
  return {0, current}
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
tombstones(KEYS[1], KEYS[2], KEYS[3], KEYS[4], ARGV[1], ARGV[4], ARGV[5])
redis.call('PUBLISH', ARGV[6], ARGV[3])
return {1, ARGV[2]}
"""
)

# KEYS: fence, docs hash, order hash ("token at version"), version counter, tombstone
# zset, tombstone counter. ARGV: revision, token, decided_at, document body (without
# '{'), removed, max tombstones, channel. A lower token than the fence is stale; an
# older (token, decided_at) than the stored one is ignored.
WRITE_SCALE: Final = (
    _TOMBSTONES
    + """
local token = tonumber(ARGV[2])
local fence = redis.call('GET', KEYS[1])
if fence and token < tonumber(fence) then
  return {'stale', fence}
end
local order = redis.call('HGET', KEYS[3], ARGV[1])
if order then
  local t, a, v = string.match(order, '^(%S+) (%S+) (%S+)$')
  t = tonumber(t)
  if token < t or (token == t and tonumber(ARGV[3]) < tonumber(a)) then
    return {'ignored', v}
  end
end
local version = string.format('%.0f', redis.call('INCR', KEYS[4]))
local document = '{"version":' .. version .. ',' .. ARGV[4]
redis.call('SET', KEYS[1], ARGV[2])
redis.call('HSET', KEYS[2], ARGV[1], document)
redis.call('HSET', KEYS[3], ARGV[1], ARGV[2] .. ' ' .. ARGV[3] .. ' ' .. version)
tombstones(KEYS[2], KEYS[3], KEYS[5], KEYS[6], ARGV[1], ARGV[5], ARGV[6])
redis.call('PUBLISH', ARGV[7], document)
return {'ok', version}
"""
)

# KEYS: fence, state document, state version. ARGV: token, document.
SAVE_STATE: Final = """
local fence = redis.call('GET', KEYS[1])
if fence and tonumber(ARGV[1]) < tonumber(fence) then
  return {'stale', fence}
end
redis.call('SET', KEYS[1], ARGV[1])
redis.call('SET', KEYS[2], ARGV[2])
return {'ok', string.format('%.0f', redis.call('INCR', KEYS[3]))}
"""

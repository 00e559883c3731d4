"""The Lua scripts the Redis store runs: each request's needs in one atomic step (EVALSHA, else EVAL).

Usage windows are the memory store's buckets (1 s x 60 and 60 s x 60) in one hash per counter.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass


@dataclass(frozen=True)
class Script:
    name: str
    source: str

    @property
    def sha(self) -> str:
        return hashlib.sha1(self.source.encode("utf-8")).hexdigest()


# Counters use Redis's clock (TIME), so every gateway agrees on the windows whatever its own
# clock says. Buckets older than the window are deleted as they are read; each hash expires an
# hour and two minutes after its last call.
_COUNT = """
local function count(key, sec, minute)
  redis.call('HINCRBY', key, 's' .. sec, 1)
  redis.call('HINCRBY', key, 'm' .. minute, 1)
  redis.call('EXPIRE', key, 3720)
  local flat = redis.call('HGETALL', key)
  local short, long, stale = 0, 0, {}
  for i = 1, #flat, 2 do
    local field = flat[i]
    local at = tonumber(string.sub(field, 2))
    local n = tonumber(flat[i + 1])
    if string.sub(field, 1, 1) == 's' then
      if at > sec - 60 then short = short + n else stale[#stale + 1] = field end
    else
      if at > minute - 60 then long = long + n else stale[#stale + 1] = field end
    end
  end
  if #stale > 0 then redis.call('HDEL', key, unpack(stale)) end
  return short - 1, long - 1
end
"""

# KEYS: session, usage overall, usage tool, usage other tools, tool set, tools version
# ARGV: holder ('' = no session), session TTL ms, count usage '1'/'0', tool ('' = none),
#       max tools, want tools version '1'/'0'
# -> {owner or '', counted 0/1, calls_60s, calls_3600s, tool_60s, tool_3600s,
#     tool bucket 't'/'o'/'', second, tools version}
ROUND = Script("round", _COUNT + """
local owner = ''
if ARGV[1] ~= '' then
  local held = redis.call('GET', KEYS[1])
  if held and held ~= ARGV[1] then
    owner = held
  else
    redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  end
end
local result = {owner, 0, 0, 0, 0, 0, '', 0, 0}
if owner == '' and ARGV[3] == '1' then
  local sec = tonumber(redis.call('TIME')[1])
  local minute = math.floor(sec / 60)
  result[2] = 1
  result[8] = sec
  result[3], result[4] = count(KEYS[2], sec, minute)
  if ARGV[4] ~= '' then
    local key, bucket = KEYS[3], 't'
    if not redis.call('ZSCORE', KEYS[5], ARGV[4]) then
      -- a tool with calls in the last hour is never dropped to make room
      redis.call('ZREMRANGEBYSCORE', KEYS[5], '-inf', sec - 3600)
      if redis.call('ZCARD', KEYS[5]) >= tonumber(ARGV[5]) then
        key, bucket = KEYS[4], 'o'
      end
    end
    if bucket == 't' then redis.call('ZADD', KEYS[5], sec, ARGV[4]) end
    redis.call('EXPIRE', KEYS[5], 3720)
    result[5], result[6] = count(key, sec, minute)
    result[7] = bucket
  end
end
if ARGV[6] == '1' then result[9] = tonumber(redis.call('GET', KEYS[6]) or '0') end
return result
""")

# KEYS: the counters a reservation went to; ARGV: second, minute
RELEASE = Script("release", """
for i = 1, #KEYS do
  for _, field in ipairs({'s' .. ARGV[1], 'm' .. ARGV[2]}) do
    if tonumber(redis.call('HGET', KEYS[i], field) or '0') > 0 then
      redis.call('HINCRBY', KEYS[i], field, -1)
    end
  end
end
return 1
""")

# KEYS: token; ARGV: thumbprint, TTL ms -> the previous, different thumbprint or ''
TOKEN = Script("token", """
local old = redis.call('GET', KEYS[1])
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
if old and old ~= ARGV[1] then return old end
return ''
""")

# Tool records live in one hash per route, six fields per tool: NAME\\0ah (accepted hash),
# NAME\\0a (accepted definition, JSON as received), NAME\\0ph, NAME\\0p (pending), NAME\\0t
# (changed at), NAME\\0f (the instruction families found in the pending definition: tool
# poisoning, comma-separated). Definitions are never decoded in Lua (cjson cannot tell [] from {}).
# A flagged definition is never trusted on first use: it is recorded as pending (accepted hash
# '') and stays pending, so blocked, until ACCEPT.
# KEYS: route hash, tools version, route set; ARGV: route, now, then name, hash, definition,
# flags ('' = none)... -> one of 'new', 'changed', 'same' per tool
OBSERVE = Script("observe", """
local bumped = false
local out = {}
for i = 3, #ARGV, 4 do
  local name, digest, def, flags = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3]
  local accepted = redis.call('HGET', KEYS[1], name .. '\\0ah')
  local pending = redis.call('HGET', KEYS[1], name .. '\\0ph')
  local kind = 'same'
  if not accepted and flags ~= '' then
    redis.call('HSET', KEYS[1], name .. '\\0ah', '', name .. '\\0a', '{}', name .. '\\0ph', digest,
               name .. '\\0p', def, name .. '\\0t', ARGV[2], name .. '\\0f', flags)
    kind, bumped = 'new', true
  elseif not accepted then
    redis.call('HSET', KEYS[1], name .. '\\0ah', digest, name .. '\\0a', def)
    kind, bumped = 'new', true
  elseif digest == accepted then
    if pending then
      redis.call('HDEL', KEYS[1], name .. '\\0ph', name .. '\\0p', name .. '\\0t', name .. '\\0f')
      bumped = true
    end
  elseif digest ~= pending then
    redis.call('HSET', KEYS[1], name .. '\\0ph', digest, name .. '\\0p', def, name .. '\\0t', ARGV[2])
    if flags ~= '' then
      redis.call('HSET', KEYS[1], name .. '\\0f', flags)
    else
      redis.call('HDEL', KEYS[1], name .. '\\0f')
    end
    kind, bumped = 'changed', true
  end
  out[#out + 1] = kind
end
if bumped then
  redis.call('SADD', KEYS[3], ARGV[1])
  redis.call('INCR', KEYS[2])
end
return out
""")

# KEYS: route hash, tools version; ARGV: tool, the pending hash being accepted
# -> the accepted hash, or '' when that definition is no longer the pending one
ACCEPT = Script("accept", """
local pending = redis.call('HGET', KEYS[1], ARGV[1] .. '\\0ph')
if not pending or pending ~= ARGV[2] then return '' end
local def = redis.call('HGET', KEYS[1], ARGV[1] .. '\\0p')
redis.call('HSET', KEYS[1], ARGV[1] .. '\\0ah', pending, ARGV[1] .. '\\0a', def)
redis.call('HDEL', KEYS[1], ARGV[1] .. '\\0ph', ARGV[1] .. '\\0p', ARGV[1] .. '\\0t', ARGV[1] .. '\\0f')
redis.call('INCR', KEYS[2])
return pending
""")

# KEYS: route hash, tools version; ARGV: tool -> 1 if it was known
FORGET = Script("forget", """
local n = redis.call('HDEL', KEYS[1], ARGV[1] .. '\\0ah', ARGV[1] .. '\\0a', ARGV[1] .. '\\0ph',
                     ARGV[1] .. '\\0p', ARGV[1] .. '\\0t', ARGV[1] .. '\\0f')
if n > 0 then redis.call('INCR', KEYS[2]) return 1 end
return 0
""")

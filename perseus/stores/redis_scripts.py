"""The Lua scripts of the Redis store: each check and change is one step on the server.

Every script touches only the keys it is given, and the keys of one call share a hash tag
(see ``redis_store``), so each runs on one node of a Redis Cluster as on a single server.
Publishing from a script reaches every node's subscribers in a cluster too.
"""

from __future__ import annotations

# KEYS[1] page, KEYS[2] its shard's page count; ARGV[1] value, ARGV[2] channel ('' for
# none), ARGV[3] message. Counts the page only if it is new.
WRITE = """
if redis.call('EXISTS', KEYS[1]) == 0 then redis.call('INCR', KEYS[2]) end
redis.call('SET', KEYS[1], ARGV[1])
if ARGV[2] ~= '' then redis.call('PUBLISH', ARGV[2], ARGV[3]) end
return 1
"""

# KEYS[1] page, KEYS[2] its shard's page count; ARGV[1] channel ('' for none), ARGV[2]
# message. Uncounts the page only if it was there.
DELETE = """
if redis.call('DEL', KEYS[1]) == 1 then redis.call('DECR', KEYS[2]) end
if ARGV[1] ~= '' then redis.call('PUBLISH', ARGV[1], ARGV[2]) end
return 1
"""

# KEYS[1] page, KEYS[2] its shard's page count; ARGV[1] value, ARGV[2] its build id,
# ARGV[3] its generation time, ARGV[4] channel, ARGV[5] message, ARGV[6] the record
# header's first bytes (magic and format), ARGV[7] the header's length.
# Stores the value unless the page holds a record at least as new: of a later build (build
# ids sort by the time the build started), or of the same build generated at the same
# time or later (regenerated, or marked by `perseus revalidate`, since the build).
# Anything else there (absent, damaged, another format) is older. Returns 1 when it
# stored the value, else the value it kept.
# NOTE: the record framing is records.py's: header | meta length (4 bytes, big-endian) | meta JSON.
SEED = """
local current = redis.call('GET', KEYS[1])
if current then
  local ok, build, at = pcall(function()
    local start = tonumber(ARGV[7])
    if string.sub(current, 1, #ARGV[6]) ~= ARGV[6] then return nil end
    local a, b, c, d = string.byte(current, start + 1, start + 4)
    local length = ((a * 256 + b) * 256 + c) * 256 + d
    local meta = cjson.decode(string.sub(current, start + 5, start + 4 + length))
    return meta['build'], meta['at']
  end)
  if ok and type(build) == 'string' and type(at) == 'number' then
    if build > ARGV[2] or (build == ARGV[2] and at >= tonumber(ARGV[3])) then return current end
  end
else
  redis.call('INCR', KEYS[2])
end
redis.call('SET', KEYS[1], ARGV[1])
if ARGV[4] ~= '' then redis.call('PUBLISH', ARGV[4], ARGV[5]) end
return 1
"""

# KEYS[1] lease; ARGV[1] owner. Deletes the lease only if owner holds it.
RELEASE = """
local v = redis.call('GET', KEYS[1])
if v and string.sub(v, 1, #ARGV[1] + 1) == ARGV[1] .. '|' then return redis.call('DEL', KEYS[1]) end
return 0
"""

# KEYS[1] lease; ARGV[1] owner, ARGV[2] new value, ARGV[3] ms. Absent or ours: set it.
HOLD = """
local v = redis.call('GET', KEYS[1])
if (not v) or string.sub(v, 1, #ARGV[1] + 1) == ARGV[1] .. '|' then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3]) return 1
end
return 0
"""

# KEYS[1] lease; ARGV[1] the value seen, ARGV[2] new value, ARGV[3] ms. Compare-and-set.
TAKE_OVER = """
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3]) return 1 end
return 0
"""

-- Replace a lease's token estimate with real usage (or 0), keeping its end; or drop it whole.
-- KEYS: 1 requests zset, 2 tokens zset, 3 tokens sum. ARGV: 1 lease id, 2 old tokens, 3 new tokens,
-- 4 "cancel" to give back the request slot too.
local old = ARGV[1] .. ':' .. ARGV[2]
local ends = redis.call('ZSCORE', KEYS[2], old)
-- The sum moves with the zset; when it is missing the next reservation rebuilds it.
local function add(delta)
  if redis.call('EXISTS', KEYS[3]) == 1 then redis.call('INCRBY', KEYS[3], delta) end
end
if ARGV[4] == 'cancel' then
  redis.call('ZREM', KEYS[1], ARGV[1])
  if redis.call('ZREM', KEYS[2], old) == 1 then add(-tonumber(ARGV[2])) end
  return 1
end
-- A lease already past its end no longer counts: nothing to correct.
if not ends then return 0 end
redis.call('ZREM', KEYS[2], old)
redis.call('ZADD', KEYS[2], ends, ARGV[1] .. ':' .. ARGV[3])
add(tonumber(ARGV[3]) - tonumber(ARGV[2]))
return 1

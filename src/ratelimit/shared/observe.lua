-- Write what a server's rate-limit headers said into the shared budget, on Redis's clock.
-- KEYS: 1 server hash. ARGV: 1 limit requests, 2 limit tokens, 3 remaining requests,
-- 4 requests reset in µs, 5 remaining tokens, 6 tokens reset in µs, 7 hash lifetime ms.
-- Empty strings mean "not in these headers".
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local function set(field, value) if value ~= '' then redis.call('HSET', KEYS[1], field, value) end end
-- A limit of 0 is no budget anyone could use: read as absent.
if ARGV[1] ~= '' and tonumber(ARGV[1]) > 0 then set('limit_requests', ARGV[1]) end
if ARGV[2] ~= '' and tonumber(ARGV[2]) > 0 then set('limit_tokens', ARGV[2]) end
if ARGV[3] ~= '' or ARGV[5] ~= '' then
  redis.call('HSET', KEYS[1], 'observed_at', now)
  -- Remaining and reset come as a pair; one without the other says nothing about timing.
  if ARGV[3] ~= '' and ARGV[4] ~= '' then
    redis.call('HSET', KEYS[1], 'remaining_requests', ARGV[3], 'reset_requests_at', now + tonumber(ARGV[4]))
  end
  if ARGV[5] ~= '' and ARGV[6] ~= '' then
    redis.call('HSET', KEYS[1], 'remaining_tokens', ARGV[5], 'reset_tokens_at', now + tonumber(ARGV[6]))
  end
end
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[7]))
return 1

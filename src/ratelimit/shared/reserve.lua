-- Check every limit of one shared budget and reserve all or nothing, on Redis's own clock.
-- KEYS: 1 requests zset, 2 tokens zset, 3 server hash, 4 holders zset, 5 tokens sum.
--   requests: member = lease id, score = when the lease ends (µs, Redis TIME).
--   tokens:   member = "<lease id>:<tokens>", same score; its own key, never the requests' one.
--   holders:  member = process id, score = when its last lease ends.
-- ARGV: 1 window µs, 2 request limit (0 = none), 3 token limit (0 = none), 4 tokens wanted,
--       5 lease id, 6 process id.
-- Returns {1, now, used requests, used tokens, holders, request cap, token cap} when reserved,
-- {0, wait µs, used requests, used tokens, holders, request cap, token cap} when not.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local window = tonumber(ARGV[1])
local req_cap = tonumber(ARGV[2])
local tok_cap = tonumber(ARGV[3])
local want = tonumber(ARGV[4])

-- The tightest of the config and what any sharer's server advertised wins, for everyone.
local srv = redis.call('HMGET', KEYS[3], 'limit_requests', 'limit_tokens',
  'remaining_requests', 'reset_requests_at', 'remaining_tokens', 'reset_tokens_at', 'observed_at')
local adv_req, adv_tok = tonumber(srv[1] or '0'), tonumber(srv[2] or '0')
if adv_req > 0 and (req_cap == 0 or adv_req < req_cap) then req_cap = adv_req end
if adv_tok > 0 and (tok_cap == 0 or adv_tok < tok_cap) then tok_cap = adv_tok end
if tok_cap > 0 and want > tok_cap then want = tok_cap end

local function amount(member)
  return tonumber(string.match(member, ':(%d+)$') or '0')
end

-- The running sum of the tokens zset keeps each call O(log n): it changes only in these scripts,
-- in the same atomic step as the zset, and is rebuilt whenever it is missing.
local sum = tonumber(redis.call('GET', KEYS[5]) or '-1')
if sum < 0 then
  sum = 0
  for _, m in ipairs(redis.call('ZRANGE', KEYS[2], 0, -1)) do sum = sum + amount(m) end
end
for _, m in ipairs(redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now)) do sum = sum - amount(m) end
if sum < 0 then sum = 0 end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', now)
-- A zset that expired whole took its members with it: the sum cannot outlive them.
if redis.call('ZCARD', KEYS[2]) == 0 then sum = 0 end

local wait = 0
local used_req = redis.call('ZCARD', KEYS[1])
if req_cap > 0 and used_req >= req_cap then
  local e = redis.call('ZRANGE', KEYS[1], used_req - req_cap, used_req - req_cap, 'WITHSCORES')
  if e[2] then wait = math.max(wait, tonumber(e[2]) - now) end
end
local used_tok = sum
if tok_cap > 0 and used_tok + want > tok_cap then
  local toks = redis.call('ZRANGE', KEYS[2], 0, -1, 'WITHSCORES')
  local left = used_tok
  for i = 1, #toks, 2 do
    left = left - amount(toks[i])
    if left + want <= tok_cap then
      wait = math.max(wait, tonumber(toks[i + 1]) - now)
      break
    end
  end
end

-- The server's own count: what the fleet reserved since a response said how much remained.
local observed = tonumber(srv[7] or '0')
local function server_wait(remaining, reset_at, need, spent)
  if remaining == nil or reset_at == nil or now >= reset_at then return 0 end
  if spent + need <= remaining then return 0 end
  return reset_at - now
end
if observed > 0 then
  local since = redis.call('ZRANGEBYSCORE', KEYS[2], '(' .. (observed + window), '+inf')
  local spent_tok = 0
  for i = 1, #since do spent_tok = spent_tok + amount(since[i]) end
  wait = math.max(wait,
    server_wait(tonumber(srv[3]), tonumber(srv[4]), 1, #since),
    server_wait(tonumber(srv[5]), tonumber(srv[6]), want, spent_tok))
end

local holders = redis.call('ZCARD', KEYS[4])
local ttl = math.floor(window / 1000) + 1000
if wait > 0 then
  redis.call('SET', KEYS[5], sum, 'PX', ttl)
  return {0, wait, used_req, used_tok, holders, req_cap, tok_cap}
end
local ends = now + window
redis.call('ZADD', KEYS[1], ends, ARGV[5])
redis.call('ZADD', KEYS[2], ends, ARGV[5] .. ':' .. want)
redis.call('ZADD', KEYS[4], 'GT', ends, ARGV[6])
-- Keys outlive their newest lease by a little and no more: a budget nobody uses leaves nothing.
redis.call('SET', KEYS[5], sum + want, 'PX', ttl)
redis.call('PEXPIRE', KEYS[1], ttl)
redis.call('PEXPIRE', KEYS[2], ttl)
redis.call('PEXPIRE', KEYS[4], ttl)
return {1, now, used_req + 1, used_tok + want, redis.call('ZCARD', KEYS[4]), req_cap, tok_cap}

-- Receive: first return messages whose visibility timeout has passed to the
-- ready list, then take up to ARGV[1] messages, hide each for ARGV[2] ms in
-- the in-flight sorted set (scored by when it becomes visible again) and
-- give each a fresh receipt handle. Replies {id, receipt handle, body} each.
local ready, inflight, bodies, sequence = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local max_messages = tonumber(ARGV[1])
local visibility_ms = tonumber(ARGV[2])
local clock = redis.call("TIME")
local now_ms = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)

local due = redis.call("ZRANGEBYSCORE", inflight, "-inf", now_ms, "LIMIT", 0, 100)
for _, entry in ipairs(due) do
    redis.call("ZREM", inflight, entry)
    local message_id = string.match(entry, "^(.*)|[^|]*$")
    redis.call("LPUSH", ready, message_id)
end

local received = {}
for _ = 1, max_messages do
    local message_id = redis.call("LPOP", ready)
    if not message_id then
        break
    end
    local body = redis.call("HGET", bodies, message_id)
    if body then
        local receipt = message_id .. "|" .. redis.call("INCR", sequence)
        redis.call("ZADD", inflight, now_ms + visibility_ms, receipt)
        received[#received + 1] = { message_id, receipt, body }
    end
end
return received

-- Send: KEYS ready list, in-flight sorted set, bodies hash, receipt counter;
-- ARGV pairs of message id and body. One script, so a batch is atomic.
local ready, bodies = KEYS[1], KEYS[3]
for index = 1, #ARGV, 2 do
    local message_id, body = ARGV[index], ARGV[index + 1]
    redis.call("HSET", bodies, message_id, body)
    redis.call("RPUSH", ready, message_id)
end
return #ARGV / 2

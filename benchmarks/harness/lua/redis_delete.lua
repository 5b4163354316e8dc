-- Delete: ARGV message id and receipt handle. The handle is the in-flight
-- member, so an old handle of a message received again deletes nothing.
local inflight, bodies = KEYS[2], KEYS[3]
local message_id, receipt = ARGV[1], ARGV[2]
if redis.call("ZREM", inflight, receipt) == 0 then
    return 0
end
redis.call("HDEL", bodies, message_id)
return 1

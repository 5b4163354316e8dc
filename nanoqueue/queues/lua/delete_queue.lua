-- Delete a queue with all its messages. Atomic because the name and every
-- structure go in one script run, so no script finds half a queue. Returns
-- false when the queue does not exist.

local key = ARGV[1]

local q = open_queue(key)
if q == nil then
    return false
end
drop_messages(q)
if q.fifo then
    db.drop(q.prefix .. "d")
    db.drop(q.prefix .. "e")
    db.drop(q.prefix .. "a")
end
db.drop(q.prefix)
call("Q", "delete", key)
call("N", "remove", key)
return true

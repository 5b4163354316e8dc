-- Delete every message of a queue, unless it was purged less than 60 s
-- ago. Atomic because the check and the purge happen in one script run.
-- Returns false when the queue does not exist, else { purged, last purge
-- in ms }. Deduplication entries of a FIFO queue survive a purge.

local key = ARGV[1]
local now = tonumber(ARGV[2])

local q = open_queue(key)
if q == nil then
    return false
end
local last = call(q.prefix, "get", "p")
if last ~= nil and now - last < 60000 then
    return { false, last }
end
drop_messages(q)
db.create("keyvalue", q.prefix .. "h")
if q.fifo then
    db.create("queue", q.prefix .. "r")
    db.create("keyvalue", q.prefix .. "b")
    db.create("sortedset", q.prefix .. "G")
else
    db.create("queue", q.prefix .. "v")
end
for _, name in ipairs({ "D", "R", "X", "V" }) do
    call(q.prefix, "delete", name)
end
call(q.prefix, "set", "p", now)
return { true, now }

-- Create a queue, or return the info of the queue that exists under the
-- key. Returns { created, info document, queue ID }. Atomic because the existence check and the creation of every
-- structure of the queue happen in one script run.

local key = ARGV[1]
local config_line = ARGV[2]
local info = ARGV[3]
local fifo = ARGV[4] == "1"

local existing = call("Q", "get", key)
if existing ~= nil then
    local existing_id = tonumber(string.match(existing, "^%d+"))
    return { false, call("q" .. existing_id, "get", "i"), existing_id }
end

local id = call("Q", "incr", "#", 1)
local prefix = "q" .. id
call("Q", "set", key, id .. "," .. config_line)
call("N", "add", key, 0)
db.create("keyvalue", prefix)
call(prefix, "set", "i", info)
call(prefix, "set", "n", key)
call(prefix, "set", "s", 0)
db.create("keyvalue", prefix .. "h")
if fifo then
    db.create("queue", prefix .. "r")
    db.create("keyvalue", prefix .. "b")
    db.create("sortedset", prefix .. "G")
    db.create("keyvalue", prefix .. "d")
    db.create("queue", prefix .. "e")
    db.create("keyvalue", prefix .. "a")
else
    db.create("queue", prefix .. "v")
end
return { true, info, id }

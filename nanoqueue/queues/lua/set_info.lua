-- Replace a queue's configuration line and info document. Atomic because
-- both change in one script run, so no other script reads one without the
-- other. Returns false when the queue does not exist.

local key = ARGV[1]
local config_line = ARGV[2]
local info = ARGV[3]

local q = open_queue(key)
if q == nil then
    return false
end
call("Q", "set", key, q.id .. "," .. config_line)
call(q.prefix, "set", "i", info)
return true

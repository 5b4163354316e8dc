-- Return a queue's info document, its approximate counts of visible,
-- in-flight and delayed messages and its ID, or false when it does not
-- exist. Atomic because the counts are read in one script run, so they are
-- consistent with each other.

local key = ARGV[1]

local q = open_queue(key)
if q == nil then
    return false
end
local hidden = call(q.prefix .. "h", "len")
local delayed = counter(q, "D")
local returned = counter(q, "R")
local queued
if q.fifo then
    queued = counter(q, "V")
else
    queued = call(q.prefix .. "v", "len")
end
local visible = queued - counter(q, "X")
return {
    call(q.prefix, "get", "i"),
    visible,
    hidden - delayed - returned,
    delayed,
    q.id,
}

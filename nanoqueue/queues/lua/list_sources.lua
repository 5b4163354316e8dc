-- Return the keys of the queues in a region whose dead-letter queue is the
-- given queue. Atomic because every configuration line is read in one run.

local target = ARGV[1]
local region_prefix = ARGV[2]

local result = {}
local length = #region_prefix
for _, key in ipairs(call("N", "range_by_score", 0, 0)) do
    if string.sub(key, 1, length) == region_prefix then
        local q = open_queue(key)
        if q.dlq == target then
            result[#result + 1] = key
        end
    end
end
return result

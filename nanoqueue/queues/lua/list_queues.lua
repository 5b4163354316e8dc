-- Return the keys of the queues whose "region/name" key starts with the
-- given prefix, sorted. Atomic because it reads the name list in one run.

local prefix = ARGV[1]

local result = {}
local length = #prefix
for _, key in ipairs(call("N", "range_by_score", 0, 0)) do
    if string.sub(key, 1, length) == prefix then
        result[#result + 1] = key
    end
end
return result

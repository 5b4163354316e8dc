-- Return the key, info document and ID of every queue, for the service's cache
-- of attributes. Atomic because it reads all queues in one script run.

local result = {}
for _, key in ipairs(call("N", "range_by_score", 0, 0)) do
    local id = tonumber(string.match(call("Q", "get", key), "^%d+"))
    result[#result + 1] = { key, call("q" .. id, "get", "i"), id }
end
return result
